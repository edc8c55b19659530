package ca_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/keys/soft"
	"github.com/sigilhq/sigil/internal/lint"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

var ctx = context.Background()

var admin = iam.Principal{Account: "111111111111", ARN: "arn:aws:iam::111111111111:user/admin", Admin: true}

type env struct {
	svc   *ca.Service
	clk   *clock.Fake
	lint  *lint.Linter
	store *sqlstore.Store
}

func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvWith builds a service whose options mod may change.
func newEnvWith(t testing.TB, mod func(*ca.Options)) *env {
	t.Helper()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "sigil.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mk, _ := seal.NewMasterKey(bytes.Repeat([]byte{1}, 32))
	kr := seal.NewKeyring(mk)
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	linter, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	opts := ca.Options{Region: "us-east-1", Linter: linter, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&opts)
	}
	svc := ca.New(st, soft.New(kr), iam.New(st, kr, clk), clk, opts)
	t.Cleanup(svc.Stop)
	return &env{svc: svc, clk: clk, lint: linter, store: st}
}

func (e *env) create(t testing.TB, typ ca.Type, cn string, alg pki.KeyAlgorithm, sig pki.SigningAlgorithm) string {
	t.Helper()
	arn, err := e.svc.Create(ctx, admin, ca.CreateInput{Type: typ, Config: ca.Config{
		KeyAlgorithm: alg, SigningAlgorithm: sig, Subject: pki.Subject{CommonName: cn, Organization: "Sigil Test", Country: "US"},
	}})
	if err != nil {
		t.Fatalf("create %s: %v", cn, err)
	}
	return arn
}

// issue issues from caARN and returns the parsed certificate after linting it.
func (e *env) issue(t testing.TB, in ca.IssueInput) *x509.Certificate {
	t.Helper()
	if in.SigningAlgorithm == "" {
		in.SigningAlgorithm = pki.SHA256WithECDSA
	}
	if in.Validity.Type == "" {
		in.Validity = pki.Validity{Type: pki.ValidityDays, Value: 30}
	}
	arn, err := e.svc.Issue(ctx, admin, in)
	if err != nil {
		t.Fatalf("issue (%s): %v", in.TemplateARN, err)
	}
	certPEM, _, err := e.svc.GetCertificate(ctx, admin, in.CAARN, arn)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := e.lint.LintDER(certs[0].Raw); err != nil || len(f) > 0 {
		t.Fatalf("issued certificate is not lint-clean: %v %v", f, err)
	}
	if !strings.HasSuffix(arn, "/certificate/"+pki.SerialHex(certs[0].SerialNumber)) {
		t.Fatalf("ARN %s does not end in the serial", arn)
	}
	return certs[0]
}

// activateRoot self-signs and installs a root CA certificate.
func (e *env) activateRoot(t testing.TB, arn string, sig pki.SigningAlgorithm, years int64) *x509.Certificate {
	t.Helper()
	csr, err := e.svc.CSR(ctx, admin, arn)
	if err != nil {
		t.Fatal(err)
	}
	cert := e.issue(t, ca.IssueInput{CAARN: arn, CSR: csr, SigningAlgorithm: sig,
		TemplateARN: pki.TemplateARNPrefix + "RootCACertificate/V1", Validity: pki.Validity{Type: pki.ValidityYears, Value: years}})
	if err := e.svc.ImportCertificate(ctx, admin, arn, pki.EncodeCertificatesPEM(cert.Raw), nil); err != nil {
		t.Fatal(err)
	}
	return cert
}

// activateSub has parent sign sub's CSR and installs it with the chain.
func (e *env) activateSub(t testing.TB, parent, sub, template string, years int64) *x509.Certificate {
	t.Helper()
	csr, err := e.svc.CSR(ctx, admin, sub)
	if err != nil {
		t.Fatal(err)
	}
	cert := e.issue(t, ca.IssueInput{CAARN: parent, CSR: csr, TemplateARN: pki.TemplateARNPrefix + template,
		Validity: pki.Validity{Type: pki.ValidityYears, Value: years}})
	pc, pchain, err := e.svc.Certificate(ctx, admin, parent)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ImportCertificate(ctx, admin, sub, pki.EncodeCertificatesPEM(cert.Raw), append(pc, pchain...)); err != nil {
		t.Fatalf("import sub: %v", err)
	}
	return cert
}

func leafCSR(t testing.TB, cn string) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodePEM("CERTIFICATE REQUEST", der)
}

