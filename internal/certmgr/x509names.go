package certmgr

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// KeyUsageNames are ACM's key usage names in x509.KeyUsage bit order, so a
// record's KeyUsages bit set is the certificate's x509.KeyUsage.
var KeyUsageNames = []string{
	"DIGITAL_SIGNATURE", "NON_REPUDIATION", "KEY_ENCIPHERMENT", "DATA_ENCIPHERMENT", "KEY_AGREEMENT",
	"CERTIFICATE_SIGNING", "CRL_SIGNING", "ENCIPHER_ONLY", "DECIPHER_ONLY",
}

// EKU is an extended key usage as ACM names it.
type EKU struct {
	Name string
	OID  string
	bit  int64
}

// ExtKeyUsages are ACM's extended key usage names with their OIDs and the
// bit each has in a record's ExtKeyUsages set. CUSTOM stands for any other
// OID; NONE for a certificate without the extension.
var ExtKeyUsages = []EKU{
	{"TLS_WEB_SERVER_AUTHENTICATION", "1.3.6.1.5.5.7.3.1", 1 << 0},
	{"TLS_WEB_CLIENT_AUTHENTICATION", "1.3.6.1.5.5.7.3.2", 1 << 1},
	{"CODE_SIGNING", "1.3.6.1.5.5.7.3.3", 1 << 2},
	{"EMAIL_PROTECTION", "1.3.6.1.5.5.7.3.4", 1 << 3},
	{"TIME_STAMPING", "1.3.6.1.5.5.7.3.8", 1 << 4},
	{"OCSP_SIGNING", "1.3.6.1.5.5.7.3.9", 1 << 5},
	{"IPSEC_END_SYSTEM", "1.3.6.1.5.5.7.3.5", 1 << 6},
	{"IPSEC_TUNNEL", "1.3.6.1.5.5.7.3.6", 1 << 7},
	{"IPSEC_USER", "1.3.6.1.5.5.7.3.7", 1 << 8},
	{"ANY", "2.5.29.37.0", 1 << 9},
	{"CUSTOM", "", 1 << 10},
	{"NONE", "", 1 << 11},
}

var oidEKU = asn1.ObjectIdentifier{2, 5, 29, 37}

func ekuByName(name string) (EKU, bool) {
	for _, e := range ExtKeyUsages {
		if e.Name == name {
			return e, true
		}
	}
	return EKU{}, false
}

// extKeyUsageBits reads a certificate's extended key usages as a bit set.
func extKeyUsageBits(x *x509.Certificate) int64 {
	var bits int64
	has := false
	for _, ext := range x.Extensions {
		if !ext.Id.Equal(oidEKU) {
			continue
		}
		has = true
		var oids []asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(ext.Value, &oids); err != nil {
			bits |= 1 << 10
			continue
		}
		for _, o := range oids {
			found := false
			for _, e := range ExtKeyUsages {
				if e.OID != "" && e.OID == o.String() {
					bits |= e.bit
					found = true
				}
			}
			if !found {
				bits |= 1 << 10
			}
		}
	}
	if !has {
		bits |= 1 << 11
	}
	return bits
}

// customEKUs lists the OIDs of a certificate's extended key usages that ACM
// has no name for.
func customEKUs(x *x509.Certificate) []string {
	var out []string
	for _, o := range x.UnknownExtKeyUsage {
		out = append(out, o.String())
	}
	return out
}

// keyAlgorithmName names a public key as ACM does.
func keyAlgorithmName(pub any) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch n := k.N.BitLen(); n {
		case 1024, 2048, 3072, 4096:
			return fmt.Sprintf("RSA_%d", n), nil
		default:
			return "", fmt.Errorf("RSA keys of %d bits are not supported (1024, 2048, 3072 or 4096)", n)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "EC_prime256v1", nil
		case elliptic.P384():
			return "EC_secp384r1", nil
		case elliptic.P521():
			return "EC_secp521r1", nil
		}
		return "", fmt.Errorf("the elliptic curve %s is not supported (P-256, P-384 or P-521)", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("%T keys are not supported (RSA or ECDSA)", pub)
}

// signatureAlgorithmName names a signature algorithm as ACM does.
func signatureAlgorithmName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.SHA256WithRSA:
		return "SHA256WITHRSA"
	case x509.SHA384WithRSA:
		return "SHA384WITHRSA"
	case x509.SHA512WithRSA:
		return "SHA512WITHRSA"
	case x509.SHA1WithRSA:
		return "SHA1WITHRSA"
	case x509.SHA256WithRSAPSS:
		return "SHA256WITHRSAPSS"
	case x509.SHA384WithRSAPSS:
		return "SHA384WITHRSAPSS"
	case x509.SHA512WithRSAPSS:
		return "SHA512WITHRSAPSS"
	case x509.ECDSAWithSHA256:
		return "SHA256WITHECDSA"
	case x509.ECDSAWithSHA384:
		return "SHA384WITHECDSA"
	case x509.ECDSAWithSHA512:
		return "SHA512WITHECDSA"
	case x509.ECDSAWithSHA1:
		return "SHA1WITHECDSA"
	}
	return a.String()
}
