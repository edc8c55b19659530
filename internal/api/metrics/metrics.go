// Package metrics exposes a Sigil node's Prometheus metrics at /metrics:
// API requests and latencies, what the domain services did (through the
// telemetry port), event deliveries, scheduler health, and gauges read from
// the store at scrape time — time to expiry of every certificate, counts by
// status, the outbox backlog.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/telemetry"
)

// Snapshot is what the store says at one moment.
type Snapshot struct {
	Certificates []Certificate
	// ByStatus counts ACM certificates by (status, type).
	ByStatus map[[2]string]int
	// Authorities counts CAs by status.
	Authorities map[string]int
	// OutboxBacklog counts events not yet fanned out to rules.
	OutboxBacklog int
	// Deliveries counts event deliveries by status.
	Deliveries map[string]int
	// Agents counts deployment agents by status (ACTIVE, STALE,
	// DEREGISTERED); DeployTargets deployment targets by status.
	Agents, DeployTargets map[string]int
}

// Certificate is one certificate whose expiry is watched.
type Certificate struct {
	ARN, Domain, Type string // Type: PRIVATE, IMPORTED (ACM) or CA
	NotAfter          time.Time
}

// Source reads a Snapshot from the store.
type Source func(ctx context.Context) (*Snapshot, error)

// Scheduler reports the background jobs of this node.
type Scheduler interface {
	Leader() (bool, int64)
	Jobs() []scheduler.JobStatus
}

// Metrics is a node's registry.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	issued     *prometheus.CounterVec
	revoked    prometheus.Counter
	renewals   *prometheus.CounterVec
	rotations  *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

var _ telemetry.Recorder = (*Metrics)(nil)

// Options configure the scrape-time gauges.
type Options struct {
	Source    Source
	Scheduler Scheduler
	Now       func() time.Time
	// MaxAge is how long a store snapshot is reused between scrapes
	// (default 5 s): the store is never scanned more often than that.
	MaxAge time.Duration
	Logger *slog.Logger
}

