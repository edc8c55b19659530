package awsjson

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sigilhq/sigil/internal/errs"
)

// Known-answer vectors from the AWS Signature Version 4 test suite
// (credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
// us-east-1, service "service", 2015-08-30T12:36:00Z). Each case states the
// request and the signature the suite publishes for it.
const (
	suiteKeyID  = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteDate   = "20150830T123600Z"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

type suiteVector struct {
	name          string
	method        string
	path          string // decoded path
	rawQuery      string
	headers       [][2]string // in order; repeated names allowed
	body          string
	signedHeaders string
	signature     string
}

var suiteVectors = []suiteVector{
	{"get-vanilla", "GET", "/", "", nil, "", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"post-vanilla", "POST", "/", "", nil, "", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	{"post-vanilla-query", "POST", "/", "Param1=value1", nil, "", "host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
	{"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", nil, "", "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	{"get-vanilla-query-unreserved", "GET", "/",
		"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		nil, "", "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
	{"get-vanilla-utf8-query", "GET", "/", "%E1%88%B4=bar", nil, "", "host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
	{"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", nil, "", "host;x-amz-date",
		"07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
	{"get-utf8", "GET", "/\u1234", "", nil, "", "host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
	{"get-space-normalized", "GET", "/example space/", "", nil, "", "host;x-amz-date", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
	{"get-slash-dot-slash-normalized", "GET", "/./", "", nil, "", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-slashes-normalized", "GET", "//example//", "", nil, "", "host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
	{"get-relative-relative-normalized", "GET", "/example1/example2/../..", "", nil, "", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-header-value-trim", "GET", "/", "", [][2]string{{"My-Header1", " value1"}, {"My-Header2", `"a   b   c"`}}, "",
		"host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
	{"get-header-key-duplicate", "GET", "/", "", [][2]string{{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, "",
		"host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
	{"get-header-value-order", "GET", "/", "", [][2]string{{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}}, "",
		"host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
	{"get-vanilla-with-session-token", "GET", "/", "", [][2]string{{"X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}}, "",
		"host;x-amz-date;x-amz-security-token", "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
	{"post-x-www-form-urlencoded", "POST", "/", "", [][2]string{{"Content-Type", "application/x-www-form-urlencoded"},
		{"X-Amz-Content-Sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}}, "Param1=value1",
		"content-length;content-type;host;x-amz-content-sha256;x-amz-date", "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
	{"post-x-www-form-urlencoded-parameters", "POST", "/", "", [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
		{"X-Amz-Content-Sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}}, "Param1=value1",
		"content-length;content-type;host;x-amz-content-sha256;x-amz-date", "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422"},
}

func (v suiteVector) request() *http.Request {
	u := &url.URL{Path: v.path, RawQuery: v.rawQuery}
	r := &http.Request{Method: v.method, URL: u, Host: "example.amazonaws.com", Header: http.Header{}, ContentLength: int64(len(v.body))}
	for _, h := range v.headers {
		r.Header.Add(h[0], h[1])
	}
	r.Header.Set("X-Amz-Date", suiteDate)
	r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/20150830/us-east-1/service/aws4_request, SignedHeaders=%s, Signature=%s",
		suiteKeyID, v.signedHeaders, v.signature))
	return r
}

func TestSuiteVectors(t *testing.T) {
	verifier := &SigV4{Region: "us-east-1"}
	for _, v := range suiteVectors {
		t.Run(v.name, func(t *testing.T) {
			r := v.request()
			sig, err := verifier.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifier.CheckScope(sig, "service", suiteTime.Add(5*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := verifier.Verify(r, []byte(v.body), sig, []byte(suiteSecret)); err != nil {
				t.Fatalf("published signature rejected: %v", err)
			}
			// Any change to the signed material must be caught.
			bad := v.request()
			bad.Header.Set("X-Amz-Date", "20150830T123601Z")
			sig2, _ := verifier.Parse(bad)
			if sig2 != nil && verifier.Verify(bad, []byte(v.body), sig2, []byte(suiteSecret)) == nil {
				t.Fatal("changed date accepted")
			}
			if verifier.Verify(r, []byte(v.body+"x"), sig, []byte(suiteSecret)) == nil {
				t.Fatal("changed body accepted")
			}
			if verifier.Verify(r, []byte(v.body), sig, []byte(suiteSecret+"x")) == nil {
				t.Fatal("wrong secret accepted")
			}
		})
	}
}

// TestSDKSignerOracle signs random requests with the AWS SDK's signer and
// checks that the verifier accepts them, and rejects them once tampered.
func TestSDKSignerOracle(t *testing.T) {
	signer := v4.NewSigner()
	verifier := &SigV4{Region: "eu-central-1"}
	creds := aws.Credentials{AccessKeyID: "AKIAEXAMPLEORACLE", SecretAccessKey: "s3cr3t/with+chars"}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	for i := 0; i < 200; i++ {
		body := make([]byte, rng.IntN(2048))
		for j := range body {
			body[j] = byte(rng.IntN(256))
		}
		r, _ := http.NewRequest("POST", "http://127.0.0.1:8443/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "ACMPrivateCA.ListTags")
		r.Header.Set("X-Custom", fmt.Sprintf("  value  %d   with   spaces ", i))
		if i%3 == 0 {
			r.URL.RawQuery = fmt.Sprintf("b=%d&a=x%%20y&a=%d", i, rng.IntN(10))
		}
		h := sha256.Sum256(body)
		if err := signer.SignHTTP(context.Background(), creds, r, hex.EncodeToString(h[:]), "acm-pca", "eu-central-1", now); err != nil {
			t.Fatal(err)
		}
		sig, err := verifier.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifier.CheckScope(sig, "acm-pca", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := verifier.Verify(r, body, sig, []byte(creds.SecretAccessKey)); err != nil {
			t.Fatalf("request %d signed by the SDK rejected: %v", i, err)
		}
		// Tampering with a signed header, the body or the target fails.
		r.Header.Set("X-Amz-Target", "ACMPrivateCA.DeleteCertificateAuthority")
		if verifier.Verify(r, body, sig, []byte(creds.SecretAccessKey)) == nil {
			t.Fatal("tampered target accepted")
		}
		r.Header.Set("X-Amz-Target", "ACMPrivateCA.ListTags")
		if len(body) > 0 {
			body[0] ^= 1
			if verifier.Verify(r, body, sig, []byte(creds.SecretAccessKey)) == nil {
				t.Fatal("tampered body accepted")
			}
		}
	}
}

func TestScopeAndClock(t *testing.T) {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "AKIA1", SecretAccessKey: "x"}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sign := func(service, region string, at time.Time) (*http.Request, *Signature) {
		r, _ := http.NewRequest("POST", "http://h/", strings.NewReader("{}"))
		signer.SignHTTP(context.Background(), creds, r, hashHex([]byte("{}")), service, region, at)
		sig, err := (&SigV4{}).Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		return r, sig
	}
	v := &SigV4{Region: "us-east-1"}
	cases := []struct {
		name    string
		service string
		region  string
		at      time.Time
		code    errs.Code
		ok      bool
	}{
		{"fresh", "acm-pca", "us-east-1", now, "", true},
		{"14 minutes old", "acm-pca", "us-east-1", now.Add(-14 * time.Minute), "", true},
		{"16 minutes old", "acm-pca", "us-east-1", now.Add(-16 * time.Minute), codeInvalidSig, false},
		{"16 minutes ahead", "acm-pca", "us-east-1", now.Add(16 * time.Minute), codeInvalidSig, false},
		{"other region", "acm-pca", "eu-west-1", now, codeInvalidSig, false},
		{"other service", "kms", "us-east-1", now, codeInvalidSig, false},
	}
	for _, c := range cases {
		_, sig := sign(c.service, c.region, c.at)
		err := v.CheckScope(sig, "acm-pca", now)
		if c.ok != (err == nil) || (!c.ok && errs.CodeOf(err) != c.code) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	v := &SigV4{}
	good := "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/acm-pca/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
	cases := map[string]struct {
		auth, date string
		code       errs.Code
	}{
		"missing":            {"", "20260101T000000Z", codeMissingToken},
		"other algorithm":    {strings.Replace(good, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1), "20260101T000000Z", codeIncomplete},
		"no signature":       {strings.Replace(good, ", Signature=00", "", 1), "20260101T000000Z", codeIncomplete},
		"short scope":        {strings.Replace(good, "/acm-pca/aws4_request", "/aws4_request", 1), "20260101T000000Z", codeIncomplete},
		"host not signed":    {strings.Replace(good, "host;", "", 1), "20260101T000000Z", codeIncomplete},
		"date not signed":    {strings.Replace(good, ";x-amz-date", "", 1), "20260101T000000Z", codeIncomplete},
		"unsorted headers":   {strings.Replace(good, "host;x-amz-date", "x-amz-date;host", 1), "20260101T000000Z", codeIncomplete},
		"no date":            {good, "", codeIncomplete},
		"bad date":           {good, "yesterday", codeIncomplete},
		"scope date differs": {good, "20260102T000000Z", codeInvalidSig},
	}
	for name, c := range cases {
		r, _ := http.NewRequest("POST", "http://h/", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if c.date != "" {
			r.Header.Set("X-Amz-Date", c.date)
		}
		_, err := v.Parse(r)
		if errs.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	// A missing signed header is an invalid signature, not a crash.
	r, _ := http.NewRequest("POST", "http://h/", nil)
	r.Header.Set("Authorization", strings.Replace(good, "host;x-amz-date", "host;x-amz-date;x-missing", 1))
	r.Header.Set("X-Amz-Date", "20260101T000000Z")
	sig, err := v.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(r, nil, sig, []byte("x")); errs.CodeOf(err) != codeInvalidSig {
		t.Fatalf("missing signed header: %v", err)
	}
	// A wrong content hash claim is refused.
	r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
	if err := v.Verify(r, nil, sig, []byte("x")); errs.CodeOf(err) != codeInvalidSig {
		t.Fatalf("wrong x-amz-content-sha256: %v", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/acm-pca/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20260101T000000Z")
	f.Add("AWS4-HMAC-SHA256 ,,,==", "x")
	f.Fuzz(func(t *testing.T, auth, date string) {
		r, _ := http.NewRequest("POST", "http://h/", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		v := &SigV4{}
		sig, err := v.Parse(r)
		if err != nil {
			return
		}
		// A parsed header never verifies with a random secret.
		if v.Verify(r, nil, sig, []byte("fuzz-secret")) == nil {
			t.Fatalf("fuzzed signature verified: %q", auth)
		}
	})
}
