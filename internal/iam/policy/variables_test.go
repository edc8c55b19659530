package policy

import (
	"testing"
)

func TestResourceVariables(t *testing.T) {
	const base = "arn:aws:secretsmanager:us-east-1:111122223333:secret:"
	tests := []struct {
		name     string
		resource string // the policy's Resource
		caller   Caller
		ctx      ctx
		request  string // the request's resource
		want     Decision
	}{
		{"username", base + "home/${aws:username}/*", alice, nil, base + "home/alice/db", Allow},
		{"username other user's secret", base + "home/${aws:username}/*", alice, nil, base + "home/bob/db", NoMatch},
		{"username case-insensitive variable name", base + "home/${AWS:UserName}/*", alice, nil, base + "home/alice/db", Allow},
		{"username absent: no match", base + "home/${aws:username}/*", session, nil, base + "home//db", NoMatch},
		{"username from context", base + "home/${aws:username}/*", session, one("aws:username", "ci"), base + "home/ci/db", Allow},
		{"userid", base + "${aws:userid}", session, nil, base + "AROADEPLOYER:build-42", Allow},
		{"principal account", "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:*", alice, nil, secretARN, Allow},
		{"principal account other", "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:*", outside, nil, secretARN, NoMatch},
		{"tag", base + "${aws:PrincipalTag/team}/*", alice, one("aws:PrincipalTag/team", "blue"), base + "blue/x", Allow},
		{"tag absent", base + "${aws:PrincipalTag/team}/*", alice, nil, base + "/x", NoMatch},
		{"tag multi-valued is no value", base + "${aws:PrincipalTag/team}/*", alice, ctx{"aws:principaltag/team": {"a", "b"}}, base + "a/x", NoMatch},
		{"default used", base + "${aws:PrincipalTag/team, 'shared'}/*", alice, nil, base + "shared/x", Allow},
		{"default unused", base + "${aws:PrincipalTag/team, 'shared'}/*", alice, one("aws:PrincipalTag/team", "blue"), base + "shared/x", NoMatch},
		{"default not a wildcard", base + "${aws:PrincipalTag/team, '*'}", alice, nil, base + "anything", NoMatch},
		{"default literal star", base + "${aws:PrincipalTag/team, '*'}", alice, nil, base + "*", Allow},
		{"default with quote", base + "${aws:PrincipalTag/team,'it''s'}", alice, nil, base + "it's", Allow},
		{"default with spaces", base + "${ aws:PrincipalTag/team , 'x y' }", alice, nil, base + "x y", Allow},
		{"default with brace", base + "${aws:PrincipalTag/team, 'a}b'}", alice, nil, base + "a}b", Allow},
		{"literal star", "arn:aws:s3:::bucket/${*}", alice, nil, "arn:aws:s3:::bucket/*", Allow},
		{"literal star is not a wildcard", "arn:aws:s3:::bucket/${*}", alice, nil, "arn:aws:s3:::bucket/x", NoMatch},
		{"literal question", "arn:aws:s3:::bucket/${?}", alice, nil, "arn:aws:s3:::bucket/?", Allow},
		{"literal question is not a wildcard", "arn:aws:s3:::bucket/${?}", alice, nil, "arn:aws:s3:::bucket/x", NoMatch},
		{"literal dollar", "arn:aws:s3:::bucket/${$}{aws:username}", alice, nil, "arn:aws:s3:::bucket/${aws:username}", Allow},
		{"variable value is not a wildcard", base + "${aws:PrincipalTag/team}", alice, one("aws:PrincipalTag/team", "*"), base + "anything", NoMatch},
		{"variable value star matches itself", base + "${aws:PrincipalTag/team}", alice, one("aws:PrincipalTag/team", "*"), base + "*", Allow},
		{"context key variable", base + "${aws:SourceIp}", alice, one("aws:SourceIp", "10.0.0.1"), base + "10.0.0.1", Allow},
		{"two variables", base + "${aws:PrincipalAccount}/${aws:username}-*", alice, nil, base + "111122223333/alice-1", Allow},
		{"malformed variable is literal", base + "${aws:username", alice, nil, base + "${aws:username", Allow},
		{"empty variable is literal", base + "${}", alice, nil, base + "${}", Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, doc(`{"Effect":"Allow","Action":"secretsmanager:*","Resource":"`+tc.resource+`"}`), Identity)
			if got := eval(t, p, tc.caller, "secretsmanager:GetSecretValue", tc.request, tc.ctx); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNotResourceVariableWithoutValue(t *testing.T) {
	// A NotResource pattern whose variable has no value matches no resource,
	// so it excludes nothing.
	p := mustParse(t, doc(`{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}`), Identity)
	if got := eval(t, p, alice, "s3:GetObject", "arn:aws:s3:::home/alice/x", nil); got != NoMatch {
		t.Errorf("own home: got %v", got)
	}
	if got := eval(t, p, alice, "s3:GetObject", "arn:aws:s3:::home/bob/x", nil); got != Deny {
		t.Errorf("other home: got %v", got)
	}
	if got := eval(t, p, session, "s3:GetObject", "arn:aws:s3:::home//x", nil); got != Deny {
		t.Errorf("no username: got %v", got)
	}
}

func TestConditionVariables(t *testing.T) {
	owner := "aws:resourcetag/owner"
	tests := []struct {
		name   string
		cond   string
		caller Caller
		ctx    ctx
		want   bool
	}{
		{"equals username", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, alice, one(owner, "alice"), true},
		{"equals username other", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, bob, one(owner, "alice"), false},
		{"equals unresolved: false", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, session, one(owner, ""), false},
		{"equals unresolved among values", `{"StringEquals":{"aws:ResourceTag/owner":["${aws:username}","ops"]}}`, session, one(owner, "ops"), true},
		{"not equals unresolved: true", `{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, session, one(owner, "alice"), true},
		{"not equals resolved match", `{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, alice, one(owner, "alice"), false},
		{"tag to tag", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, alice, ctx{"aws:resourcetag/team": {"blue"}, "aws:principaltag/team": {"blue"}}, true},
		{"tag to tag, principal untagged", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, alice, ctx{"aws:resourcetag/team": {"blue"}}, false},
		{"default", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'none'}"}}`, alice, ctx{"aws:resourcetag/team": {"none"}}, true},
		{"like with variable and wildcard", `{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, alice, one("s3:prefix", "home/alice/x"), true},
		{"like variable value is literal", `{"StringLike":{"s3:prefix":"${aws:PrincipalTag/p}"}}`, alice, ctx{"s3:prefix": {"abc"}, "aws:principaltag/p": {"a*"}}, false},
		{"like literal star", `{"StringLike":{"s3:prefix":"a${*}"}}`, alice, one("s3:prefix", "a*"), true},
		{"like literal star not wildcard", `{"StringLike":{"s3:prefix":"a${*}"}}`, alice, one("s3:prefix", "ab"), false},
		{"ignore case with variable", `{"StringEqualsIgnoreCase":{"aws:ResourceTag/owner":"${aws:username}"}}`, alice, one(owner, "ALICE"), true},
		{"ignore case unresolved", `{"StringNotEqualsIgnoreCase":{"aws:ResourceTag/owner":"${aws:username}"}}`, session, one(owner, "ALICE"), true},
		{"arn with variable", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}`, alice, one("aws:SourceArn", "arn:aws:iam::111122223333:role/x"), true},
		{"arn with variable other account", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}`, outside, one("aws:SourceArn", "arn:aws:iam::111122223333:role/x"), false},
		{"arn principal arn variable", `{"ArnEquals":{"aws:SourceArn":"${aws:PrincipalArn}"}}`, session, one("aws:SourceArn", roleARN), true},
		{"bool with variable", `{"Bool":{"s:flag":"${s:expected}"}}`, alice, ctx{"s:flag": {"TRUE"}, "s:expected": {"true"}}, true},
		{"bool with variable mismatch", `{"Bool":{"s:flag":"${s:expected}"}}`, alice, ctx{"s:flag": {"false"}, "s:expected": {"true"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := condHolds(t, tc.cond, tc.caller, tc.ctx); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVersion2008DoesNotSubstitute(t *testing.T) {
	for _, version := range []string{`"Version":"2008-10-17",`, ``} {
		d := `{` + version + `"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*","Condition":{"StringEquals":{"s3:prefix":"${aws:username}"}}}]}`
		p := mustParse(t, d, Identity)
		lit := ctx{"s3:prefix": {"${aws:username}"}}
		if got := eval(t, p, alice, "s3:GetObject", "arn:aws:s3:::home/alice/x", lit); got != NoMatch {
			t.Errorf("%q: variable was substituted in Resource: got %v", version, got)
		}
		if got := eval(t, p, alice, "s3:GetObject", "arn:aws:s3:::home/${aws:username}/x", lit); got != Allow {
			t.Errorf("%q: literal resource: got %v", version, got)
		}
		if got := eval(t, p, alice, "s3:GetObject", "arn:aws:s3:::home/${aws:username}/x", ctx{"s3:prefix": {"alice"}}); got != NoMatch {
			t.Errorf("%q: variable was substituted in Condition: got %v", version, got)
		}
	}
	// In 2008-10-17 documents ${*} is not special either, and * stays a
	// wildcard.
	p := mustParse(t, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${*}"}}`, Identity)
	if got := eval(t, p, alice, "s3:GetObject", "arn:aws:s3:::b/${x}", nil); got != Allow {
		t.Errorf("2008 ${*}: got %v", got)
	}
}
