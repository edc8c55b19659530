package integration

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"golang.org/x/crypto/ocsp"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

const propagation = 500 * time.Millisecond

func revocationConfig(bucket string, crlType types.CrlType) *types.RevocationConfiguration {
	return &types.RevocationConfiguration{
		CrlConfiguration:  &types.CrlConfiguration{Enabled: aws.Bool(true), ExpirationInDays: aws.Int32(7), S3BucketName: aws.String(bucket), CrlType: crlType},
		OcspConfiguration: &types.OcspConfiguration{Enabled: aws.Bool(true)},
	}
}

func createCAWith(t testing.TB, c *acmpca.Client, typ types.CertificateAuthorityType, cn string, rev *types.RevocationConfiguration) string {
	t.Helper()
	out, err := c.CreateCertificateAuthority(ctx, &acmpca.CreateCertificateAuthorityInput{
		CertificateAuthorityType: typ,
		CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{
			KeyAlgorithm: types.KeyAlgorithmEcPrime256v1, SigningAlgorithm: types.SigningAlgorithmSha256withecdsa,
			Subject: &types.ASN1Subject{CommonName: aws.String(cn), Organization: aws.String("Sigil Tests")},
		},
		RevocationConfiguration: rev,
	})
	if err != nil {
		t.Fatalf("create CA %s: %v", cn, err)
	}
	return *out.CertificateAuthorityArn
}

// pkiFiles holds a two-level hierarchy as files for openssl.
type pkiFiles struct {
	dir                 string
	root, sub           string // ARNs
	rootPEM, subPEM     []byte
	rootCert, subCert   *x509.Certificate
	rootFile, subFile   string
	chainFile           string // sub then root
	leafPEM             []byte
	leafCert            *x509.Certificate
	leafFile, leafARN   string
	publicURL, objsRoot string
}

func revocationHierarchy(t *testing.T, env *sigiltest.Env, crlType types.CrlType) *pkiFiles {
	t.Helper()
	c := env.PCA()
	f := &pkiFiles{dir: t.TempDir(), publicURL: env.Server.PublicURL(), objsRoot: env.Server.ObjectsDir()}
	f.root = createCAWith(t, c, types.CertificateAuthorityTypeRoot, "Revocation Root", revocationConfig("root-crls", ""))
	f.rootPEM = activateRoot(t, c, f.root, types.SigningAlgorithmSha256withecdsa, 10)
	f.sub = createCAWith(t, c, types.CertificateAuthorityTypeSubordinate, "Revocation Issuing CA", revocationConfig("issuing-crls", crlType))
	f.subPEM, _ = activateSub(t, c, f.root, f.sub, types.SigningAlgorithmSha256withecdsa, tplSub0, 5)
	f.rootCert, f.subCert = parse(t, f.rootPEM), parse(t, f.subPEM)
	f.rootFile, f.subFile = f.write(t, "root.pem", f.rootPEM), f.write(t, "sub.pem", f.subPEM)
	f.chainFile = f.write(t, "chain.pem", append(append([]byte{}, f.subPEM...), f.rootPEM...))
	f.leafARN, f.leafPEM, f.leafCert = f.issueLeaf(t, c, "web.example.internal")
	f.leafFile = f.write(t, "leaf.pem", f.leafPEM)
	return f
}

func (f *pkiFiles) write(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *pkiFiles) issueLeaf(t testing.TB, c *acmpca.Client, cn string) (string, []byte, *x509.Certificate) {
	t.Helper()
	arn, leaf, _ := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &f.sub, Csr: quickCSR(t, cn),
		SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, TemplateArn: aws.String(tplEE)})
	return arn, leaf, parse(t, leaf)
}

