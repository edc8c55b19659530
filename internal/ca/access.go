package ca

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/iam/policy"
	"github.com/sigilhq/sigil/internal/store"
)

// Who may use a CA besides its own account's identities: a resource policy
// (PutPolicy), which can share the CA with other accounts, and permissions
// for the ACM service principal (CreatePermission), which same-account
// managed renewal needs.

// Error codes of resource policies and permissions.
const (
	CodeInvalidPolicy    errs.Code = "InvalidPolicy"
	CodePermissionExists errs.Code = "PermissionAlreadyExists"
)

// Limits of resource policies and permissions.
const (
	MaxPolicyLength = 20480
	// policyCacheTTL bounds how long another node may keep using a CA
	// policy that was changed (the node that changes it drops its copy at
	// once), as IAM identity policies are cached.
	policyCacheTTL = 5 * time.Second
)

// PermissionActions are the actions a permission can grant.
var PermissionActions = []string{"IssueCertificate", "GetCertificate", "ListPermissions"}

// Permission lets a service principal act on a CA.
type Permission struct {
	CAARN         string
	Principal     string
	SourceAccount string
	Actions       []string
	CreatedAt     time.Time
	Policy        string // the permission as a resource policy document
}

// policyCache keeps CA resource policies for authorization ("" for none).
type policyCache struct {
	mu sync.Mutex
	m  map[string]policyEntry
}

type policyEntry struct {
	doc  string
	tags map[string]string
	at   time.Time
}

// accessOf returns a CA's resource policy ("" when it has none) and its
// tags (for aws:ResourceTag conditions), cached like IAM policies.
func (s *Service) accessOf(ctx context.Context, id, arn string) (string, map[string]string, error) {
	now := s.clock.Now()
	s.policies.mu.Lock()
	e, ok := s.policies.m[id]
	s.policies.mu.Unlock()
	if ok && now.Sub(e.at) >= 0 && now.Sub(e.at) < policyCacheTTL {
		return e.doc, e.tags, nil
	}
	var doc string
	var tags map[string]string
	err := s.store.Read(ctx, func(tx store.Tx) (err error) {
		doc, err = tx.CAAccess().GetPolicy(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			doc, err = "", nil
		}
		if err != nil {
			return err
		}
		list, err := tx.Tags().List(ctx, arn)
		if err != nil {
			return err
		}
		if len(list) > 0 {
			tags = make(map[string]string, len(list))
			for _, t := range list {
				tags[t.Key] = t.Value
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	s.policies.mu.Lock()
	if s.policies.m == nil {
		s.policies.m = map[string]policyEntry{}
	}
	s.policies.m[id] = policyEntry{doc: doc, tags: tags, at: now}
	s.policies.mu.Unlock()
	return doc, tags, nil
}

func (s *Service) forgetPolicy(id string) {
	s.policies.mu.Lock()
	delete(s.policies.m, id)
	s.policies.mu.Unlock()
}

// authorizeCA decides an action on a CA (r.Resource is its ARN) with its
// resource policy: within the CA's account the caller's identity policies
// or the CA's policy may allow it; another account needs both (and the CA
// is shared with it). A service acting in the CA's own account (ACM
// renewing) needs a permission for the action as well.
func (s *Service) authorizeCA(ctx context.Context, p iam.Principal, id string, r iam.Request) error {
	doc, tags, err := s.accessOf(ctx, id, r.Resource)
	if err != nil {
		return err
	}
	r.ResourcePolicy, r.ResourceTags = doc, tags
	if p.Service != "" && !p.Admin && p.Account == iam.AccountOf(r.Resource) {
		action := strings.TrimPrefix(r.Action, "acm-pca:")
		var perms []*store.CAPermission
		if err := s.store.Read(ctx, func(tx store.Tx) (err error) {
			perms, err = tx.CAAccess().Permissions(ctx, id)
			return err
		}); err != nil {
			return err
		}
		granted := false
		for _, pm := range perms {
			granted = granted || (pm.Principal == p.Service && slices.Contains(pm.Actions, action))
		}
		if !granted && slices.Contains(PermissionActions, action) {
			return iam.Denied(p, r.Action, r.Resource)
		}
	}
	return s.authz.Authorize(ctx, p, r)
}

// ownerOnly authorizes an action that only the CA's own account may take
// (managing its policy and permissions): the CA's policy is not consulted.
func (s *Service) ownerOnly(ctx context.Context, p iam.Principal, action, arn string) (id string, err error) {
	_, id, err = s.parseCAARN(arn)
	if err != nil {
		return "", err
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: action, Resource: arn}); err != nil {
		return "", err
	}
	return id, nil
}

// usableCA loads a CA for a policy or permission change: it must exist and
// not be deleted.
func (s *Service) usableCA(ctx context.Context, tx store.Tx, id, arn string) (*store.CA, error) {
	rec, err := s.loadCA(ctx, tx, id, arn)
	if err != nil {
		return nil, err
	}
	if Status(rec.Status) == Deleted {
		return nil, invalidState("The certificate authority %s is deleted.", arn)
	}
	return rec, nil
}

// PutPolicy attaches a resource policy to a CA, replacing any other. The
// accounts it names see the CA with ListCertificateAuthorities
// --resource-owner OTHER_ACCOUNTS.
func (s *Service) PutPolicy(ctx context.Context, p iam.Principal, arn, doc string) error {
	id, err := s.ownerOnly(ctx, p, "acm-pca:PutPolicy", arn)
	if err != nil {
		return err
	}
	if doc == "" {
		return required("policy")
	}
	if len(doc) > MaxPolicyLength {
		return validation("policy", "...", "Member must have length less than or equal to 20480")
	}
	grantees, err := checkCAPolicy(doc)
	if err != nil {
		return err
	}
	owner := iam.AccountOf(arn)
	grantees = slices.DeleteFunc(grantees, func(a string) bool { return a == owner })
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := s.usableCA(ctx, tx, id, arn); err != nil {
			return err
		}
		return tx.CAAccess().PutPolicy(ctx, id, doc, grantees, s.clock.Now())
	})
	s.forgetPolicy(id)
	return err
}

// checkCAPolicy validates a CA resource policy and returns the accounts it
// grants to.
func checkCAPolicy(doc string) ([]string, error) {
	pol, err := policy.Parse(doc, policy.Resource)
	if err != nil {
		var se *policy.SyntaxError
		if errors.As(err, &se) {
			return nil, errs.Coded(errs.Invalid, CodeInvalidPolicy, "The policy is not valid: %s", se.Error())
		}
		return nil, err
	}
	// Only Private CA actions belong in a CA's policy.
	var shape struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &shape); err != nil {
		return nil, errs.Coded(errs.Invalid, CodeInvalidPolicy, "The policy is not valid JSON.")
	}
	var stmts []struct {
		Action, NotAction json.RawMessage
	}
	if len(shape.Statement) > 0 && shape.Statement[0] == '{' {
		stmts = make([]struct{ Action, NotAction json.RawMessage }, 1)
		err = json.Unmarshal(shape.Statement, &stmts[0])
	} else {
		err = json.Unmarshal(shape.Statement, &stmts)
	}
	if err != nil {
		return nil, errs.Coded(errs.Invalid, CodeInvalidPolicy, "The policy's Statement is not valid.")
	}
	for _, st := range stmts {
		if len(st.NotAction) > 0 {
			return nil, errs.Coded(errs.Invalid, CodeInvalidPolicy, "A certificate authority's policy must list its actions: NotAction is not allowed.")
		}
		for _, a := range stringOrList(st.Action) {
			if !strings.HasPrefix(strings.ToLower(a), "acm-pca:") {
				return nil, errs.Coded(errs.Invalid, CodeInvalidPolicy, "The action %q is not a Private CA action (acm-pca:...).", a)
			}
		}
	}
	accounts, everyone := pol.Grantees()
	if everyone {
		return nil, errs.Coded(errs.Invalid, CodeInvalidPolicy,
			"The policy allows every principal (Principal \"*\" or NotPrincipal); name the accounts or roles to share the certificate authority with.")
	}
	return accounts, nil
}

