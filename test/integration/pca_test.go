package integration

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// TestTwoLevelHierarchy builds the hierarchy of the README with the SDK:
// root → subordinate → end-entity certificates, checked by openssl.
func TestTwoLevelHierarchy(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()

	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcSecp384r1, types.SigningAlgorithmSha384withecdsa, "Test Root CA")
	d, err := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root})
	if err != nil || d.CertificateAuthority.Status != types.CertificateAuthorityStatusPendingCertificate {
		t.Fatalf("new root: %+v %v", d, err)
	}
	rootPEM := activateRoot(t, c, root, types.SigningAlgorithmSha384withecdsa, 10)
	rootCert := parse(t, rootPEM)

	d, err = c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root})
	if err != nil {
		t.Fatal(err)
	}
	ca := d.CertificateAuthority
	if ca.Status != types.CertificateAuthorityStatusActive || !ca.NotAfter.Equal(rootCert.NotAfter) ||
		aws.ToString(ca.Serial) != pki.SerialHex(rootCert.SerialNumber) || aws.ToString(ca.OwnerAccount) != "000000000000" ||
		ca.CertificateAuthorityConfiguration.KeyAlgorithm != types.KeyAlgorithmEcSecp384r1 ||
		aws.ToString(ca.CertificateAuthorityConfiguration.Subject.CommonName) != "Test Root CA" ||
		ca.KeyStorageSecurityStandard != types.KeyStorageSecurityStandardFips1402Level3OrHigher ||
		ca.UsageMode != types.CertificateAuthorityUsageModeGeneralPurpose || ca.CreatedAt == nil {
		t.Fatalf("describe root: %+v", ca)
	}
	caCert, err := c.GetCertificateAuthorityCertificate(ctx, &acmpca.GetCertificateAuthorityCertificateInput{CertificateAuthorityArn: &root})
	if err != nil || aws.ToString(caCert.CertificateChain) != "" || !bytes.Equal([]byte(*caCert.Certificate), rootPEM) {
		t.Fatalf("root CA certificate: %v chain=%q", err, aws.ToString(caCert.CertificateChain))
	}

	sub := createCA(t, c, types.CertificateAuthorityTypeSubordinate, types.KeyAlgorithmRsa2048, types.SigningAlgorithmSha256withrsa, "Test Issuing CA")
	subPEM, subChain := activateSub(t, c, root, sub, types.SigningAlgorithmSha384withecdsa, tplSub0, 5)
	if !bytes.Equal(subChain, rootPEM) {
		t.Fatal("the subordinate CA's chain is not the root certificate")
	}
	subCert := parse(t, subPEM)
	if !subCert.IsCA || subCert.MaxPathLen != 0 || !subCert.MaxPathLenZero || !bytes.Equal(subCert.AuthorityKeyId, rootCert.SubjectKeyId) {
		t.Fatalf("subordinate certificate: isCA=%v pathlen=%d", subCert.IsCA, subCert.MaxPathLen)
	}
	sigiltest.OpenSSLVerify(t, rootPEM, nil, subPEM)
	gca, err := c.GetCertificateAuthorityCertificate(ctx, &acmpca.GetCertificateAuthorityCertificateInput{CertificateAuthorityArn: &sub})
	if err != nil || aws.ToString(gca.CertificateChain) != string(rootPEM) {
		t.Fatalf("subordinate CA certificate chain: %v", err)
	}

	// End-entity certificates from CSRs of every key type.
	for _, alg := range []pki.KeyAlgorithm{pki.ECP256, pki.RSA2048, pki.ECP384} {
		csr, _ := newCSR(t, alg, "svc-"+strings.ToLower(string(alg))+".example.internal", "svc.example.internal", "api.example.internal")
		arn, cert, chain := issue(t, c, &acmpca.IssueCertificateInput{
			CertificateAuthorityArn: &sub, Csr: csr, SigningAlgorithm: types.SigningAlgorithmSha256withrsa,
			Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(90)},
		})
		leaf := parse(t, cert)
		if !strings.HasPrefix(arn, sub+"/certificate/") || !strings.HasSuffix(arn, pki.SerialHex(leaf.SerialNumber)) {
			t.Fatalf("certificate ARN %s", arn)
		}
		// The chain runs from the issuing CA up to the root.
		if want := append(append([]byte{}, subPEM...), rootPEM...); !bytes.Equal(chain, want) {
			t.Fatalf("chain is not issuing CA then root")
		}
		sigiltest.OpenSSLVerify(t, rootPEM, subPEM, cert)
		if len(leaf.DNSNames) != 2 || leaf.IsCA || leaf.NotAfter.Sub(leaf.NotBefore) < 90*24*time.Hour ||
			!bytes.Equal(leaf.AuthorityKeyId, subCert.SubjectKeyId) || leaf.SerialNumber.BitLen() < 100 {
			t.Fatalf("leaf %s: %+v", alg, leaf)
		}
	}
}

