// Package certmgr is Certificate Manager: certificates whose private keys
// Sigil holds, requested from a private CA or imported, exported under a
// passphrase, renewed before they expire, and announced by events as they
// approach expiry. It is the domain behind the ACM API.
package certmgr

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"regexp"
	"time"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/telemetry"
)

// Types, statuses and other enums, spelled as ACM spells them.
const (
	TypePrivate  = "PRIVATE"
	TypeImported = "IMPORTED"

	StatusIssued  = "ISSUED"
	StatusFailed  = "FAILED"
	StatusExpired = "EXPIRED"
	StatusRevoked = "REVOKED"

	RenewalPending = "PENDING_AUTO_RENEWAL"
	RenewalSuccess = "SUCCESS"
	RenewalFailed  = "FAILED"

	Eligible   = "ELIGIBLE"
	Ineligible = "INELIGIBLE"

	ExportEnabled  = "ENABLED"
	ExportDisabled = "DISABLED"
)

// Validity and timing of private certificates, as on AWS.
const (
	PrivateValidity      = 395 * 24 * time.Hour
	RenewBefore          = 60 * 24 * time.Hour
	DefaultDaysBeforeExp = 45
	IdempotencyWindow    = time.Hour
	MaxTags              = 50
	MaxNames             = 100 // domain names per certificate (AWS's hard limit)
	renewalRetry         = 6 * time.Hour
	settingDaysBeforeExp = "acm.expiry-events.days-before-expiry"
)

// Precise error codes of this service. The ACM adapter maps them to wire
// errors; a code-less Invalid error is a ValidationException.
const (
	CodeInvalidArn       errs.Code = "InvalidArn"
	CodeInvalidParameter errs.Code = "InvalidParameter"
	CodeInvalidTag       errs.Code = "InvalidTag"
	CodeTooManyTags      errs.Code = "TooManyTags"
	CodeInvalidArgs      errs.Code = "InvalidArgs"
	CodeInProgress       errs.Code = "RequestInProgress"
	CodeInUse            errs.Code = "ResourceInUse"
	CodeConflict         errs.Code = "Conflict"
	CodeInvalidNextToken errs.Code = "InvalidNextToken"
)

// PrivateCA is what Certificate Manager needs from the Private CA
// (satisfied by *ca.Service).
type PrivateCA interface {
	Describe(ctx context.Context, p iam.Principal, arn string) (*ca.Authority, error)
	Issue(ctx context.Context, p iam.Principal, in ca.IssueInput) (string, error)
	GetCertificate(ctx context.Context, p iam.Principal, caARN, certARN string) (cert, chain []byte, err error)
}

var _ PrivateCA = (*ca.Service)(nil)

// Sealer encrypts private keys at rest: each with its own data key, the
// context bound as associated data (satisfied by *seal.Keyring).
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	Open(blob, context []byte) ([]byte, error)
}

// Authorizer decides whether a principal may act on a resource.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, r iam.Request) error
}

// Options configure a Service.
type Options struct {
	Region string
	Logger *slog.Logger
	// Telemetry counts renewals (nil: not counted).
	Telemetry telemetry.Recorder
}

// Service is Certificate Manager.
type Service struct {
	store  store.Store
	pca    PrivateCA
	sealer Sealer
	authz  Authorizer
	clock  clock.Clock
	region string
	log    *slog.Logger
	tel    telemetry.Recorder
}

// New returns a Certificate Manager service.
func New(st store.Store, pca PrivateCA, sealer Sealer, authz Authorizer, clk clock.Clock, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, pca: pca, sealer: sealer, authz: authz, clock: clk, region: opts.Region, log: log,
		tel: telemetry.Or(opts.Telemetry)}
}

var certARNRE = regexp.MustCompile(`^arn:aws:acm:([a-z0-9-]+):([0-9]{12}):certificate/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

// parseARN checks a certificate ARN and returns its account and ID.
func (s *Service) parseARN(arn string) (account, id string, err error) {
	if arn == "" {
		return "", "", required("certificateArn")
	}
	if len(arn) < 20 || len(arn) > 2048 {
		return "", "", errs.Coded(errs.Invalid, CodeInvalidArn, "The ARN %q is not between 20 and 2048 characters long.", arn)
	}
	m := certARNRE.FindStringSubmatch(arn)
	if m == nil {
		return "", "", errs.Coded(errs.Invalid, CodeInvalidArn, "The ARN %q is not a valid certificate ARN.", arn)
	}
	if m[1] != s.region {
		return "", "", errs.Coded(errs.Invalid, CodeInvalidArn, "The ARN %q names region %s, but this Sigil serves %s.", arn, m[1], s.region)
	}
	return m[2], m[3], nil
}

func certARN(region, account, id string) string {
	return "arn:aws:acm:" + region + ":" + account + ":certificate/" + id
}

func notFound(arn string) error {
	return errs.New(errs.NotFound, "Could not find certificate with ARN %s.", arn)
}

// load reads a certificate of the caller's view: one that exists in the
// ARN's account. A malformed ARN, or one of another account the caller
// cannot see, fails as AWS fails.
func (s *Service) load(ctx context.Context, tx store.Tx, arn, id string) (*store.ACMCertificate, error) {
	c, err := tx.ACMCertificates().Get(ctx, id)
	if errs.KindOf(err) == errs.NotFound || (err == nil && c.ARN != arn) {
		return nil, notFound(arn)
	}
	return c, err
}

// authorizeARN checks an ARN and the caller's right to act on it.
func (s *Service) authorizeARN(ctx context.Context, p iam.Principal, action, arn string) (id string, err error) {
	_, id, err = s.parseARN(arn)
	if err != nil {
		return "", err
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: action, Resource: arn}); err != nil {
		return "", err
	}
	return id, nil
}

// keyContext is the encryption context of a certificate's private key:
// the sealed key opens only for this certificate, account and region.
func keyContext(c *store.ACMCertificate, region string) []byte {
	b, _ := json.Marshal(struct {
		ARN     string `json:"aws:acm:arn"`
		Account string `json:"aws:acm:account"`
		Region  string `json:"aws:acm:region"`
	}{c.ARN, c.Account, region})
	return b
}

// servicePrincipal is the identity managed renewal acts as within an
// account: Certificate Manager's service-linked role. As on AWS, a CA of
// the same account must grant it a permission (CreatePermission) and a CA
// of another account must name the account in its policy.
func servicePrincipal(account string) iam.Principal {
	return iam.ServiceLinkedRole(iam.ACMService, account)
}

// validation is a constraint violation on an input field, worded as AWS
// words its front-door validation errors.
func validation(field string, value any, constraint string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s",
		value, field, constraint)
}

func required(field string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

func invalidParameter(format string, a ...any) error {
	return errs.Coded(errs.Invalid, CodeInvalidParameter, format, a...)
}

// parseDER parses a stored certificate.
func parseDER(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errs.Wrap(err, "parse stored certificate")
	}
	return c, nil
}
