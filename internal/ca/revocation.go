package ca

import (
	"crypto/x509/pkix"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/pki"
)

// RevocationConfig says how a CA publishes revocation information.
type RevocationConfig struct {
	CRL  *CRLConfig  `json:"CrlConfiguration,omitempty"`
	OCSP *OCSPConfig `json:"OcspConfiguration,omitempty"`
}

// CRLConfig configures certificate revocation lists.
type CRLConfig struct {
	Enabled          bool   `json:"Enabled"`
	ExpirationInDays *int   `json:"ExpirationInDays,omitempty"`
	CustomCname      string `json:"CustomCname,omitempty"`
	S3BucketName     string `json:"S3BucketName,omitempty"`
	S3ObjectAcl      string `json:"S3ObjectAcl,omitempty"`
	OmitExtension    *bool  `json:"OmitExtension,omitempty"`
	CrlType          string `json:"CrlType,omitempty"`
	CustomPath       string `json:"CustomPath,omitempty"`
}

// OCSPConfig configures the OCSP responder.
type OCSPConfig struct {
	Enabled         bool   `json:"Enabled"`
	OcspCustomCname string `json:"OcspCustomCname,omitempty"`
}

var (
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,253}[a-z0-9]$`)
	cnameRE  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
)

var customPathRE = regexp.MustCompile(`^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)

func hasDotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// validate checks a revocation configuration (AWS's rules).
func (r *RevocationConfig) validate() error {
	if r == nil {
		return nil
	}
	if c := r.CRL; c != nil {
		if !c.Enabled {
			if c.ExpirationInDays != nil || c.CustomCname != "" || c.S3BucketName != "" || c.S3ObjectAcl != "" ||
				c.OmitExtension != nil || c.CrlType != "" || c.CustomPath != "" {
				return invalidArgs("A disabled CrlConfiguration may only contain Enabled=false.")
			}
		} else {
			if c.ExpirationInDays != nil && (*c.ExpirationInDays < 1 || *c.ExpirationInDays > 5000) {
				return validation("revocationConfiguration.crlConfiguration.expirationInDays", *c.ExpirationInDays,
					"Member must have value between 1 and 5000")
			}
			if c.CustomCname != "" && (strings.Contains(c.CustomCname, "://") || len(c.CustomCname) > 253 || !cnameRE.MatchString(c.CustomCname)) {
				return invalidArgs("CustomCname %q must be a host name without a scheme such as http://.", c.CustomCname)
			}
			if c.S3BucketName != "" && (len(c.S3BucketName) < 3 || len(c.S3BucketName) > 63 || !bucketRE.MatchString(c.S3BucketName) || strings.Contains(c.S3BucketName, "..")) {
				return invalidArgs("S3BucketName %q does not follow bucket naming rules.", c.S3BucketName)
			}
			if c.S3ObjectAcl != "" && c.S3ObjectAcl != "PUBLIC_READ" && c.S3ObjectAcl != "BUCKET_OWNER_FULL_CONTROL" {
				return enumValidation("revocationConfiguration.crlConfiguration.s3ObjectAcl", c.S3ObjectAcl, []string{"PUBLIC_READ", "BUCKET_OWNER_FULL_CONTROL"})
			}
			if c.CrlType != "" && c.CrlType != "COMPLETE" && c.CrlType != "PARTITIONED" {
				return enumValidation("revocationConfiguration.crlConfiguration.crlType", c.CrlType, []string{"COMPLETE", "PARTITIONED"})
			}
			if c.OmitExtension != nil && *c.OmitExtension && c.CustomCname != "" {
				return invalidArgs("OmitExtension cannot be combined with CustomCname.")
			}
			if len(c.CustomPath) > 253 || (c.CustomPath != "" && (!customPathRE.MatchString(c.CustomPath) || hasDotSegment(c.CustomPath))) {
				return invalidArgs("CustomPath %q must be at most 253 characters of path segments (letters, digits, ._~-) without leading or trailing slashes.", c.CustomPath)
			}
		}
	}
	if o := r.OCSP; o != nil {
		if !o.Enabled {
			if o.OcspCustomCname != "" {
				return invalidArgs("A disabled OcspConfiguration may only contain Enabled=false.")
			}
		} else {
			if o.OcspCustomCname != "" && (strings.Contains(o.OcspCustomCname, "://") || !cnameRE.MatchString(o.OcspCustomCname)) {
				return invalidArgs("OcspCustomCname %q must be a host name without a scheme.", o.OcspCustomCname)
			}
		}
	}
	return nil
}

