package policy

import (
	"bytes"
	"encoding/base64"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// family is the kind of comparison an operator performs.
type family uint8

const (
	famString     family = iota // StringEquals, StringNotEquals
	famStringFold               // StringEqualsIgnoreCase, StringNotEqualsIgnoreCase
	famStringLike               // StringLike, StringNotLike
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn // ArnEquals, ArnLike and their negations: identical in AWS
	famNull
)

// cmp is the ordering test of the Numeric and Date families, request value
// on the left, policy value on the right.
type cmp uint8

const (
	cmpEq cmp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type opInfo struct {
	fam     family
	cmp     cmp
	negated bool
}

// operators maps a lower-cased base operator name (no set prefix, no
// IfExists suffix) to what it does.
var operators = map[string]opInfo{
	"stringequals":              {fam: famString},
	"stringnotequals":           {fam: famString, negated: true},
	"stringequalsignorecase":    {fam: famStringFold},
	"stringnotequalsignorecase": {fam: famStringFold, negated: true},
	"stringlike":                {fam: famStringLike},
	"stringnotlike":             {fam: famStringLike, negated: true},
	"numericequals":             {fam: famNumeric, cmp: cmpEq},
	"numericnotequals":          {fam: famNumeric, cmp: cmpEq, negated: true},
	"numericlessthan":           {fam: famNumeric, cmp: cmpLt},
	"numericlessthanequals":     {fam: famNumeric, cmp: cmpLe},
	"numericgreaterthan":        {fam: famNumeric, cmp: cmpGt},
	"numericgreaterthanequals":  {fam: famNumeric, cmp: cmpGe},
	"dateequals":                {fam: famDate, cmp: cmpEq},
	"datenotequals":             {fam: famDate, cmp: cmpEq, negated: true},
	"datelessthan":              {fam: famDate, cmp: cmpLt},
	"datelessthanequals":        {fam: famDate, cmp: cmpLe},
	"dategreaterthan":           {fam: famDate, cmp: cmpGt},
	"dategreaterthanequals":     {fam: famDate, cmp: cmpGe},
	"bool":                      {fam: famBool},
	"binaryequals":              {fam: famBinary},
	"ipaddress":                 {fam: famIP},
	"notipaddress":              {fam: famIP, negated: true},
	"arnequals":                 {fam: famArn},
	"arnlike":                   {fam: famArn},
	"arnnotequals":              {fam: famArn, negated: true},
	"arnnotlike":                {fam: famArn, negated: true},
	"null":                      {fam: famNull},
}

type setMode uint8

const (
	setNone setMode = iota
	setAny          // ForAnyValue:
	setAll          // ForAllValues:
)

// condition is one (operator, key) pair of a Condition block with its
// compiled policy values.
type condition struct {
	opInfo
	set      setMode
	ifExists bool
	key      string // lower-cased

	strs  []glob         // String*, Bool, and Arn patterns that are not 6-part ARNs
	arns  []arnPattern   // Arn family
	nums  []float64      // Numeric
	dates []dateVal      // Date
	bins  [][]byte       // BinaryEquals
	b64   []string       // BinaryEquals, canonical base64 of bins
	ips   []netip.Prefix // IpAddress
	nulls []bool         // Null: true = key must be absent
}

// arnPattern is an ArnLike value: the six colon-separated parts of an ARN,
// each a pattern of its own; or, when the value has fewer than six parts
// (e.g. "*"), one pattern over the whole string.
type arnPattern struct {
	whole *glob
	parts [6]glob
}

// eval decides the condition for the request.
func (c *condition) eval(ec *evalCtx) bool {
	vals, present := ec.lookup(c.key)
	if c.fam == famNull {
		for _, wantAbsent := range c.nulls {
			if wantAbsent != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == setAll:
			return true
		case c.set == setAny:
			return false
		}
		return c.negated
	}
	set := c.set
	if set == setNone {
		// A key with several values, used without a set operator: positive
		// operators need some value to match, negated ones need every value
		// to match none of the policy values.
		if c.negated {
			set = setAll
		} else {
			set = setAny
		}
	}
	if set == setAny {
		for _, v := range vals {
			if c.valueMatches(ec, v) {
				return true
			}
		}
		return false
	}
	for _, v := range vals {
		if !c.valueMatches(ec, v) {
			return false
		}
	}
	return true
}

// valueMatches applies the operator to one request value: for a positive
// operator, does it match some policy value; for a negated one, does it
// match none.
func (c *condition) valueMatches(ec *evalCtx, v string) bool {
	return c.anyPolicyValue(ec, v) != c.negated
}

// anyPolicyValue reports whether the request value v matches at least one of
// the policy values, under the non-negated form of the operator. Policy
// values whose variables cannot be resolved match nothing.
func (c *condition) anyPolicyValue(ec *evalCtx, v string) bool {
	switch c.fam {
	case famString, famStringLike:
		for i := range c.strs {
			if c.strs[i].match(ec, v) {
				return true
			}
		}
	case famStringFold:
		for i := range c.strs {
			if s, ok := c.strs[i].resolved(ec); ok && strings.EqualFold(s, v) {
				return true
			}
		}
	case famBool:
		for i := range c.strs {
			if s, ok := c.strs[i].resolved(ec); ok && strings.EqualFold(s, v) {
				return true
			}
		}
	case famArn:
		for i := range c.arns {
			if c.arns[i].match(ec, v) {
				return true
			}
		}
	case famNumeric:
		x, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, n := range c.nums {
			if compareFloat(c.cmp, x, n) {
				return true
			}
		}
	case famDate:
		d, ok := parseDate(v)
		if !ok {
			return false
		}
		for _, p := range c.dates {
			if compareInt(c.cmp, d.cmp(p)) {
				return true
			}
		}
	case famIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.WithZone("").Unmap()
		for _, p := range c.ips {
			if p.Contains(a) {
				return true
			}
		}
	case famBinary:
		for _, s := range c.b64 {
			if s == v {
				return true
			}
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return false
		}
		for _, p := range c.bins {
			if bytes.Equal(p, b) {
				return true
			}
		}
	}
	return false
}

func compareFloat(op cmp, x, n float64) bool {
	switch op {
	case cmpEq:
		return x == n
	case cmpLt:
		return x < n
	case cmpLe:
		return x <= n
	case cmpGt:
		return x > n
	case cmpGe:
		return x >= n
	}
	return false
}

// compareInt applies op to the result c of comparing the request value with
// the policy value (-1, 0, +1).
func compareInt(op cmp, c int) bool {
	switch op {
	case cmpEq:
		return c == 0
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	case cmpGe:
		return c >= 0
	}
	return false
}

func (a *arnPattern) match(ec *evalCtx, s string) bool {
	if a.whole != nil {
		return a.whole.match(ec, s)
	}
	// Split s into its six parts without allocating; the sixth (resource)
	// part keeps any further colons.
	rest := s
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(rest, ':')
		if j < 0 || !a.parts[i].match(ec, rest[:j]) {
			return false
		}
		rest = rest[j+1:]
	}
	return a.parts[5].match(ec, rest)
}

// compileArn compiles an ArnLike/ArnEquals policy value.
func compileArn(s string, vars bool) arnPattern {
	g := compileGlob(s, vars, true, false)
	toks := g.toks
	if g.mode != gVars && g.mode != gToks {
		// compileGlob reduced the pattern to a fast form; rebuild the tokens.
		toks = rawToks(g)
	}
	var parts [6][]tok
	n := 0
	for _, t := range toks {
		if t.kind != tLit || n == 5 {
			parts[n] = append(parts[n], t)
			continue
		}
		lit := t.s
		for n < 5 {
			j := strings.IndexByte(lit, ':')
			if j < 0 {
				break
			}
			if j > 0 {
				parts[n] = append(parts[n], tok{kind: tLit, s: lit[:j]})
			}
			n++
			lit = lit[j+1:]
		}
		if lit != "" {
			parts[n] = append(parts[n], tok{kind: tLit, s: lit})
		}
	}
	if n < 5 {
		return arnPattern{whole: &g}
	}
	var a arnPattern
	for i := range parts {
		a.parts[i] = newGlob(parts[i], false)
	}
	return a
}

// rawToks returns the token form of a glob reduced to a fast mode.
func rawToks(g glob) []tok {
	switch g.mode {
	case gExact:
		if g.lit == "" {
			return nil
		}
		return []tok{{kind: tLit, s: g.lit}}
	case gAny:
		return []tok{{kind: tStar}}
	case gPrefix:
		return []tok{{kind: tLit, s: g.lit}, {kind: tStar}}
	case gSuffix:
		return []tok{{kind: tStar}, {kind: tLit, s: g.lit}}
	}
	return g.toks
}

// parseNumber parses a decimal number: optional sign, digits, optional
// fraction and exponent. Hexadecimal, Inf, NaN and underscores are refused.
func parseNumber(s string) (float64, bool) {
	if !isDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	digits := i - start
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		digits += i - fs
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		es := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == es {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// dateVal is an instant: seconds since the Unix epoch and nanoseconds.
type dateVal struct {
	sec  int64
	nsec int32
}

func (d dateVal) cmp(o dateVal) int {
	switch {
	case d.sec < o.sec:
		return -1
	case d.sec > o.sec:
		return 1
	case d.nsec < o.nsec:
		return -1
	case d.nsec > o.nsec:
		return 1
	}
	return 0
}

// parseDate accepts epoch seconds ("1700000000", optionally with a decimal
// fraction) and the W3C profile of ISO 8601: YYYY-MM, YYYY-MM-DD,
// YYYY-MM-DDThh:mm[:ss[.fff...]][TZD] where TZD is Z, ±hh:mm or ±hhmm
// (a missing TZD means UTC). A string of digits only is always epoch
// seconds, so the bare-year form YYYY is not supported.
func parseDate(s string) (dateVal, bool) {
	if s == "" {
		return dateVal{}, false
	}
	if isEpoch(s) {
		return parseEpoch(s)
	}
	num := func(i, n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for k := i; k < i+n; k++ {
			if !isDigit(s[k]) {
				return 0, false
			}
			v = v*10 + int(s[k]-'0')
		}
		return v, true
	}
	year, ok := num(0, 4)
	if !ok || len(s) < 7 || s[4] != '-' {
		return dateVal{}, false
	}
	month, ok := num(5, 2)
	if !ok || month < 1 || month > 12 {
		return dateVal{}, false
	}
	day, hour, min, sec, nsec, offset := 1, 0, 0, 0, 0, 0
	i := 7
	if i < len(s) {
		if s[i] != '-' {
			return dateVal{}, false
		}
		if day, ok = num(8, 2); !ok || day < 1 || day > daysIn(year, month) {
			return dateVal{}, false
		}
		i = 10
	}
	if i < len(s) {
		if i != 10 || (s[i] != 'T' && s[i] != 't') {
			return dateVal{}, false
		}
		if hour, ok = num(11, 2); !ok || hour > 23 || len(s) < 16 || s[13] != ':' {
			return dateVal{}, false
		}
		if min, ok = num(14, 2); !ok || min > 59 {
			return dateVal{}, false
		}
		i = 16
		if i < len(s) && s[i] == ':' {
			if sec, ok = num(17, 2); !ok || sec > 60 {
				return dateVal{}, false
			}
			i = 19
			if i < len(s) && s[i] == '.' {
				i++
				start := i
				scale := 100000000
				for i < len(s) && isDigit(s[i]) {
					nsec += int(s[i]-'0') * scale
					scale /= 10
					i++
				}
				if i == start {
					return dateVal{}, false
				}
			}
		}
		if i < len(s) {
			switch s[i] {
			case 'Z', 'z':
				i++
			case '+', '-':
				sign := 1
				if s[i] == '-' {
					sign = -1
				}
				oh, ok := num(i+1, 2)
				if !ok || oh > 23 {
					return dateVal{}, false
				}
				i += 3
				om := 0
				if i < len(s) && s[i] == ':' {
					i++
				}
				if i < len(s) {
					if om, ok = num(i, 2); !ok || om > 59 {
						return dateVal{}, false
					}
					i += 2
				}
				offset = sign * (oh*3600 + om*60)
			default:
				return dateVal{}, false
			}
		}
		if i != len(s) {
			return dateVal{}, false
		}
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	return dateVal{sec: t.Unix() - int64(offset), nsec: int32(nsec)}, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isEpoch reports whether s looks like epoch seconds: an optional minus,
// digits, and an optional fraction.
func isEpoch(s string) bool {
	i := 0
	if s[0] == '-' {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == start {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == fs {
			return false
		}
	}
	return i == len(s)
}

func parseEpoch(s string) (dateVal, bool) {
	intPart, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || sec > 1<<40 || sec < -(1<<40) {
		return dateVal{}, false
	}
	nsec := 0
	scale := 100000000
	for i := 0; i < len(frac) && scale > 0; i++ {
		nsec += int(frac[i]-'0') * scale
		scale /= 10
	}
	if s[0] == '-' && nsec > 0 {
		sec--
		nsec = 1000000000 - nsec
	}
	return dateVal{sec: sec, nsec: int32(nsec)}, true
}

// parseCIDR parses an IpAddress value: a CIDR block or a bare address (a
// /32 or /128). IPv4-mapped IPv6 addresses are reduced to IPv4.
func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a := p.Addr()
		bits := p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, false
			}
			a, bits = a.Unmap(), bits-96
		}
		return netip.PrefixFrom(a, bits).Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
