package policy

import (
	"testing"
)

type ctx = map[string][]string

// condHolds compiles an Allow-everything identity statement with the given
// Condition block and reports whether it allows a request with context c.
func condHolds(t *testing.T, cond string, caller Caller, c ctx) bool {
	t.Helper()
	p := mustParse(t, doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":`+cond+`}`), Identity)
	return eval(t, p, caller, "secretsmanager:GetSecretValue", secretARN, c) == Allow
}

type condCase struct {
	name string
	cond string
	ctx  ctx
	want bool
}

func runCondCases(t *testing.T, cases []condCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := condHolds(t, tc.cond, alice, tc.ctx); got != tc.want {
				t.Fatalf("condition %s with context %v: got %v, want %v", tc.cond, tc.ctx, got, tc.want)
			}
		})
	}
}

func one(k, v string) ctx { return ctx{Key(k): {v}} }

func TestStringConditions(t *testing.T) {
	team := "aws:principaltag/team"
	runCondCases(t, []condCase{
		{"equals", `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, one(team, "blue"), true},
		{"equals is case-sensitive", `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, one(team, "Blue"), false},
		{"equals absent", `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, nil, false},
		{"equals key case-insensitive", `{"StringEquals":{"AWS:PRINCIPALTAG/Team":"blue"}}`, one(team, "blue"), true},
		{"equals any of values", `{"StringEquals":{"aws:PrincipalTag/team":["red","blue"]}}`, one(team, "blue"), true},
		{"equals none of values", `{"StringEquals":{"aws:PrincipalTag/team":["red","blue"]}}`, one(team, "green"), false},
		{"equals star is literal", `{"StringEquals":{"aws:PrincipalTag/team":"b*"}}`, one(team, "blue"), false},
		{"equals star literal matches star", `{"StringEquals":{"aws:PrincipalTag/team":"b*"}}`, one(team, "b*"), true},
		{"equals number value", `{"StringEquals":{"s3:max-keys":10}}`, one("s3:max-keys", "10"), true},
		{"equals empty string", `{"StringEquals":{"aws:PrincipalTag/team":""}}`, one(team, ""), true},
		{"not equals matching", `{"StringNotEquals":{"aws:PrincipalTag/team":["red","blue"]}}`, one(team, "blue"), false},
		{"not equals other", `{"StringNotEquals":{"aws:PrincipalTag/team":["red","blue"]}}`, one(team, "green"), true},
		{"not equals absent is true", `{"StringNotEquals":{"aws:PrincipalTag/team":"blue"}}`, nil, true},
		{"not equals empty slice is absent", `{"StringNotEquals":{"aws:PrincipalTag/team":"blue"}}`, ctx{team: {}}, true},
		{"equals empty slice is absent", `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, ctx{team: {}}, false},
		{"ignore case", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}`, one(team, "blue"), true},
		{"ignore case unicode", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"ÉQUIPE"}}`, one(team, "équipe"), true},
		{"ignore case mismatch", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}`, one(team, "blues"), false},
		{"ignore case absent", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}`, nil, false},
		{"not ignore case matching", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}`, one(team, "blue"), false},
		{"not ignore case other", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}`, one(team, "red"), true},
		{"not ignore case absent", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}`, nil, true},
		{"like star", `{"StringLike":{"s3:prefix":"home/alice/*"}}`, one("s3:prefix", "home/alice/docs/x"), true},
		{"like star empty", `{"StringLike":{"s3:prefix":"home/alice/*"}}`, one("s3:prefix", "home/alice/"), true},
		{"like question", `{"StringLike":{"s3:prefix":"v?"}}`, one("s3:prefix", "v1"), true},
		{"like question needs one", `{"StringLike":{"s3:prefix":"v?"}}`, one("s3:prefix", "v"), false},
		{"like case-sensitive", `{"StringLike":{"s3:prefix":"Home/*"}}`, one("s3:prefix", "home/x"), false},
		{"like inner stars", `{"StringLike":{"s3:prefix":"*a*b*c"}}`, one("s3:prefix", "xxaxxbxbxxc"), true},
		{"like inner stars no match", `{"StringLike":{"s3:prefix":"*a*b*c"}}`, one("s3:prefix", "xxaxxcxxb"), false},
		{"like absent", `{"StringLike":{"s3:prefix":"*"}}`, nil, false},
		{"not like matching", `{"StringNotLike":{"s3:prefix":["home/*","tmp/*"]}}`, one("s3:prefix", "tmp/x"), false},
		{"not like other", `{"StringNotLike":{"s3:prefix":["home/*","tmp/*"]}}`, one("s3:prefix", "etc/x"), true},
		{"not like absent", `{"StringNotLike":{"s3:prefix":"home/*"}}`, nil, true},
		{"keys are ANDed: one missing", `{"StringEquals":{"s:x":"1","s:y":"2"}}`, one("s:x", "1"), false},
		{"keys are ANDed: both", `{"StringEquals":{"s:x":"1","s:y":"2"}}`, ctx{"s:x": {"1"}, "s:y": {"2"}}, true},
		{"operators are ANDed: one fails", `{"StringEquals":{"s:x":"1"},"StringLike":{"s:y":"a*"}}`, ctx{"s:x": {"1"}, "s:y": {"b"}}, false},
		{"operators are ANDed: both hold", `{"StringEquals":{"s:x":"1"},"StringLike":{"s:y":"a*"}}`, ctx{"s:x": {"1"}, "s:y": {"ab"}}, true},
		{"empty condition block", `{}`, nil, true},
		{"operator name case-insensitive", `{"stringequals":{"s:x":"1"}}`, one("s:x", "1"), true},
	})
}

func TestIfExists(t *testing.T) {
	team := "aws:principaltag/team"
	runCondCases(t, []condCase{
		{"StringEqualsIfExists absent", `{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}`, nil, true},
		{"StringEqualsIfExists present match", `{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}`, one(team, "blue"), true},
		{"StringEqualsIfExists present mismatch", `{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}`, one(team, "red"), false},
		{"StringNotEqualsIfExists absent", `{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}`, nil, true},
		{"StringNotEqualsIfExists present match", `{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}`, one(team, "blue"), false},
		{"StringLikeIfExists absent", `{"StringLikeIfExists":{"s3:prefix":"a*"}}`, nil, true},
		{"NumericLessThanIfExists absent", `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}`, nil, true},
		{"NumericLessThanIfExists too old", `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}`, one("aws:MultiFactorAuthAge", "7200"), false},
		{"DateLessThanIfExists absent", `{"DateLessThanIfExists":{"aws:TokenIssueTime":"2026-01-01"}}`, nil, true},
		{"BoolIfExists absent", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, nil, true},
		{"BoolIfExists false", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, one("aws:MultiFactorAuthPresent", "false"), false},
		{"IpAddressIfExists absent", `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, nil, true},
		{"NotIpAddressIfExists inside", `{"NotIpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, one("aws:SourceIp", "10.1.1.1"), false},
		{"ArnLikeIfExists absent", `{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::x"}}`, nil, true},
		{"BinaryEqualsIfExists absent", `{"BinaryEqualsIfExists":{"s:b":"QQ=="}}`, nil, true},
	})
}