// TestAlgorithms creates a root CA of every key algorithm and issues with
// every signing algorithm of its family.
func TestAlgorithms(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	families := []struct {
		key  types.KeyAlgorithm
		sigs []types.SigningAlgorithm
	}{
		{types.KeyAlgorithmEcPrime256v1, []types.SigningAlgorithm{"SHA256WITHECDSA", "SHA384WITHECDSA", "SHA512WITHECDSA"}},
		{types.KeyAlgorithmEcSecp384r1, []types.SigningAlgorithm{"SHA384WITHECDSA"}},
		{types.KeyAlgorithmEcSecp521r1, []types.SigningAlgorithm{"SHA512WITHECDSA"}},
		{types.KeyAlgorithmRsa2048, []types.SigningAlgorithm{"SHA256WITHRSA", "SHA384WITHRSA", "SHA512WITHRSA", "SHA256WITHRSA_PSS", "SHA384WITHRSA_PSS", "SHA512WITHRSA_PSS"}},
		{"RSA_3072", []types.SigningAlgorithm{"SHA384WITHRSA"}},
		{types.KeyAlgorithmRsa4096, []types.SigningAlgorithm{"SHA512WITHRSA_PSS"}},
	}
	csr, _ := newCSR(t, pki.ECP256, "alg.example.internal", "alg.example.internal")
	for _, f := range families {
		t.Run(string(f.key), func(t *testing.T) {
			arn := createCA(t, c, types.CertificateAuthorityTypeRoot, f.key, f.sigs[0], "Root "+string(f.key))
			rootPEM := activateRoot(t, c, arn, f.sigs[0], 2)
			if got, _ := pki.KeyAlgorithmOf(parse(t, rootPEM).PublicKey); string(got) != string(f.key) {
				t.Fatalf("CA key is %s", got)
			}
			for _, sig := range f.sigs {
				_, cert, _ := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &arn, Csr: csr, SigningAlgorithm: sig})
				if got := parse(t, cert).SignatureAlgorithm; got != pki.SigningAlgorithm(sig).X509() {
					t.Fatalf("signed with %v, want %s", got, sig)
				}
				sigiltest.OpenSSLVerify(t, rootPEM, nil, cert)
			}
			// The other family's algorithms are refused.
			other := types.SigningAlgorithmSha256withrsa
			if strings.HasPrefix(string(f.key), "RSA") {
				other = types.SigningAlgorithmSha256withecdsa
			}
			_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &arn, Csr: csr, SigningAlgorithm: other,
				Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(1)}})
			wantCode(t, err, "InvalidArgsException")
		})
	}
}

