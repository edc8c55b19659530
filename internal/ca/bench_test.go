package ca_test

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// fillRevoked stores n revoked certificates under caID (serials first,
// first+1, ...), in large transactions, as if issued and revoked over time.
func fillRevoked(b *testing.B, e *env, caID string, first, n int, revoke bool) {
	b.Helper()
	der := bytes.Repeat([]byte{0x30}, 650) // about an EC certificate's size
	now := e.clk.Now()
	const batch = 20000
	for done := 0; done < n; done += batch {
		err := e.store.Update(ctx, func(tx store.Tx) error {
			for i := done; i < min(done+batch, n); i++ {
				serial := pki.SerialHex(big.NewInt(int64(first + i)))
				if err := tx.Certificates().Insert(ctx, &store.Certificate{CAID: caID, Serial: serial, Account: admin.Account,
					DER: der, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IssuedAt: now,
					TemplateARN: "arn:aws:acm-pca:::template/EndEntityCertificate/V1"}); err != nil {
					return err
				}
				if revoke {
					if err := tx.Certificates().Revoke(ctx, caID, serial, now, "KEY_COMPROMISE"); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// peakHeap samples the live heap every few milliseconds until stop is
// called, and returns the highest value seen.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(finished)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// BenchmarkCRLMillion builds and signs the complete CRL of a CA with
// 1,000,000 unexpired revoked certificates (SIGIL_BENCH_CRL_ENTRIES to
// change), streaming them from SQLite. It reports the seconds, the peak
// live heap during the build, and the CRL's size; then it times revocations
// on that CA against revocations on a CA with nothing revoked (revoking must
// not slow down as revocations pile up).
//
//	go test ./internal/ca -run '^$' -bench CRLMillion -benchtime 1x
func BenchmarkCRLMillion(b *testing.B) {
	n := benchEnvInt("SIGIL_BENCH_CRL_ENTRIES", 1_000_000)
	e := newRevEnv(b, nil)
	root, rootCert := e.root(b, &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true}})
	id := caID(root)
	fresh, _ := e.root(b, &ca.RevocationConfig{CRL: &ca.CRLConfig{Enabled: true}})
	start := time.Now()
	fillRevoked(b, e.env, id, 1_000_000_000, n, true)
	b.Logf("stored %d revoked certificates in %v", n, time.Since(start).Round(time.Millisecond))

	for i := 0; i < b.N; i++ {
		e.clk.Advance(time.Minute)
		// Make the CRL due, as a revocation would.
		if err := e.store.Update(ctx, func(tx store.Tx) error { return tx.CRLs().Touch(ctx, id, 0, e.clk.Now()) }); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		stop := peakHeap()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.ResetTimer()
		t0 := time.Now()
		signed, err := e.svc.RefreshCRLs(ctx, nil)
		elapsed := time.Since(t0)
		b.StopTimer()
		peak := stop()
		if err != nil || signed < 1 {
			b.Fatalf("signed %d CRLs: %v", signed, err)
		}
		f, err := e.svc.CRL(ctx, id, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(elapsed.Seconds(), "s/crl")
		b.ReportMetric(float64(peak-before.HeapAlloc)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(len(f.DER))/(1<<20), "crl-MB")
		if i == 0 {
			crl, err := x509.ParseRevocationList(f.DER)
			if err != nil || len(crl.RevokedCertificateEntries) != n || crl.CheckSignatureFrom(rootCert) != nil {
				b.Fatalf("the CRL does not hold %d valid entries: %v", n, err)
			}
		}
	}

	// Revocation cost with n revoked versus none.
	const revokes = 300
	fillRevoked(b, e.env, id, 1, revokes, false)
	fillRevoked(b, e.env, caID(fresh), 1, revokes, false)
	timeRevokes := func(arn string) time.Duration {
		t0 := time.Now()
		for i := 1; i <= revokes; i++ {
			if err := e.svc.Revoke(ctx, admin, arn, pki.SerialHex(big.NewInt(int64(i))), "SUPERSEDED"); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0) / revokes
	}
	empty := timeRevokes(fresh)
	full := timeRevokes(root)
	b.ReportMetric(float64(empty.Microseconds()), "revoke-us/0-revoked")
	b.ReportMetric(float64(full.Microseconds()), "revoke-us/"+strconv.Itoa(n)+"-revoked")
}