func wantErr(t testing.TB, err error, kind errs.Kind, code errs.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v/%s", kind, code)
	}
	if errs.KindOf(err) != kind || errs.CodeOf(err) != code {
		t.Fatalf("error %q is %v/%s, want %v/%s", err, errs.KindOf(err), errs.CodeOf(err), kind, code)
	}
}

func TestTwoLevelHierarchy(t *testing.T) {
	e := newEnv(t)
	root := e.create(t, ca.Root, "Root", pki.ECP384, pki.SHA384WithECDSA)
	if a, _ := e.svc.Describe(ctx, admin, root); a.Status != ca.PendingCertificate {
		t.Fatalf("new CA status %s", a.Status)
	}
	rootCert := e.activateRoot(t, root, pki.SHA384WithECDSA, 10)
	a, err := e.svc.Describe(ctx, admin, root)
	if err != nil || a.Status != ca.Active || a.Serial != pki.SerialHex(rootCert.SerialNumber) || !a.NotAfter.Equal(rootCert.NotAfter) {
		t.Fatalf("root after import: %+v %v", a, err)
	}

	sub := e.create(t, ca.Subordinate, "Issuing CA", pki.RSA2048, pki.SHA256WithRSA)
	subCert := e.activateSub(t, root, sub, "SubordinateCACertificate_PathLen0/V1", 5)
	if !subCert.IsCA || subCert.MaxPathLen != 0 || !subCert.MaxPathLenZero {
		t.Fatalf("sub CA certificate: isCA=%v pathlen=%d", subCert.IsCA, subCert.MaxPathLen)
	}

	leaf := e.issue(t, ca.IssueInput{CAARN: sub, CSR: leafCSR(t, "app.example.internal"), SigningAlgorithm: pki.SHA256WithRSA})
	// The chain from GetCertificate verifies.
	arnLeaf := fmt.Sprintf("%s/certificate/%s", sub, pki.SerialHex(leaf.SerialNumber))
	_, chain, err := e.svc.GetCertificate(ctx, admin, sub, arnLeaf)
	if err != nil {
		t.Fatal(err)
	}
	chainCerts, _ := pki.ParseCertificatesPEM(chain)
	if len(chainCerts) != 2 || !chainCerts[0].Equal(subCert) || !chainCerts[1].Equal(rootCert) {
		t.Fatalf("chain has %d certificates in the wrong order", len(chainCerts))
	}
	if err := pki.VerifyChain(leaf, chainCerts, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, subCert.SubjectKeyId) {
		t.Fatal("leaf AKI != issuing CA SKI")
	}
	// The sub CA cannot issue CA certificates (pathlen 0).
	third := e.create(t, ca.Subordinate, "Too deep", pki.ECP256, pki.SHA256WithECDSA)
	csr3, _ := e.svc.CSR(ctx, admin, third)
	_, err = e.svc.Issue(ctx, admin, ca.IssueInput{CAARN: sub, CSR: csr3, SigningAlgorithm: pki.SHA256WithRSA,
		TemplateARN: pki.TemplateARNPrefix + "SubordinateCACertificate_PathLen0/V1", Validity: pki.Validity{Type: pki.ValidityYears, Value: 1}})
	wantErr(t, err, errs.Invalid, ca.CodeInvalidArgs)
}

