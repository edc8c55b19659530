package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/pki"
)

// memObjects is an in-memory object store; block, when set, holds Create
// until it is closed.
type memObjects struct {
	mu    sync.Mutex
	m     map[string][]byte
	block chan struct{}
}

func newMemObjects() *memObjects { return &memObjects{m: map[string][]byte{}} }

func (o *memObjects) Put(_ context.Context, bucket, key string, data []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[bucket+"/"+key] = bytes.Clone(data)
	return nil
}

func (o *memObjects) Create(ctx context.Context, bucket, key string) (ca.ObjectWriter, error) {
	if o.block != nil {
		select {
		case <-o.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &memWriter{o: o, key: bucket + "/" + key}, nil
}

func (o *memObjects) get(key string) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[key]
}

type memWriter struct {
	o   *memObjects
	key string
	buf bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *memWriter) Commit() error {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	w.o.m[w.key] = bytes.Clone(w.buf.Bytes())
	return nil
}
func (w *memWriter) Abort() {}

const publicURL = "http://pki.test:8080"

type revEnv struct {
	*env
	objs *memObjects
}

func newRevEnv(t testing.TB, mod func(*ca.Options)) *revEnv {
	objs := newMemObjects()
	e := newEnvWith(t, func(o *ca.Options) {
		o.Revocation.PublicURL = publicURL
		o.Objects = objs
		if mod != nil {
			mod(o)
		}
	})
	return &revEnv{env: e, objs: objs}
}

func caID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// revokedRoot makes an active root with the given revocation configuration.
func (e *revEnv) root(t testing.TB, rev *ca.RevocationConfig) (string, *x509.Certificate) {
	t.Helper()
	arn := e.create(t, ca.Root, "Revocation Root", pki.ECP256, pki.SHA256WithECDSA)
	cert := e.activateRoot(t, arn, pki.SHA256WithECDSA, 10)
	if rev != nil {
		if err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: arn, Revocation: rev}); err != nil {
			t.Fatal(err)
		}
	}
	return arn, cert
}

func (e *revEnv) crl(t *testing.T, arn string, partition int64) *x509.RevocationList {
	t.Helper()
	f, err := e.svc.CRL(ctx, caID(arn), partition)
	if err != nil {
		t.Fatalf("CRL %d: %v", partition, err)
	}
	crl, err := x509.ParseRevocationList(f.DER)
	if err != nil {
		t.Fatal(err)
	}
	if findings, err := e.lint.LintCRL(f.DER); err != nil || len(findings) > 0 {
		t.Fatalf("CRL is not lint-clean: %v %v", findings, err)
	}
	return crl
}

