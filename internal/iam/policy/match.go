package policy

import (
	"strings"
	"unicode/utf8"
)

// A pattern is compiled into a sequence of tokens: literal text, the * and
// ? wildcards, and policy variables. Patterns without variables are further
// reduced to one of a few fast forms (any / exact / prefix / suffix).

type tokKind uint8

const (
	tLit  tokKind = iota // literal text (s)
	tStar                // * : any run of characters, possibly empty
	tOne                 // ? : exactly one character
	tVar                 // ${key} or ${key, 'default'}: s is the lower-cased key
)

type tok struct {
	kind   tokKind
	hasDef bool  // tVar: def is the default value
	vi     int32 // tVar: index of the variable in its pattern
	s      string
	def    string
}

type globMode uint8

const (
	gExact  globMode = iota // s == lit
	gAny                    // anything
	gPrefix                 // strings.HasPrefix(s, lit)
	gSuffix                 // strings.HasSuffix(s, lit)
	gToks                   // general: wildcards, no variables
	gVars                   // tokens with variables, resolved per request
)

// glob is a compiled pattern. fold makes the match ASCII case-insensitive
// (the literal parts are stored lower-cased); it is only used for actions,
// which are ASCII and never contain variables.
type glob struct {
	mode  globMode
	fold  bool
	nvars int
	lit   string
	toks  []tok
}

// compileGlob compiles s. vars enables ${...} policy variables (Version
// 2012-10-17); wild enables the * and ? wildcards (a literal * or ? can then
// still be written ${*} / ${?} when vars is on); fold lower-cases literals
// for ASCII case-insensitive matching.
func compileGlob(s string, vars, wild, fold bool) glob {
	var toks []tok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t := lit.String()
			if fold {
				t = strings.ToLower(t)
			}
			toks = append(toks, tok{kind: tLit, s: t})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if vars && c == '$' && i+1 < len(s) && s[i+1] == '{' {
			if v, end, ok := parseVariable(s, i); ok {
				switch v.s {
				case "*", "?", "$":
					lit.WriteString(v.s) // ${*} ${?} ${$}: the literal character
				default:
					flush()
					toks = append(toks, v)
				}
				i = end
				continue
			}
		}
		if wild && (c == '*' || c == '?') {
			flush()
			if c == '*' {
				if n := len(toks); n > 0 && toks[n-1].kind == tStar {
					i++
					continue // ** is *
				}
				toks = append(toks, tok{kind: tStar})
			} else {
				toks = append(toks, tok{kind: tOne})
			}
			i++
			continue
		}
		lit.WriteByte(c)
		i++
	}
	flush()
	return newGlob(toks, fold)
}

// newGlob picks the fastest matching mode for toks.
func newGlob(toks []tok, fold bool) glob {
	g := glob{fold: fold, toks: toks, mode: gToks}
	for i := range toks {
		if toks[i].kind == tVar {
			toks[i].vi = int32(g.nvars)
			g.nvars++
			g.mode = gVars
		}
	}
	if g.mode == gVars {
		return g
	}
	switch {
	case len(toks) == 0:
		g.mode, g.toks = gExact, nil
	case len(toks) == 1 && toks[0].kind == tLit:
		g.mode, g.lit, g.toks = gExact, toks[0].s, nil
	case len(toks) == 1 && toks[0].kind == tStar:
		g.mode, g.toks = gAny, nil
	case len(toks) == 2 && toks[0].kind == tLit && toks[1].kind == tStar:
		g.mode, g.lit, g.toks = gPrefix, toks[0].s, nil
	case len(toks) == 2 && toks[0].kind == tStar && toks[1].kind == tLit:
		g.mode, g.lit, g.toks = gSuffix, toks[1].s, nil
	}
	return g
}

