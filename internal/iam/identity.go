package iam

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam/policy"
	"github.com/sigilhq/sigil/internal/store"
)

// Kinds of principal records.
const (
	KindUser = "user"
	KindRole = "role"
)

// IAM error codes, as the IAM API spells them.
const (
	CodeNoSuchEntity       = "NoSuchEntity"
	CodeEntityExists       = "EntityAlreadyExists"
	CodeMalformedPolicy    = "MalformedPolicyDocument"
	CodeDeleteConflict     = "DeleteConflict"
	CodeLimitExceeded      = "LimitExceeded"
	CodeValidation         = "ValidationError"
	CodeExpiredToken       = "ExpiredTokenException"
	CodeInvalidClientToken = "InvalidClientTokenId"
)

// Quotas (AWS's defaults where AWS has one).
const (
	MaxAttachedPolicies = 20 // managed policies per user or role (AWS's maximum after an increase)
	MaxAccessKeys       = 2  // access keys per user
	MaxPolicyBytes      = 6144
	MaxTrustPolicyBytes = 2048
	MaxTags             = 50
)

// ManagementAccountKey is the meta key naming the account allowed to
// create and list accounts: the first account.
const ManagementAccountKey = "management_account"

var (
	nameRE        = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyNameRE  = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	pathRE        = regexp.MustCompile(`^/([\x21-\x7e]{0,510}/)?$`)
	accountNameRE = regexp.MustCompile(`^[\w+=,.@ -]{1,50}$`)
)

func invalid(format string, a ...any) error {
	return errs.Coded(errs.Invalid, CodeValidation, format, a...)
}

func noSuchEntity(format string, a ...any) error {
	return errs.Coded(errs.NotFound, CodeNoSuchEntity, format, a...)
}

// Entity is a user or role with its tags and attached policies.
type Entity struct {
	store.IAMPrincipal
	Tags     map[string]string
	Policies []string // attached policy ARNs
}

// LookupAccessKey returns the credential for an access key ID: a static
// development key, a user's long-term key (AKIA...) or a role session's
// temporary key (ASIA...). It returns an Unauthenticated error when the key
// is unknown, inactive or expired.
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

	gen := s.generation.Load()
	var cred *Credential
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		if strings.HasPrefix(id, "ASIA") {
			cred, err = s.sessionCredential(ctx, tx, id, now)
		} else {
			cred, err = s.userCredential(ctx, tx, id)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownKey
	}
	if err != nil {
		return nil, err
	}
	expires := now.Add(keyCacheTTL)
	if !cred.Principal.Expires.IsZero() && cred.Principal.Expires.Before(expires) {
		expires = cred.Principal.Expires
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	if s.generation.Load() == gen {
		s.cache[id] = cachedKey{cred: cred, expires: expires}
	}
	s.mu.Unlock()
	return cred, nil
}

func (s *Service) userCredential(ctx context.Context, tx store.Tx, id string) (*Credential, error) {
	k, err := tx.AccessKeys().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.Status != KeyActive {
		return nil, errUnknownKey
	}
	rec, err := tx.IAM().GetPrincipal(ctx, k.PrincipalARN)
	if err != nil {
		return nil, err // a deleted user's keys stop working
	}
	tags, err := tagMap(ctx, tx, rec.ARN)
	if err != nil {
		return nil, err
	}
	secret, err := s.sealer.Open(k.SecretSealed, keyContext(k.ID))
	if err != nil {
		return nil, errs.Wrap(err, "unseal access key "+k.ID)
	}
	return &Credential{Secret: secret, Principal: Principal{
		Account: k.Account, ARN: rec.ARN, AccessKeyID: k.ID, Type: PrincipalUser,
		UserName: rec.Name, ID: rec.UniqueID, Tags: tags,
	}}, nil
}