// httpGet fetches a URL and returns the response with its body read.
func httpGet(t testing.TB, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// waitFor polls check until it returns true, failing after limit. It
// returns how long it took.
func waitFor(t testing.TB, limit time.Duration, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// fetchCRL downloads the CRL at url (DER), checks it parses, is signed by
// issuer and is lint-clean, and returns it with a PEM copy for openssl.
func fetchCRL(t testing.TB, u string, issuer *x509.Certificate) (*x509.RevocationList, []byte) {
	t.Helper()
	resp, der := httpGet(t, u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Fatalf("CRL content type %q", ct)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("CRL at %s: %v", u, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	sigiltest.LintCRL(t, der)
	return crl, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func crlReady(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func crlListed(t testing.TB, u string, issuer *x509.Certificate, serial *big.Int) bool {
	crl, _ := fetchCRL(t, u, issuer)
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// opensslOCSP asks the responder about the leaf with `openssl ocsp` and
// returns its output.
func (f *pkiFiles) opensslOCSP(t testing.TB, leafFile string, extra ...string) string {
	t.Helper()
	args := append([]string{"ocsp", "-issuer", f.subFile, "-cert", leafFile, "-url", f.leafCert.OCSPServer[0],
		"-CAfile", f.chainFile}, extra...)
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl ocsp: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Response verify OK") {
		t.Fatalf("openssl could not verify the OCSP response:\n%s", out)
	}
	return string(out)
}

// verifyWithCRLs runs openssl verify with CRL checking and reports whether
// it accepted the leaf, with its output.
func (f *pkiFiles) verifyWithCRLs(t testing.TB, flag string, leafFile string, crls ...[]byte) (bool, string) {
	t.Helper()
	crlFile := f.write(t, "crls.pem", bytes.Join(crls, nil))
	out, err := exec.Command("openssl", "verify", flag, "-CAfile", f.rootFile, "-untrusted", f.subFile,
		"-CRLfile", crlFile, leafFile).CombinedOutput()
	return err == nil && strings.Contains(string(out), leafFile+": OK"), string(out)
}

func TestRevocationWithOpenSSL(t *testing.T) {
	sigiltest.Require(t, "openssl", "openssl")
	env := sigiltest.Start(t, func(c *config.Config) { c.Revocation.Propagation = propagation })
	c := env.PCA()
	f := revocationHierarchy(t, env, types.CrlTypeComplete)
	subID := f.sub[strings.LastIndexByte(f.sub, '/')+1:]
	rootID := f.root[strings.LastIndexByte(f.root, '/')+1:]

	// The certificate points at Sigil's public listener.
	if fmt.Sprint(f.leafCert.CRLDistributionPoints) != "["+f.publicURL+"/crl/"+subID+".crl]" ||
		fmt.Sprint(f.leafCert.OCSPServer) != "["+f.publicURL+"/ocsp]" ||
		fmt.Sprint(f.leafCert.IssuingCertificateURL) != "["+f.publicURL+"/ca/"+subID+".crt]" {
		t.Fatalf("CDP %v OCSP %v issuers %v", f.leafCert.CRLDistributionPoints, f.leafCert.OCSPServer, f.leafCert.IssuingCertificateURL)
	}
	if fmt.Sprint(f.subCert.CRLDistributionPoints) != "["+f.publicURL+"/crl/"+rootID+".crl]" {
		t.Fatalf("sub CA CDP %v", f.subCert.CRLDistributionPoints)
	}
	// The AIA caIssuers URL serves the issuing CA's certificate.
	if resp, der := httpGet(t, f.leafCert.IssuingCertificateURL[0]); resp.StatusCode != 200 || !bytes.Equal(der, f.subCert.Raw) ||
		resp.Header.Get("Content-Type") != "application/pkix-cert" {
		t.Fatalf("caIssuers: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}

	// Before revocation: good from OCSP, accepted with CRLs at both levels.
	if out := f.opensslOCSP(t, f.leafFile); !strings.Contains(out, f.leafFile+": good") {
		t.Fatalf("openssl ocsp before revocation:\n%s", out)
	}
	if out := f.opensslOCSP(t, f.leafFile, "-no_nonce"); !strings.Contains(out, f.leafFile+": good") {
		t.Fatalf("openssl ocsp -no_nonce:\n%s", out)
	}
	subCRLURL, rootCRLURL := f.leafCert.CRLDistributionPoints[0], f.subCert.CRLDistributionPoints[0]
	waitFor(t, 10*propagation, "CRLs published", func() bool { return crlReady(subCRLURL) && crlReady(rootCRLURL) })
	subCRL, subCRLPEM := fetchCRL(t, subCRLURL, f.subCert)
	_, rootCRLPEM := fetchCRL(t, rootCRLURL, f.rootCert)
	if len(subCRL.RevokedCertificateEntries) != 0 || !subCRL.NextUpdate.Equal(subCRL.ThisUpdate.Add(7*24*time.Hour)) ||
		!bytes.Equal(subCRL.AuthorityKeyId, f.subCert.SubjectKeyId) || subCRL.Number == nil {
		t.Fatalf("initial CRL: %d entries, %v..%v", len(subCRL.RevokedCertificateEntries), subCRL.ThisUpdate, subCRL.NextUpdate)
	}
	if ok, out := f.verifyWithCRLs(t, "-crl_check", f.leafFile, subCRLPEM); !ok {
		t.Fatalf("openssl verify -crl_check rejected a good certificate:\n%s", out)
	}
	if ok, out := f.verifyWithCRLs(t, "-crl_check_all", f.leafFile, subCRLPEM, rootCRLPEM); !ok {
		t.Fatalf("openssl verify -crl_check_all rejected a good certificate:\n%s", out)
	}

	// Revoke through the SDK; errors for doing it twice or for a stranger.
	serial := pki.SerialHex(f.leafCert.SerialNumber)
	revokedAt := time.Now()
	if _, err := c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &f.sub,
		CertificateSerial: aws.String(serial), RevocationReason: types.RevocationReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	_, err := c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &f.sub,
		CertificateSerial: aws.String(serial), RevocationReason: types.RevocationReasonSuperseded})
	wantCode(t, err, "RequestAlreadyProcessedException")
	_, err = c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &f.sub,
		CertificateSerial: aws.String("7fffffff01"), RevocationReason: types.RevocationReasonSuperseded})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &f.sub,
		CertificateSerial: aws.String(serial), RevocationReason: "BORED"})
	wantCode(t, err, "ValidationException")

	// Within the propagation bound: revoked in OCSP and in the CRL.
	ocspDelay := waitFor(t, 4*propagation, "OCSP shows the revocation", func() bool {
		return strings.Contains(f.opensslOCSP(t, f.leafFile, "-no_nonce"), f.leafFile+": revoked")
	})
	crlDelay := waitFor(t, 4*propagation, "the CRL lists the revocation", func() bool {
		return crlListed(t, subCRLURL, f.subCert, f.leafCert.SerialNumber)
	})
	t.Logf("revocation visible after %v (OCSP) and %v (CRL); bound %v", ocspDelay.Round(time.Millisecond),
		max(crlDelay, time.Since(revokedAt)).Round(time.Millisecond), propagation)
	out := f.opensslOCSP(t, f.leafFile)
	if !strings.Contains(out, f.leafFile+": revoked") || !strings.Contains(out, "Reason: keyCompromise") {
		t.Fatalf("openssl ocsp after revocation:\n%s", out)
	}
	subCRL, subCRLPEM = fetchCRL(t, subCRLURL, f.subCert)
	if len(subCRL.RevokedCertificateEntries) != 1 || subCRL.RevokedCertificateEntries[0].ReasonCode != 1 {
		t.Fatalf("CRL entries %+v", subCRL.RevokedCertificateEntries)
	}
	if ok, out := f.verifyWithCRLs(t, "-crl_check", f.leafFile, subCRLPEM); ok || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify -crl_check accepted a revoked certificate:\n%s", out)
	}
	// A good certificate still passes against the new CRL.
	_, goodPEM, _ := f.issueLeaf(t, c, "good.example.internal")
	goodFile := f.write(t, "good.pem", goodPEM)
	if ok, out := f.verifyWithCRLs(t, "-crl_check_all", goodFile, subCRLPEM, rootCRLPEM); !ok {
		t.Fatalf("openssl verify -crl_check_all rejected a good certificate:\n%s", out)
	}
	// The CRL was also written to the bucket directory.
	stored, err := os.ReadFile(filepath.Join(f.objsRoot, "issuing-crls", "crl", subID+".crl"))
	_, served := httpGet(t, subCRLURL)
	if err != nil || !bytes.Equal(stored, served) {
		t.Fatalf("bucket copy of the CRL: %v (%d vs %d bytes)", err, len(stored), len(served))
	}

	// The root revokes the issuing CA: -crl_check_all now rejects the good
	// leaf because of its CA, and the root's OCSP says revoked.
	if _, err := c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &f.root,
		CertificateSerial: aws.String(pki.SerialHex(f.subCert.SerialNumber)), RevocationReason: types.RevocationReasonCertificateAuthorityCompromise}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 4*propagation, "the root CRL lists the issuing CA", func() bool {
		return crlListed(t, rootCRLURL, f.rootCert, f.subCert.SerialNumber)
	})
	_, rootCRLPEM = fetchCRL(t, rootCRLURL, f.rootCert)
	if ok, out := f.verifyWithCRLs(t, "-crl_check_all", goodFile, subCRLPEM, rootCRLPEM); ok || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify -crl_check_all accepted a leaf under a revoked CA:\n%s", out)
	}
	resp := ocspQuery(t, f.subCert.OCSPServer[0], f.subCert, f.rootCert, crypto.SHA1)
	if resp.Status != ocsp.Revoked || resp.RevocationReason != ocsp.CACompromise {
		t.Fatalf("root OCSP for the issuing CA: %+v", resp)
	}
}

