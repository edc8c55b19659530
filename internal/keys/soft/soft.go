// Package soft is the software key back end: keys are generated in process,
// serialized as PKCS#8 and sealed with envelope encryption bound to the key's
// owner. The sealed key itself is the reference stored with the owner, so no
// separate key table exists. Unsealed signers are cached in memory.
package soft

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	"github.com/sigilhq/sigil/internal/keys"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/seal"
)

const refPrefix = "soft1:"

// maxCached bounds the number of unsealed signers kept in memory.
const maxCached = 4096

// Manager keeps software keys sealed by a seal.Sealer.
type Manager struct {
	sealer seal.Sealer

	mu    sync.RWMutex
	cache map[[32]byte]crypto.Signer
}

var _ keys.Manager = (*Manager)(nil)

// New returns a software key manager that seals keys with sealer.
func New(sealer seal.Sealer) *Manager {
	return &Manager{sealer: sealer, cache: make(map[[32]byte]crypto.Signer)}
}

// Create generates a key and returns its sealed form as the reference.
func (m *Manager) Create(_ context.Context, alg pki.KeyAlgorithm, binding string) (keys.Ref, crypto.Signer, error) {
	signer, err := pki.GenerateKey(alg, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, nil, fmt.Errorf("soft: marshal key: %w", err)
	}
	defer clear(der)
	sealed, err := m.sealer.Seal(der, aad(binding))
	if err != nil {
		return nil, nil, err
	}
	ref := append([]byte(refPrefix), sealed...)
	m.remember(cacheKey(ref, binding), signer)
	return ref, signer, nil
}

// Signer unseals the key (once; later calls hit the cache).
func (m *Manager) Signer(_ context.Context, ref keys.Ref, binding string) (crypto.Signer, error) {
	id := cacheKey(ref, binding)
	m.mu.RLock()
	s, ok := m.cache[id]
	m.mu.RUnlock()
	if ok {
		return s, nil
	}
	if len(ref) <= len(refPrefix) || string(ref[:len(refPrefix)]) != refPrefix {
		return nil, errors.New("soft: not a software key reference")
	}
	der, err := m.sealer.Open(ref[len(refPrefix):], aad(binding))
	if err != nil {
		return nil, fmt.Errorf("soft: unseal key for %s: %w", binding, err)
	}
	defer clear(der)
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("soft: parse key for %s: %w", binding, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("soft: key for %s is not a signer", binding)
	}
	m.remember(id, signer)
	return signer, nil
}

// Destroy drops the cached signer; the sealed key is deleted with its owner.
func (m *Manager) Destroy(_ context.Context, ref keys.Ref, binding string) error {
	m.mu.Lock()
	delete(m.cache, cacheKey(ref, binding))
	m.mu.Unlock()
	return nil
}

// remember caches an unsealed signer. The cache key covers the binding as
// well as the ref: a ref presented with another binding must miss the cache
// and then fail to unseal.
func (m *Manager) remember(id [32]byte, signer crypto.Signer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) >= maxCached {
		for k := range m.cache { // evict an arbitrary entry
			delete(m.cache, k)
			break
		}
	}
	m.cache[id] = signer
}

func aad(binding string) []byte { return []byte("sigil/key/" + binding) }

func cacheKey(ref keys.Ref, binding string) [32]byte {
	h := sha256.New()
	h.Write(ref)
	h.Write([]byte{0})
	h.Write([]byte(binding))
	var k [32]byte
	h.Sum(k[:0])
	return k
}
