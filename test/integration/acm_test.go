package integration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// acmEnv is a dev server with an active EC root CA.
type acmEnv struct {
	env     *sigiltest.Env
	pca     *acmpca.Client
	acm     *acm.Client
	caARN   string
	rootPEM []byte
}

func newACMEnv(t *testing.T, mod ...func(*config.Config)) *acmEnv {
	t.Helper()
	env := sigiltest.Start(t, append([]func(*config.Config){func(c *config.Config) {
		c.Scheduler.JobInterval = 100 * time.Millisecond
	}}, mod...)...)
	pc := env.PCA()
	caARN := createCA(t, pc, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "ACM Test Root")
	root := activateRoot(t, pc, caARN, types.SigningAlgorithmSha256withecdsa, 10)
	// Managed renewal acts as ACM's service principal, which the CA must
	// grant a permission to (as on AWS).
	if _, err := pc.CreatePermission(ctx, &acmpca.CreatePermissionInput{CertificateAuthorityArn: &caARN, Principal: aws.String("acm.amazonaws.com"),
		Actions: []types.ActionType{types.ActionTypeIssueCertificate, types.ActionTypeGetCertificate, types.ActionTypeListPermissions}}); err != nil {
		t.Fatal(err)
	}
	return &acmEnv{env: env, pca: pc, acm: env.ACM(), caARN: caARN, rootPEM: root}
}

func (a *acmEnv) request(t *testing.T, domain string, mod func(*acm.RequestCertificateInput)) string {
	t.Helper()
	in := &acm.RequestCertificateInput{DomainName: aws.String(domain), CertificateAuthorityArn: aws.String(a.caARN),
		KeyAlgorithm: acmtypes.KeyAlgorithmEcPrime256v1}
	if mod != nil {
		mod(in)
	}
	out, err := a.acm.RequestCertificate(ctx, in)
	if err != nil {
		t.Fatalf("request %s: %v", domain, err)
	}
	return *out.CertificateArn
}

func (a *acmEnv) describe(t *testing.T, arn string) *acmtypes.CertificateDetail {
	t.Helper()
	out, err := a.acm.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	return out.Certificate
}

// check fetches a certificate, lints it and verifies it with openssl at the
// server's (possibly advanced) time.
func (a *acmEnv) check(t *testing.T, arn string, at time.Time) *x509.Certificate {
	t.Helper()
	out, err := a.acm.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sigiltest.LintPEM(t, []byte(*out.Certificate))
	if !bytes.Equal(bytes.TrimSpace([]byte(*out.CertificateChain)), bytes.TrimSpace(a.rootPEM)) {
		t.Fatalf("chain is not the root:\n%s", *out.CertificateChain)
	}
	sigiltest.OpenSSLVerifyAt(t, at, a.rootPEM, nil, []byte(*out.Certificate))
	return parse(t, []byte(*out.Certificate))
}

func (a *acmEnv) export(t *testing.T, arn, pass string) *acm.ExportCertificateOutput {
	t.Helper()
	out, err := a.acm.ExportCertificate(ctx, &acm.ExportCertificateInput{CertificateArn: aws.String(arn), Passphrase: []byte(pass)})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return out
}