func stringOrList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	json.Unmarshal(raw, &many)
	return many
}

// GetPolicy returns a CA's resource policy.
func (s *Service) GetPolicy(ctx context.Context, p iam.Principal, arn string) (string, error) {
	id, err := s.ownerOnly(ctx, p, "acm-pca:GetPolicy", arn)
	if err != nil {
		return "", err
	}
	var doc string
	err = s.store.View(ctx, func(tx store.Tx) error {
		if _, err := s.loadCA(ctx, tx, id, arn); err != nil {
			return err
		}
		doc, err = tx.CAAccess().GetPolicy(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The certificate authority %s has no resource policy.", arn)
		}
		return err
	})
	return doc, err
}

// DeletePolicy removes a CA's resource policy: other accounts lose access
// at once on this node and within policyCacheTTL on others.
func (s *Service) DeletePolicy(ctx context.Context, p iam.Principal, arn string) error {
	id, err := s.ownerOnly(ctx, p, "acm-pca:DeletePolicy", arn)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := s.usableCA(ctx, tx, id, arn); err != nil {
			return err
		}
		err := tx.CAAccess().DeletePolicy(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The certificate authority %s has no resource policy.", arn)
		}
		return err
	})
	s.forgetPolicy(id)
	return err
}

// CreatePermissionInput grants a service principal actions on a CA.
type CreatePermissionInput struct {
	CAARN         string
	Principal     string
	SourceAccount string
	Actions       []string
}

