// Package deploy puts certificates where they are used: deployment agents
// that enrol once with a one-time token and authenticate with client
// certificates from Sigil's agent CA; install profiles (where the files go,
// in which format, how the server reloads and how the result is verified);
// deployments that send an ACM certificate or a certificate secret to the
// agents whose tags match; and the inventory of what each agent holds.
// Deployments are level-triggered: a reconcile job compares every
// deployment's source version with what each target agent holds, so a
// renewal, a rotation or a newly enrolled agent all lead to the same
// assignment without anyone acting.
package deploy

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/certmgr"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/secrets"
	"github.com/sigilhq/sigil/internal/store"
)

// Service is the service principal deployments act as: the deployment
// service reads a deployment's source (exports the certificate, reads the
// secret) as its service-linked role in the deployment's account.
const Service = iam.DeployService

// EventSource is the source of deployment events.
const EventSource = "sigil.deploy"

// Statuses.
const (
	AgentActive       = "ACTIVE"
	AgentStale        = "STALE" // shown, never stored: ACTIVE but silent too long
	AgentDeregistered = "DEREGISTERED"

	TargetPending    = "PENDING"
	TargetInProgress = "IN_PROGRESS"
	TargetSucceeded  = "SUCCEEDED"
	TargetFailed     = "FAILED"
)

// Precise error codes.
const (
	CodeInvalidToken errs.Code = "InvalidEnrollmentToken"
	CodeNotAssigned  errs.Code = "NotAssigned"
	CodeGeneration   errs.Code = "AssignmentSuperseded"
	CodeInUse        errs.Code = "ResourceInUse"
)

// Certificates is what deployments need from Certificate Manager.
type Certificates interface {
	Describe(ctx context.Context, p iam.Principal, arn string) (*certmgr.Certificate, error)
	ExportKey(ctx context.Context, p iam.Principal, arn string) (*certmgr.Exported, error)
}

// Secrets is what deployments need from Secrets Manager.
type Secrets interface {
	Describe(ctx context.Context, p iam.Principal, secretID string) (*secrets.Description, error)
	Get(ctx context.Context, p iam.Principal, secretID, versionID, stage string) (*secrets.SecretValue, error)
	Create(ctx context.Context, p iam.Principal, in secrets.CreateInput) (*secrets.Created, error)
	PutPolicy(ctx context.Context, p iam.Principal, secretID, policy string, blockPublic bool) (*secrets.Created, error)
	Delete(ctx context.Context, p iam.Principal, in secrets.DeleteInput) (*secrets.Deleted, error)
}

// Authorizer decides whether a principal may act.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, r iam.Request) error
}

var (
	_ Certificates = (*certmgr.Service)(nil)
	_ Secrets      = (*secrets.Service)(nil)
)

// Options tune the service.
type Options struct {
	Region string
	Logger *slog.Logger
	// WallClock dates agent certificates: TLS checks them against real
	// time, so they must not follow a development clock (default: the
	// service's clock).
	WallClock clock.Clock
	// AgentCertLifetime is how long an agent's client certificate is valid
	// (default 30 days); agents renew after two thirds of it.
	AgentCertLifetime time.Duration
	// StaleAfter is how long an agent may stay silent before it is shown
	// STALE (default 5 minutes; agents poll at least every 30 s).
	StaleAfter time.Duration
	// AssignmentLease is how long an agent has to install and report an
	// assignment it fetched before it is offered again (default 5 minutes).
	AssignmentLease time.Duration
	// TokenLifetime is the default lifetime of an enrolment token (24 h).
	TokenLifetime time.Duration
}

// Deployments is the deployment service.
type Deployments struct {
	store   store.Store
	certs   Certificates
	secrets Secrets
	authz   Authorizer
	sealer  seal.Sealer
	clock   clock.Clock
	wall    clock.Clock
	region  string
	log     *slog.Logger
	opts    Options

	caMu sync.Mutex
	ca   *agentCA // loaded once
}

// New returns the deployment service.
func New(st store.Store, certs Certificates, sec Secrets, authz Authorizer, sealer seal.Sealer, clk clock.Clock, opts Options) *Deployments {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WallClock == nil {
		opts.WallClock = clk
	}
	if opts.AgentCertLifetime == 0 {
		opts.AgentCertLifetime = 30 * 24 * time.Hour
	}
	if opts.StaleAfter == 0 {
		opts.StaleAfter = 5 * time.Minute
	}
	if opts.AssignmentLease == 0 {
		opts.AssignmentLease = 5 * time.Minute
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 24 * time.Hour
	}
	return &Deployments{store: st, certs: certs, secrets: sec, authz: authz, sealer: sealer, clock: clk,
		wall: opts.WallClock, region: opts.Region, log: opts.Logger, opts: opts}
}

// arn builds a deployment-service ARN of the account.
func (s *Deployments) arn(account, resource string) string {
	return "arn:aws:sigil-deploy:" + s.region + ":" + account + ":" + resource
}

// authorize checks a management action.
func (s *Deployments) authorize(ctx context.Context, p iam.Principal, action, resource string) error {
	return s.authz.Authorize(ctx, p, iam.Request{Action: "sigil-deploy:" + action, Resource: resource})
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	tagKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.:/=+@-]{1,128}$`)
)

func invalid(format string, args ...any) error { return errs.New(errs.Invalid, format, args...) }

func notFound(format string, args ...any) error {
	return errs.Coded(errs.NotFound, "ResourceNotFoundException", format, args...)
}

// checkTags validates a tag set (agent tags and selectors).
func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return invalid("At most 50 tags are allowed; %d were given.", len(tags))
	}
	for k, v := range tags {
		if !tagKeyRE.MatchString(k) || len(v) > 256 {
			return invalid("The tag %q is not valid: keys are 1 to 128 letters, digits and _.:/=+@-, values at most 256 characters.", k)
		}
	}
	return nil
}

// matches reports whether tags carry every key and value of selector.
func matches(tags, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func encodeTags(t map[string]string) []byte {
	if t == nil {
		t = map[string]string{}
	}
	b, _ := json.Marshal(t)
	return b
}

func decodeTags(b []byte) map[string]string {
	t := map[string]string{}
	if len(b) > 0 {
		json.Unmarshal(b, &t)
	}
	return t
}

// sortedKeys returns a map's keys in order (stable output).
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
