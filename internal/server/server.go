// Package server assembles a running Sigil from a configuration: it opens
// the data directory, master key and store, builds the domain services and
// the protocol front ends, and runs the listeners and background jobs. It is
// the composition root shared by `sigil serve` and the integration tests,
// and the only package (besides cmd/sigil) that picks implementations.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/api/acm"
	"github.com/sigilhq/sigil/internal/api/acmpca"
	"github.com/sigilhq/sigil/internal/api/admin"
	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/api/cloudtrail"
	apideploy "github.com/sigilhq/sigil/internal/api/deploy"
	"github.com/sigilhq/sigil/internal/api/eventbridge"
	"github.com/sigilhq/sigil/internal/api/functions"
	apikms "github.com/sigilhq/sigil/internal/api/kms"
	"github.com/sigilhq/sigil/internal/api/metrics"
	"github.com/sigilhq/sigil/internal/api/public"
	"github.com/sigilhq/sigil/internal/api/secretsmanager"
	"github.com/sigilhq/sigil/internal/api/sts"
	"github.com/sigilhq/sigil/internal/api/webhook"
	"github.com/sigilhq/sigil/internal/audit"
	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/certmgr"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/deploy"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/keys/soft"
	"github.com/sigilhq/sigil/internal/kms"
	"github.com/sigilhq/sigil/internal/lint"
	"github.com/sigilhq/sigil/internal/objects"
	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/secrets"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

// Server is a running Sigil instance.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	clock    clock.Clock
	devClock *clock.Offset // set only in dev mode
	store    store.Store
	iam      *iam.Service
	ca       *ca.Service
	acm      *certmgr.Service
	kms      *kms.Service
	secrets  *secrets.Service
	events   *events.Bus
	deploy   *deploy.Deployments
	metrics  *metrics.Metrics
	// migrations is how many migrations this binary has for its engine.
	migrations int
	audit      *audit.Log
	sched      *scheduler.Scheduler

	apiLn, pubLn   net.Listener
	revocationURL  string // base of the CRL/OCSP URLs written into certificates
	apiSrv, pubSrv *http.Server
	tlsActive      bool
	// The deployment agents' listener (nil when agent_listen is off).
	agentLn      net.Listener
	agentSrv     *http.Server
	agentCAPin   string // hex SHA-256 of the CA certificate agents pin
	agentBaseURL string

	// Bootstrap is set when this start created the first administrator.
	Bootstrap *iam.BootstrapResult
	// CredentialsFile is where the administrator's access key is written.
	CredentialsFile string
	// CABundle is the PEM file that verifies the API's TLS certificate.
	CABundle string

	stop   context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Options are dependencies the caller provides.
type Options struct {
	Logger *slog.Logger
}