// ocspQuery sends an OCSP GET request the way RFC 5019 clients do and
// parses the answer for cert.
func ocspQuery(t testing.TB, responder string, cert, issuer *x509.Certificate, h crypto.Hash) *ocsp.Response {
	t.Helper()
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := httpGet(t, responder+"/"+url.PathEscape(base64.StdEncoding.EncodeToString(der)))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("OCSP GET: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	r, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		t.Fatalf("OCSP response: %v", err)
	}
	return r
}

func TestOCSPOverHTTP(t *testing.T) {
	env := sigiltest.Start(t, func(c *config.Config) { c.Revocation.Propagation = propagation })
	f := revocationHierarchy(t, env, types.CrlTypeComplete)
	responder := f.leafCert.OCSPServer[0]

	// GET with the RFC 5019 caching headers, and a conditional GET.
	der, _ := ocsp.CreateRequest(f.leafCert, f.subCert, nil)
	getURL := responder + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(der))
	resp, body := httpGet(t, getURL)
	parsed, err := ocsp.ParseResponseForCert(body, f.leafCert, f.subCert)
	if err != nil || parsed.Status != ocsp.Good {
		t.Fatalf("GET: %v %+v", err, parsed)
	}
	if parsed.Certificate == nil || parsed.Certificate.Subject.CommonName == f.subCert.Subject.CommonName {
		t.Fatal("the answer is not signed by a delegated responder")
	}
	sigiltest.LintClean(t, parsed.Certificate.Raw)
	h := resp.Header
	lastMod, _ := http.ParseTime(h.Get("Last-Modified"))
	expires, _ := http.ParseTime(h.Get("Expires"))
	if !lastMod.Equal(parsed.ThisUpdate) || !expires.Equal(parsed.NextUpdate) || h.Get("ETag") == "" ||
		// max-age is the propagation bound in whole seconds: 0 for 500ms.
		h.Get("Cache-Control") != "max-age=0, public, no-transform, must-revalidate" {
		t.Fatalf("caching headers %v", h)
	}
	if r, _ := httpGet(t, getURL, "If-None-Match", h.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %s", r.Status)
	}
	// SHA-256 certificate IDs, and the responder at the root path (as with
	// OcspCustomCname).
	if r := ocspQuery(t, f.publicURL, f.leafCert, f.subCert, crypto.SHA256); r.Status != ocsp.Good {
		t.Fatalf("SHA-256 at the root path: %+v", r)
	}
	// POST.
	postResp, err := http.Post(responder, "application/ocsp-request", bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	postBody, _ := io.ReadAll(postResp.Body)
	postResp.Body.Close()
	if r, err := ocsp.ParseResponseForCert(postBody, f.leafCert, f.subCert); err != nil || r.Status != ocsp.Good {
		t.Fatalf("POST: %v", err)
	}
	// Unknown serial: unknown. Unknown issuer: unauthorized. Garbage:
	// malformedRequest.
	stranger := &x509.Certificate{SerialNumber: big.NewInt(424242)}
	if r := ocspQuery(t, responder, stranger, f.subCert, crypto.SHA1); r.Status != ocsp.Unknown {
		t.Fatalf("never-issued serial: %+v", r)
	}
	other := sigiltest.Start(t)
	oc := other.PCA()
	foreign := createCA(t, oc, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Foreign")
	foreignCert := parse(t, activateRoot(t, oc, foreign, types.SigningAlgorithmSha256withecdsa, 1))
	der, _ = ocsp.CreateRequest(stranger, foreignCert, nil)
	_, body = httpGet(t, responder+"/"+url.PathEscape(base64.StdEncoding.EncodeToString(der)))
	if _, err := ocsp.ParseResponse(body, nil); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("unknown issuer: %v", err)
	}
	for _, bad := range []string{responder + "/bm90LWFuLW9jc3AtcmVxdWVzdA==", responder + "/!!!!notbase64!!!!"} {
		_, body = httpGet(t, bad)
		if _, err := ocsp.ParseResponse(body, nil); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Fatalf("GET %s: %v", bad, err)
		}
	}
	r, err := http.Post(responder, "application/ocsp-request", strings.NewReader("junk"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if _, err := ocsp.ParseResponse(body, nil); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("POST junk: %v", err)
	}
	// Unknown CRL and CA certificate URLs are 404s.
	for _, u := range []string{f.publicURL + "/crl/00000000-0000-0000-0000-000000000000.crl", f.publicURL + "/ca/nope.crt", f.publicURL + "/x.txt"} {
		if r, _ := httpGet(t, u); r.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s: %s", u, r.Status)
		}
	}
}

