package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// leanClient sends AWS JSON requests signed with SigV4 by net/http alone:
// far less CPU than the SDK's middleware, leaving the cores to the server.
type leanClient struct {
	hc     *http.Client
	signer *v4.Signer
	creds  aws.Credentials
}

func newLeanClient() *leanClient {
	return &leanClient{hc: &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}},
		signer: v4.NewSigner(), creds: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
}

// call sends one acm-pca operation and checks for HTTP 200.
func (c *leanClient) call(url, operation string, body []byte) error {
	req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "ACMPrivateCA."+operation)
	if err := c.signer.SignHTTP(ctx, c.creds, req, hexSum(body), "acm-pca", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: status %d: %s", operation, resp.StatusCode, out)
	}
	return nil
}

// runLoad calls fn b.N times from 16 × GOMAXPROCS goroutines (fn gets the
// request number), then reports the rate (as unit/s) and p50/p99 latency. It
// returns the wall time the load took.
func runLoad(b *testing.B, unit string, fn func(i int) error) time.Duration {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 256)
		for pb.Next() {
			t0 := time.Now()
			if err := fn(int(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return elapsed
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
	return elapsed
}