// DefaultCRLExpirationDays is the CRL lifetime when none is configured.
const DefaultCRLExpirationDays = 7

// publication is where and how a CA publishes revocation information,
// resolved from its configuration and Sigil's public URL.
type publication struct {
	crl         bool
	partitioned bool
	omitCDP     bool
	crlBase     string        // URL prefix of CRL files, ending in "/"
	objectPath  string        // object-store key prefix of CRL files, ending in "/"
	bucket      string        // object-store bucket (S3BucketName), "" for none
	lifetime    time.Duration // nextUpdate - thisUpdate
	ocsp        bool
	ocspURL     string
	caIssuers   string // URL of the CA certificate (AIA caIssuers)
}

func (s *Service) publicationOf(caID string, cfg *RevocationConfig) *publication {
	p := &publication{}
	if cfg == nil {
		return p
	}
	base := strings.TrimSuffix(s.opts.Revocation.PublicURL, "/")
	if c := cfg.CRL; c != nil && c.Enabled {
		p.crl = true
		p.partitioned = c.CrlType == "PARTITIONED"
		p.omitCDP = c.OmitExtension != nil && *c.OmitExtension
		host := base
		if c.CustomCname != "" {
			host = "http://" + c.CustomCname
		}
		path := "crl/"
		if c.CustomPath != "" {
			path = c.CustomPath + "/"
		}
		p.crlBase = host + "/" + path
		p.objectPath = path
		p.bucket = c.S3BucketName
		days := DefaultCRLExpirationDays
		if c.ExpirationInDays != nil {
			days = *c.ExpirationInDays
		}
		p.lifetime = time.Duration(days) * 24 * time.Hour
		p.caIssuers = host + "/ca/" + caID + ".crt"
	}
	if o := cfg.OCSP; o != nil && o.Enabled {
		p.ocsp = true
		p.ocspURL = base + "/ocsp"
		if o.OcspCustomCname != "" {
			p.ocspURL = "http://" + o.OcspCustomCname
		}
		if p.caIssuers == "" {
			p.caIssuers = base + "/ca/" + caID + ".crt"
		}
	}
	return p
}

// CRLFileName is the file name of a CRL partition: "<ca-id>.crl" for the
// complete CRL (partition 0), "<ca-id>-<n>.crl" for partition n.
func CRLFileName(caID string, partition int64) string {
	if partition == 0 {
		return caID + ".crl"
	}
	return caID + "-" + strconv.FormatInt(partition, 10) + ".crl"
}

// ParseCRLFileName reads a CRL file name back.
func ParseCRLFileName(name string) (caID string, partition int64, ok bool) {
	name, found := strings.CutSuffix(name, ".crl")
	if !found || len(name) < 36 {
		return "", 0, false
	}
	caID, rest := name[:36], name[36:]
	if rest == "" {
		return caID, 0, true
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(rest, "-"), 10, 64)
	if !strings.HasPrefix(rest, "-") || err != nil || n < 1 {
		return "", 0, false
	}
	return caID, n, true
}

func (p *publication) crlURL(caID string, partition int64) string {
	return p.crlBase + CRLFileName(caID, partition)
}

// extensions returns the CDP and AIA extensions certificates of the CA get.
func (p *publication) extensions(caID string, partition int64) []pkix.Extension {
	var out []pkix.Extension
	if p.crl && !p.omitCDP {
		out = append(out, pki.MarshalCRLDistributionPoint(p.crlURL(caID, partition)))
	}
	ocsp := ""
	if p.ocsp {
		ocsp = p.ocspURL
	}
	if aia, ok := pki.MarshalAuthorityInfoAccess(ocsp, p.caIssuers); ok {
		out = append(out, aia)
	}
	return out
}

func decodeRevocation(raw []byte) (*RevocationConfig, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var r RevocationConfig
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
