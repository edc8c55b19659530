package soft

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/seal"
)

func newManager(t *testing.T) (*Manager, *seal.Keyring) {
	t.Helper()
	mk, err := seal.NewMasterKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	kr := seal.NewKeyring(mk)
	return New(kr), kr
}

func TestCreateAndReload(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []pki.KeyAlgorithm{pki.ECP256, pki.ECP384, pki.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			m, kr := newManager(t)
			ref, s1, err := m.Create(ctx, alg, "ca-1")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := pki.KeyAlgorithmOf(s1.Public()); got != alg {
				t.Fatalf("algorithm %s, want %s", got, alg)
			}
			// A fresh manager (a restarted process) must unseal the same key.
			s2, err := New(kr).Signer(ctx, ref, "ca-1")
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("hello"))
			sig, err := s2.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := s1.Public().(type) {
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					t.Fatal("reloaded key signs with another key")
				}
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
					t.Fatal(err)
				}
			}
			// The reference never holds the key in the clear.
			der, _ := x509MarshalForTest(s1)
			if bytes.Contains(ref, der[len(der)-32:]) {
				t.Fatal("key material visible in reference")
			}
		})
	}
}

func TestWrongBindingFails(t *testing.T) {
	ctx := context.Background()
	m, kr := newManager(t)
	ref, _, err := m.Create(ctx, pki.ECP256, "ca-1")
	if err != nil {
		t.Fatal(err)
	}
	// Even with the cache warm, another binding must not hand out the key.
	if _, err := m.Signer(ctx, ref, "ca-2"); err == nil {
		t.Fatal("key usable under another binding (cached)")
	}
	if _, err := New(kr).Signer(ctx, ref, "ca-2"); err == nil {
		t.Fatal("key usable under another binding")
	}
	if _, err := m.Signer(ctx, []byte("garbage"), "ca-1"); err == nil {
		t.Fatal("garbage reference accepted")
	}
	if err := m.Destroy(ctx, ref, "ca-1"); err != nil {
		t.Fatal(err)
	}
}

func TestUnsupportedAlgorithm(t *testing.T) {
	m, _ := newManager(t)
	if _, _, err := m.Create(context.Background(), "DSA_1024", "x"); err == nil {
		t.Fatal("unsupported algorithm accepted")
	}
}
