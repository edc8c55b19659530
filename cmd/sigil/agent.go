package main

import (
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/agent"
)

// newAgent is `sigil agent`: enrol once, then install assignments until
// stopped (see docs/deployment.md for the systemd unit).
func newAgent(stderr io.Writer) *cobra.Command {
	var cfg agent.Config
	var once, enrollOnly bool
	var logLevel string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the deployment agent: install certificates on this server, reload it, verify, report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			lvl.UnmarshalText([]byte(logLevel))
			cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
			cfg.Once = once
			if cfg.Token == "" {
				cfg.Token = os.Getenv("SIGIL_AGENT_TOKEN")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := agent.New(ctx, cfg)
			if err != nil {
				return err
			}
			if enrollOnly {
				return nil
			}
			cfg.Logger.Info("sigil agent running", "agent", a.ID(), "server", cfg.Server)
			return a.Run(ctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Server, "server", os.Getenv("SIGIL_AGENT_SERVER"), "https://HOST:PORT of Sigil's agent listener (env SIGIL_AGENT_SERVER; remembered after enrolment)")
	fl.StringVar(&cfg.Token, "token", "", "one-time enrolment token (env SIGIL_AGENT_TOKEN; first run only)")
	fl.StringVar(&cfg.CASHA256, "ca-sha256", "", "SHA-256 of the server's CA certificate, shown with the token (first run)")
	fl.StringVar(&cfg.CABundle, "ca-bundle", "", "PEM file of the server's CA, instead of --ca-sha256")
	fl.StringVar(&cfg.StateDir, "state-dir", "/var/lib/sigil-agent", "where the agent keeps its identity")
	fl.StringVar(&cfg.Hostname, "hostname", "", "name reported at enrolment (default: the host name)")
	fl.StringArrayVar(&cfg.AllowDirs, "allow-dir", nil, "only write under this directory (repeat; default: anywhere)")
	fl.StringArrayVar(&cfg.AllowCommands, "allow-command", nil, "only run this reload command, argv joined by spaces (repeat; default: any)")
	fl.DurationVar(&cfg.Wait, "wait", 25*time.Second, "long-poll wait")
	fl.BoolVar(&once, "once", false, "install what is assigned now, then exit")
	fl.BoolVar(&enrollOnly, "enroll-only", false, "enrol and exit")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
