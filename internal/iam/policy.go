package iam

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sigilhq/sigil/internal/iam/policy"
)

// PolicyProblem is one reason a policy document is not valid.
type PolicyProblem struct {
	Check   string // e.g. "SYNTAX_ERROR", "MISSING_FIELD"
	Message string
}

// CheckPolicyDocument reports what is wrong with an IAM-style policy
// document (a key policy or a resource policy): its JSON shape, Version,
// Statement list, Effect, and the presence of an action and a resource
// element in each statement. It returns no problems for a valid document.
// Which statements allow what is decided when a request is evaluated.
func CheckPolicyDocument(doc string, resourcePolicy bool) []PolicyProblem {
	probs := checkShape(doc, resourcePolicy)
	if len(probs) > 0 {
		return probs
	}
	// The shape is right; the full parser checks every element's content
	// (actions, ARNs, principals, condition operators and values).
	kind := policy.Identity
	if resourcePolicy {
		kind = policy.Resource
	}
	if _, err := policy.Parse(doc, kind); err != nil {
		var se *policy.SyntaxError
		if errors.As(err, &se) {
			for _, p := range se.Problems {
				probs = append(probs, PolicyProblem{Check: p.Check, Message: p.Message})
			}
		} else {
			probs = append(probs, PolicyProblem{Check: "SYNTAX_ERROR", Message: err.Error()})
		}
	}
	return probs
}

func checkShape(doc string, resourcePolicy bool) []PolicyProblem {
	var root map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &root); err != nil {
		return []PolicyProblem{{"SYNTAX_ERROR", "The policy is not a JSON object: " + jsonErr(err)}}
	}
	var out []PolicyProblem
	add := func(check, format string, a ...any) {
		out = append(out, PolicyProblem{check, fmt.Sprintf(format, a...)})
	}
	for k := range root {
		switch k {
		case "Version", "Id", "Statement":
		default:
			add("SYNTAX_ERROR", "Unknown top-level element %q.", k)
		}
	}
	if v, ok := root["Version"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil || (s != "2012-10-17" && s != "2008-10-17") {
			add("INVALID_VERSION", "Version must be \"2012-10-17\" or \"2008-10-17\".")
		}
	}
	raw, ok := root["Statement"]
	if !ok {
		add("MISSING_FIELD", "The policy has no Statement.")
		return out
	}
	var stmts []map[string]json.RawMessage
	if json.Unmarshal(raw, &stmts) != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			add("SYNTAX_ERROR", "Statement must be an object or a list of objects.")
			return out
		}
		stmts = []map[string]json.RawMessage{one}
	}
	if len(stmts) == 0 {
		add("MISSING_FIELD", "The policy has an empty Statement list.")
	}
	for i, st := range stmts {
		where := fmt.Sprintf("Statement %d", i+1)
		for k := range st {
			switch k {
			case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
			default:
				add("SYNTAX_ERROR", "%s has an unknown element %q.", where, k)
			}
		}
		var effect string
		if json.Unmarshal(st["Effect"], &effect) != nil || (effect != "Allow" && effect != "Deny") {
			add("INVALID_EFFECT", "%s: Effect must be \"Allow\" or \"Deny\".", where)
		}
		if !has(st, "Action") && !has(st, "NotAction") {
			add("MISSING_ACTION", "%s has no Action or NotAction.", where)
		}
		if !has(st, "Resource") && !has(st, "NotResource") {
			add("MISSING_RESOURCE", "%s has no Resource or NotResource.", where)
		}
		if resourcePolicy && !has(st, "Principal") && !has(st, "NotPrincipal") {
			add("MISSING_PRINCIPAL", "%s of a resource policy has no Principal or NotPrincipal.", where)
		}
		for _, k := range []string{"Action", "NotAction", "Resource", "NotResource"} {
			if v, ok := st[k]; ok && !stringOrList(v) {
				add("SYNTAX_ERROR", "%s: %s must be a string or a list of strings.", where, k)
			}
		}
		if v, ok := st["Condition"]; ok {
			var c map[string]map[string]json.RawMessage
			if json.Unmarshal(v, &c) != nil {
				add("SYNTAX_ERROR", "%s: Condition must map operators to key/value objects.", where)
			}
		}
	}
	return out
}

// PolicyIsPublic reports whether a resource policy allows anyone: an Allow
// statement whose principal is "*" (or {"AWS": "*"}) without conditions.
func PolicyIsPublic(doc string) bool {
	var root struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &root) != nil {
		return false
	}
	var stmts []map[string]json.RawMessage
	if json.Unmarshal(root.Statement, &stmts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(root.Statement, &one) != nil {
			return false
		}
		stmts = []map[string]json.RawMessage{one}
	}
	for _, st := range stmts {
		var effect string
		json.Unmarshal(st["Effect"], &effect)
		if effect != "Allow" || has(st, "Condition") {
			continue
		}
		if _, ok := st["NotPrincipal"]; ok {
			return true
		}
		p := st["Principal"]
		var s string
		if json.Unmarshal(p, &s) == nil && s == "*" {
			return true
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(p, &m) == nil {
			for _, v := range m {
				var one string
				var many []string
				if json.Unmarshal(v, &one) == nil && one == "*" {
					return true
				}
				if json.Unmarshal(v, &many) == nil {
					for _, x := range many {
						if x == "*" {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

func has(m map[string]json.RawMessage, k string) bool {
	_, ok := m[k]
	return ok
}

func stringOrList(v json.RawMessage) bool {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return true
	}
	var l []string
	return json.Unmarshal(v, &l) == nil
}

func jsonErr(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}