// New prepares a server: it checks the configuration, opens the data
// directory and store, and binds the listeners (so a taken port fails here,
// with a clear message), but serves nothing until Start.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	var base clock.Clock = clock.Real{}
	s := &Server{cfg: cfg, log: log, clock: base}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.Dev {
		s.devClock = clock.NewOffset(base)
		s.clock = s.devClock
	}

	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	mk, created, err := seal.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "master.key"))
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created a new master key; back it up, nothing can be decrypted without it",
			"path", filepath.Join(cfg.DataDir, "master.key"))
	}
	keyring := seal.NewKeyring(mk)

	st, err := sqlstore.Open(ctx, cfg.StoreURL(), sqlstore.Options{})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.store = st
	s.migrations = sqlstore.MigrationsAvailable(st.Engine()) // for /readyz
	reserveSyscallP(log)
	if err := checkMasterKey(ctx, st, keyring.CurrentID(), true); err != nil {
		return nil, err
	}

	// Domain services get the store through the audit wrapper: a change
	// made for an API call commits with the call's audit record.
	ast := audit.Wrap(st)
	s.iam = iam.New(ast, keyring, s.clock, iam.Options{Region: cfg.Region, Logger: log})
	// Audit records carry real time (the wall clock), as signatures do.
	if s.audit, err = audit.New(ctx, st, keyring, base, s.iam, audit.Options{Region: cfg.Region, Logger: log}); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	if cfg.Dev {
		if err := s.iam.EnsureAccount(ctx, iam.DevAccount, "dev"); err != nil {
			return nil, fmt.Errorf("dev account: %w", err)
		}
		s.iam.AddStaticKey(iam.DevAccessKey, iam.DevSecret, iam.Principal{
			Account: iam.DevAccount, ARN: "arn:aws:iam::" + iam.DevAccount + ":root", Admin: true,
		})
	} else {
		if s.Bootstrap, err = s.iam.Bootstrap(ctx); err != nil {
			return nil, fmt.Errorf("bootstrap administrator: %w", err)
		}
		s.CredentialsFile = filepath.Join(cfg.DataDir, "credentials")
		if s.Bootstrap != nil {
			if err := writeCredentials(s.CredentialsFile, s.Bootstrap, cfg.Region); err != nil {
				return nil, err
			}
		}
	}

	if s.apiLn, err = listen(cfg.Listen, "the API"); err != nil {
		return nil, err
	}
	if s.pubLn, err = listen(cfg.PublicListen, "the public CRL/OCSP listener"); err != nil {
		return nil, err
	}
	if cfg.AgentListen != "" && cfg.AgentListen != "off" {
		if s.agentLn, err = listen(cfg.AgentListen, "the deployment agents' listener"); err != nil {
			return nil, err
		}
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = s.PublicURL()
	}
	s.revocationURL = publicURL
	objs, err := objects.New(cfg.ObjectsPath())
	if err != nil {
		return nil, err
	}

	var linter ca.Linter
	if !cfg.Issuance.SkipLint {
		l, err := lint.New()
		if err != nil {
			return nil, err
		}
		linter = l
	}
	propagation := cfg.Revocation.Propagation
	if propagation == 0 {
		propagation = 5 * time.Second
	}
	// Metrics read the store and the scheduler only when scraped.
	s.metrics = metrics.New(metrics.Options{Source: s.metricsSnapshot, Scheduler: schedulerView{s}, Now: s.clock.Now, Logger: log})
	s.ca = ca.New(ast, soft.New(keyring), s.iam, s.clock, ca.Options{Telemetry: s.metrics,
		Region: cfg.Region, Linter: linter, MaxCAsPerAccount: cfg.Limits.CAsPerAccount, Logger: log,
		Revocation: ca.RevocationOptions{PublicURL: publicURL, Propagation: propagation,
			PartitionSize: cfg.Revocation.CRLPartitionSize, OCSPValidity: cfg.Revocation.OCSPValidity,
			CASignsOCSP: cfg.Revocation.OCSPSigner == "ca"},
		Objects: objectStore{objs},
	})

	// Request signatures are checked against the wall clock even in dev
	// mode: clients sign with real time, only the domain follows the dev
	// clock.
	node, _ := os.Hostname()
	node = fmt.Sprintf("%s/%d/%s", node, os.Getpid(), uuid.NewString()[:8])
	leaseTTL := cfg.Scheduler.LeaseTTL
	if leaseTTL == 0 {
		leaseTTL = 10 * time.Second
	}
	// The scheduler ticks at least twice per propagation period so that the
	// CRL job can keep the revocation bound.
	s.sched = scheduler.New(st, base, node, scheduler.Options{LeaseTTL: leaseTTL, Tick: min(leaseTTL/4, propagation/2), Logger: log})
	every := cfg.Scheduler.JobInterval
	if every == 0 {
		every = time.Minute
	}
	s.sched.Add(scheduler.Job{Name: "purge-deleted-cas", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		n, err := s.ca.Purge(ctx, fence)
		if n > 0 {
			log.Info("purged deleted certificate authorities", "count", n)
		}
		return err
	}})

	s.sched.Add(scheduler.Job{Name: "refresh-crls", Every: propagation / 2, Run: func(ctx context.Context, fence scheduler.Fence) error {
		_, err := s.ca.RefreshCRLs(ctx, fence)
		return err
	}})
	s.sched.Add(scheduler.Job{Name: "fail-stale-audit-reports", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		n, err := s.ca.FailStaleAuditReports(ctx, fence)
		if n > 0 {
			log.Warn("audit reports abandoned by a stopped node marked FAILED", "count", n)
		}
		return err
	}})

	s.acm = certmgr.New(ast, s.ca, keyring, s.iam, s.clock, certmgr.Options{Region: cfg.Region, Logger: log, Telemetry: s.metrics})
	s.sched.Add(scheduler.Job{Name: "acm-renewals", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		_, err := s.acm.RenewDue(ctx, certmgr.Fence(fence))
		return err
	}})
	s.sched.Add(scheduler.Job{Name: "acm-expiry", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		if _, err := s.acm.ExpireDue(ctx, certmgr.Fence(fence)); err != nil {
			return err
		}
		_, err := s.acm.SendExpiryEvents(ctx, certmgr.Fence(fence))
		return err
	}})

	s.kms = kms.New(ast, keyring, s.iam, s.clock, kms.Options{Region: cfg.Region, Logger: log})
	s.sched.Add(scheduler.Job{Name: "kms-keys", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		if _, err := s.kms.RotateDue(ctx, fence); err != nil {
			return err
		}
		_, err := s.kms.DeleteDue(ctx, fence)
		return err
	}})
	s.secrets = secrets.New(ast, s.kms, s.iam, keyring, s.clock, &functions.Invoker{Now: s.clock.Now},
		&secrets.CertificateServices{PCA: s.ca, ACM: s.acm},
		secrets.Options{Region: cfg.Region, Logger: log, AllowHTTPFunctions: cfg.Dev, Telemetry: s.metrics})
	// Rotations are looked for often: RotateSecret starts one "now".
	s.sched.Add(scheduler.Job{Name: "secret-rotations", Every: min(every, time.Second), Run: func(ctx context.Context, fence scheduler.Fence) error {
		_, err := s.secrets.RotateDue(ctx, fence)
		return err
	}})
	s.sched.Add(scheduler.Job{Name: "purge-deleted-secrets", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		n, err := s.secrets.PurgeDue(ctx, fence)
		if n > 0 {
			log.Info("purged secrets whose recovery window ended", "count", n)
		}
		return err
	}})

	s.sched.Add(scheduler.Job{Name: "expired-sessions", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		_, err := s.iam.DeleteExpiredSessions(ctx, fence)
		return err
	}})

	// Records of calls that crashed before they finished are chained after
	// a grace period.
	s.sched.Add(scheduler.Job{Name: "audit-orphans", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		n, err := s.audit.ChainOrphans(ctx, fence)
		if n > 0 {
			log.Warn("chained audit records of calls that never finished", "count", n)
		}
		return err
	}})

	// Event rules: new outbox events are fanned out to the rules' targets,
	// then delivered (and retried) to their API destinations.
	s.events = events.NewBus(ast, s.iam, keyring, s.clock, cfg.Region)
	dispatcher := events.NewDispatcher(ast, keyring, webhook.NewSender(base, 5*time.Second), s.clock, log)
	dispatcher.Telemetry = s.metrics
	s.sched.Add(scheduler.Job{Name: "event-fanout", Every: min(every, time.Second), Run: func(ctx context.Context, fence scheduler.Fence) error {
		_, err := dispatcher.Fanout(ctx, fence)
		return err
	}})
	s.sched.Add(scheduler.Job{Name: "event-delivery", Every: min(every, time.Second), Run: func(ctx context.Context, fence scheduler.Fence) error {
		_, err := dispatcher.Deliver(ctx, fence)
		return err
	}})
	s.sched.Add(scheduler.Job{Name: "purge-events", Every: every, Run: func(ctx context.Context, fence scheduler.Fence) error {
		n, err := dispatcher.Purge(ctx, fence)
		if n > 0 {
			log.Info("purged events and deliveries past their retention", "count", n)
		}
		return err
	}})

	// Deployments: agents, profiles, deployments and their reconciliation.
	// Agent certificates follow the wall clock, as TLS checks them.
	s.deploy = deploy.New(ast, s.acm, s.secrets, s.iam, keyring, s.clock, deploy.Options{Region: cfg.Region, Logger: log, WallClock: base})
	s.sched.Add(scheduler.Job{Name: "deploy-reconcile", Every: min(every, 10*time.Second), Run: func(ctx context.Context, fence scheduler.Fence) error {
		_, err := s.deploy.ReconcileAll(ctx, fence)
		return err
	}})

	aws := awsjson.NewServer(s.iam, base, awsjson.Options{
		Region: cfg.Region, MaxBodyBytes: cfg.Limits.MaxBodyBytes, Logger: log, Audit: s.audit, Observe: s.metrics.ObserveAPI,
	}, acmpca.Service(s.ca), acm.Service(s.acm), secretsmanager.Service(s.secrets), apikms.Service(s.kms),
		functions.Service(s.secrets), admin.Service(s.iam), cloudtrail.Service(s.audit), eventbridge.Service(s.events),
		eventbridge.NativeService(s.events), apideploy.Service(s.deploy, s.agentInfo))

	apiMux := http.NewServeMux()
	stsHandler := sts.New(s.iam, base, cfg.Region, log)
	stsHandler.Observe = s.auditSTS
	apiMux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// STS speaks the Query protocol on the same endpoint as the JSON
		// services, as AWS_ENDPOINT_URL makes every SDK client use one URL.
		if sts.IsQuery(r) {
			stsHandler.ServeHTTP(w, r)
			return
		}
		aws.ServeHTTP(w, r)
	}))
	apiMux.HandleFunc("/_sigil/dev/clock", s.handleDevClock)
	apiMux.HandleFunc("GET /_sigil/dev/events", s.handleDevEvents)
	apiMux.HandleFunc("GET /healthz", handleHealth)
	apiMux.Handle("GET /metrics", s.metrics.Handler())
	apiMux.HandleFunc("GET /readyz", s.handleReady)
	pub := public.New(s.ca, public.Options{MaxAge: propagation, Clock: s.clock, Logger: log, Ready: st.Ping})

	var tlsCfg *tls.Config
	if !cfg.Dev || s.agentLn != nil {
		tlsCfg, s.CABundle, err = s.serverTLS(keyring)
		if err != nil {
			return nil, err
		}
		s.tlsActive = !cfg.Dev
	}
	if s.agentLn != nil {
		if err := s.agentListener(ctx, tlsCfg); err != nil {
			return nil, err
		}
	}
	if !s.tlsActive {
		tlsCfg = nil
	}

	s.apiSrv = &http.Server{Handler: apiMux, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	s.pubSrv = &http.Server{Handler: pub, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s, nil
}

var reserveOnce sync.Once

// reserveSyscallP adds one scheduler P (GOMAXPROCS) unless the operator set
// GOMAXPROCS. The embedded SQLite (modernc) enters fsync through
// syscall.RawSyscall, which does not hand its P back to the scheduler, so
// during every commit's fsync one P — a whole core on a 2-core machine —
// sits idle while request goroutines wait to run. Measured on 2 cores:
// issuance went from about 2,800 to 3,800 certificates per second, with CPU
// use from 155% to 180% (docs/performance.md).
func reserveSyscallP(log *slog.Logger) {
	reserveOnce.Do(func() {
		if os.Getenv("GOMAXPROCS") != "" {
			return
		}
		n := runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(n + 1)
		log.Debug("GOMAXPROCS raised by one for SQLite's blocking fsync", "gomaxprocs", n+1)
	})
}

func listen(addr, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, errAddrInUse) || strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("cannot listen on %s for %s: the address is already in use", addr, what)
		}
		return nil, fmt.Errorf("cannot listen on %s for %s: %w", addr, what, err)
	}
	return ln, nil
}

