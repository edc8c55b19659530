package ca

import (
	"regexp"
	"strings"
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

// validate checks a revocation configuration. Publishing CRLs and answering
// OCSP are not part of this release, so an enabled configuration is refused
// with a clear message rather than accepted and silently ignored.
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
			if len(c.CustomPath) > 253 {
				return invalidArgs("CustomPath is longer than 253 characters.")
			}
			return invalidArgs("CRL generation is not available in this release of Sigil; set Enabled=false.")
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
			return invalidArgs("The OCSP responder is not available in this release of Sigil; set Enabled=false.")
		}
	}
	return nil
}
