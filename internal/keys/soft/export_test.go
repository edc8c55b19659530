package soft

import (
	"crypto"
	"crypto/x509"
)

func x509MarshalForTest(s crypto.Signer) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(s) }
