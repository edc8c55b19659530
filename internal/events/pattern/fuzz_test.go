package pattern

import (
	"errors"
	"testing"
)

// FuzzCompileMatch checks that no pattern or event makes the package panic,
// that Compile fails only with a *SyntaxError and does so deterministically,
// and that matching is deterministic and agrees between Matches and
// Decode+Match.
func FuzzCompileMatch(f *testing.F) {
	seeds := []struct{ pattern, event string }{
		{benchPattern, acmEvent},
		{`{"source":["aws.acm"]}`, acmEvent},
		{`{"detail":{"DaysToExpiry":[{"numeric":[">",0,"<=",30]}]}}`, acmEvent},
		{`{"$or":[{"a":["x"]},{"b":[{"exists":false}]}]}`, `{"a":["y",{"b":1}]}`},
		{`{"a":[{"anything-but":{"prefix":["x","y"]}}]}`, `{"a":[null,1,"x"]}`},
		{`{"a":[{"anything-but":[1,2]}]}`, `{"a":1.0}`},
		{`{"ip":[{"cidr":"10.0.0.0/8"},{"cidr":"2001:db8::/32"}]}`, `{"ip":"::ffff:10.1.2.3"}`},
		{`{"f":[{"wildcard":"a\\**b*\\\\"}]}`, `{"f":"a*xb\\"}`},
		{`{"f":[{"suffix":{"equals-ignore-case":"\u212A"}}]}`, `{"f":"K"}`},
		{`{"n":[null,true,false,0,""]}`, `{"n":[[[false]]]}`},
		{`{"a":{"b":{"c":[{"exists":true}]}}}`, `{"a":[{"b":[{"c":null}]}]}`},
		{`{"a":[1e400]}`, `{"a":1e400}`},
		{`{}`, `{}`},
		{`[`, `]`},
	}
	for _, s := range seeds {
		f.Add(s.pattern, []byte(s.event))
	}
	f.Fuzz(func(t *testing.T, pattern string, event []byte) {
		p, err := Compile(pattern)
		p2, err2 := Compile(pattern)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Compile is not deterministic: %v vs %v", err, err2)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile error %v (%T) is not a *SyntaxError", err, err)
			}
			if se.Msg == "" {
				t.Fatal("empty SyntaxError message")
			}
			if err.Error() != err2.Error() {
				t.Fatalf("Compile errors differ: %q vs %q", err, err2)
			}
			return
		}
		got, merr := p.Matches(event)
		got2, merr2 := p2.Matches(event)
		if got != got2 || (merr == nil) != (merr2 == nil) {
			t.Fatalf("Matches is not deterministic: %v,%v vs %v,%v", got, merr, got2, merr2)
		}
		if merr != nil {
			if !errors.Is(merr, ErrInvalidEvent) || got {
				t.Fatalf("Matches = %v, %v; want false and ErrInvalidEvent", got, merr)
			}
			return
		}
		e, err := Decode(event)
		if err != nil {
			t.Fatalf("Decode failed after Matches succeeded: %v", err)
		}
		first, second := p.Match(e), p.Match(e) // twice: matching is deterministic
		if first != got || second != got {
			t.Fatal("Match on a decoded event disagrees with Matches")
		}
	})
}
