package secrets

import (
	"strings"
	"testing"
	"time"
	"unicode"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduleNext(t *testing.T) {
	from := mustTime("2026-11-22T15:30:00Z") // a Sunday
	cases := []struct {
		rules RotationRules
		want  string
	}{
		{RotationRules{AutomaticallyAfterDays: 30}, "2026-12-22T15:30:00Z"},
		{RotationRules{ScheduleExpression: "rate(10 days)"}, "2026-12-02T00:00:00Z"},
		{RotationRules{ScheduleExpression: "rate(4 hours)"}, "2026-11-22T19:30:00Z"},
		{RotationRules{ScheduleExpression: "cron(0 4 ? * MON *)"}, "2026-11-23T04:00:00Z"},
		{RotationRules{ScheduleExpression: "cron(0 16 * * ? *)"}, "2026-11-22T16:00:00Z"},
		{RotationRules{ScheduleExpression: "cron(0 8,20 1 * ? *)"}, "2026-12-01T08:00:00Z"},
		{RotationRules{ScheduleExpression: "cron(0 0 L * ? *)"}, "2026-11-30T00:00:00Z"},
		{RotationRules{ScheduleExpression: "cron(0 1 ? * 6#2 *)"}, "2026-12-11T01:00:00Z"},      // second Friday
		{RotationRules{ScheduleExpression: "cron(0 2 ? JAN-MAR 2L *)"}, "2027-01-25T02:00:00Z"}, // last Monday of January
		{RotationRules{ScheduleExpression: "cron(0 */6 ? * SUN,SAT *)"}, "2026-11-22T18:00:00Z"},
	}
	for _, c := range cases {
		sc, err := parseRules(c.rules)
		if err != nil {
			t.Fatalf("%+v: %v", c.rules, err)
		}
		if got := sc.next(from).Format(time.RFC3339); got != c.want {
			t.Errorf("%+v: next = %s, want %s", c.rules, got, c.want)
		}
	}
}

func TestScheduleRejects(t *testing.T) {
	for _, r := range []RotationRules{
		{},
		{AutomaticallyAfterDays: 1001},
		{AutomaticallyAfterDays: 5, ScheduleExpression: "rate(5 days)"},
		{ScheduleExpression: "rate(2 hours)"},
		{ScheduleExpression: "rate(5 weeks)"},
		{ScheduleExpression: "cron(5 0 * * ? *)"},
		{ScheduleExpression: "cron(0 0 * * ? 2027)"},
		{ScheduleExpression: "cron(0 0 * * * *)"},
		{ScheduleExpression: "cron(0 0 ? * ? *)"},
		{ScheduleExpression: "cron(0 25 * * ? *)"},
		{ScheduleExpression: "cron(0 0 * *)"},
		{ScheduleExpression: "at(2026-01-01)"},
		{AutomaticallyAfterDays: 1, Duration: "25h"},
		{ScheduleExpression: "rate(4 hours)", Duration: "5h"},
		{AutomaticallyAfterDays: 1, Duration: "3d"},
	} {
		if _, err := parseRules(r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add("cron(0 4 ? * MON *)", "2h")
	f.Add("rate(10 days)", "")
	f.Add("cron(0 */6 L * ? *)", "1h")
	f.Fuzz(func(t *testing.T, expr, dur string) {
		sc, err := parseRules(RotationRules{ScheduleExpression: expr, Duration: dur})
		if err != nil {
			return
		}
		from := mustTime("2026-01-01T00:00:00Z")
		if n := sc.next(from); !n.IsZero() && !n.After(from) {
			t.Fatalf("%q: next %v is not after %v", expr, n, from)
		}
	})
}

func TestRandomPassword(t *testing.T) {
	no := false
	for _, in := range []PasswordInput{
		{},
		{Length: 4096},
		{Length: 4, ExcludePunctuation: true, IncludeSpace: false},
		{Length: 12, ExcludeCharacters: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY", ExcludePunctuation: true, ExcludeNumbers: true},
		{Length: 1, RequireEachIncludedType: &no},
	} {
		for range 50 {
			p, err := RandomPassword(in)
			if err != nil {
				t.Fatalf("%+v: %v", in, err)
			}
			want := in.Length
			if want == 0 {
				want = 32
			}
			if len(p) != want || strings.ContainsAny(p, in.ExcludeCharacters) {
				t.Fatalf("%+v: %q", in, p)
			}
			if in.Length == 12 && strings.Trim(p, "Z") != "" {
				t.Fatalf("only Z is left: %q", p)
			}
			if (in.RequireEachIncludedType == nil) && in.Length >= 4 && in.ExcludeCharacters == "" {
				var l, u, d, o bool
				for _, r := range p {
					l, u, d = l || unicode.IsLower(r), u || unicode.IsUpper(r), d || unicode.IsDigit(r)
					o = o || unicode.IsPunct(r) || unicode.IsSymbol(r)
				}
				if !l || !u || !d || (!o && !in.ExcludePunctuation) {
					t.Fatalf("%+v: %q misses a required type", in, p)
				}
			}
		}
	}
	if _, err := RandomPassword(PasswordInput{Length: 4097}); err == nil {
		t.Fatal("4097 accepted")
	}
}