// TestTemplatesAndPassthrough issues with every template family through the
// API and checks the extensions each sets.
func TestTemplatesAndPassthrough(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Template Root")
	rootPEM := activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 5)
	csr, _ := newCSR(t, pki.RSA2048, "tpl.example.internal", "tpl.example.internal")
	// Blank templates take key usage from the CSR or the API; give the CSR
	// one for the CSR-passthrough variants.
	eeKU := &types.KeyUsage{DigitalSignature: true, KeyEncipherment: true}
	caKU := &types.KeyUsage{DigitalSignature: true, KeyCertSign: true, CRLSign: true}
	kuExt, err := pki.MarshalKeyUsage(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, true)
	if err != nil {
		t.Fatal(err)
	}
	blankCSR := csrWithExtensions(t, "blank.example.internal", kuExt)
	for _, tpl := range pki.Templates() {
		if tpl.Kind == pki.RootCA {
			continue // a root template only self-signs the CA's own CSR (TestTwoLevelHierarchy, TestRootCertificateRenewalAndReimport)
		}
		t.Run(tpl.Name, func(t *testing.T) {
			in := &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: csr, SigningAlgorithm: types.SigningAlgorithmSha256withecdsa,
				TemplateArn: aws.String(tpl.ARN())}
			if tpl.IsCA() {
				in.Validity = &types.Validity{Type: types.ValidityPeriodTypeYears, Value: aws.Int64(1)}
				sub, err := c.CreateCertificateAuthority(ctx, &acmpca.CreateCertificateAuthorityInput{
					CertificateAuthorityType: types.CertificateAuthorityTypeSubordinate,
					CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{
						KeyAlgorithm: types.KeyAlgorithmEcPrime256v1, SigningAlgorithm: types.SigningAlgorithmSha256withecdsa,
						Subject:       &types.ASN1Subject{CommonName: aws.String("Sub " + tpl.Name)},
						CsrExtensions: &types.CsrExtensions{KeyUsage: caKU}, // requested in the CA's CSR
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				in.Csr = caCSR(t, c, *sub.CertificateAuthorityArn)
			}
			if tpl.Blank {
				if tpl.APIPassthrough {
					ku := eeKU
					if tpl.IsCA() {
						ku = caKU
					}
					in.ApiPassthrough = &types.ApiPassthrough{Extensions: &types.Extensions{KeyUsage: ku}}
				} else if !tpl.IsCA() {
					in.Csr = blankCSR
				}
			}
			_, cert, _ := issue(t, c, in)
			leaf := parse(t, cert)
			sigiltest.OpenSSLVerify(t, rootPEM, nil, cert)
			if leaf.IsCA != tpl.IsCA() {
				t.Fatalf("IsCA %v", leaf.IsCA)
			}
			switch {
			case !tpl.Blank:
				if leaf.KeyUsage != pki.TemplateKeyUsage(tpl, leaf.PublicKey) {
					t.Fatalf("key usage %v", leaf.KeyUsage)
				}
			case tpl.IsCA():
				if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
					t.Fatalf("blank CA template key usage %v", leaf.KeyUsage)
				}
			default:
				if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
					t.Fatalf("blank template key usage %v", leaf.KeyUsage)
				}
			}
		})
	}

	// API passthrough: subject, SANs of several kinds, policies, a custom
	// extension; the CSR's values lose to the API's.
	custom := base64.StdEncoding.EncodeToString([]byte{0x0c, 0x05, 'h', 'e', 'l', 'l', 'o'})
	_, cert, _ := issue(t, c, &acmpca.IssueCertificateInput{
		CertificateAuthorityArn: &root, Csr: csr, SigningAlgorithm: types.SigningAlgorithmSha256withecdsa,
		TemplateArn: aws.String("arn:aws:acm-pca:::template/EndEntityCertificate_APIPassthrough/V1"),
		ApiPassthrough: &types.ApiPassthrough{
			Subject: &types.ASN1Subject{CommonName: aws.String("api.example.internal"), OrganizationalUnit: aws.String("Platform")},
			Extensions: &types.Extensions{
				SubjectAlternativeNames: []types.GeneralName{{DnsName: aws.String("api.example.internal")},
					{IpAddress: aws.String("10.1.2.3")}, {UniformResourceIdentifier: aws.String("spiffe://example.internal/svc/api")},
					{Rfc822Name: aws.String("ops@example.internal")}},
				CertificatePolicies: []types.PolicyInformation{{CertPolicyId: aws.String("1.3.6.1.4.1.99999.1.1"),
					PolicyQualifiers: []types.PolicyQualifierInfo{{PolicyQualifierId: types.PolicyQualifierIdCps,
						Qualifier: &types.Qualifier{CpsUri: aws.String("https://pki.example.internal/cps")}}}}},
				CustomExtensions: []types.CustomExtension{{ObjectIdentifier: aws.String("1.3.6.1.4.1.99999.2"),
					Value: aws.String(custom)}},
			},
		},
	})
	leaf := parse(t, cert)
	if leaf.Subject.CommonName != "api.example.internal" || leaf.Subject.OrganizationalUnit[0] != "Platform" ||
		len(leaf.DNSNames) != 1 || len(leaf.IPAddresses) != 1 || len(leaf.URIs) != 1 || len(leaf.EmailAddresses) != 1 ||
		len(leaf.PolicyIdentifiers) != 1 || !bytes.Contains(leaf.Raw, []byte("hello")) {
		t.Fatalf("API passthrough not applied: %v %v %v %v", leaf.Subject, leaf.DNSNames, leaf.URIs, leaf.PolicyIdentifiers)
	}
	text := sigiltest.OpenSSL(t, "x509", "-noout", "-text", "-in", writeTemp(t, cert))
	for _, want := range []string{"DNS:api.example.internal", "IP Address:10.1.2.3", "URI:spiffe://example.internal/svc/api",
		"email:ops@example.internal", "Policy: 1.3.6.1.4.1.99999.1.1", "CPS: https://pki.example.internal/cps", "1.3.6.1.4.1.99999.2"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q", want)
		}
	}
}

