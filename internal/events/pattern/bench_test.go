package pattern

import "testing"

// benchPattern is a realistic five-field rule for Sigil's ACM events.
const benchPattern = `{
	"source": ["aws.acm"],
	"detail-type": ["ACM Certificate Approaching Expiration", "ACM Certificate Expired"],
	"resources": [{"prefix": "arn:aws:acm:us-east-1:000000000000:certificate/"}],
	"detail": {
		"DaysToExpiry": [{"numeric": [">", 0, "<=", 45]}],
		"CommonName": [{"suffix": ".internal"}]
	}
}`

// BenchmarkMatch measures matching one decoded event, the per-rule cost when
// an outbox event is tested against every rule.
func BenchmarkMatch(b *testing.B) {
	p, err := Compile(benchPattern)
	if err != nil {
		b.Fatal(err)
	}
	e, err := Decode([]byte(acmEvent))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Match(e) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatches measures decoding and matching together, the cost paid
// once per event.
func BenchmarkMatches(b *testing.B) {
	p, err := Compile(benchPattern)
	if err != nil {
		b.Fatal(err)
	}
	event := []byte(acmEvent)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := p.Matches(event); !ok || err != nil {
			b.Fatal("no match")
		}
	}
}
