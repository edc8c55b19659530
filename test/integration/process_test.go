package integration

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/sigiltest"
)

var loopbackPorts = []string{"--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"}

// TestRestartKeepsEverything issues certificates from a server process,
// restarts it on the same data directory, and checks that every CA and
// certificate is still there and that the CA keys still sign.
func TestRestartKeepsEverything(t *testing.T) {
	dataDir := t.TempDir()
	args := append(append([]string{"--dev", "--data-dir", dataDir}, loopbackPorts...), sigiltest.StoreArgs(t)...)
	p := sigiltest.StartProcess(t, args...)
	c := sigiltest.PCAClient(p.URL, sigiltest.AWSConfig("test", "test", "us-east-1", nil))

	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Restart Root")
	rootPEM := activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 5)
	sub := createCA(t, c, types.CertificateAuthorityTypeSubordinate, types.KeyAlgorithmRsa2048, types.SigningAlgorithmSha256withrsa, "Restart Sub")
	subPEM, _ := activateSub(t, c, root, sub, types.SigningAlgorithmSha256withecdsa, tplSub0, 2)
	leafARN, leafPEM, _ := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &sub, Csr: quickCSR(t, "before.example"),
		SigningAlgorithm: types.SigningAlgorithmSha256withrsa})
	pending := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Restart Pending")
	pendingCSR := caCSR(t, c, pending)

	p.Stop(t)
	if err := p.ExitErr(); err != nil {
		t.Fatalf("SIGTERM did not stop sigil cleanly: %v\n%s", err, p.Output())
	}

	p2 := sigiltest.StartProcess(t, args...)
	c2 := sigiltest.PCAClient(p2.URL, sigiltest.AWSConfig("test", "test", "us-east-1", nil))
	list, err := c2.ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{})
	if err != nil || len(list.CertificateAuthorities) != 3 {
		t.Fatalf("after restart: %v %v", list, err)
	}
	for _, arn := range []string{root, sub} {
		d, err := c2.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &arn})
		if err != nil || d.CertificateAuthority.Status != types.CertificateAuthorityStatusActive {
			t.Fatalf("%s after restart: %v %v", arn, d, err)
		}
	}
	if got := caCSR(t, c2, pending); string(got) != string(pendingCSR) {
		t.Fatal("pending CA's CSR changed across a restart")
	}
	again, _ := getCert(t, c2, sub, leafARN)
	if string(again) != string(leafPEM) {
		t.Fatal("certificate changed across a restart")
	}
	_, newLeaf, _ := issue(t, c2, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &sub, Csr: quickCSR(t, "after.example"),
		SigningAlgorithm: types.SigningAlgorithmSha256withrsa})
	sigiltest.OpenSSLVerify(t, rootPEM, subPEM, newLeaf)
	sigiltest.OpenSSLVerify(t, rootPEM, subPEM, leafPEM)
}

