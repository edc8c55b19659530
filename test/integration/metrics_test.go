package integration

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	pcatypes "github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sigilhq/sigil/internal/sigiltest"
)

// scrape fetches /metrics and parses it.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation) // classic Prometheus names only
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams, body
}

// metric returns the value of the series of a family with the given
// labels (a subset), and whether it exists.
func metric(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics runs a workload — a CA, issuance, a revocation, an ACM
// certificate renewed, an event delivered to a webhook, a failed call —
// then scrapes /metrics: the counters, the expiry gauges and the API
// histograms show it, and `promtool check metrics` accepts the output.
func TestMetrics(t *testing.T) {
	promtool := sigiltest.Require(t, "promtool", "prometheus")
	a := newACMEnv(t) // a root CA (its certificate issued through the API) that grants ACM renewal
	pc := a.pca
	var leaves []string
	for _, cn := range []string{"m1.example", "m2.example"} {
		out, err := pc.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &a.caARN, Csr: quickCSR(t, cn),
			SigningAlgorithm: pcatypes.SigningAlgorithmSha256withecdsa, Validity: &pcatypes.Validity{Type: pcatypes.ValidityPeriodTypeDays, Value: aws.Int64(7)}})
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, *out.CertificateArn)
	}
	serial := leaves[0][strings.LastIndex(leaves[0], "/")+1:]
	if _, err := pc.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &a.caARN, CertificateSerial: &serial,
		RevocationReason: pcatypes.RevocationReasonSuperseded}); err != nil {
		t.Fatal(err)
	}
	missing := strings.Replace(a.caARN, a.caARN[len(a.caARN)-12:], "000000000000", 1)
	_, err := pc.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &missing})
	wantCode(t, err, "ResourceNotFoundException")
	certARN := a.request(t, "metrics.internal", nil)
	a.export(t, certARN, "Pass-metrics-1")
	if _, err := a.acm.RenewCertificate(ctx, &acm.RenewCertificateInput{CertificateArn: &certARN}); err != nil {
		t.Fatal(err)
	}

	// One custom event delivered to a webhook.
	eb := eventbridge.NewFromConfig(sigiltest.AWSConfig("test", "test", "us-east-1", nil), func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(a.env.URL) })
	h := newHook(t, "metrics-key-0b1e", 0)
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("m"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String("metrics-key-0b1e")}}})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("m"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(h.srv.URL + "/m"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("m"), EventPattern: aws.String(`{"source":["com.example.metrics"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("m"), Targets: []ebtypes.Target{{Id: aws.String("m"), Arn: dest.ApiDestinationArn}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("com.example.metrics"), DetailType: aws.String("T"), Detail: aws.String(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the delivery", 10*time.Second, func() bool { return len(h.deliveries("/m")) == 1 })

	var fams map[string]*dto.MetricFamily
	var body []byte
	// Gauges read from the store are at most 5 s old.
	waitUntil(t, "metrics that show the delivery", 15*time.Second, func() bool {
		fams, body = scrape(t, a.env.URL)
		v, _ := metric(fams, "sigil_event_deliveries_total", map[string]string{"result": "delivered"})
		g, _ := metric(fams, "sigil_event_deliveries", map[string]string{"status": "DELIVERED"})
		return v == 1 && g == 1
	})
	expect := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got, ok := metric(fams, name, labels); !ok || got != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	// The root's certificate and two leaves through the API, the ACM
	// certificate on request; its renewal as ACM's service principal.
	expect("sigil_certificates_issued_total", map[string]string{"via": "direct"}, 4)
	expect("sigil_certificates_issued_total", map[string]string{"via": "acm.amazonaws.com"}, 1)
	expect("sigil_certificates_revoked_total", nil, 1)
	expect("sigil_acm_renewals_total", map[string]string{"result": "success"}, 1)
	expect("sigil_acm_renewals_total", map[string]string{"result": "failure"}, 0)
	expect("sigil_secret_rotations_total", map[string]string{"result": "success"}, 0)
	expect("sigil_api_requests_total", map[string]string{"service": "acm-pca", "operation": "IssueCertificate", "code": "OK"}, 3)
	expect("sigil_api_requests_total", map[string]string{"service": "acm-pca", "operation": "DescribeCertificateAuthority", "code": "ResourceNotFoundException"}, 1)
	expect("sigil_api_request_duration_seconds", map[string]string{"service": "acm-pca", "operation": "IssueCertificate"}, 3)
	expect("sigil_certificates", map[string]string{"status": "ISSUED", "type": "PRIVATE"}, 1)
	expect("sigil_certificate_authorities", map[string]string{"status": "ACTIVE"}, 1)
	expect("sigil_events_outbox_backlog", nil, 0)
	expect("sigil_event_deliveries", map[string]string{"status": "DELIVERED"}, 1)
	expect("sigil_scheduler_leader", nil, 1)
	if secs, ok := metric(fams, "sigil_certificate_expiry_seconds", map[string]string{"arn": certARN, "domain": "metrics.internal", "type": "PRIVATE"}); !ok || secs/86400 < 390 || secs/86400 > 396 {
		days := secs / 86400
		t.Errorf("the ACM certificate's days to expiry: %v (%v)", days, ok)
	}
	if secs, ok := metric(fams, "sigil_certificate_expiry_seconds", map[string]string{"arn": a.caARN, "type": "CA"}); !ok || secs/86400 < 3640 || secs/86400 > 3655 {
		days := secs / 86400
		t.Errorf("the CA's days to expiry: %v (%v)", days, ok)
	}
	if _, ok := metric(fams, "go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}
	if _, ok := metric(fams, "sigil_scheduler_job_lag_seconds", map[string]string{"job": "acm-renewals"}); !ok {
		t.Error("no scheduler lag")
	}

	// Prometheus's own checker accepts the exposition.
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}

	// Readiness.
	resp, err := http.Get(a.env.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(rb), "migrations: applied") {
		t.Fatalf("/readyz: %s %s", resp.Status, rb)
	}
}
