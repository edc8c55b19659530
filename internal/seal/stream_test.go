package seal

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

func roundTrip(t *testing.T, k *Keyring, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := k.NewWriter(&buf, []byte("sigil/backup"))
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes exercise chunk boundaries.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 7777)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStreamRoundTrip(t *testing.T) {
	k := testKeyring(t)
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 123} {
		data := make([]byte, size)
		rand.Read(data)
		sealed := roundTrip(t, k, data)
		if size > 16 && bytes.Contains(sealed, data[:16]) {
			t.Fatal("plaintext visible in the stream")
		}
		r, err := k.NewReader(bytes.NewReader(sealed), []byte("sigil/backup"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: %v, equal=%v", size, err, bytes.Equal(got, data))
		}
	}
}

func TestStreamTampering(t *testing.T) {
	k := testKeyring(t)
	data := make([]byte, 2*chunkSize+10)
	rand.Read(data)
	sealed := roundTrip(t, k, data)
	read := func(b []byte, ctx string, kr *Keyring) error {
		r, err := kr.NewReader(bytes.NewReader(b), []byte(ctx))
		if err != nil {
			return err
		}
		_, err = io.ReadAll(r)
		return err
	}
	if err := read(sealed, "sigil/backup", k); err != nil {
		t.Fatal(err)
	}
	chunk1 := len(sealed) - (5 + 10 + 16) - (5 + chunkSize + 16)
	cases := map[string][]byte{
		"truncated":       sealed[:len(sealed)-40],
		"final chunk cut": sealed[:chunk1],
		"extra data":      append(append([]byte{}, sealed...), 0),
		"flipped byte":    func() []byte { b := bytes.Clone(sealed); b[len(b)/2] ^= 1; return b }(),
		"header flipped":  func() []byte { b := bytes.Clone(sealed); b[20] ^= 1; return b }(),
	}
	for name, b := range cases {
		if err := read(b, "sigil/backup", k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := read(sealed, "other context", k); err == nil {
		t.Error("other context accepted")
	}
	other, _ := NewMasterKey(bytes.Repeat([]byte{8}, 32))
	if err := read(sealed, "sigil/backup", NewKeyring(other)); err == nil {
		t.Error("other master key accepted")
	}
}
