// Package telemetry is the port through which domain services report what
// they did — certificates issued and revoked, renewals, rotations — for
// metrics. Domain code depends on this interface only; internal/metrics
// implements it with Prometheus counters.
package telemetry

// Recorder counts domain outcomes. Implementations must be safe for
// concurrent use and must not block.
type Recorder interface {
	// CertificateIssued counts a certificate signed by a CA; via says who
	// asked ("acm-pca" for the API, "acm", "secrets" for rotations, ...).
	CertificateIssued(via string)
	// CertificateRevoked counts a revocation.
	CertificateRevoked()
	// Renewal counts an ACM managed renewal and whether it succeeded.
	Renewal(ok bool)
	// Rotation counts a secret rotation that finished (ok) or failed a step.
	Rotation(ok bool)
	// Delivery counts an event delivery attempt: "delivered", "retry"
	// (failed, to be tried again) or "failed" (given up).
	Delivery(outcome string)
}

// Nop records nothing.
type Nop struct{}

func (Nop) CertificateIssued(string) {}
func (Nop) CertificateRevoked()      {}
func (Nop) Renewal(bool)             {}
func (Nop) Rotation(bool)            {}
func (Nop) Delivery(string)          {}

// Or returns r, or Nop when r is nil.
func Or(r Recorder) Recorder {
	if r == nil {
		return Nop{}
	}
	return r
}
