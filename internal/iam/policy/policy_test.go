package policy

import (
	"errors"
	"strings"
	"testing"
)

const (
	acct      = "111122223333"
	otherAcct = "444455556666"
	aliceARN  = "arn:aws:iam::111122223333:user/eng/alice"
	roleARN   = "arn:aws:iam::111122223333:role/ops/Deployer"
	sessARN   = "arn:aws:sts::111122223333:assumed-role/Deployer/build-42"
	secretARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:team/alice/db-AbCdEf"
)

var (
	alice   = Caller{Account: acct, ARN: aliceARN, UserName: "alice", UserID: "AIDAALICE"}
	bob     = Caller{Account: acct, ARN: "arn:aws:iam::111122223333:user/bob", UserName: "bob", UserID: "AIDABOB"}
	session = Caller{Account: acct, ARN: sessARN, RoleARN: roleARN, UserID: "AROADEPLOYER:build-42"}
	outside = Caller{Account: otherAcct, ARN: "arn:aws:iam::444455556666:user/mallory", UserName: "mallory"}
	acmSvc  = Caller{Service: "acm.amazonaws.com"}
	anon    = Caller{}
)

func mustParse(t testing.TB, doc string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse(doc, kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v (%+v)", doc, err, problemsOf(err))
	}
	return p
}

func problemsOf(err error) []Problem {
	var se *SyntaxError
	if errors.As(err, &se) {
		return se.Problems
	}
	return nil
}

