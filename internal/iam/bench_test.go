package iam

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkAuthorize measures one authorization decision for a user with 20
// attached customer managed policies of 10 statements each, with the
// request's condition keys (tags, source IP, time) as a real request has
// them. Policies come from the cache, as they do after the first request.
func BenchmarkAuthorize(b *testing.B) {
	s, _ := newService(b)
	ctx := context.Background()
	res, err := s.Bootstrap(ctx)
	if err != nil {
		b.Fatal(err)
	}
	admin, err := s.LookupAccessKey(ctx, res.AccessKeyID)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreatePrincipal(ctx, admin.Principal, PrincipalInput{Kind: KindUser, Name: "bench", Tags: map[string]string{"team": "payments"}}); err != nil {
		b.Fatal(err)
	}
	for i := range MaxAttachedPolicies {
		var st []string
		for j := range 10 {
			switch j % 4 {
			case 0:
				st = append(st, fmt.Sprintf(`{"Effect":"Allow","Action":["acm-pca:Describe*","acm-pca:List*"],"Resource":"arn:aws:acm-pca:us-east-1:%s:certificate-authority/%d-%d-*"}`, res.Account, i, j))
			case 1:
				st = append(st, fmt.Sprintf(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:%s:secret:${aws:username}/%d/%d/*"}`, res.Account, i, j))
			case 2:
				st = append(st, fmt.Sprintf(`{"Effect":"Allow","Action":"secretsmanager:Describe*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}","aws:ResourceTag/env":"env-%d"}}}`, j))
			default:
				st = append(st, fmt.Sprintf(`{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.%d.0.0/16"}}}`, i))
			}
		}
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(st, ",") + `]}`
		pol, err := s.CreatePolicy(ctx, admin.Principal, fmt.Sprintf("bench-%d", i), "/", doc, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := s.AttachPolicy(ctx, admin.Principal, KindUser, "bench", pol.ARN); err != nil {
			b.Fatal(err)
		}
	}
	user, _, err := s.CreateAccessKey(ctx, admin.Principal, "bench")
	if err != nil {
		b.Fatal(err)
	}
	cred, err := s.LookupAccessKey(ctx, user.ID)
	if err != nil {
		b.Fatal(err)
	}
	rctx := WithRequestInfo(ctx, RequestInfo{SourceIP: "192.0.2.10", SecureTransport: true, UserAgent: "bench"})
	// A request no statement allows: every statement of every policy is
	// evaluated (the worst case).
	req := Request{Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:us-east-1:" + res.Account + ":secret:other/db-AbCdEf",
		ResourceTags: map[string]string{"team": "payments", "env": "prod"}}
	if err := s.Authorize(rctx, cred.Principal, req); err == nil {
		b.Fatal("allowed a request no statement allows")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Authorize(rctx, cred.Principal, req)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/authz")
}