func TestDepthLimit(t *testing.T) {
	// Root → PathLen3 → PathLen2 → PathLen1 → PathLen0: five levels, the
	// deepest hierarchy AWS allows.
	e2 := newEnv(t)
	p := e2.create(t, ca.Root, "L1", pki.ECP256, pki.SHA256WithECDSA)
	e2.activateRoot(t, p, pki.SHA256WithECDSA, 20)
	for level, tpl := range []string{"SubordinateCACertificate_PathLen3/V1", "SubordinateCACertificate_PathLen2/V1",
		"SubordinateCACertificate_PathLen1/V1", "SubordinateCACertificate_PathLen0/V1"} {
		c := e2.create(t, ca.Subordinate, fmt.Sprintf("L%d", level+2), pki.ECP256, pki.SHA256WithECDSA)
		e2.activateSub(t, p, c, tpl, int64(18-level))
		p = c
	}
	// Five levels exist; the level-5 CA (pathlen 0) cannot go further, and a
	// leaf still verifies through all five.
	leaf := e2.issue(t, ca.IssueInput{CAARN: p, CSR: leafCSR(t, "deep.example")})
	_, chain, _ := e2.svc.GetCertificate(ctx, admin, p, fmt.Sprintf("%s/certificate/%s", p, pki.SerialHex(leaf.SerialNumber)))
	certs, _ := pki.ParseCertificatesPEM(chain)
	if len(certs) != 5 {
		t.Fatalf("chain length %d, want 5", len(certs))
	}
	if err := pki.VerifyChain(leaf, certs, e2.clk.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestPathLenBelowParent(t *testing.T) {
	e := newEnv(t)
	root := e.create(t, ca.Root, "R", pki.ECP256, pki.SHA256WithECDSA)
	e.activateRoot(t, root, pki.SHA256WithECDSA, 20)
	mid := e.create(t, ca.Subordinate, "M", pki.ECP256, pki.SHA256WithECDSA)
	e.activateSub(t, root, mid, "SubordinateCACertificate_PathLen1/V1", 10)
	low := e.create(t, ca.Subordinate, "L", pki.ECP256, pki.SHA256WithECDSA)
	csr, _ := e.svc.CSR(ctx, admin, low)
	_, err := e.svc.Issue(ctx, admin, ca.IssueInput{CAARN: mid, CSR: csr, SigningAlgorithm: pki.SHA256WithECDSA,
		TemplateARN: pki.TemplateARNPrefix + "SubordinateCACertificate_PathLen1/V1", Validity: pki.Validity{Type: pki.ValidityYears, Value: 1}})
	wantErr(t, err, errs.Invalid, ca.CodeInvalidArgs)
	e.activateSub(t, mid, low, "SubordinateCACertificate_PathLen0/V1", 5)
}

func TestIssuanceRules(t *testing.T) {
	e := newEnv(t)
	root := e.create(t, ca.Root, "Root", pki.ECP256, pki.SHA256WithECDSA)
	// A pending CA issues nothing but its own root certificate.
	_, err := e.svc.Issue(ctx, admin, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "x.example"), SigningAlgorithm: pki.SHA256WithECDSA,
		Validity: pki.Validity{Type: pki.ValidityDays, Value: 1}})
	wantErr(t, err, errs.State, "")
	// A root template signs only the CA's own CSR.
	_, err = e.svc.Issue(ctx, admin, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "x.example"), SigningAlgorithm: pki.SHA256WithECDSA,
		TemplateARN: pki.TemplateARNPrefix + "RootCACertificate/V1", Validity: pki.Validity{Type: pki.ValidityYears, Value: 1}})
	wantErr(t, err, errs.Invalid, ca.CodeInvalidArgs)
	rootCert := e.activateRoot(t, root, pki.SHA256WithECDSA, 2)

	base := ca.IssueInput{CAARN: root, CSR: leafCSR(t, "svc.example"), SigningAlgorithm: pki.SHA256WithECDSA,
		Validity: pki.Validity{Type: pki.ValidityDays, Value: 30}}
	cases := []struct {
		name string
		mod  func(*ca.IssueInput)
		kind errs.Kind
		code errs.Code
	}{
		{"garbage CSR", func(in *ca.IssueInput) { in.CSR = []byte("garbage") }, errs.Invalid, ca.CodeMalformedCSR},
		{"RSA algorithm on EC CA", func(in *ca.IssueInput) { in.SigningAlgorithm = pki.SHA256WithRSA }, errs.Invalid, ca.CodeInvalidArgs},
		{"unknown algorithm", func(in *ca.IssueInput) { in.SigningAlgorithm = "MD5WITHRSA" }, errs.Invalid, ""},
		{"unknown template", func(in *ca.IssueInput) { in.TemplateARN = pki.TemplateARNPrefix + "Nope/V1" }, errs.Invalid, ca.CodeInvalidArgs},
		{"outlives CA", func(in *ca.IssueInput) { in.Validity = pki.Validity{Type: pki.ValidityYears, Value: 3} }, errs.Invalid, ""},
		{"ends in the past", func(in *ca.IssueInput) {
			in.Validity = pki.Validity{Type: pki.ValidityAbsolute, Value: e.clk.Now().Add(-time.Hour).Unix()}
		}, errs.Invalid, ca.CodeInvalidArgs},
		{"bad validity type", func(in *ca.IssueInput) { in.Validity = pki.Validity{Type: "WEEKS", Value: 1} }, errs.Invalid, ca.CodeInvalidArgs},
		{"not-before of type DAYS", func(in *ca.IssueInput) { in.ValidityNotBefore = &pki.Validity{Type: pki.ValidityDays, Value: 1} }, errs.Invalid, ca.CodeInvalidArgs},
		{"lint failure", func(in *ca.IssueInput) {
			in.TemplateARN = pki.TemplateARNPrefix + "BlankEndEntityCertificate_APIPassthrough/V1"
			in.APIExtensions = &pki.Extensions{KeyUsage: &pki.KeyUsage{KeyCertSign: true}}
		}, errs.Invalid, ca.CodeInvalidArgs},
		{"bad SAN", func(in *ca.IssueInput) {
			in.TemplateARN = pki.TemplateARNPrefix + "EndEntityCertificate_APIPassthrough/V1"
			in.APIExtensions = &pki.Extensions{SubjectAlternativeNames: []pki.GeneralName{{DnsName: "not valid"}}}
		}, errs.Invalid, ca.CodeInvalidArgs},
		{"bad ARN", func(in *ca.IssueInput) {
			in.CAARN = "arn:aws:acm-pca:us-east-1:111111111111:certificate-authority/nope"
		}, errs.Invalid, ca.CodeInvalidArn},
		{"other region", func(in *ca.IssueInput) { in.CAARN = strings.Replace(in.CAARN, "us-east-1", "eu-west-1", 1) }, errs.Invalid, ca.CodeInvalidArn},
		{"other account", func(in *ca.IssueInput) { in.CAARN = strings.Replace(in.CAARN, "111111111111", "222222222222", 1) }, errs.Denied, "AccessDenied"},
		{"missing CA", func(in *ca.IssueInput) {
			in.CAARN = in.CAARN[:len(in.CAARN)-12] + "000000000000"
		}, errs.NotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base
			c.mod(&in)
			_, err := e.svc.Issue(ctx, admin, in)
			wantErr(t, err, c.kind, c.code)
		})
	}

	// ValidityNotBefore and the default backdating.
	nb := e.clk.Now().Add(24 * time.Hour).Truncate(time.Second)
	c := e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "later.example"),
		ValidityNotBefore: &pki.Validity{Type: pki.ValidityAbsolute, Value: nb.Unix()}})
	if !c.NotBefore.Equal(nb) || !c.NotAfter.Equal(e.clk.Now().AddDate(0, 0, 30)) {
		t.Fatalf("validity %v - %v", c.NotBefore, c.NotAfter)
	}
	c = e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "now.example")})
	if c.NotBefore.Before(rootCert.NotBefore) {
		t.Fatalf("leaf starts (%v) before its CA (%v)", c.NotBefore, rootCert.NotBefore)
	}

	// Disabled and expired CAs cannot issue.
	if err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: root, Status: ca.Disabled}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Issue(ctx, admin, base)
	wantErr(t, err, errs.State, "")
	if err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: root, Status: ca.Active}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(3 * 365 * 24 * time.Hour)
	if a, _ := e.svc.Describe(ctx, admin, root); a.Status != ca.Expired {
		t.Fatalf("status after expiry %s", a.Status)
	}
	_, err = e.svc.Issue(ctx, admin, base)
	wantErr(t, err, errs.State, "")
	err = e.svc.Update(ctx, admin, ca.UpdateInput{ARN: root, Status: ca.Disabled})
	wantErr(t, err, errs.State, "")
}

