// Package sigiltest starts real Sigil servers for tests (in process, or the
// built binary as a child process) and checks what they issue with real
// tools: zlint for RFC 5280 conformance and openssl for chain verification.
// A tool the tests need that is missing is a test failure, never a skip.
package sigiltest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/lint"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/server"
)

// Env is a running in-process server.
type Env struct {
	Server  *server.Server
	URL     string // API base URL
	DataDir string
	Store   string        // the store URL the server uses
	Logs    *bytes.Buffer // everything the server logged
	logMu   *sync.Mutex
}

// Start runs a dev-mode server on loopback with a fresh data directory.
// mod may adjust the configuration.
func Start(t testing.TB, mod ...func(*config.Config)) *Env {
	t.Helper()
	cfg := config.Default()
	cfg.Dev = true
	cfg.DataDir = t.TempDir()
	cfg.Listen, cfg.PublicListen, cfg.AgentListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Log.Level = "debug"
	cfg.Store = StoreURL(t)
	for _, m := range mod {
		m(&cfg)
	}
	return StartConfig(t, cfg)
}

// StartConfig runs a server with exactly cfg.
func StartConfig(t testing.TB, cfg config.Config) *Env {
	t.Helper()
	logs := &bytes.Buffer{}
	mu := &sync.Mutex{}
	level := slog.LevelDebug
	if cfg.Log.Level != "" && cfg.Log.Level != "debug" {
		// Benchmarks log as production does.
		level.UnmarshalText([]byte(cfg.Log.Level))
	}
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs, mu: mu}, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(context.Background(), cfg, server.Options{Logger: log})
	if err != nil {
		t.Fatalf("start sigil: %v", err)
	}
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &Env{Server: srv, URL: srv.APIURL(), DataDir: cfg.DataDir, Store: cfg.StoreURL(), Logs: logs, logMu: mu}
}

// LogText returns what the server has logged so far.
func (e *Env) LogText() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.Logs.String()
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// AWSConfig returns an SDK configuration with static credentials and no
// retries (so error tests see the first answer).
func AWSConfig(keyID, secret, region string, client *http.Client) aws.Config {
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	return aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       client,
	}
}

// PCA returns an acm-pca client for the dev administrator.
func (e *Env) PCA() *acmpca.Client { return e.PCAAs("test", "test") }

// PCAAs returns an acm-pca client with the given credentials.
func (e *Env) PCAAs(keyID, secret string) *acmpca.Client {
	return PCAClient(e.URL, AWSConfig(keyID, secret, "us-east-1", nil))
}