var errAddrInUse = errors.New("address already in use")

// prepareDataDir creates the data directory (0700) and checks that it is
// writable.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("the data directory %s is not usable: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("the data directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// checkMasterKey refuses a master key other than the one that sealed this
// store (every CA key would fail to unseal later). With record set, a store
// that records no key yet is marked as sealed by this one.
func checkMasterKey(ctx context.Context, st store.Store, id string, record bool) error {
	return st.Update(ctx, func(tx store.Tx) error {
		got, err := tx.Meta().Get(ctx, "master_key_id")
		if errors.Is(err, store.ErrNotFound) {
			if !record {
				return nil
			}
			return tx.Meta().Put(ctx, "master_key_id", id)
		}
		if err != nil {
			return err
		}
		if got != id {
			return fmt.Errorf("the master key (id %s) is not the one that sealed this database (id %s); restore the original master.key", id, got)
		}
		return nil
	})
}

// writeCredentials writes the administrator's access key as an AWS shared
// credentials file (mode 0600), never to the log.
func writeCredentials(path string, b *iam.BootstrapResult, region string) error {
	content := fmt.Sprintf("# Sigil administrator of account %s (%s).\n# Use: AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=sigil\n[sigil]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n",
		b.Account, b.PrincipalARN, path, b.AccessKeyID, b.SecretKey, region)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write administrator credentials: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write administrator credentials: %w", err)
	}
	return f.Close()
}