func (e *revEnv) refresh(t *testing.T) int {
	t.Helper()
	n, err := e.svc.RefreshCRLs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func serialsOf(crl *x509.RevocationList) []string {
	var out []string
	for _, r := range crl.RevokedCertificateEntries {
		out = append(out, pki.SerialHex(r.SerialNumber))
	}
	return out
}

var enabled = true

func TestRevokeCompleteCRL(t *testing.T) {
	e := newRevEnv(t, nil)
	days := 3
	root, rootCert := e.root(t, &ca.RevocationConfig{
		CRL:  &ca.CRLConfig{Enabled: true, ExpirationInDays: &days, S3BucketName: "crl-bucket"},
		OCSP: &ca.OCSPConfig{Enabled: true},
	})
	id := caID(root)
	var leaves []*x509.Certificate
	for i := range 3 {
		leaves = append(leaves, e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, fmt.Sprintf("svc%d.example.internal", i)),
			TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1"}))
	}
	l := leaves[0]
	if len(l.CRLDistributionPoints) != 1 || l.CRLDistributionPoints[0] != publicURL+"/crl/"+id+".crl" {
		t.Fatalf("CDP %v", l.CRLDistributionPoints)
	}
	if len(l.OCSPServer) != 1 || l.OCSPServer[0] != publicURL+"/ocsp" ||
		len(l.IssuingCertificateURL) != 1 || l.IssuingCertificateURL[0] != publicURL+"/ca/"+id+".crt" {
		t.Fatalf("AIA ocsp=%v issuers=%v", l.OCSPServer, l.IssuingCertificateURL)
	}

	// The CRL exists (empty) once the job ran after the configuration.
	if n := e.refresh(t); n != 1 {
		t.Fatalf("%d CRLs signed, want the complete one", n)
	}
	first := e.crl(t, root, 0)
	if len(first.RevokedCertificateEntries) != 0 || first.CheckSignatureFrom(rootCert) != nil {
		t.Fatalf("first CRL: %d entries", len(first.RevokedCertificateEntries))
	}

	serial := pki.SerialHex(l.SerialNumber)
	colon := strings.TrimLeft(fmt.Sprintf("% x", l.SerialNumber.Bytes()), " ")
	colon = strings.ReplaceAll(colon, " ", ":")
	if err := e.svc.Revoke(ctx, admin, root, colon, "KEY_COMPROMISE"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.Revoke(ctx, admin, root, serial, "SUPERSEDED"), errs.Conflict, ca.CodeAlreadyProcessed)
	wantErr(t, e.svc.Revoke(ctx, admin, root, "0123abcd", "SUPERSEDED"), errs.NotFound, "")
	wantErr(t, e.svc.Revoke(ctx, admin, root, pki.SerialHex(leaves[1].SerialNumber), "BORED"), errs.Invalid, "")
	wantErr(t, e.svc.Revoke(ctx, admin, root, "zz-top", "SUPERSEDED"), errs.Invalid, ca.CodeInvalidArgs)
	wantErr(t, e.svc.Revoke(ctx, admin, root, pki.SerialHex(rootCert.SerialNumber), "SUPERSEDED"), errs.Invalid, ca.CodeInvalidRequest)
	wantErr(t, e.svc.Revoke(ctx, admin, root, serial, ""), errs.Invalid, "")

	e.clk.Advance(time.Second)
	if n := e.refresh(t); n != 1 {
		t.Fatalf("%d CRLs signed after a revocation", n)
	}
	crl := e.crl(t, root, 0)
	if got := serialsOf(crl); len(got) != 1 || got[0] != serial {
		t.Fatalf("CRL lists %v, want %s", got, serial)
	}
	entry := crl.RevokedCertificateEntries[0]
	if entry.ReasonCode != 1 || !entry.RevocationTime.Equal(e.clk.Now().Add(-time.Second).Truncate(time.Second)) {
		t.Fatalf("entry reason %d at %v", entry.ReasonCode, entry.RevocationTime)
	}
	if crl.Number.Cmp(first.Number) <= 0 || !crl.NextUpdate.Equal(crl.ThisUpdate.Add(3*24*time.Hour)) ||
		!bytes.Equal(crl.AuthorityKeyId, rootCert.SubjectKeyId) {
		t.Fatalf("CRL number %v (first %v), this %v next %v", crl.Number, first.Number, crl.ThisUpdate, crl.NextUpdate)
	}
	for _, ext := range crl.Extensions {
		if ext.Id.Equal(pki.OIDExtIssuingDP) {
			t.Fatal("the complete CRL carries an issuing distribution point")
		}
	}
	// The same bytes were published to the bucket.
	f, _ := e.svc.CRL(ctx, id, 0)
	if got := e.objs.get("crl-bucket/crl/" + id + ".crl"); !bytes.Equal(got, f.DER) {
		t.Fatalf("bucket holds %d bytes, served CRL %d", len(got), len(f.DER))
	}

	// Nothing due: nothing signed. Halfway to nextUpdate: regenerated
	// without any revocation.
	if n := e.refresh(t); n != 0 {
		t.Fatalf("%d CRLs signed with nothing due", n)
	}
	e.clk.Advance(36*time.Hour + time.Minute)
	if n := e.refresh(t); n != 1 {
		t.Fatalf("%d CRLs signed halfway to nextUpdate", n)
	}
	if again := e.crl(t, root, 0); again.Number.Cmp(crl.Number) <= 0 || len(again.RevokedCertificateEntries) != 1 {
		t.Fatalf("refreshed CRL number %v entries %d", again.Number, len(again.RevokedCertificateEntries))
	}
	// Once the revoked certificate has expired (30 days) and a CRL
	// lifetime has passed, it leaves the CRL.
	e.clk.Advance(34 * 24 * time.Hour)
	e.refresh(t)
	if late := e.crl(t, root, 0); len(late.RevokedCertificateEntries) != 0 {
		t.Fatalf("an expired certificate is still listed: %v", serialsOf(late))
	}
	// An expired certificate cannot be revoked.
	wantErr(t, e.svc.Revoke(ctx, admin, root, pki.SerialHex(leaves[2].SerialNumber), "SUPERSEDED"), errs.Invalid, ca.CodeInvalidRequest)
}

func TestRevocationConfigurationChoices(t *testing.T) {
	e := newRevEnv(t, nil)
	root, _ := e.root(t, &ca.RevocationConfig{
		CRL:  &ca.CRLConfig{Enabled: true, CustomCname: "crl.example.com", CustomPath: "pki/crls"},
		OCSP: &ca.OCSPConfig{Enabled: true, OcspCustomCname: "ocsp.example.com"},
	})
	id := caID(root)
	l := e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "a.example.internal"), TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1"})
	if fmt.Sprint(l.CRLDistributionPoints) != "[http://crl.example.com/pki/crls/"+id+".crl]" ||
		fmt.Sprint(l.OCSPServer) != "[http://ocsp.example.com]" || fmt.Sprint(l.IssuingCertificateURL) != "[http://crl.example.com/ca/"+id+".crt]" {
		t.Fatalf("CDP %v OCSP %v issuers %v", l.CRLDistributionPoints, l.OCSPServer, l.IssuingCertificateURL)
	}
	// OmitExtension: no CDP, but the CRL is still published.
	if err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: root, Revocation: &ca.RevocationConfig{
		CRL: &ca.CRLConfig{Enabled: true, OmitExtension: &enabled}, OCSP: &ca.OCSPConfig{Enabled: false}}}); err != nil {
		t.Fatal(err)
	}
	l = e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "b.example.internal"), TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1"})
	if len(l.CRLDistributionPoints) != 0 || len(l.OCSPServer) != 0 || fmt.Sprint(l.IssuingCertificateURL) != "[http://pki.test:8080/ca/"+id+".crt]" {
		t.Fatalf("omitted: CDP %v OCSP %v issuers %v", l.CRLDistributionPoints, l.OCSPServer, l.IssuingCertificateURL)
	}
	e.refresh(t)
	e.crl(t, root, 0)
	// Everything disabled: no revocation extensions at all.
	if err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: root, Revocation: &ca.RevocationConfig{
		CRL: &ca.CRLConfig{Enabled: false}, OCSP: &ca.OCSPConfig{Enabled: false}}}); err != nil {
		t.Fatal(err)
	}
	l = e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "c.example.internal"), TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1"})
	if len(l.CRLDistributionPoints) != 0 || len(l.OCSPServer) != 0 || len(l.IssuingCertificateURL) != 0 {
		t.Fatalf("disabled: CDP %v OCSP %v issuers %v", l.CRLDistributionPoints, l.OCSPServer, l.IssuingCertificateURL)
	}
	// A disabled configuration puts the row to sleep: nothing is signed.
	if n := e.refresh(t); n != 0 {
		t.Fatalf("%d CRLs signed for a CA with CRLs disabled", n)
	}
}