func TestRootCertificateRenewalAndReimport(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Renewing Root")
	first := activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 1)
	// An ACTIVE root may self-sign a new certificate with the same key and
	// import it (CA certificate renewal).
	second := activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 5)
	a, b := parse(t, first), parse(t, second)
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 || !bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo) {
		t.Fatal("renewal did not produce a new certificate for the same key")
	}
	d, _ := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root})
	if !d.CertificateAuthority.NotAfter.Equal(b.NotAfter) {
		t.Fatal("describe does not show the renewed certificate")
	}
}

func TestLifecycleWithDevClock(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Lifecycle Root")
	activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 1)
	status := func() types.CertificateAuthorityStatus {
		d, err := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root})
		if err != nil {
			t.Fatal(err)
		}
		return d.CertificateAuthority.Status
	}
	issueOne := func() error {
		_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: quickCSR(t, "l.example"),
			SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(1)}})
		return err
	}
	if _, err := c.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{CertificateAuthorityArn: &root, Status: types.CertificateAuthorityStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	if status() != types.CertificateAuthorityStatusDisabled {
		t.Fatal("not disabled")
	}
	wantCode(t, issueOne(), "InvalidStateException")
	_, err := c.DeleteCertificateAuthority(ctx, &acmpca.DeleteCertificateAuthorityInput{CertificateAuthorityArn: &root, PermanentDeletionTimeInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root})
	if d.CertificateAuthority.Status != types.CertificateAuthorityStatusDeleted || d.CertificateAuthority.RestorableUntil == nil {
		t.Fatalf("deleted CA: %+v", d.CertificateAuthority)
	}
	if _, err := c.RestoreCertificateAuthority(ctx, &acmpca.RestoreCertificateAuthorityInput{CertificateAuthorityArn: &root}); err != nil {
		t.Fatal(err)
	}
	if status() != types.CertificateAuthorityStatusDisabled {
		t.Fatal("restore did not return to DISABLED")
	}
	if _, err := c.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{CertificateAuthorityArn: &root, Status: types.CertificateAuthorityStatusActive}); err != nil {
		t.Fatal(err)
	}
	if err := issueOne(); err != nil {
		t.Fatal(err)
	}

	// Move the server clock past the CA's expiry with the dev endpoint.
	advance(t, env.URL, "9000h")
	if status() != types.CertificateAuthorityStatusExpired {
		t.Fatalf("status after expiry: %s", status())
	}
	wantCode(t, issueOne(), "InvalidStateException")
	// Delete it and let the restore window pass: it disappears.
	if _, err := c.DeleteCertificateAuthority(ctx, &acmpca.DeleteCertificateAuthorityInput{CertificateAuthorityArn: &root, PermanentDeletionTimeInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	advance(t, env.URL, "169h")
	_, err = c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root})
	wantCode(t, err, "ResourceNotFoundException")
	if n, err := env.Server.CA().Purge(ctx, nil); n != 1 || err != nil {
		t.Fatalf("purge removed %d (%v)", n, err)
	}
}

