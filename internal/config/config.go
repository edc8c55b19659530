// Package config holds Sigil's server configuration: defaults that work out
// of the box, an optional YAML file, SIGIL_* environment variables and
// command-line flags (in rising precedence), and Validate, which explains
// what is wrong before anything starts.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the server configuration. The zero value of every field means
// "use the default".
type Config struct {
	DataDir      string `yaml:"data_dir"`      // SQLite database, master key, credentials, CA bundle
	Listen       string `yaml:"listen"`        // the API: AWS JSON and Sigil's own endpoints
	PublicListen string `yaml:"public_listen"` // plain-HTTP CRL and OCSP
	// AgentListen is the deployment agents' listener: always TLS, with
	// client certificates ("off" disables it).
	AgentListen string `yaml:"agent_listen"`
	// AgentURL is the base URL agents use to reach AgentListen, shown with
	// enrolment tokens (default: https:// and the bound address).
	AgentURL string `yaml:"agent_url"`
	Store    string `yaml:"store"`  // sqlite:PATH (default: DATA_DIR/sigil.db) or postgres://...
	Dev      bool   `yaml:"dev"`    // development mode: well-known credentials, plain HTTP, loopback only
	Region   string `yaml:"region"` // the region in ARNs and credential scopes
	// PublicURL is the base URL at which relying parties reach the public
	// listener (CRL, OCSP and CA-certificate URLs in certificates start
	// with it). Default: http:// and the bound public_listen address.
	PublicURL string `yaml:"public_url"`
	// ObjectsDir holds the object-store buckets (S3BucketName of CRL
	// configurations and audit reports). Default: DATA_DIR/objects.
	ObjectsDir string `yaml:"objects_dir"`

	Log        LogConfig        `yaml:"log"`
	TLS        TLSConfig        `yaml:"tls"`
	Issuance   IssuanceConfig   `yaml:"issuance"`
	Limits     LimitsConfig     `yaml:"limits"`
	Scheduler  SchedulerConfig  `yaml:"scheduler"`
	Revocation RevocationConfig `yaml:"revocation"`
}

// RevocationConfig tunes CRLs and OCSP.
type RevocationConfig struct {
	// Propagation bounds how long a revocation takes to show in CRLs and
	// OCSP answers (default 5s). CRLs are checked for regeneration twice
	// per period, and nodes keep answers in memory for half of it.
	Propagation time.Duration `yaml:"propagation"`
	// CRLPartitionSize is how many certificates share one partition of a
	// PARTITIONED CRL (default 100000).
	CRLPartitionSize int64 `yaml:"crl_partition_size"`
	// OCSPValidity is nextUpdate - thisUpdate of OCSP answers (default 1h).
	OCSPValidity time.Duration `yaml:"ocsp_validity"`
	// OCSPSigner is "responder" (default: a delegated OCSP signing
	// certificate per CA) or "ca" (the CA key signs answers).
	OCSPSigner string `yaml:"ocsp_signer"`
}

// ObjectsPath returns the object-store directory.
func (c *Config) ObjectsPath() string {
	if c.ObjectsDir != "" {
		return c.ObjectsDir
	}
	return filepath.Join(c.DataDir, "objects")
}

