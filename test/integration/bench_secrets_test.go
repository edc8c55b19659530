package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// signedCall is a pre-signed AWS JSON request that can be sent many times
// (SigV4 allows a 15-minute clock skew and the API keeps no replay cache).
type signedCall struct {
	body    []byte
	headers http.Header
}

func presign(b *testing.B, endpoint, target, service string, body []byte) signedCall {
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, req,
		hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	return signedCall{body: body, headers: req.Header}
}

// postLoad sends the calls round robin from workers goroutines for d and
// returns the rate of 200 answers and their 99th-percentile latency.
func postLoad(b *testing.B, endpoint string, calls []signedCall, workers int, d time.Duration) (float64, time.Duration) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	var failed atomic.Int64
	var next atomic.Uint64
	lat := make([][]time.Duration, workers)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				c := calls[next.Add(1)%uint64(len(calls))]
				req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(c.body))
				req.Header = c.headers.Clone()
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests failed", f)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return float64(len(all)) / elapsed.Seconds(), all[len(all)*99/100]
}

// BenchmarkGetSecretValue measures GetSecretValue through HTTP, SigV4
// verification, the store and two decryptions (data key, value) under
// concurrency, beside a bare net/http handler answering the same requests
// with the same bytes in the same run. Issue 6 asks for at least half of
// the bare ceiling; AWS's quota is 10,000 per second per account.
func BenchmarkGetSecretValue(b *testing.B) {
	env := sigiltest.Start(b, func(c *config.Config) { c.Log.Level = "info" })
	sm := env.SecretsManager()
	var calls []signedCall
	var sample []byte
	for i := range 100 {
		name := fmt.Sprintf("bench/secret-%03d", i)
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
			SecretString: aws.String(fmt.Sprintf(`{"username":"app","password":"%064d"}`, i))}); err != nil {
			b.Fatal(err)
		}
		c := presign(b, env.URL, "secretsmanager.GetSecretValue", "secretsmanager", []byte(`{"SecretId":"`+name+`"}`))
		calls = append(calls, c)
		if sample == nil {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/", bytes.NewReader(c.body))
			req.Header = c.headers.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			sample, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("%s", sample)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/x-amz-json-1.1")
		h.Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
		h.Set("Content-Length", fmt.Sprint(len(sample)))
		w.Write(sample)
	})}
	go bare.Serve(ln)
	defer bare.Close()
	bareURL := "http://" + ln.Addr().String()

	const workers = 32
	d := 3 * time.Second
	for i := 0; i < b.N; i++ {
		var bareRate, sigilRate float64
		var bareP99, sigilP99 time.Duration
		for range 2 {
			r, p := postLoad(b, bareURL, calls, workers, d)
			if r > bareRate {
				bareRate, bareP99 = r, p
			}
			r, p = postLoad(b, env.URL, calls, workers, d)
			if r > sigilRate {
				sigilRate, sigilP99 = r, p
			}
		}
		b.ReportMetric(bareRate, "bare-req/s")
		b.ReportMetric(sigilRate, "sigil-req/s")
		b.ReportMetric(100*sigilRate/bareRate, "%-of-bare")
		b.ReportMetric(float64(bareP99.Microseconds())/1000, "bare-p99-ms")
		b.ReportMetric(float64(sigilP99.Microseconds())/1000, "sigil-p99-ms")
	}
}
