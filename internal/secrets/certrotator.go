package secrets

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/certmgr"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// PrivateCA is what the certificate rotator needs from the Private CA
// (satisfied by *ca.Service).
type PrivateCA interface {
	Describe(ctx context.Context, p iam.Principal, arn string) (*ca.Authority, error)
	Issue(ctx context.Context, p iam.Principal, in ca.IssueInput) (string, error)
	GetCertificate(ctx context.Context, p iam.Principal, caARN, certARN string) (cert, chain []byte, err error)
}

// CertificateManager is what it needs from Certificate Manager (satisfied
// by *certmgr.Service).
type CertificateManager interface {
	Request(ctx context.Context, p iam.Principal, in certmgr.RequestInput) (string, error)
	Renew(ctx context.Context, p iam.Principal, arn string) error
	Export(ctx context.Context, p iam.Principal, arn string, passphrase []byte) (*certmgr.Exported, error)
}

var (
	_ PrivateCA          = (*ca.Service)(nil)
	_ CertificateManager = (*certmgr.Service)(nil)
)

// CertificateServices are the services the built-in certificate rotation
// issues from.
type CertificateServices struct {
	PCA PrivateCA
	ACM CertificateManager
}

// certRotator is the built-in rotation function for certificate secrets:
// the secret's JSON names a CA (and the certificate's subject, key and
// validity); each rotation issues a new key and certificate into it.
type certRotator struct {
	svc  *Service
	deps CertificateServices
}

// Keys of a certificate secret's JSON.
const (
	keyCAARN       = "CA_ARN"
	keyCommonName  = "COMMON_NAME"
	keySANs        = "SUBJECT_ALTERNATIVE_NAMES"
	keyTemplate    = "TEMPLATE_ARN"
	keyKeyAlg      = "KEY_ALGORITHM"
	keySize        = "KEY_SIZE"
	keyCurve       = "EC_CURVE"
	keySigningAlg  = "SIGNING_ALGORITHM"
	keySigningHash = "SIGNING_HASH"
	keyValidity    = "VALIDITY_DAYS"
	keyValidityOld = "VALIDITY"
	keyType        = "CERTIFICATE_TYPE"
	outCertificate = "CERTIFICATE_PEM"
	outPrivateKey  = "PRIVATE_KEY_PEM"
	outChain       = "CERTIFICATE_CHAIN_PEM"
	outARN         = "CERTIFICATE_ARN"
)

func (r *certRotator) step(ctx context.Context, sec *store.Secret, call Invocation) error {
	switch call.Step {
	case StepCreate:
		return r.create(ctx, sec, call.ClientRequestToken)
	case StepSet:
		// The certificate lives in the secret itself; deployment agents pick
		// it up from there.
		return nil
	case StepTest:
		return r.test(ctx, sec, call.ClientRequestToken)
	case StepFinish:
		return r.svc.finishInternal(ctx, sec, call.ClientRequestToken)
	}
	return fmt.Errorf("unknown rotation step %q", call.Step)
}

