package events

import (
	"errors"
	"testing"
	"time"
)

const acmEvent = `{"version":"0","id":"e1","detail-type":"ACM Certificate Approaching Expiration","source":"aws.acm",` +
	`"account":"000000000000","time":"2026-12-05T10:00:00Z","region":"us-east-1",` +
	`"resources":["arn:aws:acm:us-east-1:000000000000:certificate/abc"],"detail":{"DaysToExpiry":31,"CommonName":"app \"internal\""}}`

func TestPayload(t *testing.T) {
	for _, c := range []struct {
		name   string
		target Target
		want   string
	}{
		{"whole event", Target{}, acmEvent},
		{"constant input", Target{Input: `{"k":1}`}, `{"k":1}`},
		{"input path", Target{InputPath: "$.detail"}, `{"CommonName":"app \"internal\"","DaysToExpiry":31}`},
		{"input path to an array element", Target{InputPath: "$.resources[0]"}, `"arn:aws:acm:us-east-1:000000000000:certificate/abc"`},
		{"input path to nothing", Target{InputPath: "$.detail.missing"}, `null`},
		{"JSON template, quoted and bare", Target{InputTransformer: &InputTransformer{
			InputPathsMap: map[string]string{"name": "$.detail.CommonName", "days": "$.detail.DaysToExpiry", "arn": "$.resources[0]"},
			InputTemplate: `{"text": "<name> expires in <days> days", "arn": <arn>, "days": <days>, "none": <missing>}`}},
			`{"text": "app \"internal\" expires in 31 days", "arn": "arn:aws:acm:us-east-1:000000000000:certificate/abc", "days": 31, "none": null}`},
		{"text template", Target{InputTransformer: &InputTransformer{
			InputPathsMap: map[string]string{"name": "$.detail.CommonName"}, InputTemplate: `Renew <name> now`}},
			`Renew app "internal" now`},
		{"whole event in a template", Target{InputTransformer: &InputTransformer{InputTemplate: `{"event": <aws.events.event.json>}`}},
			`{"event": ` + acmEvent + `}`},
	} {
		got, err := c.target.Payload([]byte(acmEvent))
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %s (%v), want %s", c.name, got, err, c.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, p := range []string{"$", "$.detail", "$.detail.a-b_c", "$.resources[0]", "$.a[1].b"} {
		if _, err := parsePath(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"", "detail", "$.", "$..a", "$.a[x]", "$.a[-1]", "$['a']"} {
		if _, err := parsePath(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

func TestRetryRules(t *testing.T) {
	d := &Dispatcher{RetryBase: time.Second, RetryMax: 5 * time.Minute}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 40: 5 * time.Minute} {
		if got := d.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
	for _, c := range []struct {
		status int
		err    error
		want   bool
	}{
		{0, errors.New("connection refused"), true},
		{0, errNoDestination, false},
		{500, nil, true}, {503, nil, true}, {429, nil, true}, {401, nil, true}, {409, nil, true},
		{400, nil, false}, {403, nil, false}, {404, nil, false}, {301, nil, false},
	} {
		if got := retryable(c.status, c.err); got != c.want {
			t.Errorf("retryable(%d, %v) = %v", c.status, c.err, got)
		}
	}
}