func (s *Service) sessionCredential(ctx context.Context, tx store.Tx, id string, now time.Time) (*Credential, error) {
	sess, err := tx.IAM().GetSession(ctx, id)
	if err != nil {
		return nil, err
	}
	if !now.Before(sess.ExpiresAt) {
		return nil, errs.Coded(errs.Unauthenticated, CodeExpiredToken, "The security token included in the request is expired")
	}
	role, err := tx.IAM().GetPrincipal(ctx, sess.RoleARN)
	if err != nil {
		return nil, err // the role was deleted: its sessions end
	}
	tags, err := tagMap(ctx, tx, role.ARN)
	if err != nil {
		return nil, err
	}
	var sessionTags map[string]string
	if err := json.Unmarshal(sess.Tags, &sessionTags); err != nil {
		return nil, errs.Wrap(err, "decode session tags")
	}
	maps.Copy(tags, sessionTags)
	secret, err := s.sealer.Open(sess.SecretSealed, sessionContext(id))
	if err != nil {
		return nil, errs.Wrap(err, "unseal session key "+id)
	}
	return &Credential{Secret: secret, SessionTokenHash: sess.TokenHash, Principal: Principal{
		Account: sess.Account, ARN: sessionARN(role, sess.SessionName), AccessKeyID: id, Type: PrincipalAssumedRole,
		ID: role.UniqueID + ":" + sess.SessionName, RoleARN: role.ARN, SessionName: sess.SessionName,
		Expires: sess.ExpiresAt, Tags: tags,
	}}, nil
}

// sessionARN is the ARN of a role session: arn:aws:sts::A:assumed-role/NAME/SESSION.
func sessionARN(role *store.IAMPrincipal, session string) string {
	return "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + session
}

func sessionContext(id string) []byte { return []byte("sigil/session/" + id) }

// TokenHash is how a session token is kept and compared.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func tagMap(ctx context.Context, tx store.Tx, arn string) (map[string]string, error) {
	list, err := tx.Tags().List(ctx, arn)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(list))
	for _, t := range list {
		m[t.Key] = t.Value
	}
	return m, nil
}

// ---- accounts ----

// Account is an account as the admin API shows it.
type Account struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// managementAccount returns the account allowed to manage accounts.
func managementAccount(ctx context.Context, tx store.Tx) (string, error) {
	v, err := tx.Meta().Get(ctx, ManagementAccountKey)
	if errors.Is(err, store.ErrNotFound) {
		return DevAccount, nil
	}
	return v, err
}

func (s *Service) authorizeManagement(ctx context.Context, tx store.Tx, p Principal, action string) error {
	mgmt, err := managementAccount(ctx, tx)
	if err != nil {
		return err
	}
	r := Request{Action: action, Resource: "*"}
	if p.Account != mgmt {
		return denied(p, r)
	}
	return s.Authorize(ctx, p, r)
}

