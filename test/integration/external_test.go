package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// TestExternalOpenSSLRoot makes a root CA with openssl alone, has it sign a
// Sigil subordinate CA's CSR, imports that certificate with its chain, and
// issues a leaf that openssl verifies against the external root.
func TestExternalOpenSSLRoot(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	sigiltest.OpenSSL(t, "req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout", p("ext-root.key"), "-out", p("ext-root.pem"),
		"-days", "3650", "-subj", "/C=DE/O=External Org/CN=External Root", "-sha256",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
		"-addext", "subjectKeyIdentifier=hash")

	env := sigiltest.Start(t)
	c := env.PCA()
	sub := createCA(t, c, types.CertificateAuthorityTypeSubordinate, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Sigil under External")
	if err := os.WriteFile(p("sub.csr"), caCSR(t, c, sub), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("ext.cnf"), []byte("basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\n"+
		"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"), 0o600)
	sigiltest.OpenSSL(t, "x509", "-req", "-in", p("sub.csr"), "-CA", p("ext-root.pem"), "-CAkey", p("ext-root.key"),
		"-CAcreateserial", "-days", "1825", "-sha256", "-extfile", p("ext.cnf"), "-out", p("sub.pem"))
	subPEM, _ := os.ReadFile(p("sub.pem"))
	rootPEM, _ := os.ReadFile(p("ext-root.pem"))

	// Importing without the chain, or with the wrong one, is refused.
	_, err := c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{CertificateAuthorityArn: &sub, Certificate: subPEM})
	wantCode(t, err, "InvalidRequestException")
	_, err = c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{CertificateAuthorityArn: &sub,
		Certificate: rootPEM, CertificateChain: rootPEM})
	wantCode(t, err, "CertificateMismatchException")

	if _, err := c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{
		CertificateAuthorityArn: &sub, Certificate: subPEM, CertificateChain: rootPEM}); err != nil {
		t.Fatalf("import certificate signed by the external root: %v", err)
	}
	csr, _ := newCSR(t, pki.ECP256, "ext-leaf.example.internal", "ext-leaf.example.internal")
	_, leaf, chain := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &sub, Csr: csr,
		SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(30)}})
	if string(chain) != string(pki.EncodeCertificatesPEM(parse(t, subPEM).Raw))+string(pki.EncodeCertificatesPEM(parse(t, rootPEM).Raw)) {
		t.Fatalf("chain is not sub CA then external root:\n%s", chain)
	}
	sigiltest.OpenSSLVerify(t, rootPEM, subPEM, leaf)

	// The external parent allowed path length 0: this CA cannot issue CAs.
	deeper := createCA(t, c, types.CertificateAuthorityTypeSubordinate, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Too deep")
	_, err = c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &sub, Csr: caCSR(t, c, deeper),
		SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, TemplateArn: aws.String(tplSub0),
		Validity: &types.Validity{Type: types.ValidityPeriodTypeYears, Value: aws.Int64(1)}})
	wantCode(t, err, "InvalidArgsException")
}
