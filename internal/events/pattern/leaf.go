package pattern

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// leaf is a compiled pattern array: it matches if any of its values does.
type leaf struct {
	strs                       map[string]struct{}  // exact strings
	nums                       map[float64]struct{} // exact numbers
	anyNull, anyTrue, anyFalse bool                 // exact null, true, false
	filters                    []filter             // content filters other than exists
	existsT, existsF           bool                 // {"exists": true}, {"exists": false}
}

// filter is a compiled content filter, tested against one scalar leaf
// value of the event: a string, a float64, a bool or nil.
type filter interface {
	match(v any) bool
}

// match reports whether the event value v (present says whether the key was
// there at all) satisfies l.
func (l *leaf) match(v any, present bool) bool {
	if !present {
		return l.existsF
	}
	matched, sawLeaf := l.walk(v)
	return matched || (sawLeaf && l.existsT) || (!sawLeaf && l.existsF)
}

// walk tests every leaf value in v, flattening arrays; objects are not
// leaves. sawLeaf reports whether v held any leaf value.
func (l *leaf) walk(v any) (matched, sawLeaf bool) {
	switch v := v.(type) {
	case map[string]any:
		return false, false
	case []any:
		for _, e := range v {
			m, s := l.walk(e)
			if m {
				return true, true
			}
			sawLeaf = sawLeaf || s
		}
		return false, sawLeaf
	default:
		return l.scalar(v), true
	}
}

func (l *leaf) scalar(v any) bool {
	switch v := v.(type) {
	case string:
		if _, ok := l.strs[v]; ok {
			return true
		}
	case float64:
		if _, ok := l.nums[v]; ok {
			return true
		}
	case bool:
		if (v && l.anyTrue) || (!v && l.anyFalse) {
			return true
		}
	case nil:
		if l.anyNull {
			return true
		}
	}
	for _, f := range l.filters {
		if f.match(v) {
			return true
		}
	}
	return false
}

