package iam

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam/policy"
	"github.com/sigilhq/sigil/internal/store"
)

// RequestInfo is what the front end knows about a request that policies
// may test: where it came from and how.
type RequestInfo struct {
	SourceIP        string
	SecureTransport bool
	UserAgent       string
}

type requestInfoKey struct{}

// WithRequestInfo returns a context carrying the request's facts for
// aws:SourceIp, aws:SecureTransport and aws:UserAgent conditions.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

func requestInfoFrom(ctx context.Context) (RequestInfo, bool) {
	info, ok := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info, ok
}

// policyCacheTTL bounds how long a principal's compiled identity policies
// are trusted: a change made on this node applies at once, one made on
// another node within this delay (IAM is eventually consistent on AWS too).
const policyCacheTTL = 5 * time.Second

type identityPolicies struct {
	list []*policy.Policy
	at   time.Time
}

// docCache holds compiled resource policies by their text; resource
// policies change rarely and are few, so the text is the key.
type docCache struct {
	mu sync.RWMutex
	m  map[string]*policy.Policy
}

func (c *docCache) get(doc string, kind policy.Kind) (*policy.Policy, error) {
	c.mu.RLock()
	p, ok := c.m[doc]
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	p, err := policy.Parse(doc, kind)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= 10000 {
		clear(c.m)
	}
	c.m[doc] = p
	c.mu.Unlock()
	return p, nil
}

// Authorize decides whether p may perform r, exactly as AWS evaluates:
//
//   - an explicit Deny in any applicable policy (identity, resource, key
//     policy) wins;
//   - a KMS key policy gates every use of its key: it must allow the caller
//     itself, or allow the caller's account and let the caller's identity
//     policies decide;
//   - within one account, an Allow from an identity policy OR from the
//     resource's policy naming the caller suffices;
//   - across accounts, the caller's identity policies AND the resource's
//     policy must both allow.
//
// It returns a Denied error whose message names the action and resource,
// never which policy decided.
func (s *Service) Authorize(ctx context.Context, p Principal, r Request) error {
	if r.Resource == "" {
		r.Resource = "*"
	}
	req := s.policyRequest(ctx, p, r)
	identity, err := s.identityDecision(ctx, p, req)
	if err != nil {
		return err
	}
	if identity == policy.Deny {
		return denied(p, r)
	}
	resAccount := AccountOf(r.Resource)
	if resAccount == "" {
		resAccount = p.Account
	}
	var full, direct policy.Decision
	if r.ResourcePolicy != "" {
		kind := policy.Resource
		if r.Trust {
			kind = policy.Trust
		}
		doc, err := s.docs.get(r.ResourcePolicy, kind)
		if err != nil {
			// A stored policy that no longer parses grants nothing.
			s.log.Warn("unparseable resource policy", "resource", r.Resource, "error", err)
		} else {
			full = doc.Evaluate(req)
			if full == policy.Deny {
				return denied(p, r)
			}
			// The same policy read as if the caller's account were not
			// named: what it grants the caller itself rather than
			// delegates to the caller's account.
			blind := *req
			blind.Caller.Account = ""
			direct = doc.Evaluate(&blind)
		}
	}
	allowed := false
	switch {
	case (r.KeyPolicy || r.Trust) && resAccount == p.Account:
		// A key policy gates its key and a trust policy its role: naming
		// the caller grants; naming its account delegates to identity
		// policies; not matching at all refuses.
		allowed = direct == policy.Allow || (full == policy.Allow && identity == policy.Allow)
	case r.KeyPolicy || r.Trust:
		allowed = full == policy.Allow && identity == policy.Allow
	case resAccount == p.Account:
		allowed = identity == policy.Allow || direct == policy.Allow
	default:
		allowed = full == policy.Allow && identity == policy.Allow
	}
	if !allowed {
		return denied(p, r)
	}
	return nil
}

// Denied is the AccessDeniedException for a principal refused an action on
// a resource, for services that refuse on grounds of their own (a missing
// Private CA permission).
func Denied(p Principal, action, resource string) error {
	return denied(p, Request{Action: action, Resource: resource})
}

func denied(p Principal, r Request) error {
	who := p.ARN
	if who == "" {
		who = p.Service
	}
	return errs.Coded(errs.Denied, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s",
		who, r.Action, r.Resource)
}

// identityDecision evaluates the caller's identity policies. A service
// principal has none: only resource policies can grant it anything.
func (s *Service) identityDecision(ctx context.Context, p Principal, req *policy.Request) (policy.Decision, error) {
	if p.Admin {
		return policy.Allow, nil
	}
	if p.Type == PrincipalService {
		return policy.NoMatch, nil
	}
	if pol := serviceRolePolicy(p); pol != nil {
		return pol.Evaluate(req), nil
	}
	list, err := s.identityPolicies(ctx, p)
	if err != nil {
		return policy.NoMatch, err
	}
	d := policy.NoMatch
	for _, pol := range list {
		switch pol.Evaluate(req) {
		case policy.Deny:
			return policy.Deny, nil
		case policy.Allow:
			d = policy.Allow
		}
	}
	return d, nil
}

