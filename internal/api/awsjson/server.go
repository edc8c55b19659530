// Package awsjson is the AWS JSON 1.1 protocol front end: requests are POSTed
// to "/" with an X-Amz-Target header naming the operation, authenticated
// with Signature Version 4, and answered with JSON bodies and AWS-style
// errors ({"__type", "message"}), each with an x-amzn-RequestId header.
// Service adapters (acm-pca, acm, secretsmanager, kms) register operation
// tables; this package does everything they have in common.
package awsjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/audit"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
)

// Call is one authenticated operation call.
type Call struct {
	Principal iam.Principal
	Body      []byte
	RequestID string
	Service   string
	Operation string
	SourceIP  string
	UserAgent string

	response []byte // the JSON answered, for the audit record
}

// Handler runs one operation. It returns the output to encode as JSON (nil
// for an empty object) or an error to render through the service's table.
type Handler func(ctx context.Context, c *Call) (any, error)

// Service is the operation table of one AWS service.
type Service struct {
	TargetPrefix string // e.g. "ACMPrivateCA"
	// TargetAliases are other prefixes clients send for the same service
	// (the Go SDK sends CloudTrail's short "CloudTrail_20131101", botocore
	// the full "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101").
	TargetAliases []string
	SigningName   string // e.g. "acm-pca"
	Operations    map[string]Handler
	Errors        ErrorTable
	// EventSource is the eventSource of the service's audit records.
	// Default: SIGNING-NAME.amazonaws.com, and for Sigil's native services
	// (signing name "sigil") the target prefix without "Sigil", lower
	// case, then ".sigil" (e.g. "functions.sigil").
	EventSource string
}

func (svc *Service) eventSource() string {
	switch {
	case svc.EventSource != "":
		return svc.EventSource
	case svc.SigningName == "sigil":
		return strings.ToLower(strings.TrimPrefix(svc.TargetPrefix, "Sigil")) + ".sigil"
	}
	return audit.EventSource(svc.SigningName)
}

// Authenticator finds the secret and principal of an access key.
type Authenticator interface {
	LookupAccessKey(ctx context.Context, id string) (*iam.Credential, error)
}

// Server dispatches AWS JSON requests to services.
type Server struct {
	services map[string]*Service
	verifier *SigV4
	auth     Authenticator
	clock    clock.Clock
	log      *slog.Logger
	maxBody  int64
	audit    *audit.Log
	observe  func(service, operation, code string, d time.Duration)
}

// Options configure a Server.
type Options struct {
	Region       string
	MaxBodyBytes int64 // default 4 MiB
	Logger       *slog.Logger
	// Audit records every call, allowed or not (nil: no audit trail).
	Audit *audit.Log
	// Observe, when set, is told each call's service and operation (both
	// "unknown" when the request named none that exists, so clients cannot
	// mint label values), its error code ("" for success) and duration.
	Observe func(service, operation, code string, d time.Duration)
}

// DefaultMaxBody bounds request bodies (a CA chain may be 2 MB of PEM,
// which is about 2.7 MB in base64).
const DefaultMaxBody = 4 << 20

// NewServer returns a server for the given services.
func NewServer(auth Authenticator, clk clock.Clock, opts Options, services ...*Service) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{services: map[string]*Service{}, verifier: &SigV4{Region: opts.Region}, auth: auth, clock: clk,
		log: opts.Logger, maxBody: opts.MaxBodyBytes, audit: opts.Audit, observe: opts.Observe}
	for _, svc := range services {
		s.services[svc.TargetPrefix] = svc
		for _, alias := range svc.TargetAliases {
			s.services[alias] = svc
		}
	}
	return s
}