// CreatePermission lets the ACM service principal issue and get
// certificates from a CA (managed renewal of ACM private certificates).
func (s *Service) CreatePermission(ctx context.Context, p iam.Principal, in CreatePermissionInput) error {
	id, err := s.ownerOnly(ctx, p, "acm-pca:CreatePermission", in.CAARN)
	if err != nil {
		return err
	}
	if err := checkPermissionPrincipal(in.Principal); err != nil {
		return err
	}
	if len(in.Actions) == 0 {
		return required("actions")
	}
	if len(in.Actions) > len(PermissionActions) {
		return validation("actions", in.Actions, "Member must have length less than or equal to 3")
	}
	actions := []string{}
	for _, a := range in.Actions {
		if !slices.Contains(PermissionActions, a) {
			return enumValidation("actions", a, PermissionActions)
		}
		if !slices.Contains(actions, a) {
			actions = append(actions, a)
		}
	}
	owner := iam.AccountOf(in.CAARN)
	if in.SourceAccount != "" && in.SourceAccount != owner {
		if len(in.SourceAccount) != 12 || strings.Trim(in.SourceAccount, "0123456789") != "" {
			return validation("sourceAccount", in.SourceAccount, "Member must satisfy regular expression pattern: [0-9]+ and have length 12")
		}
		return invalidRequest("The source account %s must be the certificate authority's account, %s: a permission lets a service act for the CA's own account.",
			in.SourceAccount, owner)
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := s.usableCA(ctx, tx, id, in.CAARN); err != nil {
			return err
		}
		err := tx.CAAccess().InsertPermission(ctx, &store.CAPermission{CAID: id, Principal: in.Principal,
			SourceAccount: in.SourceAccount, Actions: actions, CreatedAt: s.clock.Now()})
		if errors.Is(err, store.ErrConflict) {
			return errs.Coded(errs.Conflict, CodePermissionExists,
				"The certificate authority %s already has a permission for %s; delete it first to change its actions.", in.CAARN, in.Principal)
		}
		return err
	})
}

func checkPermissionPrincipal(principal string) error {
	switch {
	case principal == "":
		return required("principal")
	case len(principal) > 128:
		return validation("principal", principal, "Member must have length less than or equal to 128")
	case principal != iam.ACMService:
		return invalidRequest("The principal %q cannot be given permissions; the only valid principal is %s.", principal, iam.ACMService)
	}
	return nil
}

// ListPermissions returns the permissions on a CA. The ACM service
// principal may list them too (with the ListPermissions action).
func (s *Service) ListPermissions(ctx context.Context, p iam.Principal, arn string, maxResults int, nextToken string) ([]*Permission, string, error) {
	_, id, err := s.parseCAARN(arn)
	if err != nil {
		return nil, "", err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:ListPermissions", Resource: arn}); err != nil {
		return nil, "", err
	}
	if maxResults == 0 {
		maxResults = 1000
	}
	if maxResults < 1 || maxResults > 1000 {
		return nil, "", validation("maxResults", maxResults, "Member must have value between 1 and 1000")
	}
	offset, err := decodeOffsetToken(nextToken, "permissions:"+arn)
	if err != nil {
		return nil, "", err
	}
	var perms []*store.CAPermission
	err = s.store.View(ctx, func(tx store.Tx) error {
		if _, err := s.usableCA(ctx, tx, id, arn); err != nil {
			return err
		}
		perms, err = tx.CAAccess().Permissions(ctx, id)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	offset = min(offset, len(perms))
	end := min(offset+maxResults, len(perms))
	out := make([]*Permission, 0, end-offset)
	for _, pm := range perms[offset:end] {
		out = append(out, &Permission{CAARN: arn, Principal: pm.Principal, SourceAccount: pm.SourceAccount,
			Actions: pm.Actions, CreatedAt: pm.CreatedAt, Policy: permissionPolicy(arn, pm)})
	}
	next := ""
	if end < len(perms) {
		next = encodeOffsetToken(end, "permissions:"+arn)
	}
	return out, next, nil
}

// permissionPolicy renders a permission as the resource policy it amounts
// to, as Private CA shows it.
func permissionPolicy(arn string, pm *store.CAPermission) string {
	actions := make([]string, len(pm.Actions))
	for i, a := range pm.Actions {
		actions[i] = "acm-pca:" + a
	}
	st := map[string]any{"Sid": "acm-pca-" + pm.Principal, "Effect": "Allow",
		"Principal": map[string]string{"Service": pm.Principal}, "Action": actions, "Resource": arn}
	account := pm.SourceAccount
	if account == "" {
		account = iam.AccountOf(arn)
	}
	st["Condition"] = map[string]any{"StringEquals": map[string]string{"aws:SourceAccount": account}}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
	return string(b)
}

// DeletePermission revokes a service principal's permission on a CA.
func (s *Service) DeletePermission(ctx context.Context, p iam.Principal, arn, principal, sourceAccount string) error {
	id, err := s.ownerOnly(ctx, p, "acm-pca:DeletePermission", arn)
	if err != nil {
		return err
	}
	if principal == "" {
		return required("principal")
	}
	if sourceAccount != "" && sourceAccount != iam.AccountOf(arn) {
		return notFound("The certificate authority %s has no permission for %s from account %s.", arn, principal, sourceAccount)
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := s.usableCA(ctx, tx, id, arn); err != nil {
			return err
		}
		err := tx.CAAccess().DeletePermission(ctx, id, principal)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The certificate authority %s has no permission for %s.", arn, principal)
		}
		return err
	})
}
