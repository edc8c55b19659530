package certmgr_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/certmgr"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/keys/soft"
	"github.com/sigilhq/sigil/internal/lint"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

var (
	ctx   = context.Background()
	admin = iam.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/admin", Admin: true}
	day   = 24 * time.Hour
)

type env struct {
	svc   *certmgr.Service
	pca   *ca.Service
	clk   *clock.Fake
	store store.Store
	lint  *lint.Linter
	kr    *seal.Keyring
	caARN string
	root  *x509.Certificate
}

// newEnv builds Certificate Manager over a real Private CA with an active
// EC root valid for caYears.
func newEnv(t testing.TB, caYears int64) *env {
	t.Helper()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "sigil.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mk, _ := seal.NewMasterKey(bytes.Repeat([]byte{7}, 32))
	kr := seal.NewKeyring(mk)
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	linter, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	authz := iam.New(st, kr, clk)
	pca := ca.New(st, soft.New(kr), authz, clk, ca.Options{Region: "us-east-1", Linter: linter, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(pca.Stop)
	e := &env{pca: pca, clk: clk, store: st, lint: linter, kr: kr}
	e.svc = certmgr.New(st, pca, kr, authz, clk, certmgr.Options{Region: "us-east-1"})
	e.caARN, e.root = e.newRoot(t, caYears)
	e.grantACM(t)
	return e
}

// grantACM lets Certificate Manager's service principal issue from the
// CA, which managed renewal needs.
func (e *env) grantACM(t testing.TB) {
	t.Helper()
	if err := e.pca.CreatePermission(ctx, admin, ca.CreatePermissionInput{CAARN: e.caARN, Principal: iam.ACMService,
		Actions: []string{"IssueCertificate", "GetCertificate", "ListPermissions"}}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) newRoot(t testing.TB, years int64) (string, *x509.Certificate) {
	t.Helper()
	arn, err := e.pca.Create(ctx, admin, ca.CreateInput{Type: ca.Root, Config: ca.Config{
		KeyAlgorithm: pki.ECP256, SigningAlgorithm: pki.SHA256WithECDSA,
		Subject: pki.Subject{CommonName: "Test Root", Organization: "Sigil Test", Country: "US"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := e.pca.CSR(ctx, admin, arn)
	if err != nil {
		t.Fatal(err)
	}
	certARN, err := e.pca.Issue(ctx, admin, ca.IssueInput{CAARN: arn, CSR: csr, SigningAlgorithm: pki.SHA256WithECDSA,
		TemplateARN: pki.TemplateARNPrefix + "RootCACertificate/V1", Validity: pki.Validity{Type: pki.ValidityYears, Value: years}})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := e.pca.GetCertificate(ctx, admin, arn, certARN)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pca.ImportCertificate(ctx, admin, arn, certPEM, nil); err != nil {
		t.Fatal(err)
	}
	certs, _ := pki.ParseCertificatesPEM(certPEM)
	return arn, certs[0]
}

func (e *env) request(t testing.TB, domain string, mod func(*certmgr.RequestInput)) string {
	t.Helper()
	in := certmgr.RequestInput{DomainName: domain, CAARN: e.caARN, KeyAlgorithm: "EC_prime256v1"}
	if mod != nil {
		mod(&in)
	}
	arn, err := e.svc.Request(ctx, admin, in)
	if err != nil {
		t.Fatalf("request %s: %v", domain, err)
	}
	return arn
}

func (e *env) describe(t testing.TB, arn string) *certmgr.Certificate {
	t.Helper()
	d, err := e.svc.Describe(ctx, admin, arn)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	return d
}

// leaf returns the certificate of arn, checked: lint-clean and verified
// against the root at the current fake time.
func (e *env) leaf(t testing.TB, arn string) *x509.Certificate {
	t.Helper()
	certPEM, chain, err := e.svc.Get(ctx, admin, arn)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil || len(certs) != 1 {
		t.Fatalf("certificate PEM: %v", err)
	}
	if f, err := e.lint.LintDER(certs[0].Raw); err != nil || len(f) > 0 {
		t.Fatalf("certificate is not lint-clean: %v %v", f, err)
	}
	chainCerts, err := pki.ParseCertificatesPEM(chain)
	if err != nil {
		t.Fatalf("chain: %v", err)
	}
	if err := pki.VerifyChain(certs[0], chainCerts, e.clk.Now()); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
	return certs[0]
}

func wantErr(t testing.TB, err error, kind errs.Kind, code errs.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %v/%v error, got nil", kind, code)
	}
	if errs.KindOf(err) != kind || errs.CodeOf(err) != code {
		t.Fatalf("want %v/%q, got %v/%q: %v", kind, code, errs.KindOf(err), errs.CodeOf(err), err)
	}
}

// eventsOf returns the outbox events about arn with the given detail type.
func (e *env) eventsOf(t testing.TB, arn, detailType string) []map[string]any {
	t.Helper()
	var list []*store.Event
	if err := e.store.View(ctx, func(tx store.Tx) (err error) {
		list, err = tx.Events().List(ctx, admin.Account, time.Time{}, "", 10000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, ev := range list {
		env, err := events.Decode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if env.DetailType != detailType || len(env.Resources) != 1 || env.Resources[0] != arn {
			continue
		}
		if env.Source != "aws.acm" || env.Account != admin.Account || env.Region != "us-east-1" || env.Version != "0" {
			t.Fatalf("bad envelope: %+v", env)
		}
		var d map[string]any
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestRequestDescribeExport(t *testing.T) {
	e := newEnv(t, 10)
	arn := e.request(t, "App.Internal", func(in *certmgr.RequestInput) {
		in.SANs = []string{"*.app.internal", "app.internal", "api.internal"}
		tv := "platform"
		in.Tags = []certmgr.Tag{{Key: "team", Value: &tv}}
	})
	if !strings.HasPrefix(arn, "arn:aws:acm:us-east-1:123456789012:certificate/") {
		t.Fatalf("ARN %s", arn)
	}
	d := e.describe(t, arn)
	x := e.leaf(t, arn)
	if d.Status != "ISSUED" || d.Type != "PRIVATE" || d.DomainName != "app.internal" || d.KeyAlgorithm != "EC_prime256v1" ||
		d.SignatureAlgorithm != "SHA256WITHECDSA" || d.CAARN != e.caARN || d.RenewalEligibility != "INELIGIBLE" ||
		d.ExportOption != "ENABLED" || d.Exported || d.KeyPairOrigin != "AWS_MANAGED" {
		t.Fatalf("detail: %+v", d)
	}
	if strings.Join(d.SANs, ",") != "app.internal,*.app.internal,api.internal" {
		t.Fatalf("SANs %v", d.SANs)
	}
	if got := x.NotAfter.Sub(x.NotBefore); got < 394*day || got > 396*day {
		t.Fatalf("validity %v, want 395 days", got)
	}
	if x.Subject.CommonName != "app.internal" || d.Subject != "CN=app.internal" || !strings.Contains(d.Issuer, "CN=Test Root") {
		t.Fatalf("subject %q issuer %q", d.Subject, d.Issuer)
	}
	if d.Serial != colon(x.SerialNumber) {
		t.Fatalf("serial %s, certificate %x", d.Serial, x.SerialNumber)
	}
	if strings.Join(d.KeyUsages, ",") != "DIGITAL_SIGNATURE" || len(d.ExtKeyUsages) != 2 ||
		d.ExtKeyUsages[0].Name != "TLS_WEB_SERVER_AUTHENTICATION" || d.ExtKeyUsages[1].OID != "1.3.6.1.5.5.7.3.2" {
		t.Fatalf("usages %v %v", d.KeyUsages, d.ExtKeyUsages)
	}

	// Passphrase rules.
	for _, bad := range []string{"", "abc", "with#hash", "dollar$", "per%cent", strings.Repeat("x", 129), "tab\there"} {
		_, err := e.svc.Export(ctx, admin, arn, []byte(bad))
		wantErr(t, err, errs.Invalid, "")
	}
	if e.describe(t, arn).Exported {
		t.Fatal("a refused export marked the certificate exported")
	}
	ex, err := e.svc.Export(ctx, admin, arn, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ex.PrivateKey, []byte("BEGIN ENCRYPTED PRIVATE KEY")) || !bytes.Equal(ex.Certificate, pki.EncodeCertificatesPEM(x.Raw)) {
		t.Fatalf("export: %s", ex.PrivateKey)
	}
	keyDER, err := pki.DecryptPKCS8PEM(ex.PrivateKey, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(x.PublicKey) {
		t.Fatal("exported key does not match the certificate")
	}
	if _, err := pki.DecryptPKCS8PEM(ex.PrivateKey, []byte("wrong horse")); err == nil {
		t.Fatal("a wrong passphrase decrypted the key")
	}
	d = e.describe(t, arn)
	if !d.Exported || d.RenewalEligibility != "ELIGIBLE" {
		t.Fatalf("after export: exported=%v eligibility=%s", d.Exported, d.RenewalEligibility)
	}
	tags, err := e.svc.ListTags(ctx, admin, arn)
	if err != nil || len(tags) != 1 || tags[0].Value != "platform" {
		t.Fatalf("tags %v %v", tags, err)
	}
}

func colon(n *big.Int) string {
	var parts []string
	for _, b := range n.Bytes() {
		parts = append(parts, strings.ToLower(strings.TrimPrefix(big.NewInt(int64(b)+256).Text(16), "1")))
	}
	return strings.Join(parts, ":")
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t, 10)
	for name, tc := range map[string]struct {
		mod  func(*certmgr.RequestInput)
		kind errs.Kind
		code errs.Code
	}{
		"no CA":          {func(in *certmgr.RequestInput) { in.CAARN = "" }, errs.Invalid, certmgr.CodeInvalidParameter},
		"bad CA ARN":     {func(in *certmgr.RequestInput) { in.CAARN = "arn:aws:acm-pca:us-east-1:1:nope" }, errs.Invalid, certmgr.CodeInvalidArn},
		"other region":   {func(in *certmgr.RequestInput) { in.CAARN = strings.Replace(e.caARN, "us-east-1", "eu-west-1", 1) }, errs.Invalid, certmgr.CodeInvalidArn},
		"bad domain":     {func(in *certmgr.RequestInput) { in.DomainName = "bad_domain!" }, errs.Invalid, certmgr.CodeInvalidParameter},
		"mid wildcard":   {func(in *certmgr.RequestInput) { in.DomainName = "a.*.example" }, errs.Invalid, certmgr.CodeInvalidParameter},
		"no domain":      {func(in *certmgr.RequestInput) { in.DomainName = "" }, errs.Invalid, ""},
		"bad SAN":        {func(in *certmgr.RequestInput) { in.SANs = []string{"ok.example", "-bad.example"} }, errs.Invalid, certmgr.CodeInvalidParameter},
		"key algorithm":  {func(in *certmgr.RequestInput) { in.KeyAlgorithm = "EC_secp521r1" }, errs.Invalid, ""},
		"token":          {func(in *certmgr.RequestInput) { in.IdempotencyToken = "has-dash" }, errs.Invalid, ""},
		"export option":  {func(in *certmgr.RequestInput) { in.ExportOption = "MAYBE" }, errs.Invalid, ""},
		"reserved tag":   {func(in *certmgr.RequestInput) { in.Tags = []certmgr.Tag{{Key: "aws:x"}} }, errs.Invalid, certmgr.CodeInvalidTag},
		"too many names": {func(in *certmgr.RequestInput) { in.SANs = manyNames(100) }, errs.Limit, ""},
		"too many tags":  {func(in *certmgr.RequestInput) { in.Tags = manyTags(51) }, errs.Invalid, certmgr.CodeTooManyTags},
	} {
		t.Run(name, func(t *testing.T) {
			in := certmgr.RequestInput{DomainName: "app.internal", CAARN: e.caARN}
			tc.mod(&in)
			_, err := e.svc.Request(ctx, admin, in)
			wantErr(t, err, tc.kind, tc.code)
		})
	}
	page, err := e.svc.Search(ctx, admin, certmgr.SearchInput{})
	if err != nil || len(page.Certificates) != 0 {
		t.Fatalf("refused requests left certificates behind: %v %v", page, err)
	}
}

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "n" + big.NewInt(int64(i)).String() + ".example"
	}
	return out
}

func manyTags(n int) []certmgr.Tag {
	out := make([]certmgr.Tag, n)
	for i := range out {
		out[i] = certmgr.Tag{Key: "k" + big.NewInt(int64(i)).String()}
	}
	return out
}

func TestValidityNeverOutlivesCA(t *testing.T) {
	e := newEnv(t, 1) // the CA lives 1 year, less than 395 days
	arn := e.request(t, "short.internal", nil)
	x := e.leaf(t, arn)
	if !x.NotAfter.Equal(e.root.NotAfter) {
		t.Fatalf("NotAfter %v, CA NotAfter %v", x.NotAfter, e.root.NotAfter)
	}
}

func TestRequestIdempotency(t *testing.T) {
	e := newEnv(t, 10)
	withToken := func(tok, domain string) func(*certmgr.RequestInput) {
		return func(in *certmgr.RequestInput) { in.IdempotencyToken, in.DomainName = tok, domain }
	}
	a := e.request(t, "", withToken("tok1", "a.internal"))
	if b := e.request(t, "", withToken("tok1", "a.internal")); b != a {
		t.Fatalf("same token gave %s then %s", a, b)
	}
	_, err := e.svc.Request(ctx, admin, certmgr.RequestInput{DomainName: "b.internal", CAARN: e.caARN, IdempotencyToken: "tok1"})
	wantErr(t, err, errs.Invalid, certmgr.CodeInvalidParameter)
	e.clk.Advance(61 * time.Minute)
	if c := e.request(t, "", withToken("tok1", "a.internal")); c == a {
		t.Fatal("the token still deduplicated after an hour")
	}
}

func TestCARefusalIsFailed(t *testing.T) {
	e := newEnv(t, 10)
	missing := strings.Replace(e.caARN, e.caARN[len(e.caARN)-36:], "00000000-0000-4000-8000-000000000000", 1)
	arn := e.request(t, "x.internal", func(in *certmgr.RequestInput) { in.CAARN = missing })
	d := e.describe(t, arn)
	if d.Status != "FAILED" || d.FailureReason != "PCA_RESOURCE_NOT_FOUND" {
		t.Fatalf("status %s reason %s", d.Status, d.FailureReason)
	}
	_, _, err := e.svc.Get(ctx, admin, arn)
	wantErr(t, err, errs.State, "")
	_, err = e.svc.Export(ctx, admin, arn, []byte("passphrase"))
	wantErr(t, err, errs.State, "")

	if err := e.pca.Update(ctx, admin, ca.UpdateInput{ARN: e.caARN, Status: ca.Disabled}); err != nil {
		t.Fatal(err)
	}
	arn = e.request(t, "y.internal", nil)
	if d := e.describe(t, arn); d.Status != "FAILED" || d.FailureReason != "PCA_INVALID_STATE" {
		t.Fatalf("disabled CA: status %s reason %s", d.Status, d.FailureReason)
	}
}

// exportedCert requests and exports a certificate (making it eligible).
func (e *env) exportedCert(t testing.TB, domain string) string {
	t.Helper()
	arn := e.request(t, domain, nil)
	if _, err := e.svc.Export(ctx, admin, arn, []byte("passphrase")); err != nil {
		t.Fatal(err)
	}
	return arn
}

func TestManagedRenewal(t *testing.T) {
	e := newEnv(t, 10)
	arn := e.exportedCert(t, "renew.internal")
	idle := e.request(t, "idle.internal", nil) // never exported: not eligible
	before := e.leaf(t, arn)
	idleBefore := e.leaf(t, idle)

	e.clk.Set(before.NotAfter.Add(-61 * day))
	if n, err := e.svc.RenewDue(ctx, nil); err != nil || n != 0 {
		t.Fatalf("61 days before expiry: renewed %d, %v", n, err)
	}
	e.clk.Set(before.NotAfter.Add(-59 * day))
	if n, err := e.svc.RenewDue(ctx, nil); err != nil || n != 1 {
		t.Fatalf("59 days before expiry: renewed %d, %v", n, err)
	}
	after := e.leaf(t, arn)
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 || after.PublicKey.(*ecdsa.PublicKey).Equal(before.PublicKey) {
		t.Fatal("renewal kept the serial or the key")
	}
	if !after.NotAfter.After(before.NotAfter) {
		t.Fatalf("renewed NotAfter %v is not later than %v", after.NotAfter, before.NotAfter)
	}
	d := e.describe(t, arn)
	if d.Renewal == nil || d.Renewal.Status != "SUCCESS" || !d.Renewal.UpdatedAt.Equal(e.clk.Now()) || d.Exported ||
		d.RenewalEligibility != "INELIGIBLE" || d.Status != "ISSUED" {
		t.Fatalf("after renewal: %+v %+v", d, d.Renewal)
	}
	if ev := e.eventsOf(t, arn, "ACM Certificate Available"); len(ev) != 1 || ev[0]["Action"] != "RENEWAL" ||
		ev[0]["CertificateType"] != "PRIVATE" || ev[0]["Exportable"] != true {
		t.Fatalf("available events: %v", ev)
	}
	if e.leaf(t, idle).SerialNumber.Cmp(idleBefore.SerialNumber) != 0 {
		t.Fatal("a certificate that was never exported was renewed")
	}
	// Nothing is due any more: a second run renews nothing.
	if n, err := e.svc.RenewDue(ctx, nil); err != nil || n != 0 {
		t.Fatalf("second run renewed %d, %v", n, err)
	}
	// The exported key is the new one.
	ex, err := e.svc.Export(ctx, admin, arn, []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := pki.DecryptPKCS8PEM(ex.PrivateKey, []byte("passphrase"))
	k, _ := x509.ParsePKCS8PrivateKey(der)
	if !k.(*ecdsa.PrivateKey).PublicKey.Equal(after.PublicKey) {
		t.Fatal("the exported key is not the renewed certificate's key")
	}
}

func TestRenewalFailureAndRetry(t *testing.T) {
	e := newEnv(t, 10)
	arn := e.exportedCert(t, "retry.internal")
	before := e.leaf(t, arn)
	if err := e.pca.Update(ctx, admin, ca.UpdateInput{ARN: e.caARN, Status: ca.Disabled}); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(before.NotAfter.Add(-59 * day))
	if n, err := e.svc.RenewDue(ctx, nil); err != nil || n != 0 {
		t.Fatalf("renewed %d, %v", n, err)
	}
	d := e.describe(t, arn)
	if d.Renewal == nil || d.Renewal.Status != "FAILED" || d.Renewal.Reason != "PCA_INVALID_STATE" || d.Status != "ISSUED" {
		t.Fatalf("after failed renewal: %+v", d.Renewal)
	}
	if ev := e.eventsOf(t, arn, "ACM Certificate Renewal Action Required"); len(ev) != 1 {
		t.Fatalf("action-required events: %v", ev)
	}
	if e.leaf(t, arn).SerialNumber.Cmp(before.SerialNumber) != 0 {
		t.Fatal("a failed renewal changed the certificate")
	}
	if err := e.pca.Update(ctx, admin, ca.UpdateInput{ARN: e.caARN, Status: ca.Active}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Hour)
	if n, _ := e.svc.RenewDue(ctx, nil); n != 0 {
		t.Fatal("retried before the retry time")
	}
	e.clk.Advance(2 * time.Hour)
	if n, err := e.svc.RenewDue(ctx, nil); err != nil || n != 1 {
		t.Fatalf("retry renewed %d, %v", n, err)
	}
	if d := e.describe(t, arn); d.Renewal.Status != "SUCCESS" || d.Renewal.Reason != "" {
		t.Fatalf("after retry: %+v", d.Renewal)
	}
}

// TestRenewalNeedsCAPermission: managed renewal acts as ACM's service
// principal, which a CA of the same account must have granted a
// permission to, as on AWS.
func TestRenewalNeedsCAPermission(t *testing.T) {
	e := newEnv(t, 10)
	arn := e.exportedCert(t, "permission.internal")
	before := e.leaf(t, arn)
	if err := e.pca.DeletePermission(ctx, admin, e.caARN, iam.ACMService, ""); err != nil {
		t.Fatal(err)
	}
	err := e.svc.Renew(ctx, admin, arn)
	if err != nil {
		t.Fatal(err) // the renewal is recorded as FAILED, not refused
	}
	d := e.describe(t, arn)
	if d.Renewal == nil || d.Renewal.Status != "FAILED" || d.Renewal.Reason != "PCA_ACCESS_DENIED" {
		t.Fatalf("renewal without a permission: %+v", d.Renewal)
	}
	if e.leaf(t, arn).SerialNumber.Cmp(before.SerialNumber) != 0 {
		t.Fatal("a refused renewal changed the certificate")
	}
	e.grantACM(t)
	if err := e.svc.Renew(ctx, admin, arn); err != nil {
		t.Fatal(err)
	}
	if d := e.describe(t, arn); d.Renewal.Status != "SUCCESS" || e.leaf(t, arn).SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Fatalf("renewal with the permission: %+v", d.Renewal)
	}
}

func TestRenewCertificateAPI(t *testing.T) {
	e := newEnv(t, 10)
	arn := e.request(t, "manual.internal", nil)
	err := e.svc.Renew(ctx, admin, arn)
	wantErr(t, err, errs.Invalid, "") // not exported: not eligible
	if _, err := e.svc.Export(ctx, admin, arn, []byte("passphrase")); err != nil {
		t.Fatal(err)
	}
	before := e.leaf(t, arn)
	if err := e.svc.Renew(ctx, admin, arn); err != nil {
		t.Fatal(err)
	}
	if e.leaf(t, arn).SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Fatal("RenewCertificate did not renew")
	}
	wantErr(t, e.svc.Renew(ctx, admin, "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000000"), errs.NotFound, "")
	wantErr(t, e.svc.Renew(ctx, admin, "arn:aws:acm:us-east-1:123456789012:cert/x"), errs.Invalid, certmgr.CodeInvalidArn)
}

func TestExpiryEventsOncePerDay(t *testing.T) {
	e := newEnv(t, 10)
	arn := e.request(t, "expiring.internal", nil)
	x := e.leaf(t, arn)
	send := func() int {
		t.Helper()
		n, err := e.svc.SendExpiryEvents(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.clk.Set(x.NotAfter.Add(-46 * day))
	if send() != 0 {
		t.Fatal("event sent 46 days before expiry (default DaysBeforeExpiry is 45)")
	}
	e.clk.Set(x.NotAfter.Add(-45 * day))
	if send() != 1 {
		t.Fatal("no event 45 days before expiry")
	}
	e.clk.Advance(time.Hour)
	if send() != 0 {
		t.Fatal("a second event the same day")
	}
	e.clk.Advance(23 * time.Hour)
	if send() != 1 {
		t.Fatal("no event the next day")
	}
	e.clk.Advance(3 * day) // the job did not run for three days
	if send() != 1 || send() != 0 {
		t.Fatal("missed days must give one event, not a burst")
	}
	ev := e.eventsOf(t, arn, "ACM Certificate Approaching Expiration")
	if len(ev) != 3 || ev[0]["DaysToExpiry"] != float64(45) || ev[1]["DaysToExpiry"] != float64(44) ||
		ev[2]["DaysToExpiry"] != float64(41) || ev[0]["CommonName"] != "expiring.internal" {
		t.Fatalf("events: %v", ev)
	}

	// A shorter window moves the next event: none until 10 days before.
	days := 10
	if err := e.svc.PutAccountConfiguration(ctx, admin, "tok", &days); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := e.svc.GetAccountConfiguration(ctx, admin); cfg.DaysBeforeExpiry != 10 {
		t.Fatalf("configuration %+v", cfg)
	}
	e.clk.Set(x.NotAfter.Add(-11 * day))
	if send() != 0 {
		t.Fatal("event before the new window")
	}
	e.clk.Set(x.NotAfter.Add(-10 * day))
	if send() != 1 {
		t.Fatal("no event at the new window")
	}
	zero := 0
	wantErr(t, e.svc.PutAccountConfiguration(ctx, admin, "tok", &zero), errs.Invalid, "")
	wantErr(t, e.svc.PutAccountConfiguration(ctx, admin, "", &days), errs.Invalid, "")

	// Past NotAfter: EXPIRED, one Expired event, no more approaching events.
	e.clk.Set(x.NotAfter.Add(time.Minute))
	if n, err := e.svc.ExpireDue(ctx, nil); err != nil || n != 1 {
		t.Fatalf("expired %d, %v", n, err)
	}
	if n, _ := e.svc.ExpireDue(ctx, nil); n != 0 {
		t.Fatal("expired twice")
	}
	if d := e.describe(t, arn); d.Status != "EXPIRED" || d.RenewalEligibility != "INELIGIBLE" {
		t.Fatalf("after expiry: %s %s", d.Status, d.RenewalEligibility)
	}
	if ev := e.eventsOf(t, arn, "ACM Certificate Expired"); len(ev) != 1 || ev[0]["CertificateType"] != "PRIVATE" {
		t.Fatalf("expired events: %v", ev)
	}
	e.clk.Advance(2 * day)
	if send() != 0 {
		t.Fatal("approaching-expiration event after expiry")
	}
}

// selfSigned makes a certificate and key for import.
func selfSigned(t testing.TB, cn string, nb, na time.Time) (certPEM, keyPEM []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return pki.EncodePEM("CERTIFICATE", der), pki.EncodePEM("PRIVATE KEY", kd), key
}

func TestImport(t *testing.T) {
	e := newEnv(t, 10)
	now := e.clk.Now()
	cert, key, _ := selfSigned(t, "imported.example", now.Add(-day), now.Add(100*day))
	arn, err := e.svc.Import(ctx, admin, certmgr.ImportInput{Certificate: cert, PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	d := e.describe(t, arn)
	if d.Type != "IMPORTED" || d.Status != "ISSUED" || d.DomainName != "imported.example" || d.ImportedAt.IsZero() ||
		d.KeyAlgorithm != "EC_prime256v1" || d.Serial != "2a" || d.RenewalEligibility != "INELIGIBLE" || d.KeyPairOrigin != "CUSTOMER_PROVIDED" {
		t.Fatalf("imported: %+v", d)
	}
	_, err = e.svc.Export(ctx, admin, arn, []byte("passphrase"))
	wantErr(t, err, errs.Invalid, "")
	wantErr(t, e.svc.Renew(ctx, admin, arn), errs.Invalid, "")

	other, otherKey, _ := selfSigned(t, "other.example", now.Add(-day), now.Add(50*day))
	expired, expiredKey, _ := selfSigned(t, "old.example", now.Add(-100*day), now.Add(-day))
	future, futureKey, _ := selfSigned(t, "future.example", now.Add(day), now.Add(100*day))
	edKey := mustOpenSSL(t, "genpkey", "-algorithm", "ed25519")
	for name, in := range map[string]certmgr.ImportInput{
		"mismatch":        {Certificate: cert, PrivateKey: otherKey},
		"expired":         {Certificate: expired, PrivateKey: expiredKey},
		"not yet valid":   {Certificate: future, PrivateKey: futureKey},
		"garbage cert":    {Certificate: []byte("hello"), PrivateKey: key},
		"garbage key":     {Certificate: cert, PrivateKey: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
		"two certs":       {Certificate: append(append([]byte{}, cert...), other...), PrivateKey: key},
		"unsupported key": {Certificate: cert, PrivateKey: edKey},
		"encrypted key":   {Certificate: cert, PrivateKey: mustEncrypt(t, key)},
		"bad chain":       {Certificate: cert, PrivateKey: key, Chain: other},
		"missing key":     {Certificate: cert},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Import(ctx, admin, in)
			wantErr(t, err, errs.Invalid, "")
		})
	}

	// Re-import onto the same ARN replaces certificate and key.
	if _, err := e.svc.Import(ctx, admin, certmgr.ImportInput{ARN: arn, Certificate: other, PrivateKey: otherKey}); err != nil {
		t.Fatal(err)
	}
	if d := e.describe(t, arn); d.DomainName != "other.example" {
		t.Fatalf("after re-import: %s", d.DomainName)
	}
	tv := "x"
	_, err = e.svc.Import(ctx, admin, certmgr.ImportInput{ARN: arn, Certificate: other, PrivateKey: otherKey, Tags: []certmgr.Tag{{Key: "k", Value: &tv}}})
	wantErr(t, err, errs.Invalid, certmgr.CodeInvalidParameter)
	private := e.request(t, "private.internal", nil)
	_, err = e.svc.Import(ctx, admin, certmgr.ImportInput{ARN: private, Certificate: other, PrivateKey: otherKey})
	wantErr(t, err, errs.Invalid, "")
	_, err = e.svc.Import(ctx, admin, certmgr.ImportInput{ARN: strings.Replace(arn, arn[len(arn)-12:], "000000000000", 1), Certificate: other, PrivateKey: otherKey})
	wantErr(t, err, errs.NotFound, "")

	// Imported certificates expire without an Expired event.
	e.clk.Set(now.Add(51 * day))
	if n, err := e.svc.ExpireDue(ctx, nil); err != nil || n != 1 {
		t.Fatalf("expired %d, %v", n, err)
	}
	if ev := e.eventsOf(t, arn, "ACM Certificate Expired"); len(ev) != 0 {
		t.Fatalf("expired event for an imported certificate: %v", ev)
	}
}

func TestKeysSealedToTheirCertificate(t *testing.T) {
	e := newEnv(t, 10)
	a := e.request(t, "a.internal", nil)
	b := e.request(t, "b.internal", nil)
	id := func(arn string) string { return arn[len(arn)-36:] }
	var ra, rb *store.ACMCertificate
	e.store.View(ctx, func(tx store.Tx) (err error) {
		if ra, err = tx.ACMCertificates().Get(ctx, id(a)); err != nil {
			return err
		}
		rb, err = tx.ACMCertificates().Get(ctx, id(b))
		return err
	})
	if bytes.Contains(ra.PrivateKey, []byte("PRIVATE KEY")) || len(ra.PrivateKey) < 100 {
		t.Fatal("the stored key looks unsealed")
	}
	// Move a's sealed key onto b: exporting b must fail, not hand out a's key.
	rb.PrivateKey = ra.PrivateKey
	if err := e.store.Update(ctx, func(tx store.Tx) error { return tx.ACMCertificates().Update(ctx, rb) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Export(ctx, admin, b, []byte("passphrase")); err == nil {
		t.Fatal("a key sealed for another certificate opened")
	}
}

func TestDeleteAndTags(t *testing.T) {
	e := newEnv(t, 10)
	arn := e.request(t, "del.internal", nil)
	if err := e.svc.SetInUse(ctx, admin, arn, []string{"arn:sigil:deploy:agent/web-1"}); err != nil {
		t.Fatal(err)
	}
	if d := e.describe(t, arn); len(d.InUseBy) != 1 || d.RenewalEligibility != "ELIGIBLE" {
		t.Fatalf("in use: %+v", d)
	}
	wantErr(t, e.svc.Delete(ctx, admin, arn), errs.Conflict, certmgr.CodeInUse)
	v1, v2 := "1", "2"
	if err := e.svc.AddTags(ctx, admin, arn, []certmgr.Tag{{Key: "a", Value: &v1}, {Key: "b", Value: &v2}}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveTags(ctx, admin, arn, []certmgr.Tag{{Key: "a", Value: &v2}, {Key: "b"}}); err != nil {
		t.Fatal(err)
	}
	if tags, _ := e.svc.ListTags(ctx, admin, arn); len(tags) != 1 || tags[0].Key != "a" {
		t.Fatalf("tags %v", tags)
	}
	wantErr(t, e.svc.AddTags(ctx, admin, arn, manyTags(50)), errs.Invalid, certmgr.CodeTooManyTags)
	if err := e.svc.SetInUse(ctx, admin, arn, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(ctx, admin, arn); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Describe(ctx, admin, arn)
	wantErr(t, err, errs.NotFound, "")
	wantErr(t, e.svc.Delete(ctx, admin, arn), errs.NotFound, "")
	if tags, err := e.svc.ListTags(ctx, admin, arn); err == nil {
		t.Fatalf("tags of a deleted certificate: %v", tags)
	}
	// Another account cannot see the certificate.
	other := iam.Principal{Account: "210987654321", ARN: "arn:aws:iam::210987654321:user/x", Admin: true}
	b := e.request(t, "b.internal", nil)
	_, err = e.svc.Describe(ctx, other, b)
	wantErr(t, err, errs.Denied, "AccessDenied")
}

func TestListAndSearch(t *testing.T) {
	e := newEnv(t, 10)
	var ec, rsa []string
	for i := 0; i < 7; i++ {
		ec = append(ec, e.request(t, "ec"+big.NewInt(int64(i)).String()+".svc.internal", nil))
		e.clk.Advance(time.Second)
	}
	for i := 0; i < 3; i++ {
		rsa = append(rsa, e.request(t, "rsa"+big.NewInt(int64(i)).String()+".web.internal", func(in *certmgr.RequestInput) {
			in.KeyAlgorithm = "RSA_2048"
		}))
		e.clk.Advance(time.Second)
	}
	list := func(in certmgr.ListInput) []string {
		t.Helper()
		var out []string
		for {
			page, err := e.svc.List(ctx, admin, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Certificates {
				out = append(out, c.ARN)
			}
			if page.NextToken == "" {
				return out
			}
			in.NextToken = page.NextToken
		}
	}
	if got := list(certmgr.ListInput{}); strings.Join(got, ",") != strings.Join(rsa, ",") {
		t.Fatalf("default listing (RSA_1024/RSA_2048 only, as on AWS): %v", got)
	}
	all := list(certmgr.ListInput{KeyTypes: []string{"EC_prime256v1", "RSA_2048"}, MaxItems: 3})
	if strings.Join(all, ",") != strings.Join(append(append([]string{}, ec...), rsa...), ",") {
		t.Fatalf("paged listing: %v", all)
	}
	desc := list(certmgr.ListInput{KeyTypes: []string{"EC_prime256v1"}, MaxItems: 2, SortBy: "CREATED_AT", SortOrder: "DESCENDING"})
	if len(desc) != 7 || desc[0] != ec[6] || desc[6] != ec[0] {
		t.Fatalf("descending: %v", desc)
	}
	if got := list(certmgr.ListInput{KeyTypes: []string{"EC_prime256v1"}, Statuses: []string{"EXPIRED"}}); len(got) != 0 {
		t.Fatalf("expired: %v", got)
	}
	if got := list(certmgr.ListInput{KeyTypes: []string{"RSA_2048"}, KeyUsages: []string{"KEY_ENCIPHERMENT"}}); len(got) != 3 {
		t.Fatalf("key usage filter: %v", got)
	}
	if got := list(certmgr.ListInput{KeyTypes: []string{"EC_prime256v1"}, ExtKeyUsages: []string{"CODE_SIGNING"}}); len(got) != 0 {
		t.Fatalf("EKU filter: %v", got)
	}
	for name, in := range map[string]certmgr.ListInput{
		"bad status":     {Statuses: []string{"NOPE"}},
		"sort alone":     {SortBy: "CREATED_AT"},
		"bad key type":   {KeyTypes: []string{"DSA"}},
		"bad token":      {NextToken: "garbage"},
		"other's token":  {NextToken: mustToken(t, e)},
		"max items 1001": {MaxItems: 1001},
	} {
		if _, err := e.svc.List(ctx, admin, in); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}

	search := func(f *certmgr.Filter, sortBy string) []string {
		t.Helper()
		in := certmgr.SearchInput{Filter: f, MaxResults: 2, SortBy: sortBy}
		var out []string
		for {
			page, err := e.svc.Search(ctx, admin, in)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range page.Certificates {
				if page.X509[i] == nil {
					t.Fatal("search result without its certificate")
				}
				out = append(out, c.ARN)
			}
			if page.NextToken == "" {
				return out
			}
			in.NextToken = page.NextToken
		}
	}
	m := func(field, op, v string) *certmgr.Filter {
		return &certmgr.Filter{Match: &certmgr.Match{Field: field, Op: op, Value: v}}
	}
	if got := search(m("DnsName", "CONTAINS", ".WEB."), ""); len(got) != 3 {
		t.Fatalf("DNS contains: %v", got)
	}
	if got := search(m("DnsName", "EQUALS", "ec3.svc.internal"), ""); len(got) != 1 || got[0] != ec[3] {
		t.Fatalf("DNS equals: %v", got)
	}
	if got := search(&certmgr.Filter{Not: m("KeyAlgorithm", "", "RSA_2048")}, ""); len(got) != 7 {
		t.Fatalf("not RSA: %v", got)
	}
	or := &certmgr.Filter{Or: []*certmgr.Filter{m("CommonName", "EQUALS", "ec1.svc.internal"), m("CertificateArn", "", rsa[2])}}
	if got := search(or, "COMMON_NAME"); len(got) != 2 || got[0] != ec[1] || got[1] != rsa[2] {
		t.Fatalf("or, by common name: %v", got)
	}
	x := e.leaf(t, ec[4])
	if got := search(m("SerialNumber", "", strings.ToUpper(x.SerialNumber.Text(16))), ""); len(got) != 1 || got[0] != ec[4] {
		t.Fatalf("serial: %v", got)
	}
	rng := &certmgr.Filter{Match: &certmgr.Match{Field: "NotAfter", Start: x.NotAfter, End: x.NotAfter}}
	if got := search(rng, ""); len(got) != 1 || got[0] != ec[4] {
		t.Fatalf("not-after range: %v", got)
	}
	if got := search(&certmgr.Filter{And: []*certmgr.Filter{m("Status", "", "ISSUED"), {Match: &certmgr.Match{Field: "Exported", Bool: false}}}}, "NOT_AFTER"); len(got) != 10 {
		t.Fatalf("and: %v", got)
	}
	deep := m("Status", "", "ISSUED")
	for i := 0; i < 12; i++ {
		deep = &certmgr.Filter{Not: deep}
	}
	for name, f := range map[string]*certmgr.Filter{
		"too deep":     deep,
		"bad enum":     m("Status", "", "NOPE"),
		"bad operator": m("DnsName", "STARTS_WITH", "x"),
		"two members":  {And: []*certmgr.Filter{}, Not: m("Status", "", "ISSUED")},
		"empty range":  {Match: &certmgr.Match{Field: "NotAfter"}},
	} {
		if _, err := e.svc.Search(ctx, admin, certmgr.SearchInput{Filter: f}); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// mustToken returns a valid token of a different listing.
func mustToken(t *testing.T, e *env) string {
	page, err := e.svc.Search(ctx, admin, certmgr.SearchInput{MaxResults: 1})
	if err != nil || page.NextToken == "" {
		t.Fatalf("search for a token: %v", err)
	}
	return page.NextToken
}

// mustOpenSSL runs openssl and returns its output. CI has openssl; a
// missing binary fails the test.
func mustOpenSSL(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("openssl", args...).Output()
	if err != nil {
		t.Fatalf("openssl %v: %v", args, err)
	}
	return out
}

// mustEncrypt encrypts a PEM PKCS#8 key under a passphrase.
func mustEncrypt(t testing.TB, keyPEM []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	out, err := pki.EncryptPKCS8PEM(block.Bytes, []byte("secret"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
