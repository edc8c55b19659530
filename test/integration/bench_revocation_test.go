package integration

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"golang.org/x/crypto/ocsp"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// httpLoad sends GETs to urls (round robin) from workers goroutines over
// keep-alive connections for d, and returns the rate of 200 answers.
func httpLoad(b *testing.B, urls []string, workers int, d time.Duration) float64 {
	b.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	var ok, failed atomic.Int64
	var next atomic.Uint64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := hc.Get(urls[next.Add(1)%uint64(len(urls))])
				if err != nil {
					failed.Add(1)
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && n > 0 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests failed", f)
	}
	return float64(ok.Load()) / time.Since(start).Seconds()
}

// BenchmarkOCSPResponder measures Sigil's OCSP responder (RFC 5019 GETs for
// 256 certificates, a quarter revoked, answers served from the pre-signed
// cache) beside a bare net/http handler that returns the same response
// bytes, in the same run, on loopback with keep-alive and 64 concurrent
// clients. It reports both rates and Sigil's share of the bare ceiling.
//
//	go test ./test/integration -run '^$' -bench OCSPResponder -benchtime 1x
func BenchmarkOCSPResponder(b *testing.B) {
	env := sigiltest.Start(b, func(c *config.Config) { c.Log.Level = "warn" })
	c := env.PCA()
	root := createCAWith(b, c, types.CertificateAuthorityTypeRoot, "OCSP Bench Root",
		&types.RevocationConfiguration{OcspConfiguration: &types.OcspConfiguration{Enabled: aws.Bool(true)}})
	rootCert := parse(b, activateRoot(b, c, root, types.SigningAlgorithmSha256withecdsa, 2))
	csr := quickCSR(b, "bench.example.internal")
	var urls []string
	var sample []byte
	for i := range 256 {
		out, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: csr,
			SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(30)}})
		if err != nil {
			b.Fatal(err)
		}
		certPEM, _ := getCert(b, c, root, *out.CertificateArn)
		cert := parse(b, certPEM)
		if i%4 == 0 {
			if _, err := c.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &root,
				CertificateSerial: aws.String(pki.SerialHex(cert.SerialNumber)), RevocationReason: types.RevocationReasonSuperseded}); err != nil {
				b.Fatal(err)
			}
		}
		req, _ := ocsp.CreateRequest(cert, rootCert, nil)
		u := cert.OCSPServer[0] + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
		resp, body := httpGet(b, u) // warm the cache, and check the answer
		if _, err := ocsp.ParseResponseForCert(body, cert, rootCert); err != nil || resp.StatusCode != 200 {
			b.Fatalf("warm-up answer: %v", err)
		}
		urls = append(urls, u)
		sample = body
	}

	// The bare ceiling: net/http returning the same bytes with the same
	// headers, nothing else.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/ocsp-response")
		h.Set("Cache-Control", "max-age=5, public, no-transform, must-revalidate")
		h.Set("Content-Length", fmt.Sprint(len(sample)))
		w.Write(sample)
	})}
	go bare.Serve(ln)
	defer bare.Close()
	bareURLs := make([]string, len(urls))
	for i, u := range urls {
		parsed, _ := url.Parse(u)
		bareURLs[i] = "http://" + ln.Addr().String() + parsed.EscapedPath()
	}

	const workers = 64
	d := 3 * time.Second
	for i := 0; i < b.N; i++ {
		// Interleave, keep the better of two rounds each.
		var bareRate, sigilRate float64
		for range 2 {
			bareRate = max(bareRate, httpLoad(b, bareURLs, workers, d))
			sigilRate = max(sigilRate, httpLoad(b, urls, workers, d))
		}
		b.ReportMetric(bareRate, "bare-req/s")
		b.ReportMetric(sigilRate, "sigil-req/s")
		b.ReportMetric(100*sigilRate/bareRate, "%-of-bare")
	}
}
