package policy

import (
	"sort"
	"strings"
)

// principalSet is a compiled Principal or NotPrincipal element.
type principalSet struct {
	any      bool     // "*" or {"AWS": "*"}: everyone, service principals included
	accounts []string // 12-digit account ids (also from "arn:...:iam::A:root")
	arns     []string // user, role, assumed-role session and federated-user ARNs
	services []string // service principals, lower-cased
	// Federated and CanonicalUser principals are accepted but never match:
	// Sigil has no such callers.
}

func (ps *principalSet) matches(c *Caller) bool {
	if ps.any {
		return true
	}
	if c.Account != "" {
		for _, a := range ps.accounts {
			if a == c.Account {
				return true
			}
		}
	}
	if c.ARN != "" || c.RoleARN != "" {
		for _, a := range ps.arns {
			if (c.ARN != "" && a == c.ARN) || (c.RoleARN != "" && a == c.RoleARN) {
				return true
			}
		}
	}
	if c.Service != "" {
		for _, s := range ps.services {
			if strings.EqualFold(s, c.Service) {
				return true
			}
		}
	}
	return false
}

// compilePrincipal validates and compiles a Principal / NotPrincipal value;
// problems are reported through p.
func (p *parser) compilePrincipal(where, elem string, v any) *principalSet {
	ps := &principalSet{}
	if s, ok := v.(string); ok {
		if s == "*" {
			ps.any = true
			return ps
		}
		p.add(checkPrincipal, "%s: %s must be \"*\" or an object such as {\"AWS\": \"123456789012\"}, not %q.", where, elem, s)
		return nil
	}
	o, ok := v.(*jsonObject)
	if !ok {
		p.add(checkPrincipal, "%s: %s must be \"*\" or an object such as {\"AWS\": \"123456789012\"}.", where, elem)
		return nil
	}
	if len(o.keys) == 0 {
		p.add(checkPrincipal, "%s: %s is empty.", where, elem)
		return nil
	}
	bad := false
	for _, typ := range o.keys {
		vals, ok := stringList(o.vals[typ])
		if !ok || len(vals) == 0 {
			p.add(checkPrincipal, "%s: %s %q must be a string or a non-empty array of strings.", where, elem, typ)
			bad = true
			continue
		}
		switch typ {
		case "AWS":
			for _, s := range vals {
				if !p.awsPrincipal(ps, s) {
					p.add(checkPrincipal, "%s: %s AWS value %q is not \"*\", a 12-digit account id, or the ARN of an account root, user, role or assumed-role session (wildcards are not allowed).", where, elem, s)
					bad = true
				}
			}
		case "Service":
			for _, s := range vals {
				if !validService(s) {
					p.add(checkPrincipal, "%s: %s Service value %q is not a service principal such as \"acm.amazonaws.com\".", where, elem, s)
					bad = true
					continue
				}
				ps.services = append(ps.services, strings.ToLower(s))
			}
		case "Federated", "CanonicalUser":
			for _, s := range vals {
				if s == "" || strings.ContainsAny(s, "*?") {
					p.add(checkPrincipal, "%s: %s %s value %q is not valid.", where, elem, typ, s)
					bad = true
				}
			}
		default:
			p.add(checkPrincipal, "%s: %s has an unknown principal type %q (expected AWS, Service, Federated or CanonicalUser).", where, elem, typ)
			bad = true
		}
	}
	if bad {
		return nil
	}
	return ps
}

// awsPrincipal adds one "AWS" principal value to ps; false if it is not
// valid.
func (p *parser) awsPrincipal(ps *principalSet, s string) bool {
	if s == "*" {
		ps.any = true
		return true
	}
	if isAccountID(s) {
		ps.accounts = append(ps.accounts, s)
		return true
	}
	if strings.ContainsAny(s, "*?") {
		return false
	}
	// arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !validPartition(parts[1]) || parts[3] != "" || !isAccountID(parts[4]) {
		return false
	}
	res := parts[5]
	switch parts[2] {
	case "iam":
		switch {
		case res == "root":
			ps.accounts = append(ps.accounts, parts[4])
			return true
		case strings.HasPrefix(res, "user/"), strings.HasPrefix(res, "role/"):
			if !validPathName(res[5:]) {
				return false
			}
		default:
			return false
		}
	case "sts":
		switch {
		case strings.HasPrefix(res, "assumed-role/"):
			rest := res[len("assumed-role/"):]
			i := strings.IndexByte(rest, '/')
			if i <= 0 || i == len(rest)-1 || strings.Contains(rest[i+1:], "/") {
				return false
			}
		case strings.HasPrefix(res, "federated-user/"):
			if len(res) == len("federated-user/") || strings.Contains(res[len("federated-user/"):], "/") {
				return false
			}
		default:
			return false
		}
	default:
		return false
	}
	ps.arns = append(ps.arns, s)
	return true
}

// validPathName checks "name" or "path/.../name" of a user or role ARN.
func validPathName(s string) bool {
	if s == "" || s[len(s)-1] == '/' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validPartition(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// validService checks a service principal: lower-case DNS-like labels,
// e.g. "acm.amazonaws.com" (upper case is accepted and folded).
func validService(s string) bool {
	if s == "" || !strings.Contains(s, ".") || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Grantees returns the accounts that the policy's Allow statements name as
// principals — directly, as arn:...:iam::ACCOUNT:root, or through a user,
// role or session ARN in the account — sorted and without duplicates, and
// whether an Allow statement admits every principal ("*", or a
// NotPrincipal). Services use it to show a resource shared by its policy
// in the grantee accounts' listings.
func (p *Policy) Grantees() (accounts []string, everyone bool) {
	seen := map[string]bool{}
	for i := range p.stmts {
		st := &p.stmts[i]
		if st.deny || st.principal == nil {
			continue
		}
		if st.notPrincipal || st.principal.any {
			everyone = true
			continue
		}
		for _, a := range st.principal.accounts {
			seen[a] = true
		}
		for _, arn := range st.principal.arns {
			// arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
			if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
				seen[parts[4]] = true
			}
		}
	}
	for a := range seen {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	return accounts, everyone
}