func TestIdempotencyTokens(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	in := &acmpca.CreateCertificateAuthorityInput{
		CertificateAuthorityType: types.CertificateAuthorityTypeRoot, IdempotencyToken: aws.String("create-once"),
		CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{KeyAlgorithm: types.KeyAlgorithmEcPrime256v1,
			SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Subject: &types.ASN1Subject{CommonName: aws.String("Idem Root")}},
	}
	a, err := c.CreateCertificateAuthority(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateCertificateAuthority(ctx, in)
	if err != nil || *a.CertificateAuthorityArn != *b.CertificateAuthorityArn {
		t.Fatalf("same token, different CAs: %v", err)
	}
	root := *a.CertificateAuthorityArn
	activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 1)
	issueIn := &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: quickCSR(t, "i.example"),
		SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, IdempotencyToken: aws.String("issue-once"),
		Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(1)}}
	var wg sync.WaitGroup
	arns := make([]string, 6)
	for i := range arns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := c.IssueCertificate(ctx, issueIn)
			if err != nil {
				t.Error(err)
				return
			}
			arns[i] = *out.CertificateArn
		}(i)
	}
	wg.Wait()
	for _, arn := range arns {
		if arn != arns[0] {
			t.Fatalf("one token, several certificates: %v", arns)
		}
	}
	issueIn.Validity.Value = aws.Int64(2)
	_, err = c.IssueCertificate(ctx, issueIn)
	wantCode(t, err, "InvalidArgsException")
}

