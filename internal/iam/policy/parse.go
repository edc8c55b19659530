package policy

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// statement is a compiled policy statement.
type statement struct {
	sid          string
	deny         bool
	notAction    bool
	actions      []glob
	hasResource  bool // false only in trust policies without Resource/NotResource
	notResource  bool
	resources    []glob
	principal    *principalSet // nil: no Principal element (identity policies)
	notPrincipal bool
	conds        []condition
}

// applies reports whether the statement applies to the request.
func (st *statement) applies(ec *evalCtx) bool {
	r := ec.r
	matched := false
	for i := range st.actions {
		if st.actions[i].match(ec, r.Action) {
			matched = true
			break
		}
	}
	if matched == st.notAction {
		return false
	}
	if st.hasResource {
		matched = false
		for i := range st.resources {
			if st.resources[i].match(ec, r.Resource) {
				matched = true
				break
			}
		}
		if matched == st.notResource {
			return false
		}
	}
	if st.principal != nil && st.principal.matches(&r.Caller) == st.notPrincipal {
		return false
	}
	for i := range st.conds {
		if !st.conds[i].eval(ec) {
			return false
		}
	}
	return true
}

// parser collects problems while compiling a document.
type parser struct {
	kind     Kind
	vars     bool // Version 2012-10-17: policy variables are substituted
	problems []Problem
}

func (p *parser) add(check, format string, a ...any) {
	p.problems = append(p.problems, Problem{Check: check, Message: fmt.Sprintf(format, a...)})
}

func (p *parser) parse(doc string) *Policy {
	if p.kind != Identity && p.kind != Resource && p.kind != Trust {
		p.add(checkSyntax, "Unknown policy kind %d.", int(p.kind))
		return nil
	}
	if len(doc) > maxDocSize {
		p.add(checkSyntax, "The policy document is %d bytes long; the limit is %d.", len(doc), maxDocSize)
		return nil
	}
	v, err := decodeJSON(doc)
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			p.add(checkSyntax, "The policy is not valid JSON: %s (at byte %d).", err, se.Offset)
		} else {
			p.add(checkSyntax, "The policy is not valid JSON: %s.", err)
		}
		return nil
	}
	root, ok := v.(*jsonObject)
	if !ok {
		p.add(checkSyntax, "The policy must be a JSON object.")
		return nil
	}
	pol := &Policy{version: "2008-10-17"}
	for _, k := range root.keys {
		switch k {
		case "Version", "Id", "Statement":
		default:
			p.add(checkSyntax, "Unknown top-level element %q.", k)
		}
	}
	if v, ok := root.vals["Version"]; ok {
		s, _ := v.(string)
		if s != "2012-10-17" && s != "2008-10-17" {
			p.add(checkVersion, "Version must be \"2012-10-17\" or \"2008-10-17\".")
		}
		pol.version = s
	}
	p.vars = pol.version == "2012-10-17"
	if v, ok := root.vals["Id"]; ok {
		s, ok := v.(string)
		if !ok {
			p.add(checkSyntax, "Id must be a string.")
		}
		pol.id = s
	}
	raw, ok := root.vals["Statement"]
	if !ok {
		p.add(checkMissing, "The policy has no Statement.")
		return pol
	}
	var list []any
	switch s := raw.(type) {
	case []any:
		list = s
	case *jsonObject:
		list = []any{s}
	default:
		p.add(checkSyntax, "Statement must be an object or an array of objects.")
		return pol
	}
	if len(list) == 0 {
		p.add(checkMissing, "The policy has an empty Statement array.")
	}
	for i, sv := range list {
		o, ok := sv.(*jsonObject)
		if !ok {
			p.add(checkSyntax, "Statement %d must be an object.", i+1)
			continue
		}
		pol.stmts = append(pol.stmts, p.statement(i, o))
	}
	return pol
}