// PCAClient returns an acm-pca client for endpoint.
func PCAClient(endpoint string, cfg aws.Config) *acmpca.Client {
	return acmpca.NewFromConfig(cfg, func(o *acmpca.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// ACM returns an acm client for the dev administrator.
func (e *Env) ACM() *acm.Client {
	return ACMClient(e.URL, AWSConfig("test", "test", "us-east-1", nil))
}

// ACMClient returns an acm client for endpoint.
func ACMClient(endpoint string, cfg aws.Config) *acm.Client {
	return acm.NewFromConfig(cfg, func(o *acm.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// SecretsManager returns a secretsmanager client for the dev administrator.
func (e *Env) SecretsManager() *secretsmanager.Client {
	return SecretsManagerClient(e.URL, AWSConfig("test", "test", "us-east-1", nil))
}

// SecretsManagerClient returns a secretsmanager client for endpoint.
func SecretsManagerClient(endpoint string, cfg aws.Config) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// KMS returns a kms client for the dev administrator.
func (e *Env) KMS() *kms.Client {
	return KMSClient(e.URL, AWSConfig("test", "test", "us-east-1", nil))
}

// KMSClient returns a kms client for endpoint.
func KMSClient(endpoint string, cfg aws.Config) *kms.Client {
	return kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// Events returns the dev server's outbox (the EventBridge envelopes of an
// account, oldest first) through GET /_sigil/dev/events.
func Events(t testing.TB, apiURL, account string) []map[string]any {
	t.Helper()
	var all []map[string]any
	next := ""
	for {
		url := apiURL + "/_sigil/dev/events?account=" + account + "&limit=1000"
		if next != "" {
			url += "&after=" + next
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []map[string]any `json:"events"`
			Next   string           `json:"next"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("dev events: %s %v", resp.Status, err)
		}
		all = append(all, page.Events...)
		if len(page.Events) < 1000 {
			return all
		}
		next = page.Next
	}
}

// ---- tools ----

// Require fails the test if a command is not installed, naming the Debian
// package to install. `make test` installs them.
func Require(t testing.TB, command, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(command)
	if err != nil {
		t.Fatalf("%s is required by this test but not installed (apt-get install %s, or run `make test`, which installs it)", command, debianPackage)
	}
	return p
}

// AWSCLIv2 returns the path of the AWS CLI v2 from Debian's awscli package.
func AWSCLIv2(t testing.TB) string {
	t.Helper()
	const p = "/usr/bin/aws"
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/2.") {
		t.Fatalf("the AWS CLI v2 (Debian package awscli) is required at %s: %s %v", p, out, err)
	}
	return p
}

var (
	linterOnce sync.Once
	linter     *lint.Linter
	linterErr  error
)

// LintClean fails the test if zlint reports an error or fatal result from
// the RFC 5280 family of lints for the certificate.
func LintClean(t testing.TB, der []byte) {
	t.Helper()
	linterOnce.Do(func() { linter, linterErr = lint.New() })
	if linterErr != nil {
		t.Fatal(linterErr)
	}
	findings, err := linter.LintDER(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) > 0 {
		c, _ := x509.ParseCertificate(der)
		t.Fatalf("certificate %v is not lint-clean: %v", c.Subject, findings)
	}
}

// LintCRL fails the test if zlint reports an error or fatal result for a
// CRL (lint.CRLSources).
func LintCRL(t testing.TB, der []byte) {
	t.Helper()
	linterOnce.Do(func() { linter, linterErr = lint.New() })
	if linterErr != nil {
		t.Fatal(linterErr)
	}
	findings, err := linter.LintCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) > 0 {
		t.Fatalf("CRL is not lint-clean: %v", findings)
	}
}

// LintPEM lints every certificate in a PEM bundle.
func LintPEM(t testing.TB, pemBytes []byte) {
	t.Helper()
	certs, err := pki.ParseCertificatesPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		LintClean(t, c.Raw)
	}
}

// OpenSSLVerify runs `openssl verify` on leaf with the root as the trust
// anchor and the intermediates as untrusted certificates, and fails the test
// unless openssl answers OK.
func OpenSSLVerify(t testing.TB, rootPEM, intermediatesPEM, leafPEM []byte) {
	t.Helper()
	OpenSSLVerifyAt(t, time.Time{}, rootPEM, intermediatesPEM, leafPEM)
}

// OpenSSLVerifyAt is OpenSSLVerify at a given time (zero: now), for
// certificates issued under a dev clock that runs ahead of the real one.
func OpenSSLVerifyAt(t testing.TB, at time.Time, rootPEM, intermediatesPEM, leafPEM []byte) {
	t.Helper()
	Require(t, "openssl", "openssl")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := []string{"verify", "-CAfile", write("root.pem", rootPEM)}
	if !at.IsZero() {
		args = append(args, "-attime", fmt.Sprint(at.Unix()))
	}
	if len(bytes.TrimSpace(intermediatesPEM)) > 0 {
		args = append(args, "-untrusted", write("inter.pem", intermediatesPEM))
	}
	leaf := write("leaf.pem", leafPEM)
	out, err := exec.Command("openssl", append(args, leaf)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), leaf+": OK") {
		t.Fatalf("openssl verify failed: %v\n%s", err, out)
	}
}

// OpenSSL runs openssl with args and returns its combined output.
func OpenSSL(t testing.TB, args ...string) string {
	t.Helper()
	Require(t, "openssl", "openssl")
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ---- the built binary ----

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/sigil once per test process (into bin/test/sigil) and
// returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		// bin/ is git-ignored; one path, rebuilt by each test process.
		binPath = filepath.Join(ModuleRoot(), "bin", "test", "sigil")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sigil")
		cmd.Dir = ModuleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// ModuleRoot is the repository root (where go.mod is).
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Process is a sigil binary running as a child process.
type Process struct {
	Cmd       *exec.Cmd
	URL       string // from the "sigil listening" log line
	PublicURL string // the public (CRL/OCSP) listener, from the same line
	Stdout    *bytes.Buffer
	Stderr    *bytes.Buffer
	outMu     sync.Mutex
	exited    chan struct{}
	exitErr   error
}

// StartProcess runs `sigil serve args...` and waits until it logs where it
// listens (or exits).
func StartProcess(t testing.TB, args ...string) *Process {
	t.Helper()
	p := &Process{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	p.Cmd = exec.Command(Binary(t), append([]string{"serve"}, args...)...)
	p.Cmd.Env = append(os.Environ(), "SIGIL_LOG_FORMAT=json", "SIGIL_AGENT_LISTEN=127.0.0.1:0")
	stderr, _ := p.Cmd.StderrPipe()
	p.Cmd.Stdout = &lockedWriter{w: p.Stdout, mu: &p.outMu}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.outMu.Lock()
			p.Stderr.WriteString(line + "\n")
			p.outMu.Unlock()
			var rec struct {
				Msg    string `json:"msg"`
				API    string `json:"api"`
				Public string `json:"public"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "sigil listening" {
				select {
				case ready <- [2]string{rec.API, rec.Public}:
				default:
				}
			}
		}
	}()
	go func() {
		p.exitErr = p.Cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.Stop(t) })
	select {
	case urls := <-ready:
		p.URL, p.PublicURL = urls[0], urls[1]
		return p
	case <-p.exited:
		t.Fatalf("sigil exited before listening: %v\n%s", p.exitErr, p.Output())
	case <-time.After(60 * time.Second):
		t.Fatalf("sigil did not start within 60s\n%s", p.Output())
	}
	return nil
}

// RunProcess runs `sigil args...` to completion and returns its exit error
// and combined output.
func RunProcess(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	// A server started this way must not take the default agent port.
	cmd.Env = append(os.Environ(), "SIGIL_AGENT_LISTEN=127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Output returns what the process printed so far.
func (p *Process) Output() string {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	return p.Stdout.String() + p.Stderr.String()
}

// Stop sends SIGTERM and waits for a clean exit.
func (p *Process) Stop(t testing.TB) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.Cmd.Process.Kill()
		<-p.exited
		t.Errorf("sigil did not stop within 20s of SIGTERM")
	}
}

// ExitErr waits for the process to end and returns its exit error.
func (p *Process) ExitErr() error {
	<-p.exited
	return p.exitErr
}
