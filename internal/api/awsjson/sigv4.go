package awsjson

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
)

// SigV4 verifies AWS Signature Version 4 request signatures sent in the
// Authorization header. It follows the request's own SignedHeaders exactly,
// so any client that signs correctly is accepted (SDKs, the AWS CLI, curl
// --aws-sigv4).
type SigV4 struct {
	Region string        // the only region credential scopes may name
	Skew   time.Duration // allowed clock difference (default 15 minutes)

	keys sync.Map // derived signing keys: scope+secret hash → key
}

// Error codes of authentication failures.
const (
	codeMissingToken  = "MissingAuthenticationTokenException"
	codeIncomplete    = "IncompleteSignatureException"
	codeInvalidSig    = "InvalidSignatureException"
	codeUnrecognized  = "UnrecognizedClientException"
	amzDateLayout     = "20060102T150405Z"
	algorithmSigV4    = "AWS4-HMAC-SHA256"
	emptyPayloadHash  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	defaultClockSkew  = 15 * time.Minute
	signatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// authError is an authentication failure with its AWS error code.
func authError(code, format string, a ...any) error {
	return errs.Coded(errs.Unauthenticated, errs.Code(code), format, a...)
}

// Signature is a parsed Authorization header.
type Signature struct {
	AccessKeyID   string
	Date          string // YYYYMMDD from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	AmzDate       time.Time
	SecurityToken string
}

// Parse reads the SigV4 Authorization header and request date. It checks the
// form of the header, not the signature.
func (v *SigV4) Parse(r *http.Request) (*Signature, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return nil, authError(codeIncomplete, "Pre-signed URLs are not supported for this API; sign the Authorization header.")
		}
		return nil, authError(codeMissingToken, "Missing Authentication Token")
	}
	alg, rest, ok := strings.Cut(auth, " ")
	if !ok || alg != algorithmSigV4 {
		return nil, authError(codeIncomplete, "Unsupported authorization algorithm; only %s is accepted.", algorithmSigV4)
	}
	sig := &Signature{}
	var cred string
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, authError(codeIncomplete, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
		}
		switch k {
		case "Credential":
			cred = val
		case "SignedHeaders":
			sig.SignedHeaders = strings.Split(val, ";")
		case "Signature":
			sig.Signature = val
		}
	}
	if cred == "" || len(sig.SignedHeaders) == 0 || sig.SignedHeaders[0] == "" || sig.Signature == "" {
		return nil, authError(codeIncomplete, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || scope[4] != "aws4_request" {
		return nil, authError(codeIncomplete, "Credential should be scoped to a valid access key, date, region, service and aws4_request terminator.")
	}
	sig.AccessKeyID, sig.Date, sig.Region, sig.Service = scope[0], scope[1], scope[2], scope[3]
	if !sort.StringsAreSorted(sig.SignedHeaders) {
		return nil, authError(codeIncomplete, "SignedHeaders must be sorted.")
	}
	if !contains(sig.SignedHeaders, "host") {
		return nil, authError(codeIncomplete, "The host header must be signed.")
	}
	date := r.Header.Get("X-Amz-Date")
	dateHeader := "x-amz-date"
	if date == "" {
		date, dateHeader = r.Header.Get("Date"), "date"
	}
	if date == "" {
		return nil, authError(codeIncomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if !contains(sig.SignedHeaders, dateHeader) {
		return nil, authError(codeIncomplete, "The %s header must be signed.", dateHeader)
	}
	t, err := time.Parse(amzDateLayout, date)
	if err != nil {
		if t, err = http.ParseTime(date); err != nil {
			return nil, authError(codeIncomplete, "Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z').")
		}
	}
	sig.AmzDate = t.UTC()
	if sig.Date != sig.AmzDate.Format("20060102") {
		return nil, authError(codeInvalidSig, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			sig.Date, sig.AmzDate.Format("20060102"), date)
	}
	sig.SecurityToken = r.Header.Get("X-Amz-Security-Token")
	return sig, nil
}

// CheckScope checks the parts of the credential scope that do not need the
// secret: region, service and clock skew.
func (v *SigV4) CheckScope(sig *Signature, service string, now time.Time) error {
	if v.Region != "" && sig.Region != v.Region {
		return authError(codeInvalidSig, "Credential should be scoped to a valid region, not '%s'; this endpoint serves '%s'.", sig.Region, v.Region)
	}
	if sig.Service != service {
		return authError(codeInvalidSig, "Credential should be scoped to correct service: '%s'.", service)
	}
	skew := v.Skew
	if skew == 0 {
		skew = defaultClockSkew
	}
	if sig.AmzDate.Before(now.Add(-skew)) {
		return authError(codeInvalidSig, "Signature expired: %s is now earlier than %s (%s - %s.)",
			sig.AmzDate.Format(amzDateLayout), now.Add(-skew).Format(amzDateLayout), now.Format(amzDateLayout), skew)
	}
	if sig.AmzDate.After(now.Add(skew)) {
		return authError(codeInvalidSig, "Signature not yet current: %s is still later than %s (%s + %s.)",
			sig.AmzDate.Format(amzDateLayout), now.Add(skew).Format(amzDateLayout), now.Format(amzDateLayout), skew)
	}
	return nil
}

// Verify checks the signature of r (whose body is body) with secret.
func (v *SigV4) Verify(r *http.Request, body []byte, sig *Signature, secret []byte) error {
	payloadHash := hashHex(body)
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return authError(codeInvalidSig, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	headers, err := canonicalHeaders(r, sig.SignedHeaders)
	if err != nil {
		return err
	}
	key := v.signingKey(secret, sig)
	scope := strings.Join([]string{sig.Date, sig.Region, sig.Service, "aws4_request"}, "/")
	query := canonicalQuery(r.URL)
	want, err := hex.DecodeString(sig.Signature)
	if err != nil {
		return authError(codeInvalidSig, signatureMismatch)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		amzDate = sig.AmzDate.Format(amzDateLayout)
	}
	for _, uri := range canonicalURIs(r.URL) {
		creq := strings.Join([]string{r.Method, uri, query, headers, strings.Join(sig.SignedHeaders, ";"), payloadHash}, "\n")
		sts := strings.Join([]string{algorithmSigV4, amzDate, scope, hashHex([]byte(creq))}, "\n")
		if hmac.Equal(hmacSHA256(key, sts), want) {
			return nil
		}
	}
	return authError(codeInvalidSig, signatureMismatch)
}

func (v *SigV4) signingKey(secret []byte, sig *Signature) []byte {
	sh := sha256.Sum256(secret)
	cacheKey := sig.AccessKeyID + "/" + sig.Date + "/" + sig.Region + "/" + sig.Service + "/" + string(sh[:8])
	if k, ok := v.keys.Load(cacheKey); ok {
		return k.([]byte)
	}
	k := hmacSHA256(append([]byte("AWS4"), secret...), sig.Date)
	k = hmacSHA256(k, sig.Region)
	k = hmacSHA256(k, sig.Service)
	k = hmacSHA256(k, "aws4_request")
	v.keys.Store(cacheKey, k)
	return k
}

func canonicalHeaders(r *http.Request, signed []string) (string, error) {
	var b strings.Builder
	for _, name := range signed {
		var values []string
		if name == "host" {
			values = []string{r.Host}
		} else if name == "content-length" && r.Header.Get("Content-Length") == "" {
			// net/http moves Content-Length out of the header map.
			values = []string{strconv.FormatInt(max(r.ContentLength, 0), 10)}
		} else {
			values = r.Header.Values(http.CanonicalHeaderKey(name))
			if len(values) == 0 {
				values = r.Header[name] // non-canonical key set by hand
			}
			values = slices.Clone(values) // never trim the request's own header values
		}
		if len(values) == 0 {
			return "", authError(codeInvalidSig, "The request signs the header '%s', but it is missing.", name)
		}
		for i := range values {
			values[i] = collapseSpaces(values[i])
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(values, ","))
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// collapseSpaces trims a header value and replaces runs of white space
// (including folded lines) with one space.
func collapseSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// canonicalURIs returns the canonical path forms a signer may have used:
// the path as decoded then encoded once (the SigV4 test suite), and the
// escaped path encoded again (what AWS SDKs do for non-S3 services). Both
// are normalized (dot segments and repeated slashes removed).
func canonicalURIs(u *url.URL) []string {
	single := encodePath(normalizePath(u.Path))
	double := encodePath(normalizePath(u.EscapedPath()))
	if single == double {
		return []string{single}
	}
	return []string{double, single}
}

func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	trailing := strings.HasSuffix(p, "/")
	// Collapse repeated slashes, then resolve dot segments.
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	clean := path.Clean("/" + p)
	if trailing && clean != "/" {
		clean += "/"
	}
	return clean
}

func encodePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

// uriEncode percent-encodes everything but RFC 3986 unreserved characters.
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func canonicalQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// Unparseable queries cannot match any signature we compute;
		// use the raw text so the mismatch is reported normally.
		return u.RawQuery
	}
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, kv{uriEncode(k), uriEncode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

func hashHex(b []byte) string {
	if len(b) == 0 {
		return emptyPayloadHash
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CheckSessionToken checks the X-Amz-Security-Token of a request against
// its credential: temporary credentials (from sts:AssumeRole) need their
// session token, and long-term keys take none.
func CheckSessionToken(cred *iam.Credential, token string) error {
	if cred.SessionTokenHash == nil {
		if token != "" {
			return authError(codeUnrecognized, "The security token included in the request is invalid.")
		}
		return nil
	}
	if token == "" || subtle.ConstantTimeCompare(iam.TokenHash(token), cred.SessionTokenHash) != 1 {
		return authError(codeUnrecognized, "The security token included in the request is invalid.")
	}
	return nil
}
