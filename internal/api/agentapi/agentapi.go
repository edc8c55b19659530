// Package agentapi is the protocol between deployment agents and Sigil: a
// small JSON-over-HTTPS API served on its own always-TLS listener. An
// agent enrols once with a one-time token and a CSR; every other call is
// authenticated by the client certificate it received, whose identity is
// checked against each assignment it asks about.
package agentapi

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/audit"
	"github.com/sigilhq/sigil/internal/deploy"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
)

// Paths of the API.
const (
	PathEnroll      = "/v1/enroll"
	PathCertificate = "/v1/certificate"
	PathAssignments = "/v1/assignments"
)

// EnrollRequest enrols an agent.
type EnrollRequest struct {
	Token        string `json:"Token"`
	CSR          string `json:"Csr"` // PEM
	Hostname     string `json:"Hostname"`
	AgentVersion string `json:"AgentVersion"`
}

// EnrollResponse is the agent's identity.
type EnrollResponse struct {
	AgentID     string            `json:"AgentId"`
	Account     string            `json:"Account"`
	Tags        map[string]string `json:"Tags"`
	Certificate string            `json:"Certificate"` // PEM
	AgentCA     string            `json:"AgentCa"`     // PEM
}

// RenewRequest asks for a new client certificate.
type RenewRequest struct {
	CSR string `json:"Csr"`
}

// RenewResponse is the new client certificate.
type RenewResponse struct {
	Certificate string `json:"Certificate"`
}

// Assignment is work for the agent.
type Assignment struct {
	DeploymentID string         `json:"DeploymentId"`
	Deployment   string         `json:"Deployment"`
	Generation   int64          `json:"Generation"`
	Serial       string         `json:"Serial,omitempty"`
	Profile      deploy.Profile `json:"Profile"`
}

// AssignmentsResponse lists pending assignments.
type AssignmentsResponse struct {
	Assignments []Assignment `json:"Assignments"`
}

// File is a file to write.
type File struct {
	Path      string `json:"Path"`
	Content   []byte `json:"Content"`
	Mode      string `json:"Mode"`
	Sensitive bool   `json:"Sensitive,omitempty"`
}

// MaterialResponse is what to install.
type MaterialResponse struct {
	Assignment
	Files []File `json:"Files"`
}

// ReportRequest is the result of an assignment.
type ReportRequest struct {
	Generation   int64    `json:"Generation"`
	Succeeded    bool     `json:"Succeeded"`
	ServedSerial string   `json:"ServedSerial,omitempty"`
	Message      string   `json:"Message,omitempty"`
	Paths        []string `json:"Paths,omitempty"`
}

// Error is an error answer.
type Error struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// Options configure the handler.
type Options struct {
	Logger  *slog.Logger
	Audit   *audit.Log // optional
	MaxWait time.Duration
	// Poll is how often a long poll looks for new assignments (default 1 s).
	Poll time.Duration
}

// Handler serves the agent API.
type Handler struct {
	d    *deploy.Deployments
	opts Options
	mux  *http.ServeMux
}

// New returns the agent API handler.
func New(d *deploy.Deployments, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 60 * time.Second
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	h := &Handler{d: d, opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST "+PathEnroll, h.enroll)
	h.mux.HandleFunc("POST "+PathCertificate, h.agent("RenewAgentCertificate", h.renew))
	h.mux.HandleFunc("GET "+PathAssignments, h.agent("", h.assignments))
	h.mux.HandleFunc("GET "+PathAssignments+"/{id}/material", h.agent("GetDeploymentMaterial", h.material))
	h.mux.HandleFunc("POST "+PathAssignments+"/{id}/report", h.agent("ReportDeployment", h.report))
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Sigil-Request-Id", uuid.NewString())
	h.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError renders err; internal detail goes to the log only.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, typ := http.StatusInternalServerError, "InternalFailure"
	msg := "internal error; see the server log with request ID " + w.Header().Get("X-Sigil-Request-Id")
	switch errs.KindOf(err) {
	case errs.Invalid:
		status, typ, msg = http.StatusBadRequest, "ValidationException", errs.Message(err, msg)
	case errs.Denied:
		status, typ, msg = http.StatusForbidden, "AccessDeniedException", errs.Message(err, msg)
	case errs.NotFound:
		status, typ, msg = http.StatusNotFound, "ResourceNotFoundException", errs.Message(err, msg)
	case errs.Conflict, errs.State:
		status, typ, msg = http.StatusConflict, "ConflictException", errs.Message(err, msg)
	case errs.Unavailable:
		status, typ, msg = http.StatusServiceUnavailable, "ServiceUnavailable", errs.Message(err, msg)
	default:
		h.opts.Logger.Error("agent API error", "path", r.URL.Path, "request_id", w.Header().Get("X-Sigil-Request-Id"), "err", err)
	}
	if c := errs.CodeOf(err); c != "" && status != http.StatusInternalServerError {
		typ = string(c)
	}
	writeJSON(w, status, Error{Type: typ, Message: msg})
}

func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errs.New(errs.Invalid, "the request body could not be read")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errs.New(errs.Invalid, "the request body is not valid JSON: %v", err)
	}
	return nil
}

func csrDER(s string) ([]byte, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errs.New(errs.Invalid, "Csr must be a PEM CERTIFICATE REQUEST")
	}
	return b.Bytes, nil
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// record starts the audit record of an agent call (nil without an audit
// log).
func (h *Handler) record(ctx context.Context, r *http.Request, w http.ResponseWriter, name string, req any) (context.Context, *audit.Call) {
	if h.opts.Audit == nil || name == "" {
		return ctx, nil
	}
	return h.opts.Audit.Begin(ctx, audit.Info{Source: deploy.Service, Name: name, SourceIP: sourceIP(r),
		UserAgent: r.UserAgent(), RequestID: w.Header().Get("X-Sigil-Request-Id"), Request: req})
}

