package pki

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runOpenSSL(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out) // openssl is required: CI installs it
	}
	return out
}

func TestEncryptPKCS8OpensWithOpenSSL(t *testing.T) {
	for _, alg := range []KeyAlgorithm{RSA2048, ECP256, ECP384, ECP521} {
		t.Run(string(alg), func(t *testing.T) {
			key, err := GenerateKey(alg, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKCS8PrivateKey(key)
			enc, err := EncryptPKCS8PEM(der, []byte("s3cret pass"), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecryptPKCS8PEM(enc, []byte("s3cret pass"))
			if err != nil || !bytes.Equal(back, der) {
				t.Fatalf("round trip: %v", err)
			}
			if _, err := DecryptPKCS8PEM(enc, []byte("s3cret pas")); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: %v", err)
			}
			file := filepath.Join(t.TempDir(), "key.pem")
			os.WriteFile(file, enc, 0o600)
			got := runOpenSSL(t, nil, "pkey", "-in", file, "-passin", "pass:s3cret pass", "-pubout")
			pubDER, _ := x509.MarshalPKIXPublicKey(key.Public())
			want := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
			if !bytes.Equal(got, want) {
				t.Fatalf("openssl read another key:\n%s", got)
			}
			if out := runOpenSSL(t, nil, "asn1parse", "-in", file); !strings.Contains(string(out), "aes-256-cbc") ||
				!strings.Contains(string(out), "hmacWithSHA256") {
				t.Fatalf("not PBES2 with AES-256-CBC and HMAC-SHA256:\n%s", out)
			}
		})
	}
	if _, err := EncryptPKCS8PEM([]byte{1}, nil, rand.Reader); err == nil {
		t.Fatal("empty passphrase accepted")
	}
}

func TestDecryptOpenSSLKeys(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.pem")
	runOpenSSL(t, nil, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", plain)
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass", "pass:pw1234"},
		{"pkcs8", "-topk8", "-in", plain, "-v2", "aes-128-cbc", "-passout", "pass:pw1234"},
		{"pkcs8", "-topk8", "-in", plain, "-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-passout", "pass:pw1234"},
	} {
		enc := runOpenSSL(t, nil, args...)
		der, err := DecryptPKCS8PEM(enc, []byte("pw1234"))
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
			t.Fatalf("%v: decrypted key does not parse: %v", args, err)
		}
		if _, err := DecryptPKCS8PEM(enc, []byte("pw12345")); err == nil {
			t.Fatalf("%v: wrong passphrase accepted", args)
		}
		block, _ := pem.Decode(enc)
		block.Bytes[len(block.Bytes)-1] ^= 1
		if _, err := DecryptPKCS8PEM(pem.EncodeToMemory(block), []byte("pw1234")); err == nil {
			t.Fatalf("%v: tampered ciphertext accepted", args)
		}
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	ok := map[string][]string{
		"pkcs8 ec":         {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"},
		"sec1 with params": {"ecparam", "-name", "prime256v1", "-genkey"},
		"pkcs1 rsa":        {"genrsa", "-traditional", "2048"},
	}
	for name, args := range ok {
		out := runOpenSSL(t, nil, args...)
		if _, err := ParsePrivateKeyPEM(out); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
	ec := runOpenSSL(t, nil, ok["pkcs8 ec"]...)
	legacy := runOpenSSL(t, nil, "genrsa", "-traditional", "-aes128", "-passout", "pass:pw1234", "1024")
	modern := runOpenSSL(t, nil, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass", "pass:pw1234")
	for name, in := range map[string][]byte{"legacy encrypted": legacy, "pkcs8 encrypted": modern} {
		if _, err := ParsePrivateKeyPEM(in); !errors.Is(err, ErrEncryptedKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	if _, err := ParsePrivateKeyPEM(EncodePEM("PRIVATE KEY", edDER)); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("ed25519: %v", err)
	}
	for name, in := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a key"),
		"two keys":  append(append([]byte{}, ec...), ec...),
		"cert":      []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"bad DER":   EncodePEM("PRIVATE KEY", []byte{0x30, 0x01}),
		"too large": bytes.Repeat([]byte("a"), MaxKeyPEMBytes+1),
	} {
		if k, err := ParsePrivateKeyPEM(in); err == nil || k != nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	k, _ := GenerateKey(ECP256, rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(EncodePEM("PRIVATE KEY", der))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKeyPEM(b)
		if err == nil && k == nil {
			t.Fatal("nil key without an error")
		}
	})
}

func FuzzDecryptPKCS8PEM(f *testing.F) {
	k, _ := GenerateKey(ECP256, rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	enc, _ := EncryptPKCS8PEM(der, []byte("pw"), rand.Reader)
	f.Add(enc, []byte("pw"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), []byte("x"))
	maxPKCS8Iterations = 200_000 // keep each execution fast
	f.Fuzz(func(t *testing.T, b, pass []byte) {
		DecryptPKCS8PEM(b, pass)
	})
}

func BenchmarkEncryptPKCS8(b *testing.B) {
	k, _ := GenerateKey(ECP256, rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	for b.Loop() {
		if _, err := EncryptPKCS8PEM(der, []byte("passphrase"), rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}
