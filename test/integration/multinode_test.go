package integration

import (
	"crypto"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"github.com/aws/smithy-go"
	"golang.org/x/crypto/ocsp"

	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// node is one sigil process of a cluster over one PostgreSQL database.
type node struct {
	proc *sigiltest.Process
	pca  *acmpca.Client
	dir  string
}

// startCluster starts n dev-mode nodes over one new PostgreSQL schema. The
// nodes share the first node's master key, as a real deployment must.
func startCluster(t testing.TB, n int, extraConfig string) ([]*node, string) {
	t.Helper()
	store := sigiltest.PostgresURL(t)
	cfgFile := filepath.Join(t.TempDir(), "sigil.yaml")
	os.WriteFile(cfgFile, []byte("log:\n  level: info\n"+extraConfig), 0o600)
	var nodes []*node
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		if i > 0 {
			key, err := os.ReadFile(filepath.Join(nodes[0].dir, "master.key"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600)
		}
		p := sigiltest.StartProcess(t, "--dev", "--config", cfgFile, "--data-dir", dir, "--store", store,
			"--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0")
		nodes = append(nodes, &node{proc: p, dir: dir,
			pca: sigiltest.PCAClient(p.URL, sigiltest.AWSConfig("test", "test", "us-east-1", nil))})
	}
	return nodes, store
}

// TestTwoNodesShareOneDatabase issues certificates from one CA through two
// nodes at once: no serial is issued twice, and every certificate is
// readable from either node. Concurrent updates never lose a write.
func TestTwoNodesShareOneDatabase(t *testing.T) {
	nodes, _ := startCluster(t, 2, "")
	a, b := nodes[0], nodes[1]
	root := createCA(t, a.pca, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Cluster Root")
	rootPEM := activateRoot(t, a.pca, root, types.SigningAlgorithmSha256withecdsa, 2)
	// The CA created on a is usable on b at once.
	if _, err := b.pca.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &root}); err != nil {
		t.Fatal(err)
	}

	const perWorker, workers = 25, 4
	csr := quickCSR(t, "cluster.example.internal")
	var mu sync.Mutex
	arns := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 2*workers; w++ {
		wg.Add(1)
		go func(c *acmpca.Client) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				out, err := c.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: csr,
					SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, Validity: &types.Validity{Type: "DAYS", Value: aws.Int64(1)}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if arns[*out.CertificateArn] {
					t.Errorf("serial issued twice: %s", *out.CertificateArn)
				}
				arns[*out.CertificateArn] = true
				mu.Unlock()
			}
		}(nodes[w%2].pca)
	}
	wg.Wait()
	if len(arns) != 2*workers*perWorker {
		t.Fatalf("%d distinct certificates, want %d", len(arns), 2*workers*perWorker)
	}
	checked := 0
	for arn := range arns {
		ca, _ := getCert(t, a.pca, root, arn)
		cb, _ := getCert(t, b.pca, root, arn)
		if string(ca) != string(cb) {
			t.Fatalf("nodes disagree about %s", arn)
		}
		if checked++; checked <= 3 {
			sigiltest.LintPEM(t, ca)
			sigiltest.OpenSSLVerify(t, rootPEM, nil, ca)
		}
	}

	// Concurrent status flips from both nodes: each call succeeds or is
	// refused with ConcurrentModificationException; none is lost silently.
	var ok, conflicts int
	for round := 0; round < 5; round++ {
		var rwg sync.WaitGroup
		results := make(chan error, 2)
		for i, st := range []types.CertificateAuthorityStatus{types.CertificateAuthorityStatusDisabled, types.CertificateAuthorityStatusActive} {
			rwg.Add(1)
			go func(c *acmpca.Client, st types.CertificateAuthorityStatus) {
				defer rwg.Done()
				_, err := c.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{CertificateAuthorityArn: &root, Status: st})
				results <- err
			}(nodes[i].pca, st)
		}
		rwg.Wait()
		close(results)
		for err := range results {
			var ae smithy.APIError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ae) && ae.ErrorCode() == "ConcurrentModificationException":
				conflicts++
			default:
				t.Fatalf("concurrent update: %v", err)
			}
		}
	}
	if ok == 0 {
		t.Fatal("no concurrent update succeeded")
	}
	t.Logf("concurrent updates: %d applied, %d refused as concurrent modifications", ok, conflicts)
}

