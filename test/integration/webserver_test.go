package integration

// Real web servers for end-to-end tests of certificate deployment: nginx and
// Apache from their Debian packages, each run as a child process with a
// private configuration, serving HTTPS on a loopback port from certificate
// files in a directory the test chooses.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/sigiltest"
)

// webServer is a real nginx or Apache serving HTTPS on a loopback port.
type webServer struct {
	Kind   string   // "nginx" or "apache"
	Addr   string   // 127.0.0.1:PORT (HTTPS)
	Dir    string   // where the server expects its certificate files
	Reload []string // argv that makes it reload its certificate gracefully

	errorLog string // the server's own error log file
	proc     *webProc
}

// Log returns the server's error log and console output so far, for
// failure messages.
func (w *webServer) Log() string {
	b, err := os.ReadFile(w.errorLog)
	if err != nil {
		b = []byte(err.Error())
	}
	return fmt.Sprintf("--- %s error log (%s):\n%s--- console:\n%s", w.Kind, w.errorLog, b, w.proc.out.String())
}

// Running reports whether the server's main process is still running (a
// graceful Apache restart that cannot load the new key ends Apache).
func (w *webServer) Running() bool {
	select {
	case <-w.proc.exited:
		return false
	default:
		return true
	}
}

// runReload runs the Reload command and fails the test if it fails. The
// reload itself is asynchronous: poll servedSerial for its effect.
func (w *webServer) runReload(t testing.TB) {
	t.Helper()
	out, err := exec.Command(w.Reload[0], w.Reload[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s reload (%s): %v\n%s\n%s", w.Kind, strings.Join(w.Reload, " "), err, out, w.Log())
	}
}

// startNginx runs nginx on a free loopback port with a placeholder
// certificate in dir/fullchain.pem and dir/privkey.pem (dir is created if
// needed) for server name name. It stops nginx when the test ends.
func startNginx(t *testing.T, dir, name string) *webServer {
	t.Helper()
	nginx := webServerBinary(t, "nginx", "nginx")
	writePlaceholderCert(t, dir, name)
	prefix := t.TempDir()
	conf := filepath.Join(prefix, "nginx.conf")
	errorLog := filepath.Join(prefix, "error.log")
	for _, sub := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.Mkdir(filepath.Join(prefix, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	in := func(p string) string { return strconv.Quote(filepath.Join(prefix, p)) }
	configure := func(port int) []string {
		cfg := fmt.Sprintf(`# nginx for a Sigil integration test
user root;
worker_processes 2;
pid %s;
error_log %s notice;
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path %s;
    proxy_temp_path %s;
    fastcgi_temp_path %s;
    uwsgi_temp_path %s;
    scgi_temp_path %s;
    default_type text/plain;
    server {
        listen 127.0.0.1:%d ssl;
        server_name %s;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location / {
            return 200 "ok\n";
        }
    }
}
`, in("nginx.pid"), strconv.Quote(errorLog), in("client_body"), in("proxy"), in("fastcgi"), in("uwsgi"), in("scgi"),
			port, name, strconv.Quote(filepath.Join(dir, "fullchain.pem")), strconv.Quote(filepath.Join(dir, "privkey.pem")))
		if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{nginx, "-p", prefix, "-c", conf, "-g", "daemon off;"}
	}
	quit := func(p *webProc) {
		// What `nginx -s quit` does; signal the master directly if the
		// command cannot (a pid file that was never written, say).
		if err := exec.Command(nginx, "-p", prefix, "-c", conf, "-s", "quit").Run(); err != nil {
			p.cmd.Process.Signal(syscall.SIGQUIT)
		}
	}
	w := launchWebServer(t, "nginx", dir, name, errorLog, configure, quit)
	w.Reload = []string{nginx, "-p", prefix, "-c", conf, "-s", "reload"}
	return w
}

// startApache runs Debian's apache2 binary (no apachectl, no systemd) on a
// free loopback port with a private ServerRoot and configuration, and the
// same placeholder certificate as startNginx. It stops Apache when the test
// ends.
func startApache(t *testing.T, dir, name string) *webServer {
	t.Helper()
	apache := webServerBinary(t, "apache2", "apache2")
	const modules = "/usr/lib/apache2/modules"
	need := []string{"mpm_event", "authz_core", "dir", "mime", "socache_shmcb", "ssl"}
	for _, m := range need {
		if _, err := os.Stat(filepath.Join(modules, "mod_"+m+".so")); err != nil {
			t.Fatalf("Apache module %s is missing (apt-get install apache2): %v", m, err)
		}
	}
	writePlaceholderCert(t, dir, name)
	root := t.TempDir()
	conf := filepath.Join(root, "apache2.conf")
	errorLog := filepath.Join(root, "error.log")
	docs := filepath.Join(root, "htdocs")
	for _, d := range []string{docs, filepath.Join(root, "run")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(docs, "index.txt"), []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Apache refuses to serve as root: its children run as an unprivileged
	// user, which must be able to reach the document root. The certificate
	// and key are read by the parent, which stays root.
	runUser, runGroup := "www-data", "www-data"
	if _, err := user.Lookup(runUser); err != nil {
		runUser, runGroup = "nobody", "nogroup"
	}
	if os.Geteuid() == 0 {
		for _, d := range []string{filepath.Dir(root), root} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	in := func(p string) string { return strconv.Quote(filepath.Join(root, p)) }
	configure := func(port int) []string {
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "# Apache for a Sigil integration test\n")
		fmt.Fprintf(&cfg, "ServerRoot %s\nServerName %s\n", strconv.Quote(root), name)
		fmt.Fprintf(&cfg, "PidFile %s\nErrorLog %s\nLogLevel notice\n", in("apache2.pid"), strconv.Quote(errorLog))
		fmt.Fprintf(&cfg, "Mutex %s default\nDefaultRuntimeDir %s\n", strconv.Quote("file:"+filepath.Join(root, "run")), in("run"))
		fmt.Fprintf(&cfg, "User %s\nGroup %s\n", runUser, runGroup)
		for _, m := range need {
			fmt.Fprintf(&cfg, "LoadModule %s_module %s\n", m, filepath.Join(modules, "mod_"+m+".so"))
		}
		fmt.Fprintf(&cfg, `StartServers 2
ServerLimit 16
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 16
MaxSpareThreads 64
TypesConfig /dev/null
AddType text/plain .txt
DirectoryIndex index.txt
SSLSessionCache %s
DocumentRoot %s
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory %s>
    Require all granted
</Directory>
Listen 127.0.0.1:%d https
<VirtualHost 127.0.0.1:%d>
    ServerName %s
    DocumentRoot %s
    SSLEngine on
    SSLCertificateFile %s
    SSLCertificateKeyFile %s
</VirtualHost>
`, strconv.Quote("shmcb:"+filepath.Join(root, "run", "ssl_scache")+"(512000)"), strconv.Quote(docs), strconv.Quote(docs),
			port, port, name, strconv.Quote(docs),
			strconv.Quote(filepath.Join(dir, "fullchain.pem")), strconv.Quote(filepath.Join(dir, "privkey.pem")))
		if err := os.WriteFile(conf, []byte(cfg.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{apache, "-d", root, "-f", conf, "-DFOREGROUND"}
	}
	stop := func(p *webProc) { p.cmd.Process.Signal(syscall.SIGTERM) } // what -k stop sends
	w := launchWebServer(t, "apache", dir, name, errorLog, configure, stop)
	w.Reload = []string{apache, "-d", root, "-f", conf, "-k", "graceful"}
	return w
}

// webServerBinary finds a web server's binary: in /usr/sbin, where Debian
// installs it (not always on a non-root PATH), or on PATH. A missing one
// fails the test.
func webServerBinary(t testing.TB, command, debianPackage string) string {
	t.Helper()
	p := filepath.Join("/usr/sbin", command)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p
	}
	p = sigiltest.Require(t, command, debianPackage)
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// webProc is a web server's main process.
type webProc struct {
	cmd    *exec.Cmd
	out    *webOutput // stdout and stderr
	exited chan struct{}
	err    error // the exit error, once exited is closed
}

type webOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *webOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *webOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// launchWebServer starts a server on a free loopback port and waits until it
// answers HTTPS GET / with 200. configure writes the configuration for a port
// and returns the argv; stop asks the running server to exit. A port taken
// between choosing and binding it is retried with another.
func launchWebServer(t *testing.T, kind, dir, name, errorLog string, configure func(port int) []string, stop func(*webProc)) *webServer {
	t.Helper()
	var failure string
	for attempt := 0; attempt < 3; attempt++ {
		port := freeLoopbackPort(t)
		argv := configure(port)
		os.Remove(errorLog)
		p := &webProc{out: &webOutput{}, exited: make(chan struct{})}
		p.cmd = exec.Command(argv[0], argv[1:]...)
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		// Its own process group (a terminal's ^C goes to the test, which
		// stops the server); SIGTERM if the test process dies first.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", kind, err)
		}
		go func() {
			p.err = p.cmd.Wait()
			close(p.exited)
		}()
		w := &webServer{Kind: kind, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, errorLog: errorLog, proc: p}
		t.Cleanup(func() { stopWebServer(t, w, stop) })
		err := waitWebServer(w, name, 20*time.Second)
		if err == nil {
			return w
		}
		failure = fmt.Sprintf("%s (%s) did not start: %v\n%s", kind, strings.Join(argv, " "), err, w.Log())
		if !strings.Contains(failure, "Address already in use") {
			break
		}
		stopWebServer(t, w, stop)
	}
	t.Fatal(failure)
	return nil
}

// waitWebServer waits until w completes a TLS handshake for name and
// answers GET / with 200, or exits, or limit passes.
func waitWebServer(w *webServer, name string, limit time.Duration) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{ServerName: name, InsecureSkipVerify: true},
	}}
	var last error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-w.proc.exited:
			return fmt.Errorf("it exited: %v", w.proc.err)
		default:
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", w.Addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err != nil {
			last = fmt.Errorf("TLS handshake: %w", err)
			continue
		}
		conn.Close()
		resp, err := client.Get("https://" + w.Addr + "/")
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		// A server that answers but not 200 is misconfigured: no point
		// in waiting.
		return fmt.Errorf("GET / on %s: %s %q", w.Addr, resp.Status, body)
	}
	return fmt.Errorf("no HTTPS on %s within %v: %v", w.Addr, limit, last)
}

