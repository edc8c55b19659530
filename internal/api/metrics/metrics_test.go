package metrics

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/scheduler"
)

type fakeScheduler struct{ jobs []scheduler.JobStatus }

func (f fakeScheduler) Leader() (bool, int64)       { return true, 1 }
func (f fakeScheduler) Jobs() []scheduler.JobStatus { return f.jobs }

func TestScrape(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	reads, fail := 0, false
	src := func(context.Context) (*Snapshot, error) {
		reads++
		if fail {
			return nil, errors.New("store down")
		}
		return &Snapshot{
			Certificates: []Certificate{{ARN: "arn:c1", Domain: "a.example", Type: "PRIVATE", NotAfter: now.Add(48 * time.Hour)}},
			ByStatus:     map[[2]string]int{{"ISSUED", "PRIVATE"}: 3}, Authorities: map[string]int{"ACTIVE": 1},
			OutboxBacklog: 2, Deliveries: map[string]int{"FAILED": 1},
		}, nil
	}
	clock := now
	sched := fakeScheduler{jobs: []scheduler.JobStatus{
		{Name: "late", Every: time.Minute, LastSuccess: now.Add(-3 * time.Minute)},
		{Name: "fine", Every: time.Minute, LastSuccess: now.Add(-30 * time.Second)},
	}}
	m := New(Options{Source: src, Scheduler: sched, Now: func() time.Time { return clock }})
	m.ObserveAPI("acm-pca", "IssueCertificate", "", 3*time.Millisecond)
	m.ObserveAPI("acm-pca", "IssueCertificate", "ThrottlingException", time.Millisecond)
	m.CertificateIssued("direct")
	m.Renewal(false)
	m.Delivery("retry")
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	out := scrape()
	for _, want := range []string{
		`sigil_certificate_expiry_seconds{arn="arn:c1",domain="a.example",type="PRIVATE"} 172800`,
		`sigil_certificates{status="ISSUED",type="PRIVATE"} 3`,
		`sigil_certificate_authorities{status="ACTIVE"} 1`,
		`sigil_events_outbox_backlog 2`,
		`sigil_event_deliveries{status="FAILED"} 1`,
		`sigil_scheduler_leader 1`,
		`sigil_scheduler_job_lag_seconds{job="late"} 120`,
		`sigil_scheduler_job_lag_seconds{job="fine"} 0`,
		`sigil_api_requests_total{code="OK",operation="IssueCertificate",service="acm-pca"} 1`,
		`sigil_api_requests_total{code="ThrottlingException",operation="IssueCertificate",service="acm-pca"} 1`,
		`sigil_api_request_duration_seconds_count{operation="IssueCertificate",service="acm-pca"} 2`,
		`sigil_certificates_issued_total{via="direct"} 1`,
		`sigil_acm_renewals_total{result="failure"} 1`,
		`sigil_acm_renewals_total{result="success"} 0`,
		`sigil_event_deliveries_total{result="retry"} 1`,
		`sigil_store_scrape_error 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	// Within MaxAge the store is not read again; after it, it is; a
	// failed read keeps the last snapshot and says so.
	clock = clock.Add(time.Second)
	scrape()
	if reads != 1 {
		t.Fatalf("%d store reads within MaxAge", reads)
	}
	clock, fail = clock.Add(10*time.Second), true
	out = scrape()
	if reads != 2 || !strings.Contains(out, "sigil_store_scrape_error 1") || !strings.Contains(out, `sigil_certificates{status="ISSUED",type="PRIVATE"} 3`) {
		t.Fatalf("after a failed read (%d reads):\n%s", reads, out)
	}
}