// CreateAccount creates an account with an administrator user (AWS managed
// AdministratorAccess) and returns its first access key, whose secret is
// shown only here. Only the management account may create accounts.
func (s *Service) CreateAccount(ctx context.Context, p Principal, name string) (*BootstrapResult, error) {
	if !accountNameRE.MatchString(name) {
		return nil, invalid("Account name %q must be 1 to 50 letters, digits, spaces or +=,.@_-.", name)
	}
	var res *BootstrapResult
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		if err := s.authorizeManagement(ctx, tx, p, "organizations:CreateAccount"); err != nil {
			return err
		}
		res, err = s.createAccountTx(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.changed()
	return res, nil
}

// createAccountTx makes an account, its admin user and an access key.
func (s *Service) createAccountTx(ctx context.Context, tx store.Tx, name string) (*BootstrapResult, error) {
	account, err := randomAccountID()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if err := tx.Accounts().Insert(ctx, &store.Account{ID: account, Name: name, CreatedAt: now}); err != nil {
		return nil, err
	}
	user, err := s.insertPrincipal(ctx, tx, account, KindUser, "admin", "/", "", 0, "")
	if err != nil {
		return nil, err
	}
	if err := tx.IAM().Attach(ctx, user.ARN, AdministratorAccess); err != nil {
		return nil, err
	}
	keyID, secret, err := s.insertAccessKey(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	return &BootstrapResult{Account: account, PrincipalARN: user.ARN, AccessKeyID: keyID, SecretKey: secret}, nil
}

// ListAccounts lists every account (management account only).
func (s *Service) ListAccounts(ctx context.Context, p Principal) ([]Account, error) {
	var out []Account
	err := s.store.View(ctx, func(tx store.Tx) error {
		if err := s.authorizeManagement(ctx, tx, p, "organizations:ListAccounts"); err != nil {
			return err
		}
		list, err := tx.Accounts().List(ctx)
		for _, a := range list {
			out = append(out, Account{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt})
		}
		return err
	})
	return out, err
}

// ---- users and roles ----

// PrincipalInput creates a user or a role.
type PrincipalInput struct {
	Kind              string // KindUser or KindRole
	Name              string
	Path              string // default "/"
	TrustPolicy       string // roles only, required
	MaxSessionSeconds int    // roles only: 3600 to 43200, default 3600
	Description       string
	Tags              map[string]string
}

// PrincipalARN returns the ARN of a user or role of an account.
func PrincipalARN(account, kind, path, name string) string {
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + account + ":" + kind + path + name
}

func checkKind(kind string) error {
	if kind != KindUser && kind != KindRole {
		return invalid("Kind must be %q or %q.", KindUser, KindRole)
	}
	return nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return errs.Coded(errs.Limit, CodeLimitExceeded, "A principal can have at most %d tags.", MaxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalid("Tag key %q must be 1 to 128 characters, not start with aws:, and its value at most 256.", k)
		}
	}
	return nil
}

// CheckPolicy validates a policy document of the given kind and returns a
// MalformedPolicyDocument error naming the first problem.
func CheckPolicy(doc string, kind policy.Kind, limit int) error {
	if len(doc) > limit {
		return errs.Coded(errs.Limit, CodeLimitExceeded, "The policy document is %d bytes; the limit is %d.", len(doc), limit)
	}
	if _, err := policy.Parse(doc, kind); err != nil {
		return errs.Coded(errs.Invalid, CodeMalformedPolicy, "%s", err.Error())
	}
	return nil
}

// CreatePrincipal creates a user or a role in the caller's account.
func (s *Service) CreatePrincipal(ctx context.Context, p Principal, in PrincipalInput) (*Entity, error) {
	if err := checkKind(in.Kind); err != nil {
		return nil, err
	}
	if in.Path == "" {
		in.Path = "/"
	}
	if !nameRE.MatchString(in.Name) {
		return nil, invalid("The %s name %q must be 1 to 64 letters, digits or +=,.@_-.", in.Kind, in.Name)
	}
	if !pathRE.MatchString(in.Path) {
		return nil, invalid("The path %q must begin and end with /.", in.Path)
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	switch in.Kind {
	case KindRole:
		if in.TrustPolicy == "" {
			return nil, invalid("A role needs a trust policy (AssumeRolePolicyDocument).")
		}
		if err := CheckPolicy(in.TrustPolicy, policy.Trust, MaxTrustPolicyBytes); err != nil {
			return nil, err
		}
		if in.MaxSessionSeconds == 0 {
			in.MaxSessionSeconds = 3600
		}
		if in.MaxSessionSeconds < 3600 || in.MaxSessionSeconds > 43200 {
			return nil, invalid("MaxSessionDuration must be between 3600 and 43200 seconds.")
		}
	default:
		if in.TrustPolicy != "" || in.MaxSessionSeconds != 0 {
			return nil, invalid("Only roles have a trust policy and a session duration.")
		}
	}
	arn := PrincipalARN(p.Account, in.Kind, in.Path, in.Name)
	var out *Entity
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.Authorize(ctx, p, Request{Action: "iam:Create" + kindTitle(in.Kind), Resource: arn, Context: tagContext(in.Tags)}); err != nil {
			return err
		}
		if _, err := tx.IAM().FindPrincipal(ctx, p.Account, in.Kind, in.Name); err == nil {
			return errs.Coded(errs.Conflict, CodeEntityExists, "A %s named %s already exists.", in.Kind, in.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rec, err := s.insertPrincipal(ctx, tx, p.Account, in.Kind, in.Name, in.Path, in.TrustPolicy, in.MaxSessionSeconds, in.Description)
		if err != nil {
			return err
		}
		if err := tx.Tags().Replace(ctx, rec.ARN, sortedTags(in.Tags)); err != nil {
			return err
		}
		out = &Entity{IAMPrincipal: *rec, Tags: in.Tags}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, errs.Coded(errs.Conflict, CodeEntityExists, "A %s named %s already exists.", in.Kind, in.Name)
	}
	return out, err
}

func kindTitle(kind string) string {
	if kind == KindRole {
		return "Role"
	}
	return "User"
}

func tagContext(tags map[string]string) map[string][]string {
	if len(tags) == 0 {
		return nil
	}
	c := map[string][]string{}
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		c["aws:RequestTag/"+k] = []string{v}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	c["aws:TagKeys"] = keys
	return c
}

func sortedTags(m map[string]string) []store.Tag {
	out := make([]store.Tag, 0, len(m))
	for k, v := range m {
		out = append(out, store.Tag{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b store.Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (s *Service) insertPrincipal(ctx context.Context, tx store.Tx, account, kind, name, path, trust string, maxSession int, desc string) (*store.IAMPrincipal, error) {
	prefix := "AIDA"
	if kind == KindRole {
		prefix = "AROA"
	}
	suffix, err := randomString(base32Upper, 17)
	if err != nil {
		return nil, err
	}
	if maxSession == 0 {
		maxSession = 3600
	}
	rec := &store.IAMPrincipal{ARN: PrincipalARN(account, kind, path, name), Account: account, Kind: kind, Name: name,
		Path: path, UniqueID: prefix + suffix, TrustPolicy: trust, MaxSessionSeconds: maxSession, Description: desc,
		CreatedAt: s.clock.Now()}
	return rec, tx.IAM().InsertPrincipal(ctx, rec)
}

// findPrincipal finds a user or role of the caller's account and
// authorizes action on it.
func (s *Service) findPrincipal(ctx context.Context, tx store.Tx, p Principal, kind, name, action string) (*store.IAMPrincipal, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	rec, err := tx.IAM().FindPrincipal(ctx, p.Account, kind, name)
	if errors.Is(err, store.ErrNotFound) {
		// Authorize on the ARN it would have, so that a caller without
		// the permission learns nothing about what exists.
		if err := s.Authorize(ctx, p, Request{Action: action, Resource: PrincipalARN(p.Account, kind, "/", name)}); err != nil {
			return nil, err
		}
		return nil, noSuchEntity("The %s with name %s cannot be found.", kind, name)
	} else if err != nil {
		return nil, err
	}
	if err := s.Authorize(ctx, p, Request{Action: action, Resource: rec.ARN}); err != nil {
		return nil, err
	}
	return rec, nil
}

// GetPrincipal describes a user or role with its tags and policies.
func (s *Service) GetPrincipal(ctx context.Context, p Principal, kind, name string) (*Entity, error) {
	var out *Entity
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, kind, name, "iam:Get"+kindTitle(kind))
		if err != nil {
			return err
		}
		out, err = entity(ctx, tx, rec)
		return err
	})
	return out, err
}

func entity(ctx context.Context, tx store.Tx, rec *store.IAMPrincipal) (*Entity, error) {
	tags, err := tagMap(ctx, tx, rec.ARN)
	if err != nil {
		return nil, err
	}
	attached, err := tx.IAM().Attached(ctx, rec.ARN)
	if err != nil {
		return nil, err
	}
	return &Entity{IAMPrincipal: *rec, Tags: tags, Policies: attached}, nil
}

// ListPrincipals lists the users or roles of the caller's account.
func (s *Service) ListPrincipals(ctx context.Context, p Principal, kind string) ([]*Entity, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	var out []*Entity
	err := s.store.View(ctx, func(tx store.Tx) error {
		if err := s.Authorize(ctx, p, Request{Action: "iam:List" + kindTitle(kind) + "s", Resource: "*"}); err != nil {
			return err
		}
		list, err := tx.IAM().ListPrincipals(ctx, p.Account, kind)
		if err != nil {
			return err
		}
		for _, rec := range list {
			e, err := entity(ctx, tx, rec)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// DeletePrincipal deletes a user or role. As on AWS, it must first have no
// attached policies and (users) no access keys.
func (s *Service) DeletePrincipal(ctx context.Context, p Principal, kind, name string) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, kind, name, "iam:Delete"+kindTitle(kind))
		if err != nil {
			return err
		}
		if attached, err := tx.IAM().Attached(ctx, rec.ARN); err != nil {
			return err
		} else if len(attached) > 0 {
			return errs.Coded(errs.Conflict, CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
		}
		if keys, err := tx.AccessKeys().ListByPrincipal(ctx, rec.ARN); err != nil {
			return err
		} else if len(keys) > 0 {
			return errs.Coded(errs.Conflict, CodeDeleteConflict, "Cannot delete entity, must delete access keys first.")
		}
		if err := tx.Tags().Replace(ctx, rec.ARN, nil); err != nil {
			return err
		}
		return tx.IAM().DeletePrincipal(ctx, rec.ARN)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// UpdateTrustPolicy replaces a role's trust policy.
func (s *Service) UpdateTrustPolicy(ctx context.Context, p Principal, roleName, doc string) error {
	if err := CheckPolicy(doc, policy.Trust, MaxTrustPolicyBytes); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, KindRole, roleName, "iam:UpdateAssumeRolePolicy")
		if err != nil {
			return err
		}
		return tx.IAM().UpdateTrustPolicy(ctx, rec.ARN, doc)
	})
}

// TagPrincipal adds or replaces tags on a user or role; keys in remove are
// deleted.
func (s *Service) TagPrincipal(ctx context.Context, p Principal, kind, name string, add map[string]string, remove []string) error {
	if err := checkTags(add); err != nil {
		return err
	}
	action := "iam:Tag" + kindTitle(kind)
	if len(add) == 0 {
		action = "iam:Untag" + kindTitle(kind)
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, kind, name, action)
		if err != nil {
			return err
		}
		tags, err := tagMap(ctx, tx, rec.ARN)
		if err != nil {
			return err
		}
		maps.Copy(tags, add)
		for _, k := range remove {
			delete(tags, k)
		}
		if err := checkTags(tags); err != nil {
			return err
		}
		return tx.Tags().Replace(ctx, rec.ARN, sortedTags(tags))
	})
	if err == nil {
		s.changed()
	}
	return err
}

// ---- managed policies ----

// PolicyARN returns the ARN of a customer managed policy.
func PolicyARN(account, path, name string) string {
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + account + ":policy" + path + name
}

// CreatePolicy creates a customer managed policy in the caller's account.
func (s *Service) CreatePolicy(ctx context.Context, p Principal, name, path, doc, description string) (*store.IAMPolicy, error) {
	if path == "" {
		path = "/"
	}
	if !policyNameRE.MatchString(name) {
		return nil, invalid("The policy name %q must be 1 to 128 letters, digits or +=,.@_-.", name)
	}
	if !pathRE.MatchString(path) {
		return nil, invalid("The path %q must begin and end with /.", path)
	}
	if err := CheckPolicy(doc, policy.Identity, MaxPolicyBytes); err != nil {
		return nil, err
	}
	arn := PolicyARN(p.Account, path, name)
	var out *store.IAMPolicy
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.Authorize(ctx, p, Request{Action: "iam:CreatePolicy", Resource: arn}); err != nil {
			return err
		}
		id, err := randomString(base32Upper, 17)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		out = &store.IAMPolicy{ARN: arn, Account: p.Account, Name: name, Path: path, PolicyID: "ANPA" + id,
			Document: doc, Description: description, CreatedAt: now, UpdatedAt: now}
		return tx.IAM().InsertPolicy(ctx, out)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, errs.Coded(errs.Conflict, CodeEntityExists, "A policy called %s already exists. Duplicate names are not allowed.", name)
	}
	return out, err
}

// policyAccess finds a policy the caller may act on: its own account's, or
// an AWS managed one (read-only).
func (s *Service) policyAccess(ctx context.Context, tx store.Tx, p Principal, arn, action string) (*store.IAMPolicy, error) {
	if doc, ok := managedDocs[arn]; ok {
		if err := s.Authorize(ctx, p, Request{Action: action, Resource: arn}); err != nil {
			return nil, err
		}
		return &store.IAMPolicy{ARN: arn, Account: "aws", Name: arn[strings.LastIndex(arn, "/")+1:], Path: "/", Document: doc}, nil
	}
	if err := s.Authorize(ctx, p, Request{Action: action, Resource: arn}); err != nil {
		return nil, err
	}
	rec, err := tx.IAM().GetPolicy(ctx, arn)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Account != p.Account) {
		return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return rec, err
}

// GetPolicy returns a managed policy with its document.
func (s *Service) GetPolicy(ctx context.Context, p Principal, arn string) (*store.IAMPolicy, error) {
	var out *store.IAMPolicy
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		out, err = s.policyAccess(ctx, tx, p, arn, "iam:GetPolicy")
		return err
	})
	return out, err
}

