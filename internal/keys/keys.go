// Package keys is the port through which Sigil uses private keys: a Manager
// creates keys and hands out crypto.Signer values, never key bytes. Back ends
// live in sub-packages: soft (software keys sealed at rest) and, later, an
// HSM over PKCS#11.
package keys

import (
	"context"
	"crypto"

	"github.com/sigilhq/sigil/internal/pki"
)

// Ref is an opaque reference to a key, produced by a Manager and stored with
// the resource that owns the key. Its content is private to the back end (a
// sealed key for soft, a token object handle for PKCS#11).
type Ref []byte

// Manager creates and loads keys.
//
// binding names the resource the key belongs to (for example a CA ARN). A key
// created with one binding MUST NOT be usable under another; back ends bind it
// cryptographically (soft) or by label (HSM).
//
// Implementations MUST be safe for concurrent use. Signer MUST return an error
// (never a nil signer) when ref is unknown or cannot be unsealed. Neither
// method may log or return private key material.
type Manager interface {
	// Create generates a new key pair of the given algorithm.
	Create(ctx context.Context, alg pki.KeyAlgorithm, binding string) (Ref, crypto.Signer, error)
	// Signer returns a signer for a key made by Create.
	Signer(ctx context.Context, ref Ref, binding string) (crypto.Signer, error)
	// Destroy removes the key when its owner is purged. Destroying a key
	// that no longer exists is not an error.
	Destroy(ctx context.Context, ref Ref, binding string) error
}