func TestPartitionedCRLs(t *testing.T) {
	e := newRevEnv(t, func(o *ca.Options) { o.Revocation.PartitionSize = 3 })
	root, _ := e.root(t, &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true, CrlType: "PARTITIONED"}})
	id := caID(root)
	byPartition := map[int][]*x509.Certificate{}
	for i := range 7 {
		c := e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, fmt.Sprintf("p%d.example.internal", i)),
			TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1"})
		var p int
		if _, err := fmt.Sscanf(c.CRLDistributionPoints[0], publicURL+"/crl/"+id+"-%d.crl", &p); err != nil {
			t.Fatalf("CDP %v: %v", c.CRLDistributionPoints, err)
		}
		byPartition[p] = append(byPartition[p], c)
	}
	if len(byPartition[1]) != 3 || len(byPartition[2]) != 3 || len(byPartition[3]) != 1 {
		t.Fatalf("partition sizes %d/%d/%d, want 3/3/1", len(byPartition[1]), len(byPartition[2]), len(byPartition[3]))
	}
	revoked := map[int]string{1: pki.SerialHex(byPartition[1][1].SerialNumber), 2: pki.SerialHex(byPartition[2][0].SerialNumber)}
	for _, s := range revoked {
		if err := e.svc.Revoke(ctx, admin, root, s, "SUPERSEDED"); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.refresh(t); n != 3 {
		t.Fatalf("%d CRLs signed, want 3 partitions", n)
	}
	for p := 1; p <= 3; p++ {
		crl := e.crl(t, root, int64(p))
		got := serialsOf(crl)
		if want := revoked[p]; (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
			t.Fatalf("partition %d lists %v, want [%s]", p, got, want)
		}
		// The IDP names exactly the URL the partition's certificates carry.
		var idp []byte
		for _, ext := range crl.Extensions {
			if ext.Id.Equal(pki.OIDExtIssuingDP) {
				if !ext.Critical {
					t.Fatal("the IDP must be critical")
				}
				idp = ext.Value
			}
		}
		if idp == nil || !bytes.Contains(idp, []byte(byPartition[p][0].CRLDistributionPoints[0])) {
			t.Fatalf("partition %d IDP %x does not name %s", p, idp, byPartition[p][0].CRLDistributionPoints[0])
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(idp, &seq); err != nil {
			t.Fatalf("IDP does not parse: %v", err)
		}
	}
	if _, err := e.svc.CRL(ctx, id, 0); err == nil {
		t.Fatal("a partitioned CA published a complete CRL")
	}
}

func TestCACertificateRevokedByParent(t *testing.T) {
	e := newRevEnv(t, nil)
	root, rootCert := e.root(t, &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true}, OCSP: &ca.OCSPConfig{Enabled: true}})
	sub := e.create(t, ca.Subordinate, "Sub", pki.ECP256, pki.SHA256WithECDSA)
	subCert := e.activateSub(t, root, sub, "SubordinateCACertificate_PathLen0/V1", 5)
	if len(subCert.CRLDistributionPoints) != 1 || len(subCert.OCSPServer) != 1 {
		t.Fatalf("sub CA certificate without revocation pointers: %v %v", subCert.CRLDistributionPoints, subCert.OCSPServer)
	}
	if err := e.svc.Revoke(ctx, admin, root, pki.SerialHex(subCert.SerialNumber), "CERTIFICATE_AUTHORITY_COMPROMISE"); err != nil {
		t.Fatal(err)
	}
	e.refresh(t)
	crl := e.crl(t, root, 0)
	if got := serialsOf(crl); len(got) != 1 || got[0] != pki.SerialHex(subCert.SerialNumber) || crl.RevokedCertificateEntries[0].ReasonCode != 2 {
		t.Fatalf("root CRL lists %v", got)
	}
	resp := e.ocsp(t, rootCert, subCert.SerialNumber, crypto.SHA1, false)
	if resp.Status != ocsp.Revoked || resp.RevocationReason != ocsp.CACompromise {
		t.Fatalf("OCSP for the revoked CA: %+v", resp)
	}
}

