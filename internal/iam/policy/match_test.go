package policy

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"
)

// globRegexp is a reference implementation of the wildcard semantics.
func globRegexp(pattern string, fold bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString("(?s)")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestGlobAgainstRegexp(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	pick := func(alphabet []string, n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	patAlpha := []string{"a", "b", "ab", "*", "?", "é", "€", ":"}
	strAlpha := []string{"a", "b", "A", "é", "€", ":"}
	for i := 0; i < 20000; i++ {
		pat := pick(patAlpha, rng.Intn(7))
		s := pick(strAlpha, rng.Intn(9))
		for _, fold := range []bool{false, true} {
			g := compileGlob(pat, false, true, fold)
			want := globRegexp(pat, fold).MatchString(s)
			if got := g.match(nil, s); got != want {
				t.Fatalf("pattern %q fold=%v on %q: got %v, want %v (mode %d)", pat, fold, s, got, want, g.mode)
			}
		}
	}
}

func TestGlobCases(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*????", "€€€", false}, // ? counts characters, also after a *
		{"*???", "€€€", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYcZ", false},
		{"*a", "aaaa", true},
		{"*ab", "aaaab", true},
		{"a*a", "a", false},
		{"?", "", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
	}
	for _, tc := range tests {
		g := compileGlob(tc.pat, false, true, false)
		if got := g.match(nil, tc.s); got != tc.want {
			t.Errorf("%q on %q: got %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

func TestGlobModes(t *testing.T) {
	tests := []struct {
		pat  string
		mode globMode
	}{
		{"", gExact},
		{"abc", gExact},
		{"*", gAny},
		{"**", gAny},
		{"abc*", gPrefix},
		{"*abc", gSuffix},
		{"a*c", gToks},
		{"a?", gToks},
	}
	for _, tc := range tests {
		if g := compileGlob(tc.pat, false, true, false); g.mode != tc.mode {
			t.Errorf("%q: mode %d, want %d", tc.pat, g.mode, tc.mode)
		}
	}
	if g := compileGlob("a${aws:username}", true, true, false); g.mode != gVars {
		t.Errorf("variable pattern: mode %d", g.mode)
	}
	if g := compileGlob("a${*}", true, true, false); g.mode != gExact || g.lit != "a*" {
		t.Errorf("${*} pattern: %+v", g)
	}
}

func TestParseDate(t *testing.T) {
	utc := func(y, mo, d, h, mi, s int) int64 {
		return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC).Unix()
	}
	tests := []struct {
		in   string
		sec  int64
		nsec int32
		ok   bool
	}{
		{"2026-01-31T12:34:56Z", utc(2026, 1, 31, 12, 34, 56), 0, true},
		{"2026-01-31t12:34:56z", utc(2026, 1, 31, 12, 34, 56), 0, true},
		{"2026-01-31T12:34:56.25Z", utc(2026, 1, 31, 12, 34, 56), 250000000, true},
		{"2026-01-31T12:34:56+02:00", utc(2026, 1, 31, 10, 34, 56), 0, true},
		{"2026-01-31T12:34:56-0130", utc(2026, 1, 31, 14, 4, 56), 0, true},
		{"2026-01-31T12:34:56", utc(2026, 1, 31, 12, 34, 56), 0, true},
		{"2026-01-31T12:34Z", utc(2026, 1, 31, 12, 34, 0), 0, true},
		{"2026-01-31", utc(2026, 1, 31, 0, 0, 0), 0, true},
		{"2026-01", utc(2026, 1, 1, 0, 0, 0), 0, true},
		{"2024-02-29", utc(2024, 2, 29, 0, 0, 0), 0, true},
		{"1700000000", 1700000000, 0, true},
		{"1700000000.5", 1700000000, 500000000, true},
		{"-1.5", -2, 500000000, true},
		{"0", 0, 0, true},
		{"2025-02-29", 0, 0, false},
		{"2026-13-01", 0, 0, false},
		{"2026-01-32", 0, 0, false},
		{"2026-01-31T24:00:00Z", 0, 0, false},
		{"2026-01-31T12:60Z", 0, 0, false},
		{"2026-01-31T12:34:56.Z", 0, 0, false},
		{"2026-01-31T12:34:56+2", 0, 0, false},
		{"2026-01-31 12:34:56Z", 0, 0, false},
		{"2026-01-31T12:34:56Zjunk", 0, 0, false},
		{"2026", 2026, 0, true}, // digits only: epoch seconds
		{"26-01-01", 0, 0, false},
		{"", 0, 0, false},
		{"1.", 0, 0, false},
		{"99999999999999999999", 0, 0, false},
	}
	for _, tc := range tests {
		d, ok := parseDate(tc.in)
		if ok != tc.ok || (ok && (d.sec != tc.sec || d.nsec != tc.nsec)) {
			t.Errorf("parseDate(%q) = %+v, %v; want {%d %d}, %v", tc.in, d, ok, tc.sec, tc.nsec, tc.ok)
		}
	}
}

func TestParseNumber(t *testing.T) {
	good := map[string]float64{"1": 1, "-1": -1, "+2.5": 2.5, "1e3": 1000, ".5": 0.5, "5.": 5, "1E-2": 0.01}
	for s, want := range good {
		if got, ok := parseNumber(s); !ok || got != want {
			t.Errorf("parseNumber(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", ".", "0x10", "1_000", "Inf", "NaN", "1e", "1e999", " 1", "1 "} {
		if _, ok := parseNumber(s); ok {
			t.Errorf("parseNumber(%q) succeeded", s)
		}
	}
}

// TestEvaluateAllocations guards the "Evaluate allocates little" property on
// the common paths: plain patterns, patterns with variables, string, IP and
// numeric conditions and caller-derived keys.
func TestEvaluateAllocations(t *testing.T) {
	p := mustParse(t, doc(
		`{"Effect":"Allow","Action":["secretsmanager:Get*","secretsmanager:Describe*"],"Resource":"arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:team/${aws:username}/*",
		  "Condition":{"StringEquals":{"aws:ResourceTag/env":["prod","staging"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"NumericLessThan":{"s:n":5},"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}}`,
		`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"${aws:ResourceTag/team, 'x'}"}}}`), Identity)
	r := &Request{Caller: alice, Action: "secretsmanager:GetSecretValue", Resource: secretARN, Context: ctx{
		"aws:resourcetag/env": {"prod"}, "aws:sourceip": {"10.1.2.3"}, "s:n": {"1"},
		"aws:principaltag/team": {"blue"}, "aws:resourcetag/team": {"blue"},
	}}
	if got := p.Evaluate(r); got != Allow {
		t.Fatalf("Evaluate = %v, want Allow", got)
	}
	if n := testing.AllocsPerRun(100, func() { p.Evaluate(r) }); n != 0 {
		t.Fatalf("Evaluate allocates %v times per run, want 0", n)
	}
}