// parseVariable parses a policy variable starting at s[i] == '$',
// s[i+1] == '{': "${key}" or "${key, 'default'}", with optional spaces
// around the key and the default; inside the default a doubled single quote
// stands for one. ${*}, ${?} and ${$} are returned as a token whose key is
// the character itself. It returns the token, the index just past the
// closing brace, and false when the text is not a well-formed variable (it
// is then literal text).
func parseVariable(s string, i int) (tok, int, bool) {
	j := i + 2
	if j+1 < len(s) && s[j+1] == '}' && (s[j] == '*' || s[j] == '?' || s[j] == '$') {
		return tok{kind: tVar, s: s[j : j+1]}, j + 2, true
	}
	k := j
	for k < len(s) && s[k] != '}' && s[k] != ',' && s[k] != '\'' && s[k] != '$' && s[k] != '{' {
		k++
	}
	if k >= len(s) || s[k] == '\'' || s[k] == '$' || s[k] == '{' {
		return tok{}, 0, false
	}
	key := strings.TrimSpace(s[j:k])
	if key == "" {
		return tok{}, 0, false
	}
	t := tok{kind: tVar, s: strings.ToLower(key)}
	if s[k] == '}' {
		return t, k + 1, true
	}
	// s[k] == ',': a quoted default value follows.
	k++
	for k < len(s) && s[k] == ' ' {
		k++
	}
	if k >= len(s) || s[k] != '\'' {
		return tok{}, 0, false
	}
	k++
	var def strings.Builder
	for {
		if k >= len(s) {
			return tok{}, 0, false
		}
		if s[k] == '\'' {
			if k+1 < len(s) && s[k+1] == '\'' {
				def.WriteByte('\'')
				k += 2
				continue
			}
			k++
			break
		}
		def.WriteByte(s[k])
		k++
	}
	for k < len(s) && s[k] == ' ' {
		k++
	}
	if k >= len(s) || s[k] != '}' {
		return tok{}, 0, false
	}
	t.hasDef, t.def = true, def.String()
	return t, k + 1, true
}

// match reports whether s matches the pattern. A variable that cannot be
// resolved makes the pattern match nothing.
func (g *glob) match(ec *evalCtx, s string) bool {
	switch g.mode {
	case gExact:
		if g.fold {
			return len(s) == len(g.lit) && hasPrefixFold(s, g.lit)
		}
		return s == g.lit
	case gAny:
		return true
	case gPrefix:
		if g.fold {
			return hasPrefixFold(s, g.lit)
		}
		return strings.HasPrefix(s, g.lit)
	case gSuffix:
		if g.fold {
			return len(s) >= len(g.lit) && hasPrefixFold(s[len(s)-len(g.lit):], g.lit)
		}
		return strings.HasSuffix(s, g.lit)
	case gToks:
		return matchToks(g.toks, nil, s, g.fold)
	}
	// gVars: resolve the variables first; any without a value makes the
	// pattern match nothing.
	var arr [8]string
	vals := arr[:0]
	if g.nvars > len(arr) {
		vals = make([]string, 0, g.nvars)
	}
	for i := range g.toks {
		if t := &g.toks[i]; t.kind == tVar {
			v, ok := ec.variable(t)
			if !ok {
				return false
			}
			vals = append(vals, v)
		}
	}
	return matchToks(g.toks, vals, s, g.fold)
}

