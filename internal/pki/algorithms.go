package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
)

// KeyAlgorithm names a key type and size. The values are the AWS Private CA
// wire names, which are also Sigil's own.
type KeyAlgorithm string

// Supported key algorithms.
const (
	RSA2048   KeyAlgorithm = "RSA_2048"
	RSA3072   KeyAlgorithm = "RSA_3072"
	RSA4096   KeyAlgorithm = "RSA_4096"
	ECP256    KeyAlgorithm = "EC_prime256v1"
	ECP384    KeyAlgorithm = "EC_secp384r1"
	ECP521    KeyAlgorithm = "EC_secp521r1"
	keyAlgEnd KeyAlgorithm = ""
)

// KeyAlgorithms lists every supported key algorithm.
var KeyAlgorithms = []KeyAlgorithm{RSA2048, RSA3072, RSA4096, ECP256, ECP384, ECP521}

// KeyFamily is the public-key family of an algorithm.
type KeyFamily string

// Key families.
const (
	FamilyRSA   KeyFamily = "RSA"
	FamilyECDSA KeyFamily = "ECDSA"
)

// Valid reports whether a is a supported key algorithm.
func (a KeyAlgorithm) Valid() bool {
	for _, k := range KeyAlgorithms {
		if a == k {
			return true
		}
	}
	return false
}

// Family returns the key family of a.
func (a KeyAlgorithm) Family() KeyFamily {
	switch a {
	case RSA2048, RSA3072, RSA4096:
		return FamilyRSA
	case ECP256, ECP384, ECP521:
		return FamilyECDSA
	}
	return ""
}

func (a KeyAlgorithm) rsaBits() int {
	switch a {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

func (a KeyAlgorithm) curve() elliptic.Curve {
	switch a {
	case ECP256:
		return elliptic.P256()
	case ECP384:
		return elliptic.P384()
	case ECP521:
		return elliptic.P521()
	}
	return nil
}

// GenerateKey creates a new private key of algorithm a.
func GenerateKey(a KeyAlgorithm, random io.Reader) (crypto.Signer, error) {
	switch a.Family() {
	case FamilyRSA:
		return rsa.GenerateKey(random, a.rsaBits())
	case FamilyECDSA:
		return ecdsa.GenerateKey(a.curve(), random)
	}
	return nil, fmt.Errorf("unsupported key algorithm %q", a)
}

// KeyAlgorithmOf returns the algorithm of a public key, or an error if the key
// is of a type or size Sigil does not support.
func KeyAlgorithmOf(pub crypto.PublicKey) (KeyAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048, nil
		case 3072:
			return RSA3072, nil
		case 4096:
			return RSA4096, nil
		}
		return "", fmt.Errorf("RSA key of %d bits is not supported (use 2048, 3072 or 4096)", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECP256, nil
		case elliptic.P384():
			return ECP384, nil
		case elliptic.P521():
			return ECP521, nil
		}
		return "", fmt.Errorf("EC curve %s is not supported", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("public key type %T is not supported", pub)
}

// SigningAlgorithm names a signature algorithm, with AWS Private CA wire
// names.
type SigningAlgorithm string

// Supported signing algorithms.
const (
	SHA256WithECDSA  SigningAlgorithm = "SHA256WITHECDSA"
	SHA384WithECDSA  SigningAlgorithm = "SHA384WITHECDSA"
	SHA512WithECDSA  SigningAlgorithm = "SHA512WITHECDSA"
	SHA256WithRSA    SigningAlgorithm = "SHA256WITHRSA"
	SHA384WithRSA    SigningAlgorithm = "SHA384WITHRSA"
	SHA512WithRSA    SigningAlgorithm = "SHA512WITHRSA"
	SHA256WithRSAPSS SigningAlgorithm = "SHA256WITHRSA_PSS"
	SHA384WithRSAPSS SigningAlgorithm = "SHA384WITHRSA_PSS"
	SHA512WithRSAPSS SigningAlgorithm = "SHA512WITHRSA_PSS"
)

var signingAlgorithms = map[SigningAlgorithm]struct {
	x509   x509.SignatureAlgorithm
	family KeyFamily
}{
	SHA256WithECDSA:  {x509.ECDSAWithSHA256, FamilyECDSA},
	SHA384WithECDSA:  {x509.ECDSAWithSHA384, FamilyECDSA},
	SHA512WithECDSA:  {x509.ECDSAWithSHA512, FamilyECDSA},
	SHA256WithRSA:    {x509.SHA256WithRSA, FamilyRSA},
	SHA384WithRSA:    {x509.SHA384WithRSA, FamilyRSA},
	SHA512WithRSA:    {x509.SHA512WithRSA, FamilyRSA},
	SHA256WithRSAPSS: {x509.SHA256WithRSAPSS, FamilyRSA},
	SHA384WithRSAPSS: {x509.SHA384WithRSAPSS, FamilyRSA},
	SHA512WithRSAPSS: {x509.SHA512WithRSAPSS, FamilyRSA},
}

// SigningAlgorithms lists the supported signing algorithms in a stable order.
var SigningAlgorithms = []SigningAlgorithm{
	SHA256WithECDSA, SHA384WithECDSA, SHA512WithECDSA,
	SHA256WithRSA, SHA384WithRSA, SHA512WithRSA,
	SHA256WithRSAPSS, SHA384WithRSAPSS, SHA512WithRSAPSS,
}

// Valid reports whether s is supported.
func (s SigningAlgorithm) Valid() bool { _, ok := signingAlgorithms[s]; return ok }

// X509 returns the crypto/x509 signature algorithm.
func (s SigningAlgorithm) X509() x509.SignatureAlgorithm { return signingAlgorithms[s].x509 }

// Family returns the key family that can produce s.
func (s SigningAlgorithm) Family() KeyFamily { return signingAlgorithms[s].family }

// CompatibleWith reports whether a key of algorithm k can sign with s.
func (s SigningAlgorithm) CompatibleWith(k KeyAlgorithm) bool {
	return s.Valid() && s.Family() == k.Family()
}