// readJSON reads a version of the secret as a JSON object.
func (r *certRotator) readJSON(ctx context.Context, sec *store.Secret, versionID, stage string) (map[string]any, bool, error) {
	p := servicePrincipal(sec.Account)
	var val *SecretValue
	err := r.svc.store.View(ctx, func(tx store.Tx) (err error) {
		val, _, err = r.svc.read(ctx, tx, p, sec, versionID, stage)
		return err
	})
	if errs.KindOf(err) == errs.NotFound {
		return nil, false, nil // no such version, or one without a value yet
	}
	if err != nil {
		return nil, false, err
	}
	if val.Value.String == nil {
		return nil, false, errors.New("the secret value is binary; certificate rotation needs a JSON SecretString")
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(*val.Value.String), &m); err != nil {
		return nil, false, errors.New("the secret value is not a JSON object")
	}
	return m, true, nil
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func (r *certRotator) create(ctx context.Context, sec *store.Secret, token string) error {
	if _, ok, err := r.readJSON(ctx, sec, token, ""); err != nil || ok {
		return err // already created (an idempotent retry), or a real failure
	}
	cfg, ok, err := r.readJSON(ctx, sec, "", StageCurrent)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the secret has no AWSCURRENT value naming CA_ARN and COMMON_NAME")
	}
	if str(cfg, keyCommonName) == "" {
		return errors.New("the secret's JSON must set COMMON_NAME")
	}
	p := servicePrincipal(sec.Account)
	useACM := strings.EqualFold(str(cfg, keyType), "ACM_ISSUED") || strings.HasPrefix(str(cfg, outARN), "arn:aws:acm:")
	if useACM {
		err = r.fromACM(ctx, p, cfg)
	} else {
		err = r.fromPCA(ctx, p, cfg)
	}
	if err != nil {
		return err
	}
	b, _ := json.Marshal(cfg)
	value := string(b)
	return r.svc.store.Update(ctx, func(tx store.Tx) error {
		fresh, err := tx.Secrets().Get(ctx, sec.ID)
		if err != nil {
			return err
		}
		_, _, err = r.svc.putValue(ctx, tx, p, fresh, token, Value{String: &value}, []string{StagePending})
		return err
	})
}