func TestShortLivedMode(t *testing.T) {
	e := newEnv(t)
	arn, err := e.svc.Create(ctx, admin, ca.CreateInput{Type: ca.Root, UsageMode: ca.ShortLivedCertificate, Config: ca.Config{
		KeyAlgorithm: pki.ECP256, SigningAlgorithm: pki.SHA256WithECDSA, Subject: pki.Subject{CommonName: "Short"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.activateRoot(t, arn, pki.SHA256WithECDSA, 1)
	_, err = e.svc.Issue(ctx, admin, ca.IssueInput{CAARN: arn, CSR: leafCSR(t, "s.example"), SigningAlgorithm: pki.SHA256WithECDSA,
		Validity: pki.Validity{Type: pki.ValidityDays, Value: 8}})
	wantErr(t, err, errs.Invalid, "")
	e.issue(t, ca.IssueInput{CAARN: arn, CSR: leafCSR(t, "s.example"), Validity: pki.Validity{Type: pki.ValidityDays, Value: 6}})
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	in := ca.CreateInput{Type: ca.Root, IdempotencyToken: "tok-1", Config: ca.Config{KeyAlgorithm: pki.ECP256,
		SigningAlgorithm: pki.SHA256WithECDSA, Subject: pki.Subject{CommonName: "Idem"}}}
	a1, err := e.svc.Create(ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := e.svc.Create(ctx, admin, in)
	if err != nil || a1 != a2 {
		t.Fatalf("same token made %s and %s (%v)", a1, a2, err)
	}
	other := in
	other.Config.Subject.CommonName = "Other"
	_, err = e.svc.Create(ctx, admin, other)
	wantErr(t, err, errs.Invalid, ca.CodeInvalidArgs)
	e.clk.Advance(6 * time.Minute)
	a3, err := e.svc.Create(ctx, admin, in)
	if err != nil || a3 == a1 {
		t.Fatalf("token reused after the window returned %s (%v)", a3, err)
	}

	e.activateRoot(t, a1, pki.SHA256WithECDSA, 1)
	csr := leafCSR(t, "idem.example")
	issueIn := ca.IssueInput{CAARN: a1, CSR: csr, SigningAlgorithm: pki.SHA256WithECDSA,
		Validity: pki.Validity{Type: pki.ValidityDays, Value: 1}, IdempotencyToken: "issue-1"}
	// Concurrent requests with one token yield one certificate.
	var wg sync.WaitGroup
	arns := make([]string, 8)
	errsSeen := make([]error, 8)
	for i := range arns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			arns[i], errsSeen[i] = e.svc.Issue(ctx, admin, issueIn)
		}(i)
	}
	wg.Wait()
	for i := range arns {
		if errsSeen[i] != nil || arns[i] != arns[0] {
			t.Fatalf("concurrent idempotent issue: %v %v", arns, errsSeen)
		}
	}
	issueIn.IdempotencyToken = "issue-2"
	if b, _ := e.svc.Issue(ctx, admin, issueIn); b == arns[0] {
		t.Fatal("a new token returned the old certificate")
	}
}

func TestDeleteRestorePurge(t *testing.T) {
	e := newEnv(t)
	// A CA without a certificate is deleted at once.
	pending := e.create(t, ca.Root, "Pending", pki.ECP256, pki.SHA256WithECDSA)
	if err := e.svc.Delete(ctx, admin, pending, nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Describe(ctx, admin, pending)
	wantErr(t, err, errs.NotFound, "")
	wantErr(t, e.svc.Restore(ctx, admin, pending), errs.NotFound, "")

	arn := e.create(t, ca.Root, "Active", pki.ECP256, pki.SHA256WithECDSA)
	e.activateRoot(t, arn, pki.SHA256WithECDSA, 1)
	leaf := e.issue(t, ca.IssueInput{CAARN: arn, CSR: leafCSR(t, "keep.example")})
	wantErr(t, e.svc.Delete(ctx, admin, arn, nil), errs.State, "")
	bad := 6
	wantErr(t, e.svc.Delete(ctx, admin, arn, &bad), errs.Invalid, "")
	if err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: arn, Status: ca.Disabled}); err != nil {
		t.Fatal(err)
	}
	days := 7
	if err := e.svc.Delete(ctx, admin, arn, &days); err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.Describe(ctx, admin, arn)
	if err != nil || a.Status != ca.Deleted || !a.RestorableUntil.Equal(e.clk.Now().AddDate(0, 0, 7)) {
		t.Fatalf("deleted CA: %+v %v", a, err)
	}
	wantErr(t, e.svc.Delete(ctx, admin, arn, nil), errs.State, "")
	wantErr(t, e.svc.Update(ctx, admin, ca.UpdateInput{ARN: arn, Status: ca.Active}), errs.State, "")
	_, _, err = e.svc.GetCertificate(ctx, admin, arn, fmt.Sprintf("%s/certificate/%s", arn, pki.SerialHex(leaf.SerialNumber)))
	wantErr(t, err, errs.State, "")
	// Restore returns it to DISABLED with its certificates.
	if err := e.svc.Restore(ctx, admin, arn); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.svc.Describe(ctx, admin, arn); a.Status != ca.Disabled || !a.RestorableUntil.IsZero() {
		t.Fatalf("restored CA: %+v", a)
	}
	wantErr(t, e.svc.Restore(ctx, admin, arn), errs.State, "")
	if _, _, err := e.svc.GetCertificate(ctx, admin, arn, fmt.Sprintf("%s/certificate/%s", arn, pki.SerialHex(leaf.SerialNumber))); err != nil {
		t.Fatal(err)
	}
	// Delete again and let the window pass: gone, then purged.
	if err := e.svc.Delete(ctx, admin, arn, &days); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.svc.Purge(ctx, nil); n != 1 { // the pending CA from the start
		t.Fatalf("purged %d, want 1", n)
	}
	e.clk.Advance(8 * 24 * time.Hour)
	_, err = e.svc.Describe(ctx, admin, arn)
	wantErr(t, err, errs.NotFound, "")
	if n, err := e.svc.Purge(ctx, nil); n != 1 || err != nil {
		t.Fatalf("purged %d, %v", n, err)
	}
	out, _ := e.svc.List(ctx, admin, ca.ListInput{})
	if len(out.Authorities) != 0 {
		t.Fatalf("%d CAs listed after purge", len(out.Authorities))
	}
}

func TestImportChecks(t *testing.T) {
	e := newEnv(t)
	root := e.create(t, ca.Root, "Root", pki.ECP256, pki.SHA256WithECDSA)
	rootCert := e.activateRoot(t, root, pki.SHA256WithECDSA, 10)
	sub := e.create(t, ca.Subordinate, "Sub", pki.ECP256, pki.SHA256WithECDSA)
	other := e.create(t, ca.Subordinate, "Other", pki.ECP256, pki.SHA256WithECDSA)
	csrOther, _ := e.svc.CSR(ctx, admin, other)
	otherCert := e.issue(t, ca.IssueInput{CAARN: root, CSR: csrOther, TemplateARN: pki.TemplateARNPrefix + "SubordinateCACertificate_PathLen0/V1",
		Validity: pki.Validity{Type: pki.ValidityYears, Value: 1}})
	leaf := e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "leaf.example")})
	rootPEM := pki.EncodeCertificatesPEM(rootCert.Raw)

	wantErr(t, e.svc.ImportCertificate(ctx, admin, sub, []byte("junk"), nil), errs.Invalid, ca.CodeMalformedCertificate)
	wantErr(t, e.svc.ImportCertificate(ctx, admin, sub, pki.EncodeCertificatesPEM(otherCert.Raw), rootPEM), errs.Invalid, ca.CodeCertificateMismatch)
	wantErr(t, e.svc.ImportCertificate(ctx, admin, sub, pki.EncodeCertificatesPEM(leaf.Raw), rootPEM), errs.Invalid, ca.CodeMalformedCertificate)
	wantErr(t, e.svc.ImportCertificate(ctx, admin, sub, pki.EncodeCertificatesPEM(otherCert.Raw, otherCert.Raw), rootPEM), errs.Invalid, ca.CodeMalformedCertificate)
	// The right certificate but no chain, or an unrelated chain.
	csrSub, _ := e.svc.CSR(ctx, admin, sub)
	subCert := e.issue(t, ca.IssueInput{CAARN: root, CSR: csrSub, TemplateARN: pki.TemplateARNPrefix + "SubordinateCACertificate_PathLen0/V1",
		Validity: pki.Validity{Type: pki.ValidityYears, Value: 1}})
	subPEM := pki.EncodeCertificatesPEM(subCert.Raw)
	wantErr(t, e.svc.ImportCertificate(ctx, admin, sub, subPEM, nil), errs.Invalid, ca.CodeInvalidRequest)
	wantErr(t, e.svc.ImportCertificate(ctx, admin, sub, subPEM, pki.EncodeCertificatesPEM(otherCert.Raw)), errs.Invalid, ca.CodeInvalidRequest)
	// Nothing was half-written: the CA is still pending.
	if a, _ := e.svc.Describe(ctx, admin, sub); a.Status != ca.PendingCertificate || a.Serial != "" {
		t.Fatalf("failed imports changed the CA: %+v", a)
	}
	if err := e.svc.ImportCertificate(ctx, admin, sub, subPEM, rootPEM); err != nil {
		t.Fatal(err)
	}
	// A root needs a self-signed certificate; a sub cannot use one.
	root2 := e.create(t, ca.Root, "Root2", pki.ECP256, pki.SHA256WithECDSA)
	wantErr(t, e.svc.ImportCertificate(ctx, admin, root2, rootPEM, nil), errs.Invalid, ca.CodeCertificateMismatch)
	// Re-import onto an active CA works (renewal), and an expired
	// certificate is refused.
	if err := e.svc.ImportCertificate(ctx, admin, sub, subPEM, rootPEM); err != nil {
		t.Fatalf("re-import: %v", err)
	}
	e.clk.Advance(2 * 365 * 24 * time.Hour)
	wantErr(t, e.svc.ImportCertificate(ctx, admin, sub, subPEM, rootPEM), errs.Invalid, ca.CodeInvalidRequest)
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	good := ca.CreateInput{Type: ca.Root, Config: ca.Config{KeyAlgorithm: pki.RSA2048, SigningAlgorithm: pki.SHA256WithRSA,
		Subject: pki.Subject{CommonName: "x"}}}
	enabled := true
	cases := []struct {
		name string
		mod  func(*ca.CreateInput)
		code errs.Code
	}{
		{"type", func(in *ca.CreateInput) { in.Type = "INTERMEDIATE" }, ""},
		{"key algorithm", func(in *ca.CreateInput) { in.Config.KeyAlgorithm = "RSA_1024" }, ca.CodeInvalidArgs},
		{"family mismatch", func(in *ca.CreateInput) { in.Config.SigningAlgorithm = pki.SHA256WithECDSA }, ca.CodeInvalidArgs},
		{"empty subject", func(in *ca.CreateInput) { in.Config.Subject = pki.Subject{} }, ca.CodeInvalidArgs},
		{"long CN", func(in *ca.CreateInput) { in.Config.Subject.CommonName = strings.Repeat("c", 65) }, ca.CodeInvalidArgs},
		{"usage mode", func(in *ca.CreateInput) { in.UsageMode = "FOREVER" }, ""},
		{"key storage", func(in *ca.CreateInput) { in.KeyStorageSecurityStandard = "NONE" }, ""},
		{"reserved tag", func(in *ca.CreateInput) { in.Tags = []ca.Tag{{Key: "aws:x"}} }, ca.CodeInvalidTag},
		{"token too long", func(in *ca.CreateInput) { in.IdempotencyToken = strings.Repeat("t", 37) }, ""},
		{"CRL path escaping", func(in *ca.CreateInput) {
			in.Revocation = &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true, CustomPath: "crl/../../etc"}}
		}, ca.CodeInvalidArgs},
		{"CRL bucket name", func(in *ca.CreateInput) {
			in.Revocation = &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true, S3BucketName: "Upper_Case"}}
		}, ca.CodeInvalidArgs},
		{"CRL omit with cname", func(in *ca.CreateInput) {
			in.Revocation = &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true, OmitExtension: &enabled, CustomCname: "crl.example.com"}}
		}, ca.CodeInvalidArgs},
		{"CRL type", func(in *ca.CreateInput) {
			in.Revocation = &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true, CrlType: "DELTA"}}
		}, ""},
		{"disabled CRL with fields", func(in *ca.CreateInput) {
			in.Revocation = &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: false, S3BucketName: "bucket"}}
		}, ca.CodeInvalidArgs},
		{"OCSP cname with scheme", func(in *ca.CreateInput) {
			in.Revocation = &ca.RevocationConfig{OCSP: &ca.OCSPConfig{Enabled: enabled, OcspCustomCname: "http://x"}}
		}, ca.CodeInvalidArgs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := good
			c.mod(&in)
			_, err := e.svc.Create(ctx, admin, in)
			wantErr(t, err, errs.Invalid, c.code)
		})
	}
	out, _ := e.svc.List(ctx, admin, ca.ListInput{})
	if len(out.Authorities) != 0 {
		t.Fatalf("a refused create left %d CAs behind", len(out.Authorities))
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := 0; i < 7; i++ {
		want = append(want, e.create(t, ca.Root, fmt.Sprintf("CA %d", i), pki.ECP256, pki.SHA256WithECDSA))
		e.clk.Advance(time.Second)
	}
	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		out, err := e.svc.List(ctx, admin, ca.ListInput{MaxResults: 3, NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.Authorities {
			got = append(got, a.ARN)
		}
		if out.NextToken == "" {
			break
		}
		tok = out.NextToken
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	_, err := e.svc.List(ctx, admin, ca.ListInput{NextToken: "bogus"})
	wantErr(t, err, errs.Invalid, ca.CodeInvalidNextToken)
	// A token from one account is useless in another.
	out, _ := e.svc.List(ctx, admin, ca.ListInput{MaxResults: 1})
	other := iam.Principal{Account: "222222222222", ARN: "arn:aws:iam::222222222222:user/admin", Admin: true}
	_, err = e.svc.List(ctx, other, ca.ListInput{NextToken: out.NextToken})
	wantErr(t, err, errs.Invalid, ca.CodeInvalidNextToken)
	if out, _ := e.svc.List(ctx, other, ca.ListInput{}); len(out.Authorities) != 0 {
		t.Fatal("another account sees this account's CAs")
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	v := func(s string) *string { return &s }
	arn := e.create(t, ca.Root, "Tagged", pki.ECP256, pki.SHA256WithECDSA)
	if err := e.svc.Tag(ctx, admin, arn, []ca.Tag{{Key: "env", Value: v("prod")}, {Key: "team", Value: v("pki")}, {Key: "empty"}}); err != nil {
		t.Fatal(err)
	}
	page, err := e.svc.ListTags(ctx, admin, arn, 2, "")
	if err != nil || len(page.Tags) != 2 || page.NextToken == "" || page.Tags[0].Key != "empty" {
		t.Fatalf("first page %+v %v", page, err)
	}
	page2, err := e.svc.ListTags(ctx, admin, arn, 2, page.NextToken)
	if err != nil || len(page2.Tags) != 1 || page2.Tags[0].Key != "team" || page2.NextToken != "" {
		t.Fatalf("second page %+v %v", page2, err)
	}
	// Untag with a non-matching value keeps the tag; without a value removes.
	e.svc.Untag(ctx, admin, arn, []ca.Tag{{Key: "env", Value: v("dev")}, {Key: "team"}})
	page, _ = e.svc.ListTags(ctx, admin, arn, 0, "")
	if len(page.Tags) != 2 || page.Tags[1].Key != "env" {
		t.Fatalf("after untag: %+v", page.Tags)
	}
	var many []ca.Tag
	for i := 0; i < 49; i++ {
		many = append(many, ca.Tag{Key: fmt.Sprintf("k%02d", i)})
	}
	wantErr(t, e.svc.Tag(ctx, admin, arn, many), errs.Invalid, ca.CodeTooManyTags)
	wantErr(t, e.svc.Tag(ctx, admin, arn, []ca.Tag{{Key: ""}}), errs.Invalid, ca.CodeInvalidTag)
	page, _ = e.svc.ListTags(ctx, admin, arn, 0, "")
	if len(page.Tags) != 2 {
		t.Fatalf("failed tag call changed tags: %+v", page.Tags)
	}
}

func TestConcurrentIssuanceUniqueSerials(t *testing.T) {
	e := newEnv(t)
	root := e.create(t, ca.Root, "Root", pki.ECP256, pki.SHA256WithECDSA)
	e.activateRoot(t, root, pki.SHA256WithECDSA, 1)
	csr := leafCSR(t, "many.example")
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				arn, err := e.svc.Issue(ctx, admin, ca.IssueInput{CAARN: root, CSR: csr, SigningAlgorithm: pki.SHA256WithECDSA,
					Validity: pki.Validity{Type: pki.ValidityDays, Value: 1}})
				mu.Lock()
				if err != nil || seen[arn] {
					t.Errorf("issue: %v (duplicate=%v)", err, seen[arn])
				}
				seen[arn] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 160 {
		t.Fatalf("%d certificates", len(seen))
	}
}

func TestConcurrentModification(t *testing.T) {
	e := newEnv(t)
	arn := e.create(t, ca.Root, "Root", pki.ECP256, pki.SHA256WithECDSA)
	e.activateRoot(t, arn, pki.SHA256WithECDSA, 1)
	// Many concurrent flips never lose a write: the final status is one of
	// the requested ones and every call either succeeds or reports a
	// concurrent modification.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st := ca.Active
			if i%2 == 0 {
				st = ca.Disabled
			}
			err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: arn, Status: st})
			if err != nil && errs.CodeOf(err) != ca.CodeConcurrentModify {
				t.Errorf("update: %v", err)
			}
		}(i)
	}
	wg.Wait()
}