// ServeHTTP handles one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", reqID)
	call := &Call{RequestID: reqID, SourceIP: sourceIP(r), UserAgent: r.UserAgent()}
	var ac *audit.Call // nil-safe: no audit trail
	if s.audit != nil {
		var ctx context.Context
		ctx, ac = s.audit.Begin(r.Context(), audit.Info{RequestID: reqID, SourceIP: call.SourceIP, UserAgent: call.UserAgent})
		r = r.WithContext(ctx)
	}
	var svc *Service
	status, code, err := s.serve(w, r, call, &svc)
	if err != nil {
		ac.SetErrorCode(code)
	}
	ac.Finish(call.response, err)
	if s.observe != nil {
		service, op := "unknown", "unknown"
		if svc != nil {
			service = svc.SigningName
			if _, ok := svc.Operations[call.Operation]; ok {
				op = call.Operation
			}
		}
		s.observe(service, op, code, time.Since(start))
	}
	attrs := []slog.Attr{
		slog.String("request_id", reqID), slog.String("service", call.Service), slog.String("operation", call.Operation),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)), slog.String("source_ip", call.SourceIP),
	}
	if call.Principal.AccessKeyID != "" {
		attrs = append(attrs, slog.String("access_key", call.Principal.AccessKeyID), slog.String("account", call.Principal.Account))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error_code", code))
		level := slog.LevelInfo
		if status >= 500 {
			// Only internal errors carry detail that clients never see.
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "aws api request", attrs...)
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "aws api request", attrs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, call *Call, svcOut **Service) (int, string, error) {
	fail := func(svc *Service, err error) (int, string, error) {
		status, code := s.render(w, svc, err, call.RequestID)
		return status, code, err
	}
	if r.Method != http.MethodPost {
		return fail(nil, errs.Coded(errs.Invalid, "UnknownOperationException", "The AWS JSON API accepts only POST requests."))
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fail(nil, errTooLarge(s.maxBody))
		}
		return fail(nil, errs.Coded(errs.Invalid, "SerializationException", "The request body could not be read."))
	}
	call.Body = body

	// The operation follows the last dot (CloudTrail's prefix has dots).
	target := r.Header.Get("X-Amz-Target")
	prefix, op := target, ""
	if i := strings.LastIndexByte(target, '.'); i >= 0 {
		prefix, op = target[:i], target[i+1:]
	}
	svc := s.services[prefix]
	ac := audit.FromContext(r.Context())
	ac.SetRequest(body)
	if svc != nil {
		ac.SetOperation(svc.eventSource(), op)
	} else {
		ac.SetOperation("", op)
	}
	if svc == nil {
		return fail(nil, errs.Coded(errs.Invalid, "UnknownOperationException", "Unknown X-Amz-Target %q.", r.Header.Get("X-Amz-Target")))
	}
	*svcOut = svc
	call.Service = svc.SigningName
	handler := svc.Operations[op]
	if handler == nil {
		return fail(svc, errs.Coded(errs.Invalid, "UnknownOperationException", "Unknown operation %s.%s.", prefix, op))
	}
	call.Operation = op

	sig, err := s.verifier.Parse(r)
	if err != nil {
		return fail(svc, err)
	}
	if err := s.verifier.CheckScope(sig, svc.SigningName, s.clock.Now()); err != nil {
		return fail(svc, err)
	}
	cred, err := s.auth.LookupAccessKey(r.Context(), sig.AccessKeyID)
	if err != nil {
		return fail(svc, err)
	}
	if err := CheckSessionToken(cred, sig.SecurityToken); err != nil {
		return fail(svc, err)
	}
	if err := s.verifier.Verify(r, body, sig, cred.Secret); err != nil {
		return fail(svc, err)
	}
	call.Principal = cred.Principal
	ac.SetPrincipal(call.Principal)

	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-amz-json-1.") && !strings.HasPrefix(ct, "application/json") {
		return fail(svc, errs.Coded(errs.Invalid, "SerializationException", "Unsupported Content-Type %q; use application/x-amz-json-1.1.", ct))
	}

	ctx := iam.WithRequestInfo(r.Context(), iam.RequestInfo{SourceIP: call.SourceIP, SecureTransport: r.TLS != nil, UserAgent: call.UserAgent})
	out, err := handler(ctx, call)
	if err != nil {
		return fail(svc, err)
	}
	var payload []byte
	if out == nil {
		payload = []byte("{}")
	} else if payload, err = json.Marshal(out); err != nil {
		return fail(svc, errs.Wrap(err, "encode response"))
	}
	call.response = payload
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
	w.WriteHeader(http.StatusOK)
	w.Write(payload)
	return http.StatusOK, "", nil
}

func errTooLarge(limit int64) error {
	return &errs.Error{Kind: errs.Limit, Code: "RequestEntityTooLarge",
		Msg: fmt.Sprintf("The request body is larger than %d bytes.", limit)}
}

// render writes an error response and returns the status and __type.
func (s *Server) render(w http.ResponseWriter, svc *Service, err error, reqID string) (int, string) {
	table := defaultTable
	if svc != nil {
		table = svc.Errors
	}
	code, status := table.lookup(err)
	msg := errs.Message(err, fmt.Sprintf("An internal error occurred. Request ID: %s.", reqID))
	field := table.MessageField
	if field == "" {
		field = "message"
	}
	body, _ := json.Marshal(map[string]string{"__type": code, field: msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	w.Write(body)
	return status, code
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Decode reads a JSON request body into a new In. An empty body is {}.
// Malformed JSON or a value of the wrong type is a SerializationException.
func Decode[In any](body []byte) (*In, error) {
	in := new(In)
	if len(strings.TrimSpace(string(body))) == 0 {
		return in, nil
	}
	if err := json.Unmarshal(body, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errs.Coded(errs.Invalid, "SerializationException",
				"Value for field %q must be of type %s, not %s.", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return nil, errs.Coded(errs.Invalid, "SerializationException", "The request body is not valid JSON.")
	}
	return in, nil
}

// Op adapts a typed operation function to a Handler.
func Op[In, Out any](fn func(ctx context.Context, c *Call, in *In) (*Out, error)) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		in, err := Decode[In](c.Body)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, c, in)
		if err != nil || out == nil {
			return nil, err
		}
		return out, nil
	}
}