// compileLeaf compiles the pattern array arr found at path.
func compileLeaf(path string, arr []any) (*leaf, error) {
	if len(arr) == 0 {
		return nil, syntaxErr(path, "empty arrays are not allowed")
	}
	l := &leaf{}
	for _, v := range arr {
		if err := l.add(path, v); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// add compiles one element of a pattern array into l.
func (l *leaf) add(path string, v any) error {
	switch v := v.(type) {
	case string:
		addString(&l.strs, v)
	case json.Number:
		f, err := parseNumber(path, v)
		if err != nil {
			return err
		}
		addNumber(&l.nums, f)
	case bool:
		if v {
			l.anyTrue = true
		} else {
			l.anyFalse = true
		}
	case nil:
		l.anyNull = true
	case map[string]any:
		return l.addFilter(path, v)
	default:
		return syntaxErr(path, "match values must be strings, numbers, booleans, null or content-filter objects")
	}
	return nil
}

// addFilter compiles a content-filter object, which has exactly one key.
func (l *leaf) addFilter(path string, m map[string]any) error {
	if len(m) != 1 {
		return syntaxErr(path, "a content filter must have exactly one key, found %d", len(m))
	}
	for k, v := range m {
		if k == "exists" {
			b, ok := v.(bool)
			if !ok {
				return syntaxErr(path, `"exists" must be true or false`)
			}
			l.existsT = l.existsT || b
			l.existsF = l.existsF || !b
			return nil
		}
		f, err := compileFilter(path, k, v)
		if err != nil {
			return err
		}
		l.filters = append(l.filters, f)
	}
	return nil
}

func compileFilter(path, key string, v any) (filter, error) {
	switch key {
	case "prefix":
		return compileAffix(path, key, v, strings.HasPrefix, hasPrefixFold)
	case "suffix":
		return compileAffix(path, key, v, strings.HasSuffix, hasSuffixFold)
	case "equals-ignore-case":
		s, ok := v.(string)
		if !ok {
			return nil, syntaxErr(path, `"equals-ignore-case" must be a string`)
		}
		return strFilter{s: s, test: strings.EqualFold}, nil
	case "wildcard":
		s, ok := v.(string)
		if !ok {
			return nil, syntaxErr(path, `"wildcard" must be a string`)
		}
		return compileWildcard(path, s)
	case "anything-but":
		return compileAnythingBut(path, v)
	case "numeric":
		return compileNumeric(path, v)
	case "cidr":
		return compileCIDR(path, v)
	default:
		return nil, syntaxErr(path, "unknown content filter %q", key)
	}
}

// strFilter matches string values for which test(value, s) holds.
type strFilter struct {
	s    string
	test func(value, operand string) bool
}

func (f strFilter) match(v any) bool {
	s, ok := v.(string)
	return ok && f.test(s, f.s)
}

// compileAffix compiles "prefix" or "suffix": a string, or
// {"equals-ignore-case": string}.
func compileAffix(path, key string, v any, exact, fold func(string, string) bool) (filter, error) {
	switch v := v.(type) {
	case string:
		return strFilter{s: v, test: exact}, nil
	case map[string]any:
		s, ok := v["equals-ignore-case"].(string)
		if len(v) != 1 || !ok {
			return nil, syntaxErr(path, `%q object must be {"equals-ignore-case": string}`, key)
		}
		return strFilter{s: s, test: fold}, nil
	default:
		return nil, syntaxErr(path, "%q must be a string", key)
	}
}

// anythingBut matches a leaf value that is none of the excluded strings or
// numbers and matches none of the excluded string filters.
type anythingBut struct {
	strs    map[string]struct{}
	nums    map[float64]struct{}
	filters []filter
}

func (a anythingBut) match(v any) bool {
	switch v := v.(type) {
	case string:
		if _, ok := a.strs[v]; ok {
			return false
		}
	case float64:
		if _, ok := a.nums[v]; ok {
			return false
		}
	}
	for _, f := range a.filters {
		if f.match(v) {
			return false
		}
	}
	return true
}

// compileAnythingBut compiles the operand of "anything-but": a string, a
// number, a non-empty array of only strings or only numbers, or an object
// with one of prefix, suffix, equals-ignore-case or wildcard whose value is
// a string or a non-empty array of strings.
func compileAnythingBut(path string, v any) (filter, error) {
	var a anythingBut
	switch v := v.(type) {
	case string:
		addString(&a.strs, v)
	case json.Number:
		f, err := parseNumber(path, v)
		if err != nil {
			return nil, err
		}
		addNumber(&a.nums, f)
	case []any:
		if err := a.addList(path, v); err != nil {
			return nil, err
		}
	case map[string]any:
		if err := a.addNested(path, v); err != nil {
			return nil, err
		}
	default:
		return nil, syntaxErr(path, `"anything-but" must be a string, a number, an array or an object`)
	}
	return a, nil
}

func (a *anythingBut) addList(path string, arr []any) error {
	if len(arr) == 0 {
		return syntaxErr(path, `"anything-but" array must not be empty`)
	}
	_, strs := arr[0].(string)
	for _, e := range arr {
		switch e := e.(type) {
		case string:
			if !strs {
				return syntaxErr(path, `"anything-but" array must contain only strings or only numbers`)
			}
			addString(&a.strs, e)
		case json.Number:
			if strs {
				return syntaxErr(path, `"anything-but" array must contain only strings or only numbers`)
			}
			f, err := parseNumber(path, e)
			if err != nil {
				return err
			}
			addNumber(&a.nums, f)
		default:
			return syntaxErr(path, `"anything-but" array must contain only strings or only numbers`)
		}
	}
	return nil
}

func (a *anythingBut) addNested(path string, m map[string]any) error {
	if len(m) != 1 {
		return syntaxErr(path, `"anything-but" object must have exactly one of "prefix", "suffix", "equals-ignore-case" or "wildcard"`)
	}
	for k, v := range m {
		switch k {
		case "prefix", "suffix", "equals-ignore-case", "wildcard":
		default:
			return syntaxErr(path, `"anything-but" does not support %q`, k)
		}
		operands, ok := stringList(v)
		if !ok {
			return syntaxErr(path, `"anything-but" %q must be a string or a non-empty array of strings`, k)
		}
		for _, s := range operands {
			f, err := nestedFilter(path, k, s)
			if err != nil {
				return err
			}
			a.filters = append(a.filters, f)
		}
	}
	return nil
}

// stringList accepts a string or a non-empty array of strings.
func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	default:
		return nil, false
	}
}

