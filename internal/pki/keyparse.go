package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// MaxKeyPEMBytes bounds a PEM private key given to ParsePrivateKeyPEM.
const MaxKeyPEMBytes = 64 << 10

// Errors of ParsePrivateKeyPEM that callers tell apart.
var (
	ErrEncryptedKey   = errors.New("the private key is encrypted; it must be given unencrypted")
	ErrUnsupportedKey = errors.New("unsupported key type (RSA or ECDSA keys only)")
)

// ParsePrivateKeyPEM reads one unencrypted RSA or ECDSA private key in PEM:
// PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE
// KEY", optionally after the "EC PARAMETERS" block openssl writes).
func ParsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	if len(b) > MaxKeyPEMBytes {
		return nil, fmt.Errorf("the private key PEM is larger than %d bytes", MaxKeyPEMBytes)
	}
	var key crypto.Signer
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		if key != nil {
			return nil, errors.New("more than one PEM block follows the private key")
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return nil, ErrEncryptedKey
		}
		var k any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("expected a PEM private key, found %q", block.Type)
		}
		if err != nil {
			if block.Type == "PRIVATE KEY" && isUnsupportedAlgorithm(err) {
				return nil, ErrUnsupportedKey
			}
			return nil, fmt.Errorf("the private key cannot be parsed: %v", err)
		}
		switch s := k.(type) {
		case *rsa.PrivateKey:
			key = s
		case *ecdsa.PrivateKey:
			key = s
		default:
			return nil, ErrUnsupportedKey
		}
	}
	if key == nil {
		return nil, errors.New("no PEM private key found")
	}
	return key, nil
}

// isUnsupportedAlgorithm reports whether x509 refused a PKCS#8 key only for
// its algorithm.
func isUnsupportedAlgorithm(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unknown public key algorithm") || strings.Contains(msg, "unsupported")
}

// PublicKeysEqual reports whether two public keys are the same key.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
