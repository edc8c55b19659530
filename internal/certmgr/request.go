package certmgr

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// RequestInput asks for a private certificate.
type RequestInput struct {
	DomainName       string
	SANs             []string
	KeyAlgorithm     string // default RSA_2048
	CAARN            string
	IdempotencyToken string
	ValidationMethod string
	ExportOption     string // ENABLED (default for private certificates) or DISABLED
	Tags             []Tag
}

// RequestKeyAlgorithms are the key algorithms RequestCertificate accepts.
var RequestKeyAlgorithms = []string{"RSA_2048", "EC_prime256v1", "EC_secp384r1"}

// KeyAlgorithms are every key algorithm ACM knows (the others import only).
var KeyAlgorithms = []string{"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"}

var (
	tokenRE   = regexp.MustCompile(`^\w{1,32}$`)
	caARNRE   = regexp.MustCompile(`^arn:aws:acm-pca:([a-z0-9-]+):([0-9]{12}):certificate-authority/[0-9a-f-]{36}$`)
	labelRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	templateA = "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
)

// validDomain checks a DNS name a certificate may cover: labels of letters,
// digits and hyphens, optionally a leading "*." wildcard label.
func validDomain(name string) bool {
	if len(name) < 1 || len(name) > 253 {
		return false
	}
	rest := strings.TrimSuffix(name, ".")
	if w, ok := strings.CutPrefix(rest, "*."); ok {
		rest = w
	}
	if rest == "" {
		return false
	}
	for _, l := range strings.Split(rest, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// normalizeNames returns the certificate's names: the domain first, then
// the other SANs, lower-cased and without duplicates.
func normalizeNames(domain string, sans []string) ([]string, error) {
	if domain == "" {
		return nil, required("domainName")
	}
	if !validDomain(domain) {
		return nil, invalidParameter("The domain name %q is not a valid DNS name (letters, digits and hyphens in labels of at most 63 characters; a wildcard only as the whole first label, as in *.example.com).", domain)
	}
	names := []string{strings.ToLower(strings.TrimSuffix(domain, "."))}
	seen := map[string]bool{names[0]: true}
	for _, n := range sans {
		if !validDomain(n) {
			return nil, invalidParameter("The subject alternative name %q is not a valid DNS name.", n)
		}
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) > MaxNames {
		return nil, errs.New(errs.Limit, "A certificate can cover at most %d domain names; this request has %d.", MaxNames, len(names))
	}
	return names, nil
}

func (in *RequestInput) validate(region string) error {
	if in.CAARN == "" {
		return invalidParameter("Sigil issues private certificates only: set CertificateAuthorityArn to the private CA that should issue the certificate. (Public certificates with DNS or e-mail validation are not available.)")
	}
	m := caARNRE.FindStringSubmatch(in.CAARN)
	if m == nil {
		return errs.Coded(errs.Invalid, CodeInvalidArn, "The certificate authority ARN %q is not valid.", in.CAARN)
	}
	if m[1] != region {
		return errs.Coded(errs.Invalid, CodeInvalidArn, "The certificate authority ARN %q names region %s, but this Sigil serves %s.", in.CAARN, m[1], region)
	}
	if in.KeyAlgorithm == "" {
		in.KeyAlgorithm = "RSA_2048"
	}
	if !contains(RequestKeyAlgorithms, in.KeyAlgorithm) {
		return validation("keyAlgorithm", in.KeyAlgorithm, "Member must satisfy enum value set: ["+strings.Join(RequestKeyAlgorithms, ", ")+"]")
	}
	if in.ValidationMethod != "" && in.ValidationMethod != "DNS" && in.ValidationMethod != "EMAIL" && in.ValidationMethod != "HTTP" {
		return validation("validationMethod", in.ValidationMethod, "Member must satisfy enum value set: [EMAIL, DNS, HTTP]")
	}
	if in.IdempotencyToken != "" && !tokenRE.MatchString(in.IdempotencyToken) {
		return validation("idempotencyToken", in.IdempotencyToken, `Member must satisfy regular expression pattern: \w+ (1 to 32 characters)`)
	}
	switch in.ExportOption {
	case "":
		in.ExportOption = ExportEnabled
	case ExportEnabled, ExportDisabled:
	default:
		return validation("options.export", in.ExportOption, "Member must satisfy enum value set: [ENABLED, DISABLED]")
	}
	return validateTags(in.Tags)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fingerprint identifies a request's parameters for idempotency.
func (in *RequestInput) fingerprint(names []string) []byte {
	h := sha256.New()
	for _, s := range append([]string{in.CAARN, in.KeyAlgorithm, in.ExportOption}, names...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// Request creates a private certificate: Sigil makes the key pair and has
// the private CA issue the certificate, which is ISSUED when Request
// returns; if the CA refuses, the certificate is FAILED with the reason, as
// on AWS.
func (s *Service) Request(ctx context.Context, p iam.Principal, in RequestInput) (string, error) {
	if err := in.validate(s.region); err != nil {
		return "", err
	}
	names, err := normalizeNames(in.DomainName, in.SANs)
	if err != nil {
		return "", err
	}
	// Policies may restrict names and keys, e.g. team A to *.a.example and
	// no wildcards: acm:DomainNames holds every requested name.
	keyAlg := in.KeyAlgorithm
	if keyAlg == "" {
		keyAlg = "RSA_2048"
	}
	cond := map[string][]string{"acm:DomainNames": names, "acm:KeyAlgorithm": {keyAlg}}
	if in.CAARN != "" {
		cond["acm:CertificateAuthority"] = []string{in.CAARN}
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm:RequestCertificate", Resource: "*", Context: cond}); err != nil {
		return "", err
	}
	now := s.clock.Now()
	scope := "acm:RequestCertificate:" + p.Account
	fp := in.fingerprint(names)
	if in.IdempotencyToken != "" {
		if arn, err := s.idempotent(ctx, scope, in.IdempotencyToken, fp, now); arn != "" || err != nil {
			return arn, err
		}
	}

	id := uuid.NewString()
	c := &store.ACMCertificate{
		ID: id, ARN: certARN(s.region, p.Account, id), Account: p.Account, Type: TypePrivate,
		DomainName: names[0], KeyAlgorithm: in.KeyAlgorithm, CreatedAt: now, CAARN: in.CAARN,
		ExportOption: in.ExportOption, Names: dnsNames(names),
	}
	iss, failure := s.issue(ctx, p, c, names)
	if failure != "" {
		c.Status, c.FailureReason = StatusFailed, failure
	} else {
		iss.apply(c)
		c.Status, c.IssuedAt = StatusIssued, now
	}
	days, err := s.daysBeforeExpiry(ctx, p.Account)
	if err != nil {
		return "", err
	}
	schedule(c, days, now)

	err = s.store.Update(ctx, func(tx store.Tx) error {
		if in.IdempotencyToken != "" {
			rec := &store.IdempotencyRecord{Scope: scope, Token: in.IdempotencyToken, Fingerprint: fp, Result: c.ARN, ExpiresAt: now.Add(IdempotencyWindow)}
			if err := tx.Idempotency().Put(ctx, rec, now); err != nil {
				return err
			}
		}
		if err := tx.ACMCertificates().Insert(ctx, c); err != nil {
			return err
		}
		return tx.Tags().Replace(ctx, c.ARN, storeTags(in.Tags))
	})
	if errors.Is(err, store.ErrConflict) && in.IdempotencyToken != "" {
		// A concurrent request with the same token won; answer as it did.
		if arn, err := s.idempotent(ctx, scope, in.IdempotencyToken, fp, now); arn != "" || err != nil {
			return arn, err
		}
	}
	if err != nil {
		return "", err
	}
	if c.Status == StatusIssued {
		s.log.Info("certificate issued", "arn", c.ARN, "serial", c.Serial, "ca", c.CAARN)
	} else {
		s.log.Warn("certificate request failed", "arn", c.ARN, "reason", c.FailureReason)
	}
	return c.ARN, nil
}

// idempotent returns the ARN of an earlier request with the same token, or
// an error if that request had other parameters.
func (s *Service) idempotent(ctx context.Context, scope, token string, fp []byte, now time.Time) (string, error) {
	var rec *store.IdempotencyRecord
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.Idempotency().Get(ctx, scope, token, now)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	case string(rec.Fingerprint) != string(fp):
		return "", invalidParameter("The idempotency token %q was used within the last hour for a request with other parameters.", token)
	}
	return rec.Result, nil
}

// issued is a certificate fresh from the CA, with its sealed key.
type issued struct {
	x509       *x509.Certificate
	der        []byte
	chain      []byte
	sealedKey  []byte
	pcaCertARN string
}

// apply copies an issued certificate into the record.
func (iss *issued) apply(c *store.ACMCertificate) {
	describeX509(c, iss.x509)
	c.Certificate, c.Chain, c.PrivateKey, c.PCACertificateARN = iss.der, iss.chain, iss.sealedKey, iss.pcaCertARN
}

// issue generates a key pair and has the CA sign a certificate for names.
// A refusal by the CA is returned as an ACM failure reason.
func (s *Service) issue(ctx context.Context, p iam.Principal, c *store.ACMCertificate, names []string) (*issued, string) {
	iss, err := s.issueErr(ctx, p, c, names)
	if err != nil {
		reason := failureReason(err)
		s.log.Warn("private CA refused a certificate", "arn", c.ARN, "ca", c.CAARN, "reason", reason, "err", err)
		return nil, reason
	}
	return iss, ""
}

func (s *Service) issueErr(ctx context.Context, p iam.Principal, c *store.ACMCertificate, names []string) (*issued, error) {
	auth, err := s.pca.Describe(ctx, p, c.CAARN)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if auth.Status != ca.Active {
		return nil, errs.New(errs.State, "the certificate authority is %s", auth.Status)
	}
	if auth.UsageMode == "SHORT_LIVED_CERTIFICATE" {
		return nil, errs.Coded(errs.Invalid, ca.CodeInvalidArgs, "a short-lived certificate authority cannot issue ACM certificates")
	}
	notAfter := now.Add(PrivateValidity)
	if auth.NotAfter.Before(notAfter) {
		notAfter = auth.NotAfter // never outlive the CA
	}
	if !notAfter.After(now.Add(time.Hour)) {
		return nil, errs.New(errs.Invalid, "the certificate authority expires too soon (%s)", auth.NotAfter.Format(time.RFC3339))
	}
	alg := pki.KeyAlgorithm(c.KeyAlgorithm)
	key, err := pki.GenerateKey(alg, rand.Reader)
	if err != nil {
		return nil, errs.Wrap(err, "generate key")
	}
	csr, err := leafCSR(names, key)
	if err != nil {
		return nil, err
	}
	sigAlg := auth.Config.SigningAlgorithm
	pcaARN, err := s.pca.Issue(ctx, p, ca.IssueInput{
		CAARN: c.CAARN, CSR: pki.EncodePEM("CERTIFICATE REQUEST", csr), SigningAlgorithm: sigAlg,
		TemplateARN: templateA,
		Validity:    pki.Validity{Type: pki.ValidityAbsolute, Value: notAfter.Unix()},
	})
	if err != nil {
		return nil, err
	}
	certPEM, chain, err := s.pca.GetCertificate(ctx, p, c.CAARN, pcaARN)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil || len(certs) != 1 {
		return nil, errs.Wrap(errors.Join(err, errors.New("not one certificate")), "read issued certificate")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, errs.Wrap(err, "encode private key")
	}
	sealed, err := s.sealer.Seal(der, keyContext(c, s.region))
	clear(der)
	if err != nil {
		return nil, errs.Wrap(err, "seal private key")
	}
	return &issued{x509: certs[0], der: certs[0].Raw, chain: chain, sealedKey: sealed, pcaCertARN: pcaARN}, nil
}

// leafCSR makes the CSR the CA signs: the first name as common name (when
// it fits the 64-character limit) and every name as a DNS SAN.
func leafCSR(names []string, key crypto.Signer) ([]byte, error) {
	tpl := &x509.CertificateRequest{DNSNames: names}
	if len(names[0]) <= 64 {
		tpl.Subject = pkix.Name{CommonName: names[0]}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		return nil, errs.Wrap(err, "create certificate request")
	}
	return der, nil
}

// failureReason maps a Private CA error to ACM's FailureReason.
func failureReason(err error) string {
	switch errs.CodeOf(err) {
	case ca.CodeInvalidArn:
		return "PCA_INVALID_ARN"
	case ca.CodeInvalidArgs, ca.CodeMalformedCSR:
		return "PCA_INVALID_ARGS"
	}
	switch errs.KindOf(err) {
	case errs.NotFound:
		return "PCA_RESOURCE_NOT_FOUND"
	case errs.State:
		return "PCA_INVALID_STATE"
	case errs.Denied:
		return "PCA_ACCESS_DENIED"
	case errs.Limit:
		return "PCA_LIMIT_EXCEEDED"
	case errs.Invalid:
		return "PCA_INVALID_DURATION"
	}
	return "PCA_REQUEST_FAILED"
}

func dnsNames(names []string) []store.CertName {
	out := make([]store.CertName, len(names))
	for i, n := range names {
		out[i] = store.CertName{Kind: "DNS", Name: n}
	}
	return out
}

// describeX509 fills the fields of a record that come from its certificate.
func describeX509(c *store.ACMCertificate, x *x509.Certificate) {
	c.Serial = colonHex(x.SerialNumber.Bytes())
	c.Subject = x.Subject.String()
	c.Issuer = x.Issuer.String()
	c.CommonName = x.Subject.CommonName
	c.NotBefore, c.NotAfter = x.NotBefore.UTC(), x.NotAfter.UTC()
	c.SignatureAlgorithm = signatureAlgorithmName(x.SignatureAlgorithm)
	if alg, err := keyAlgorithmName(x.PublicKey); err == nil {
		c.KeyAlgorithm = alg
	}
	c.KeyUsages = int64(x.KeyUsage)
	c.ExtKeyUsages = extKeyUsageBits(x)
	var names []store.CertName
	for _, n := range x.DNSNames {
		names = append(names, store.CertName{Kind: "DNS", Name: strings.ToLower(n)})
	}
	for _, n := range x.IPAddresses {
		names = append(names, store.CertName{Kind: "IP", Name: n.String()})
	}
	for _, n := range x.EmailAddresses {
		names = append(names, store.CertName{Kind: "EMAIL", Name: n})
	}
	for _, n := range x.URIs {
		names = append(names, store.CertName{Kind: "URI", Name: n.String()})
	}
	c.Names = names
	switch {
	case x.Subject.CommonName != "":
		c.DomainName = x.Subject.CommonName
	case len(x.DNSNames) > 0:
		c.DomainName = x.DNSNames[0]
	case len(names) > 0:
		c.DomainName = names[0].Name
	}
}

// colonHex writes bytes as ACM writes serial numbers: lower-case hex pairs
// separated by colons.
func colonHex(b []byte) string {
	if len(b) == 0 {
		return "00"
	}
	var sb strings.Builder
	for i, v := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatInt(int64(v)>>4, 16))
		sb.WriteString(strconv.FormatInt(int64(v)&15, 16))
	}
	return sb.String()
}