// nestedFilter compiles one operand of an anything-but object; key has been
// checked by the caller.
func nestedFilter(path, key, s string) (filter, error) {
	switch key {
	case "prefix":
		return strFilter{s: s, test: strings.HasPrefix}, nil
	case "suffix":
		return strFilter{s: s, test: strings.HasSuffix}, nil
	case "equals-ignore-case":
		return strFilter{s: s, test: strings.EqualFold}, nil
	default:
		return compileWildcard(path, s)
	}
}

// numeric matches numbers within an interval; either bound may be absent.
type numeric struct {
	lo, hi         float64
	hasLo, hasHi   bool
	loIncl, hiIncl bool
}

func (n numeric) match(v any) bool {
	f, ok := v.(float64)
	if !ok {
		return false
	}
	if n.hasLo && (f < n.lo || (f == n.lo && !n.loIncl)) {
		return false
	}
	if n.hasHi && (f > n.hi || (f == n.hi && !n.hiIncl)) {
		return false
	}
	return true
}

// compileNumeric compiles the operand of "numeric": one or two
// operator/number pairs giving at most one lower and one upper bound, or a
// single "=" pair.
func compileNumeric(path string, v any) (filter, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 || len(arr)%2 != 0 || len(arr) > 4 {
		return nil, syntaxErr(path, `"numeric" must be an array of one or two operator/number pairs`)
	}
	var n numeric
	for i := 0; i < len(arr); i += 2 {
		op, ok := arr[i].(string)
		if !ok {
			return nil, syntaxErr(path, `"numeric": expected an operator string at position %d`, i)
		}
		num, ok := arr[i+1].(json.Number)
		if !ok {
			return nil, syntaxErr(path, `"numeric": operand of %q must be a number`, op)
		}
		f, err := parseNumber(path, num)
		if err != nil {
			return nil, err
		}
		if err := n.bound(path, op, f, len(arr)); err != nil {
			return nil, err
		}
	}
	if len(arr) == 4 && n.lo >= n.hi {
		return nil, syntaxErr(path, `"numeric": the lower bound must be less than the upper bound`)
	}
	return n, nil
}

// bound applies one operator/number pair to n; total is the length of the
// operand array, used to reject "=" combined with anything else.
func (n *numeric) bound(path, op string, f float64, total int) error {
	switch op {
	case "=":
		if total != 2 {
			return syntaxErr(path, `"numeric": "=" cannot be combined with other operators`)
		}
		n.lo, n.hi, n.hasLo, n.hasHi, n.loIncl, n.hiIncl = f, f, true, true, true, true
		return nil
	case ">", ">=":
		if n.hasLo {
			return syntaxErr(path, `"numeric": more than one lower bound (">" or ">=")`)
		}
		n.lo, n.hasLo, n.loIncl = f, true, op == ">="
		return nil
	case "<", "<=":
		if n.hasHi {
			return syntaxErr(path, `"numeric": more than one upper bound ("<" or "<=")`)
		}
		n.hi, n.hasHi, n.hiIncl = f, true, op == "<="
		return nil
	default:
		return syntaxErr(path, `"numeric": unknown operator %q (want one of =, <, <=, >, >=)`, op)
	}
}

// cidr matches string values that are IP addresses within a prefix.
type cidr struct {
	prefix netip.Prefix
}

func (c cidr) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	addr = addr.WithZone("")
	if c.prefix.Addr().Is4() {
		addr = addr.Unmap()
	}
	return c.prefix.Contains(addr)
}

func compileCIDR(path string, v any) (filter, error) {
	s, ok := v.(string)
	if !ok {
		return nil, syntaxErr(path, `"cidr" must be a string`)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		addr, aerr := netip.ParseAddr(s)
		if aerr != nil || addr.Zone() != "" {
			return nil, syntaxErr(path, `"cidr": %q is not an IP address or CIDR prefix`, s)
		}
		p = netip.PrefixFrom(addr, addr.BitLen())
	}
	return cidr{prefix: p.Masked()}, nil
}

// parseNumber converts a JSON number from a pattern to a float64, rejecting
// numbers too large for one.
func parseNumber(path string, n json.Number) (float64, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, syntaxErr(path, "number %s is out of range", n)
	}
	return f, nil
}

func addString(set *map[string]struct{}, s string) {
	if *set == nil {
		*set = make(map[string]struct{})
	}
	(*set)[s] = struct{}{}
}

func addNumber(set *map[float64]struct{}, f float64) {
	if *set == nil {
		*set = make(map[float64]struct{})
	}
	(*set)[f] = struct{}{}
}