// identityPolicies returns the compiled policies attached to p (to its
// role, for a role session), from a short-lived cache.
func (s *Service) identityPolicies(ctx context.Context, p Principal) ([]*policy.Policy, error) {
	owner := p.ARN
	if p.RoleARN != "" {
		owner = p.RoleARN
	}
	if owner == "" {
		return nil, nil
	}
	now := s.clock.Now()
	if v, ok := s.policies.Load(owner); ok {
		e := v.(identityPolicies)
		if age := now.Sub(e.at); age >= 0 && age < policyCacheTTL {
			return e.list, nil
		}
	}
	gen := s.generation.Load()
	var list []*policy.Policy
	err := s.store.View(ctx, func(tx store.Tx) error {
		arns, err := tx.IAM().Attached(ctx, owner)
		if err != nil {
			return err
		}
		list = list[:0]
		for _, arn := range arns {
			if pol := managedPolicy(arn); pol != nil {
				list = append(list, pol)
				continue
			}
			rec, err := tx.IAM().GetPolicy(ctx, arn)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			pol, err := s.docs.get(rec.Document, policy.Identity)
			if err != nil {
				s.log.Warn("unparseable identity policy", "policy", arn, "error", err)
				continue
			}
			list = append(list, pol)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Do not cache what may predate a change made meanwhile on this node.
	if s.generation.Load() == gen {
		s.policies.Store(owner, identityPolicies{list: list, at: now})
	}
	return list, nil
}

// changed drops every cached identity decision input after a change to
// identities or policies on this node.
func (s *Service) changed() {
	s.generation.Add(1)
	s.policies.Clear()
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
}

// policyRequest builds the evaluation request: the caller, and every
// condition key AWS would set for this request.
func (s *Service) policyRequest(ctx context.Context, p Principal, r Request) *policy.Request {
	c := make(map[string][]string, 16+len(r.Context)+2*len(r.ResourceTags)+len(p.Tags))
	set := func(k string, v ...string) { c[policy.Key(k)] = v }
	now := s.clock.Now().UTC()
	set("aws:CurrentTime", now.Format(time.RFC3339))
	set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	set("aws:RequestedRegion", s.region)
	if info, ok := requestInfoFrom(ctx); ok {
		if info.SourceIP != "" {
			set("aws:SourceIp", info.SourceIP)
		}
		set("aws:SecureTransport", strconv.FormatBool(info.SecureTransport))
		if info.UserAgent != "" {
			set("aws:UserAgent", info.UserAgent)
		}
	}
	caller := policy.Caller{Account: p.Account, ARN: p.ARN, RoleARN: p.RoleARN, Service: p.Service, UserID: p.ID}
	switch p.Type {
	case PrincipalService:
		set("aws:PrincipalServiceName", p.Service)
		if p.Account != "" {
			set("aws:SourceAccount", p.Account)
		}
		caller.Account, caller.ARN = "", ""
	default:
		if p.Account != "" {
			set("aws:PrincipalAccount", p.Account)
		}
		principalARN := p.ARN
		if p.RoleARN != "" {
			principalARN = p.RoleARN // AWS: a session's aws:PrincipalArn is its role
			set("aws:PrincipalType", "AssumedRole")
		} else {
			set("aws:PrincipalType", "User")
		}
		if principalARN != "" {
			set("aws:PrincipalArn", principalARN)
		}
		if p.UserName != "" {
			caller.UserName = p.UserName
			set("aws:username", p.UserName)
		}
		if p.ID != "" {
			set("aws:userid", p.ID)
		}
		for k, v := range p.Tags {
			set("aws:PrincipalTag/"+k, v)
		}
	}
	if acct := AccountOf(r.Resource); acct != "" {
		set("aws:ResourceAccount", acct)
	}
	service, _, _ := strings.Cut(r.Action, ":")
	for k, v := range r.ResourceTags {
		set("aws:ResourceTag/"+k, v)
		set(service+":ResourceTag/"+k, v)
	}
	for k, v := range r.Context {
		set(k, v...)
	}
	return &policy.Request{Caller: caller, Action: r.Action, Resource: r.Resource, Context: c}
}

// RequestTags returns the condition keys of tags a request sets:
// aws:RequestTag/KEY for each, and aws:TagKeys.
func RequestTags(tags map[string]string) map[string][]string { return tagContext(tags) }

// TagCache remembers resources' tags for authorization by the version of
// the row that owns them, so the hot paths do not read the tag table on
// every request. Services bump their row's version whenever its tags
// change.
type TagCache struct{ m sync.Map }

type cachedTags struct {
	version int64
	tags    map[string]string
}

// Get returns the tags of arn as of row version version.
func (c *TagCache) Get(ctx context.Context, tx store.Tx, arn string, version int64) (map[string]string, error) {
	if v, ok := c.m.Load(arn); ok && v.(cachedTags).version == version {
		return v.(cachedTags).tags, nil
	}
	tags, err := tagMap(ctx, tx, arn)
	if err != nil {
		return nil, err
	}
	c.m.Store(arn, cachedTags{version: version, tags: tags})
	return tags, nil
}

// Forget drops a resource's entry (after it is deleted).
func (c *TagCache) Forget(arn string) { c.m.Delete(arn) }