// doc wraps statements into a 2012-10-17 policy.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func TestParseErrors(t *testing.T) {
	allow := `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`
	tests := []struct {
		name  string
		doc   string
		kind  Kind
		check string
	}{
		{"not json", `{"Version":`, Identity, "SYNTAX_ERROR"},
		{"garbage", `hello`, Identity, "SYNTAX_ERROR"},
		{"top-level array", `[` + allow + `]`, Identity, "SYNTAX_ERROR"},
		{"trailing data", doc(allow) + `{}`, Identity, "SYNTAX_ERROR"},
		{"unknown top-level element", `{"Version":"2012-10-17","Foo":1,"Statement":` + allow + `}`, Identity, "SYNTAX_ERROR"},
		{"unknown statement element", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Effects":"x"}`), Identity, "SYNTAX_ERROR"},
		{"statement is a string", `{"Version":"2012-10-17","Statement":"x"}`, Identity, "SYNTAX_ERROR"},
		{"statement element not object", doc(`"x"`), Identity, "SYNTAX_ERROR"},
		{"Sid not a string", doc(`{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}`), Identity, "SYNTAX_ERROR"},
		{"Id not a string", `{"Version":"2012-10-17","Id":5,"Statement":` + allow + `}`, Identity, "SYNTAX_ERROR"},
		{"Action and NotAction", doc(`{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}`), Identity, "SYNTAX_ERROR"},
		{"Resource and NotResource", doc(`{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}`), Identity, "SYNTAX_ERROR"},
		{"Principal and NotPrincipal", doc(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*","Resource":"*"}`), Resource, "SYNTAX_ERROR"},
		{"duplicate key", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}}`, Identity, "SYNTAX_ERROR"},
		{"Action is a number", doc(`{"Effect":"Allow","Action":5,"Resource":"*"}`), Identity, "SYNTAX_ERROR"},
		{"Action array with a number", doc(`{"Effect":"Allow","Action":["s3:GetObject",5],"Resource":"*"}`), Identity, "SYNTAX_ERROR"},
		{"too large", `{"Version":"2012-10-17","Id":"` + strings.Repeat("x", maxDocSize) + `","Statement":` + allow + `}`, Identity, "SYNTAX_ERROR"},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), Identity, "SYNTAX_ERROR"},
		{"unknown kind", doc(allow), Kind(9), "SYNTAX_ERROR"},

		{"no Statement", `{"Version":"2012-10-17"}`, Identity, "MISSING_FIELD"},
		{"empty Statement", `{"Version":"2012-10-17","Statement":[]}`, Identity, "MISSING_FIELD"},
		{"no Effect", doc(`{"Action":"*","Resource":"*"}`), Identity, "MISSING_FIELD"},
		{"no Action", doc(`{"Effect":"Allow","Resource":"*"}`), Identity, "MISSING_FIELD"},
		{"empty Action", doc(`{"Effect":"Allow","Action":[],"Resource":"*"}`), Identity, "MISSING_FIELD"},
		{"no Resource in identity policy", doc(`{"Effect":"Allow","Action":"*"}`), Identity, "MISSING_FIELD"},
		{"no Resource in resource policy", doc(`{"Effect":"Allow","Principal":"*","Action":"*"}`), Resource, "MISSING_FIELD"},
		{"no Principal in resource policy", doc(allow), Resource, "MISSING_FIELD"},
		{"no Principal in trust policy", doc(`{"Effect":"Allow","Action":"sts:AssumeRole"}`), Trust, "MISSING_FIELD"},

		{"bad Version", `{"Version":"2020-01-01","Statement":` + allow + `}`, Identity, "INVALID_VERSION"},
		{"numeric Version", `{"Version":2012,"Statement":` + allow + `}`, Identity, "INVALID_VERSION"},

		{"lower-case effect", doc(`{"Effect":"allow","Action":"*","Resource":"*"}`), Identity, "INVALID_EFFECT"},
		{"effect not a string", doc(`{"Effect":true,"Action":"*","Resource":"*"}`), Identity, "INVALID_EFFECT"},

		{"unknown operator", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}`), Identity, "INVALID_CONDITION"},
		{"NullIfExists", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}`), Identity, "INVALID_CONDITION"},
		{"unknown set prefix", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}}`), Identity, "INVALID_CONDITION"},
		{"condition not object", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":"x"}`), Identity, "INVALID_CONDITION"},
		{"operator with no keys", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{}}}`), Identity, "INVALID_CONDITION"},
		{"key without colon", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}`), Identity, "INVALID_CONDITION"},
		{"value is object", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":1}}}}`), Identity, "INVALID_CONDITION"},
		{"value is null", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":null}}}`), Identity, "INVALID_CONDITION"},
		{"empty value array", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":[]}}}`), Identity, "INVALID_CONDITION"},
		{"bad number", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"ten"}}}`), Identity, "INVALID_CONDITION"},
		{"hex number", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"0x10"}}}`), Identity, "INVALID_CONDITION"},
		{"NaN", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"s:n":"NaN"}}}`), Identity, "INVALID_CONDITION"},
		{"variable in number", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"s:n":"${s:m}"}}}`), Identity, "INVALID_CONDITION"},
		{"bad date", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"yesterday"}}}`), Identity, "INVALID_CONDITION"},
		{"bad day", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2025-02-29"}}}`), Identity, "INVALID_CONDITION"},
		{"bad ip", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}`), Identity, "INVALID_CONDITION"},
		{"bad cidr", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), Identity, "INVALID_CONDITION"},
		{"bad base64", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"s:b":"!!!"}}}`), Identity, "INVALID_CONDITION"},
		{"bad bool", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}`), Identity, "INVALID_CONDITION"},
		{"bad null", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"maybe"}}}`), Identity, "INVALID_CONDITION"},
		{"same key twice in different case", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"a","AWS:UserName":"b"}}}`), Identity, "INVALID_CONDITION"},

		{"principal in identity policy", doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), Identity, "INVALID_PRINCIPAL"},
		{"principal ARN as string", doc(`{"Effect":"Allow","Principal":"` + aliceARN + `","Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal wildcard ARN", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal short account", doc(`{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal unknown type", doc(`{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal s3 ARN", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:s3:::bucket"},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal group ARN", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/admins"},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal bad service", doc(`{"Effect":"Allow","Principal":{"Service":"acm amazonaws com"},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal empty object", doc(`{"Effect":"Allow","Principal":{},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},
		{"principal empty list", doc(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"*","Resource":"*"}`), Resource, "INVALID_PRINCIPAL"},

		{"action without colon", doc(`{"Effect":"Allow","Action":"secretsmanager","Resource":"*"}`), Identity, "INVALID_ACTION"},
		{"action with space", doc(`{"Effect":"Allow","Action":"secrets manager:Get","Resource":"*"}`), Identity, "INVALID_ACTION"},
		{"action empty service", doc(`{"Effect":"Allow","Action":":GetSecretValue","Resource":"*"}`), Identity, "INVALID_ACTION"},
		{"action empty operation", doc(`{"Effect":"Allow","Action":"kms:","Resource":"*"}`), Identity, "INVALID_ACTION"},
		{"action two colons", doc(`{"Effect":"Allow","Action":"kms:Get:Key","Resource":"*"}`), Identity, "INVALID_ACTION"},
		{"trust non-sts action", doc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:GetObject"}`), Trust, "INVALID_ACTION"},
		{"trust star action", doc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"*"}`), Trust, "INVALID_ACTION"},
		{"trust NotAction", doc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"NotAction":"sts:AssumeRole"}`), Trust, "INVALID_ACTION"},

		{"resource not an ARN", doc(`{"Effect":"Allow","Action":"*","Resource":"my-secret"}`), Identity, "INVALID_RESOURCE"},
		{"resource short ARN", doc(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3"}`), Identity, "INVALID_RESOURCE"},
		{"NotResource not an ARN", doc(`{"Effect":"Allow","Action":"*","NotResource":["*","bucket"]}`), Identity, "INVALID_RESOURCE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.doc, tc.kind)
			if err == nil {
				t.Fatalf("Parse succeeded (%d statements), want %s", p.Statements(), tc.check)
			}
			if p != nil {
				t.Errorf("Parse returned a policy along with an error")
			}
			probs := problemsOf(err)
			if len(probs) == 0 {
				t.Fatalf("error %T %v carries no problems", err, err)
			}
			for _, pr := range probs {
				if pr.Check == tc.check {
					return
				}
			}
			t.Fatalf("problems %+v, want one with Check %s", probs, tc.check)
		})
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		kind  Kind
		stmts int
	}{
		{"single statement object", `{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`, Identity, 1},
		{"no version", `{"Statement":[{"Effect":"Deny","NotAction":["kms:*","secretsmanager:List*"],"NotResource":"arn:aws:kms:*:*:key/*"}]}`, Identity, 1},
		{"version 2008", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`, Identity, 2},
		{"key policy", doc(`{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`,
			`{"Effect":"Allow","Principal":{"AWS":["111122223333","`+roleARN+`","`+sessARN+`"],"Service":["acm.amazonaws.com"]},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com","kms:CallerAccount":"111122223333"}}}`), Resource, 2},
		{"trust policy without resource", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}}}`), Trust, 1},
		{"all operators", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
			"StringEquals":{"s:a":"x"},"StringNotEquals":{"s:a":"x"},"StringEqualsIgnoreCase":{"s:a":"x"},"StringNotEqualsIgnoreCase":{"s:a":"x"},
			"StringLike":{"s:a":"x*"},"StringNotLike":{"s:a":"x?"},
			"NumericEquals":{"s:n":1},"NumericNotEquals":{"s:n":"1.5"},"NumericLessThan":{"s:n":"-2"},"NumericLessThanEquals":{"s:n":"1e3"},"NumericGreaterThan":{"s:n":0},"NumericGreaterThanEquals":{"s:n":"+7"},
			"DateEquals":{"s:d":"2026-01-01"},"DateNotEquals":{"s:d":"1700000000"},"DateLessThan":{"s:d":"2026-01-01T00:00:00Z"},"DateLessThanEquals":{"s:d":"2026-01-01T00:00:00.123+02:00"},"DateGreaterThan":{"s:d":"2026-01"},"DateGreaterThanEquals":{"s:d":"2026-01-01T00:00Z"},
			"Bool":{"s:b":"TRUE"},"BinaryEquals":{"s:x":"QmluYXJ5VmFsdWU="},"IpAddress":{"s:ip":["10.0.0.0/8","2001:db8::/32","192.0.2.1"]},"NotIpAddress":{"s:ip":"::ffff:10.0.0.0/104"},
			"ArnEquals":{"s:arn":"arn:aws:iam::*:role/x"},"ArnLike":{"s:arn":"*"},"ArnNotEquals":{"s:arn":"arn:aws:iam::1:role/x"},"ArnNotLike":{"s:arn":"arn:*"},
			"Null":{"s:z":true},"StringEqualsIfExists":{"s:a":"x"},"ForAnyValue:StringLike":{"aws:TagKeys":"a*"},"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]},
			"forallvalues:numericlessthanifexists":{"s:n":5}}}`), Identity, 1},
		{"malformed variable is literal", doc(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username"}`), Identity, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.doc, tc.kind)
			if got := p.Statements(); got != tc.stmts {
				t.Fatalf("Statements() = %d, want %d", got, tc.stmts)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse(doc(`{"Effect":"allow","Action":"nope","Resource":"bad"}`), Identity)
	probs := problemsOf(err)
	if len(probs) != 3 {
		t.Fatalf("problems = %+v, want 3", probs)
	}
	want := probs[0].Message + " (and 2 more)"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	_, err = Parse(doc(`{"Effect":"Allow","Action":"nope","Resource":"*"}`), Identity)
	if msg := err.Error(); strings.Contains(msg, "more") || !strings.Contains(msg, `"nope"`) {
		t.Fatalf("single-problem Error() = %q", msg)
	}
}

func eval(t *testing.T, p *Policy, c Caller, action, resource string, ctx map[string][]string) Decision {
	t.Helper()
	return p.Evaluate(&Request{Caller: c, Action: action, Resource: resource, Context: ctx})
}

func TestActionMatching(t *testing.T) {
	p := mustParse(t, doc(`{"Effect":"Allow","Action":["secretsmanager:Get*","kms:?ncrypt","kms:Describe*Key","iam:GetUser"],"Resource":"*"}`), Identity)
	tests := []struct {
		action string
		want   Decision
	}{
		{"secretsmanager:GetSecretValue", Allow},
		{"SecretsManager:getsecretvalue", Allow}, // actions are case-insensitive
		{"secretsmanager:Get", Allow},            // * matches nothing too
		{"secretsmanager:PutSecretValue", NoMatch},
		{"secretsmanagerx:GetSecretValue", NoMatch},
		{"kms:Encrypt", Allow},
		{"kms:ReEncrypt", NoMatch}, // ? is exactly one character
		{"kms:ncrypt", NoMatch},
		{"kms:DescribeKey", Allow},
		{"kms:DescribeCustomKey", Allow},
		{"kms:DescribeKeys", NoMatch},
		{"iam:GetUser", Allow},
		{"IAM:GETUSER", Allow},
		{"iam:GetUsers", NoMatch},
		{"", NoMatch},
	}
	for _, tc := range tests {
		if got := eval(t, p, alice, tc.action, secretARN, nil); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.action, got, tc.want)
		}
	}

	star := mustParse(t, doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`), Identity)
	if got := eval(t, star, alice, "anything:AtAll", "*", nil); got != Allow {
		t.Errorf("Action * : got %v", got)
	}

	not := mustParse(t, doc(`{"Effect":"Allow","NotAction":["iam:*","kms:Delete*"],"Resource":"*"}`), Identity)
	for action, want := range map[string]Decision{
		"secretsmanager:GetSecretValue": Allow,
		"kms:Encrypt":                   Allow,
		"kms:DeleteAlias":               NoMatch,
		"IAM:CreateUser":                NoMatch,
	} {
		if got := eval(t, not, alice, action, "*", nil); got != want {
			t.Errorf("NotAction %q: got %v, want %v", action, got, want)
		}
	}
}

func TestResourceMatching(t *testing.T) {
	p := mustParse(t, doc(`{"Effect":"Allow","Action":"*","Resource":[
		"arn:aws:secretsmanager:*:111122223333:secret:team/*",
		"arn:aws:kms:us-east-1:111122223333:key/????",
		"arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/ca-1"]}`), Identity)
	tests := []struct {
		res  string
		want Decision
	}{
		{secretARN, Allow},
		{"arn:aws:secretsmanager:eu-west-1:111122223333:secret:team/x", Allow},
		{"arn:aws:secretsmanager:eu-west-1:111122223333:secret:Team/x", NoMatch}, // case-sensitive
		{"arn:aws:secretsmanager:eu-west-1:444455556666:secret:team/x", NoMatch},
		{"arn:aws:kms:us-east-1:111122223333:key/abcd", Allow},
		{"arn:aws:kms:us-east-1:111122223333:key/abc", NoMatch},
		{"arn:aws:kms:us-east-1:111122223333:key/abcde", NoMatch},
		{"arn:aws:kms:us-east-1:111122223333:key/ab€d", Allow}, // ? is one character, not one byte
		{"arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/ca-1", Allow},
		{"arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/ca-10", NoMatch},
		{"*", NoMatch},
	}
	for _, tc := range tests {
		if got := eval(t, p, alice, "secretsmanager:GetSecretValue", tc.res, nil); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.res, got, tc.want)
		}
	}

	not := mustParse(t, doc(`{"Effect":"Deny","Action":"*","NotResource":["arn:aws:kms:*:*:key/*","arn:aws:kms:*:*:alias/public-*"]}`), Identity)
	for res, want := range map[string]Decision{
		"arn:aws:kms:us-east-1:111122223333:key/1234":            NoMatch,
		"arn:aws:kms:us-east-1:111122223333:alias/public-x":      NoMatch,
		"arn:aws:kms:us-east-1:111122223333:alias/private":       Deny,
		"arn:aws:secretsmanager:us-east-1:111122223333:secret:x": Deny,
	} {
		if got := eval(t, not, alice, "kms:Decrypt", res, nil); got != want {
			t.Errorf("NotResource %q: got %v, want %v", res, got, want)
		}
	}
}

func TestPrincipals(t *testing.T) {
	callers := map[string]Caller{"alice": alice, "bob": bob, "session": session, "outside": outside, "acm": acmSvc, "anon": anon,
		"other-session": {Account: acct, ARN: "arn:aws:sts::111122223333:assumed-role/Other/s", RoleARN: "arn:aws:iam::111122223333:role/Other"}}
	tests := []struct {
		name      string
		principal string
		allowed   []string // the callers allowed; every other caller gets NoMatch
	}{
		{"star", `"Principal":"*"`, []string{"alice", "bob", "session", "outside", "acm", "anon", "other-session"}},
		{"AWS star", `"Principal":{"AWS":"*"}`, []string{"alice", "bob", "session", "outside", "acm", "anon", "other-session"}},
		{"account id", `"Principal":{"AWS":"111122223333"}`, []string{"alice", "bob", "session", "other-session"}},
		{"account root", `"Principal":{"AWS":"arn:aws:iam::111122223333:root"}`, []string{"alice", "bob", "session", "other-session"}},
		{"other account", `"Principal":{"AWS":["444455556666"]}`, []string{"outside"}},
		{"user", `"Principal":{"AWS":"` + aliceARN + `"}`, []string{"alice"}},
		{"role matches its sessions", `"Principal":{"AWS":"` + roleARN + `"}`, []string{"session"}},
		{"session", `"Principal":{"AWS":"` + sessARN + `"}`, []string{"session"}},
		{"service", `"Principal":{"Service":"acm.amazonaws.com"}`, []string{"acm"}},
		{"service upper case", `"Principal":{"Service":["ACM.amazonaws.com","kms.amazonaws.com"]}`, []string{"acm"}},
		{"mixed", `"Principal":{"AWS":["` + aliceARN + `","444455556666"],"Service":"acm.amazonaws.com"}`, []string{"alice", "outside", "acm"}},
		{"federated never matches", `"Principal":{"Federated":"cognito-identity.amazonaws.com"}`, nil},
		{"NotPrincipal user", `"NotPrincipal":{"AWS":"` + aliceARN + `"}`, []string{"bob", "session", "outside", "acm", "anon", "other-session"}},
		{"NotPrincipal account", `"NotPrincipal":{"AWS":"111122223333"}`, []string{"outside", "acm", "anon"}},
		{"NotPrincipal role", `"NotPrincipal":{"AWS":"` + roleARN + `"}`, []string{"alice", "bob", "outside", "acm", "anon", "other-session"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, doc(`{"Effect":"Allow",`+tc.principal+`,"Action":"secretsmanager:GetSecretValue","Resource":"*"}`), Resource)
			want := map[string]bool{}
			for _, n := range tc.allowed {
				want[n] = true
			}
			for name, c := range callers {
				exp := NoMatch
				if want[name] {
					exp = Allow
				}
				if got := eval(t, p, c, "secretsmanager:GetSecretValue", secretARN, nil); got != exp {
					t.Errorf("caller %s: got %v, want %v", name, got, exp)
				}
			}
		})
	}
}

func TestTrustPolicy(t *testing.T) {
	p := mustParse(t, doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"xyz"}}}`), Trust)
	ctx := map[string][]string{Key("sts:ExternalId"): {"xyz"}}
	if got := eval(t, p, alice, "sts:AssumeRole", roleARN, ctx); got != Allow {
		t.Errorf("AssumeRole: got %v", got)
	}
	if got := eval(t, p, alice, "sts:AssumeRole", roleARN, nil); got != NoMatch {
		t.Errorf("AssumeRole without external id: got %v", got)
	}
	if got := eval(t, p, outside, "sts:AssumeRole", roleARN, ctx); got != NoMatch {
		t.Errorf("AssumeRole from another account: got %v", got)
	}
	if got := eval(t, p, alice, "sts:GetCallerIdentity", roleARN, ctx); got != NoMatch {
		t.Errorf("other sts action: got %v", got)
	}
}