func agentPrincipal(a *deploy.Agent) iam.Principal {
	return iam.Principal{Account: a.Account, ARN: a.ARN, Type: "Agent", ID: a.ID}
}

func (h *Handler) enroll(w http.ResponseWriter, r *http.Request) {
	var in EnrollRequest
	if err := decode(r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	tokenID, _, _ := strings.Cut(in.Token, ".")
	ctx, call := h.record(r.Context(), r, w, "EnrollAgent", map[string]string{"tokenId": tokenID, "hostname": in.Hostname, "agentVersion": in.AgentVersion})
	der, err := csrDER(in.CSR)
	var out *deploy.Enrolled
	if err == nil {
		out, err = h.d.Enrol(ctx, in.Token, der, in.Hostname, in.AgentVersion)
	}
	if call != nil {
		if out != nil {
			call.SetPrincipal(agentPrincipal(out.Agent))
		}
		if err != nil {
			call.SetErrorCode(string(errs.CodeOf(err)))
		}
		call.Finish(map[string]string{"agentId": agentID(out)}, err)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, EnrollResponse{AgentID: out.Agent.ID, Account: out.Agent.Account, Tags: out.Agent.Tags,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: out.Certificate})),
		AgentCA:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: out.CA}))})
}

func agentID(e *deploy.Enrolled) string {
	if e == nil {
		return ""
	}
	return e.Agent.ID
}

// agentFunc handles a call of an authenticated agent.
type agentFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, a *deploy.Agent) (resp any, err error)

// agent authenticates the caller by its client certificate, then runs fn
// (recorded in the audit trail under name, unless name is empty).
func (h *Handler) agent(name string, fn agentFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			h.writeError(w, r, errs.Coded(errs.Denied, "AccessDeniedException", "This call needs the agent's client certificate (enrol first)."))
			return
		}
		a, err := h.d.AuthenticateAgent(r.Context(), r.TLS.VerifiedChains[0])
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		ctx, call := h.record(r.Context(), r, w, name, map[string]string{"deploymentId": r.PathValue("id"), "generation": r.URL.Query().Get("generation")})
		if call != nil {
			call.SetPrincipal(agentPrincipal(a))
		}
		resp, err := fn(ctx, w, r, a)
		if call != nil {
			if err != nil {
				call.SetErrorCode(string(errs.CodeOf(err)))
			}
			call.Finish(nil, err)
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

func (h *Handler) renew(ctx context.Context, _ http.ResponseWriter, r *http.Request, a *deploy.Agent) (any, error) {
	var in RenewRequest
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	der, err := csrDER(in.CSR)
	if err != nil {
		return nil, err
	}
	cert, err := h.d.RenewAgentCertificate(ctx, a, der)
	if err != nil {
		return nil, err
	}
	return RenewResponse{Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))}, nil
}

// assignments is the long poll: it answers as soon as there is work, or
// empty after wait seconds (at most MaxWait).
func (h *Handler) assignments(ctx context.Context, _ http.ResponseWriter, r *http.Request, a *deploy.Agent) (any, error) {
	wait := time.Duration(0)
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errs.New(errs.Invalid, "wait must be a number of seconds")
		}
		wait = min(time.Duration(n)*time.Second, h.opts.MaxWait)
	}
	deadline := time.Now().Add(wait)
	touch := true
	for {
		list, err := h.d.Pending(ctx, a, touch)
		if err != nil {
			return nil, err
		}
		touch = false
		if len(list) > 0 || !time.Now().Before(deadline) {
			out := AssignmentsResponse{Assignments: []Assignment{}}
			for _, as := range list {
				out.Assignments = append(out.Assignments, Assignment{DeploymentID: as.DeploymentID, Deployment: as.Deployment,
					Generation: as.Generation, Serial: as.Serial, Profile: as.Profile})
			}
			return out, nil
		}
		t := time.NewTimer(min(h.opts.Poll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errs.New(errs.Unavailable, "the poll was cancelled")
		case <-t.C:
		}
	}
}

func generation(r *http.Request) (int64, error) {
	g, err := strconv.ParseInt(r.URL.Query().Get("generation"), 10, 64)
	if err != nil {
		return 0, errs.New(errs.Invalid, "generation must be the assignment's generation number")
	}
	return g, nil
}

func (h *Handler) material(ctx context.Context, _ http.ResponseWriter, r *http.Request, a *deploy.Agent) (any, error) {
	g, err := generation(r)
	if err != nil {
		return nil, err
	}
	m, err := h.d.Fetch(ctx, a, r.PathValue("id"), g)
	if err != nil {
		return nil, err
	}
	out := MaterialResponse{Assignment: Assignment{DeploymentID: m.DeploymentID, Deployment: m.Deployment, Generation: m.Generation,
		Serial: m.Serial, Profile: m.Profile}}
	for _, f := range m.Files {
		out.Files = append(out.Files, File{Path: f.Path, Content: f.Content, Mode: f.Mode, Sensitive: f.Sensitive})
	}
	return out, nil
}

func (h *Handler) report(ctx context.Context, _ http.ResponseWriter, r *http.Request, a *deploy.Agent) (any, error) {
	var in ReportRequest
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	err := h.d.Report(ctx, a, deploy.Report{DeploymentID: r.PathValue("id"), Generation: in.Generation, Succeeded: in.Succeeded,
		ServedSerial: in.ServedSerial, Message: in.Message, Paths: in.Paths})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