// stopWebServer asks the server to exit, and kills its process group if it
// has not within 10 s.
func stopWebServer(t *testing.T, w *webServer, stop func(*webProc)) {
	select {
	case <-w.proc.exited:
		return
	default:
	}
	stop(w.proc)
	select {
	case <-w.proc.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(-w.proc.cmd.Process.Pid, syscall.SIGKILL)
		<-w.proc.exited
		t.Errorf("%s on %s did not stop within 10s; killed\n%s", w.Kind, w.Addr, w.Log())
	}
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment
// ago.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// webCertPair makes a self-signed ECDSA P-256 server certificate (CN cn,
// DNS name name, valid one day) and its PKCS #8 key, PEM-encoded.
func webCertPair(t testing.TB, cn, name string) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	serial.Add(serial, big.NewInt(1))
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(-time.Minute + 24*time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), serial
}

// writePlaceholderCert installs a fresh self-signed certificate with CN
// "placeholder" for name in dir and returns its serial.
func writePlaceholderCert(t testing.TB, dir, name string) *big.Int {
	t.Helper()
	certPEM, keyPEM, serial := webCertPair(t, "placeholder", name)
	installWebCert(t, dir, certPEM, keyPEM)
	return serial
}

// installWebCert replaces dir/fullchain.pem (mode 0644) and dir/privkey.pem
// (mode 0600) atomically, each written to a temporary file in dir and
// renamed over the old one; dir is created if needed.
func installWebCert(t testing.TB, dir string, certPEM, keyPEM []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"fullchain.pem", certPEM, 0o644}, {"privkey.pem", keyPEM, 0o600}} {
		tmp, err := os.CreateTemp(dir, "."+f.name+".*")
		if err != nil {
			t.Fatal(err)
		}
		_, err = tmp.Write(f.data)
		if err == nil {
			err = tmp.Chmod(f.mode)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(dir, f.name))
		}
		if err != nil {
			os.Remove(tmp.Name())
			t.Fatalf("install %s: %v", filepath.Join(dir, f.name), err)
		}
	}
}