// ListPolicies lists the account's customer managed policies, then the AWS
// managed ones.
func (s *Service) ListPolicies(ctx context.Context, p Principal) ([]*store.IAMPolicy, error) {
	var out []*store.IAMPolicy
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		if err := s.Authorize(ctx, p, Request{Action: "iam:ListPolicies", Resource: "*"}); err != nil {
			return err
		}
		out, err = tx.IAM().ListPolicies(ctx, p.Account)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, arn := range slices.Sorted(maps.Keys(managedDocs)) {
		out = append(out, &store.IAMPolicy{ARN: arn, Account: "aws", Name: arn[strings.LastIndex(arn, "/")+1:], Path: "/", Document: managedDocs[arn]})
	}
	return out, nil
}

// UpdatePolicy replaces a customer managed policy's document; it applies
// to every principal it is attached to.
func (s *Service) UpdatePolicy(ctx context.Context, p Principal, arn, doc string) error {
	if err := CheckPolicy(doc, policy.Identity, MaxPolicyBytes); err != nil {
		return err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.policyAccess(ctx, tx, p, arn, "iam:CreatePolicyVersion")
		if err != nil {
			return err
		}
		if rec.Account == "aws" {
			return invalid("AWS managed policies cannot be changed.")
		}
		return tx.IAM().UpdatePolicy(ctx, arn, doc, s.clock.Now())
	})
	if err == nil {
		s.changed()
	}
	return err
}

