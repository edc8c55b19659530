package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	pcatypes "github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sigilhq/sigil/internal/api/webhook"
	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// hook is a webhook receiver: it verifies each delivery's HMAC signature
// with the connection's API key and records what it got, per path. The
// first failFirst deliveries to /flaky are answered 503.
type hook struct {
	t      *testing.T
	srv    *httptest.Server
	key    []byte
	mu     sync.Mutex
	got    map[string][]delivery
	flaky  int
	failed int
	down   bool // answer 503 to everything
	tried  int  // deliveries refused while down
	fixed  bool // /gone answers 200 (it answers 404 until then)
}

type delivery struct {
	id   string
	body map[string]any
	at   time.Time
}

func newHook(t *testing.T, key string, failFirst int) *hook {
	h := &hook{t: t, key: []byte(key), got: map[string][]delivery{}, flaky: failFirst}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(h.key, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("delivery to %s: %v", r.URL.Path, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Header.Get("X-Api-Key") != key {
			t.Errorf("delivery to %s without the connection's API key header", r.URL.Path)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.down {
			h.tried++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/gone" && !h.fixed {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if r.URL.Path == "/flaky" && h.failed < h.flaky {
			h.failed++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("delivery to %s is not a JSON object: %s", r.URL.Path, body)
		}
		h.got[r.URL.Path] = append(h.got[r.URL.Path], delivery{id: r.Header.Get(webhook.HeaderEventID), body: m, at: time.Now()})
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) deliveries(path string) []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]delivery(nil), h.got[path]...)
}