// certFileSerial returns the serial of the first certificate in a PEM file.
func certFileSerial(t testing.TB, path string) *big.Int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c.SerialNumber
}

// servedSerial returns the serial of the certificate served at addr for SNI
// name, as `openssl s_client -connect addr -servername name | openssl x509
// -noout -serial` reads it.
func servedSerial(t testing.TB, addr, name string) *big.Int {
	t.Helper()
	sigiltest.Require(t, "openssl", "openssl")
	cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	client := exec.CommandContext(cctx, "openssl", "s_client", "-connect", addr, "-servername", name)
	x509cmd := exec.CommandContext(cctx, "openssl", "x509", "-noout", "-serial")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var clientErr, out, x509Err bytes.Buffer
	client.Stdin, client.Stdout, client.Stderr = nil, pw, &clientErr // stdin: /dev/null, so it ends after the handshake
	x509cmd.Stdin, x509cmd.Stdout, x509cmd.Stderr = pr, &out, &x509Err
	errC := client.Start()
	errX := x509cmd.Start()
	pr.Close()
	pw.Close()
	if errC == nil {
		errC = client.Wait()
	}
	if errX == nil {
		errX = x509cmd.Wait()
	}
	line := strings.TrimSpace(out.String())
	hexSerial, found := strings.CutPrefix(line, "serial=")
	serial, ok := new(big.Int).SetString(hexSerial, 16)
	if errC != nil || errX != nil || !found || !ok {
		t.Fatalf("served certificate at %s for %s: s_client: %v; x509: %v; output %q\ns_client stderr:\n%s\nx509 stderr:\n%s",
			addr, name, errC, errX, line, clientErr.String(), x509Err.String())
	}
	return serial
}