// DeletePolicy deletes a customer managed policy that is attached to
// nothing.
func (s *Service) DeletePolicy(ctx context.Context, p Principal, arn string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.policyAccess(ctx, tx, p, arn, "iam:DeletePolicy")
		if err != nil {
			return err
		}
		if rec.Account == "aws" {
			return invalid("AWS managed policies cannot be deleted.")
		}
		if n, err := tx.IAM().AttachmentCount(ctx, arn); err != nil {
			return err
		} else if n > 0 {
			return errs.Coded(errs.Conflict, CodeDeleteConflict, "Cannot delete a policy attached to entities.")
		}
		return tx.IAM().DeletePolicy(ctx, arn)
	})
}

// AttachPolicy attaches a managed policy to a user or role.
func (s *Service) AttachPolicy(ctx context.Context, p Principal, kind, name, policyARN string) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, kind, name, "iam:Attach"+kindTitle(kind)+"Policy")
		if err != nil {
			return err
		}
		if _, err := s.policyAccess(ctx, tx, p, policyARN, "iam:GetPolicy"); err != nil {
			return err
		}
		attached, err := tx.IAM().Attached(ctx, rec.ARN)
		if err != nil {
			return err
		}
		if slices.Contains(attached, policyARN) {
			return nil // attaching again changes nothing, as on AWS
		}
		if len(attached) >= MaxAttachedPolicies {
			return errs.Coded(errs.Limit, CodeLimitExceeded, "Cannot exceed quota for PoliciesPer%s: %d", kindTitle(kind), MaxAttachedPolicies)
		}
		return tx.IAM().Attach(ctx, rec.ARN, policyARN)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// DetachPolicy detaches a managed policy from a user or role.