func TestListingAndTags(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	var created []string
	for i := 0; i < 5; i++ {
		created = append(created, createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1,
			types.SigningAlgorithmSha256withecdsa, fmt.Sprintf("List %d", i)))
	}
	var listed []string
	p := acmpca.NewListCertificateAuthoritiesPaginator(c, &acmpca.ListCertificateAuthoritiesInput{MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ca := range out.CertificateAuthorities {
			listed = append(listed, *ca.Arn)
		}
	}
	if pages != 3 || fmt.Sprint(listed) != fmt.Sprint(created) {
		t.Fatalf("%d pages, listed %v", pages, listed)
	}
	other, err := c.ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{ResourceOwner: types.ResourceOwnerOtherAccounts})
	if err != nil || len(other.CertificateAuthorities) != 0 {
		t.Fatalf("OTHER_ACCOUNTS: %v %v", other, err)
	}

	arn := created[0]
	var tags []types.Tag
	for i := 0; i < 12; i++ {
		tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("key-%02d", i)), Value: aws.String(fmt.Sprint(i))})
	}
	if _, err := c.TagCertificateAuthority(ctx, &acmpca.TagCertificateAuthorityInput{CertificateAuthorityArn: &arn, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagCertificateAuthority(ctx, &acmpca.UntagCertificateAuthorityInput{CertificateAuthorityArn: &arn,
		Tags: []types.Tag{{Key: aws.String("key-00")}, {Key: aws.String("key-01"), Value: aws.String("not-1")}}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	tp := acmpca.NewListTagsPaginator(c, &acmpca.ListTagsInput{CertificateAuthorityArn: &arn, MaxResults: aws.Int32(5)})
	for tp.HasMorePages() {
		out, err := tp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range out.Tags {
			got = append(got, *tg.Key+"="+*tg.Value)
		}
	}
	if len(got) != 11 || got[0] != "key-01=1" {
		t.Fatalf("tags after untag: %v", got)
	}
	// Tags given at creation.
	out, err := c.CreateCertificateAuthority(ctx, &acmpca.CreateCertificateAuthorityInput{
		CertificateAuthorityType: types.CertificateAuthorityTypeRoot, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("pki")}},
		CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{KeyAlgorithm: types.KeyAlgorithmEcPrime256v1,
			SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Subject: &types.ASN1Subject{CommonName: aws.String("Tagged")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTags(ctx, &acmpca.ListTagsInput{CertificateAuthorityArn: out.CertificateAuthorityArn})
	if err != nil || len(lt.Tags) != 1 || *lt.Tags[0].Value != "pki" {
		t.Fatalf("tags at creation: %+v %v", lt, err)
	}
}

func TestValidityOptions(t *testing.T) {
	env := sigiltest.Start(t)
	c := env.PCA()
	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Validity Root")
	rootCert := parse(t, activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 3))
	now := time.Now().UTC()
	end := now.AddDate(1, 0, 0).Truncate(time.Second)
	start := now.Add(48 * time.Hour).Truncate(time.Second)
	cases := []struct {
		name   string
		v      types.Validity
		nb     *types.Validity
		expect func(*x509.Certificate) bool
	}{
		{"DAYS", types.Validity{Type: "DAYS", Value: aws.Int64(10)}, nil, func(c *x509.Certificate) bool {
			return c.NotAfter.Sub(now) > 9*24*time.Hour && c.NotAfter.Sub(now) <= 10*24*time.Hour+time.Minute
		}},
		{"MONTHS", types.Validity{Type: "MONTHS", Value: aws.Int64(2)}, nil, func(c *x509.Certificate) bool {
			return c.NotAfter.After(now.AddDate(0, 2, -1)) && c.NotAfter.Before(now.AddDate(0, 2, 1))
		}},
		{"YEARS", types.Validity{Type: "YEARS", Value: aws.Int64(1)}, nil, func(c *x509.Certificate) bool {
			return c.NotAfter.After(now.AddDate(1, 0, -1)) && c.NotAfter.Before(now.AddDate(1, 0, 1))
		}},
		{"ABSOLUTE", types.Validity{Type: "ABSOLUTE", Value: aws.Int64(end.Unix())}, nil, func(c *x509.Certificate) bool { return c.NotAfter.Equal(end) }},
		{"END_DATE", types.Validity{Type: "END_DATE", Value: aws.Int64(mustInt(end.Format("20060102150405")))}, nil, func(c *x509.Certificate) bool { return c.NotAfter.Equal(end) }},
		{"NotBefore", types.Validity{Type: "DAYS", Value: aws.Int64(30)}, &types.Validity{Type: "ABSOLUTE", Value: aws.Int64(start.Unix())},
			func(c *x509.Certificate) bool { return c.NotBefore.Equal(start) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			_, cert, _ := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: quickCSR(t, "v.example"),
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: &v, ValidityNotBefore: tc.nb})
			leaf := parse(t, cert)
			if !tc.expect(leaf) {
				t.Fatalf("validity %v - %v", leaf.NotBefore, leaf.NotAfter)
			}
			if leaf.NotAfter.After(rootCert.NotAfter) {
				t.Fatal("certificate outlives its CA")
			}
		})
	}
	_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: quickCSR(t, "v.example"),
		SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: &types.Validity{Type: "YEARS", Value: aws.Int64(4)}})
	wantCode(t, err, "ValidationException")
}

func mustInt(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}