// TestEventBridgeDelivery wires ACM's expiry events to webhooks through
// the EventBridge API (a connection, API destinations, rules, targets) and
// drives them with the dev clock: one approaching-expiration event per day
// reaches the matching rule's webhook, signed; a rule whose pattern does
// not match gets nothing; a Slack-style target gets its text through an
// input transformer; a webhook that fails three times gets the event once
// more and then never again.
func TestEventBridgeDelivery(t *testing.T) {
	a := newACMEnv(t)
	eb := eventbridge.NewFromConfig(sigiltest.AWSConfig("test", "test", "us-east-1", nil), func(o *eventbridge.Options) {
		o.BaseEndpoint = aws.String(a.env.URL)
	})
	h := newHook(t, "hook-key-7f3a91", 3)

	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("hooks"),
		AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String("hook-key-7f3a91")}}})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("hooks")})
	if err != nil || dc.AuthParameters.ApiKeyAuthParameters == nil || aws.ToString(dc.AuthParameters.ApiKeyAuthParameters.ApiKeyName) != "X-Api-Key" {
		t.Fatalf("DescribeConnection: %v %v", dc, err)
	}
	dest := func(name, path string) string {
		out, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String(name), ConnectionArn: conn.ConnectionArn,
			InvocationEndpoint: aws.String(h.srv.URL + path), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
		if err != nil {
			t.Fatal(err)
		}
		return *out.ApiDestinationArn
	}
	rule := func(name, pattern string, targets ...ebtypes.Target) {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
			t.Fatal(err)
		}
		out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: targets})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutTargets %s: %v %+v", name, err, out)
		}
	}
	rule("expiring", `{"source":["aws.acm"],"detail-type":["ACM Certificate Approaching Expiration"],"detail":{"DaysToExpiry":[{"numeric":["<=",45]}]}}`,
		ebtypes.Target{Id: aws.String("hook"), Arn: aws.String(dest("expiring", "/expiring"))},
		ebtypes.Target{Id: aws.String("flaky"), Arn: aws.String(dest("flaky", "/flaky")),
			RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(5)}},
		ebtypes.Target{Id: aws.String("slack"), Arn: aws.String(dest("slack", "/slack")),
			InputTransformer: &ebtypes.InputTransformer{
				InputPathsMap: map[string]string{"arn": "$.resources[0]", "days": "$.detail.DaysToExpiry", "name": "$.detail.CommonName"},
				InputTemplate: aws.String(`{"text": "Certificate <name> (<arn>) expires in <days> days"}`)}})
	rule("expired", `{"source":["aws.acm"],"detail-type":["ACM Certificate Expired"]}`,
		ebtypes.Target{Id: aws.String("hook"), Arn: aws.String(dest("expired", "/expired"))})
	rule("other-account", `{"source":["aws.acm"],"account":["111111111111"]}`,
		ebtypes.Target{Id: aws.String("hook"), Arn: aws.String(dest("other", "/other"))})

	// Errors.
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"aws.acm"}`)})
	wantCode(t, err, "InvalidEventPatternException")
	bad, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("expired"), Targets: []ebtypes.Target{
		{Id: aws.String("lambda"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:f")}}})
	if err != nil || bad.FailedEntryCount != 1 || aws.ToString(bad.FailedEntries[0].ErrorCode) != "ValidationException" {
		t.Fatalf("a Lambda target: %v %+v", err, bad)
	}
	_, err = eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("missing")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("expired")})
	wantCode(t, err, "ValidationException") // it has targets
	rules, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String("exp")})
	if err != nil || len(rules.Rules) != 2 {
		t.Fatalf("ListRules: %v %v", rules, err)
	}
	tp, err := eb.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"detail":{"DaysToExpiry":[{"numeric":["<",30]}]}}`),
		Event: aws.String(`{"id":"1","source":"aws.acm","detail-type":"x","account":"000000000000","time":"2026-12-05T00:00:00Z","region":"us-east-1","resources":[],"detail":{"DaysToExpiry":31}}`)})
	if err != nil || tp.Result {
		t.Fatalf("TestEventPattern: %v %v", tp, err)
	}

	// A certificate 45 days (less a minute) from expiry: one event today.
	arn := a.request(t, "expiring.internal", nil)
	leaf := a.check(t, arn, time.Time{})
	advanceTo(t, a.env.URL, leaf.NotAfter.Add(-45*24*time.Hour+time.Minute))
	waitUntil(t, "the first delivery", 10*time.Second, func() bool { return len(h.deliveries("/expiring")) == 1 })
	first := h.deliveries("/expiring")[0]
	if first.body["detail-type"] != "ACM Certificate Approaching Expiration" || first.body["id"] != first.id ||
		first.body["resources"].([]any)[0] != arn {
		t.Fatalf("delivered event %v (id header %s)", first.body, first.id)
	}
	waitUntil(t, "the Slack message", 10*time.Second, func() bool { return len(h.deliveries("/slack")) == 1 })
	if text := h.deliveries("/slack")[0].body["text"]; text != "Certificate expiring.internal ("+arn+") expires in 44 days" {
		t.Fatalf("Slack text %q", text)
	}
	// The flaky webhook: three 503s, retried with backoff (the dev clock
	// moves past each wait), then delivered once.
	for i := 0; i < 4 && len(h.deliveries("/flaky")) == 0; i++ {
		time.Sleep(300 * time.Millisecond)
		advance(t, a.env.URL, "10s")
	}
	waitUntil(t, "the retried delivery", 10*time.Second, func() bool { return len(h.deliveries("/flaky")) == 1 })
	h.mu.Lock()
	failed := h.failed
	h.mu.Unlock()
	if failed != 3 {
		t.Fatalf("the flaky webhook failed %d times, want 3", failed)
	}
	if got := h.deliveries("/flaky")[0].id; got != first.id {
		t.Fatalf("the retried delivery has id %s, want the event's %s", got, first.id)
	}
	advance(t, a.env.URL, "2h")
	time.Sleep(time.Second)
	if n := len(h.deliveries("/expiring")); n != 1 {
		t.Fatalf("%d deliveries the first day", n)
	}
	// The next day: a second event, with a new id; still one per target.
	advance(t, a.env.URL, "24h")
	waitUntil(t, "the second day's delivery", 10*time.Second, func() bool { return len(h.deliveries("/expiring")) == 2 })
	time.Sleep(500 * time.Millisecond)
	if d := h.deliveries("/expiring"); d[1].id == d[0].id || d[1].body["detail"].(map[string]any)["DaysToExpiry"] != float64(43) {
		t.Fatalf("second day: %+v", d[1])
	}
	if n := len(h.deliveries("/flaky")); n != 2 {
		t.Fatalf("the flaky webhook got %d deliveries after two events", n)
	}
	if n := len(h.deliveries("/expired")) + len(h.deliveries("/other")); n != 0 {
		t.Fatalf("rules that do not match got %d deliveries", n)
	}
	// Disabled: nothing more.
	if _, err := eb.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("expiring")}); err != nil {
		t.Fatal(err)
	}
	advance(t, a.env.URL, "24h")
	time.Sleep(time.Second)
	if n := len(h.deliveries("/expiring")); n != 2 {
		t.Fatalf("a disabled rule delivered: %d", n)
	}

	// PutEvents: a custom event reaches a rule on its source.
	rule("custom", `{"source":[{"prefix":"com.example."}],"detail":{"kind":["deploy"]}}`,
		ebtypes.Target{Id: aws.String("hook"), Arn: aws.String(dest("custom", "/custom")), InputPath: aws.String("$.detail")})
	pe, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("com.example.ci"), DetailType: aws.String("Deploy"), Detail: aws.String(`{"kind":"deploy","app":"web"}`)},
		{Source: aws.String("com.example.ci"), DetailType: aws.String("Deploy"), Detail: aws.String(`{"kind":"build"}`)},
		{Source: aws.String("aws.acm"), DetailType: aws.String("Forged"), Detail: aws.String(`{}`)},
	}})
	if err != nil || pe.FailedEntryCount != 1 || pe.Entries[2].ErrorCode == nil || pe.Entries[0].EventId == nil {
		t.Fatalf("PutEvents: %v %+v", err, pe)
	}
	waitUntil(t, "the custom event", 10*time.Second, func() bool { return len(h.deliveries("/custom")) == 1 })
	if d := h.deliveries("/custom")[0]; d.body["app"] != "web" || d.id != *pe.Entries[0].EventId {
		t.Fatalf("custom delivery %+v", d)
	}
	if strings.Contains(a.env.LogText(), "hook-key-7f3a91") {
		t.Fatal("the connection's API key is in the server log")
	}
	// A target that answers 404 is not retried: it is dead-lettered at
	// once, and the delivery log (`sigil events deliveries`) shows it.
	rule("gone", `{"source":["com.example.gone"]}`, ebtypes.Target{Id: aws.String("gone"), Arn: aws.String(dest("gone", "/gone"))})
	gone, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("com.example.gone"), DetailType: aws.String("T"), Detail: aws.String(`{}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	sigilEvents := func(args ...string) string {
		cmd := exec.Command(sigiltest.Binary(t), append([]string{"events", "deliveries"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+a.env.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sigil events deliveries %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	waitUntil(t, "the dead-lettered delivery", 10*time.Second, func() bool {
		return strings.Contains(sigilEvents("--status", "FAILED"), *gone.Entries[0].EventId)
	})
	var log struct {
		Deliveries []struct {
			EventId, Status, RuleArn, TargetId string
			Attempts, LastStatusCode           int
		}
	}
	if err := json.Unmarshal([]byte(sigilEvents("--status", "FAILED", "--json")), &log); err != nil || len(log.Deliveries) != 1 ||
		log.Deliveries[0].Attempts != 1 || log.Deliveries[0].LastStatusCode != 404 || log.Deliveries[0].TargetId != "gone" {
		t.Fatalf("failed deliveries: %+v %v", log, err)
	}
	if err := json.Unmarshal([]byte(sigilEvents("--status", "DELIVERED", "--json")), &log); err != nil || len(log.Deliveries) < 6 {
		t.Fatalf("delivered: %+v %v", log, err)
	}
	if table := sigilEvents("--max", "3"); strings.Count(table, "\n") != 4 || !strings.Contains(table, "HTTP 404") {
		t.Fatalf("the table of the last three deliveries:\n%s", table)
	}

	// An API destination limited to one call a second gets them a second
	// apart.
	slow, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("slow"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(h.srv.URL + "/slow"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost, InvocationRateLimitPerSecond: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	rule("slow", `{"source":["com.example.slow"]}`, ebtypes.Target{Id: aws.String("slow"), Arn: slow.ApiDestinationArn})
	for i := 0; i < 3; i++ {
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String("com.example.slow"), DetailType: aws.String("T"), Detail: aws.String(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the rate-limited deliveries", 15*time.Second, func() bool { return len(h.deliveries("/slow")) == 3 })
	for i, d := range h.deliveries("/slow")[1:] {
		if gap := d.at.Sub(h.deliveries("/slow")[i].at); gap < 900*time.Millisecond {
			t.Fatalf("deliveries to a 1/s destination %s apart", gap)
		}
	}

	// Once the endpoint is fixed, a redrive sends the dead letter again.
	h.mu.Lock()
	h.fixed = true
	h.mu.Unlock()
	cmd := exec.Command(sigiltest.Binary(t), "events", "redrive", "--event-id", *gone.Entries[0].EventId)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+a.env.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "1 deliveries pending again") {
		t.Fatalf("sigil events redrive: %v\n%s", err, out)
	}
	waitUntil(t, "the redriven delivery", 10*time.Second, func() bool { return len(h.deliveries("/gone")) == 1 })
	if got := h.deliveries("/gone")[0].id; got != *gone.Entries[0].EventId {
		t.Fatalf("redriven delivery carries id %s", got)
	}
	if strings.Contains(sigilEvents("--status", "FAILED"), *gone.Entries[0].EventId) {
		t.Fatal("the redriven delivery is still FAILED")
	}

	// Nor in the audit trail (CreateConnection's ApiKeyValue is redacted).
	if err := a.env.Server.Audit().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	db, _ := auditDB(t, a.env)
	if dump := auditRows(t, db); !strings.Contains(dump, "CreateConnection") || strings.Contains(dump, "hook-key-7f3a91") {
		t.Fatal("the audit trail lacks CreateConnection or holds the connection's API key")
	}
}

// TestEventDeliverySurvivesKill commits an event whose webhook is down,
// kills the server (SIGKILL) once the delivery has been tried, brings the
// webhook back and restarts the server on the same data directory: the
// event is delivered, with its original id.
func TestEventDeliverySurvivesKill(t *testing.T) {
	dataDir := t.TempDir()
	args := append(append([]string{"--dev", "--data-dir", dataDir}, loopbackPorts...), sigiltest.StoreArgs(t)...)
	p := sigiltest.StartProcess(t, args...)
	client := func(url string) *eventbridge.Client {
		return eventbridge.NewFromConfig(sigiltest.AWSConfig("test", "test", "us-east-1", nil), func(o *eventbridge.Options) {
			o.BaseEndpoint = aws.String(url)
		})
	}
	eb := client(p.URL)
	h := newHook(t, "kill-key-55c1", 0)
	h.down = true
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("k"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String("kill-key-55c1")}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("k"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(h.srv.URL + "/k"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("k"), EventPattern: aws.String(`{"source":["com.example.kill"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("k"), Targets: []ebtypes.Target{{Id: aws.String("k"), Arn: d.ApiDestinationArn}}}); err != nil {
		t.Fatal(err)
	}
	pe, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("com.example.kill"), DetailType: aws.String("Test"), Detail: aws.String(`{"n":1}`)}}})
	if err != nil || pe.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v %+v", err, pe)
	}
	waitUntil(t, "a refused delivery", 15*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.tried > 0
	})
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.ExitErr()
	h.mu.Lock()
	h.down = false
	h.mu.Unlock()

	sigiltest.StartProcess(t, args...)
	waitUntil(t, "delivery after the restart", 30*time.Second, func() bool { return len(h.deliveries("/k")) == 1 })
	if got := h.deliveries("/k")[0]; got.id != *pe.Entries[0].EventId || got.body["detail"].(map[string]any)["n"] != float64(1) {
		t.Fatalf("delivered %+v, want event %s", got, *pe.Entries[0].EventId)
	}
	time.Sleep(2 * time.Second)
	if n := len(h.deliveries("/k")); n != 1 {
		t.Fatalf("%d deliveries after success", n)
	}
}

