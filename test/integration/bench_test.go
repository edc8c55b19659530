package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// BenchmarkIssue issues certificates end to end against the real sigil
// binary running as its own process: client → HTTP → SigV4 → acm-pca adapter
// → CA service → SQLite (synchronous=FULL, group commit), with concurrent
// clients on the same machine. It reports certificates per second, p50/p99
// latency, and the CPU used by the server and by the client processes (200%
// is both cores of this machine).
//
//	go test ./test/integration -run '^$' -bench Issue -benchtime 8000x
func BenchmarkIssue(b *testing.B) {
	for _, client := range []string{"sdk", "raw"} {
		for _, lint := range []bool{true, false} {
			for _, alg := range []struct {
				key types.KeyAlgorithm
				sig types.SigningAlgorithm
			}{
				{types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa},
				{types.KeyAlgorithmRsa2048, types.SigningAlgorithmSha256withrsa},
			} {
				name := fmt.Sprintf("%s/lint=%v/client=%s", alg.key, lint, client)
				b.Run(name, func(b *testing.B) { benchIssue(b, alg.key, alg.sig, lint, client) })
			}
		}
	}
}

// BenchmarkSignCeiling is the ceiling that signing alone sets on this
// machine: crypto/x509.CreateCertificate (sign, then verify) with a P-256 or
// RSA-2048 CA key on every core, nothing else.
func BenchmarkSignCeiling(b *testing.B) {
	for _, alg := range []pki.KeyAlgorithm{pki.ECP256, pki.RSA2048} {
		b.Run(string(alg), func(b *testing.B) {
			caKey, _ := pki.GenerateKey(alg, rand.Reader)
			sigAlg := pki.SHA256WithECDSA
			if alg == pki.RSA2048 {
				sigAlg = pki.SHA256WithRSA
			}
			csr, _ := pki.ParseCSR(quickCSR(b, "ceiling.example"))
			tpl, _ := pki.LookupTemplate("")
			serial, _ := pki.RandomSerial()
			cert, err := pki.Build(pki.IssueParams{Template: tpl, CSR: csr, Serial: serial, SigningAlgorithm: sigAlg,
				NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			issuer := &x509.Certificate{RawSubject: cert.RawSubject, SubjectKeyId: []byte{1}, PublicKey: caKey.Public()}
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := pki.Sign(cert, issuer, caKey); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
		})
	}
}

func benchIssue(b *testing.B, key types.KeyAlgorithm, sig types.SigningAlgorithm, lint bool, client string) {
	dir := b.TempDir()
	cfgFile := filepath.Join(dir, "sigil.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("issuance:\n  skip_lint: %v\nlog:\n  level: info\n", !lint)), 0o600)
	proc := sigiltest.StartProcess(b, "--dev", "--config", cfgFile, "--data-dir", filepath.Join(dir, "data"),
		"--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0")
	url := proc.URL
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	c := sigiltest.PCAClient(url, sigiltest.AWSConfig("test", "test", "us-east-1", &http.Client{Transport: transport}))
	root := createCA(b, c, types.CertificateAuthorityTypeRoot, key, sig, "Bench Root")
	activateRoot(b, c, root, sig, 5)
	csr := quickCSR(b, "bench.example.internal")
	in := &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: csr, SigningAlgorithm: sig,
		Validity: &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(7)}}
	call := func() error { _, err := c.IssueCertificate(ctx, in); return err }
	if client == "raw" {
		body, _ := json.Marshal(map[string]any{"CertificateAuthorityArn": root, "Csr": csr, "SigningAlgorithm": sig,
			"Validity": map[string]any{"Type": "DAYS", "Value": 7}})
		lean := newLeanClient()
		call = func() error { return lean.call(url, "IssueCertificate", body) }
	}
	cpu0, srv0 := cpuTime(), procCPU(b, proc.Cmd.Process.Pid)
	elapsed := runLoad(b, "certs", func(int) error { return call() })
	cpu, srvCPU := cpuTime()-cpu0, procCPU(b, proc.Cmd.Process.Pid)-srv0
	// CPU per wall second (200 is both cores busy).
	b.ReportMetric(100*srvCPU.Seconds()/elapsed.Seconds(), "server-cpu-%")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "client-cpu-%")
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user+system CPU time of another process, from /proc.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which is in parentheses): utime and
	// stime are fields 14 and 15 of the line, in clock ticks.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}