func (p *parser) statement(i int, o *jsonObject) statement {
	var st statement
	where := "Statement " + strconv.Itoa(i+1)
	if v, ok := o.vals["Sid"]; ok {
		s, ok := v.(string)
		if !ok {
			p.add(checkSyntax, "%s: Sid must be a string.", where)
		} else {
			st.sid = s
			where += fmt.Sprintf(" (Sid %q)", s)
		}
	}
	for _, k := range o.keys {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			p.add(checkSyntax, "%s has an unknown element %q.", where, k)
		}
	}

	// Effect
	if v, ok := o.vals["Effect"]; !ok {
		p.add(checkMissing, "%s has no Effect.", where)
	} else {
		switch v {
		case "Allow":
		case "Deny":
			st.deny = true
		default:
			p.add(checkEffect, "%s: Effect must be \"Allow\" or \"Deny\".", where)
		}
	}

	// Principal / NotPrincipal
	pv, hasP := o.vals["Principal"]
	npv, hasNP := o.vals["NotPrincipal"]
	switch {
	case p.kind == Identity && (hasP || hasNP):
		p.add(checkPrincipal, "%s: an identity policy must not have a Principal or NotPrincipal element.", where)
	case hasP && hasNP:
		p.add(checkSyntax, "%s has both Principal and NotPrincipal.", where)
	case p.kind != Identity && !hasP && !hasNP:
		p.add(checkMissing, "%s of a %s policy has no Principal or NotPrincipal.", where, p.kind)
	case hasP:
		st.principal = p.compilePrincipal(where, "Principal", pv)
	case hasNP:
		st.principal = p.compilePrincipal(where, "NotPrincipal", npv)
		st.notPrincipal = true
	}

	// Action / NotAction
	av, hasA := o.vals["Action"]
	nav, hasNA := o.vals["NotAction"]
	switch {
	case hasA && hasNA:
		p.add(checkSyntax, "%s has both Action and NotAction.", where)
	case !hasA && !hasNA:
		p.add(checkMissing, "%s has no Action or NotAction.", where)
	case hasNA && p.kind == Trust:
		p.add(checkAction, "%s: a trust policy must name its sts: actions with Action, not NotAction.", where)
	default:
		elem := "Action"
		if hasNA {
			elem, av, st.notAction = "NotAction", nav, true
		}
		st.actions = p.actions(where, elem, av)
	}

	// Resource / NotResource
	rv, hasR := o.vals["Resource"]
	nrv, hasNR := o.vals["NotResource"]
	switch {
	case hasR && hasNR:
		p.add(checkSyntax, "%s has both Resource and NotResource.", where)
	case !hasR && !hasNR:
		if p.kind != Trust {
			p.add(checkMissing, "%s has no Resource or NotResource.", where)
		}
	default:
		elem := "Resource"
		if hasNR {
			elem, rv, st.notResource = "NotResource", nrv, true
		}
		st.hasResource = true
		st.resources = p.resources(where, elem, rv)
	}

	if cv, ok := o.vals["Condition"]; ok {
		st.conds = p.conditions(where, cv)
	}
	return st
}

// nonEmptyList returns an element's strings, or nil after recording why
// it is not a non-empty string or array of strings.
func (p *parser) nonEmptyList(where, elem string, v any) []string {
	vals, ok := stringList(v)
	if !ok {
		p.add(checkSyntax, "%s: %s must be a string or an array of strings.", where, elem)
		return nil
	}
	if len(vals) == 0 {
		p.add(checkMissing, "%s: %s is an empty array.", where, elem)
		return nil
	}
	return vals
}

func (p *parser) actions(where, elem string, v any) []glob {
	vals := p.nonEmptyList(where, elem, v)
	if vals == nil {
		return nil
	}
	out := make([]glob, 0, len(vals))
	for _, a := range vals {
		if !validAction(a) {
			p.add(checkAction, "%s: %s %q is not \"*\" or of the form \"service:Operation\".", where, elem, a)
			continue
		}
		if p.kind == Trust && !strings.HasPrefix(strings.ToLower(a), "sts:") {
			p.add(checkAction, "%s: a trust policy may only allow sts: actions such as sts:AssumeRole, not %q.", where, a)
			continue
		}
		out = append(out, compileGlob(a, false, true, true))
	}
	return out
}

