package policy

import (
	"fmt"
	"testing"
)

// benchPolicies builds 20 policies of 10 statements each, a mix of what
// identity and resource policies in a Sigil deployment look like: wildcard
// actions, ARN patterns with policy variables, tag and source-IP
// conditions, a few Deny statements.
func benchPolicies(tb testing.TB) []*Policy {
	var out []*Policy
	for i := 0; i < 20; i++ {
		stmts := []string{
			fmt.Sprintf(`{"Sid":"Read%d","Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"arn:aws:secretsmanager:*:111122223333:secret:app%d/*"}`, i, i),
			`{"Effect":"Allow","Action":"secretsmanager:List*","Resource":"*"}`,
			`{"Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"arn:aws:kms:us-east-1:111122223333:key/*","Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}`,
			`{"Effect":"Allow","Action":"secretsmanager:*","Resource":"arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:home/${aws:username}/*"}`,
			fmt.Sprintf(`{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:team/*","Condition":{"StringEquals":{"aws:ResourceTag/env":"env%d"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}`, i),
			`{"Effect":"Allow","Action":["acm-pca:IssueCertificate","acm-pca:GetCertificate"],"Resource":"arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/*","Condition":{"StringLike":{"acm-pca:TemplateArn":"arn:aws:acm-pca:::template/EndEntityCertificate/V*"}}}`,
			`{"Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/protected":"true"}}}`,
			`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
			`{"Effect":"Allow","Action":"secretsmanager:*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team, 'none'}/*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}`,
			`{"Effect":"Deny","NotAction":["secretsmanager:*","kms:*","acm:*","acm-pca:*"],"Resource":"*"}`,
		}
		out = append(out, mustParse(tb, doc(stmts...), Identity))
	}
	return out
}

func benchRequest() *Request {
	return &Request{
		Caller:   alice,
		Action:   "secretsmanager:GetSecretValue",
		Resource: secretARN,
		Context: map[string][]string{
			"aws:resourcetag/env":   {"env19"},
			"aws:resourcetag/team":  {"alice"},
			"aws:principaltag/team": {"blue"},
			"aws:sourceip":          {"10.20.30.40"},
			"aws:securetransport":   {"true"},
			"aws:currenttime":       {"2026-01-01T00:00:00Z"},
		},
	}
}

// BenchmarkEvaluate evaluates one request against all 20 policies, the way
// an authorizer does (it cannot stop early: a later Deny would win).
func BenchmarkEvaluate(b *testing.B) {
	pols := benchPolicies(b)
	r := benchRequest()
	// Sanity: the request is allowed by the team/* statement of the last
	// policy only (env19), and nothing denies it.
	var allows, denies int
	for _, p := range pols {
		switch p.Evaluate(r) {
		case Allow:
			allows++
		case Deny:
			denies++
		}
	}
	if allows != 1 || denies != 0 {
		b.Fatalf("allows=%d denies=%d, want 1 and 0", allows, denies)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		decision := NoMatch
		for _, p := range pols {
			if d := p.Evaluate(r); d > decision {
				decision = d
			}
		}
		if decision != Allow {
			b.Fatal(decision)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "us/authz")
}

func BenchmarkParse(b *testing.B) {
	d := doc(
		`{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"arn:aws:secretsmanager:*:111122223333:secret:app/*"}`,
		`{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:team/${aws:username}/*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(d, Identity); err != nil {
			b.Fatal(err)
		}
	}
}