// loadGenerator runs workers goroutines that each request https://addr/ (SNI
// name) in a loop, every request on a fresh connection with a full TLS
// handshake, until stop is called. stop (which may be called more than
// once) returns how many requests got HTTP 200, how many did not (an error
// or another status) and up to 5 distinct failure messages.
func loadGenerator(addr, name string, workers int) (stop func() (ok, failed int, sample []string)) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		// The served certificate changes under the load: no verification.
		TLSClientConfig: &tls.Config{ServerName: name, InsecureSkipVerify: true},
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	url := "https://" + addr + "/"
	var (
		okN, failN atomic.Int64
		mu         sync.Mutex
		samples    []string
		done       = make(chan struct{})
		wg         sync.WaitGroup
	)
	fail := func(msg string) {
		failN.Add(1)
		mu.Lock()
		if len(samples) < 5 && !slices.Contains(samples, msg) {
			samples = append(samples, msg)
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond) // no busy loop against a dead server
	}
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := client.Get(url)
				if err != nil {
					fail(err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					fail("reading the body: " + err.Error())
				case resp.StatusCode != http.StatusOK:
					fail(fmt.Sprintf("%s: %q", resp.Status, body))
				default:
					okN.Add(1)
				}
			}
		})
	}
	var once sync.Once
	return func() (int, int, []string) {
		once.Do(func() {
			close(done)
			wg.Wait()
			tr.CloseIdleConnections()
		})
		mu.Lock()
		defer mu.Unlock()
		return int(okN.Load()), int(failN.Load()), slices.Clone(samples)
	}
}

// TestWebServerHarness checks the web server helpers themselves: each
// server serves the placeholder, then, under load, a replacement certificate
// after its graceful reload, without failing a request.
func TestWebServerHarness(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		start func(*testing.T, string, string) *webServer
	}{{"nginx", startNginx}, {"apache", startApache}} {
		t.Run(tc.kind, func(t *testing.T) {
			const name = "www.harness.test"
			dir := filepath.Join(t.TempDir(), "certs") // created by start
			began := time.Now()
			w := tc.start(t, dir, name)
			t.Logf("%s serving on %s after %v", w.Kind, w.Addr, time.Since(began).Round(time.Millisecond))

			placeholder := certFileSerial(t, filepath.Join(dir, "fullchain.pem"))
			if got := servedSerial(t, w.Addr, name); got.Cmp(placeholder) != 0 {
				t.Fatalf("served serial %x, want the placeholder's %x", got, placeholder)
			}

			stop := loadGenerator(w.Addr, name, 4)
			t.Cleanup(func() { stop() })
			time.Sleep(300 * time.Millisecond)

			certPEM, keyPEM, serial := webCertPair(t, "replacement", name)
			installWebCert(t, dir, certPEM, keyPEM)
			reloaded := time.Now()
			w.runReload(t)
			for got := servedSerial(t, w.Addr, name); got.Cmp(serial) != 0; got = servedSerial(t, w.Addr, name) {
				if time.Since(reloaded) > 10*time.Second {
					t.Fatalf("%s still serves serial %x 10s after its reload, want %x\n%s", w.Kind, got, serial, w.Log())
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("new certificate served %v after the reload", time.Since(reloaded).Round(time.Millisecond))
			time.Sleep(500 * time.Millisecond)

			ok, failed, sample := stop()
			t.Logf("%s under load: %d requests ok, %d failed %q", w.Kind, ok, failed, sample)
			if failed != 0 || ok == 0 {
				t.Errorf("%s reload under load: %d ok, %d failed; sample: %q\n%s", w.Kind, ok, failed, sample, w.Log())
			}
		})
	}
}