// TestOCSPResponderRenewal moves the dev clock past two thirds of the
// responder certificate's 30 days: the next answer comes from a new one.
func TestOCSPResponderRenewal(t *testing.T) {
	env := sigiltest.Start(t, func(c *config.Config) { c.Revocation.Propagation = propagation })
	f := revocationHierarchy(t, env, types.CrlTypeComplete)
	c := env.PCA()
	// A leaf that outlives the jump.
	arn, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &f.sub, Csr: quickCSR(t, "long.example.internal"),
		SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(365)}})
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, _ := getCert(t, c, f.sub, *arn.CertificateArn)
	leaf := parse(t, leafPEM)
	first := ocspQuery(t, leaf.OCSPServer[0], leaf, f.subCert, crypto.SHA1)
	advance(t, env.URL, "504h") // 21 days
	second := ocspQuery(t, leaf.OCSPServer[0], leaf, f.subCert, crypto.SHA1)
	if first.Certificate == nil || second.Certificate == nil || first.Certificate.SerialNumber.Cmp(second.Certificate.SerialNumber) == 0 {
		t.Fatal("the OCSP responder certificate was not renewed")
	}
	if second.Status != ocsp.Good || !second.Certificate.NotAfter.After(first.Certificate.NotAfter) {
		t.Fatalf("after renewal: %+v", second)
	}
	// The CRLs were regenerated on their own (halfway to nextUpdate).
	u := leaf.CRLDistributionPoints[0]
	waitFor(t, 10*propagation, "CRL published", func() bool { return crlReady(u) })
	crl, _ := fetchCRL(t, u, f.subCert)
	advance(t, env.URL, "85h") // past 3.5 days
	waitFor(t, 10*propagation, "CRL regenerated without revocations", func() bool {
		again, _ := fetchCRL(t, u, f.subCert)
		return again.Number.Cmp(crl.Number) > 0
	})
}