// Start serves the listeners and runs background jobs until Shutdown.
func (s *Server) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	serve := func(srv *http.Server, ln net.Listener, useTLS bool) {
		defer s.wg.Done()
		var err error
		if useTLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}
	s.wg.Add(3)
	go serve(s.apiSrv, s.apiLn, s.tlsActive)
	go serve(s.pubSrv, s.pubLn, false)
	if s.agentSrv != nil {
		s.wg.Add(1)
		go serve(s.agentSrv, s.agentLn, true)
	}
	go func() {
		defer s.wg.Done()
		s.sched.Run(ctx)
	}()
	s.log.Info("sigil listening", "api", s.APIURL(), "public", s.PublicURL(), "agents", s.AgentURL(), "dev", s.cfg.Dev,
		"data_dir", s.cfg.DataDir, "region", s.cfg.Region)
}

// Shutdown stops accepting requests, waits for in-flight ones (until ctx
// ends) and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.stop != nil {
		s.stop()
	}
	var err error
	if s.apiSrv != nil {
		err = errors.Join(s.apiSrv.Shutdown(ctx), s.pubSrv.Shutdown(ctx))
	}
	if s.agentSrv != nil {
		// Long polls end with the listener; they do not hold shutdown.
		s.agentSrv.Close()
	}
	s.wg.Wait()
	if s.ca != nil {
		s.ca.Stop()
	}
	return errors.Join(err, s.Close())
}