func sans(cfg map[string]any) []string {
	var out []string
	switch v := cfg[keySANs].(type) {
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	return out
}

// keyAlgorithm maps the secret's KEY_ALGORITHM (TYPE_RSA/TYPE_EC with
// KEY_SIZE or EC_CURVE, or a Private CA name) to a key algorithm.
func keyAlgorithm(cfg map[string]any) (pki.KeyAlgorithm, error) {
	alg := strings.ToUpper(str(cfg, keyKeyAlg))
	size := str(cfg, keySize)
	switch alg {
	case "", "TYPE_RSA", "RSA":
		switch size {
		case "", "2048":
			return pki.RSA2048, nil
		case "3072":
			return pki.RSA3072, nil
		case "4096":
			return pki.RSA4096, nil
		}
		return "", fmt.Errorf("KEY_SIZE %s is not supported for RSA (2048, 3072 or 4096)", size)
	case "TYPE_EC", "EC", "ECDSA":
		curve := strings.ToUpper(str(cfg, keyCurve))
		switch {
		case size == "384" || curve == "SECP384R1":
			return pki.ECP384, nil
		case size == "521" || curve == "SECP521R1":
			return pki.ECP521, nil
		case size == "" || size == "256" || curve == "SECP256R1":
			return pki.ECP256, nil
		}
		return "", fmt.Errorf("KEY_SIZE %s is not supported for EC (256, 384 or 521)", size)
	}
	a := pki.KeyAlgorithm(str(cfg, keyKeyAlg))
	if !a.Valid() {
		return "", fmt.Errorf("KEY_ALGORITHM %s is not supported (TYPE_RSA, TYPE_EC, or one of RSA_2048, RSA_3072, RSA_4096, EC_prime256v1, EC_secp384r1, EC_secp521r1)", str(cfg, keyKeyAlg))
	}
	return a, nil
}

// signingAlgorithm picks the CA's signing algorithm: SIGNING_ALGORITHM as
// a Private CA name, or RSA/ECDSA (else the CA key's family) with
// SIGNING_HASH (default sha256).
func signingAlgorithm(cfg map[string]any, caKey pki.KeyAlgorithm) (pki.SigningAlgorithm, error) {
	sa := strings.ToUpper(str(cfg, keySigningAlg))
	if strings.Contains(sa, "WITH") {
		return pki.SigningAlgorithm(sa), nil
	}
	family := sa
	if family == "" {
		family = string(caKey.Family())
	}
	hash := strings.ToUpper(strings.ReplaceAll(str(cfg, keySigningHash), "-", ""))
	if hash == "" {
		hash = "SHA256"
	}
	switch hash {
	case "SHA256", "SHA384", "SHA512":
	default:
		return "", fmt.Errorf("SIGNING_HASH %s is not supported (sha256, sha384 or sha512)", str(cfg, keySigningHash))
	}
	switch family {
	case "RSA":
		return pki.SigningAlgorithm(hash + "WITHRSA"), nil
	case "ECDSA", "EC":
		return pki.SigningAlgorithm(hash + "WITHECDSA"), nil
	}
	return "", fmt.Errorf("SIGNING_ALGORITHM %s is not supported (RSA or ECDSA)", sa)
}

func validityDays(cfg map[string]any) (int64, error) {
	v := str(cfg, keyValidity)
	if v == "" {
		v = str(cfg, keyValidityOld)
	}
	if v == "" {
		return 365, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("VALIDITY_DAYS %q is not a positive number of days", v)
	}
	return n, nil
}

func (r *certRotator) fromPCA(ctx context.Context, p iam.Principal, cfg map[string]any) error {
	if r.deps.PCA == nil {
		return errors.New("no Private CA is available")
	}
	caARN := str(cfg, keyCAARN)
	if caARN == "" {
		return errors.New("the secret's JSON must set CA_ARN")
	}
	auth, err := r.deps.PCA.Describe(ctx, p, caARN)
	if err != nil {
		return fmt.Errorf("CA %s: %w", caARN, err)
	}
	alg, err := keyAlgorithm(cfg)
	if err != nil {
		return err
	}
	sigAlg, err := signingAlgorithm(cfg, auth.Config.KeyAlgorithm)
	if err != nil {
		return err
	}
	days, err := validityDays(cfg)
	if err != nil {
		return err
	}
	key, err := pki.GenerateKey(alg, rand.Reader)
	if err != nil {
		return err
	}
	csr, err := certificateRequest(key, str(cfg, keyCommonName), sans(cfg))
	if err != nil {
		return err
	}
	template := str(cfg, keyTemplate)
	if template == "" {
		template = "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
	}
	certARN, err := r.deps.PCA.Issue(ctx, p, ca.IssueInput{CAARN: caARN, CSR: csr, SigningAlgorithm: sigAlg,
		Validity: pki.Validity{Type: pki.ValidityDays, Value: days}, TemplateARN: template})
	if err != nil {
		return fmt.Errorf("issue from %s: %w", caARN, err)
	}
	cert, chain, err := r.deps.PCA.GetCertificate(ctx, p, caARN, certARN)
	if err != nil {
		return fmt.Errorf("get certificate %s: %w", certARN, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	cfg[outCertificate] = string(cert)
	cfg[outChain] = string(chain)
	cfg[outPrivateKey] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	cfg[outARN] = certARN
	clear(der)
	return nil
}

// certificateRequest builds a CSR for the common name and SANs (the common
// name is also a SAN when it is a DNS name or an IP address).
func certificateRequest(key crypto.Signer, cn string, names []string) ([]byte, error) {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}
	seen := map[string]bool{}
	for _, n := range append([]string{cn}, names...) {
		if seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if strings.Contains(n, "@") {
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, n)
		} else if n == cn && strings.ContainsAny(n, " ") {
			continue // a common name that is not a host name
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("build the certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// acmKeyAlgorithm maps the secret's key choice to ACM's names.
func acmKeyAlgorithm(cfg map[string]any) (string, error) {
	a, err := keyAlgorithm(cfg)
	if err != nil {
		return "", err
	}
	switch a {
	case pki.RSA2048, pki.ECP256, pki.ECP384:
		return string(a), nil
	}
	return "", fmt.Errorf("the key for a Certificate Manager request must be RSA_2048, EC_prime256v1 or EC_secp384r1 keys, not %s", a)
}

func (r *certRotator) fromACM(ctx context.Context, p iam.Principal, cfg map[string]any) error {
	if r.deps.ACM == nil {
		return errors.New("no Certificate Manager is available")
	}
	arn := str(cfg, outARN)
	if arn != "" && !strings.HasPrefix(arn, "arn:aws:acm:") {
		arn = "" // a Private CA certificate of an earlier configuration
	}
	switch {
	case arn == "":
		caARN := str(cfg, keyCAARN)
		if caARN == "" {
			return errors.New("the secret's JSON must set CA_ARN to request a certificate")
		}
		alg, err := acmKeyAlgorithm(cfg)
		if err != nil {
			return err
		}
		arn, err = r.deps.ACM.Request(ctx, p, certmgr.RequestInput{DomainName: str(cfg, keyCommonName), SANs: sans(cfg),
			KeyAlgorithm: alg, CAARN: caARN})
		if err != nil {
			return fmt.Errorf("request a certificate: %w", err)
		}
	case str(cfg, outCertificate) != "":
		// Exported into this secret before: renew, then export the renewal.
		if err := r.deps.ACM.Renew(ctx, p, arn); err != nil {
			return fmt.Errorf("renew %s: %w", arn, err)
		}
	}
	pass := make([]byte, 16)
	if _, err := rand.Read(pass); err != nil {
		return err
	}
	passphrase := []byte(hex.EncodeToString(pass))
	defer clear(passphrase)
	exp, err := r.deps.ACM.Export(ctx, p, arn, passphrase)
	if err != nil {
		return fmt.Errorf("export %s: %w", arn, err)
	}
	der, err := pki.DecryptPKCS8PEM(exp.PrivateKey, passphrase)
	if err != nil {
		return fmt.Errorf("open the exported key: %w", err)
	}
	cfg[outCertificate] = string(exp.Certificate)
	cfg[outChain] = string(exp.Chain)
	cfg[outPrivateKey] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	cfg[outARN] = arn
	clear(der)
	return nil
}

// test checks the pending version: a certificate valid now, issued for the
// key beside it, that chains to the certificates in CERTIFICATE_CHAIN_PEM.
func (r *certRotator) test(ctx context.Context, sec *store.Secret, token string) error {
	v, ok, err := r.readJSON(ctx, sec, token, "")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the pending version has no value")
	}
	certs, err := pki.ParseCertificatesPEM([]byte(str(v, outCertificate)))
	if err != nil || len(certs) == 0 {
		return errors.New("CERTIFICATE_PEM holds no certificate")
	}
	leaf := certs[0]
	key, err := pki.ParsePrivateKeyPEM([]byte(str(v, outPrivateKey)))
	if err != nil {
		return errors.New("PRIVATE_KEY_PEM holds no usable private key")
	}
	if !pki.PublicKeysEqual(leaf.PublicKey, key.Public()) {
		return errors.New("PRIVATE_KEY_PEM does not match CERTIFICATE_PEM")
	}
	chain, err := pki.ParseCertificatesPEM([]byte(str(v, outChain)))
	if err != nil || len(chain) == 0 {
		return errors.New("CERTIFICATE_CHAIN_PEM holds no certificate")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range chain {
		if string(c.RawIssuer) == string(c.RawSubject) {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	if !hasRoot(chain) {
		roots.AddCert(chain[len(chain)-1])
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: r.svc.clock.Now().Add(time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("the new certificate does not verify against its chain: %w", err)
	}
	return nil
}

// finishInternal moves AWSCURRENT to the rotated version.
func (s *Service) finishInternal(ctx context.Context, sec *store.Secret, token string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		fresh, err := tx.Secrets().Get(ctx, sec.ID)
		if err != nil {
			return err
		}
		cur, err := tx.Secrets().Stages(ctx, fresh.ID)
		if err != nil {
			return err
		}
		if cur[StageCurrent] == token {
			return nil
		}
		return s.updateStage(ctx, tx, fresh, StageCurrent, cur[StageCurrent], token)
	})
}

func hasRoot(chain []*x509.Certificate) bool {
	for _, c := range chain {
		if string(c.RawIssuer) == string(c.RawSubject) {
			return true
		}
	}
	return false
}