func TestNumericConditions(t *testing.T) {
	k := "s:n"
	runCondCases(t, []condCase{
		{"equals", `{"NumericEquals":{"s:n":"10"}}`, one(k, "10"), true},
		{"equals decimal", `{"NumericEquals":{"s:n":10}}`, one(k, "10.0"), true},
		{"equals mismatch", `{"NumericEquals":{"s:n":10}}`, one(k, "11"), false},
		{"equals absent", `{"NumericEquals":{"s:n":10}}`, nil, false},
		{"equals non-numeric request", `{"NumericEquals":{"s:n":10}}`, one(k, "ten"), false},
		{"not equals", `{"NumericNotEquals":{"s:n":[10,20]}}`, one(k, "11"), true},
		{"not equals one of", `{"NumericNotEquals":{"s:n":[10,20]}}`, one(k, "20"), false},
		{"not equals absent", `{"NumericNotEquals":{"s:n":10}}`, nil, true},
		{"less than", `{"NumericLessThan":{"s:n":10}}`, one(k, "9.5"), true},
		{"less than equal boundary", `{"NumericLessThan":{"s:n":10}}`, one(k, "10"), false},
		{"less than negative", `{"NumericLessThan":{"s:n":"-1"}}`, one(k, "-2"), true},
		{"less than equals", `{"NumericLessThanEquals":{"s:n":10}}`, one(k, "10"), true},
		{"less than equals above", `{"NumericLessThanEquals":{"s:n":10}}`, one(k, "10.01"), false},
		{"greater than", `{"NumericGreaterThan":{"s:n":10}}`, one(k, "11"), true},
		{"greater than boundary", `{"NumericGreaterThan":{"s:n":10}}`, one(k, "10"), false},
		{"greater than equals", `{"NumericGreaterThanEquals":{"s:n":"1e1"}}`, one(k, "10"), true},
		{"greater than equals below", `{"NumericGreaterThanEquals":{"s:n":10}}`, one(k, "9"), false},
		{"greater than absent", `{"NumericGreaterThan":{"s:n":10}}`, nil, false},
	})
}