func TestErrorsAreClassified(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Describe(ctx, admin, "not-an-arn")
	if !errors.As(err, new(*errs.Error)) || errs.CodeOf(err) != ca.CodeInvalidArn {
		t.Fatalf("%v", err)
	}
}

// TestCachedCANeverIssuesStale runs two services over one store (two nodes).
// Node A has the CA cached; node B disables it; A must refuse to issue.
func TestCachedCANeverIssuesStale(t *testing.T) {
	e := newEnv(t)
	mk, _ := seal.NewMasterKey(bytes.Repeat([]byte{1}, 32))
	kr := seal.NewKeyring(mk)
	nodeB := ca.New(e.store, soft.New(kr), iam.New(e.store, kr, e.clk), e.clk, ca.Options{Region: "us-east-1",
		Logger: slog.New(slog.DiscardHandler)})
	root := e.create(t, ca.Root, "Shared", pki.ECP256, pki.SHA256WithECDSA)
	e.activateRoot(t, root, pki.SHA256WithECDSA, 1)
	e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "warm.example")}) // node A caches the CA

	if err := nodeB.Update(ctx, admin, ca.UpdateInput{ARN: root, Status: ca.Disabled}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Issue(ctx, admin, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "stale.example"), SigningAlgorithm: pki.SHA256WithECDSA,
		Validity: pki.Validity{Type: pki.ValidityDays, Value: 1}})
	wantErr(t, err, errs.State, "")
	// And once B enables it again, A issues.
	if err := nodeB.Update(ctx, admin, ca.UpdateInput{ARN: root, Status: ca.Active}); err != nil {
		t.Fatal(err)
	}
	e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "again.example")})
}
