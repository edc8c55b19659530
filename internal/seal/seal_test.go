package seal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func testKeyring(t *testing.T) *Keyring {
	t.Helper()
	mk, err := NewMasterKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return NewKeyring(mk)
}

func TestRoundTripAndBinding(t *testing.T) {
	k := testKeyring(t)
	ctx := []byte("arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/a")
	blob, err := k.Seal([]byte("private key"), ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte("private key")) {
		t.Fatal("plaintext visible in sealed blob")
	}
	pt, err := k.Open(blob, ctx)
	if err != nil || string(pt) != "private key" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	// Another context (a blob moved to another row) must not open.
	if _, err := k.Open(blob, []byte("arn:...:certificate-authority/b")); err != ErrOpen {
		t.Fatalf("open with other context: %v", err)
	}
	// Any flipped byte must fail.
	for i := range blob {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		if _, err := k.Open(bad, ctx); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	if _, err := k.Open(blob[:10], ctx); err != ErrOpen {
		t.Fatal("short blob accepted")
	}
}

func TestTwoSealsDiffer(t *testing.T) {
	k := testKeyring(t)
	a, _ := k.Seal([]byte("x"), nil)
	b, _ := k.Seal([]byte("x"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("sealing is deterministic; data keys or nonces are reused")
	}
}

func TestKeyringRotation(t *testing.T) {
	old, _ := NewMasterKey(bytes.Repeat([]byte{1}, 32))
	cur, _ := NewMasterKey(bytes.Repeat([]byte{2}, 32))
	blob, _ := NewKeyring(old).Seal([]byte("v"), []byte("c"))
	if _, err := NewKeyring(cur).Open(blob, []byte("c")); err != ErrOpen {
		t.Fatal("opened with the wrong master key")
	}
	pt, err := NewKeyring(cur, old).Open(blob, []byte("c"))
	if err != nil || string(pt) != "v" {
		t.Fatalf("rotation keyring: %q %v", pt, err)
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	mk1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	mk2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("reload: %v %v", created, err)
	}
	if mk1.ID() != mk2.ID() {
		t.Fatal("reloaded key differs")
	}
	blob, _ := NewKeyring(mk1).Seal([]byte("s"), nil)
	if _, err := NewKeyring(mk2).Open(blob, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	if _, _, err := LoadOrCreateKeyFile(path); err == nil {
		t.Fatal("garbage key file accepted")
	}
}

func FuzzOpen(f *testing.F) {
	mk, _ := NewMasterKey(bytes.Repeat([]byte{9}, 32))
	k := NewKeyring(mk)
	blob, _ := k.Seal([]byte("seed"), []byte("c"))
	f.Add(blob)
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Open must never panic, and nothing but a genuine seal of the one
		// plaintext ever sealed under this key and context may open: any
		// other success would be a forgery. (Fuzz workers are separate
		// processes with their own random seals, so the check is on the
		// plaintext, not on the exact blob.)
		if pt, err := k.Open(b, []byte("c")); err == nil && string(pt) != "seed" {
			t.Fatalf("a forged blob opened to %q", pt)
		}
	})
}
