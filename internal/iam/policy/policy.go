// Package policy parses and evaluates IAM JSON policy documents: identity
// policies attached to users and roles, resource policies (secret policies,
// KMS key policies) and role trust policies.
//
// Parse validates a document against the IAM policy grammar and compiles it
// once: wildcard patterns become allocation-free matchers, CIDR blocks,
// numbers, dates and base64 literals are decoded, and policy variables are
// split out so that Evaluate only has to look their values up. A compiled
// *Policy is immutable and safe for concurrent use.
//
// Evaluate decides one policy on its own (Deny beats Allow within the
// policy); combining several policies — identity policies, resource
// policies, the implicit deny — is the caller's job.
//
// Semantics follow the AWS IAM JSON policy reference:
//
//   - Action and NotAction match "service:Operation" case-insensitively,
//     with the wildcards * and ?. Resource and NotResource match
//     case-sensitively, as one glob over the whole ARN: the IAM reference
//     says a * that ends an ARN segment "can expand to match beyond the
//     colon boundaries", so segment-wise matching would be wrong. (ArnLike
//     conditions, by contrast, compare the six parts separately.)
//   - A condition key the request context lacks makes a positive operator
//     false and a negated one (StringNotEquals, StringNotEqualsIgnoreCase,
//     StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress,
//     ArnNotEquals, ArnNotLike) TRUE. The IAM reference says so in so many
//     words ("If the policy condition requires that the key is not matched,
//     such as StringNotLike or ArnNotLike, and the right key is not present,
//     the condition is true"), and it is the reason a Deny statement written
//     with a negated operator also denies requests that lack the key. The
//     ...IfExists forms make every operator true when the key is absent; Null
//     tests presence itself.
//   - Several values for one key in the policy are ORed; for a negated
//     operator that means the request value must equal none of them (the
//     documented "logical AND" of negated operators). Several keys under one
//     operator, and several operators, are ANDed.
//   - A multi-valued context key used without a set operator behaves as
//     ForAnyValue for positive operators (some request value matches some
//     policy value) and as ForAllValues for negated ones (no request value
//     matches any policy value). ForAllValues is true when the key is absent
//     (or has no values); ForAnyValue is false then, unless ...IfExists is
//     used. A key present with an empty value list is treated as absent.
//   - Policy variables (Version 2012-10-17 only) are substituted in Resource,
//     NotResource and in condition values of the String, Arn and Bool
//     families; the Numeric, Date, IpAddress and Binary operators do not
//     take variables (as in AWS), so "${...}" there is a bad literal. A
//     substituted value is always literal text, never a wildcard. A
//     variable whose key has no value in the request (or several values)
//     and no default is treated as the IAM reference on "policy variables
//     with no value" describes: the Resource pattern containing it matches
//     no resource, and in a condition the policy value containing it equals
//     nothing — so positive operators (StringEquals, StringLike...) do not
//     match and negated ones (StringNotEquals...) do.
package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind says where a policy document is used; it decides which elements a
// statement must or must not have.
type Kind int

const (
	// Identity policies are attached to a user or role: no Principal or
	// NotPrincipal allowed.
	Identity Kind = iota
	// Resource policies (secret policies, KMS key policies) need a Principal
	// or NotPrincipal in every statement.
	Resource
	// Trust policies (role trust policies) are like Resource policies, and
	// their actions must be sts: actions (sts:AssumeRole, sts:TagSession...).
	Trust
)