// TestServiceEvents checks the events Private CA and KMS publish, as a rule
// would see them: CA creation, issuance, revocation, CRL generation and
// status changes; KMS key state changes, rotation and deletion.
func TestServiceEvents(t *testing.T) {
	env := sigiltest.Start(t, func(c *config.Config) {
		c.Scheduler.JobInterval = 100 * time.Millisecond
		c.Revocation.Propagation = 500 * time.Millisecond
	})
	pc := env.PCA()
	caARN := createCAWith(t, pc, pcatypes.CertificateAuthorityTypeRoot, "Events Root",
		&pcatypes.RevocationConfiguration{CrlConfiguration: &pcatypes.CrlConfiguration{Enabled: aws.Bool(true), ExpirationInDays: aws.Int32(7)}})
	activateRoot(t, pc, caARN, pcatypes.SigningAlgorithmSha256withecdsa, 5)
	iss, err := pc.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &caARN, Csr: quickCSR(t, "ev.example"),
		SigningAlgorithm: pcatypes.SigningAlgorithmSha256withecdsa, Validity: &pcatypes.Validity{Type: pcatypes.ValidityPeriodTypeDays, Value: aws.Int64(3)}})
	if err != nil {
		t.Fatal(err)
	}
	serial := (*iss.CertificateArn)[strings.LastIndex(*iss.CertificateArn, "/")+1:]
	if _, err := pc.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &caARN, CertificateSerial: &serial,
		RevocationReason: pcatypes.RevocationReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{CertificateAuthorityArn: &caARN,
		Status: pcatypes.CertificateAuthorityStatusDisabled}); err != nil {
		t.Fatal(err)
	}

	km := env.KMS()
	key, err := km.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := *key.KeyMetadata.Arn
	if _, err := km.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &keyARN}); err != nil {
		t.Fatal(err)
	}
	if _, err := km.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &keyARN}); err != nil {
		t.Fatal(err)
	}
	if _, err := km.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &keyARN, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	advance(t, env.URL, "169h")

	find := func(source, detailType, resource string) []map[string]any {
		var out []map[string]any
		for _, e := range sigiltest.Events(t, env.URL, "000000000000") {
			res, _ := e["resources"].([]any)
			if e["source"] == source && e["detail-type"] == detailType && len(res) > 0 && res[len(res)-1] == resource {
				out = append(out, e["detail"].(map[string]any))
			}
		}
		return out
	}
	waitUntil(t, "the key's deletion event", 10*time.Second, func() bool { return len(find("aws.kms", "KMS CMK Deletion", keyARN)) == 1 })
	waitUntil(t, "a CRL generation event", 10*time.Second, func() bool { return len(find("aws.acm-pca", "ACM Private CA CRL Generation", caARN)) > 0 })
	for _, c := range []struct {
		source, detailType, resource string
		want                         map[string]any
	}{
		{"aws.acm-pca", "ACM Private CA Creation", caARN, map[string]any{"result": "success"}},
		{"aws.acm-pca", "ACM Private CA Certificate Issuance", *iss.CertificateArn, map[string]any{"result": "success"}},
		{"aws.acm-pca", "ACM Private CA Certificate Revocation", *iss.CertificateArn, map[string]any{"result": "success", "reason": "KEY_COMPROMISE"}},
		{"aws.acm-pca", "ACM Private CA State Change", caARN, map[string]any{"previousStatus": "ACTIVE", "status": "DISABLED"}},
		{"aws.kms", "KMS CMK Rotation", keyARN, nil},
		{"aws.kms", "KMS Key State Change", keyARN, map[string]any{"previousState": "Enabled", "state": "Disabled"}},
		{"aws.kms", "KMS Key State Change", keyARN, map[string]any{"previousState": "Disabled", "state": "PendingDeletion"}},
	} {
		found := false
		for _, d := range find(c.source, c.detailType, c.resource) {
			ok := true
			for k, v := range c.want {
				ok = ok && d[k] == v
			}
			found = found || ok
		}
		if !found {
			t.Errorf("no %s %q event for %s with %v", c.source, c.detailType, c.resource, c.want)
		}
	}
	if n := len(find("aws.acm-pca", "ACM Private CA Creation", caARN)); n != 1 {
		t.Errorf("%d creation events", n)
	}
}