func TestDenyBeatsAllow(t *testing.T) {
	allow := `{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}`
	deny := `{"Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*"}`
	for _, d := range []string{doc(allow, deny), doc(deny, allow)} {
		p := mustParse(t, d, Identity)
		if got := eval(t, p, alice, "secretsmanager:DeleteSecret", secretARN, nil); got != Deny {
			t.Errorf("%s: DeleteSecret got %v, want Deny", d, got)
		}
		if got := eval(t, p, alice, "secretsmanager:GetSecretValue", secretARN, nil); got != Allow {
			t.Errorf("%s: GetSecretValue got %v, want Allow", d, got)
		}
		if got := eval(t, p, alice, "kms:Decrypt", secretARN, nil); got != NoMatch {
			t.Errorf("%s: kms:Decrypt got %v, want NoMatch", d, got)
		}
	}
	// A conditional Deny only denies when its condition holds.
	p := mustParse(t, doc(allow, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`), Identity)
	if got := eval(t, p, alice, "secretsmanager:GetSecretValue", secretARN, map[string][]string{"aws:securetransport": {"false"}}); got != Deny {
		t.Errorf("insecure transport: got %v", got)
	}
	if got := eval(t, p, alice, "secretsmanager:GetSecretValue", secretARN, map[string][]string{"aws:securetransport": {"true"}}); got != Allow {
		t.Errorf("secure transport: got %v", got)
	}
	var nilPolicy *Policy
	if nilPolicy.Evaluate(&Request{}) != NoMatch || p.Evaluate(nil) != NoMatch {
		t.Errorf("nil policy or request should be NoMatch")
	}
}

func TestKey(t *testing.T) {
	if got := Key("aws:PrincipalTag/Team"); got != "aws:principaltag/team" {
		t.Fatalf("Key = %q", got)
	}
}

func TestDecisionString(t *testing.T) {
	if NoMatch.String() != "NoMatch" || Allow.String() != "Allow" || Deny.String() != "Deny" || Decision(7).String() != "Decision(7)" {
		t.Fatal("Decision.String")
	}
	if Identity.String() != "identity" || Trust.String() != "trust" || Kind(5).String() != "Kind(5)" {
		t.Fatal("Kind.String")
	}
}

func TestGrantees(t *testing.T) {
	for _, c := range []struct {
		doc      string
		accounts []string
		everyone bool
	}{
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111111111111","arn:aws:iam::222222222222:root"]},"Action":"acm-pca:IssueCertificate","Resource":"*"},
			{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:role/issuer"},"Action":"acm-pca:GetCertificate","Resource":"*"},
			{"Effect":"Deny","Principal":{"AWS":"444444444444"},"Action":"*","Resource":"*"},
			{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"acm-pca:ListTags","Resource":"*"}]}`,
			[]string{"111111111111", "222222222222", "333333333333"}, false},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"acm-pca:GetCertificate","Resource":"*"}]}`, nil, true},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"111111111111"},"Action":"acm-pca:GetCertificate","Resource":"*"}]}`, nil, true},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"acm.amazonaws.com"},"Action":"acm-pca:GetCertificate","Resource":"*"}]}`, nil, false},
	} {
		p, err := Parse(c.doc, Resource)
		if err != nil {
			t.Fatal(err)
		}
		accounts, everyone := p.Grantees()
		if strings.Join(accounts, ",") != strings.Join(c.accounts, ",") || everyone != c.everyone {
			t.Errorf("%s: %v %v, want %v %v", c.doc, accounts, everyone, c.accounts, c.everyone)
		}
	}
}
