// Package sts is the AWS Security Token Service front end over the Query
// protocol (form-encoded POST, XML answers): GetCallerIdentity and
// AssumeRole, so that the AWS CLI, the SDKs' credential providers and
// role-based tooling work against Sigil.
package sts

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
)

// SigningName is the SigV4 service name of STS.
const SigningName = "sts"

const xmlns = "https://sts.amazonaws.com/doc/2011-06-15/"

// Identity is what STS needs from the identity service.
type Identity interface {
	awsjson.Authenticator
	AssumeRole(ctx context.Context, p iam.Principal, in iam.AssumeRoleInput) (*iam.SessionCredentials, error)
	GetCallerIdentity(ctx context.Context, p iam.Principal) iam.CallerIdentity
}

// Call describes one STS request for observers (the audit trail).
type Call struct {
	RequestID string
	Action    string
	Principal iam.Principal
	Params    url.Values
	SourceIP  string
	UserAgent string
	// ErrorCode is the wire code of the call's error, set before the
	// observer's done function runs.
	ErrorCode string
}

// Result returns the part of an STS answer an audit record keeps as its
// responseElements: the ...Result element, without the XML envelope.
func Result(resp any) any {
	switch r := resp.(type) {
	case getCallerIdentityResponse:
		return r.Result
	case assumeRoleResponse:
		return r.Result
	}
	return nil
}

// Parameters returns a call's request parameters for an audit record:
// the form fields other than Action and Version, one value each.
func (c *Call) Parameters() map[string]string {
	out := map[string]string{}
	for k, v := range c.Params {
		if k == "Action" || k == "Version" || len(v) == 0 {
			continue
		}
		out[k] = v[0]
	}
	return out
}

// Handler serves STS.
type Handler struct {
	id       Identity
	verifier *awsjson.SigV4
	clock    clock.Clock
	log      *slog.Logger
	// Observe, when set, runs around each call: it may return a context
	// for the call and a function told the outcome (the audit trail).
	Observe func(ctx context.Context, c *Call) (context.Context, func(resp any, err error))
}

// New returns an STS handler.
func New(id Identity, clk clock.Clock, region string, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{id: id, verifier: &awsjson.SigV4{Region: region}, clock: clk, log: log}
}

// IsQuery reports whether r is a Query-protocol request (no X-Amz-Target;
// form body or Action in the URL), which is how STS is called.
func IsQuery(r *http.Request) bool {
	if r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return true
	}
	return r.URL.Query().Get("Action") != ""
}

// ServeHTTP answers one STS request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := &Call{RequestID: uuid.NewString(), SourceIP: sourceIP(r), UserAgent: r.UserAgent()}
	w.Header().Set("x-amzn-RequestId", call.RequestID)
	resp, err := h.serve(r, call)
	if err != nil {
		code, status := errorCode(err)
		msg := errs.Message(err, "An internal error occurred. Request ID: "+call.RequestID+".")
		if status >= 500 {
			h.log.Error("sts request", "request_id", call.RequestID, "action", call.Action, "error", err)
		}
		kind := "Sender"
		if status >= 500 {
			kind = "Receiver"
		}
		writeXML(w, status, errorResponse{Xmlns: xmlns, Error: errorBody{Type: kind, Code: code, Message: msg}, RequestID: call.RequestID})
		return
	}
	writeXML(w, http.StatusOK, resp)
}

func (h *Handler) serve(r *http.Request, call *Call) (resp any, err error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 64<<10))
	if err != nil {
		return nil, errs.Coded(errs.Invalid, "InvalidInput", "The request body could not be read.")
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errs.Coded(errs.Invalid, "InvalidInput", "The request body is not form-encoded.")
	}
	for k, v := range r.URL.Query() {
		params[k] = v
	}
	call.Action, call.Params = params.Get("Action"), params
	ctx := r.Context()
	if h.Observe != nil {
		var done func(any, error)
		ctx, done = h.Observe(ctx, call)
		defer func() {
			if err != nil {
				call.ErrorCode, _ = errorCode(err)
			}
			done(resp, err)
		}()
	}

	sig, err := h.verifier.Parse(r)
	if err != nil {
		return nil, err
	}
	if err := h.verifier.CheckScope(sig, SigningName, h.clock.Now()); err != nil {
		return nil, err
	}
	cred, err := h.id.LookupAccessKey(ctx, sig.AccessKeyID)
	if err != nil {
		return nil, err
	}
	if err := awsjson.CheckSessionToken(cred, sig.SecurityToken); err != nil {
		return nil, err
	}
	if err := h.verifier.Verify(r, body, sig, cred.Secret); err != nil {
		return nil, err
	}
	call.Principal = cred.Principal
	ctx = iam.WithRequestInfo(ctx, iam.RequestInfo{SourceIP: call.SourceIP, SecureTransport: r.TLS != nil, UserAgent: call.UserAgent})

	switch call.Action {
	case "GetCallerIdentity":
		id := h.id.GetCallerIdentity(ctx, call.Principal)
		return getCallerIdentityResponse{Xmlns: xmlns, Result: callerIdentity{Account: id.Account, Arn: id.ARN, UserID: id.UserID},
			Meta: meta{RequestID: call.RequestID}}, nil
	case "AssumeRole":
		in, err := assumeRoleInput(params)
		if err != nil {
			return nil, err
		}
		out, err := h.id.AssumeRole(ctx, call.Principal, in)
		if err != nil {
			return nil, err
		}
		return assumeRoleResponse{Xmlns: xmlns, Result: assumeRoleResult{
			Credentials: credentials{AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey,
				SessionToken: out.SessionToken, Expiration: out.Expiration.UTC().Format(time.RFC3339)},
			AssumedRoleUser: assumedRoleUser{AssumedRoleID: out.AssumedRoleID, Arn: out.AssumedRoleARN},
		}, Meta: meta{RequestID: call.RequestID}}, nil
	case "":
		return nil, errs.Coded(errs.Invalid, "MissingAction", "The request must contain the parameter Action.")
	default:
		return nil, errs.Coded(errs.Invalid, "InvalidAction", "Could not find operation %s for version 2011-06-15.", call.Action)
	}
}

