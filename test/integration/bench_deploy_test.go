package integration

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	pcatypes "github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/agent"
	"github.com/sigilhq/sigil/internal/api/agentapi"
	apideploy "github.com/sigilhq/sigil/internal/api/deploy"
	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/deploy"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// BenchmarkAgentAPI measures what agents cost the server, over mutual TLS
// on kept-alive connections as agents hold them, from 8 concurrent
// agents' worth of requests:
//   - poll: one look for assignments (authentication against the agent
//     row, the agent's targets, the last-seen write);
//   - material: an assignment's files (the ACM export as the deployment
//     service, decrypting and rendering them, the IN_PROGRESS write, an
//     audit record).
//
// go test ./test/integration -run '^$' -bench AgentAPI -benchtime 3000x
func BenchmarkAgentAPI(b *testing.B) {
	env := sigiltest.Start(b, func(c *config.Config) { c.Log.Level = "warn" })
	pc := env.PCA()
	caARN := createCA(b, pc, pcatypes.CertificateAuthorityTypeRoot, pcatypes.KeyAlgorithmEcPrime256v1, pcatypes.SigningAlgorithmSha256withecdsa, "Bench Root")
	activateRoot(b, pc, caARN, pcatypes.SigningAlgorithmSha256withecdsa, 5)
	if _, err := pc.CreatePermission(ctx, &acmpca.CreatePermissionInput{CertificateAuthorityArn: &caARN, Principal: aws.String("acm.amazonaws.com"),
		Actions: []pcatypes.ActionType{pcatypes.ActionTypeIssueCertificate, pcatypes.ActionTypeGetCertificate, pcatypes.ActionTypeListPermissions}}); err != nil {
		b.Fatal(err)
	}
	req, err := env.ACM().RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("bench.test"), CertificateAuthorityArn: &caARN,
		KeyAlgorithm: acmtypes.KeyAlgorithmEcPrime256v1})
	if err != nil {
		b.Fatal(err)
	}
	tok := newToken(b, env, map[string]string{"role": "bench"})
	state := b.TempDir()
	ag, err := agent.New(ctx, agent.Config{Server: tok.AgentEndpoint, CASHA256: tok.AgentCaSha256, Token: tok.Token, StateDir: state, Hostname: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	mustDeploy(b, env, "CreateDeployment", apideploy.CreateInput{Name: "bench", CertificateArn: *req.CertificateArn,
		TargetTags: map[string]string{"role": "bench"}, Profile: "nginx",
		Overrides: &deploy.Profile{Directory: b.TempDir(), VerifyAddress: "127.0.0.1:1"}}, nil)
	hc := agentHTTPClient(b, state)
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 8
	poll := tok.AgentEndpoint + agentapi.PathAssignments + "?wait=0"
	material := tok.AgentEndpoint + agentapi.PathAssignments + "/" + deploymentID(b, env, "bench") + "/material?generation=" +
		strconv.FormatInt(generationOf(b, env, "bench", ag.ID()), 10)

	for _, bc := range []struct{ name, url string }{{"poll", poll}, {"material", material}} {
		b.Run(bc.name, func(b *testing.B) {
			var failed atomic.Int64
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						resp, err := hc.Get(bc.url)
						if err != nil {
							failed.Add(1)
							continue
						}
						io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d of %d requests failed", failed.Load(), b.N)
			}
			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "req/s")
			fmt.Printf("agent API %s: %.0f requests/s (8 concurrent, mTLS keep-alive)\n", bc.name, rate)
		})
	}
}
