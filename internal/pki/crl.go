package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Revocation reasons: AWS names and RFC 5280 reason codes.
var ReasonCodes = map[string]int{
	"UNSPECIFIED":                      0,
	"KEY_COMPROMISE":                   1,
	"CERTIFICATE_AUTHORITY_COMPROMISE": 2,
	"AFFILIATION_CHANGED":              3,
	"SUPERSEDED":                       4,
	"CESSATION_OF_OPERATION":           5,
	"PRIVILEGE_WITHDRAWN":              9,
	"A_A_COMPROMISE":                   10,
}

var (
	oidExtCRLNumber   = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidExtReasonCode  = asn1.ObjectIdentifier{2, 5, 29, 21}
	OIDExtIssuingDP   = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidExtOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
)

// CRLBuilder builds a CRL from entries added one at a time. Each entry is
// encoded to DER as it is added (about 40 bytes) into fixed-size chunks, so
// a CRL of a million revocations never holds a million Go values, only its
// own bytes, and never copies them while growing.
type CRLBuilder struct {
	chunks [][]byte
	size   int
	count  int
	entry  []byte // scratch for one entry
}

// crlChunk is the size of the chunks entries are stored in.
const crlChunk = 1 << 20

// reasonExts holds the DER crlEntryExtensions carrying each reason code.
var reasonExts = func() [11][]byte {
	var out [11][]byte
	oid, _ := asn1.Marshal(oidExtReasonCode)
	for code := 1; code <= 10; code++ {
		var ext, enum, exts bytes.Buffer
		ext.Write(oid)
		writeTLV(&enum, 0x0a, []byte{byte(code)}) // ENUMERATED
		writeTLV(&ext, 0x04, enum.Bytes())        // extnValue
		writeTLV(&exts, 0x30, ext.Bytes())
		var seq bytes.Buffer
		writeTLV(&seq, 0x30, exts.Bytes())
		out[code] = seq.Bytes()
	}
	return out
}()

// Add appends a revoked certificate. reason is an RFC 5280 reason code;
// unspecified (0) is left out, as RFC 5280 5.3.1 asks.
func (b *CRLBuilder) Add(serial *big.Int, revokedAt time.Time, reason int) error {
	if serial == nil || serial.Sign() <= 0 {
		return errors.New("CRL entry needs a positive serial")
	}
	if reason < 0 || reason >= len(reasonExts) || reason == 7 {
		return fmt.Errorf("invalid CRL reason code %d", reason)
	}
	var body [64]byte
	content := appendTLV(body[:0], 0x02, intBytes(serial))
	content = appendTime(content, revokedAt)
	if reason != 0 {
		content = append(content, reasonExts[reason]...)
	}
	b.entry = appendTLV(b.entry[:0], 0x30, content)
	if n := len(b.chunks); n == 0 || len(b.chunks[n-1])+len(b.entry) > cap(b.chunks[n-1]) {
		b.chunks = append(b.chunks, make([]byte, 0, crlChunk))
	}
	last := &b.chunks[len(b.chunks)-1]
	*last = append(*last, b.entry...)
	b.size += len(b.entry)
	b.count++
	return nil
}

// Len is the number of entries added.
func (b *CRLBuilder) Len() int { return b.count }

// CRLParams describes the CRL to sign.
type CRLParams struct {
	Issuer           *x509.Certificate // the CA certificate (subject and key identifier)
	Number           *big.Int
	ThisUpdate       time.Time
	NextUpdate       time.Time
	SigningAlgorithm SigningAlgorithm
	// DistributionPoint, when set, makes this a partition CRL: a critical
	// Issuing Distribution Point names the URL that certificates of the
	// partition carry in their CRL distribution points.
	DistributionPoint string
}

