// Package lint checks certificates with zlint's RFC 5280 family of lints,
// both after signing and, with a throwaway key, before a real CA key signs.
package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"sort"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"

	"github.com/sigilhq/sigil/internal/pki"
)

// Linter runs zlint's RFC 5280 family lints (RFC 5280, 5480, 5891, 8813)
// over certificates. Before a CA key signs anything, Check lints the exact
// to-be-signed certificate after signing it with a throwaway key of the same
// family, so that a certificate that breaks the rules is never signed by a
// real CA key.
type Linter struct {
	registry    lint.Registry
	crlRegistry lint.Registry

	once      sync.Once
	ecKey     crypto.Signer
	rsaKey    crypto.Signer // signs PKCS#1 v1.5 (the key size is invisible in the TBS)
	rsaPSSKey crypto.Signer // PSS with SHA-512 needs a modulus over 1040 bits
	initErr   error
}

// Sources are the zlint sources Sigil enforces.
var Sources = lint.SourceList{lint.RFC5280, lint.RFC5480, lint.RFC5891, lint.RFC8813}

// CRLSources are the zlint sources Sigil enforces on CRLs. Two CA/Browser
// Forum rules are excluded (crlExcluded) because they are WebPKI policy,
// not RFC 5280, and contradict what a private CA must offer:
// e_crl_next_update_invalid (nextUpdate at most 10 days out; AWS Private CA
// allows ExpirationInDays up to 5000) and e_cab_crl_has_valid_reason_code
// (subscriber reason codes only; revoking a subordinate CA for
// cACompromise, or aACompromise, is valid RFC 5280 and part of the AWS
// API).
var CRLSources = lint.SourceList{lint.RFC5280, lint.Community, lint.CABFBaselineRequirements}

var crlExcluded = []string{"e_crl_next_update_invalid", "e_cab_crl_has_valid_reason_code"}

// New builds a linter over Sources (certificates) and CRLSources (CRLs).
func New() (*Linter, error) {
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: Sources})
	if err != nil {
		return nil, fmt.Errorf("zlint registry: %w", err)
	}
	crlReg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: CRLSources,
		ExcludeNames: crlExcluded})
	if err != nil {
		return nil, fmt.Errorf("zlint registry: %w", err)
	}
	return &Linter{registry: reg, crlRegistry: crlReg}, nil
}

// LintCRL lints a signed CRL and returns its error and fatal findings.
func (l *Linter) LintCRL(der []byte) ([]pki.Finding, error) {
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("zlint cannot parse the CRL: %w", err)
	}
	return findings(zlint.LintRevocationListEx(crl, l.crlRegistry)), nil
}

func findings(rs *zlint.ResultSet) []pki.Finding {
	var out []pki.Finding
	for name, r := range rs.Results {
		if r.Status == lint.Error || r.Status == lint.Fatal {
			out = append(out, pki.Finding{Lint: name, Status: r.Status.String(), Details: r.Details})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lint < out[j].Lint })
	return out
}

// LintDER lints a signed certificate and returns its error and fatal
// findings, sorted by lint name.
func (l *Linter) LintDER(der []byte) ([]pki.Finding, error) {
	return l.lint(der, false)
}

// lint runs the registry. selfSigned tells zlint that the certificate will be
// self-signed once the real key signs it: zcrypto detects self-signed
// certificates by verifying the signature, which a throwaway signature fails.
func (l *Linter) lint(der []byte, selfSigned bool) ([]pki.Finding, error) {
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("zlint cannot parse the certificate: %w", err)
	}
	if selfSigned {
		c.SelfSigned = true
	}
	return findings(zlint.LintCertificateEx(c, l.registry)), nil
}

// Check signs tpl with a throwaway key and lints the result. issuer is nil
// for a self-signed certificate. Findings are returned as a *pki.LintError;
// any other error is a failure of the linter itself.
func (l *Linter) Check(tpl, issuer *x509.Certificate) error {
	l.once.Do(l.init)
	if l.initErr != nil {
		return l.initErr
	}
	var key crypto.Signer
	switch tpl.SignatureAlgorithm {
	case x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
		key = l.ecKey
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		key = l.rsaPSSKey
	default:
		key = l.rsaKey
	}
	// The throwaway key must not be checked against the issuer's key.
	var parent *x509.Certificate
	if issuer == nil {
		self := *tpl
		self.PublicKey = nil
		parent = &self
	} else {
		p := *issuer
		p.PublicKey = nil
		parent = &p
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, tpl.PublicKey, key)
	if err != nil {
		return fmt.Errorf("the certificate cannot be encoded: %v", err)
	}
	findings, err := l.lint(der, issuer == nil)
	if err != nil {
		return err
	}
	if len(findings) > 0 {
		return &pki.LintError{Findings: findings}
	}
	return nil
}

func (l *Linter) init() {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		l.initErr = err
		return
	}
	r1, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		l.initErr = err
		return
	}
	r2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		l.initErr = err
		return
	}
	l.ecKey, l.rsaKey, l.rsaPSSKey = ec, r1, r2
}
