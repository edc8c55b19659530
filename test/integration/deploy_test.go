package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	pcatypes "github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/sigilhq/sigil/internal/agent"
	"github.com/sigilhq/sigil/internal/api/admin"
	"github.com/sigilhq/sigil/internal/api/agentapi"
	apideploy "github.com/sigilhq/sigil/internal/api/deploy"
	"github.com/sigilhq/sigil/internal/deploy"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
	"github.com/sigilhq/sigil/internal/store"
)

// deployCall sends a SigilDeploy operation as the dev administrator.
func deployCall(t testing.TB, env *sigiltest.Env, op string, in, out any) error {
	t.Helper()
	return sigiltest.CallNative(ctx, env.URL, "test", "test", "us-east-1", "SigilDeploy."+op, in, out)
}

func mustDeploy(t testing.TB, env *sigiltest.Env, op string, in, out any) {
	t.Helper()
	if err := deployCall(t, env, op, in, out); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

func newToken(t testing.TB, env *sigiltest.Env, tags map[string]string) apideploy.Token {
	t.Helper()
	var tok apideploy.Token
	mustDeploy(t, env, "CreateEnrollmentToken", apideploy.CreateTokenInput{Tags: tags, Description: "test"}, &tok)
	if tok.Token == "" || tok.AgentEndpoint == "" || len(tok.AgentCaSha256) != 64 {
		t.Fatalf("token answer: %+v", tok)
	}
	return tok
}

// startAgentProcess runs the real `sigil agent` binary.
func startAgentProcess(t *testing.T, tok apideploy.Token, stateDir string) {
	t.Helper()
	out := &webOutput{}
	cmd := exec.Command(sigiltest.Binary(t), "agent", "--server", tok.AgentEndpoint, "--ca-sha256", tok.AgentCaSha256,
		"--token", tok.Token, "--state-dir", stateDir, "--wait", "2s", "--hostname", "web-1", "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", out.String())
		}
	})
}

