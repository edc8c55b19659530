package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sigilhq/sigil/internal/api/agentapi"
	apideploy "github.com/sigilhq/sigil/internal/api/deploy"
)

// agentListener prepares the deployment agents' listener: always TLS (the
// API's certificate), asking for a client certificate from the agent CA.
// Enrolment is the one call made without one.
func (s *Server) agentListener(ctx context.Context, base *tls.Config) error {
	if base == nil || len(base.Certificates) == 0 {
		return fmt.Errorf("the agent listener needs a TLS certificate")
	}
	agentCA, err := s.deploy.AgentCA(ctx)
	if err != nil {
		return fmt.Errorf("agent CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(agentCA)
	chain := base.Certificates[0].Certificate
	sum := sha256.Sum256(chain[len(chain)-1])
	s.agentCAPin = hex.EncodeToString(sum[:])
	s.agentBaseURL = s.cfg.AgentURL
	if s.agentBaseURL == "" {
		s.agentBaseURL = "https://" + urlHost(s.agentLn.Addr())
	}
	cfg := base.Clone()
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.ClientCAs = pool
	h := agentapi.New(s.deploy, agentapi.Options{Logger: s.log, Audit: s.audit})
	s.agentSrv = &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	return nil
}

// AgentURL is the base URL of the agents' listener ("" when it is off).
func (s *Server) AgentURL() string {
	if s.agentLn == nil {
		return ""
	}
	return s.agentBaseURL
}

// AgentCAPin is the hex SHA-256 of the CA certificate that signs the
// agents' listener certificate (`sigil agent --ca-sha256`).
func (s *Server) AgentCAPin() string { return s.agentCAPin }

func (s *Server) agentInfo() apideploy.AgentInfo {
	return apideploy.AgentInfo{URL: s.AgentURL(), CASHA256: s.agentCAPin}
}
