package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/sigiltest"
)

// BenchmarkIssueEngines compares issuance on SQLite (one node), PostgreSQL
// with one node, and PostgreSQL with two nodes sharing the database, with
// the same load generator (the lean SigV4 client, 32 concurrent requests,
// P-256 CA, linting on). Everything runs on this machine's 2 cores, so it
// also reports how busy the whole machine was.
//
//	go test ./test/integration -run '^$' -bench IssueEngines -benchtime 6000x
func BenchmarkIssueEngines(b *testing.B) {
	for _, setup := range []struct {
		name  string
		nodes int
		pg    bool
	}{{"sqlite-1node", 1, false}, {"postgres-1node", 1, true}, {"postgres-2nodes", 2, true}} {
		b.Run(setup.name, func(b *testing.B) {
			var urls []string
			if setup.pg {
				nodes, _ := startCluster(b, setup.nodes, "")
				for _, n := range nodes {
					urls = append(urls, n.proc.URL)
				}
			} else {
				dir := b.TempDir()
				p := sigiltest.StartProcess(b, "--dev", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0")
				urls = []string{p.URL}
			}
			c := sigiltest.PCAClient(urls[0], sigiltest.AWSConfig("test", "test", "us-east-1", nil))
			root := createCA(b, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Bench")
			activateRoot(b, c, root, types.SigningAlgorithmSha256withecdsa, 5)
			body, _ := json.Marshal(map[string]any{"CertificateAuthorityArn": root, "Csr": quickCSR(b, "bench.example"),
				"SigningAlgorithm": "SHA256WITHECDSA", "Validity": map[string]any{"Type": "DAYS", "Value": 7}})
			lean := newLeanClient()
			busy0, total0 := machineCPU(b)
			pg0, sigil0 := commCPU(b, "postgres"), commCPU(b, "sigil")
			// Request i goes to node i mod n: clients spread over the nodes.
			elapsed := runLoad(b, "certs", func(i int) error { return lean.call(urls[i%len(urls)], "IssueCertificate", body) })
			busy1, total1 := machineCPU(b)
			pgCPU, sigilCPU := commCPU(b, "postgres")-pg0, commCPU(b, "sigil")-sigil0
			b.ReportMetric(100*float64(busy1-busy0)/float64(total1-total0), "machine-busy-%")
			b.ReportMetric(100*pgCPU.Seconds()/elapsed.Seconds(), "postgres-cpu-%")
			b.ReportMetric(100*sigilCPU.Seconds()/elapsed.Seconds(), "sigil-cpu-%")
		})
	}
}

// machineCPU reads the busy and total jiffies of all CPUs from /proc/stat.
func machineCPU(b *testing.B) (busy, total int64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])[1:]
	for i, f := range fields {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// commCPU sums the CPU time of every process with the given command name.
func commCPU(b *testing.B, comm string) time.Duration {
	entries, _ := os.ReadDir("/proc")
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil || !bytes.Contains(raw, []byte("("+comm+")")) {
			continue
		}
		total += procCPU(b, pid)
	}
	return total
}

// BenchmarkGetCertificateEngines measures the read path that dominates in
// production (GetCertificate), on SQLite and on PostgreSQL, with the same
// lean client: 32 concurrent requests for 200 different certificates.
//
//	go test ./test/integration -run '^$' -bench GetCertificateEngines -benchtime 20000x
func BenchmarkGetCertificateEngines(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var url string
			if engine == "postgres" {
				nodes, _ := startCluster(b, 1, "")
				url = nodes[0].proc.URL
			} else {
				p := sigiltest.StartProcess(b, "--dev", "--data-dir", filepath.Join(b.TempDir(), "data"), "--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0")
				url = p.URL
			}
			c := sigiltest.PCAClient(url, sigiltest.AWSConfig("test", "test", "us-east-1", nil))
			root := createCA(b, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Read")
			activateRoot(b, c, root, types.SigningAlgorithmSha256withecdsa, 5)
			var bodies [][]byte
			for i := 0; i < 200; i++ {
				arn, _, _ := issue(b, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: quickCSR(b, "r.example"),
					SigningAlgorithm: types.SigningAlgorithmSha256withecdsa})
				body, _ := json.Marshal(map[string]string{"CertificateAuthorityArn": root, "CertificateArn": arn})
				bodies = append(bodies, body)
			}
			lean := newLeanClient()
			runLoad(b, "reads", func(i int) error { return lean.call(url, "GetCertificate", bodies[i%len(bodies)]) })
		})
	}
}