// TestProductionStart runs without --dev: an administrator is bootstrapped
// with its key in a 0600 file (never in the output), the API is HTTPS with a
// CA bundle in the data directory, and dev-only features are refused.
func TestProductionStart(t *testing.T) {
	dataDir := t.TempDir()
	args := append(append([]string{"--data-dir", dataDir}, loopbackPorts...), sigiltest.StoreArgs(t)...)
	p := sigiltest.StartProcess(t, args...)
	if !strings.HasPrefix(p.URL, "https://") {
		t.Fatalf("API is not HTTPS: %s", p.URL)
	}
	credPath := filepath.Join(dataDir, "credentials")
	keyID, secret := readCredentials(t, credPath)
	for _, f := range []string{credPath, filepath.Join(dataDir, "master.key")} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v", f, st.Mode().Perm(), err)
		}
	}
	// The banner follows the "listening" log line; wait for it.
	out := p.Output()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out, "--endpoint-url") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		out = p.Output()
	}
	if strings.Contains(out, secret) {
		t.Fatal("the administrator's secret appears in sigil's output")
	}
	for _, want := range []string{credPath, filepath.Join(dataDir, "ca-bundle.pem"), "--endpoint-url " + p.URL} {
		if !strings.Contains(out, want) {
			t.Errorf("the start-up banner does not mention %q:\n%s", want, out)
		}
	}

	bundle, err := os.ReadFile(filepath.Join(dataDir, "ca-bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Fatal("ca-bundle.pem holds no certificate")
	}
	httpsClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := sigiltest.PCAClient(p.URL, sigiltest.AWSConfig(keyID, secret, "us-east-1", httpsClient))
	arn := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Prod Root")
	if !strings.Contains(arn, ":certificate-authority/") || strings.Contains(arn, ":000000000000:") {
		t.Fatalf("CA ARN %s", arn)
	}
	// The server's own TLS certificate is lint-clean.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(p.URL, "https://"), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	sigiltest.LintClean(t, conn.ConnectionState().PeerCertificates[0].Raw)
	conn.Close()

	// The dev credentials and the dev clock do not exist here.
	devClient := sigiltest.PCAClient(p.URL, sigiltest.AWSConfig("test", "test", "us-east-1", httpsClient))
	_, err = devClient.ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{})
	wantCode(t, err, "UnrecognizedClientException")
	resp, err := httpsClient.Post(p.URL+"/_sigil/dev/clock", "application/json", strings.NewReader(`{"advance":"24h"}`))
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dev clock without --dev: %v %v", resp, err)
	}
	resp.Body.Close()

	// A restart keeps the administrator and does not create another.
	p.Stop(t)
	before, _ := os.ReadFile(credPath)
	p2 := sigiltest.StartProcess(t, args...)
	after, _ := os.ReadFile(credPath)
	if string(before) != string(after) {
		t.Fatal("a restart rewrote the administrator credentials")
	}
	c2 := sigiltest.PCAClient(p2.URL, sigiltest.AWSConfig(keyID, secret, "us-east-1", httpsClient))
	if _, err := c2.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
}

func readCredentials(t *testing.T, path string) (keyID, secret string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			keyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if keyID == "" || len(secret) < 40 {
		t.Fatalf("credentials file %s is incomplete", path)
	}
	return keyID, secret
}

// TestStartupFailures checks that problems at start-up end the process with
// a non-zero exit and a message that says what is wrong.
func TestStartupFailures(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, []byte("x"), 0o600)

	keyDir := t.TempDir()
	if out, err := sigiltest.RunProcess(t, "validate-config", "--data-dir", keyDir); err != nil {
		t.Fatalf("validate-config: %v %s", err, out)
	}
	// Start once so the database records its master key, then swap the key.
	storeArgs := sigiltest.StoreArgs(t)
	p := sigiltest.StartProcess(t, append(append([]string{"--dev", "--data-dir", keyDir}, loopbackPorts...), storeArgs...)...)
	p.Stop(t)
	os.WriteFile(filepath.Join(keyDir, "master.key"), []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0o600)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"port taken", []string{"serve", "--dev", "--data-dir", t.TempDir(), "--listen", taken.Addr().String(), "--public-listen", "127.0.0.1:0"}, "already in use"},
		{"data dir is a file", []string{"serve", "--dev", "--data-dir", file, "--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"}, "data directory"},
		{"dev off loopback", []string{"serve", "--dev", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0", "--public-listen", "127.0.0.1:0"}, "loopback"},
		{"wrong master key", append([]string{"serve", "--dev", "--data-dir", keyDir, "--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"}, storeArgs...), "master key"},
		{"unreachable database", []string{"serve", "--dev", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0",
			"--store", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}, "PostgreSQL"},
		{"bad region", []string{"validate-config", "--region", "moon"}, "region"},
		{"unknown flag", []string{"serve", "--lisen", "x"}, "unknown flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := sigiltest.RunProcess(t, tc.args...)
			if err == nil {
				t.Fatalf("exited 0:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("the message does not mention %q:\n%s", tc.want, out)
			}
		})
	}
}