func assumeRoleInput(p url.Values) (iam.AssumeRoleInput, error) {
	in := iam.AssumeRoleInput{RoleARN: p.Get("RoleArn"), SessionName: p.Get("RoleSessionName"), ExternalID: p.Get("ExternalId")}
	if in.RoleARN == "" || in.SessionName == "" {
		return in, errs.Coded(errs.Invalid, "ValidationError", "RoleArn and RoleSessionName are required.")
	}
	if d := p.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			return in, errs.Coded(errs.Invalid, "ValidationError", "DurationSeconds must be a number.")
		}
		in.DurationSeconds = n
	}
	if p.Get("Policy") != "" || p.Get("PolicyArns.member.1.arn") != "" {
		return in, errs.Coded(errs.Invalid, "ValidationError", "Session policies are not supported by Sigil.")
	}
	for i := 1; ; i++ {
		k := p.Get("Tags.member." + strconv.Itoa(i) + ".Key")
		if k == "" {
			break
		}
		if in.Tags == nil {
			in.Tags = map[string]string{}
		}
		in.Tags[k] = p.Get("Tags.member." + strconv.Itoa(i) + ".Value")
	}
	return in, nil
}

// errorCode maps an error to STS's code and HTTP status.
func errorCode(err error) (string, int) {
	c := string(errs.CodeOf(err))
	switch errs.KindOf(err) {
	case errs.Denied:
		return "AccessDenied", http.StatusForbidden
	case errs.Unauthenticated:
		switch c {
		case "ExpiredTokenException":
			return "ExpiredToken", http.StatusBadRequest
		case "InvalidSignatureException":
			return "SignatureDoesNotMatch", http.StatusForbidden
		case "MissingAuthenticationTokenException":
			return "MissingAuthenticationToken", http.StatusForbidden
		case "IncompleteSignatureException":
			return "IncompleteSignature", http.StatusBadRequest
		}
		return "InvalidClientTokenId", http.StatusForbidden
	case errs.Invalid:
		if c == "" || c == iam.CodeValidation {
			return "ValidationError", http.StatusBadRequest
		}
		return c, http.StatusBadRequest
	case errs.Limit:
		return "PackedPolicyTooLarge", http.StatusBadRequest
	}
	var e *errs.Error
	if errors.As(err, &e) && e.Kind != errs.Internal && c != "" {
		return c, http.StatusBadRequest
	}
	return "InternalFailure", http.StatusInternalServerError
}

func writeXML(w http.ResponseWriter, status int, v any) {
	out, err := xml.Marshal(v)
	if err != nil {
		status, out = http.StatusInternalServerError, []byte("<ErrorResponse/>")
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(out)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type meta struct {
	RequestID string `xml:"RequestId"`
}

type callerIdentity struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name       `xml:"GetCallerIdentityResponse"`
	Xmlns   string         `xml:"xmlns,attr"`
	Result  callerIdentity `xml:"GetCallerIdentityResult"`
	Meta    meta           `xml:"ResponseMetadata"`
}

type credentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

type assumeRoleResult struct {
	Credentials      credentials     `xml:"Credentials"`
	AssumedRoleUser  assumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize int             `xml:"PackedPolicySize"`
}

type assumeRoleResponse struct {
	XMLName xml.Name         `xml:"AssumeRoleResponse"`
	Xmlns   string           `xml:"xmlns,attr"`
	Result  assumeRoleResult `xml:"AssumeRoleResult"`
	Meta    meta             `xml:"ResponseMetadata"`
}

type errorBody struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type errorResponse struct {
	XMLName   xml.Name  `xml:"ErrorResponse"`
	Xmlns     string    `xml:"xmlns,attr"`
	Error     errorBody `xml:"Error"`
	RequestID string    `xml:"RequestId"`
}