// resolved returns the pattern's text with variables substituted, for
// operators that compare whole strings (IgnoreCase, Bool). Wildcards are
// not expected (the pattern was compiled with wild == false).
func (g *glob) resolved(ec *evalCtx) (string, bool) {
	switch g.mode {
	case gExact:
		return g.lit, true
	case gVars:
	default:
		return "", false
	}
	var b strings.Builder
	for i := range g.toks {
		t := &g.toks[i]
		switch t.kind {
		case tLit:
			b.WriteString(t.s)
		case tVar:
			v, ok := ec.variable(t)
			if !ok {
				return "", false
			}
			b.WriteString(v)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// matchToks matches s against a token list without allocating; the text of
// variable tokens is vals[t.vi]. The tokens form groups of literals and ? separated by stars:
// the first group is anchored at the start of s, the last one at the end
// (matched backwards), and each middle group is placed at its leftmost
// match, which is optimal because a group's extent only depends on where it
// starts and grows monotonically with it. ? consumes one UTF-8 character.
func matchToks(toks []tok, vals []string, s string, fold bool) bool {
	// Leading group.
	i, pos := 0, 0
	for ; i < len(toks) && toks[i].kind != tStar; i++ {
		n, ok := matchTokAt(&toks[i], vals, s, pos, fold)
		if !ok {
			return false
		}
		pos = n
	}
	if i == len(toks) {
		return pos == len(s)
	}
	// Trailing group, backwards from the end; toks[i] is a star, so this
	// stops at the last star.
	j, end := len(toks), len(s)
	for ; toks[j-1].kind != tStar; j-- {
		t := &toks[j-1]
		if t.kind != tOne {
			lit := tokText(t, vals)
			if end-pos < len(lit) || !eqFold(s[end-len(lit):end], lit, fold) {
				return false
			}
			end -= len(lit)
			continue
		}
		if end <= pos {
			return false
		}
		_, n := utf8.DecodeLastRuneInString(s[pos:end])
		end -= n
	}
	// Middle groups, between the first star (i) and the last one (j-1).
	sub := s[:end]
	for k := i + 1; k < j-1; {
		if toks[k].kind == tStar {
			k++
			continue
		}
		m := k + 1
		for toks[m].kind != tStar {
			m++
		}
		first := &toks[k]
		for start := pos; ; {
			if first.kind != tOne && !fold {
				idx := strings.Index(sub[start:], tokText(first, vals))
				if idx < 0 {
					return false
				}
				start += idx
			}
			if e, ok := matchGroupAt(toks[k:m], vals, sub, start, fold); ok {
				pos = e
				break
			}
			if start >= len(sub) {
				return false
			}
			_, n := utf8.DecodeRuneInString(sub[start:])
			start += n
		}
		k = m
	}
	return true
}

// matchGroupAt matches a run of literal and ? tokens at s[pos:], returning
// the end of the match.
func matchGroupAt(toks []tok, vals []string, s string, pos int, fold bool) (int, bool) {
	for i := range toks {
		n, ok := matchTokAt(&toks[i], vals, s, pos, fold)
		if !ok {
			return 0, false
		}
		pos = n
	}
	return pos, true
}

// matchTokAt matches one literal, variable or ? token at s[pos:].
func matchTokAt(t *tok, vals []string, s string, pos int, fold bool) (int, bool) {
	if t.kind == tOne {
		if pos >= len(s) {
			return 0, false
		}
		_, n := utf8.DecodeRuneInString(s[pos:])
		return pos + n, true
	}
	lit := tokText(t, vals)
	if len(s)-pos < len(lit) || !eqFold(s[pos:pos+len(lit)], lit, fold) {
		return 0, false
	}
	return pos + len(lit), true
}

// tokText is the text a literal or (resolved) variable token stands for.
func tokText(t *tok, vals []string) string {
	if t.kind == tVar {
		return vals[t.vi]
	}
	return t.s
}

// eqFold compares s with lit, ASCII case-insensitively when fold is set
// (lit is then lower-case); len(s) == len(lit).
func eqFold(s, lit string, fold bool) bool {
	if !fold {
		return s == lit
	}
	return hasPrefixFold(s, lit)
}

// hasPrefixFold reports whether s starts with lower, comparing ASCII letters
// case-insensitively; lower must already be lower-case.
func hasPrefixFold(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// evalCtx is the per-Evaluate state. It lives on the stack of Evaluate; the
// one-element arrays back the values taken from Caller so that lookups can
// return a []string without allocating. Each key has its own array, so a
// slice returned for one key is never overwritten by a lookup of another.
type evalCtx struct {
	r                          *Request
	user, uid, acct, parn, svc [1]string
}

// lookup returns the values of a (lower-cased) condition key and whether the
// key is present.
func (ec *evalCtx) lookup(key string) ([]string, bool) {
	if v, ok := ec.r.Context[key]; ok && len(v) > 0 {
		return v, true
	}
	c := &ec.r.Caller
	var arr *[1]string
	var val string
	switch key {
	case "aws:username":
		arr, val = &ec.user, c.UserName
	case "aws:userid":
		arr, val = &ec.uid, c.UserID
	case "aws:principalaccount":
		arr, val = &ec.acct, c.Account
	case "aws:principalarn":
		arr, val = &ec.parn, c.ARN
		if c.RoleARN != "" {
			val = c.RoleARN
		}
	case "aws:principalservicename":
		arr, val = &ec.svc, c.Service
	default:
		return nil, false
	}
	if val == "" {
		return nil, false
	}
	arr[0] = val
	return arr[:], true
}

// variable resolves a policy variable: the key's value when it has exactly
// one, else the default when there is one.
func (ec *evalCtx) variable(t *tok) (string, bool) {
	if v, ok := ec.lookup(t.s); ok && len(v) == 1 {
		return v[0], true
	}
	if t.hasDef {
		return t.def, true
	}
	return "", false
}
