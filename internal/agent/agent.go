// Package agent is `sigil agent`, the program that runs on the servers that
// use certificates: it enrols once with a one-time token, then long-polls
// Sigil over mutual TLS for assignments, writes each certificate's files
// atomically (keeping the previous ones), runs the reload command, checks
// with a TLS handshake that the new certificate is served, rolls back when
// it is not, and reports the result. It renews its own client certificate
// before it expires.
package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/api/agentapi"
)

// Version is reported at enrolment.
var Version = "dev"

// Config configures an agent.
type Config struct {
	Server   string // https://HOST:PORT of Sigil's agent listener
	StateDir string // identity and trust (default /var/lib/sigil-agent)
	Token    string // one-time enrolment token (first run only)
	// CASHA256 pins the CA certificate of the agent listener at enrolment
	// (hex SHA-256, as CreateEnrollmentToken shows it); CABundle is a PEM
	// file to trust instead.
	CASHA256 string
	CABundle string
	Hostname string
	// AllowDirs, when set, are the only directories the agent writes
	// into; AllowCommands the only reload commands (argv joined by
	// spaces) it runs. A server that is compromised then cannot make the
	// agent write or run anything else.
	AllowDirs     []string
	AllowCommands []string
	Wait          time.Duration // long-poll wait (default 25 s)
	Logger        *slog.Logger
	// Once makes Run return after the first poll's assignments are done.
	Once bool
}

// Agent is a running agent.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	state  *state
	client *http.Client

	mu   sync.Mutex
	cert *tls.Certificate
}

type state struct {
	AgentID string `json:"AgentId"`
	Account string `json:"Account"`
	Server  string `json:"Server"`
}

const (
	stateFile    = "agent.json"
	keyFile      = "agent.key"
	certFile     = "agent.crt"
	serverCAFile = "server-ca.pem"
	previousExt  = ".sigil-previous"
	newExt       = ".new"
)

// New prepares an agent: it loads its identity, enrolling first when it
// has none.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.StateDir == "" {
		cfg.StateDir = "/var/lib/sigil-agent"
	}
	if cfg.Wait == 0 {
		cfg.Wait = 25 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	a := &Agent{cfg: cfg, log: cfg.Logger}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, stateFile)); errors.Is(err, os.ErrNotExist) {
		if err := a.enrol(ctx); err != nil {
			return nil, err
		}
	} else if cfg.Token != "" {
		a.log.Info("already enrolled; the token was not used", "state_dir", cfg.StateDir)
	}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// ID is the agent's ID.
func (a *Agent) ID() string { return a.state.AgentID }

func (a *Agent) path(name string) string { return filepath.Join(a.cfg.StateDir, name) }

// enrol exchanges the token for an identity. The server's CA is trusted
// through the pinned hash (or the given bundle) and saved for later.
func (a *Agent) enrol(ctx context.Context) error {
	if a.cfg.Token == "" {
		return errors.New("this agent is not enrolled: give --token (from `sigil deploy token create`)")
	}
	if a.cfg.Server == "" {
		return errors.New("give --server https://HOST:PORT (the agent listener)")
	}
	keyPEM, csrPEM, err := newIdentityKey(a.cfg.Hostname)
	if err != nil {
		return err
	}
	var serverCA []byte // PEM of what to trust from now on
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case a.cfg.CABundle != "":
		pemBytes, err := os.ReadFile(a.cfg.CABundle)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return fmt.Errorf("%s holds no PEM certificate", a.cfg.CABundle)
		}
		tcfg.RootCAs = pool
		serverCA = pemBytes
	case a.cfg.CASHA256 != "":
		pin := strings.ToLower(strings.ReplaceAll(a.cfg.CASHA256, ":", ""))
		u, err := url.Parse(a.cfg.Server)
		if err != nil {
			return err
		}
		tcfg.InsecureSkipVerify = true // verified below against the pinned CA
		tcfg.VerifyConnection = func(cs tls.ConnectionState) error {
			for _, c := range cs.PeerCertificates {
				sum := sha256.Sum256(c.Raw)
				if hex.EncodeToString(sum[:]) != pin {
					continue
				}
				roots, inter := x509.NewCertPool(), x509.NewCertPool()
				roots.AddCert(c)
				for _, i := range cs.PeerCertificates[1:] {
					inter.AddCert(i)
				}
				if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: u.Hostname()}); err != nil {
					return fmt.Errorf("the server's certificate does not verify against the pinned CA: %w", err)
				}
				serverCA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
				return nil
			}
			return errors.New("the server presented no certificate with the pinned SHA-256 (--ca-sha256)")
		}
	default:
		return errors.New("give --ca-sha256 (shown with the token) or --ca-bundle to trust the server at enrolment")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tcfg, Proxy: http.ProxyFromEnvironment}}
	var out agentapi.EnrollResponse
	err = call(ctx, hc, http.MethodPost, a.cfg.Server+agentapi.PathEnroll, agentapi.EnrollRequest{Token: a.cfg.Token,
		CSR: csrPEM, Hostname: a.cfg.Hostname, AgentVersion: Version}, &out)
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	if serverCA == nil {
		return errors.New("enrol: the server's CA could not be recorded")
	}
	st, _ := json.MarshalIndent(state{AgentID: out.AgentID, Account: out.Account, Server: a.cfg.Server}, "", "  ")
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{keyFile, keyPEM, 0o600},
		{certFile, []byte(out.Certificate), 0o644},
		{serverCAFile, serverCA, 0o644},
		{stateFile, st, 0o600}, // last: its presence means "enrolled"
	} {
		if err := writeAtomic(a.path(f.name), f.data, f.mode, -1, -1); err != nil {
			return err
		}
	}
	a.log.Info("enrolled", "agent", out.AgentID, "account", out.Account, "tags", out.Tags)
	return nil
}