func TestPartitionedCRLsWithOpenSSL(t *testing.T) {
	sigiltest.Require(t, "openssl", "openssl")
	env := sigiltest.Start(t, func(c *config.Config) {
		c.Revocation.Propagation = propagation
		c.Revocation.CRLPartitionSize = 2
	})
	c := env.PCA()
	f := revocationHierarchy(t, env, types.CrlTypePartitioned)
	subID := f.sub[strings.LastIndexByte(f.sub, '/')+1:]
	type leaf struct {
		file string
		cert *x509.Certificate
	}
	leaves := []leaf{{f.leafFile, f.leafCert}}
	for i := range 4 {
		_, p, cert := f.issueLeaf(t, c, fmt.Sprintf("p%d.example.internal", i))
		leaves = append(leaves, leaf{f.write(t, fmt.Sprintf("p%d.pem", i), p), cert})
	}
	partitions := map[string][]leaf{}
	for _, l := range leaves {
		cdp := l.cert.CRLDistributionPoints[0]
		if !strings.HasPrefix(cdp, f.publicURL+"/crl/"+subID+"-") {
			t.Fatalf("CDP %s does not name a partition", cdp)
		}
		partitions[cdp] = append(partitions[cdp], l)
	}
	if len(partitions) != 3 {
		t.Fatalf("5 certificates in %d partitions of 2", len(partitions))
	}
	// Revoke the second certificate (partition 1) and the fourth (partition 2).
	revoked := map[string]bool{}
	for _, l := range []leaf{leaves[1], leaves[3]} {
		if _, err := c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &f.sub,
			CertificateSerial: aws.String(pki.SerialHex(l.cert.SerialNumber)), RevocationReason: types.RevocationReasonSuperseded}); err != nil {
			t.Fatal(err)
		}
		revoked[pki.SerialHex(l.cert.SerialNumber)] = true
	}
	_, rootCRLPEM := func() (*x509.RevocationList, []byte) {
		waitFor(t, 10*propagation, "root CRL", func() bool { return crlReady(f.subCert.CRLDistributionPoints[0]) })
		return fetchCRL(t, f.subCert.CRLDistributionPoints[0], f.rootCert)
	}()
	for cdp, ls := range partitions {
		var want []string
		for _, l := range ls {
			if revoked[pki.SerialHex(l.cert.SerialNumber)] {
				want = append(want, pki.SerialHex(l.cert.SerialNumber))
			}
		}
		var crl *x509.RevocationList
		var crlPEM []byte
		waitFor(t, 10*propagation, "partition CRL "+cdp, func() bool {
			if !crlReady(cdp) {
				return false
			}
			crl, crlPEM = fetchCRL(t, cdp, f.subCert)
			return len(crl.RevokedCertificateEntries) == len(want)
		})
		for i, e := range crl.RevokedCertificateEntries {
			if pki.SerialHex(e.SerialNumber) != want[i] {
				t.Fatalf("partition %s lists %s, want %v", cdp, pki.SerialHex(e.SerialNumber), want)
			}
		}
		if got := issuingDistributionPoint(t, crl); got != cdp {
			t.Fatalf("partition CRL IDP %q, certificates' CDP %q", got, cdp)
		}
		// openssl matches the IDP with each certificate's CDP.
		for _, l := range ls {
			ok, out := f.verifyWithCRLs(t, "-crl_check_all", l.file, crlPEM, rootCRLPEM)
			if ok == revoked[pki.SerialHex(l.cert.SerialNumber)] {
				t.Fatalf("openssl verify with partition CRL %s: accepted=%v for revoked=%v\n%s", cdp, ok, !ok, out)
			}
		}
	}
}

