package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// TestErrorCodes checks each acm-pca error code the issue names, through the
// SDK, and that nothing was half-written by a refused call.
func TestErrorCodes(t *testing.T) {
	env := sigiltest.Start(t, func(c *config.Config) { c.Limits.CAsPerAccount = 6 })
	c := env.PCA()
	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Err Root")
	pending := createCA(t, c, types.CertificateAuthorityTypeSubordinate, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Err Pending")
	rootPEM := activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 2)
	missing := root[:len(root)-12] + "000000000000"
	days := func(n int64) *types.Validity {
		return &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(n)}
	}
	okCSR := quickCSR(t, "ok.example")

	// Another account's administrator.
	env.Server.IAM().AddStaticKey("AKIAOTHERACCOUNT", "other-secret", iam.Principal{Account: "111111111111",
		ARN: "arn:aws:iam::111111111111:user/other", Admin: true})
	otherClient := env.PCAAs("AKIAOTHERACCOUNT", "other-secret")

	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"ResourceNotFound", func() error {
			_, err := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &missing})
			return err
		}, "ResourceNotFoundException"},
		{"ResourceNotFound certificate", func() error {
			_, err := c.GetCertificate(ctx, &acmpca.GetCertificateInput{CertificateAuthorityArn: &root,
				CertificateArn: aws.String(root + "/certificate/0123456789abcdef0123456789abcdef")})
			return err
		}, "ResourceNotFoundException"},
		{"InvalidArn", func() error {
			_, err := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: aws.String("arn:aws:acm-pca:us-east-1:000000000000:ca/x")})
			return err
		}, "InvalidArnException"},
		{"InvalidState issue from pending CA", func() error {
			_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &pending, Csr: okCSR,
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: days(1)})
			return err
		}, "InvalidStateException"},
		{"InvalidState delete active CA", func() error {
			_, err := c.DeleteCertificateAuthority(ctx, &acmpca.DeleteCertificateAuthorityInput{CertificateAuthorityArn: &root})
			return err
		}, "InvalidStateException"},
		{"InvalidState certificate of pending CA", func() error {
			_, err := c.GetCertificateAuthorityCertificate(ctx, &acmpca.GetCertificateAuthorityCertificateInput{CertificateAuthorityArn: &pending})
			return err
		}, "InvalidStateException"},
		{"InvalidArgs algorithm mismatch", func() error {
			_, err := c.CreateCertificateAuthority(ctx, &acmpca.CreateCertificateAuthorityInput{CertificateAuthorityType: types.CertificateAuthorityTypeRoot,
				CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{KeyAlgorithm: types.KeyAlgorithmRsa2048,
					SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Subject: &types.ASN1Subject{CommonName: aws.String("x")}}})
			return err
		}, "InvalidArgsException"},
		{"InvalidArgs unknown template", func() error {
			_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: okCSR,
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: days(1), TemplateArn: aws.String("arn:aws:acm-pca:::template/Nope/V1")})
			return err
		}, "InvalidArgsException"},
		{"Validation enum", func() error {
			_, err := c.CreateCertificateAuthority(ctx, &acmpca.CreateCertificateAuthorityInput{CertificateAuthorityType: "INTERMEDIATE",
				CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{KeyAlgorithm: types.KeyAlgorithmRsa2048,
					SigningAlgorithm: types.SigningAlgorithmSha256withrsa, Subject: &types.ASN1Subject{CommonName: aws.String("x")}}})
			return err
		}, "ValidationException"},
		{"Validation deletion window", func() error {
			_, err := c.DeleteCertificateAuthority(ctx, &acmpca.DeleteCertificateAuthorityInput{CertificateAuthorityArn: &pending, PermanentDeletionTimeInDays: aws.Int32(3)})
			return err
		}, "ValidationException"},
		{"Validation outlives CA", func() error {
			_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: okCSR,
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: days(3 * 366)})
			return err
		}, "ValidationException"},
		{"MalformedCSR garbage", func() error {
			_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: []byte("not a csr"),
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: days(1)})
			return err
		}, "MalformedCSRException"},
		{"MalformedCSR bad signature", func() error {
			bad := badSignatureCSR(t)
			_, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: bad,
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: days(1)})
			return err
		}, "MalformedCSRException"},
		{"MalformedCertificate", func() error {
			_, err := c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{
				CertificateAuthorityArn: &pending, Certificate: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")})
			return err
		}, "MalformedCertificateException"},
		{"CertificateMismatch", func() error {
			_, err := c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{
				CertificateAuthorityArn: &pending, Certificate: rootPEM})
			return err
		}, "CertificateMismatchException"},
		{"InvalidRequest chain missing", func() error {
			_, cert, _ := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: caCSR(t, c, pending),
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, TemplateArn: aws.String(tplSub0)})
			_, err := c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{
				CertificateAuthorityArn: &pending, Certificate: cert})
			return err
		}, "InvalidRequestException"},
		{"InvalidTag", func() error {
			_, err := c.TagCertificateAuthority(ctx, &acmpca.TagCertificateAuthorityInput{CertificateAuthorityArn: &root,
				Tags: []types.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("x")}}})
			return err
		}, "InvalidTagException"},
		{"TooManyTags", func() error {
			var tags []types.Tag
			for i := 0; i < 51; i++ {
				tags = append(tags, types.Tag{Key: aws.String(strings.Repeat("k", 1+i%20) + string(rune('a'+i/20)))})
			}
			_, err := c.TagCertificateAuthority(ctx, &acmpca.TagCertificateAuthorityInput{CertificateAuthorityArn: &root, Tags: tags})
			return err
		}, "TooManyTagsException"},
		{"InvalidNextToken", func() error {
			_, err := c.ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{NextToken: aws.String("garbage")})
			return err
		}, "InvalidNextTokenException"},
		{"AccessDenied other account", func() error {
			_, err := otherClient.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root})
			return err
		}, "AccessDeniedException"},
		{"UnrecognizedClient", func() error {
			_, err := env.PCAAs("AKIANOBODY", "x").ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{})
			return err
		}, "UnrecognizedClientException"},
		{"InvalidSignature wrong secret", func() error {
			_, err := env.PCAAs("test", "wrong").ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{})
			return err
		}, "InvalidSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}

	// LimitExceeded: the limit is 6 CAs per account in this server.
	var err error
	for i := 0; i < 6 && err == nil; i++ {
		_, err = c.CreateCertificateAuthority(ctx, &acmpca.CreateCertificateAuthorityInput{CertificateAuthorityType: types.CertificateAuthorityTypeRoot,
			CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{KeyAlgorithm: types.KeyAlgorithmEcPrime256v1,
				SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Subject: &types.ASN1Subject{CommonName: aws.String("fill")}}})
	}
	wantCode(t, err, "LimitExceededException")

	// Refused calls left nothing behind: the pending CA is still pending,
	// and the root still has no tags.
	d, _ := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &pending})
	if d.CertificateAuthority.Status != types.CertificateAuthorityStatusPendingCertificate {
		t.Fatalf("refused import changed the CA: %s", d.CertificateAuthority.Status)
	}
	lt, _ := c.ListTags(ctx, &acmpca.ListTagsInput{CertificateAuthorityArn: &root})
	if len(lt.Tags) != 0 {
		t.Fatalf("refused tag calls wrote tags: %v", lt.Tags)
	}
}

