package pattern

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// wildcard matches strings against a glob in which "*" stands for any run
// of characters. segs holds the literal text between the stars, so a glob
// with n stars has n+1 segments.
type wildcard struct {
	segs []string
}

// compileWildcard parses a wildcard operand: "\*" is a literal star, "\\" a
// literal backslash; other escapes and consecutive stars are errors.
func compileWildcard(path, s string) (filter, error) {
	var segs []string
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if prevStar {
				return nil, syntaxErr(path, `"wildcard": consecutive wildcard characters ("**") are not allowed`)
			}
			segs = append(segs, cur.String())
			cur.Reset()
			prevStar = true
			continue
		case '\\':
			if i+1 == len(s) {
				return nil, syntaxErr(path, `"wildcard": trailing backslash (escape a backslash as \\)`)
			}
			if next := s[i+1]; next != '*' && next != '\\' {
				r, _ := utf8.DecodeRuneInString(s[i+1:])
				return nil, syntaxErr(path, `"wildcard": invalid escape "\%c" (only \* and \\ are allowed)`, r)
			}
			i++
			cur.WriteByte(s[i])
		default:
			cur.WriteByte(c)
		}
		prevStar = false
	}
	segs = append(segs, cur.String())
	return wildcard{segs: segs}, nil
}

// match runs in O(len(value) × len(glob)): each literal segment between
// stars is placed at its leftmost possible position, which is optimal for
// globs whose only metacharacter is "*", so no backtracking is needed.
func (w wildcard) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	n := len(w.segs)
	if n == 1 {
		return s == w.segs[0]
	}
	first, last := w.segs[0], w.segs[n-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, seg := range w.segs[1 : n-1] {
		i := strings.Index(mid, seg)
		if i < 0 {
			return false
		}
		mid = mid[i+len(seg):]
	}
	return true
}

// hasPrefixFold is strings.HasPrefix under Unicode simple case folding.
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeRuneInString(prefix)
		sr, sn := utf8.DecodeRuneInString(s)
		if !runeEqualFold(sr, sn, pr, pn, s, prefix) {
			return false
		}
		s, prefix = s[sn:], prefix[pn:]
	}
	return true
}

// hasSuffixFold is strings.HasSuffix under Unicode simple case folding.
func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(suffix)
		sr, sn := utf8.DecodeLastRuneInString(s)
		if !runeEqualFold(sr, sn, pr, pn, s[len(s)-sn:], suffix[len(suffix)-pn:]) {
			return false
		}
		s, suffix = s[:len(s)-sn], suffix[:len(suffix)-pn]
	}
	return true
}

// runeEqualFold reports whether runes a and b (decoded with widths an and
// bn from the starts of as and bs) are equal under simple case folding.
// Invalid UTF-8 bytes compare as raw bytes.
func runeEqualFold(a rune, an int, b rune, bn int, as, bs string) bool {
	if a == utf8.RuneError && an == 1 || b == utf8.RuneError && bn == 1 {
		return an == bn && as[0] == bs[0]
	}
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}