func (s *Service) DetachPolicy(ctx context.Context, p Principal, kind, name, policyARN string) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, kind, name, "iam:Detach"+kindTitle(kind)+"Policy")
		if err != nil {
			return err
		}
		err = tx.IAM().Detach(ctx, rec.ARN, policyARN)
		if errors.Is(err, store.ErrNotFound) {
			return noSuchEntity("Policy %s was not found attached to %s %s.", policyARN, kind, name)
		}
		return err
	})
	if err == nil {
		s.changed()
	}
	return err
}

// ---- access keys ----

// AccessKeyInfo describes an access key (never its secret).
type AccessKeyInfo struct {
	ID        string
	UserName  string
	Status    string
	CreatedAt time.Time
}

// CreateAccessKey creates an access key for a user of the caller's account
// and returns its secret, which is shown only here.
func (s *Service) CreateAccessKey(ctx context.Context, p Principal, userName string) (info AccessKeyInfo, secret string, err error) {
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, KindUser, userName, "iam:CreateAccessKey")
		if err != nil {
			return err
		}
		keys, err := tx.AccessKeys().ListByPrincipal(ctx, rec.ARN)
		if err != nil {
			return err
		}
		if len(keys) >= MaxAccessKeys {
			return errs.Coded(errs.Limit, CodeLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", MaxAccessKeys)
		}
		var id string
		id, secret, err = s.insertAccessKey(ctx, tx, rec)
		info = AccessKeyInfo{ID: id, UserName: rec.Name, Status: KeyActive, CreatedAt: s.clock.Now()}
		return err
	})
	return info, secret, err
}

