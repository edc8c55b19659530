package pattern_test

import (
	"errors"
	"fmt"

	"github.com/sigilhq/sigil/internal/events/pattern"
)

func Example() {
	p, err := pattern.Compile(`{
		"source": ["aws.acm"],
		"detail-type": ["ACM Certificate Approaching Expiration"],
		"detail": {"DaysToExpiry": [{"numeric": ["<=", 45]}]}
	}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Decode once, then match against every rule.
	e, err := pattern.Decode([]byte(`{"source":"aws.acm",` +
		`"detail-type":"ACM Certificate Approaching Expiration",` +
		`"detail":{"DaysToExpiry":31,"CommonName":"app.internal"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Match(e))
	// Output: true
}

func ExampleSyntaxError() {
	_, err := pattern.Compile(`{"detail":{"state":[{"prefix":5}]}}`)
	var se *pattern.SyntaxError
	if errors.As(err, &se) {
		fmt.Printf("path=%s\n%v\n", se.Path, err)
	}
	// Output:
	// path=detail.state
	// detail.state: "prefix" must be a string
}