// Close releases listeners and the store without waiting for requests.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		if s.audit != nil {
			// Write the records still queued before the store goes.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if aerr := s.audit.Close(ctx); aerr != nil {
				s.log.Error("audit records not written at shutdown", "err", aerr)
			}
			cancel()
		}
		if s.apiLn != nil {
			s.apiLn.Close()
		}
		if s.pubLn != nil {
			s.pubLn.Close()
		}
		if s.agentLn != nil {
			s.agentLn.Close()
		}
		if s.store != nil {
			err = s.store.Close()
		}
	})
	return err
}

// APIURL is the base URL of the API listener.
func (s *Server) APIURL() string {
	scheme := "http"
	if s.tlsActive {
		scheme = "https"
	}
	return scheme + "://" + urlHost(s.apiLn.Addr())
}

// RevocationURL is the base of the CRL, OCSP and CA-certificate URLs
// written into certificates: public_url, or PublicURL when it is not set.
func (s *Server) RevocationURL() string { return s.revocationURL }

// PublicURL is the base URL of the public CRL/OCSP listener.
func (s *Server) PublicURL() string { return "http://" + urlHost(s.pubLn.Addr()) }

func urlHost(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
	}
	return net.JoinHostPort(tcp.IP.String(), fmt.Sprint(tcp.Port))
}

// Config returns the configuration the server runs with.
func (s *Server) Config() config.Config { return s.cfg }

// CA exposes the CA service (for benchmarks and tools in this module).
func (s *Server) CA() *ca.Service { return s.ca }

// Store exposes the store (tests use it to simulate a database failure).
func (s *Server) Store() store.Store { return s.store }

// Scheduler exposes the background-job scheduler (tests watch its lease).
func (s *Server) Scheduler() *scheduler.Scheduler { return s.sched }

// ObjectsDir is the object-store directory (buckets of CRLs and audit
// reports).
func (s *Server) ObjectsDir() string { return s.cfg.ObjectsPath() }

// Audit exposes the audit log (tests flush it).
func (s *Server) Audit() *audit.Log { return s.audit }

// IAM exposes the identity service (tests use it to add principals).
func (s *Server) IAM() *iam.Service { return s.iam }

func handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fail := func(why string) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", why)
	}
	if err := s.store.Ping(ctx); err != nil {
		fail("the store is unreachable")
		return
	}
	// Every migration this binary knows is applied (a node started after
	// a newer one migrated the store still sees its own ones applied).
	if sq, ok := s.store.(*sqlstore.Store); ok {
		if got := sq.MigrationCount(ctx); got < s.migrations {
			fail(fmt.Sprintf("%d of %d migrations applied", got, s.migrations))
			return
		}
	}
	// Keys were unsealed at start (the server does not start otherwise).
	w.Write([]byte("ok\nstore: reachable\nmigrations: applied\nkeys: unsealed\n"))
}

// objectStore adapts the object directory to the ca service's port.
type objectStore struct{ d *objects.Dir }

func (o objectStore) Put(ctx context.Context, bucket, key string, data []byte) error {
	return o.d.Put(ctx, bucket, key, data)
}

func (o objectStore) Create(ctx context.Context, bucket, key string) (ca.ObjectWriter, error) {
	w, err := o.d.Create(ctx, bucket, key)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return w, nil
}

// schedulerView lets metrics read the scheduler, which is made after them.
type schedulerView struct{ s *Server }

func (v schedulerView) Leader() (bool, int64) {
	if v.s.sched == nil {
		return false, 0
	}
	return v.s.sched.Leader()
}

func (v schedulerView) Jobs() []scheduler.JobStatus {
	if v.s.sched == nil {
		return nil
	}
	return v.s.sched.Jobs()
}

// metricsSnapshot reads what the metrics gauges show from the store.
func (s *Server) metricsSnapshot(ctx context.Context) (*metrics.Snapshot, error) {
	snap := &metrics.Snapshot{ByStatus: map[[2]string]int{}, Authorities: map[string]int{}}
	now := s.clock.Now()
	err := s.store.View(ctx, func(tx store.Tx) error {
		err := tx.ACMCertificates().Expiries(ctx, func(arn, domain, typ, status string, notAfter time.Time) error {
			snap.ByStatus[[2]string{status, typ}]++
			if !notAfter.IsZero() && status != "FAILED" {
				snap.Certificates = append(snap.Certificates, metrics.Certificate{ARN: arn, Domain: domain, Type: typ, NotAfter: notAfter})
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.CAs().Each(ctx, func(c *store.CA) error {
			status := c.Status
			if (status == "ACTIVE" || status == "DISABLED") && !c.NotAfter.IsZero() && !now.Before(c.NotAfter) {
				status = "EXPIRED"
			}
			snap.Authorities[status]++
			if status != "DELETED" && !c.NotAfter.IsZero() && len(c.Certificate) > 0 {
				cn := ""
				if cert, err := x509.ParseCertificate(c.Certificate); err == nil {
					cn = cert.Subject.CommonName
				}
				snap.Certificates = append(snap.Certificates, metrics.Certificate{ARN: c.ARN, Domain: cn, Type: "CA", NotAfter: c.NotAfter})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if snap.OutboxBacklog, err = tx.Events().CountUndelivered(ctx); err != nil {
			return err
		}
		if snap.Deliveries, err = tx.EventRules().CountDeliveries(ctx); err != nil {
			return err
		}
		snap.DeployTargets, err = tx.Deploy().CountTargets(ctx)
		return err
	})
	if err == nil {
		snap.Agents, err = s.deploy.AgentCounts(ctx)
	}
	return snap, err
}

// auditSTS records an STS call in the audit trail, as the JSON front end
// records its calls.
func (s *Server) auditSTS(ctx context.Context, c *sts.Call) (context.Context, func(any, error)) {
	ctx, call := s.audit.Begin(ctx, audit.Info{Source: audit.EventSource(sts.SigningName), Name: c.Action,
		SourceIP: c.SourceIP, UserAgent: c.UserAgent, RequestID: c.RequestID, Request: c.Parameters()})
	return ctx, func(resp any, err error) {
		if c.Principal.Account != "" || c.Principal.ARN != "" {
			call.SetPrincipal(c.Principal)
		}
		if err != nil {
			call.SetErrorCode(c.ErrorCode)
		}
		call.Finish(sts.Result(resp), err)
	}
}
