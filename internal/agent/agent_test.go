package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/api/agentapi"
	"github.com/sigilhq/sigil/internal/deploy"
	"github.com/sigilhq/sigil/internal/pki"
)

func pair(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "site.test"}, DNSNames: []string{"site.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	return pki.EncodeCertificatesPEM(der), pki.EncodePEM("PRIVATE KEY", p8)
}

// filesServer serves whatever dir/cert.pem and dir/key.pem hold at each
// handshake, as a server that reloads does.
func filesServer(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
		return &c, err
	}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(c, cfg)
				tc.Handshake()
				tc.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func material(dir, addr string, serial int64, cert, key []byte) *agentapi.MaterialResponse {
	return &agentapi.MaterialResponse{
		Assignment: agentapi.Assignment{Serial: pki.SerialHex(big.NewInt(serial)), Profile: deploy.Profile{
			ReloadCommand: []string{"true"}, VerifyAddress: addr, VerifyTimeout: 1}},
		Files: []agentapi.File{{Path: filepath.Join(dir, "cert.pem"), Content: cert, Mode: "0644"},
			{Path: filepath.Join(dir, "key.pem"), Content: key, Mode: "0600", Sensitive: true}},
	}
}

func testAgent(cfg Config) *Agent {
	return &Agent{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestInstallVerifiesAndKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	oldCert, oldKey := pair(t, 1)
	os.WriteFile(filepath.Join(dir, "cert.pem"), oldCert, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), oldKey, 0o600)
	addr := filesServer(t, dir)

	newCert, newKey := pair(t, 2)
	res := testAgent(Config{}).install(context.Background(), material(dir, addr, 2, newCert, newKey))
	if !res.ok || !serialEqual(big.NewInt(2), res.served) {
		t.Fatalf("install: %+v", res)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	prev, _ := os.ReadFile(filepath.Join(dir, "cert.pem"+previousExt))
	if !bytes.Equal(got, newCert) || !bytes.Equal(prev, oldCert) {
		t.Fatal("the new file is not in place or the previous one not kept")
	}
	if st, _ := os.Stat(filepath.Join(dir, "key.pem")); st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode())
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("left %s", e.Name())
		}
	}
}

func TestInstallRollsBack(t *testing.T) {
	dir := t.TempDir()
	oldCert, oldKey := pair(t, 1)
	os.WriteFile(filepath.Join(dir, "cert.pem"), oldCert, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), oldKey, 0o600)
	filesServer(t, dir)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	wrong := closed.Addr().String()
	closed.Close()

	newCert, newKey := pair(t, 2)
	m := material(dir, wrong, 2, newCert, newKey)
	// A file the install creates (none before) is removed again.
	m.Files = append(m.Files, agentapi.File{Path: filepath.Join(dir, "chain.pem"), Content: newCert, Mode: "0644"})
	res := testAgent(Config{}).install(context.Background(), m)
	if res.ok || !strings.Contains(res.message, "verification failed") || !strings.Contains(res.message, "restored") {
		t.Fatalf("install to a wrong address: %+v", res)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if !bytes.Equal(got, oldCert) {
		t.Fatal("the previous certificate was not restored")
	}
	if _, err := os.Stat(filepath.Join(dir, "chain.pem")); !os.IsNotExist(err) {
		t.Fatal("a file the failed install created is still there")
	}

	// A reload command that fails rolls back too.
	m = material(dir, wrong, 2, newCert, newKey)
	m.Profile.ReloadCommand = []string{"false"}
	res = testAgent(Config{}).install(context.Background(), m)
	if res.ok || !strings.Contains(res.message, "reload command") {
		t.Fatalf("failing reload: %+v", res)
	}
	got, _ = os.ReadFile(filepath.Join(dir, "cert.pem"))
	if !bytes.Equal(got, oldCert) {
		t.Fatal("the previous certificate was not restored after a failed reload")
	}
}

func TestAllowLists(t *testing.T) {
	dir := t.TempDir()
	cert, key := pair(t, 3)
	m := material(dir, "127.0.0.1:1", 3, cert, key)
	a := testAgent(Config{AllowDirs: []string{filepath.Join(dir, "sub")}})
	res := a.install(context.Background(), m)
	if res.ok || !strings.Contains(res.message, "outside --allow-dir") {
		t.Fatalf("outside the allowed dirs: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "cert.pem")); !os.IsNotExist(err) {
		t.Fatal("a refused install wrote a file")
	}
	a = testAgent(Config{AllowDirs: []string{dir}, AllowCommands: []string{"nginx -s reload"}})
	res = a.install(context.Background(), m)
	if res.ok || !strings.Contains(res.message, "not an --allow-command") {
		t.Fatalf("a command not allowed: %+v", res)
	}
}

func TestSerialEqual(t *testing.T) {
	n, _ := new(big.Int).SetString("00ab", 16)
	if !serialEqual(n, "000000ab") || !serialEqual(n, "AB") || serialEqual(n, "ac") || serialEqual(nil, "ab") || serialEqual(n, "zz") {
		t.Fatal("serialEqual")
	}
}

// TestInterruptedInstallRollsBack stands for an agent killed between
// writing the files and verifying them: at the next start the journal
// makes it restore what it had replaced and remove what it had created.
func TestInterruptedInstallRollsBack(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	oldCert, oldKey := pair(t, 1)
	os.WriteFile(filepath.Join(dir, "cert.pem"), oldCert, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), oldKey, 0o600)
	newCert, newKey := pair(t, 2)
	m := material(dir, "127.0.0.1:1", 2, newCert, newKey)
	m.Files = append(m.Files, agentapi.File{Path: filepath.Join(dir, "chain.pem"), Content: newCert, Mode: "0644"})
	a := testAgent(Config{StateDir: state})

	// What install does up to the crash: previous copies, the journal,
	// then some of the files.
	plan := []written{{path: m.Files[0].Path, existed: true}, {path: m.Files[1].Path, existed: true}, {path: m.Files[2].Path}}
	for _, w := range plan[:2] {
		b, _ := os.ReadFile(w.path)
		os.WriteFile(w.path+previousExt, b, 0o600)
	}
	if err := a.writeJournal(m, plan); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(m.Files[0].Path, newCert, 0o644)
	os.WriteFile(m.Files[2].Path, newCert, 0o644)

	a.recoverInstall(context.Background())
	if got, _ := os.ReadFile(m.Files[0].Path); !bytes.Equal(got, oldCert) {
		t.Fatal("the certificate was not restored")
	}
	if got, _ := os.ReadFile(m.Files[1].Path); !bytes.Equal(got, oldKey) {
		t.Fatal("the key changed")
	}
	if _, err := os.Stat(m.Files[2].Path); !os.IsNotExist(err) {
		t.Fatal("a file the interrupted install created is still there")
	}
	if _, err := os.Stat(filepath.Join(state, journalName)); !os.IsNotExist(err) {
		t.Fatal("the journal is still there")
	}

	// A completed install leaves no journal behind.
	addr := filesServer(t, dir)
	if res := a.install(context.Background(), material(dir, addr, 2, newCert, newKey)); !res.ok {
		t.Fatalf("install: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(state, journalName)); !os.IsNotExist(err) {
		t.Fatal("a finished install left its journal")
	}
}