// issuingDistributionPoint returns the URI in a CRL's critical IDP.
func issuingDistributionPoint(t testing.TB, crl *x509.RevocationList) string {
	t.Helper()
	for _, e := range crl.Extensions {
		if !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 28}) {
			continue
		}
		if !e.Critical {
			t.Fatal("IDP is not critical")
		}
		var idp struct {
			DP asn1.RawValue `asn1:"optional,tag:0"`
		}
		if _, err := asn1.Unmarshal(e.Value, &idp); err != nil {
			t.Fatal(err)
		}
		var full asn1.RawValue // fullName [0]
		if _, err := asn1.Unmarshal(idp.DP.Bytes, &full); err != nil {
			t.Fatal(err)
		}
		var uri asn1.RawValue
		if _, err := asn1.Unmarshal(full.Bytes, &uri); err != nil || uri.Tag != 6 {
			t.Fatalf("IDP name %v %v", uri, err)
		}
		return string(uri.Bytes)
	}
	return ""
}

func TestAuditReportSDK(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	f := revocationHierarchy(t, env, types.CrlTypeComplete)
	if _, err := c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &f.sub,
		CertificateSerial: aws.String(pki.SerialHex(f.leafCert.SerialNumber)), RevocationReason: types.RevocationReasonPrivilegeWithdrawn}); err != nil {
		t.Fatal(err)
	}
	out, err := c.CreateCertificateAuthorityAuditReport(ctx, &acmpca.CreateCertificateAuthorityAuditReportInput{
		CertificateAuthorityArn: &f.sub, S3BucketName: aws.String("audit"), AuditReportResponseFormat: types.AuditReportResponseFormatJson})
	if err != nil {
		t.Fatal(err)
	}
	w := acmpca.NewAuditReportCreatedWaiter(c, func(o *acmpca.AuditReportCreatedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(ctx, &acmpca.DescribeCertificateAuthorityAuditReportInput{CertificateAuthorityArn: &f.sub,
		AuditReportId: out.AuditReportId}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeCertificateAuthorityAuditReport(ctx, &acmpca.DescribeCertificateAuthorityAuditReportInput{
		CertificateAuthorityArn: &f.sub, AuditReportId: out.AuditReportId})
	if err != nil || d.AuditReportStatus != types.AuditReportStatusSuccess || aws.ToString(d.S3Key) != aws.ToString(out.S3Key) ||
		aws.ToString(d.S3BucketName) != "audit" || d.CreatedAt == nil {
		t.Fatalf("%+v %v", d, err)
	}
	raw, err := os.ReadFile(filepath.Join(env.Server.ObjectsDir(), "audit", aws.ToString(out.S3Key)))
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]string
	if err := json.Unmarshal(raw, &lines); err != nil || len(lines) != 1 {
		t.Fatalf("report: %v\n%s", err, raw)
	}
	if lines[0]["revocationReason"] != "PRIVILEGE_WITHDRAWN" || lines[0]["certificateArn"] != f.leafARN {
		t.Fatalf("report line %v", lines[0])
	}
	_, err = c.DescribeCertificateAuthorityAuditReport(ctx, &acmpca.DescribeCertificateAuthorityAuditReportInput{
		CertificateAuthorityArn: &f.root, AuditReportId: out.AuditReportId})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.CreateCertificateAuthorityAuditReport(ctx, &acmpca.CreateCertificateAuthorityAuditReportInput{
		CertificateAuthorityArn: &f.sub, S3BucketName: aws.String("no_such..bucket"), AuditReportResponseFormat: types.AuditReportResponseFormatCsv})
	wantCode(t, err, "InvalidArgsException")
}