// Sign returns the DER of the signed CRL.
func (b *CRLBuilder) Sign(p CRLParams, signer crypto.Signer) ([]byte, error) {
	if p.Issuer == nil || p.Number == nil || p.Number.Sign() < 0 {
		return nil, errors.New("CRL needs an issuer and a non-negative number")
	}
	if !p.NextUpdate.After(p.ThisUpdate) {
		return nil, errors.New("CRL nextUpdate must follow thisUpdate")
	}
	algID, hash, err := signatureAlgorithmID(p.SigningAlgorithm)
	if err != nil {
		return nil, err
	}
	aki := p.Issuer.SubjectKeyId
	if len(aki) == 0 {
		if aki, err = KeyID(p.Issuer.RawSubjectPublicKeyInfo); err != nil {
			return nil, err
		}
	}
	var exts []pkix.Extension
	akiVal, _ := asn1.Marshal(struct {
		ID []byte `asn1:"optional,tag:0"`
	}{aki})
	exts = append(exts, pkix.Extension{Id: OIDExtAuthorityKeyID, Value: akiVal})
	numVal, _ := asn1.Marshal(p.Number)
	exts = append(exts, pkix.Extension{Id: oidExtCRLNumber, Value: numVal})
	if p.DistributionPoint != "" {
		// IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0]
		// DistributionPointName { fullName [0] GeneralNames { [6] URI } } }
		var uri, full, dpn, idp bytes.Buffer
		writeTLV(&uri, 0x86, []byte(p.DistributionPoint))
		writeTLV(&full, 0xa0, uri.Bytes())
		writeTLV(&dpn, 0xa0, full.Bytes())
		writeTLV(&idp, 0x30, dpn.Bytes())
		exts = append(exts, pkix.Extension{Id: OIDExtIssuingDP, Critical: true, Value: idp.Bytes()})
	}
	extsDER, err := asn1.Marshal(exts)
	if err != nil {
		return nil, err
	}

	// The CRL is assembled in one buffer sized up front: the entries are
	// copied once, from the builder's chunks, and nothing else is.
	var pre []byte
	pre = appendTLV(pre, 0x02, []byte{1}) // version v2
	pre = append(pre, algID...)
	pre = append(pre, p.Issuer.RawSubject...)
	pre = appendTime(pre, p.ThisUpdate)
	pre = appendTime(pre, p.NextUpdate)
	post := appendTLV(nil, 0xa0, extsDER)
	content := len(pre) + len(post)
	if b.count > 0 {
		content += headerLen(b.size) + b.size
	}
	tbsLen := headerLen(content) + content
	const maxHeader = 6
	buf := make([]byte, maxHeader, maxHeader+tbsLen+len(algID)+maxHeader+1+1024)
	buf = appendHeader(buf, 0x30, content)
	buf = append(buf, pre...)
	if b.count > 0 {
		buf = appendHeader(buf, 0x30, b.size)
		for _, c := range b.chunks {
			buf = append(buf, c...)
		}
	}
	b.chunks = nil // the builder is spent; let its memory go before signing
	buf = append(buf, post...)

	sig, err := signTBS(buf[maxHeader:], p.SigningAlgorithm, hash, signer)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	buf = append(buf, algID...)
	buf = appendHeader(buf, 0x03, len(sig)+1)
	buf = append(buf, 0)
	buf = append(buf, sig...)
	// The outer SEQUENCE header goes in the room left at the front.
	hdr := appendHeader(nil, 0x30, len(buf)-maxHeader)
	start := maxHeader - len(hdr)
	copy(buf[start:], hdr)
	return buf[start:], nil
}

// signTBS signs DER to-be-signed bytes with the signing algorithm.
func signTBS(tbs []byte, alg SigningAlgorithm, hash crypto.Hash, signer crypto.Signer) ([]byte, error) {
	h := hash.New()
	h.Write(tbs)
	var opts crypto.SignerOpts = hash
	switch alg.X509() {
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
	}
	return signer.Sign(rand.Reader, h.Sum(nil), opts)
}

