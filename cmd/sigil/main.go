// Command sigil is Sigil's single binary: the server (serve), configuration
// checks (validate-config) and version information. See the README.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	if err := newRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sigil:", err)
		os.Exit(1)
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "sigil",
		Short:         "Sigil: a self-hosted private certificate authority that speaks the AWS APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServe(stdout, stderr), newValidateConfig(stdout), newVersion(stdout), newBackup(stdout), newRestore(stdout), newFunction(stdout), newAdmin(stdout), newAudit(stdout), newEvents(stdout), newDeploy(stdout), newAgent(stderr))
	return root
}

// serverFlags binds the flags shared by serve and validate-config.
type serverFlags struct {
	configFile, dataDir, listen, publicListen, agentListen, publicURL, store, region, logLevel, logFormat string
	dev                                                                                                   bool
}

func (f *serverFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "YAML configuration file (env SIGIL_CONFIG)")
	fl.StringVar(&f.dataDir, "data-dir", config.DefaultDataDir, "data directory: database, master key, credentials, CA bundle (env SIGIL_DATA_DIR)")
	fl.StringVar(&f.listen, "listen", config.DefaultListen, "HOST:PORT of the API (env SIGIL_LISTEN)")
	fl.StringVar(&f.publicListen, "public-listen", config.DefaultPublicListen, "HOST:PORT of the plain-HTTP CRL/OCSP listener (env SIGIL_PUBLIC_LISTEN)")
	fl.StringVar(&f.agentListen, "agent-listen", config.DefaultAgentListen, "HOST:PORT of the deployment agents' mTLS listener, or off (env SIGIL_AGENT_LISTEN)")
	fl.StringVar(&f.publicURL, "public-url", "", "base URL relying parties use to reach the public listener, put in certificates' CRL and OCSP URLs (default http://PUBLIC_LISTEN) (env SIGIL_PUBLIC_URL)")
	fl.StringVar(&f.store, "store", "", "store URL: sqlite:PATH (default DATA_DIR/sigil.db) (env SIGIL_STORE)")
	fl.BoolVar(&f.dev, "dev", false, "development mode: access key test/test, plain HTTP, loopback only, dev clock (env SIGIL_DEV)")
	fl.StringVar(&f.region, "region", config.DefaultRegion, "region used in ARNs and credential scopes (env SIGIL_REGION)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error (env SIGIL_LOG_LEVEL)")
	fl.StringVar(&f.logFormat, "log-format", "json", "json or text (env SIGIL_LOG_FORMAT)")
}

// load builds the configuration — defaults < file < environment < flags set
// on the command line — and validates it.
func (f *serverFlags) load(cmd *cobra.Command) (config.Config, error) {
	file := f.configFile
	if file == "" {
		file = os.Getenv("SIGIL_CONFIG")
	}
	c, err := config.Load(file, os.Getenv)
	if err != nil {
		return c, err
	}
	fl := cmd.Flags()
	str := func(name string, dst *string, v string) {
		if fl.Changed(name) {
			*dst = v
		}
	}
	str("data-dir", &c.DataDir, f.dataDir)
	str("listen", &c.Listen, f.listen)
	str("public-listen", &c.PublicListen, f.publicListen)
	str("agent-listen", &c.AgentListen, f.agentListen)
	str("public-url", &c.PublicURL, f.publicURL)
	str("store", &c.Store, f.store)
	str("region", &c.Region, f.region)
	str("log-level", &c.Log.Level, f.logLevel)
	str("log-format", &c.Log.Format, f.logFormat)
	if fl.Changed("dev") {
		c.Dev = f.dev
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

func newServe(stdout, stderr io.Writer) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Sigil server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			log := newLogger(stderr, cfg.Log)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := server.New(ctx, cfg, server.Options{Logger: log})
			if err != nil {
				return err
			}
			srv.Start()
			printBanner(stdout, srv)
			<-ctx.Done()
			log.Info("shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return srv.Shutdown(shutdownCtx)
		},
	}
	f.bind(cmd)
	return cmd
}

func newValidateConfig(stdout io.Writer) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "validate-config",
		Short: "Check the configuration (file, environment and flags) and print the result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			publicURL := cfg.PublicURL
			if publicURL == "" {
				publicURL = "(http:// and the bound public_listen address)"
			}
			fmt.Fprintf(stdout, "configuration is valid\n  data_dir:      %s\n  listen:        %s\n  public_listen: %s\n  public_url:    %s\n  objects_dir:   %s\n  store:         %s\n  region:        %s\n  dev:           %v\n  lint before signing: %v\n",
				cfg.DataDir, cfg.Listen, cfg.PublicListen, publicURL, cfg.ObjectsPath(), cfg.StoreURL(), cfg.Region, cfg.Dev, !cfg.Issuance.SkipLint)
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

func newVersion(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(stdout, "sigil", versionString())
		},
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	v := "devel"
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	return v
}

func newLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// publicLine says where the CRL/OCSP listener is, and the URL certificates
// will name when that differs.
func publicLine(s *server.Server) string {
	if u := s.RevocationURL(); u != s.PublicURL() {
		return s.PublicURL() + "  (certificates name " + u + ")"
	}
	return s.PublicURL()
}

// agentLine says where deployment agents connect (nothing when the agent
// listener is off).
func agentLine(s *server.Server) string {
	if s.AgentURL() == "" {
		return ""
	}
	return fmt.Sprintf("\nDeployment agents connect to %s (TLS, CA SHA-256 %s);\n  enrol one with: sigil deploy token create --tag role=web\n", s.AgentURL(), s.AgentCAPin())
}

func printBanner(w io.Writer, s *server.Server) {
	cfg := s.Config()
	if cfg.Dev {
		fmt.Fprintf(w, `
Sigil %s is running in DEV mode: well-known credentials, plain HTTP, loopback only. Not for production.

  API:         %s
  CRL/OCSP:    %s
  Data:        %s

Point the AWS CLI or any AWS SDK at it:

  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=%s
  aws --endpoint-url %s acm-pca list-certificate-authorities
  (SDKs and AWS CLI 2.13+ also read AWS_ENDPOINT_URL=%s)

Move the server clock forward (dev only):
  curl -X POST -d '{"advance":"720h"}' %s/_sigil/dev/clock
%s
`, versionString(), s.APIURL(), publicLine(s), cfg.DataDir, cfg.Region, s.APIURL(), s.APIURL(), s.APIURL(), agentLine(s))
		return
	}
	creds := "(administrator created earlier; see the credentials file)"
	if s.Bootstrap != nil {
		creds = "created for account " + s.Bootstrap.Account + " (secret written to the file, not to the log)"
	}
	bundle := s.CABundle
	if bundle == "" {
		bundle = "(the configured certificate's issuer)"
	}
	fmt.Fprintf(w, `
Sigil %s is running.

  API:          %s  (TLS; CA bundle: %s)
  CRL/OCSP:     %s
  Data:         %s
  Credentials:  %s
                %s

Point the AWS CLI or any AWS SDK at it:

  export AWS_CA_BUNDLE=%s
  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=sigil AWS_DEFAULT_REGION=%s
  aws --endpoint-url %s acm-pca list-certificate-authorities
  (SDKs and AWS CLI 2.13+ also read AWS_ENDPOINT_URL=%s)
%s
`, versionString(), s.APIURL(), bundle, publicLine(s), cfg.DataDir, s.CredentialsFile, creds,
		bundle, s.CredentialsFile, cfg.Region, s.APIURL(), s.APIURL(), agentLine(s))
}