// load reads the identity and builds the mTLS client.
func (a *Agent) load() error {
	raw, err := os.ReadFile(a.path(stateFile))
	if err != nil {
		return err
	}
	a.state = &state{}
	if err := json.Unmarshal(raw, a.state); err != nil {
		return fmt.Errorf("%s: %w", a.path(stateFile), err)
	}
	if a.cfg.Server == "" {
		a.cfg.Server = a.state.Server
	}
	caPEM, err := os.ReadFile(a.path(serverCAFile))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if a.cfg.CABundle != "" {
		if b, err := os.ReadFile(a.cfg.CABundle); err == nil {
			pool.AppendCertsFromPEM(b)
		}
	}
	pool.AppendCertsFromPEM(caPEM)
	if err := a.loadCert(); err != nil {
		return err
	}
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			return a.cert, nil
		}}
	a.client = &http.Client{Timeout: a.cfg.Wait + 30*time.Second, Transport: &http.Transport{TLSClientConfig: tcfg,
		Proxy: http.ProxyFromEnvironment, IdleConnTimeout: 90 * time.Second}}
	return nil
}

// loadCert loads the identity. A renewal writes the new pair as *.new and
// then renames key and certificate one after the other; after a crash in
// between, the pair that matches is found among the files left.
func (a *Agent) loadCert() error {
	var firstErr error
	for _, p := range [][2]string{{certFile, keyFile}, {certFile, keyFile + newExt}, {certFile + newExt, keyFile + newExt}, {certFile + newExt, keyFile}} {
		c, err := tls.LoadX509KeyPair(a.path(p[0]), a.path(p[1]))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		a.mu.Lock()
		a.cert = &c
		a.mu.Unlock()
		return nil
	}
	return fmt.Errorf("agent identity: %w", firstErr)
}

// apiError is an error answer of the server.
type apiError struct {
	Status int
	Body   agentapi.Error
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.Body.Type, e.Body.Message) }

func call(ctx context.Context, hc *http.Client, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sigil-agent/"+Version)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(raw, &e.Body) != nil || e.Body.Type == "" {
			e.Body.Type, e.Body.Message = resp.Status, strings.TrimSpace(string(raw))
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Run polls for assignments and installs them until ctx ends (or, with
// Once, after one round).
func (a *Agent) Run(ctx context.Context) error {
	a.recoverInstall(ctx)
	backoff := time.Second
	for {
		if err := a.renewIfDue(ctx); err != nil {
			a.log.Warn("renewing the agent certificate failed; will retry", "err", err)
		}
		wait := a.cfg.Wait
		if a.cfg.Once {
			wait = 0
		}
		var list agentapi.AssignmentsResponse
		err := call(ctx, a.client, http.MethodGet, fmt.Sprintf("%s%s?wait=%d", a.cfg.Server, agentapi.PathAssignments, int(wait/time.Second)), nil, &list)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
				return fmt.Errorf("the server refuses this agent (deregistered?): %w", err)
			}
			a.log.Warn("poll failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		for _, as := range list.Assignments {
			a.process(ctx, as)
		}
		if a.cfg.Once {
			return nil
		}
	}
}

// renewIfDue renews the client certificate after two thirds of its life.
func (a *Agent) renewIfDue(ctx context.Context) error { return a.renew(ctx, false) }

func (a *Agent) renew(ctx context.Context, force bool) error {
	a.mu.Lock()
	leaf, _ := x509.ParseCertificate(a.cert.Certificate[0])
	a.mu.Unlock()
	if leaf == nil {
		return errors.New("the agent certificate does not parse")
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if !force && time.Now().Before(leaf.NotBefore.Add(life*2/3)) {
		return nil
	}
	keyPEM, csrPEM, err := newIdentityKey(a.cfg.Hostname)
	if err != nil {
		return err
	}
	var out agentapi.RenewResponse
	if err := call(ctx, a.client, http.MethodPost, a.cfg.Server+agentapi.PathCertificate, agentapi.RenewRequest{CSR: csrPEM}, &out); err != nil {
		return err
	}
	// The new pair is written beside the current one, then moved into
	// place; loadCert finds a matching pair whatever a crash leaves.
	if err := writeAtomic(a.path(keyFile+newExt), keyPEM, 0o600, -1, -1); err != nil {
		return err
	}
	if err := writeAtomic(a.path(certFile+newExt), []byte(out.Certificate), 0o644, -1, -1); err != nil {
		return err
	}
	if err := os.Rename(a.path(keyFile+newExt), a.path(keyFile)); err != nil {
		return err
	}
	if err := os.Rename(a.path(certFile+newExt), a.path(certFile)); err != nil {
		return err
	}
	if err := a.loadCert(); err != nil {
		return err
	}
	a.log.Info("agent certificate renewed")
	return nil
}

// newIdentityKey makes a new P-256 key for the agent's identity and a CSR
// for it, both PEM. The key never leaves this machine.
func newIdentityKey(hostname string) (keyPEM []byte, csrPEM string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: hostname}}, key)
	if err != nil {
		return nil, "", err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), nil
}

// Renew renews the agent's client certificate now (`sigil agent renew`).
func (a *Agent) Renew(ctx context.Context) error { return a.renew(ctx, true) }

// serialEqual compares a served serial with the assigned hex serial.
func serialEqual(served *big.Int, want string) bool {
	n, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(want), "0x"), 16)
	return ok && served != nil && served.Cmp(n) == 0
}
