package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// TestClusterPoliciesAndDelivery runs two nodes over one PostgreSQL
// database: a Deny attached through one node is enforced by the other
// within the policy cache's 5 s, and events put through both nodes reach a
// webhook exactly once each (only the lease holder delivers).
func TestClusterPoliciesAndDelivery(t *testing.T) {
	nodes, _ := startCluster(t, 2, "scheduler:\n  job_interval: 200ms\n")
	envA, envB := &sigiltest.Env{URL: nodes[0].proc.URL}, &sigiltest.Env{URL: nodes[1].proc.URL}
	ctx := context.Background()
	adminA := newCaller(envA, iam.DevAccount, "arn:aws:iam::000000000000:root", "test", "test", "")
	w := &iamWorld{t: t, env: envA, admin: adminA}
	u := w.user("lister", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"}]}`)
	onB := newCaller(envB, u.account, u.arn, u.key, u.secret, "")
	if _, err := onB.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("node B before the deny: %v", err)
	}
	w.attach("User", "lister", []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:ListSecrets","Resource":"*"}]}`})
	start := time.Now()
	waitUntil(t, "node B enforcing the deny", 8*time.Second, func() bool {
		_, err := onB.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
		return err != nil
	})
	t.Logf("the deny reached node B after %s", time.Since(start).Round(100*time.Millisecond))

	h := newHook(t, "cluster-key-9d2f", 0)
	ebA := eventbridge.NewFromConfig(sigiltest.AWSConfig("test", "test", "us-east-1", nil), func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(envA.URL) })
	ebB := eventbridge.NewFromConfig(sigiltest.AWSConfig("test", "test", "us-east-1", nil), func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(envB.URL) })
	conn, err := ebA.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("c"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String("cluster-key-9d2f")}}})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := ebA.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("c"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(h.srv.URL + "/c"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ebA.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("c"), EventPattern: aws.String(`{"source":["com.example.cluster"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ebB.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("c"), Targets: []ebtypes.Target{{Id: aws.String("c"), Arn: dest.ApiDestinationArn}}}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		eb := ebA
		if i%2 == 1 {
			eb = ebB
		}
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String("com.example.cluster"), DetailType: aws.String("T"), Detail: aws.String(fmt.Sprintf(`{"i":%d}`, i))}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents %d: %v", i, err)
		}
		ids[*out.Entries[0].EventId] = true
	}
	waitUntil(t, "every event delivered", 20*time.Second, func() bool { return len(h.deliveries("/c")) >= n })
	time.Sleep(time.Second)
	got := h.deliveries("/c")
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.id] || !ids[d.id] {
			t.Fatalf("delivery of %s: duplicate or unknown (%d deliveries for %d events)", d.id, len(got), n)
		}
		seen[d.id] = true
	}
	if len(got) != n {
		t.Fatalf("%d deliveries for %d events", len(got), n)
	}
}