// ocsp asks the responder about a serial and verifies the answer.
func (e *revEnv) ocsp(t *testing.T, issuer *x509.Certificate, serial *big.Int, h crypto.Hash, nonce bool) *ocsp.Response {
	t.Helper()
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.ParseOCSPRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if nonce {
		req.Nonce = []byte{0x04, 0x04, 1, 2, 3, 4}
	}
	ans, err := e.svc.OCSP(ctx, req)
	if err != nil {
		t.Fatalf("OCSP: %v", err)
	}
	if ans.Fresh != nonce {
		t.Fatalf("fresh=%v for nonce=%v", ans.Fresh, nonce)
	}
	resp, err := ocsp.ParseResponseForCert(ans.DER, &x509.Certificate{SerialNumber: serial}, issuer)
	if err != nil {
		t.Fatalf("parse OCSP response: %v", err)
	}
	if !resp.ThisUpdate.Equal(ans.ThisUpdate) || !resp.NextUpdate.Equal(ans.NextUpdate) || resp.NextUpdate.Sub(resp.ThisUpdate) != time.Hour {
		t.Fatalf("times %v %v", resp.ThisUpdate, resp.NextUpdate)
	}
	return resp
}

func TestOCSPResponder(t *testing.T) {
	e := newRevEnv(t, nil)
	root, rootCert := e.root(t, &ca.RevocationConfig{OCSP: &ca.OCSPConfig{Enabled: true}})
	leaf := e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "o.example.internal"), TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1",
		Validity: pki.Validity{Type: pki.ValidityDays, Value: 90}})
	good := e.ocsp(t, rootCert, leaf.SerialNumber, crypto.SHA1, false)
	if good.Status != ocsp.Good || good.Certificate == nil {
		t.Fatalf("%+v", good)
	}
	responder := good.Certificate
	if !slicesContainsEKU(responder.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) || !hasExt(responder, "1.3.6.1.5.5.7.48.1.5") {
		t.Fatalf("responder certificate EKU %v lacks OCSPSigning or ocsp-nocheck", responder.ExtKeyUsage)
	}
	if f, err := e.lint.LintDER(responder.Raw); err != nil || len(f) > 0 {
		t.Fatalf("responder certificate is not lint-clean: %v %v", f, err)
	}
	// A cached answer: the same bytes again.
	again := e.ocsp(t, rootCert, leaf.SerialNumber, crypto.SHA1, false)
	if !bytes.Equal(again.Raw, good.Raw) {
		t.Fatal("an unchanged status was signed again instead of served from the cache")
	}
	// A nonce gets a fresh answer that echoes it.
	fresh := e.ocsp(t, rootCert, leaf.SerialNumber, crypto.SHA256, true)
	if bytes.Equal(fresh.Raw, good.Raw) || fresh.Status != ocsp.Good {
		t.Fatal("a nonce request was served from the cache")
	}
	// Revocation shows at once on this node.
	if err := e.svc.Revoke(ctx, admin, root, pki.SerialHex(leaf.SerialNumber), "AFFILIATION_CHANGED"); err != nil {
		t.Fatal(err)
	}
	rev := e.ocsp(t, rootCert, leaf.SerialNumber, crypto.SHA1, false)
	if rev.Status != ocsp.Revoked || rev.RevocationReason != ocsp.AffiliationChanged || !rev.RevokedAt.Equal(e.clk.Now().Truncate(time.Second)) {
		t.Fatalf("after revocation: %+v", rev)
	}
	// Never issued: unknown.
	if unk := e.ocsp(t, rootCert, big.NewInt(12345), crypto.SHA256, false); unk.Status != ocsp.Unknown {
		t.Fatalf("unknown serial: %+v", unk)
	}
	// An issuer Sigil does not know: unauthorized.
	otherEnv := newRevEnv(t, nil)
	_, otherCert := otherEnv.root(t, nil)
	der, _ := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(1)}, otherCert, nil)
	req, _ := pki.ParseOCSPRequest(der)
	if _, err := e.svc.OCSP(ctx, req); !errors.Is(err, ca.ErrOCSPUnauthorized) {
		t.Fatalf("foreign issuer: %v", err)
	}
	// The responder certificate is renewed after two thirds of its 30 days.
	e.clk.Advance(21 * 24 * time.Hour)
	renewed := e.ocsp(t, rootCert, leaf.SerialNumber, crypto.SHA1, false)
	if renewed.Certificate == nil || renewed.Certificate.SerialNumber.Cmp(responder.SerialNumber) == 0 ||
		!renewed.Certificate.NotAfter.After(responder.NotAfter) {
		t.Fatal("the responder certificate was not renewed")
	}
	// OCSP disabled: unauthorized.
	if err := e.svc.Update(ctx, admin, ca.UpdateInput{ARN: root, Revocation: &ca.RevocationConfig{OCSP: &ca.OCSPConfig{Enabled: false}}}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	der, _ = ocsp.CreateRequest(&x509.Certificate{SerialNumber: leaf.SerialNumber}, rootCert, nil)
	req, _ = pki.ParseOCSPRequest(der)
	if _, err := e.svc.OCSP(ctx, req); !errors.Is(err, ca.ErrOCSPUnauthorized) {
		t.Fatalf("OCSP disabled: %v", err)
	}
}

