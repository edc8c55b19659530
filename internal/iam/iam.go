// Package iam knows who is calling and what they may do: accounts,
// principals and their access keys, and the authorization decision every
// domain service asks for before acting.
//
// This first version has one kind of principal, an account administrator,
// who may do anything to the resources of its own account. Policies, roles
// and cross-account access extend Authorize without changing its callers.
package iam

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/store"
)

// Principal is an authenticated caller.
type Principal struct {
	Account     string // 12-digit account ID
	ARN         string // e.g. arn:aws:iam::123456789012:user/admin
	AccessKeyID string
	Admin       bool // administrator of Account
}

// Credential is what request authentication needs for one access key.
type Credential struct {
	Secret    []byte
	Principal Principal
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

// Service manages identities.
type Service struct {
	store  store.Store
	sealer seal.Sealer
	clock  clock.Clock

	mu     sync.RWMutex
	static map[string]*Credential // in-memory keys (dev mode); never persisted
	cache  map[string]cachedKey
}

type cachedKey struct {
	cred    *Credential
	expires time.Time
}

// New returns an identity service.
func New(st store.Store, sealer seal.Sealer, clk clock.Clock) *Service {
	return &Service{store: st, sealer: sealer, clock: clk, static: map[string]*Credential{}, cache: map[string]cachedKey{}}
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

// LookupAccessKey returns the credential for an access key ID. It returns an
// Unauthenticated error when the key is unknown or inactive.
func (s *Service) LookupAccessKey(ctx context.Context, id string) (*Credential, error) {
	now := s.clock.Now()
	s.mu.RLock()
	if c, ok := s.static[id]; ok {
		s.mu.RUnlock()
		return c, nil
	}
	if c, ok := s.cache[id]; ok && now.Before(c.expires) {
		s.mu.RUnlock()
		return c.cred, nil
	}
	s.mu.RUnlock()

	var k *store.AccessKey
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		k, err = tx.AccessKeys().Get(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownKey
	}
	if err != nil {
		return nil, err
	}
	if k.Status != KeyActive {
		return nil, errUnknownKey
	}
	secret, err := s.sealer.Open(k.SecretSealed, keyContext(k.ID))
	if err != nil {
		return nil, errs.Wrap(err, "unseal access key "+k.ID)
	}
	cred := &Credential{Secret: secret, Principal: Principal{
		Account: k.Account, ARN: k.PrincipalARN, AccessKeyID: k.ID, Admin: true,
	}}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	s.cache[id] = cachedKey{cred: cred, expires: now.Add(keyCacheTTL)}
	s.mu.Unlock()
	return cred, nil
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
		account, err := randomAccountID()
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if err := tx.Accounts().Insert(ctx, &store.Account{ID: account, Name: "admin", CreatedAt: now}); err != nil {
			return err
		}
		keyID, secret, err := NewAccessKey()
		if err != nil {
			return err
		}
		sealed, err := s.sealer.Seal([]byte(secret), keyContext(keyID))
		if err != nil {
			return err
		}
		arn := fmt.Sprintf("arn:aws:iam::%s:user/admin", account)
		if err := tx.AccessKeys().Insert(ctx, &store.AccessKey{ID: keyID, Account: account, PrincipalARN: arn,
			SecretSealed: sealed, Status: KeyActive, CreatedAt: now}); err != nil {
			return err
		}
		res = &BootstrapResult{Account: account, PrincipalARN: arn, AccessKeyID: keyID, SecretKey: secret}
		return nil
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

// Authorize decides whether p may perform action (e.g.
// "acm-pca:IssueCertificate") on resource (an ARN, or "*" for actions on no
// particular resource, such as creating or listing). It returns a Denied
// error whose message names the action and resource, never policy details.
func (s *Service) Authorize(_ context.Context, p Principal, action, resource string) error {
	if p.Admin && (resource == "*" || AccountOf(resource) == p.Account) {
		return nil
	}
	return errs.Coded(errs.Denied, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s",
		p.ARN, action, resource)
}

// AccountOf returns the account field of an ARN, or "".
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}
