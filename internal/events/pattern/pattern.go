// Package pattern compiles Amazon EventBridge event patterns and matches
// events against them.
//
// A pattern is a JSON object that mirrors the structure of the events it
// selects. Every field named in the pattern must match (AND); a field's
// value is either a nested pattern object, which descends into the event,
// or a non-empty array of match values, any one of which may match (OR).
// Match values are strings, numbers, booleans, null, and content filters:
// prefix, suffix, equals-ignore-case, anything-but, numeric, exists, cidr
// and wildcard. "$or" at any object level takes two or more pattern objects
// and matches if any of them does.
//
// Compile validates a pattern and reports every problem as a *SyntaxError
// naming the path of the offending field. A compiled *Pattern is immutable
// and safe for concurrent use. To test one event against many patterns,
// Decode it once and call Match for each pattern; matching does not
// allocate.
//
// # Semantics in detail
//
// Leaf values. A pattern array is compared with the event field's leaf
// values: a scalar (string, number, boolean or null) is one leaf value; an
// array contributes each of its elements, nested arrays flattened; objects
// are not leaves. A pattern array therefore matches an event array when any
// element matches (EventBridge: a non-empty intersection).
//
// Missing fields. Only "exists": false matches a missing field (or one with
// no leaf value, such as an object or an empty array: AWS documents that
// exists only works on leaf nodes). null is a present value: [null] and
// "exists": true match a field whose value is null; anything-but matches it
// too.
//
// Nested objects and arrays. A nested pattern object is matched against the
// event's object at that key. If the event holds an array there, the nested
// pattern must match at least one object element as a whole, so all the
// fields it names come from the same element. If the event holds no object
// there (missing, scalar, or an array without objects) the nested pattern is
// matched against an empty object, so only fields that accept absence (such
// as "exists": false) can match. As a consequence "exists": false under an
// array of objects matches if any element lacks the field; EventBridge, which
// flattens events to paths, may instead require that no element has it.
//
// Numbers. JSON numbers in patterns and events are parsed with
// strconv.ParseFloat into IEEE-754 doubles, and both exact values and
// "numeric" filters compare those doubles: 300, 300.0 and 3e2 are equal.
// (The EventBridge user guide describes exact number matching as textual,
// with 300 and 300.0 unequal; this package deliberately compares numbers
// numerically.)
// Decimals with at most 15 significant digits convert to distinct doubles,
// and doubles resolve better than 1e-6 below 8.5e9, so comparisons are exact
// across the range AWS documents for numeric matching (-5e9 to 5e9, six
// decimal places). Outside that range this package still compares doubles
// rather than rejecting the pattern; AWS truncates beyond the sixth decimal
// place, so values that differ only there may be equal in AWS and unequal
// here. A string such as "5" never matches a number, and a number never
// matches a string.
//
// Strings. Exact matches compare bytes. equals-ignore-case and the
// ignore-case forms of prefix and suffix use Unicode simple case folding
// (as strings.EqualFold does).
//
// anything-but. It matches a present leaf value that the inner condition
// does not match: {"anything-but": "x"} matches any value other than the
// string "x", including numbers, booleans and null; {"anything-but":
// {"prefix": "init"}} matches any value that is not a string starting with
// "init". It never matches a missing field. With an event array it matches
// if any element is not excluded.
//
// cidr. The operand is an IPv4 or IPv6 prefix ("10.0.0.0/24", "2001:db8::/32")
// or a bare address (a single host); host bits are ignored. Only string
// event values that parse as IP addresses of the same family match;
// IPv4-mapped IPv6 addresses match IPv4 prefixes.
//
// wildcard. "*" matches any run of characters, including none; "\*" is a
// literal star and "\\" a literal backslash. Any other backslash escape, a
// trailing backslash and two consecutive unescaped stars are syntax errors.
// Matching takes time proportional to at most the value's length times the
// pattern's, never exponential.
//
// Validation. Compile rejects a pattern that is not a JSON
// object; empty objects (including the pattern "{}") and empty arrays; a
// field whose value is neither an object nor an array; unknown content
// filters and filter objects with more than one key; operands of the wrong
// type; anything-but lists that mix strings and numbers; numeric filters with
// an unknown operator, "=" combined with another operator, two lower or two
// upper bounds, or a lower bound not below the upper; unparsable cidr
// operands; and "$or" with fewer than two alternatives or a non-object
// alternative. Numbers too large for a double are rejected. A key repeated in
// one object keeps its last value, as EventBridge documents. Beyond the
// documented forms, anything-but's prefix, suffix, equals-ignore-case and
// wildcard each accept a string or an array of strings.
//
// Limits. The package enforces no size limit; callers enforce
// EventBridge's (a rule's pattern is at most 2048 characters by default,
// raisable by quota to the 4096 that PutRule accepts). Matching time is bounded by the product of pattern size and
// event size, and JSON nesting depth is bounded by encoding/json.
//
// Not implemented: EventBridge treats a pattern key containing dots, such as
// "detail.state", as equivalent to the nested path; here it names a single
// field called "detail.state".
package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// SyntaxError reports an invalid event pattern. The caller maps it to
// EventBridge's InvalidEventPatternException.
type SyntaxError struct {
	// Path is the dotted path of the offending field, such as
	// "detail.state" or "detail.$or[1].state"; it is empty when the problem
	// is the pattern as a whole.
	Path string
	// Msg describes the problem.
	Msg string
}

