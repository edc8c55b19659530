package pki

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // OCSP certificate IDs
	_ "crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// OIDOCSPNonce is the id-pkix-ocsp-nonce extension (RFC 6960 4.4.1).
var OIDOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// OCSPRequest is a parsed OCSP request for one certificate.
type OCSPRequest struct {
	HashAlgorithm  crypto.Hash
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	Serial         *big.Int
	Nonce          []byte // the nonce extension's value (DER), nil if none
}

// ocspRequest is RFC 6960's OCSPRequest.
type ocspRequest struct {
	TBS struct {
		Version    int              `asn1:"explicit,tag:0,default:0,optional"`
		Requestor  asn1.RawValue    `asn1:"explicit,tag:1,optional"`
		List       []ocspSingle     // each a Request
		Extensions []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	Signature asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type ocspSingle struct {
	CertID struct {
		HashAlgorithm  pkix.AlgorithmIdentifier
		IssuerNameHash []byte
		IssuerKeyHash  []byte
		Serial         *big.Int
	}
	Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
}

// ErrOCSPMalformed means the request cannot be understood.
var ErrOCSPMalformed = errors.New("malformed OCSP request")

// ParseOCSPRequest reads a DER OCSP request. Only requests for exactly one
// certificate are accepted (the RFC 5019 profile), with a SHA-1 or SHA-2
// certificate ID; anything else is ErrOCSPMalformed.
func ParseOCSPRequest(der []byte) (*OCSPRequest, error) {
	var raw ocspRequest
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil || len(rest) != 0 || len(raw.TBS.List) != 1 {
		return nil, ErrOCSPMalformed
	}
	id := raw.TBS.List[0].CertID
	var h crypto.Hash
	for alg, oid := range hashOIDs {
		if id.HashAlgorithm.Algorithm.Equal(oid) {
			h = alg
		}
	}
	if h == 0 || len(id.IssuerNameHash) != h.Size() || len(id.IssuerKeyHash) != h.Size() || id.Serial == nil || id.Serial.Sign() <= 0 {
		return nil, ErrOCSPMalformed
	}
	out := &OCSPRequest{HashAlgorithm: h, IssuerNameHash: id.IssuerNameHash, IssuerKeyHash: id.IssuerKeyHash, Serial: id.Serial}
	for _, e := range raw.TBS.Extensions {
		if e.Id.Equal(OIDOCSPNonce) {
			if len(e.Value) == 0 || len(e.Value) > 128 {
				return nil, ErrOCSPMalformed
			}
			out.Nonce = e.Value
		}
	}
	return out, nil
}

// OCSPStatus is a certificate's status in an OCSP response.
type OCSPStatus int

// OCSP certificate statuses (RFC 6960 4.2.1).
const (
	OCSPGood OCSPStatus = iota
	OCSPRevoked
	OCSPUnknown
)

func (s OCSPStatus) String() string {
	switch s {
	case OCSPGood:
		return "good"
	case OCSPRevoked:
		return "revoked"
	}
	return "unknown"
}

// OCSP response statuses for unsuccessful answers (RFC 6960 4.2.1).
const (
	OCSPMalformedRequest = 1
	OCSPInternalError    = 2
	OCSPTryLater         = 3
	OCSPUnauthorized     = 6
)

// OCSPErrorResponse is the DER of an OCSP response that carries only an
// unsuccessful response status (no signature, as RFC 6960 prescribes).
func OCSPErrorResponse(status int) []byte {
	return []byte{0x30, 0x03, 0x0a, 0x01, byte(status)}
}

// OCSPResponseParams describes one signed OCSP answer.
type OCSPResponseParams struct {
	Request    *OCSPRequest // the certificate ID is echoed from it; its nonce too
	Status     OCSPStatus
	RevokedAt  time.Time
	Reason     int // RFC 5280 reason code; 0 (unspecified) is left out
	ThisUpdate time.Time
	NextUpdate time.Time
	ProducedAt time.Time
	// Responder is the certificate whose key signs: the CA's own, or a
	// delegated responder's, which is then included in the response.
	Responder        *x509.Certificate
	Delegated        bool
	SigningAlgorithm SigningAlgorithm
}

var (
	oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	hashOIDs     = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:   {1, 3, 14, 3, 2, 26},
		crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	}
)

// SignOCSPResponse builds and signs a successful OCSP response for one
// certificate (the RFC 5019 profile: one SingleResponse, responder named by
// key hash, GeneralizedTime everywhere).
func SignOCSPResponse(p OCSPResponseParams, signer crypto.Signer) ([]byte, error) {
	if p.Request == nil || p.Request.Serial == nil || p.Responder == nil {
		return nil, errors.New("OCSP response needs a request and a responder")
	}
	hashOID, ok := hashOIDs[p.Request.HashAlgorithm]
	if !ok {
		return nil, errors.New("unsupported OCSP certificate ID hash")
	}
	algID, hash, err := signatureAlgorithmID(p.SigningAlgorithm)
	if err != nil {
		return nil, err
	}
	keyHash, err := KeyID(p.Responder.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}

	// CertID, echoed.
	var certID, hashAlg bytes.Buffer
	oid, _ := asn1.Marshal(hashOID)
	hashAlg.Write(oid)
	hashAlg.Write([]byte{0x05, 0x00})
	writeTLV(&certID, 0x30, hashAlg.Bytes())
	writeTLV(&certID, 0x04, p.Request.IssuerNameHash)
	writeTLV(&certID, 0x04, p.Request.IssuerKeyHash)
	writeTLV(&certID, 0x02, intBytes(p.Request.Serial))

	var single bytes.Buffer
	writeTLV(&single, 0x30, certID.Bytes())
	switch p.Status {
	case OCSPGood:
		single.Write([]byte{0x80, 0x00})
	case OCSPRevoked:
		var info bytes.Buffer
		writeGeneralizedTime(&info, p.RevokedAt)
		if p.Reason != 0 {
			var enum bytes.Buffer
			writeTLV(&enum, 0x0a, []byte{byte(p.Reason)})
			writeTLV(&info, 0xa0, enum.Bytes())
		}
		writeTLV(&single, 0xa1, info.Bytes())
	default:
		single.Write([]byte{0x82, 0x00})
	}
	writeGeneralizedTime(&single, p.ThisUpdate)
	if !p.NextUpdate.IsZero() {
		var next bytes.Buffer
		writeGeneralizedTime(&next, p.NextUpdate)
		writeTLV(&single, 0xa0, next.Bytes())
	}

	var data bytes.Buffer
	var rid bytes.Buffer
	writeTLV(&rid, 0x04, keyHash)
	writeTLV(&data, 0xa2, rid.Bytes()) // responderID byKey [2] EXPLICIT KeyHash
	writeGeneralizedTime(&data, p.ProducedAt)
	var responses bytes.Buffer
	writeTLV(&responses, 0x30, single.Bytes())
	writeTLV(&data, 0x30, responses.Bytes())
	if p.Request.Nonce != nil {
		extsDER, err := asn1.Marshal([]pkix.Extension{{Id: OIDOCSPNonce, Value: p.Request.Nonce}})
		if err != nil {
			return nil, err
		}
		writeTLV(&data, 0xa1, extsDER)
	}
	var tbs bytes.Buffer
	writeTLV(&tbs, 0x30, data.Bytes())

	sig, err := signTBS(tbs.Bytes(), p.SigningAlgorithm, hash, signer)
	if err != nil {
		return nil, fmt.Errorf("sign OCSP response: %w", err)
	}
	var basic bytes.Buffer
	basic.Write(tbs.Bytes())
	basic.Write(algID)
	writeTLV(&basic, 0x03, append([]byte{0}, sig...))
	if p.Delegated {
		var certs, seq bytes.Buffer
		writeTLV(&seq, 0x30, p.Responder.Raw)
		writeTLV(&certs, 0xa0, seq.Bytes())
		basic.Write(certs.Bytes())
	}
	var basicSeq bytes.Buffer
	writeTLV(&basicSeq, 0x30, basic.Bytes())

	var rb bytes.Buffer // ResponseBytes
	oid, _ = asn1.Marshal(oidOCSPBasic)
	rb.Write(oid)
	writeTLV(&rb, 0x04, basicSeq.Bytes())
	var rbSeq, rbExplicit bytes.Buffer
	writeTLV(&rbSeq, 0x30, rb.Bytes())
	writeTLV(&rbExplicit, 0xa0, rbSeq.Bytes())

	var resp bytes.Buffer
	resp.Write([]byte{0x0a, 0x01, 0x00}) // successful
	resp.Write(rbExplicit.Bytes())
	var out bytes.Buffer
	writeTLV(&out, 0x30, resp.Bytes())
	return out.Bytes(), nil
}

// writeGeneralizedTime writes a GeneralizedTime in seconds, UTC (OCSP uses
// GeneralizedTime for every time).
func writeGeneralizedTime(w *bytes.Buffer, t time.Time) {
	writeTLV(w, 0x18, []byte(t.UTC().Format("20060102150405Z")))
}

// OCSPIssuerHashes returns the issuer name and key hashes by which OCSP
// requests name a CA, for one hash algorithm.
func OCSPIssuerHashes(ca *x509.Certificate, h crypto.Hash) (nameHash, keyHash []byte, err error) {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(ca.RawSubjectPublicKeyInfo, &info); err != nil {
		return nil, nil, fmt.Errorf("parse public key info: %w", err)
	}
	if !h.Available() {
		return nil, nil, errors.New("hash not available")
	}
	hh := h.New()
	hh.Write(ca.RawSubject)
	nameHash = hh.Sum(nil)
	hh = h.New()
	hh.Write(info.PublicKey.RightAlign())
	return nameHash, hh.Sum(nil), nil
}

// OCSPHashes are the certificate-ID hash algorithms Sigil answers for.
var OCSPHashes = []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512}