func TestOCSPSignedByCA(t *testing.T) {
	e := newRevEnv(t, func(o *ca.Options) { o.Revocation.CASignsOCSP = true })
	root, rootCert := e.root(t, &ca.RevocationConfig{OCSP: &ca.OCSPConfig{Enabled: true}})
	leaf := e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "o.example.internal"), TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1"})
	resp := e.ocsp(t, rootCert, leaf.SerialNumber, crypto.SHA256, false)
	if resp.Status != ocsp.Good || resp.Certificate != nil {
		t.Fatalf("a CA-signed answer carries a certificate: %+v", resp.Certificate)
	}
	if err := resp.CheckSignatureFrom(rootCert); err != nil {
		t.Fatal(err)
	}
}

func TestAuditReports(t *testing.T) {
	e := newRevEnv(t, nil)
	root, _ := e.root(t, nil)
	id := caID(root)
	leaf := e.issue(t, ca.IssueInput{CAARN: root, CSR: leafCSR(t, "audit.example.internal"), TemplateARN: pki.TemplateARNPrefix + "EndEntityCertificate/V1"})
	if err := e.svc.Revoke(ctx, admin, root, pki.SerialHex(leaf.SerialNumber), "CESSATION_OF_OPERATION"); err != nil {
		t.Fatal(err)
	}
	wait := func(reportID string) *ca.AuditReport {
		t.Helper()
		for range 500 {
			r, err := e.svc.DescribeAuditReport(ctx, admin, root, reportID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != ca.ReportCreating {
				return r
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("the report never finished")
		return nil
	}

	rid, key, err := e.svc.CreateAuditReport(ctx, admin, root, "audit-bucket", "JSON")
	if err != nil {
		t.Fatal(err)
	}
	if key != "audit-report/"+id+"/"+rid+".json" {
		t.Fatalf("key %s", key)
	}
	if r := wait(rid); r.Status != ca.ReportSuccess || r.Bucket != "audit-bucket" || r.Key != key {
		t.Fatalf("%+v", r)
	}
	var lines []map[string]string
	if err := json.Unmarshal(e.objs.get("audit-bucket/"+key), &lines); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, e.objs.get("audit-bucket/"+key))
	}
	// Two certificates: the root's own and the leaf.
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	wantSerial := strings.ReplaceAll(strings.TrimSpace(fmt.Sprintf("% x", leaf.SerialNumber.Bytes())), " ", ":")
	l := lines[0]
	if l["serial"] != wantSerial {
		l = lines[1]
	}
	if l["serial"] != wantSerial || l["revocationReason"] != "CESSATION_OF_OPERATION" || l["revokedAt"] == "" ||
		l["subject"] != "CN=audit.example.internal" || l["awsAccountId"] != admin.Account ||
		!strings.HasSuffix(l["certificateArn"], pki.SerialHex(leaf.SerialNumber)) || !strings.HasSuffix(l["templateArn"], "EndEntityCertificate/V1") {
		t.Fatalf("report line %v", l)
	}

	rid, key, err = e.svc.CreateAuditReport(ctx, admin, root, "audit-bucket", "CSV")
	if err != nil {
		t.Fatal(err)
	}
	wait(rid)
	rows, err := csv.NewReader(bytes.NewReader(e.objs.get("audit-bucket/" + key))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV %v %v", rows, err)
	}
	row := rows[2]
	if rows[1][3] == wantSerial {
		row = rows[1]
	}
	if rows[0][3] != "serial" || row[3] != wantSerial || row[9] != "CESSATION_OF_OPERATION" {
		t.Fatalf("CSV %v %v", rows, err)
	}

	// Bad input.
	_, _, err = e.svc.CreateAuditReport(ctx, admin, root, "Bad_Bucket", "JSON")
	wantErr(t, err, errs.Invalid, ca.CodeInvalidArgs)
	_, _, err = e.svc.CreateAuditReport(ctx, admin, root, "audit-bucket", "XML")
	wantErr(t, err, errs.Invalid, "")
	_, err = e.svc.DescribeAuditReport(ctx, admin, root, "not-a-uuid")
	wantErr(t, err, errs.Invalid, ca.CodeInvalidArgs)
	_, err = e.svc.DescribeAuditReport(ctx, admin, root, "00000000-0000-0000-0000-000000000000")
	wantErr(t, err, errs.NotFound, "")

	// While one report is being written, another is refused.
	e.objs.block = make(chan struct{})
	rid, _, err = e.svc.CreateAuditReport(ctx, admin, root, "audit-bucket", "JSON")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.CreateAuditReport(ctx, admin, root, "audit-bucket", "JSON")
	wantErr(t, err, errs.Conflict, ca.CodeInProgress)
	close(e.objs.block)
	if r := wait(rid); r.Status != ca.ReportSuccess {
		t.Fatalf("%+v", r)
	}
}

func slicesContainsEKU(list []x509.ExtKeyUsage, u x509.ExtKeyUsage) bool {
	for _, x := range list {
		if x == u {
			return true
		}
	}
	return false
}

func hasExt(c *x509.Certificate, oid string) bool {
	for _, e := range c.Extensions {
		if e.Id.String() == oid {
			return true
		}
	}
	return false
}