func TestDateConditions(t *testing.T) {
	k := "aws:currenttime"
	runCondCases(t, []condCase{
		{"less than iso", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, one(k, "2025-12-31T23:59:59Z"), true},
		{"less than iso boundary", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, one(k, "2026-01-01T00:00:00Z"), false},
		{"less than epoch request", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, one(k, "1767225599"), true},
		{"less than epoch policy", `{"DateLessThan":{"aws:CurrentTime":1767225600}}`, one(k, "2025-12-31T23:59:59Z"), true},
		{"less than date only", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}`, one(k, "2025-12-31T23:59:59.999Z"), true},
		{"less than equals", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, one(k, "2026-01-01T00:00:00Z"), true},
		{"equals with offset", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}`, one(k, "2026-01-01T00:00:00Z"), true},
		{"equals with fraction", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00.5Z"}}`, one(k, "1767225600.5"), true},
		{"equals fraction differs", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00.5Z"}}`, one(k, "1767225600"), false},
		{"not equals", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, one(k, "2026-01-02T00:00:00Z"), true},
		{"not equals same instant", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, one(k, "2025-12-31T19:00:00-05:00"), false},
		{"not equals absent", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, nil, true},
		{"greater than", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01"}}`, one(k, "2026-01-01T00:00:01Z"), true},
		{"greater than equals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01T00:00Z"}}`, one(k, "2026-01-01T00:00:00Z"), true},
		{"greater than absent", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}`, nil, false},
		{"unparsable request date", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}`, one(k, "tomorrow"), false},
		{"far future", `{"DateLessThan":{"aws:CurrentTime":"9999-12-31T23:59:59Z"}}`, one(k, "2026-01-01T00:00:00Z"), true},
	})
}

func TestBoolBinaryNull(t *testing.T) {
	k := "aws:securetransport"
	runCondCases(t, []condCase{
		{"bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, one(k, "true"), true},
		{"bool json true", `{"Bool":{"aws:SecureTransport":true}}`, one(k, "TRUE"), true},
		{"bool false", `{"Bool":{"aws:SecureTransport":"true"}}`, one(k, "false"), false},
		{"bool absent", `{"Bool":{"aws:SecureTransport":"false"}}`, nil, false},
		{"binary equal", `{"BinaryEquals":{"s:b":"QmluYXJ5VmFsdWU="}}`, one("s:b", "QmluYXJ5VmFsdWU="), true},
		{"binary differ", `{"BinaryEquals":{"s:b":"QmluYXJ5VmFsdWU="}}`, one("s:b", "QmluYXJ5VmFsdWf="), false},
		{"binary not base64", `{"BinaryEquals":{"s:b":"QmluYXJ5VmFsdWU="}}`, one("s:b", "BinaryValue"), false},
		{"binary absent", `{"BinaryEquals":{"s:b":"QQ=="}}`, nil, false},
		{"null true absent", `{"Null":{"aws:TokenIssueTime":"true"}}`, nil, true},
		{"null true present", `{"Null":{"aws:TokenIssueTime":"true"}}`, one("aws:tokenissuetime", "2026-01-01T00:00:00Z"), false},
		{"null false present", `{"Null":{"aws:TokenIssueTime":false}}`, one("aws:tokenissuetime", "2026-01-01T00:00:00Z"), true},
		{"null false absent", `{"Null":{"aws:TokenIssueTime":"false"}}`, nil, false},
		{"null caller-derived key", `{"Null":{"aws:username":"false"}}`, nil, true},
	})
}

func TestIPConditions(t *testing.T) {
	k := "aws:sourceip"
	runCondCases(t, []condCase{
		{"in cidr", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, one(k, "203.0.113.7"), true},
		{"out of cidr", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, one(k, "203.0.114.1"), false},
		{"host bits in cidr", `{"IpAddress":{"aws:SourceIp":"203.0.113.9/24"}}`, one(k, "203.0.113.200"), true},
		{"bare ip", `{"IpAddress":{"aws:SourceIp":"198.51.100.5"}}`, one(k, "198.51.100.5"), true},
		{"bare ip other", `{"IpAddress":{"aws:SourceIp":"198.51.100.5"}}`, one(k, "198.51.100.6"), false},
		{"ipv6", `{"IpAddress":{"aws:SourceIp":"2001:DB8::/32"}}`, one(k, "2001:db8:1::1"), true},
		{"ipv6 outside", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, one(k, "2001:db9::1"), false},
		{"v4-mapped request", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, one(k, "::ffff:203.0.113.7"), true},
		{"v4 request vs v6 cidr", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, one(k, "203.0.113.7"), false},
		{"list", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}`, one(k, "10.9.8.7"), true},
		{"not a request ip", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, one(k, "localhost"), false},
		{"absent", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, nil, false},
		{"not ip outside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, one(k, "198.51.100.1"), true},
		{"not ip inside", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}`, one(k, "203.0.113.1"), false},
		{"not ip absent", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, true},
	})
}

func TestArnConditions(t *testing.T) {
	k := "aws:sourcearn"
	runCondCases(t, []condCase{
		{"like", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*:role/admin-*"}}`, one(k, "arn:aws:iam::111122223333:role/admin-x"), true},
		{"like other role", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*:role/admin-*"}}`, one(k, "arn:aws:iam::111122223333:role/dev"), false},
		{"like star does not cross colons", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*:x"}}`, one(k, "arn:aws:iam::1:2:x"), false},
		{"like resource part keeps colons", `{"ArnLike":{"aws:SourceArn":"arn:aws:logs:*:*:log-group:*"}}`, one(k, "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s"), true},
		{"like question", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket-?"}}`, one(k, "arn:aws:s3:::bucket-1"), true},
		{"like case-sensitive", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::Bucket"}}`, one(k, "arn:aws:s3:::bucket"), false},
		{"like not an arn", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}`, one(k, "bucket"), false},
		{"like star alone", `{"ArnLike":{"aws:SourceArn":"*"}}`, one(k, "arn:aws:s3:::bucket"), true},
		{"equals exact", `{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bucket"}}`, one(k, "arn:aws:s3:::bucket"), true},
		{"equals takes wildcards too", `{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::b*"}}`, one(k, "arn:aws:s3:::bucket"), true},
		{"equals prefix only", `{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bucket"}}`, one(k, "arn:aws:s3:::bucket2"), false},
		{"like absent", `{"ArnLike":{"aws:SourceArn":"*"}}`, nil, false},
		{"not like matching", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::*"}}`, one(k, "arn:aws:s3:::x"), false},
		{"not like other", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::*"}}`, one(k, "arn:aws:sqs:us-east-1:1:q"), true},
		{"not like absent", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::*"}}`, nil, true},
		{"not equals other", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::a"}}`, one(k, "arn:aws:s3:::b"), true},
		{"not equals absent", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::a"}}`, nil, true},
	})
}

func TestSetOperators(t *testing.T) {
	tk := "aws:tagkeys"
	runCondCases(t, []condCase{
		{"any: one matches", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx{tk: {"x", "env"}}, true},
		{"any: none matches", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx{tk: {"x", "y"}}, false},
		{"any: absent", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, nil, false},
		{"any: empty", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, ctx{tk: {}}, false},
		{"any IfExists: absent", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}`, nil, true},
		{"all: subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx{tk: {"env", "team"}}, true},
		{"all: one outside", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx{tk: {"env", "x"}}, false},
		{"all: absent", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, nil, true},
		{"all: empty", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, ctx{tk: {}}, true},
		{"all like", `{"ForAllValues:StringLike":{"aws:TagKeys":["cost-*","env"]}}`, ctx{tk: {"cost-center", "env"}}, true},
		{"all like: one outside", `{"ForAllValues:StringLike":{"aws:TagKeys":["cost-*"]}}`, ctx{tk: {"cost-center", "env"}}, false},
		{"any not equals: some value outside", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env","team"]}}`, ctx{tk: {"env", "x"}}, true},
		{"any not equals: all inside", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env","team"]}}`, ctx{tk: {"env", "team"}}, false},
		{"any not equals: absent", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, nil, false},
		{"all not equals: none inside", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, ctx{tk: {"env", "x"}}, true},
		{"all not equals: one inside", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, ctx{tk: {"env", "secret"}}, false},
		{"all not equals: absent", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, nil, true},
		{"all ignore case", `{"ForAllValues:StringEqualsIgnoreCase":{"aws:TagKeys":["ENV"]}}`, ctx{tk: {"env", "Env"}}, true},
		{"all numeric", `{"ForAllValues:NumericLessThan":{"s:n":10}}`, ctx{"s:n": {"1", "9"}}, true},
		{"all numeric: one too big", `{"ForAllValues:NumericLessThan":{"s:n":10}}`, ctx{"s:n": {"1", "19"}}, false},
		{"any arn", `{"ForAnyValue:ArnLike":{"aws:CalledVia":"arn:aws:s3:::*"}}`, ctx{"aws:calledvia": {"arn:aws:sqs:r:1:q", "arn:aws:s3:::b"}}, true},
		// A multi-valued key without a set operator: positive operators
		// need one value to match; negated operators need no value to match.
		{"plain equals multi-valued", `{"StringEquals":{"aws:TagKeys":"env"}}`, ctx{tk: {"x", "env"}}, true},
		{"plain equals multi-valued none", `{"StringEquals":{"aws:TagKeys":"env"}}`, ctx{tk: {"x", "y"}}, false},
		{"plain not equals multi-valued with match", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, ctx{tk: {"x", "env"}}, false},
		{"plain not equals multi-valued without match", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, ctx{tk: {"x", "y"}}, true},
		{"plain not like multi-valued", `{"StringNotLike":{"aws:TagKeys":"e*"}}`, ctx{tk: {"x", "env"}}, false},
		{"plain not ip multi-valued", `{"NotIpAddress":{"s:ips":"10.0.0.0/8"}}`, ctx{"s:ips": {"192.0.2.1", "10.0.0.1"}}, false},
	})
}

func TestConditionCallerKeys(t *testing.T) {
	// Caller fields stand in for the aws:username, aws:userid,
	// aws:PrincipalAccount and aws:PrincipalArn keys unless the context
	// has them.
	tests := []struct {
		name   string
		cond   string
		caller Caller
		ctx    ctx
		want   bool
	}{
		{"username", `{"StringEquals":{"aws:username":"alice"}}`, alice, nil, true},
		{"username other", `{"StringEquals":{"aws:username":"alice"}}`, bob, nil, false},
		{"username absent for role session", `{"StringEquals":{"aws:username":"alice"}}`, session, nil, false},
		{"context overrides caller", `{"StringEquals":{"aws:username":"alice"}}`, bob, one("aws:username", "alice"), true},
		{"userid", `{"StringLike":{"aws:userid":"AROADEPLOYER:*"}}`, session, nil, true},
		{"principal account", `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`, alice, nil, true},
		{"principal account other", `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`, outside, nil, false},
		{"principal arn user", `{"ArnEquals":{"aws:PrincipalArn":"` + aliceARN + `"}}`, alice, nil, true},
		{"principal arn of session is the role", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ops/*"}}`, session, nil, true},
		{"principal service name", `{"StringEquals":{"aws:PrincipalServiceName":"acm.amazonaws.com"}}`, acmSvc, nil, true},
		{"service has no account", `{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}`, acmSvc, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := condHolds(t, tc.cond, tc.caller, tc.ctx); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
