package pki_test

import (
	"crypto/x509"

	"golang.org/x/crypto/ocsp"
)

func ocspCreateRequest(cert, issuer *x509.Certificate) ([]byte, error) {
	return ocsp.CreateRequest(cert, issuer, nil)
}
