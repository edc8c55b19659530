package integration

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/sigiltest"
)

func httpsClient(t *testing.T, dataDir string) *http.Client {
	bundle, err := os.ReadFile(filepath.Join(dataDir, "ca-bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestBackupRestore backs up a running production server, restores the
// backup into a new data directory and store with only the master key
// carried over, and checks that the administrator's credentials still work,
// the certificates are all there, and the CA keys still sign. It runs on
// the engine under test, and restores a SQLite backup into PostgreSQL too.
func TestBackupRestore(t *testing.T) {
	oldDir := t.TempDir()
	oldStore := sigiltest.StoreArgs(t)
	p := sigiltest.StartProcess(t, append(append([]string{"--data-dir", oldDir}, loopbackPorts...), oldStore...)...)
	keyID, secret := readCredentials(t, filepath.Join(oldDir, "credentials"))
	c := sigiltest.PCAClient(p.URL, sigiltest.AWSConfig(keyID, secret, "us-east-1", httpsClient(t, oldDir)))
	root := createCA(t, c, types.CertificateAuthorityTypeRoot, types.KeyAlgorithmEcPrime256v1, types.SigningAlgorithmSha256withecdsa, "Backup Root")
	rootPEM := activateRoot(t, c, root, types.SigningAlgorithmSha256withecdsa, 5)
	sub := createCA(t, c, types.CertificateAuthorityTypeSubordinate, types.KeyAlgorithmRsa2048, types.SigningAlgorithmSha256withrsa, "Backup Sub")
	subPEM, _ := activateSub(t, c, root, sub, types.SigningAlgorithmSha256withecdsa, tplSub0, 2)
	leafARN, leafPEM, _ := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &sub, Csr: quickCSR(t, "kept.example"),
		SigningAlgorithm: types.SigningAlgorithmSha256withrsa})

	// Back up while the server runs.
	backup := filepath.Join(t.TempDir(), "sigil.backup")
	out, err := sigiltest.RunProcess(t, append([]string{"backup", "--out", backup, "--data-dir", oldDir}, oldStore...)...)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(backup)
	if st, _ := os.Stat(backup); st.Mode().Perm() != 0o600 || strings.Contains(string(raw), "Backup Root") || strings.Contains(string(raw), keyID) {
		t.Fatalf("the backup is not a private, sealed file (mode %v)", st.Mode().Perm())
	}
	p.Stop(t)
	masterKey, _ := os.ReadFile(filepath.Join(oldDir, "master.key"))

	restoreInto := func(t *testing.T, storeArgs []string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "master.key"), masterKey, 0o600)
		out, err := sigiltest.RunProcess(t, append([]string{"restore", "--in", backup, "--data-dir", dir}, storeArgs...)...)
		if err != nil || !strings.Contains(out, "restored") {
			t.Fatalf("restore: %v\n%s", err, out)
		}
		return dir
	}
	check := func(t *testing.T, dir string, storeArgs []string) {
		p := sigiltest.StartProcess(t, append(append([]string{"--data-dir", dir}, loopbackPorts...), storeArgs...)...)
		if _, err := os.Stat(filepath.Join(dir, "credentials")); err == nil {
			t.Fatal("a restored deployment bootstrapped a second administrator")
		}
		// The old administrator's sealed secret still decrypts.
		c := sigiltest.PCAClient(p.URL, sigiltest.AWSConfig(keyID, secret, "us-east-1", httpsClient(t, dir)))
		for _, arn := range []string{root, sub} {
			d, err := c.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &arn})
			if err != nil || d.CertificateAuthority.Status != types.CertificateAuthorityStatusActive {
				t.Fatalf("%s after restore: %v %v", arn, d, err)
			}
		}
		if got, _ := getCert(t, c, sub, leafARN); string(got) != string(leafPEM) {
			t.Fatal("the issued certificate did not survive the restore")
		}
		// The CA keys still sign.
		_, fresh, _ := issue(t, c, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &sub, Csr: quickCSR(t, "after-restore.example"),
			SigningAlgorithm: types.SigningAlgorithmSha256withrsa})
		sigiltest.OpenSSLVerify(t, rootPEM, subPEM, fresh)
	}

	t.Run(sigiltest.Engine(), func(t *testing.T) {
		storeArgs := sigiltest.StoreArgs(t)
		dir := restoreInto(t, storeArgs)
		check(t, dir, storeArgs)
		// Restoring again into the same, now full, store is refused.
		out, err := sigiltest.RunProcess(t, append([]string{"restore", "--in", backup, "--data-dir", dir}, storeArgs...)...)
		if err == nil || !strings.Contains(out, "not empty") {
			t.Fatalf("restore into a full store: %v %s", err, out)
		}
	})
	if sigiltest.Engine() == "sqlite" {
		t.Run("sqlite-to-postgres", func(t *testing.T) {
			storeArgs := []string{"--store", sigiltest.PostgresURL(t)}
			check(t, restoreInto(t, storeArgs), storeArgs)
		})
	}
	t.Run("wrong master key", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "master.key"), []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0o600)
		out, err := sigiltest.RunProcess(t, append([]string{"restore", "--in", backup, "--data-dir", dir}, sigiltest.StoreArgs(t)...)...)
		if err == nil || !strings.Contains(out, "master key") {
			t.Fatalf("restore with another master key: %v %s", err, out)
		}
	})
	t.Run("no master key", func(t *testing.T) {
		out, err := sigiltest.RunProcess(t, "restore", "--in", backup, "--data-dir", t.TempDir())
		if err == nil || !strings.Contains(out, "master.key") {
			t.Fatalf("restore without a master key: %v %s", err, out)
		}
	})
	t.Run("tampered backup", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.backup")
		tampered := append([]byte{}, raw...)
		tampered[len(tampered)/2] ^= 1
		os.WriteFile(bad, tampered, 0o600)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "master.key"), masterKey, 0o600)
		out, err := sigiltest.RunProcess(t, "restore", "--in", bad, "--data-dir", dir)
		if err == nil {
			t.Fatalf("a tampered backup was restored:\n%s", out)
		}
	})
}