// signatureAlgorithmID returns the DER AlgorithmIdentifier and hash of a
// signing algorithm (as crypto/x509 encodes them).
func signatureAlgorithmID(s SigningAlgorithm) ([]byte, crypto.Hash, error) {
	oids := map[SigningAlgorithm]struct {
		oid  asn1.ObjectIdentifier
		hash crypto.Hash
		null bool
	}{
		SHA256WithECDSA: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, crypto.SHA256, false},
		SHA384WithECDSA: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, crypto.SHA384, false},
		SHA512WithECDSA: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, crypto.SHA512, false},
		SHA256WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, crypto.SHA256, true},
		SHA384WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, crypto.SHA384, true},
		SHA512WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, crypto.SHA512, true},
	}
	if a, ok := oids[s]; ok {
		id := pkix.AlgorithmIdentifier{Algorithm: a.oid}
		if a.null {
			id.Parameters = asn1.NullRawValue
		}
		der, err := asn1.Marshal(id)
		return der, a.hash, err
	}
	pss := map[SigningAlgorithm]struct {
		hashOID asn1.ObjectIdentifier
		hash    crypto.Hash
	}{
		SHA256WithRSAPSS: {asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, crypto.SHA256},
		SHA384WithRSAPSS: {asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, crypto.SHA384},
		SHA512WithRSAPSS: {asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, crypto.SHA512},
	}
	p, ok := pss[s]
	if !ok {
		return nil, 0, fmt.Errorf("unsupported signing algorithm %q", s)
	}
	hashAlg := pkix.AlgorithmIdentifier{Algorithm: p.hashOID, Parameters: asn1.NullRawValue}
	mgfParams, _ := asn1.Marshal(hashAlg)
	params := struct {
		Hash       pkix.AlgorithmIdentifier `asn1:"explicit,tag:0"`
		MGF        pkix.AlgorithmIdentifier `asn1:"explicit,tag:1"`
		SaltLength int                      `asn1:"explicit,tag:2"`
	}{hashAlg, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8},
		Parameters: asn1.RawValue{FullBytes: mgfParams}}, p.hash.Size()}
	paramsDER, err := asn1.Marshal(params)
	if err != nil {
		return nil, 0, err
	}
	der, err := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10},
		Parameters: asn1.RawValue{FullBytes: paramsDER}})
	return der, p.hash, err
}

// headerLen is the size of a DER tag and length for n content bytes.
func headerLen(n int) int {
	if n < 0x80 {
		return 2
	}
	l := 2
	for ; n > 0; n >>= 8 {
		l++
	}
	return l
}

// appendHeader appends a DER tag and length.
func appendHeader(dst []byte, tag byte, n int) []byte {
	dst = append(dst, tag)
	if n < 0x80 {
		return append(dst, byte(n))
	}
	var l [8]byte
	i := len(l)
	for ; n > 0; n >>= 8 {
		i--
		l[i] = byte(n)
	}
	dst = append(dst, 0x80|byte(len(l)-i))
	return append(dst, l[i:]...)
}

// appendTLV appends a DER tag, length and value.
func appendTLV(dst []byte, tag byte, value []byte) []byte {
	return append(appendHeader(dst, tag, len(value)), value...)
}

// appendTime appends UTCTime before 2050 and GeneralizedTime after (RFC
// 5280 4.1.2.5), in seconds, UTC.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if t.Year() < 2050 {
		return appendTLV(dst, 0x17, []byte(t.Format("060102150405Z")))
	}
	return appendTLV(dst, 0x18, []byte(t.Format("20060102150405Z")))
}

// writeTLV writes a DER tag, length and value.
func writeTLV(w *bytes.Buffer, tag byte, value []byte) {
	w.WriteByte(tag)
	n := len(value)
	switch {
	case n < 0x80:
		w.WriteByte(byte(n))
	default:
		var l [8]byte
		i := len(l)
		for ; n > 0; n >>= 8 {
			i--
			l[i] = byte(n)
		}
		w.WriteByte(0x80 | byte(len(l)-i))
		w.Write(l[i:])
	}
	w.Write(value)
}

// intBytes is the content of a DER INTEGER for a non-negative n.
func intBytes(n *big.Int) []byte {
	b := n.Bytes()
	if len(b) == 0 {
		return []byte{0}
	}
	if b[0]&0x80 != 0 {
		return append([]byte{0}, b...)
	}
	return b
}
