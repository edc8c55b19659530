// Package functions is how Sigil talks to rotation functions: the native
// API that registers them (X-Amz-Target "SigilFunctions.*", SigV4 signing
// name "sigil", used by `sigil function`) and the HTTPS client that calls
// them for each rotation step, each request signed with the function's
// HMAC secret.
package functions

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/api/secretsmanager"
	"github.com/sigilhq/sigil/internal/api/webhook"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/secrets"
)

// Headers of a rotation call.
const (
	HeaderTimestamp = webhook.HeaderTimestamp
	HeaderSignature = webhook.HeaderSignature
	HeaderFunction  = "X-Sigil-Function-Arn"
	HeaderStep      = "X-Sigil-Step"
)

// Sign returns the signature header value of a call (see webhook.Sign).
func Sign(secret []byte, timestamp string, body []byte) string {
	return webhook.Sign(secret, timestamp, body)
}

// Verify checks a received call: its signature and that its timestamp is
// within tolerance of now (see webhook.Verify).
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	return webhook.Verify(secret, h, body, now, tolerance)
}

// Invoker calls rotation functions over HTTPS.
type Invoker struct {
	Timeout time.Duration // per step; default 60 s
	Now     func() time.Time
}

var _ secrets.Invoker = (*Invoker)(nil)

// Invoke POSTs the step as JSON and succeeds on a 2xx answer.
func (v *Invoker) Invoke(ctx context.Context, fn secrets.Function, call secrets.Invocation) error {
	body, err := json.Marshal(call)
	if err != nil {
		return err
	}
	timeout := v.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if len(fn.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(fn.CABundle) {
			return fmt.Errorf("the CA bundle of %s holds no certificate", fn.ARN)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fn.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sigil-secrets-rotation/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(fn.Secret, ts, body))
	req.Header.Set(HeaderFunction, fn.ARN)
	req.Header.Set(HeaderStep, call.Step)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", fn.ARN, err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s: %s", fn.ARN, resp.Status, strings.TrimSpace(string(excerpt)))
	}
	return nil
}

// Service returns the native operation table that registers functions.
func Service(s *secrets.Service) *awsjson.Service {
	h := handlers{s}
	return &awsjson.Service{
		TargetPrefix: "SigilFunctions",
		SigningName:  "sigil",
		Errors:       secretsmanager.Errors,
		Operations: map[string]awsjson.Handler{
			"CreateRotationFunction": awsjson.Op(h.create),
			"ListRotationFunctions":  awsjson.Op(h.list),
			"DeleteRotationFunction": awsjson.Op(h.delete),
		},
	}
}

type handlers struct{ s *secrets.Service }

// CreateInput registers a function.
type CreateInput struct {
	Name     string `json:"Name"`
	URL      string `json:"Url"`
	CABundle string `json:"CaBundle,omitempty"`
}

// Function is a registered function; SigningSecret is set only in the
// answer to CreateRotationFunction.
type Function struct {
	FunctionArn   string        `json:"FunctionArn"`
	Name          string        `json:"Name"`
	URL           string        `json:"Url"`
	CreatedDate   *awsjson.Time `json:"CreatedDate,omitempty"`
	SigningSecret string        `json:"SigningSecret,omitempty"`
}

func (h handlers) create(ctx context.Context, c *awsjson.Call, in *CreateInput) (*Function, error) {
	if in.Name == "" || in.URL == "" {
		return nil, errs.New(errs.Invalid, "Name and Url are required.")
	}
	var ca []byte
	if in.CABundle != "" {
		ca = []byte(in.CABundle)
	}
	f, secret, err := h.s.CreateFunction(ctx, c.Principal, in.Name, in.URL, ca)
	if err != nil {
		return nil, err
	}
	return &Function{FunctionArn: f.ARN, Name: f.Name, URL: f.URL, CreatedDate: awsjson.TimePtr(f.CreatedAt), SigningSecret: secret}, nil
}

// ListOutput lists functions.
type ListOutput struct {
	Functions []Function `json:"Functions"`
}

func (h handlers) list(ctx context.Context, c *awsjson.Call, _ *struct{}) (*ListOutput, error) {
	fs, err := h.s.ListFunctions(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &ListOutput{Functions: []Function{}}
	for _, f := range fs {
		out.Functions = append(out.Functions, Function{FunctionArn: f.ARN, Name: f.Name, URL: f.URL, CreatedDate: awsjson.TimePtr(f.CreatedAt)})
	}
	return out, nil
}

type deleteInput struct {
	Name string `json:"Name"`
}

func (h handlers) delete(ctx context.Context, c *awsjson.Call, in *deleteInput) (*struct{}, error) {
	return nil, h.s.DeleteFunction(ctx, c.Principal, in.Name)
}