// Error returns the path and the message, e.g.
// `detail.state: "prefix" must be a string`.
func (e *SyntaxError) Error() string {
	where := e.Path
	if where == "" {
		where = "event pattern"
	}
	return where + ": " + e.Msg
}

func syntaxErr(path, format string, args ...any) *SyntaxError {
	return &SyntaxError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Pattern is a compiled event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	root *object
}

// object is a compiled pattern object: every field and every "$or" group
// must match.
type object struct {
	fields []field    // sorted by key
	ors    [][]object // each group matches if any alternative does
}

// field is one key of a pattern object: either a nested object or a leaf.
type field struct {
	key    string
	nested *object
	leaf   *leaf
}

// Compile parses and validates an EventBridge event pattern. Every error it
// returns is a *SyntaxError.
func Compile(pattern string) (*Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(pattern))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxErr("", "not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, syntaxErr("", "not valid JSON: unexpected data after the top-level object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, syntaxErr("", "must be a JSON object")
	}
	root, err := compileObject("", m)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

// compileObject compiles the pattern object m found at path. Keys are
// visited in sorted order so that the error reported for a pattern with
// several problems is deterministic.
func compileObject(path string, m map[string]any) (*object, error) {
	if len(m) == 0 {
		return nil, syntaxErr(path, "empty objects are not allowed")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := &object{}
	for _, k := range keys {
		p := join(path, k)
		if k == "$or" {
			alts, err := compileOr(p, m[k])
			if err != nil {
				return nil, err
			}
			o.ors = append(o.ors, alts)
			continue
		}
		f, err := compileField(p, k, m[k])
		if err != nil {
			return nil, err
		}
		o.fields = append(o.fields, f)
	}
	return o, nil
}

func compileField(path, key string, v any) (field, error) {
	switch v := v.(type) {
	case map[string]any:
		nested, err := compileObject(path, v)
		return field{key: key, nested: nested}, err
	case []any:
		l, err := compileLeaf(path, v)
		return field{key: key, leaf: l}, err
	default:
		return field{}, syntaxErr(path, "must be an object or an array")
	}
}

// compileOr compiles the value of a "$or" key: an array of at least two
// non-empty pattern objects.
func compileOr(path string, v any) ([]object, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return nil, syntaxErr(path, "must be an array of at least 2 pattern objects")
	}
	alts := make([]object, 0, len(arr))
	for i, a := range arr {
		p := path + "[" + strconv.Itoa(i) + "]"
		m, ok := a.(map[string]any)
		if !ok {
			return nil, syntaxErr(p, "must be a pattern object")
		}
		o, err := compileObject(p, m)
		if err != nil {
			return nil, err
		}
		alts = append(alts, *o)
	}
	return alts, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Matches reports whether the JSON event matches the pattern. It returns an
// error only if event is not a JSON object. To match one event against
// several patterns, Decode it once and use Match.
func (p *Pattern) Matches(event []byte) (bool, error) {
	e, err := Decode(event)
	if err != nil {
		return false, err
	}
	return p.Match(e), nil
}

// Match reports whether the decoded event matches the pattern. A nil
// Pattern matches nothing.
func (p *Pattern) Match(e Event) bool {
	if p == nil || p.root == nil {
		return false
	}
	return p.root.match(e.fields)
}

// match reports whether the event object m (nil for none) satisfies o.
func (o *object) match(m map[string]any) bool {
	for i := range o.fields {
		f := &o.fields[i]
		v, present := m[f.key]
		if f.nested != nil {
			if !f.nested.matchValue(v) {
				return false
			}
			continue
		}
		if !f.leaf.match(v, present) {
			return false
		}
	}
	for _, alts := range o.ors {
		if !anyAlternative(alts, m) {
			return false
		}
	}
	return true
}

func anyAlternative(alts []object, m map[string]any) bool {
	for i := range alts {
		if alts[i].match(m) {
			return true
		}
	}
	return false
}

// matchValue matches o against the event value v found at o's key: an
// object, an array whose object elements are tried one by one, or anything
// else, which is treated as an empty object.
func (o *object) matchValue(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return o.match(v)
	case []any:
		matched, sawObject := o.matchArray(v)
		if sawObject {
			return matched
		}
	}
	return o.match(nil)
}

// matchArray tries o against each object in arr, flattening nested arrays.
// sawObject reports whether arr held any object at all.
func (o *object) matchArray(arr []any) (matched, sawObject bool) {
	for _, e := range arr {
		switch e := e.(type) {
		case map[string]any:
			sawObject = true
			if o.match(e) {
				return true, true
			}
		case []any:
			m, s := o.matchArray(e)
			sawObject = sawObject || s
			if m {
				return true, true
			}
		}
	}
	return false, sawObject
}