// waitTarget waits until the deployment's target on agent reaches one of
// the statuses with the given desired serial (any when "").
func waitTarget(t *testing.T, env *sigiltest.Env, name, serial string, statuses ...string) apideploy.Installation {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last apideploy.Deployment
	for time.Now().Before(deadline) {
		last = apideploy.Deployment{} // omitted fields must not keep the last answer's values
		mustDeploy(t, env, "DescribeDeployment", map[string]string{"Name": name}, &last)
		for _, tg := range last.Targets {
			if (serial == "" || sameSerial(tg.DesiredSerial, serial)) && slices.Contains(statuses, tg.Status) {
				return tg
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	t.Fatalf("deployment %s never reached %v for serial %s:\n%s\n%s", name, statuses, serial, b, env.LogText())
	return apideploy.Installation{}
}

func sameSerial(a, b string) bool {
	x, ok1 := new(big.Int).SetString(strings.ReplaceAll(a, ":", ""), 16)
	y, ok2 := new(big.Int).SetString(strings.ReplaceAll(b, ":", ""), 16)
	return ok1 && ok2 && x.Cmp(y) == 0
}

func acmSerial(t *testing.T, a *acmEnv, arn string) string {
	t.Helper()
	return strings.ReplaceAll(*a.describe(t, arn).Serial, ":", "")
}

// TestDeployNginx is the whole flow with a real nginx: a Sigil-issued ACM
// certificate reaches nginx through a real `sigil agent` process, and
// after a renewal the agent installs the new one by itself while HTTPS
// clients keep connecting without a single failure.
func TestDeployNginx(t *testing.T) {
	a := newACMEnv(t)
	certARN := a.request(t, "web.test", func(in *acm.RequestCertificateInput) {
		in.Options = &acmtypes.CertificateOptions{Export: acmtypes.CertificateExportEnabled}
	})
	first := acmSerial(t, a, certARN)

	dir := filepath.Join(t.TempDir(), "certs")
	ws := startNginx(t, dir, "web.test")
	placeholder := servedSerial(t, ws.Addr, "web.test")

	tok := newToken(t, a.env, map[string]string{"role": "web", "env": "test"})
	startAgentProcess(t, tok, t.TempDir())

	var d apideploy.Deployment
	created := time.Now()
	mustDeploy(t, a.env, "CreateDeployment", apideploy.CreateInput{Name: "web", CertificateArn: certARN,
		TargetTags: map[string]string{"role": "web"}, Profile: "nginx",
		Overrides: &deploy.Profile{Directory: dir, ReloadCommand: ws.Reload, VerifyAddress: ws.Addr, VerifyServerName: "web.test"}}, &d)
	if d.Profile.KeyFile != "privkey.pem" || d.Profile.Directory != dir {
		t.Fatalf("resolved profile: %+v", d.Profile)
	}

	got := waitTarget(t, a.env, "web", first, deploy.TargetSucceeded, deploy.TargetFailed)
	t.Logf("CreateDeployment to verified installation: %s", time.Since(created).Round(time.Millisecond))
	if got.Status != deploy.TargetSucceeded || !sameSerial(got.Serial, first) {
		t.Fatalf("first deployment: %+v", got)
	}
	if s := servedSerial(t, ws.Addr, "web.test"); !sameSerial(s.Text(16), first) || s.Cmp(placeholder) == 0 {
		t.Fatalf("nginx serves %x, want %s", s, first)
	}
	// The files: modes, the chain verifies with openssl, the placeholder
	// kept as the previous version.
	if st, err := os.Stat(filepath.Join(dir, "privkey.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("privkey.pem: %v %v", st.Mode(), err)
	}
	leafPEM, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	sigiltest.OpenSSLVerify(t, a.rootPEM, nil, leafPEM)
	sigiltest.LintPEM(t, leafPEM)
	if certFileSerial(t, filepath.Join(dir, "fullchain.pem.sigil-previous")).Cmp(placeholder) != 0 {
		t.Fatal("the previous fullchain.pem was not kept")
	}

	// Renew while clients connect: the agent redeploys on its own.
	stop := loadGenerator(ws.Addr, "web.test", 4)
	time.Sleep(300 * time.Millisecond)
	renewed := time.Now()
	if _, err := a.acm.RenewCertificate(ctx, &acm.RenewCertificateInput{CertificateArn: &certARN}); err != nil {
		t.Fatal(err)
	}
	var second string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if second = acmSerial(t, a, certARN); second != first {
			break
		}
	}
	if second == first {
		t.Fatal("the certificate did not renew")
	}
	got = waitTarget(t, a.env, "web", second, deploy.TargetSucceeded, deploy.TargetFailed)
	t.Logf("renewal to verified redeployment: %s", time.Since(renewed).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	ok, failed, sample := stop()
	if got.Status != deploy.TargetSucceeded {
		t.Fatalf("redeployment after renewal: %+v", got)
	}
	if s := servedSerial(t, ws.Addr, "web.test"); !sameSerial(s.Text(16), second) {
		t.Fatalf("after renewal nginx serves %x, want %s", s, second)
	}
	t.Logf("HTTPS requests during the redeployment: %d ok, %d failed", ok, failed)
	if failed != 0 || ok == 0 {
		t.Fatalf("%d requests failed during the reload (%d ok): %v", failed, ok, sample)
	}

	// The inventory, by certificate and by agent.
	var inv apideploy.InventoryOutput
	mustDeploy(t, a.env, "ListInstallations", apideploy.InventoryInput{SourceArn: certARN}, &inv)
	if len(inv.Installations) != 1 {
		t.Fatalf("inventory: %+v", inv)
	}
	row := inv.Installations[0]
	if !sameSerial(row.Serial, second) || row.Hostname != "web-1" || row.AgentStatus != "ACTIVE" || row.InstalledAt == nil ||
		!slices.Contains(row.Paths, filepath.Join(dir, "fullchain.pem")) || !slices.Contains(row.Paths, filepath.Join(dir, "privkey.pem")) {
		t.Fatalf("inventory row: %+v", row)
	}
	var ag apideploy.Agent
	mustDeploy(t, a.env, "DescribeAgent", map[string]string{"AgentId": row.AgentId}, &ag)
	if len(ag.Installed) != 1 || ag.Installed[0].SourceArn != certARN || ag.Tags["env"] != "test" {
		t.Fatalf("agent: %+v", ag)
	}
	// The CLI shows the same inventory.
	out, err := sigilCLI(t, a.env, "deploy", "inventory", "--source-arn", certARN)
	if err != nil || !strings.Contains(out, row.AgentId) || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("sigil deploy inventory: %v\n%s", err, out)
	}

	// On-demand redeploy is one command and bumps the assignment.
	out, err = sigilCLI(t, a.env, "deploy", "redeploy", "web")
	if err != nil {
		t.Fatalf("sigil deploy redeploy: %v\n%s", err, out)
	}
	waitTarget(t, a.env, "web", second, deploy.TargetSucceeded)

	// Metrics count agents and targets by status.
	resp, err := http.Get(a.env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var scrape bytes.Buffer
	scrape.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`sigil_deploy_agents{status="ACTIVE"} 1`, `sigil_deploy_targets{status="SUCCEEDED"} 1`} {
		if !strings.Contains(scrape.String(), line) {
			t.Fatalf("metrics lack %s", line)
		}
	}

	// Each result is an event.
	succeeded := 0
	for _, e := range sigiltest.Events(t, a.env.URL, "000000000000") {
		if e["detail-type"] == "Sigil Deployment State Change" {
			if det, _ := e["detail"].(map[string]any); det["status"] == deploy.TargetSucceeded {
				succeeded++
			}
		}
	}
	if succeeded < 3 {
		t.Fatalf("%d SUCCEEDED deployment events, want 3", succeeded)
	}
}

// TestDeployApacheRollback deploys to a real Apache, then sends a profile
// whose verification address is wrong: the agent restores the previous
// files, reloads, and the target is FAILED (with an event), while Apache
// keeps serving the certificate it had.
func TestDeployApacheRollback(t *testing.T) {
	a := newACMEnv(t)
	exportable := func(in *acm.RequestCertificateInput) {
		in.Options = &acmtypes.CertificateOptions{Export: acmtypes.CertificateExportEnabled}
	}
	certARN := a.request(t, "api.test", exportable)
	serial := acmSerial(t, a, certARN)
	otherARN := a.request(t, "api.test", exportable)

	dir := filepath.Join(t.TempDir(), "apache")
	ws := startApache(t, dir, "api.test")
	tok := newToken(t, a.env, map[string]string{"role": "api"})
	startAgentProcess(t, tok, t.TempDir())

	mustDeploy(t, a.env, "CreateDeployment", apideploy.CreateInput{Name: "api", CertificateArn: certARN,
		TargetTags: map[string]string{"role": "api"}, Profile: "apache",
		Overrides: &deploy.Profile{Directory: dir, ReloadCommand: ws.Reload, VerifyAddress: ws.Addr}}, nil)
	got := waitTarget(t, a.env, "api", serial, deploy.TargetSucceeded, deploy.TargetFailed)
	if got.Status != deploy.TargetSucceeded {
		t.Fatalf("apache deployment: %+v", got)
	}
	if s := servedSerial(t, ws.Addr, "api.test"); !sameSerial(s.Text(16), serial) {
		t.Fatalf("apache serves %x, want %s", s, serial)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "fullchain.pem"))

	// Same files, but verified on a port where nothing listens.
	closed := freeLoopbackPort(t)
	mustDeploy(t, a.env, "CreateDeployment", apideploy.CreateInput{Name: "api-wrong-port", CertificateArn: otherARN,
		TargetTags: map[string]string{"role": "api"}, Profile: "apache",
		Overrides: &deploy.Profile{Directory: dir, ReloadCommand: ws.Reload, VerifyAddress: net.JoinHostPort("127.0.0.1", strconv.Itoa(closed)), VerifyTimeout: 2}}, nil)
	bad := waitTarget(t, a.env, "api-wrong-port", "", deploy.TargetFailed, deploy.TargetSucceeded)
	if bad.Status != deploy.TargetFailed || bad.Serial != "" || !strings.Contains(bad.Message, "restored") {
		t.Fatalf("wrong-port deployment: %+v", bad)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "fullchain.pem"))
	if !bytes.Equal(before, after) {
		t.Fatal("the previous fullchain.pem was not restored")
	}
	if !ws.Running() {
		t.Fatalf("apache died:\n%s", ws.Log())
	}
	if s := servedSerial(t, ws.Addr, "api.test"); !sameSerial(s.Text(16), serial) {
		t.Fatalf("after the rollback apache serves %x, want %s", s, serial)
	}
	// The first deployment still shows its verified installation.
	var d apideploy.Deployment
	mustDeploy(t, a.env, "DescribeDeployment", map[string]string{"Name": "api"}, &d)
	if len(d.Targets) != 1 || d.Targets[0].Status != deploy.TargetSucceeded {
		t.Fatalf("api after the other's failure: %+v", d.Targets)
	}
	failedEvent := false
	for _, e := range sigiltest.Events(t, a.env.URL, "000000000000") {
		if det, _ := e["detail"].(map[string]any); e["detail-type"] == "Sigil Deployment State Change" &&
			det["status"] == deploy.TargetFailed && det["deployment"] == "api-wrong-port" {
			failedEvent = true
		}
	}
	if !failedEvent {
		t.Fatal("no FAILED deployment event")
	}
}

// sigilCLI runs a `sigil` client command against env as the dev
// administrator.
func sigilCLI(t *testing.T, env *sigiltest.Env, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(sigiltest.Binary(t), args...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+env.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fileTLSServer serves, on each handshake, the certificate and key found
// in dir (bundle.p12, or cert.pem + privkey.pem; encrypted with the
// passphrase in dir/passphrase): it stands for a server that reloads.
func fileTLSServer(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if pfx, err := os.ReadFile(filepath.Join(dir, "bundle.p12")); err == nil {
			pass, err := os.ReadFile(filepath.Join(dir, "passphrase"))
			if err != nil {
				return nil, err
			}
			key, leaf, _, err := pkcs12.DecodeChain(pfx, string(bytes.TrimSpace(pass)))
			if err != nil {
				return nil, err
			}
			return &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, nil
		}
		certPEM, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
		if err != nil {
			return nil, err
		}
		keyPEM, err := os.ReadFile(filepath.Join(dir, "privkey.pem"))
		if err != nil {
			return nil, err
		}
		if pass, err := os.ReadFile(filepath.Join(dir, "passphrase")); err == nil {
			der, err := pki.DecryptPKCS8PEM(keyPEM, bytes.TrimSpace(pass))
			if err != nil {
				return nil, err
			}
			keyPEM = pki.EncodePEM("PRIVATE KEY", der)
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		return &c, err
	}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// bundleSecret returns a certificate bundle (as the built-in rotation
// writes it) for a new key, issued by the env's CA.
func bundleSecret(t *testing.T, a *acmEnv, cn string) (string, string) {
	t.Helper()
	csr, key := newCSR(t, pki.ECP256, cn, cn)
	_, cert, chain := issue(t, a.pca, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &a.caARN, Csr: csr,
		SigningAlgorithm: pcatypes.SigningAlgorithmSha256withecdsa})
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"CERTIFICATE_PEM": string(cert), "CERTIFICATE_CHAIN_PEM": string(chain),
		"PRIVATE_KEY_PEM": string(pki.EncodePEM("PRIVATE KEY", p8))})
	return string(b), parse(t, cert).SerialNumber.Text(16)
}

// TestDeployIdentityAndSecrets covers what the agent's identity allows: a
// token works once; an agent cannot fetch another agent's material; a
// deregistered agent is refused at once. And a secret source with
// encrypted-PEM and PKCS#12 key formats, whose passphrase secret not even
// an administrator can read, redeployed when the secret gets a new
// version.
func TestDeployIdentityAndSecrets(t *testing.T) {
	a := newACMEnv(t)
	sm := a.env.SecretsManager()
	value, serial := bundleSecret(t, a, "files.test")
	sec, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tls/files"), SecretString: &value})
	if err != nil {
		t.Fatal(err)
	}

	tokA := newToken(t, a.env, map[string]string{"role": "files", "team": "a"})
	tokB := newToken(t, a.env, map[string]string{"role": "other"})
	enrol := func(tok apideploy.Token, state string) (*agent.Agent, error) {
		return agent.New(ctx, agent.Config{Server: tok.AgentEndpoint, CASHA256: tok.AgentCaSha256, Token: tok.Token,
			StateDir: state, Hostname: "files-1", Wait: time.Second})
	}
	stateA := t.TempDir()
	agentA, err := enrol(tokA, stateA)
	if err != nil {
		t.Fatal(err)
	}
	// The token is one-time.
	if _, err := enrol(tokA, t.TempDir()); err == nil || !strings.Contains(err.Error(), "used already") {
		t.Fatalf("a reused token: %v", err)
	}
	// A wrong pin is refused before the token is sent.
	bad := tokB
	bad.AgentCaSha256 = strings.Repeat("0", 64)
	if _, err := enrol(bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("a wrong CA pin: %v", err)
	}
	stateB := t.TempDir()
	if _, err := enrol(tokB, stateB); err != nil {
		t.Fatal(err)
	}
	// Trust may also come from a CA bundle file instead of a pin; the
	// agent keeps the whole bundle and works over mTLS with it.
	tokC := newToken(t, a.env, map[string]string{"role": "bundle"})
	agentC, err := agent.New(ctx, agent.Config{Server: tokC.AgentEndpoint, CABundle: filepath.Join(a.env.DataDir, "ca-bundle.pem"),
		Token: tokC.Token, StateDir: t.TempDir(), Hostname: "bundle-1", Once: true})
	if err != nil {
		t.Fatalf("enrol with --ca-bundle: %v", err)
	}
	if err := agentC.Run(ctx); err != nil {
		t.Fatalf("poll after enrolling with --ca-bundle: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "files")
	os.MkdirAll(dir, 0o755)
	addr := fileTLSServer(t, dir)
	mustDeploy(t, a.env, "PutProfile", deploy.Profile{Name: "files-encrypted", Directory: dir, CertificateFile: "cert.pem",
		ChainFile: "chain.pem", KeyFile: "privkey.pem", PassphraseFile: "passphrase", KeyFormat: deploy.KeyPEMEncrypted,
		ReloadCommand: []string{"true"}, VerifyAddress: addr, VerifyTimeout: 5}, nil)
	var d apideploy.Deployment
	mustDeploy(t, a.env, "CreateDeployment", apideploy.CreateInput{Name: "files", SecretId: "tls/files",
		TargetTags: map[string]string{"role": "files"}, Profile: "files-encrypted"}, &d)
	if d.PassphraseSecretArn == "" || d.SourceArn != *sec.ARN {
		t.Fatalf("deployment: %+v", d)
	}
	p12dir := t.TempDir()
	mustDeploy(t, a.env, "CreateDeployment", apideploy.CreateInput{Name: "files-p12", SecretId: *sec.ARN,
		TargetTags: map[string]string{"role": "files"}, Profile: "files-encrypted",
		Overrides: &deploy.Profile{Directory: p12dir, KeyFormat: deploy.KeyPKCS12, PKCS12File: "bundle.p12", VerifyAddress: fileTLSServer(t, p12dir)}}, nil)

	// Runs the agent until both are installed.
	runA := func() {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- agentA.Run(actx) }()
		waitTarget(t, a.env, "files", serial, deploy.TargetSucceeded, deploy.TargetFailed)
		waitTarget(t, a.env, "files-p12", serial, deploy.TargetSucceeded, deploy.TargetFailed)
		cancel()
		<-done
	}
	runA()
	for _, name := range []string{"files", "files-p12"} {
		var got apideploy.Deployment
		mustDeploy(t, a.env, "DescribeDeployment", map[string]string{"Name": name}, &got)
		if got.Targets[0].Status != deploy.TargetSucceeded {
			t.Fatalf("%s: %+v", name, got.Targets[0])
		}
	}
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "privkey.pem"))
	if !bytes.Contains(keyPEM, []byte("ENCRYPTED PRIVATE KEY")) {
		t.Fatalf("the key is not encrypted:\n%s", keyPEM[:40])
	}
	sigiltest.OpenSSL(t, "pkey", "-in", filepath.Join(dir, "privkey.pem"), "-passin", "file:"+filepath.Join(dir, "passphrase"), "-noout")
	sigiltest.OpenSSL(t, "pkcs12", "-in", filepath.Join(p12dir, "bundle.p12"), "-passin", "file:"+filepath.Join(p12dir, "passphrase"), "-nokeys", "-out", filepath.Join(p12dir, "out.pem"))
	if got := certFileSerial(t, filepath.Join(p12dir, "out.pem")); got.Text(16) != serial {
		t.Fatalf("PKCS#12 holds serial %x, want %s", got, serial)
	}
	// Nobody reads the passphrase through Secrets Manager, administrators
	// included.
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &d.PassphraseSecretArn}); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("the administrator read the passphrase: %v", err)
	}

	// Agent B holds a valid identity, but the deployment is not its own.
	clientB := agentHTTPClient(t, stateB)
	u := tokB.AgentEndpoint + agentapi.PathAssignments + "/" + deploymentID(t, a.env, "files") + "/material?generation=1"
	if code, body := get(t, clientB, u); code != http.StatusForbidden || !strings.Contains(body, "NotAssigned") {
		t.Fatalf("agent B fetched A's material: %d %s", code, body)
	}
	// Without a client certificate nothing but enrolment answers.
	anon := agentHTTPClient(t, "")
	if code, body := get(t, anon, u); code != http.StatusForbidden {
		t.Fatalf("anonymous material fetch: %d %s", code, body)
	}

	// A new secret version is deployed without anyone asking.
	value2, serial2 := bundleSecret(t, a, "files.test")
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: sec.ARN, SecretString: &value2}); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	done := make(chan error, 1)
	go func() { done <- agentA.Run(actx) }()
	got := waitTarget(t, a.env, "files", serial2, deploy.TargetSucceeded, deploy.TargetFailed)
	cancel()
	<-done
	if got.Status != deploy.TargetSucceeded || !sameSerial(got.Serial, serial2) {
		t.Fatalf("after the new secret version: %+v", got)
	}

	// A success report for a serial that was not verified is recorded as
	// FAILED: a target never succeeds without verification.
	var cur apideploy.Deployment
	mustDeploy(t, a.env, "DescribeDeployment", map[string]string{"Name": "files"}, &cur)
	clientA := agentHTTPClient(t, stateA)
	genA := generationOf(t, a.env, "files", agentA.ID())
	code, body := post(t, clientA, tokA.AgentEndpoint+agentapi.PathAssignments+"/"+deploymentID(t, a.env, "files")+"/report",
		agentapi.ReportRequest{Generation: genA, Succeeded: true, ServedSerial: "01"})
	if code != http.StatusOK {
		t.Fatalf("report: %d %s", code, body)
	}
	forged := waitTarget(t, a.env, "files", serial2, deploy.TargetFailed)
	if !strings.Contains(forged.Message, "not the assigned") {
		t.Fatalf("forged success: %+v", forged)
	}

	// The passphrase goes only to agents carrying every tag of its secret;
	// a fetch that cannot be served is recorded as FAILED, not retried at
	// every poll.
	mustDeploy(t, a.env, "Redeploy", map[string]string{"Name": "files"}, nil)
	genA = generationOf(t, a.env, "files", agentA.ID())
	if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: &d.PassphraseSecretArn,
		Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("b")}}}); err != nil {
		t.Fatal(err)
	}
	materialURL := tokA.AgentEndpoint + agentapi.PathAssignments + "/" + deploymentID(t, a.env, "files") + "/material?generation=" + strconv.FormatInt(genA, 10)
	if code, body := get(t, clientA, materialURL); code != http.StatusForbidden || !strings.Contains(body, "team=b") {
		t.Fatalf("material without the passphrase's tags: %d %s", code, body)
	}
	refused := waitTarget(t, a.env, "files", "", deploy.TargetFailed)
	if !strings.Contains(refused.Message, "team=b") {
		t.Fatalf("a refused fetch: %+v", refused)
	}

	// Renewing its certificate keeps the agent working; the certificate it
	// renewed with stays valid, so a lost answer locks nothing out.
	var before, after apideploy.Agent
	mustDeploy(t, a.env, "DescribeAgent", map[string]string{"AgentId": agentA.ID()}, &before)
	if err := agentA.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, a.env, "DescribeAgent", map[string]string{"AgentId": agentA.ID()}, &after)
	if after.CertSerial == before.CertSerial {
		t.Fatal("the agent certificate did not change")
	}
	if code, body := get(t, clientA, tokA.AgentEndpoint+agentapi.PathAssignments+"?wait=0"); code != http.StatusOK {
		t.Fatalf("the previous certificate after a renewal: %d %s", code, body)
	}
	if code, body := get(t, agentHTTPClient(t, stateA), tokA.AgentEndpoint+agentapi.PathAssignments+"?wait=0"); code != http.StatusOK {
		t.Fatalf("the renewed certificate: %d %s", code, body)
	}

	// Retagged out of a deployment, an agent keeps its inventory row but
	// loses access to the deployment's material.
	mustDeploy(t, a.env, "Redeploy", map[string]string{"Name": "files-p12"}, nil)
	genP12 := generationOf(t, a.env, "files-p12", agentA.ID())
	mustDeploy(t, a.env, "TagAgent", apideploy.TagAgentInput{AgentId: agentA.ID(), RemoveKeys: []string{"role"}}, nil)
	p12URL := tokA.AgentEndpoint + agentapi.PathAssignments + "/" + deploymentID(t, a.env, "files-p12") + "/material?generation=" + strconv.FormatInt(genP12, 10)
	if code, body := get(t, clientA, p12URL); code != http.StatusForbidden || !strings.Contains(body, "NotAssigned") {
		t.Fatalf("a retagged agent fetched material: %d %s", code, body)
	}

	// A deregistered agent is refused at once.
	mustDeploy(t, a.env, "DeregisterAgent", map[string]string{"AgentId": agentA.ID()}, nil)
	actx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := agentA.Run(actx); err == nil || !strings.Contains(err.Error(), "refuses") {
		t.Fatalf("a deregistered agent polled: %v", err)
	}
	var agents apideploy.ListAgentsOutput
	mustDeploy(t, a.env, "ListAgents", struct{}{}, &agents)
	states := map[string]string{}
	for _, ag := range agents.Agents {
		states[ag.AgentId] = ag.Status
	}
	if states[agentA.ID()] != deploy.AgentDeregistered || len(states) != 3 {
		t.Fatalf("agents: %v", states)
	}
	// An agent that stops polling is shown STALE.
	advance(t, a.env.URL, "6m")
	mustDeploy(t, a.env, "ListAgents", struct{}{}, &agents)
	for _, ag := range agents.Agents {
		if ag.AgentId != agentA.ID() && ag.Status != deploy.AgentStale {
			t.Fatalf("a silent agent: %+v", ag)
		}
	}
	// Enrolment tokens never reach the audit trail or the log.
	if err := a.env.Server.Audit().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	db, _ := auditDB(t, a.env)
	dump := auditRows(t, db)
	for _, tok := range []apideploy.Token{tokA, tokB} {
		_, secretPart, _ := strings.Cut(tok.Token, ".")
		if strings.Contains(dump, secretPart) || strings.Contains(a.env.LogText(), secretPart) {
			t.Fatal("an enrolment token is in the audit trail or the log")
		}
	}
	if !strings.Contains(dump, "EnrollAgent") || !strings.Contains(dump, "GetDeploymentMaterial") {
		t.Fatal("agent calls are not in the audit trail")
	}

	// A source version that is not a certificate bundle shows on the
	// deployment, until a good one follows.
	sourceError := func(want string) {
		t.Helper()
		var got apideploy.Deployment
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got = apideploy.Deployment{} // omitted fields must not keep the last answer's values
			mustDeploy(t, a.env, "DescribeDeployment", map[string]string{"Name": "files"}, &got)
			if (want == "" && got.SourceError == "") || (want != "" && strings.Contains(got.SourceError, want)) {
				return
			}
		}
		t.Fatalf("SourceError %q, want %q", got.SourceError, want)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: sec.ARN, SecretString: aws.String(`{"CERTIFICATE_PEM":"nope"}`)}); err != nil {
		t.Fatal(err)
	}
	sourceError("PRIVATE_KEY_PEM")
	value3, _ := bundleSecret(t, a, "files.test")
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: sec.ARN, SecretString: &value3}); err != nil {
		t.Fatal(err)
	}
	sourceError("")

	// The deployment API validates its input.
	err = deployCall(t, a.env, "CreateDeployment", apideploy.CreateInput{Name: "x", SecretId: "tls/files", Profile: "nginx"}, nil)
	wantNativeCode(t, err, "ValidationException")
	err = deployCall(t, a.env, "CreateDeployment", apideploy.CreateInput{Name: "files", SecretId: "tls/files", Profile: "nginx",
		TargetTags: map[string]string{"a": "b"}}, nil)
	wantNativeCode(t, err, "ResourceExistsException")
	err = deployCall(t, a.env, "PutProfile", deploy.Profile{Name: "bad", Directory: "relative", CertificateFile: "c.pem", KeyFile: "k.pem",
		ReloadCommand: []string{"true"}, VerifyAddress: "127.0.0.1:443"}, nil)
	wantNativeCode(t, err, "ValidationException")
	err = deployCall(t, a.env, "DeleteProfile", map[string]string{"Name": "files-encrypted"}, nil)
	wantNativeCode(t, err, "ResourceInUseException")
}

func wantNativeCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), code) {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func deploymentID(t testing.TB, env *sigiltest.Env, name string) string {
	t.Helper()
	var id string
	err := env.Server.Store().View(ctx, func(tx store.Tx) error {
		d, err := tx.Deploy().GetDeployment(ctx, "000000000000", name)
		if err == nil {
			id = d.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// agentHTTPClient is an HTTPS client with an agent's identity (none when
// stateDir is "") that trusts the dev server's CA.
func agentHTTPClient(t testing.TB, stateDir string) *http.Client {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true}
	if stateDir != "" {
		c, err := tls.LoadX509KeyPair(filepath.Join(stateDir, "agent.crt"), filepath.Join(stateDir, "agent.key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func post(t *testing.T, c *http.Client, u string, in any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(in)
	resp, err := c.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// generationOf reads an agent's current assignment generation.
func generationOf(t testing.TB, env *sigiltest.Env, name, agentID string) int64 {
	t.Helper()
	var g int64
	err := env.Server.Store().View(ctx, func(tx store.Tx) error {
		d, err := tx.Deploy().GetDeployment(ctx, "000000000000", name)
		if err != nil {
			return err
		}
		tg, err := tx.Deploy().GetTarget(ctx, d.ID, agentID)
		if err == nil {
			g = tg.Generation
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		var rec tls.RecordHeaderError
		if errors.As(err, &rec) {
			return 0, err.Error()
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestDeployCrossAccount deploys from one account to another account's
// agents, which that account must allow, and stops when it no longer does.
func TestDeployCrossAccount(t *testing.T) {
	a := newACMEnv(t)
	var acct admin.CreateAccountOutput
	if err := sigiltest.CallNative(ctx, a.env.URL, "test", "test", "us-east-1", "SigilAdmin.CreateAccount", admin.CreateAccountInput{Name: "edge"}, &acct); err != nil {
		t.Fatal(err)
	}
	asB := func(op string, in, out any) error {
		return sigiltest.CallNative(ctx, a.env.URL, acct.AccessKeyID, acct.SecretAccessKey, "us-east-1", "SigilDeploy."+op, in, out)
	}
	var tok apideploy.Token
	if err := asB("CreateEnrollmentToken", apideploy.CreateTokenInput{Tags: map[string]string{"role": "edge"}}, &tok); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	edge, err := agent.New(ctx, agent.Config{Server: tok.AgentEndpoint, CASHA256: tok.AgentCaSha256, Token: tok.Token,
		StateDir: state, Hostname: "edge-1", Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	value, serial := bundleSecret(t, a, "edge.test")
	if _, err := a.env.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tls/edge"), SecretString: &value}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := apideploy.CreateInput{Name: "edge", SecretId: "tls/edge", TargetTags: map[string]string{"role": "edge"}, TargetAccount: acct.AccountID,
		Profile: "nginx", Overrides: &deploy.Profile{Directory: dir, CertificateFile: "cert.pem", KeyFile: "privkey.pem",
			ReloadCommand: []string{"true"}, VerifyAddress: fileTLSServer(t, dir), VerifyTimeout: 5}}
	err = deployCall(t, a.env, "CreateDeployment", in, nil)
	if err == nil || !strings.Contains(err.Error(), "does not allow deployments") {
		t.Fatalf("a deployment to an account that does not allow it: %v", err)
	}
	if err := asB("PutDeploymentTrust", apideploy.Trust{TrustedAccounts: []string{"000000000000"}}, nil); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, a.env, "CreateDeployment", in, nil)
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	done := make(chan error, 1)
	go func() { done <- edge.Run(actx) }()
	got := waitTarget(t, a.env, "edge", serial, deploy.TargetSucceeded, deploy.TargetFailed)
	cancel()
	<-done
	if got.Status != deploy.TargetSucceeded || got.AgentId != edge.ID() {
		t.Fatalf("cross-account deployment: %+v", got)
	}
	// Account B sees what its agent holds.
	var inv apideploy.InventoryOutput
	if err := asB("ListInstallations", apideploy.InventoryInput{AgentId: edge.ID()}, &inv); err != nil || len(inv.Installations) != 1 ||
		inv.Installations[0].Deployment != "edge" || !sameSerial(inv.Installations[0].Serial, serial) {
		t.Fatalf("B's inventory: %+v %v", inv, err)
	}
	// Withdrawn trust stops the material at once.
	if err := asB("PutDeploymentTrust", apideploy.Trust{TrustedAccounts: []string{}}, nil); err != nil {
		t.Fatal(err)
	}
	u := tok.AgentEndpoint + agentapi.PathAssignments + "/" + deploymentID(t, a.env, "edge") + "/material?generation=" +
		strconv.FormatInt(generationOf(t, a.env, "edge", edge.ID()), 10)
	if code, body := get(t, agentHTTPClient(t, state), u); code != http.StatusForbidden {
		t.Fatalf("material after the trust was withdrawn: %d %s", code, body)
	}
}