func (k Kind) String() string {
	switch k {
	case Identity:
		return "identity"
	case Resource:
		return "resource"
	case Trust:
		return "trust"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Problem is one reason a document is invalid. Check is one of
// "SYNTAX_ERROR", "MISSING_FIELD", "INVALID_VERSION", "INVALID_EFFECT",
// "INVALID_CONDITION", "INVALID_PRINCIPAL", "INVALID_ACTION",
// "INVALID_RESOURCE".
type Problem struct{ Check, Message string }

// Check values of a Problem.
const (
	checkSyntax    = "SYNTAX_ERROR"
	checkMissing   = "MISSING_FIELD"
	checkVersion   = "INVALID_VERSION"
	checkEffect    = "INVALID_EFFECT"
	checkCondition = "INVALID_CONDITION"
	checkPrincipal = "INVALID_PRINCIPAL"
	checkAction    = "INVALID_ACTION"
	checkResource  = "INVALID_RESOURCE"
)

// SyntaxError is returned by Parse for an invalid document. It lists every
// problem found, in document order.
type SyntaxError struct{ Problems []Problem }

// Error returns the first problem's message, plus "(and N more)" when there
// are others.
func (e *SyntaxError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid policy document"
	}
	msg := e.Problems[0].Message
	if n := len(e.Problems) - 1; n > 0 {
		msg += " (and " + strconv.Itoa(n) + " more)"
	}
	return msg
}

// maxDocSize caps the input Parse accepts. AWS's own limits are smaller
// (6 KiB for a managed policy, 20 KiB for a secret or key policy, counted
// without whitespace); callers enforce those where the API does.
const maxDocSize = 128 << 10

// Parse validates a policy document of the given kind and compiles it. It
// returns a *SyntaxError listing every problem when the document is invalid.
func Parse(doc string, kind Kind) (*Policy, error) {
	p := &parser{kind: kind}
	pol := p.parse(doc)
	if len(p.problems) > 0 {
		return nil, &SyntaxError{Problems: p.problems}
	}
	return pol, nil
}

// Policy is a compiled policy document. It is immutable and safe for
// concurrent use.
type Policy struct {
	version string
	id      string
	stmts   []statement
}

// Statements returns the number of statements in the policy.
func (p *Policy) Statements() int { return len(p.stmts) }

// Caller describes the principal making a request, for Principal matching
// and policy variables.
type Caller struct {
	Account  string // 12-digit account of the caller ("" for anonymous)
	ARN      string // user ARN "arn:aws:iam::A:user/path/name", or assumed-role session ARN "arn:aws:sts::A:assumed-role/ROLE/SESSION", or root "arn:aws:iam::A:root"
	RoleARN  string // for a role session: "arn:aws:iam::A:role/path/ROLE" (a policy naming the role ARN matches its sessions)
	Service  string // for service principals, e.g. "acm.amazonaws.com" (then Account/ARN may be empty)
	UserName string // ${aws:username}
	UserID   string // ${aws:userid}
}

// Request is what Evaluate decides on.
type Request struct {
	Caller   Caller
	Action   string // "service:Operation", e.g. "secretsmanager:GetSecretValue"
	Resource string // an ARN, or "*" for actions that name no resource
	// Context maps condition keys, normalised with Key, to their values. A
	// key absent from the map (or mapped to no values) is "not present".
	// Single-valued keys have one value.
	//
	// When the map lacks them, aws:username, aws:userid,
	// aws:PrincipalAccount, aws:PrincipalArn and aws:PrincipalServiceName
	// are taken from Caller (for a role session aws:PrincipalArn is the
	// role's ARN, as in AWS).
	Context map[string][]string
}

// Key normalises a condition key for Request.Context. IAM condition keys are
// case-insensitive; tag keys after the slash are matched case-insensitively
// too, for simplicity.
func Key(k string) string { return strings.ToLower(k) }

// Decision is the outcome of evaluating one policy.
type Decision int

const (
	// NoMatch means no statement applies: the policy neither allows nor
	// denies the request.
	NoMatch Decision = iota
	// Allow means an Allow statement applies and no Deny statement does.
	Allow
	// Deny means a Deny statement applies.
	Deny
)

func (d Decision) String() string {
	switch d {
	case NoMatch:
		return "NoMatch"
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Evaluate returns Deny if any Deny statement applies, else Allow if any
// Allow statement applies, else NoMatch.
func (p *Policy) Evaluate(r *Request) Decision {
	if p == nil || r == nil {
		return NoMatch
	}
	ec := evalCtx{r: r}
	allowed := false
	for i := range p.stmts {
		st := &p.stmts[i]
		if !st.deny && allowed {
			continue // only a Deny can still change the answer
		}
		if st.applies(&ec) {
			if st.deny {
				return Deny
			}
			allowed = true
		}
	}
	if allowed {
		return Allow
	}
	return NoMatch
}