// validAction checks "*" or "service:Operation", where the service prefix is
// [a-z0-9-]+ (any case) and the operation is letters, digits and the
// wildcards * and ?.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	svc, op, ok := strings.Cut(a, ":")
	if !ok || svc == "" || op == "" {
		return false
	}
	for i := 0; i < len(svc); i++ {
		c := svc[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	for i := 0; i < len(op); i++ {
		c := op[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '*' || c == '?' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (p *parser) resources(where, elem string, v any) []glob {
	vals := p.nonEmptyList(where, elem, v)
	if vals == nil {
		return nil
	}
	out := make([]glob, 0, len(vals))
	for _, r := range vals {
		if r != "*" && (!strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < 5) {
			p.add(checkResource, "%s: %s %q is not \"*\" or an ARN (arn:partition:service:region:account:resource).", where, elem, r)
			continue
		}
		out = append(out, compileGlob(r, p.vars, true, false))
	}
	return out
}

// conditions compiles a Condition block. Operators are compiled in
// alphabetical order, then keys, so that problems come out in a stable
// order.
func (p *parser) conditions(where string, v any) []condition {
	o, ok := v.(*jsonObject)
	if !ok {
		p.add(checkCondition, "%s: Condition must be an object mapping operators to {key: values}.", where)
		return nil
	}
	ops := append([]string(nil), o.keys...)
	sort.Strings(ops)
	var out []condition
	for _, opName := range ops {
		info, set, ifExists, ok := parseOperator(opName)
		if !ok {
			p.add(checkCondition, "%s: unknown condition operator %q.", where, opName)
			continue
		}
		block, ok := o.vals[opName].(*jsonObject)
		if !ok || len(block.keys) == 0 {
			p.add(checkCondition, "%s: condition operator %q must map at least one condition key to its values.", where, opName)
			continue
		}
		keys := append([]string(nil), block.keys...)
		sort.Strings(keys)
		seen := make(map[string]bool, len(keys))
		for _, key := range keys {
			lk := Key(key)
			if !validConditionKey(key) {
				p.add(checkCondition, "%s: %q is not a condition key (keys look like \"aws:SourceIp\" or \"kms:ViaService\").", where, key)
				continue
			}
			if seen[lk] {
				p.add(checkCondition, "%s: condition key %q appears twice under %q.", where, key, opName)
				continue
			}
			seen[lk] = true
			vals, ok := conditionValues(block.vals[key])
			if !ok {
				p.add(checkCondition, "%s: the values of %q under %q must be a string, number or boolean, or a non-empty array of them.", where, key, opName)
				continue
			}
			c := condition{opInfo: info, set: set, ifExists: ifExists, key: lk}
			if p.compileValues(where, opName, key, &c, vals) {
				out = append(out, c)
			}
		}
	}
	return out
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
// Operator names are matched case-insensitively.
func parseOperator(name string) (info opInfo, set setMode, ifExists, ok bool) {
	n := strings.ToLower(name)
	if rest, found := strings.CutPrefix(n, "foranyvalue:"); found {
		n, set = rest, setAny
	} else if rest, found := strings.CutPrefix(n, "forallvalues:"); found {
		n, set = rest, setAll
	}
	if info, ok = operators[n]; ok {
		return info, set, false, true
	}
	if base, found := strings.CutSuffix(n, "ifexists"); found {
		if info, ok = operators[base]; ok && info.fam != famNull {
			return info, set, true, true
		}
	}
	return opInfo{}, 0, false, false
}

// validConditionKey accepts "prefix:name..." keys without control
// characters.
func validConditionKey(k string) bool {
	i := strings.IndexByte(k, ':')
	if i <= 0 || i == len(k)-1 {
		return false
	}
	for j := 0; j < len(k); j++ {
		if k[j] < ' ' || k[j] == 0x7f {
			return false
		}
	}
	return true
}

// conditionValues flattens a condition value: a string, number or boolean,
// or a non-empty array of them, to strings.
func conditionValues(v any) ([]string, bool) {
	one := func(v any) (string, bool) {
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case bool:
			return strconv.FormatBool(x), true
		}
		return "", false
	}
	if arr, ok := v.([]any); ok {
		if len(arr) == 0 {
			return nil, false
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := one(e)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	s, ok := one(v)
	if !ok {
		return nil, false
	}
	return []string{s}, true
}

// compileValues parses the policy values of one condition according to its
// operator family. Literals are checked here, so that a bad number, date,
// address or base64 string is a Parse error rather than a silent mismatch.
func (p *parser) compileValues(where, opName, key string, c *condition, vals []string) bool {
	ok := true
	bad := func(s, what string) {
		p.add(checkCondition, "%s: %q under %q for key %q is not %s.", where, s, opName, key, what)
		ok = false
	}
	for _, s := range vals {
		switch c.fam {
		case famString, famStringFold:
			c.strs = append(c.strs, compileGlob(s, p.vars, false, false))
		case famStringLike:
			c.strs = append(c.strs, compileGlob(s, p.vars, true, false))
		case famArn:
			c.arns = append(c.arns, compileArn(s, p.vars))
		case famBool:
			g := compileGlob(s, p.vars, false, false)
			if g.mode == gExact {
				if !strings.EqualFold(g.lit, "true") && !strings.EqualFold(g.lit, "false") {
					bad(s, "a boolean (\"true\" or \"false\")")
					continue
				}
				g.lit = strings.ToLower(g.lit)
			}
			c.strs = append(c.strs, g)
		case famNull:
			switch strings.ToLower(s) {
			case "true":
				c.nulls = append(c.nulls, true)
			case "false":
				c.nulls = append(c.nulls, false)
			default:
				bad(s, "a boolean (\"true\" or \"false\")")
			}
		case famNumeric:
			f, good := parseNumber(s)
			if !good {
				bad(s, "a number")
				continue
			}
			c.nums = append(c.nums, f)
		case famDate:
			d, good := parseDate(s)
			if !good {
				bad(s, "a date (ISO 8601, e.g. \"2026-01-31T12:00:00Z\", or epoch seconds)")
				continue
			}
			c.dates = append(c.dates, d)
		case famIP:
			pr, good := parseCIDR(s)
			if !good {
				bad(s, "an IP address or CIDR block")
				continue
			}
			c.ips = append(c.ips, pr)
		case famBinary:
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				bad(s, "base64")
				continue
			}
			c.bins = append(c.bins, b)
			c.b64 = append(c.b64, base64.StdEncoding.EncodeToString(b))
		}
	}
	return ok
}

// stringList accepts a string or an array of strings.
func stringList(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// jsonObject is a decoded JSON object that remembers its key order.
type jsonObject struct {
	keys []string
	vals map[string]any
}

// maxDepth bounds JSON nesting; a valid policy nests six levels deep at most.
const maxDepth = 32

// decodeJSON decodes doc into *jsonObject, []any, string, json.Number, bool
// and nil values, refusing duplicate object keys (which encoding/json would
// silently resolve to the last one — dangerous for "Effect") and trailing
// data.
func decodeJSON(doc string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the top-level value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	t, err := nextToken(dec)
	if err != nil {
		return nil, err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return t, nil
	}
	switch d {
	case '{':
		o := &jsonObject{vals: map[string]any{}}
		for dec.More() {
			kt, err := nextToken(dec)
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			if _, dup := o.vals[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k)
			o.vals[k] = v
		}
		if _, err := nextToken(dec); err != nil {
			return nil, err
		}
		return o, nil
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := nextToken(dec); err != nil {
			return nil, err
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unexpected %q", string(d))
}

func nextToken(dec *json.Decoder) (json.Token, error) {
	t, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("unexpected end of input")
	}
	return t, err
}