// devNow reads the dev server's clock.
func devNow(t *testing.T, apiURL string) time.Time {
	t.Helper()
	resp, err := http.Get(apiURL + "/_sigil/dev/clock")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Now time.Time `json:"now"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Now
}

// advanceTo moves the dev clock to at (it only moves forward).
func advanceTo(t *testing.T, apiURL string, at time.Time) {
	t.Helper()
	if d := at.Sub(devNow(t, apiURL)); d > 0 {
		advance(t, apiURL, d.Round(time.Second).String())
	}
}

// acmEvents returns the outbox events of a detail type about arn.
func acmEvents(t *testing.T, apiURL, arn, detailType string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range sigiltest.Events(t, apiURL, "000000000000") {
		res, _ := e["resources"].([]any)
		if e["detail-type"] == detailType && len(res) == 1 && res[0] == arn {
			if e["source"] != "aws.acm" || e["region"] != "us-east-1" || e["id"] == "" {
				t.Fatalf("bad envelope %v", e)
			}
			out = append(out, e["detail"].(map[string]any))
		}
	}
	return out
}

func TestACMRequestExportWithSDK(t *testing.T) {
	a := newACMEnv(t)
	arn := a.request(t, "app.internal", func(in *acm.RequestCertificateInput) {
		in.SubjectAlternativeNames = []string{"app.internal", "*.app.internal", "api.internal"}
		in.Options = &acmtypes.CertificateOptions{Export: acmtypes.CertificateExportEnabled}
		in.Tags = []acmtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}
		in.IdempotencyToken = aws.String("req1")
	})
	if again := a.request(t, "app.internal", func(in *acm.RequestCertificateInput) {
		in.SubjectAlternativeNames = []string{"app.internal", "*.app.internal", "api.internal"}
		in.Options = &acmtypes.CertificateOptions{Export: acmtypes.CertificateExportEnabled}
		in.IdempotencyToken = aws.String("req1")
	}); again != arn {
		t.Fatalf("idempotency token: %s then %s", arn, again)
	}
	d := a.describe(t, arn)
	x := a.check(t, arn, time.Time{})
	if d.Status != acmtypes.CertificateStatusIssued || d.Type != acmtypes.CertificateTypePrivate ||
		*d.DomainName != "app.internal" || d.KeyAlgorithm != acmtypes.KeyAlgorithmEcPrime256v1 ||
		*d.SignatureAlgorithm != "SHA256WITHECDSA" || *d.CertificateAuthorityArn != a.caARN ||
		d.RenewalEligibility != acmtypes.RenewalEligibilityIneligible || d.Options.Export != acmtypes.CertificateExportEnabled ||
		len(d.SubjectAlternativeNames) != 3 || d.InUseBy == nil || len(d.InUseBy) != 0 || d.IssuedAt == nil || d.CreatedAt == nil {
		t.Fatalf("detail: %+v", d)
	}
	if got := d.NotAfter.Sub(*d.NotBefore); got < 394*24*time.Hour || got > 396*24*time.Hour {
		t.Fatalf("validity %v", got)
	}
	if !d.NotAfter.Equal(x.NotAfter) || len(d.KeyUsages) != 1 || d.KeyUsages[0].Name != acmtypes.KeyUsageNameDigitalSignature ||
		len(d.ExtendedKeyUsages) != 2 || *d.ExtendedKeyUsages[0].OID != "1.3.6.1.5.5.7.3.1" {
		t.Fatalf("detail/X.509 mismatch: %+v", d)
	}

	// Export: the key opens with the passphrase in openssl and matches.
	ex := a.export(t, arn, "Tr0ub4dor&3")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	certFile := filepath.Join(dir, "cert.pem")
	os.WriteFile(keyFile, []byte(*ex.PrivateKey), 0o600)
	os.WriteFile(certFile, []byte(*ex.Certificate), 0o600)
	certPub := sigiltest.OpenSSL(t, "x509", "-in", certFile, "-noout", "-pubkey")
	keyPub := sigiltest.OpenSSL(t, "pkey", "-in", keyFile, "-passin", "pass:Tr0ub4dor&3", "-pubout")
	if certPub != keyPub || !strings.Contains(certPub, "BEGIN PUBLIC KEY") {
		t.Fatalf("exported key does not match:\n%s\n%s", certPub, keyPub)
	}
	if !strings.Contains(*ex.PrivateKey, "BEGIN ENCRYPTED PRIVATE KEY") || *ex.CertificateChain == "" {
		t.Fatal("export is not an encrypted PKCS#8 key with a chain")
	}
	if d := a.describe(t, arn); d.RenewalEligibility != acmtypes.RenewalEligibilityEligible {
		t.Fatalf("after export: %s", d.RenewalEligibility)
	}
	for _, bad := range []string{"abc", "has#hash", "dollar$", "50%", strings.Repeat("p", 129)} {
		_, err := a.acm.ExportCertificate(ctx, &acm.ExportCertificateInput{CertificateArn: aws.String(arn), Passphrase: []byte(bad)})
		wantCode(t, err, "ValidationException")
	}

	// Listing (AWS lists only RSA_1024/RSA_2048 unless asked), searching,
	// tags.
	rsa := a.request(t, "rsa.internal", func(in *acm.RequestCertificateInput) { in.KeyAlgorithm = acmtypes.KeyAlgorithmRsa2048 })
	out, err := a.acm.ListCertificates(ctx, &acm.ListCertificatesInput{})
	if err != nil || len(out.CertificateSummaryList) != 1 || *out.CertificateSummaryList[0].CertificateArn != rsa {
		t.Fatalf("default listing: %+v %v", out, err)
	}
	var listed []string
	pager := acm.NewListCertificatesPaginator(a.acm, &acm.ListCertificatesInput{MaxItems: aws.Int32(1),
		Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{acmtypes.KeyAlgorithmEcPrime256v1, acmtypes.KeyAlgorithmRsa2048}}})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.CertificateSummaryList {
			listed = append(listed, *s.CertificateArn)
			if s.Status != acmtypes.CertificateStatusIssued || s.NotAfter == nil || s.Exported == nil {
				t.Fatalf("summary: %+v", s)
			}
		}
	}
	if strings.Join(listed, ",") != arn+","+rsa {
		t.Fatalf("paged listing: %v", listed)
	}
	search, err := a.acm.SearchCertificates(ctx, &acm.SearchCertificatesInput{
		FilterStatement: &acmtypes.CertificateFilterStatementMemberAnd{Value: []acmtypes.CertificateFilterStatement{
			&acmtypes.CertificateFilterStatementMemberFilter{Value: &acmtypes.CertificateFilterMemberX509AttributeFilter{
				Value: &acmtypes.X509AttributeFilterMemberSubjectAlternativeName{Value: &acmtypes.SubjectAlternativeNameFilterMemberDnsName{
					Value: acmtypes.DnsNameFilter{ComparisonOperator: acmtypes.ComparisonOperatorContains, Value: aws.String("app.")}}}}},
			&acmtypes.CertificateFilterStatementMemberNot{Value: &acmtypes.CertificateFilterStatementMemberFilter{
				Value: &acmtypes.CertificateFilterMemberAcmCertificateMetadataFilter{Value: &acmtypes.AcmCertificateMetadataFilterMemberExported{Value: false}}}},
		}},
	})
	if err != nil || len(search.Results) != 1 || *search.Results[0].CertificateArn != arn {
		t.Fatalf("search: %+v %v", search, err)
	}
	r := search.Results[0]
	meta, ok := r.CertificateMetadata.(*acmtypes.CertificateMetadataMemberAcmCertificateMetadata)
	if !ok || meta.Value.Status != acmtypes.CertificateStatusIssued || !*meta.Value.Exported || r.X509Attributes == nil ||
		*r.X509Attributes.Subject.CommonName != "app.internal" || len(r.X509Attributes.SubjectAlternativeNames) != 3 {
		t.Fatalf("search result: %+v", r)
	}
	if _, err := a.acm.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: aws.String(arn),
		Tags: []acmtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.acm.RemoveTagsFromCertificate(ctx, &acm.RemoveTagsFromCertificateInput{CertificateArn: aws.String(arn),
		Tags: []acmtypes.Tag{{Key: aws.String("team")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := a.acm.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "env" || *tags.Tags[0].Value != "prod" {
		t.Fatalf("tags: %+v %v", tags, err)
	}

	// Delete.
	if _, err := a.acm.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: aws.String(rsa)}); err != nil {
		t.Fatal(err)
	}
	_, err = a.acm.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(rsa)})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestACMErrorsWithSDK(t *testing.T) {
	a := newACMEnv(t)
	missing := "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-4000-8000-000000000000"
	for name, tc := range map[string]struct {
		call func() error
		code string
	}{
		"describe bad ARN": {func() error {
			_, err := a.acm.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String("arn:aws:acm:us-east-1:000000000000:cert/x")})
			return err
		}, "InvalidArnException"},
		"describe missing": {func() error {
			_, err := a.acm.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(missing)})
			return err
		}, "ResourceNotFoundException"},
		"request bad domain": {func() error {
			_, err := a.acm.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("bad domain"), CertificateAuthorityArn: aws.String(a.caARN)})
			return err
		}, "InvalidParameterException"},
		"request without CA": {func() error {
			_, err := a.acm.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("public.example.com")})
			return err
		}, "InvalidParameterException"},
		"request bad CA ARN": {func() error {
			_, err := a.acm.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("a.internal"), CertificateAuthorityArn: aws.String("arn:aws:acm-pca:us-east-1:000000000000:nope")})
			return err
		}, "InvalidArnException"},
		"request bad tag": {func() error {
			_, err := a.acm.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("a.internal"), CertificateAuthorityArn: aws.String(a.caARN),
				Tags: []acmtypes.Tag{{Key: aws.String("aws:reserved")}}})
			return err
		}, "InvalidTagException"},
		"list sort alone": {func() error {
			_, err := a.acm.ListCertificates(ctx, &acm.ListCertificatesInput{SortBy: acmtypes.SortByCreatedAt})
			return err
		}, "InvalidArgsException"},
		"list bad token": {func() error {
			_, err := a.acm.ListCertificates(ctx, &acm.ListCertificatesInput{NextToken: aws.String("bogus")})
			return err
		}, "InvalidArgsException"},
		"export missing": {func() error {
			_, err := a.acm.ExportCertificate(ctx, &acm.ExportCertificateInput{CertificateArn: aws.String(missing), Passphrase: []byte("passphrase")})
			return err
		}, "ResourceNotFoundException"},
		"renew missing": {func() error {
			_, err := a.acm.RenewCertificate(ctx, &acm.RenewCertificateInput{CertificateArn: aws.String(missing)})
			return err
		}, "ResourceNotFoundException"},
		"put config bad token": {func() error {
			_, err := a.acm.PutAccountConfiguration(ctx, &acm.PutAccountConfigurationInput{IdempotencyToken: aws.String("not-a-word!"),
				ExpiryEvents: &acmtypes.ExpiryEventsConfiguration{DaysBeforeExpiry: aws.Int32(10)}})
			return err
		}, "ValidationException"},
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}

	// A refusal by the CA is a FAILED certificate with PCA's reason, as on AWS.
	if _, err := a.pca.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{
		CertificateAuthorityArn: aws.String(a.caARN), Status: types.CertificateAuthorityStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	arn := a.request(t, "refused.internal", nil)
	if d := a.describe(t, arn); d.Status != acmtypes.CertificateStatusFailed || d.FailureReason != acmtypes.FailureReasonPcaInvalidState {
		t.Fatalf("refused: %s %s", d.Status, d.FailureReason)
	}
}

// selfSignedPEM makes a certificate and its PKCS#8 key for import.
func selfSignedPEM(t *testing.T, cn string, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return pki.EncodePEM("CERTIFICATE", der), pki.EncodePEM("PRIVATE KEY", kd)
}

func TestACMImportWithSDK(t *testing.T) {
	a := newACMEnv(t)
	cert, key := selfSignedPEM(t, "imported.example", time.Now().Add(90*24*time.Hour))
	out, err := a.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: cert, PrivateKey: key,
		Tags: []acmtypes.Tag{{Key: aws.String("source"), Value: aws.String("vendor")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := *out.CertificateArn
	d := a.describe(t, arn)
	if d.Type != acmtypes.CertificateTypeImported || d.ImportedAt == nil || *d.DomainName != "imported.example" {
		t.Fatalf("imported: %+v", d)
	}
	_, err = a.acm.ExportCertificate(ctx, &acm.ExportCertificateInput{CertificateArn: aws.String(arn), Passphrase: []byte("passphrase")})
	wantCode(t, err, "ValidationException")

	cert2, key2 := selfSignedPEM(t, "imported2.example", time.Now().Add(200*24*time.Hour))
	expired, expiredKey := selfSignedPEM(t, "old.example", time.Now().Add(-time.Minute))
	for name, in := range map[string]*acm.ImportCertificateInput{
		"mismatch": {Certificate: cert, PrivateKey: key2},
		"expired":  {Certificate: expired, PrivateKey: expiredKey},
		"garbage":  {Certificate: []byte("not a certificate"), PrivateKey: key},
	} {
		_, err := a.acm.ImportCertificate(ctx, in)
		if err == nil {
			t.Fatalf("%s: imported", name)
		}
		wantCode(t, err, "ValidationException")
	}
	// Re-import onto the same ARN.
	re, err := a.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: aws.String(arn), Certificate: cert2, PrivateKey: key2})
	if err != nil || *re.CertificateArn != arn {
		t.Fatalf("re-import: %v", err)
	}
	got, err := a.acm.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil || !bytes.Equal(bytes.TrimSpace([]byte(*got.Certificate)), bytes.TrimSpace(cert2)) {
		t.Fatalf("after re-import: %v", err)
	}
}

// TestACMRenewalAndExpiryEvents drives managed renewal and expiry events
// with the dev clock: the scheduler (job interval 100ms) does the work.
func TestACMRenewalAndExpiryEvents(t *testing.T) {
	a := newACMEnv(t)
	arn := a.request(t, "renew.internal", nil)
	a.export(t, arn, "passphrase") // exported: eligible for managed renewal
	before := a.check(t, arn, time.Time{})

	// 61 days before expiry: nothing happens.
	advanceTo(t, a.env.URL, before.NotAfter.Add(-61*24*time.Hour))
	time.Sleep(500 * time.Millisecond)
	if d := a.describe(t, arn); d.RenewalSummary != nil || *d.Serial != colonSerial(before) {
		t.Fatalf("renewed 61 days before expiry: %+v", d.RenewalSummary)
	}
	// 59 days before expiry: renewed on the same ARN with a new key.
	advanceTo(t, a.env.URL, before.NotAfter.Add(-59*24*time.Hour))
	waitUntil(t, "managed renewal", 10*time.Second, func() bool {
		d := a.describe(t, arn)
		return d.RenewalSummary != nil && d.RenewalSummary.RenewalStatus == acmtypes.RenewalStatusSuccess
	})
	after := a.check(t, arn, devNow(t, a.env.URL))
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 || after.PublicKey.(*ecdsa.PublicKey).Equal(before.PublicKey) {
		t.Fatal("renewal kept the serial or the key")
	}
	if ev := acmEvents(t, a.env.URL, arn, "ACM Certificate Available"); len(ev) != 1 || ev[0]["Action"] != "RENEWAL" {
		t.Fatalf("available events: %v", ev)
	}
	if d := a.describe(t, arn); d.RenewalEligibility != acmtypes.RenewalEligibilityIneligible || *d.Serial != colonSerial(after) {
		t.Fatalf("after renewal: %+v", d)
	}

	// Expiry events: one per certificate per day from 45 days before.
	advanceTo(t, a.env.URL, after.NotAfter.Add(-45*24*time.Hour+time.Minute))
	waitUntil(t, "first expiry event", 10*time.Second, func() bool {
		return len(acmEvents(t, a.env.URL, arn, "ACM Certificate Approaching Expiration")) == 1
	})
	advance(t, a.env.URL, "2h")
	time.Sleep(time.Second) // ten job runs: still one event today
	if ev := acmEvents(t, a.env.URL, arn, "ACM Certificate Approaching Expiration"); len(ev) != 1 || ev[0]["DaysToExpiry"] != float64(44) {
		t.Fatalf("events the first day: %v", ev)
	}
	advance(t, a.env.URL, "24h")
	waitUntil(t, "second expiry event", 10*time.Second, func() bool {
		return len(acmEvents(t, a.env.URL, arn, "ACM Certificate Approaching Expiration")) == 2
	})
	// Past NotAfter: EXPIRED and one Expired event.
	advanceTo(t, a.env.URL, after.NotAfter.Add(time.Minute))
	waitUntil(t, "expiry", 10*time.Second, func() bool {
		return a.describe(t, arn).Status == acmtypes.CertificateStatusExpired &&
			len(acmEvents(t, a.env.URL, arn, "ACM Certificate Expired")) == 1
	})
}

func colonSerial(c *x509.Certificate) string {
	b := c.SerialNumber.Bytes()
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = strings.ToLower(string("0123456789abcdef"[v>>4]) + string("0123456789abcdef"[v&15]))
	}
	return strings.Join(parts, ":")
}

// TestACMKeysNotInDatabaseFile scans the SQLite database (and its WAL) for
// the private keys Sigil holds: they must be sealed, never in the clear.
func TestACMKeysNotInDatabaseFile(t *testing.T) {
	a := newACMEnv(t, func(c *config.Config) { c.Store = "" }) // the embedded database, whatever engine CI selects
	var keys [][]byte
	for i := 0; i < 3; i++ {
		arn := a.request(t, "secret"+string(rune('a'+i))+".internal", nil)
		ex := a.export(t, arn, "Pass-9f3c2a71")
		der, err := pki.DecryptPKCS8PEM([]byte(*ex.PrivateKey), []byte("Pass-9f3c2a71"))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, der)
	}
	cert, keyPEM := selfSignedPEM(t, "imported.example", time.Now().Add(24*time.Hour))
	if _, err := a.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: cert, PrivateKey: keyPEM}); err != nil {
		t.Fatal(err)
	}
	block, _ := pemDecode(keyPEM)
	keys = append(keys, block)
	var db []byte
	files, _ := filepath.Glob(filepath.Join(a.env.DataDir, "sigil.db*"))
	if len(files) == 0 {
		t.Fatal("no database file in the data directory")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	for i, k := range keys {
		// The whole PKCS#8 structure, or just the private scalar, anywhere.
		pk, err := x509.ParsePKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		scalar, err := pk.(*ecdsa.PrivateKey).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(db, k) || bytes.Contains(db, scalar) {
			t.Fatalf("private key %d found in the database files", i)
		}
	}
	// (The audit trail records that ExportCertificate had a "passphrase"
	// field, with its value hidden: look for the value.)
	for _, marker := range []string{"PRIVATE KEY-----", "Pass-9f3c2a71"} {
		if bytes.Contains(db, []byte(marker)) {
			t.Fatalf("%q found in the database files", marker)
		}
	}
}