// New returns a registry with Go runtime, process and Sigil metrics.
func New(opts Options) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigil_api_requests_total",
			Help: "API requests by service, operation and outcome (the AWS error code, or OK)."}, []string{"service", "operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sigil_api_request_duration_seconds",
			Help:    "API request latency by service and operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"service", "operation"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigil_certificates_issued_total",
			Help: "Certificates signed by this node's CAs, by who asked (acm-pca, acm, secrets)."}, []string{"via"}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{Name: "sigil_certificates_revoked_total",
			Help: "Certificates revoked."}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigil_acm_renewals_total",
			Help: "ACM managed renewals by result (success, failure)."}, []string{"result"}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigil_secret_rotations_total",
			Help: "Secret rotations by result (success, failure)."}, []string{"result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigil_event_deliveries_total",
			Help: "Event delivery attempts by result (delivered, retry, failed)."}, []string{"result"}),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.issued, m.revoked, m.renewals, m.rotations, m.deliveries)
	// Results that have not happened yet still show, at 0.
	for _, r := range []string{"success", "failure"} {
		m.renewals.WithLabelValues(r)
		m.rotations.WithLabelValues(r)
	}
	for _, r := range []string{"delivered", "retry", "failed"} {
		m.deliveries.WithLabelValues(r)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Source != nil || opts.Scheduler != nil {
		reg.MustRegister(&storeCollector{opts: opts})
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveAPI counts one API request.
func (m *Metrics) ObserveAPI(service, operation, code string, d time.Duration) {
	if code == "" {
		code = "OK"
	}
	m.requests.WithLabelValues(service, operation, code).Inc()
	m.latency.WithLabelValues(service, operation).Observe(d.Seconds())
}

// CertificateIssued implements telemetry.Recorder.
func (m *Metrics) CertificateIssued(via string) { m.issued.WithLabelValues(via).Inc() }

// CertificateRevoked implements telemetry.Recorder.
func (m *Metrics) CertificateRevoked() { m.revoked.Inc() }

// Renewal implements telemetry.Recorder.
func (m *Metrics) Renewal(ok bool) { m.renewals.WithLabelValues(result(ok)).Inc() }

// Rotation implements telemetry.Recorder.
func (m *Metrics) Rotation(ok bool) { m.rotations.WithLabelValues(result(ok)).Inc() }

// Delivery implements telemetry.Recorder.
func (m *Metrics) Delivery(outcome string) { m.deliveries.WithLabelValues(outcome).Inc() }

func result(ok bool) string {
	if ok {
		return "success"
	}
	return "failure"
}

// storeCollector produces the gauges read from the store and scheduler.
type storeCollector struct {
	opts Options
	mu   sync.Mutex
	snap *Snapshot
	at   time.Time
}

var (
	descExpiry = prometheus.NewDesc("sigil_certificate_expiry_seconds",
		"Seconds until the certificate's NotAfter (negative once expired), per ACM certificate and CA; divide by 86400 for days.",
		[]string{"arn", "domain", "type"}, nil)
	descCerts = prometheus.NewDesc("sigil_certificates",
		"ACM certificates by status and type.", []string{"status", "type"}, nil)
	descCAs = prometheus.NewDesc("sigil_certificate_authorities",
		"Private CAs by status.", []string{"status"}, nil)
	descBacklog = prometheus.NewDesc("sigil_events_outbox_backlog",
		"Events in the outbox not yet fanned out to rules.", nil, nil)
	descDeliveries = prometheus.NewDesc("sigil_event_deliveries",
		"Event deliveries by status (PENDING, DELIVERED, FAILED).", []string{"status"}, nil)
	descAgents = prometheus.NewDesc("sigil_deploy_agents",
		"Deployment agents by status (ACTIVE, STALE: silent past the stale period, DEREGISTERED).", []string{"status"}, nil)
	descTargets = prometheus.NewDesc("sigil_deploy_targets",
		"Deployment targets by the status of their latest assignment (PENDING, IN_PROGRESS, SUCCEEDED, FAILED).", []string{"status"}, nil)
	descScrapeErr = prometheus.NewDesc("sigil_store_scrape_error",
		"1 when the last read of the store for these metrics failed.", nil, nil)
	descLeader = prometheus.NewDesc("sigil_scheduler_leader",
		"1 when this node holds the scheduler lease and runs the background jobs.", nil, nil)
	descLag = prometheus.NewDesc("sigil_scheduler_job_lag_seconds",
		"How far a background job is behind: seconds since its last success beyond its interval (leader only).", []string{"job"}, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descExpiry, descCerts, descCAs, descBacklog, descDeliveries, descAgents, descTargets, descScrapeErr, descLeader, descLag} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.opts.Now()
	if c.opts.Scheduler != nil {
		leader, _ := c.opts.Scheduler.Leader()
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, boolFloat(leader))
		if leader {
			for _, j := range c.opts.Scheduler.Jobs() {
				lag := 0.0
				if !j.LastSuccess.IsZero() {
					lag = max(now.Sub(j.LastSuccess).Seconds()-j.Every.Seconds(), 0)
				}
				ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag, j.Name)
			}
		}
	}
	if c.opts.Source == nil {
		return
	}
	snap, err := c.snapshot(now)
	ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, boolFloat(err != nil))
	if snap == nil {
		return
	}
	for _, cert := range snap.Certificates {
		ch <- prometheus.MustNewConstMetric(descExpiry, prometheus.GaugeValue, cert.NotAfter.Sub(now).Seconds(), cert.ARN, cert.Domain, cert.Type)
	}
	for k, n := range snap.ByStatus {
		ch <- prometheus.MustNewConstMetric(descCerts, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for s, n := range snap.Authorities {
		ch <- prometheus.MustNewConstMetric(descCAs, prometheus.GaugeValue, float64(n), s)
	}
	ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(snap.OutboxBacklog))
	for s, n := range snap.Deliveries {
		ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.GaugeValue, float64(n), s)
	}
	for s, n := range snap.Agents {
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(n), s)
	}
	for s, n := range snap.DeployTargets {
		ch <- prometheus.MustNewConstMetric(descTargets, prometheus.GaugeValue, float64(n), s)
	}
}

// snapshot returns a recent store snapshot, reading a new one when the
// cached one is older than MaxAge. On error the last good one is kept.
func (c *storeCollector) snapshot(now time.Time) (*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != nil && now.Sub(c.at) >= 0 && now.Sub(c.at) < c.opts.MaxAge {
		return c.snap, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := c.opts.Source(ctx)
	if err != nil {
		c.opts.Logger.Warn("metrics: reading the store failed", "error", err)
		return c.snap, err
	}
	c.snap, c.at = snap, now
	return snap, nil
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