// TestSchedulerFailover kills (SIGKILL) the node that holds the scheduler
// lease while purges are due; the surviving node takes the lease within
// seconds and purges each CA exactly once.
func TestSchedulerFailover(t *testing.T) {
	nodes, store := startCluster(t, 2, "scheduler:\n  lease_ttl: 2s\n  job_interval: 500ms\n")
	a, b := nodes[0], nodes[1]
	db, err := sql.Open("pgx", store)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder := func() string {
		var h string
		var exp int64
		db.QueryRow(`SELECT holder, expires_at FROM leases WHERE name = 'scheduler'`).Scan(&h, &exp)
		return h
	}
	pidOf := func(n *node) string { return "/" + strconv.Itoa(n.proc.Cmd.Process.Pid) + "/" }
	// a started first: wait until it leads.
	waitUntil(t, "node a to hold the lease", 10*time.Second, func() bool { return strings.Contains(holder(), pidOf(a)) })

	// Three CAs are deleted with a 7-day window. Only b's clock moves past
	// it, so a (the leader) sees nothing to purge.
	var cas []string
	for i := 0; i < 3; i++ {
		arn := createCA(t, a.pca, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, fmt.Sprint("Doomed ", i))
		activateRoot(t, a.pca, arn, types.SigningAlgorithmSha256withecdsa, 1)
		a.pca.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{CertificateAuthorityArn: &arn, Status: types.CertificateAuthorityStatusDisabled})
		if _, err := a.pca.DeleteCertificateAuthority(ctx, &acmpca.DeleteCertificateAuthorityInput{CertificateAuthorityArn: &arn, PermanentDeletionTimeInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
		cas = append(cas, arn)
	}
	advance(t, b.proc.URL, "192h")
	time.Sleep(1500 * time.Millisecond) // a runs the purge job, finds nothing due
	for _, arn := range cas {
		if d, err := a.pca.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &arn}); err != nil ||
			d.CertificateAuthority.Status != types.CertificateAuthorityStatusDeleted {
			t.Fatalf("purged before the failover: %v %v", d, err)
		}
	}

	// kill -9 the leader: no lease release, no clean shutdown.
	killed := time.Now()
	if err := a.proc.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.proc.ExitErr()
	waitUntil(t, "node b to take the lease", 15*time.Second, func() bool { return strings.Contains(holder(), pidOf(b)) })
	takeover := time.Since(killed)
	waitUntil(t, "the purge on node b", 15*time.Second, func() bool {
		for _, arn := range cas {
			_, err := b.pca.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &arn})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" {
				return false
			}
		}
		return true
	})
	// The rows are gone from the database, and b purged each one once.
	var left int
	db.QueryRow(`SELECT COUNT(*) FROM certificate_authorities WHERE status = 'DELETED'`).Scan(&left)
	if left != 0 {
		t.Fatalf("%d deleted CAs left in the database", left)
	}
	purged := 0
	for _, line := range strings.Split(b.proc.Output(), "\n") {
		if strings.Contains(line, `"msg":"certificate authority purged"`) {
			purged++
		}
	}
	if purged != len(cas) {
		t.Fatalf("node b logged %d purges, want exactly %d:\n%s", purged, len(cas), b.proc.Output())
	}
	if strings.Contains(a.proc.Output(), "certificate authority purged") {
		t.Fatal("the killed node purged something")
	}
	t.Logf("the lease moved to the surviving node %v after kill -9 (lease TTL 2s)", takeover.Round(100*time.Millisecond))
	if takeover > 8*time.Second {
		t.Fatalf("takeover took %v", takeover)
	}
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", limit, what)
}

// TestRevocationAcrossNodes revokes on one node and watches another: its
// OCSP answers and the CRL it serves show the revocation within the
// propagation bound, whichever node runs the CRL job.
func TestRevocationAcrossNodes(t *testing.T) {
	const bound = time.Second
	nodes, _ := startCluster(t, 2, "revocation:\n  propagation: 1s\n")
	a, b := nodes[0], nodes[1]
	rev := revocationConfig("cluster-crls", types.CrlTypeComplete)
	root := createCAWith(t, a.pca, types.CertificateAuthorityTypeRoot, "Cluster Revocation Root", rev)
	rootCert := parse(t, activateRoot(t, a.pca, root, types.SigningAlgorithmSha256withecdsa, 2))
	rootID := root[strings.LastIndexByte(root, '/')+1:]
	_, leafPEM, _ := issue(t, a.pca, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &root, Csr: quickCSR(t, "n.example.internal"),
		SigningAlgorithm: types.SigningAlgorithmSha256withecdsa, TemplateArn: aws.String(tplEE)})
	leaf := parse(t, leafPEM)

	crlOnB := b.proc.PublicURL + "/crl/" + rootID + ".crl"
	waitFor(t, 10*bound, "CRL served by b", func() bool { return crlReady(crlOnB) })
	if r := ocspQuery(t, b.proc.PublicURL+"/ocsp", leaf, rootCert, crypto.SHA1); r.Status != ocsp.Good {
		t.Fatalf("b before revocation: %+v", r)
	}
	if _, err := a.pca.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &root,
		CertificateSerial: aws.String(pki.SerialHex(leaf.SerialNumber)), RevocationReason: types.RevocationReasonSuperseded}); err != nil {
		t.Fatal(err)
	}
	ocspDelay := waitFor(t, 3*bound, "b's OCSP shows a revocation made on a", func() bool {
		return ocspQuery(t, b.proc.PublicURL+"/ocsp", leaf, rootCert, crypto.SHA1).Status == ocsp.Revoked
	})
	crlDelay := waitFor(t, 3*bound, "b's CRL lists a revocation made on a", func() bool {
		return crlListed(t, crlOnB, rootCert, leaf.SerialNumber)
	})
	t.Logf("across nodes: OCSP after %v, CRL after %v (propagation bound %v)", ocspDelay.Round(time.Millisecond),
		crlDelay.Round(time.Millisecond), bound)
}