// SchedulerConfig tunes background jobs. With several nodes on one
// PostgreSQL database, one node at a time runs them, chosen by a lease.
type SchedulerConfig struct {
	// LeaseTTL is how long the job lease lasts without renewal, so how soon
	// a surviving node takes over from a dead one (default 10s).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// JobInterval is how often each job runs (default 1m).
	JobInterval time.Duration `yaml:"job_interval"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json (default) or text
}

// TLSConfig configures the API's TLS. Without a certificate, Sigil issues
// its own from a local CA and writes the CA bundle to the data directory.
type TLSConfig struct {
	CertFile string   `yaml:"cert_file"`
	KeyFile  string   `yaml:"key_file"`
	Names    []string `yaml:"names"` // extra DNS names or IPs for the bootstrapped certificate
}

// IssuanceConfig tunes certificate issuance.
type IssuanceConfig struct {
	// SkipLint turns off linting every certificate before it is signed.
	SkipLint bool `yaml:"skip_lint"`
}

// LimitsConfig bounds resources.
type LimitsConfig struct {
	CAsPerAccount int   `yaml:"cas_per_account"` // default 200
	MaxBodyBytes  int64 `yaml:"max_body_bytes"`  // default 4 MiB
}

// Defaults.
const (
	DefaultDataDir      = "./sigil-data"
	DefaultListen       = "127.0.0.1:8443"
	DefaultPublicListen = "127.0.0.1:8080"
	DefaultAgentListen  = "127.0.0.1:8444"
	DefaultRegion       = "us-east-1"
)

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		DataDir: DefaultDataDir, Listen: DefaultListen, PublicListen: DefaultPublicListen, AgentListen: DefaultAgentListen, Region: DefaultRegion,
		Log: LogConfig{Level: "info", Format: "json"},
	}
}

// Load reads the defaults, then the YAML file at path (if path is not
// empty), then environment variables through getenv.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // an empty file is fine
			return c, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	return c, c.applyEnv(getenv)
}

// Env lists the environment variables Sigil reads, with the field each sets.
var Env = []string{"SIGIL_DATA_DIR", "SIGIL_LISTEN", "SIGIL_PUBLIC_LISTEN", "SIGIL_AGENT_LISTEN", "SIGIL_AGENT_URL", "SIGIL_STORE", "SIGIL_DEV", "SIGIL_REGION",
	"SIGIL_LOG_LEVEL", "SIGIL_LOG_FORMAT", "SIGIL_PUBLIC_URL", "SIGIL_OBJECTS_DIR"}

func (c *Config) applyEnv(getenv func(string) string) error {
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("SIGIL_DATA_DIR", &c.DataDir)
	set("SIGIL_LISTEN", &c.Listen)
	set("SIGIL_PUBLIC_LISTEN", &c.PublicListen)
	set("SIGIL_AGENT_LISTEN", &c.AgentListen)
	set("SIGIL_AGENT_URL", &c.AgentURL)
	set("SIGIL_STORE", &c.Store)
	set("SIGIL_REGION", &c.Region)
	set("SIGIL_LOG_LEVEL", &c.Log.Level)
	set("SIGIL_LOG_FORMAT", &c.Log.Format)
	set("SIGIL_PUBLIC_URL", &c.PublicURL)
	set("SIGIL_OBJECTS_DIR", &c.ObjectsDir)
	if v := getenv("SIGIL_DEV"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("SIGIL_DEV=%q is not a boolean", v)
		}
		c.Dev = b
	}
	return nil
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// StoreURL returns the store URL, defaulting to SQLite in the data
// directory.
func (c *Config) StoreURL() string {
	if c.Store != "" {
		return c.Store
	}
	return "sqlite:" + filepath.Join(c.DataDir, "sigil.db")
}

// Validate reports every problem it finds, one per line.
func (c *Config) Validate() error {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if c.DataDir == "" {
		add("data_dir must not be empty")
	}
	listeners := []struct{ name, addr string }{{"listen", c.Listen}, {"public_listen", c.PublicListen}}
	if c.AgentListen != "" && c.AgentListen != "off" {
		listeners = append(listeners, struct{ name, addr string }{"agent_listen", c.AgentListen})
	}
	for _, l := range listeners {
		host, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			add("%s %q is not HOST:PORT", l.name, l.addr)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add("%s %q has an invalid port", l.name, l.addr)
		}
		if c.Dev && !isLoopback(host) {
			add("%s %q is not a loopback address; --dev serves well-known credentials and may only listen on loopback", l.name, l.addr)
		}
	}
	if c.Listen == c.PublicListen && c.Listen != "" && !strings.HasSuffix(c.Listen, ":0") {
		add("listen and public_listen must differ")
	}
	if !regionRE.MatchString(c.Region) {
		add("region %q is not a region name like us-east-1", c.Region)
	}
	switch s := c.StoreURL(); {
	case strings.HasPrefix(s, "sqlite:"), strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
	case !strings.Contains(s, "://"):
	default:
		add("store %q: unsupported scheme (use sqlite:PATH or postgres://...)", s)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		add("log.format %q must be json or text", c.Log.Format)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls.cert_file and tls.key_file must be set together")
	}
	if c.Limits.CAsPerAccount < 0 || c.Limits.MaxBodyBytes < 0 {
		add("limits must not be negative")
	}
	if c.Scheduler.LeaseTTL < 0 || (c.Scheduler.LeaseTTL > 0 && c.Scheduler.LeaseTTL < 100*time.Millisecond) {
		add("scheduler.lease_ttl must be at least 100ms")
	}
	if c.Scheduler.JobInterval < 0 {
		add("scheduler.job_interval must not be negative")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			add("public_url %q must be an http:// or https:// URL without query or fragment, such as http://pki.example.com", c.PublicURL)
		}
	}
	r := c.Revocation
	if r.Propagation != 0 && (r.Propagation < 100*time.Millisecond || r.Propagation > time.Hour) {
		add("revocation.propagation %v must be between 100ms and 1h", r.Propagation)
	}
	if r.CRLPartitionSize < 0 {
		add("revocation.crl_partition_size must not be negative")
	}
	if r.OCSPValidity != 0 && (r.OCSPValidity < time.Minute || r.OCSPValidity > 7*24*time.Hour) {
		add("revocation.ocsp_validity %v must be between 1m and 168h", r.OCSPValidity)
	}
	switch r.OCSPSigner {
	case "", "responder", "ca":
	default:
		add("revocation.ocsp_signer %q must be responder or ca", r.OCSPSigner)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
