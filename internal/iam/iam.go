// Package iam knows who is calling and what they may do: accounts, users,
// roles and their sessions, access keys, managed policies, and the
// authorization decision every domain service asks for before acting,
// evaluated with IAM's rules (see Authorize) over the policy language of
// package iam/policy.
package iam

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam/policy"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/store"
)

// Principal is an authenticated caller.
type Principal struct {
	Account     string // 12-digit account ID
	ARN         string // e.g. arn:aws:iam::123456789012:user/admin, arn:aws:sts::A:assumed-role/ROLE/SESSION
	AccessKeyID string
	// Admin marks the in-memory development identity, which may do
	// anything in its own account without attached policies.
	Admin bool

	Type     string // PrincipalUser, PrincipalAssumedRole, PrincipalService
	UserName string // for users: the user's name
	ID       string // unique ID: AIDA... for users, AROA...:SESSION for sessions
	// For role sessions: the role's ARN, the session's name, and when its
	// credentials expire.
	RoleARN     string
	SessionName string
	Expires     time.Time
	// Tags are the principal's tags (a session's: its role's tags with the
	// session tags over them), for aws:PrincipalTag conditions.
	Tags map[string]string
	// Service is the service principal acting (e.g. "acm.amazonaws.com")
	// when Sigil acts on an account's behalf, as ACM does to renew.
	Service string
}

// Principal types.
const (
	PrincipalUser        = "IAMUser"
	PrincipalAssumedRole = "AssumedRole"
	PrincipalService     = "AWSService"
)

// Credential is what request authentication needs for one access key.
type Credential struct {
	Secret    []byte
	Principal Principal
	// SessionTokenHash is set for temporary credentials: the SHA-256 of
	// the session token every request signed with them must carry.
	SessionTokenHash []byte
}

// KeyActive is the status of a usable access key.
const KeyActive = "Active"

// Dev-mode well-known identity.
const (
	DevAccount   = "000000000000"
	DevAccessKey = "test"
	DevSecret    = "test"
)

// keyCacheTTL bounds how long a looked-up key is trusted without re-reading
// the store (so a deactivated key stops working within this delay).
const keyCacheTTL = 30 * time.Second

// Service manages identities and decides authorization.
type Service struct {
	store  store.Store
	sealer seal.Sealer
	clock  clock.Clock
	region string
	log    *slog.Logger

	mu     sync.RWMutex
	static map[string]*Credential // in-memory keys (dev mode); never persisted
	cache  map[string]cachedKey

	docs       docCache
	policies   sync.Map // principal or role ARN -> identityPolicies
	generation atomic.Int64
}

type cachedKey struct {
	cred    *Credential
	expires time.Time
}

// Options configure a Service.
type Options struct {
	Region string // default us-east-1
	Logger *slog.Logger
}

// New returns an identity service.
func New(st store.Store, sealer seal.Sealer, clk clock.Clock, opts ...Options) *Service {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, sealer: sealer, clock: clk, region: o.Region, log: o.Logger,
		static: map[string]*Credential{}, cache: map[string]cachedKey{}, docs: docCache{m: map[string]*policy.Policy{}}}
}

// AddStaticKey registers an in-memory access key (used for the dev
// identity). It is never written to the store, so it cannot outlive a
// process started with --dev.
func (s *Service) AddStaticKey(id, secret string, p Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.AccessKeyID = id
	s.static[id] = &Credential{Secret: []byte(secret), Principal: p}
}

// EnsureAccount creates an account record if it does not exist. Several
// nodes may call it at once.
func (s *Service) EnsureAccount(ctx context.Context, id, name string) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Accounts().Get(ctx, id); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Accounts().Insert(ctx, &store.Account{ID: id, Name: name, CreatedAt: s.clock.Now()})
	})
	if errors.Is(err, store.ErrConflict) { // another node created it meanwhile
		return nil
	}
	return err
}

var errUnknownKey = errs.Coded(errs.Unauthenticated, "UnrecognizedClient", "The security token included in the request is invalid.")

func keyContext(id string) []byte { return []byte("sigil/access-key/" + id) }

// BootstrapResult is the administrator created on first start. The secret is
// returned once so the caller can hand it to the operator; it is stored
// sealed.
type BootstrapResult struct {
	Account      string
	PrincipalARN string
	AccessKeyID  string
	SecretKey    string
}

// Bootstrap creates the first account and its administrator if the store has
// no account yet. It returns nil when there was nothing to do. Of several
// nodes starting together on a new database, exactly one bootstraps.
func (s *Service) Bootstrap(ctx context.Context) (*BootstrapResult, error) {
	var res *BootstrapResult
	err := s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.Accounts().Count(ctx)
		if err != nil || n > 0 {
			return err
		}
		// A once-only key: a concurrent bootstrap on another node waits for
		// this transaction and then fails with ErrConflict.
		if err := tx.Meta().Insert(ctx, "bootstrap", s.clock.Now().Format(time.RFC3339)); err != nil {
			return err
		}
		res, err = s.createAccountTx(ctx, tx, "admin")
		if err != nil {
			return err
		}
		return tx.Meta().Insert(ctx, ManagementAccountKey, res.Account)
	})
	if errors.Is(err, store.ErrConflict) { // another node bootstrapped first
		return nil, nil
	}
	return res, err
}

const base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// NewAccessKey generates an access key ID (AKIA + 16 base32 characters) and
// a 40-character secret.
func NewAccessKey() (id, secret string, err error) {
	a, err := randomString(base32Upper, 16)
	if err != nil {
		return "", "", err
	}
	b, err := randomString(secretAlphabet, 40)
	if err != nil {
		return "", "", err
	}
	return "AKIA" + a, b, nil
}

func randomAccountID() (string, error) {
	// 12 digits, first digit non-zero so it never collides with the dev
	// account 000000000000.
	first, err := randomString("123456789", 1)
	if err != nil {
		return "", err
	}
	rest, err := randomString("0123456789", 11)
	return first + rest, err
}

func randomString(alphabet string, n int) (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for i := 0; i < n; i++ {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b.WriteByte(alphabet[v.Int64()])
	}
	return b.String(), nil
}

// Request is one authorization question: may the principal perform
// Action on Resource, given the resource's own policy, its tags and the
// request's condition keys?
type Request struct {
	Action   string // e.g. "acm-pca:IssueCertificate"
	Resource string // an ARN, or "*" for actions on no particular resource
	// ResourcePolicy is the resource's own policy document (a Private CA
	// policy, a secret's resource policy, a KMS key policy), "" if none.
	ResourcePolicy string
	// KeyPolicy says ResourcePolicy is a KMS key policy: it gates every use
	// of the key, and identity policies count only where it allows the
	// account (its root principal).
	KeyPolicy bool
	// Trust says ResourcePolicy is a role's trust policy.
	Trust bool
	// ResourceTags are the resource's tags (aws:ResourceTag/KEY, and the
	// service's own spelling such as secretsmanager:ResourceTag/KEY).
	ResourceTags map[string]string
	// Context holds further condition keys, spelled as AWS spells them
	// (e.g. "acm-pca:TemplateArn", "aws:RequestTag/env", "aws:TagKeys").
	Context map[string][]string
}

// AccountOf returns the account field of an ARN, or "".
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}
