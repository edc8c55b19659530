// Package seal encrypts small objects at rest with envelope encryption: each
// object gets its own AES-256-GCM data key, and that data key is wrapped by a
// master key. A caller-supplied context (for example a resource ARN) is bound
// to both layers as associated data, so a sealed blob copied to another row
// or resource fails to open.
//
// The master key lives in a key file (see LoadOrCreateKeyFile); an HSM-held
// master key can be added behind the same Sealer interface.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Sealer seals and opens byte strings. Implementations MUST be safe for
// concurrent use. Open MUST fail (and never return partial plaintext) when the
// blob was altered, when the context differs from the one used to seal, or
// when the master key that sealed it is not available.
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	Open(blob, context []byte) ([]byte, error)
}

// ErrOpen is returned when a blob cannot be opened. It deliberately does not
// say which check failed.
var ErrOpen = errors.New("seal: cannot open sealed data (wrong master key, wrong context, or corrupted data)")

const (
	version1  = 1
	keyIDLen  = 8
	nonceLen  = 12
	dekLen    = 32
	tagLen    = 16
	headerLen = 1 + keyIDLen
	// version | key id | nonce | wrapped DEK (+tag) | nonce | ciphertext (+tag)
	minBlobLen = headerLen + nonceLen + dekLen + tagLen + nonceLen + tagLen
)

// MasterKey is a 256-bit key that wraps data keys.
type MasterKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

// NewMasterKey builds a master key from 32 bytes of key material.
func NewMasterKey(material []byte) (*MasterKey, error) {
	if len(material) != 32 {
		return nil, fmt.Errorf("seal: master key must be 32 bytes, got %d", len(material))
	}
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	mk := &MasterKey{aead: aead}
	sum := sha256.Sum256(append([]byte("sigil master key id\x00"), material...))
	copy(mk.id[:], sum[:keyIDLen])
	return mk, nil
}

// ID returns a short, non-secret identifier of the key (a hash prefix), used
// to detect that data was sealed under another master key.
func (m *MasterKey) ID() string { return fmt.Sprintf("%x", m.id[:]) }

// Keyring seals with its current master key and opens with any of its keys,
// so that the master key can be rotated without re-sealing everything at once.
type Keyring struct {
	current *MasterKey
	byID    map[[keyIDLen]byte]*MasterKey
}

var _ Sealer = (*Keyring)(nil)

// NewKeyring returns a keyring that seals with current and can also open data
// sealed by any of older.
func NewKeyring(current *MasterKey, older ...*MasterKey) *Keyring {
	k := &Keyring{current: current, byID: map[[keyIDLen]byte]*MasterKey{current.id: current}}
	for _, o := range older {
		k.byID[o.id] = o
	}
	return k
}

// CurrentID returns the ID of the key used for sealing.
func (k *Keyring) CurrentID() string { return k.current.ID() }

// Seal encrypts plaintext under a fresh data key bound to context.
func (k *Keyring) Seal(plaintext, context []byte) ([]byte, error) {
	dek := make([]byte, dekLen)
	if _, err := io.ReadFull(rand.Reader, dek); err != nil {
		return nil, fmt.Errorf("seal: data key: %w", err)
	}
	defer clear(dek)
	dataAEAD, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, minBlobLen+len(plaintext))
	out = append(out, version1)
	out = append(out, k.current.id[:]...)
	header := out[:headerLen:headerLen]

	wrapNonce, err := nonce()
	if err != nil {
		return nil, err
	}
	out = append(out, wrapNonce...)
	out = k.current.aead.Seal(out, wrapNonce, dek, aad(header, context))

	dataNonce, err := nonce()
	if err != nil {
		return nil, err
	}
	out = append(out, dataNonce...)
	out = dataAEAD.Seal(out, dataNonce, plaintext, aad(header, context))
	return out, nil
}

// Open decrypts a blob produced by Seal with the same context.
func (k *Keyring) Open(blob, context []byte) ([]byte, error) {
	if len(blob) < minBlobLen || blob[0] != version1 {
		return nil, ErrOpen
	}
	var id [keyIDLen]byte
	copy(id[:], blob[1:headerLen])
	mk, ok := k.byID[id]
	if !ok {
		return nil, ErrOpen
	}
	header := blob[:headerLen]
	rest := blob[headerLen:]
	wrapNonce, rest := rest[:nonceLen], rest[nonceLen:]
	wrapped, rest := rest[:dekLen+tagLen], rest[dekLen+tagLen:]
	dek, err := mk.aead.Open(nil, wrapNonce, wrapped, aad(header, context))
	if err != nil {
		return nil, ErrOpen
	}
	defer clear(dek)
	dataAEAD, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	dataNonce, ct := rest[:nonceLen], rest[nonceLen:]
	pt, err := dataAEAD.Open(nil, dataNonce, ct, aad(header, context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func aad(header, context []byte) []byte {
	// Length-prefix the context so that header||context cannot be confused
	// with another split of the same bytes.
	a := make([]byte, 0, len(header)+4+len(context))
	a = append(a, header...)
	n := len(context)
	a = append(a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(a, context...)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

func nonce() ([]byte, error) {
	n := make([]byte, nonceLen)
	if _, err := io.ReadFull(rand.Reader, n); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return n, nil
}

const keyFileHeader = "# Sigil master key. Keep a copy offline: without it, no CA key or secret can be decrypted.\n"

// LoadOrCreateKeyFile reads the master key from path, creating the file with a
// new random key (mode 0600) when it does not exist. created reports whether a
// new key was written. The file holds one line of standard base64.
func LoadOrCreateKeyFile(path string) (mk *MasterKey, created bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		material := make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, material); err != nil {
			return nil, false, fmt.Errorf("seal: generate master key: %w", err)
		}
		content := keyFileHeader + base64.StdEncoding.EncodeToString(material) + "\n"
		if err := writeExclusive(path, []byte(content)); err != nil {
			return nil, false, err
		}
		mk, err := NewMasterKey(material)
		return mk, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("seal: read master key: %w", err)
	}
	mk, err = ParseKeyFile(raw)
	if err != nil {
		return nil, false, fmt.Errorf("seal: %s: %w", path, err)
	}
	return mk, false, nil
}

// LoadKeyFile reads an existing master key file; unlike LoadOrCreateKeyFile
// it never creates one.
func LoadKeyFile(path string) (*MasterKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal: read master key: %w", err)
	}
	mk, err := ParseKeyFile(raw)
	if err != nil {
		return nil, fmt.Errorf("seal: %s: %w", path, err)
	}
	return mk, nil
}

// ParseKeyFile parses the content of a master key file.
func ParseKeyFile(raw []byte) (*MasterKey, error) {
	var b64 string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b64 = line
		break
	}
	material, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(material) != 32 {
		return nil, errors.New("not a valid master key file (want one line of base64 encoding 32 bytes)")
	}
	defer clear(material)
	return NewMasterKey(bytes.Clone(material))
}

func writeExclusive(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("seal: create master key file: %w", err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("seal: write master key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("seal: sync master key file: %w", err)
	}
	return f.Close()
}
