package policy

import (
	"errors"
	"testing"
)

// fuzzRequests are evaluated against every policy the fuzzer manages to
// parse; together they reach every condition family and every caller kind.
var fuzzRequests = []*Request{
	{Caller: alice, Action: "secretsmanager:GetSecretValue", Resource: secretARN, Context: map[string][]string{
		"aws:sourceip": {"10.1.2.3"}, "aws:currenttime": {"2026-01-01T00:00:00Z"}, "aws:securetransport": {"true"},
		"aws:principaltag/team": {"blue"}, "aws:tagkeys": {"env", "team"}, "s:n": {"5"}, "s:b": {"QQ=="},
		"aws:sourcearn": {"arn:aws:s3:::bucket"}, "s:weird": {"", "*", "${aws:username}", "\xff", "::ffff:1.2.3.4"},
	}},
	{Caller: session, Action: "sts:AssumeRole", Resource: roleARN},
	{Caller: acmSvc, Action: "kms:Decrypt", Resource: "*", Context: map[string][]string{"aws:sourceip": {"not-an-ip"}, "s:n": {"x"}}},
	{Caller: anon, Action: "", Resource: ""},
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`),
		`{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:s3:::b/*"}}`,
		doc(`{"Sid":"x","Effect":"Allow","Principal":{"AWS":["111122223333","` + roleARN + `"],"Service":"acm.amazonaws.com"},"Action":["kms:*"],"Resource":"*"}`),
		doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"` + sessARN + `"},"Action":"sts:AssumeRole"}`),
		doc(`{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:${aws:username}/${aws:PrincipalTag/team, 'x''y'}${*}${?}${$}*",
			"Condition":{"StringEquals":{"aws:ResourceTag/env":"${aws:PrincipalTag/env}"},"StringLike":{"s:weird":"*${*}?"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},
			"DateLessThan":{"aws:CurrentTime":"2026-02-01T00:00:00+01:00"},"NumericGreaterThanEquals":{"s:n":[1,"2.5"]},"Bool":{"aws:SecureTransport":true},
			"BinaryEquals":{"s:b":"QQ=="},"ArnLike":{"aws:SourceArn":"arn:aws:s3:::${aws:username}*"},"Null":{"s:z":"true"},
			"ForAllValues:StringNotEqualsIgnoreCase":{"aws:TagKeys":"SECRET"},"ForAnyValue:ArnNotLikeIfExists":{"s:weird":"*"}}}`),
		`{"Version":"2020-01-01","Statement":[]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny"}]}`,
		`[1,2,3]`,
		`{"Statement":{"Effect":"Allow","Action":"s3:","Resource":"arn","Condition":{"Foo":{"a":"b"}}}}`,
		`{`,
		``,
		`null`,
	}
	for _, s := range seeds {
		for k := 0; k < 3; k++ {
			f.Add(s, uint8(k))
		}
	}
	f.Fuzz(func(t *testing.T, doc string, kind uint8) {
		p, err := Parse(doc, Kind(kind%4))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("Parse error %T %v is not a *SyntaxError with problems", err, err)
			}
			if p != nil {
				t.Fatal("Parse returned a policy and an error")
			}
			_ = err.Error()
			return
		}
		if p == nil || p.Statements() == 0 {
			t.Fatalf("Parse succeeded with %v", p)
		}
		for _, r := range fuzzRequests {
			if d := p.Evaluate(r); d != NoMatch && d != Allow && d != Deny {
				t.Fatalf("Evaluate returned %v", d)
			}
		}
	})
}