func badSignatureCSR(t *testing.T) []byte {
	certs := quickCSR(t, "bad.example")
	blocks, _ := pemDecode(certs)
	blocks[len(blocks)-3] ^= 0x55
	return pki.EncodePEM("CERTIFICATE REQUEST", blocks)
}

// rawCall signs and sends one AWS JSON request by hand.
func rawCall(t *testing.T, url, target, body string, signAt time.Time, mutate func(*http.Request)) (*http.Response, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if !signAt.IsZero() {
		h := sha256Hex([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
			req, h, "acm-pca", "us-east-1", signAt); err != nil {
			t.Fatal(err)
		}
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := map[string]string{}
	json.Unmarshal(raw, &m)
	return resp, m
}

func TestProtocolErrors(t *testing.T) {
	env := sigiltest.Start(t)
	now := time.Now()
	cases := []struct {
		name   string
		target string
		body   string
		at     time.Time
		mutate func(*http.Request)
		status int
		code   string
	}{
		{"unknown operation", "ACMPrivateCA.MakeCoffee", "{}", now, nil, 400, "UnknownOperationException"},
		{"unknown service", "Nope.ListThings", "{}", now, nil, 400, "UnknownOperationException"},
		{"no target", "", "{}", now, nil, 400, "UnknownOperationException"},
		{"malformed JSON", "ACMPrivateCA.ListCertificateAuthorities", "{not json", now, nil, 400, "SerializationException"},
		{"wrong type", "ACMPrivateCA.ListCertificateAuthorities", `{"MaxResults":"ten"}`, now, nil, 400, "SerializationException"},
		{"missing signature", "ACMPrivateCA.ListCertificateAuthorities", "{}", time.Time{}, nil, 400, "MissingAuthenticationTokenException"},
		{"malformed signature", "ACMPrivateCA.ListCertificateAuthorities", "{}", now, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage")
		}, 400, "IncompleteSignatureException"},
		{"expired signature", "ACMPrivateCA.ListCertificateAuthorities", "{}", now.Add(-20 * time.Minute), nil, 400, "InvalidSignatureException"},
		{"signature from the future", "ACMPrivateCA.ListCertificateAuthorities", "{}", now.Add(20 * time.Minute), nil, 400, "InvalidSignatureException"},
		{"tampered body", "ACMPrivateCA.ListCertificateAuthorities", "{}", now, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"MaxResults":1}`))
			r.ContentLength = 16
		}, 400, "InvalidSignatureException"},
		{"tampered target", "ACMPrivateCA.ListCertificateAuthorities", "{}", now, func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "ACMPrivateCA.ListTags")
		}, 400, "InvalidSignatureException"},
		{"body too large", "ACMPrivateCA.ListCertificateAuthorities", `{"x":"` + strings.Repeat("a", 5<<20) + `"}`, now, nil, 413, "RequestEntityTooLargeException"},
		{"ok", "ACMPrivateCA.ListCertificateAuthorities", "", now, nil, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawCall(t, env.URL, tc.target, tc.body, tc.at, tc.mutate)
			if resp.StatusCode != tc.status || body["__type"] != tc.code {
				t.Fatalf("status %d __type %q (%v), want %d %q", resp.StatusCode, body["__type"], body, tc.status, tc.code)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Fatal("no x-amzn-RequestId")
			}
			if tc.code != "" && body["message"] == "" {
				t.Fatal("error without a message")
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// TestInternalErrorsHideDetail breaks the store under a running server: the
// client gets InternalFailure with a request ID and no internal detail; the
// detail goes to the log under that request ID.
func TestInternalErrorsHideDetail(t *testing.T) {
	env := sigiltest.Start(t)
	env.Server.Store().Close() // the database goes away under the running handlers
	resp, body := rawCall(t, env.URL, "ACMPrivateCA.ListCertificateAuthorities", "{}", time.Now(), nil)
	if resp.StatusCode != 500 || body["__type"] != "InternalFailure" {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	id := resp.Header.Get("x-amzn-RequestId")
	if !strings.Contains(body["message"], id) || strings.Contains(strings.ToLower(body["message"]), "sql") ||
		strings.Contains(body["message"], "closed") {
		t.Fatalf("internal detail leaked or request ID missing: %q", body["message"])
	}
	logs := env.LogText()
	if !strings.Contains(logs, id) || !strings.Contains(logs, "closed") {
		t.Fatalf("the log lacks the request ID or the cause:\n%s", logs)
	}
}

func sha256Hex(b []byte) string {
	return hexSum(b)
}