func (s *Service) insertAccessKey(ctx context.Context, tx store.Tx, user *store.IAMPrincipal) (string, string, error) {
	keyID, secret, err := NewAccessKey()
	if err != nil {
		return "", "", err
	}
	sealed, err := s.sealer.Seal([]byte(secret), keyContext(keyID))
	if err != nil {
		return "", "", err
	}
	err = tx.AccessKeys().Insert(ctx, &store.AccessKey{ID: keyID, Account: user.Account, PrincipalARN: user.ARN,
		SecretSealed: sealed, Status: KeyActive, CreatedAt: s.clock.Now()})
	return keyID, secret, err
}

// ListAccessKeys lists a user's access keys.
func (s *Service) ListAccessKeys(ctx context.Context, p Principal, userName string) ([]AccessKeyInfo, error) {
	var out []AccessKeyInfo
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, KindUser, userName, "iam:ListAccessKeys")
		if err != nil {
			return err
		}
		keys, err := tx.AccessKeys().ListByPrincipal(ctx, rec.ARN)
		for _, k := range keys {
			out = append(out, AccessKeyInfo{ID: k.ID, UserName: rec.Name, Status: k.Status, CreatedAt: k.CreatedAt})
		}
		return err
	})
	return out, err
}

// SetAccessKeyStatus activates or deactivates a user's access key; "" as
// status deletes it.
func (s *Service) SetAccessKeyStatus(ctx context.Context, p Principal, userName, keyID, status string) error {
	action := "iam:UpdateAccessKey"
	switch status {
	case KeyActive, KeyInactive:
	case "":
		action = "iam:DeleteAccessKey"
	default:
		return invalid("Status must be Active or Inactive.")
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.findPrincipal(ctx, tx, p, KindUser, userName, action)
		if err != nil {
			return err
		}
		k, err := tx.AccessKeys().Get(ctx, keyID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && k.PrincipalARN != rec.ARN) {
			return noSuchEntity("The Access Key with id %s cannot be found.", keyID)
		} else if err != nil {
			return err
		}
		if status == "" {
			return tx.AccessKeys().Delete(ctx, keyID)
		}
		return tx.AccessKeys().SetStatus(ctx, keyID, status)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// KeyInactive is the status of a disabled access key.
const KeyInactive = "Inactive"

// CallerIdentity answers sts:GetCallerIdentity.
type CallerIdentity struct {
	Account string
	ARN     string
	UserID  string
}

// GetCallerIdentity says who the caller is. As on AWS, no policy is needed.
func (s *Service) GetCallerIdentity(_ context.Context, p Principal) CallerIdentity {
	id := p.ID
	if id == "" {
		id = p.Account
	}
	return CallerIdentity{Account: p.Account, ARN: p.ARN, UserID: id}
}
