package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// The OCSP responder.
//
// Answers are signed by a delegated responder certificate per CA (EC P-256
// key, OCSPSigning extended key usage, id-pkix-ocsp-nocheck, 30 days,
// renewed after two thirds of its life) or, with CASignsOCSP, by the CA key
// itself. Answers without a nonce are kept per (CA, serial, hash): the
// status behind one is re-read from the store at most once per cache period
// (half the propagation bound), and the signed bytes are reused until half
// of their validity has passed as long as the status has not changed. A
// request with a nonce is answered with a fresh signature.

// ErrOCSPUnauthorized means Sigil does not answer for the issuer named in
// the request (unknown CA, OCSP not enabled, or a CA that cannot answer in
// its current state): RFC 6960's "unauthorized".
var ErrOCSPUnauthorized = errors.New("the responder does not answer for this issuer")

// OCSPAnswer is a signed OCSP response.
type OCSPAnswer struct {
	DER        []byte
	Status     pki.OCSPStatus
	ThisUpdate time.Time
	NextUpdate time.Time
	// Fresh is set when the answer was signed for this request alone (it
	// echoes a nonce) and must not be cached by HTTP caches.
	Fresh bool
}

// responderValidity is the lifetime of a delegated responder certificate.
const responderValidity = 30 * 24 * time.Hour

type ocspState struct {
	mu        sync.RWMutex
	index     map[string]string // issuer hashes -> CA ID
	indexedAt time.Time
	rebuild   sync.Mutex

	answersMu sync.Mutex
	answers   map[ocspKey]*ocspEntry

	respMu     sync.Mutex // one responder renewal at a time on this node
	respCache  sync.Map   // CA ID -> *ocspSigner
	maxAnswers int
}

type ocspKey struct {
	ca, serial string
	hash       crypto.Hash
}

type ocspEntry struct {
	ans       *OCSPAnswer
	status    pki.OCSPStatus
	revokedAt time.Time
	reason    string
	version   int64     // CA record version the answer was signed under
	checked   time.Time // when the status was last read from the store
}

type ocspSigner struct {
	cert      *x509.Certificate
	signer    crypto.Signer
	delegated bool
	alg       pki.SigningAlgorithm
	version   int64     // CA record version it was checked against
	renewAt   time.Time // zero for the CA's own key
}

func newOCSPState() ocspState {
	return ocspState{index: map[string]string{}, answers: map[ocspKey]*ocspEntry{}, maxAnswers: 200_000}
}

func indexKey(h crypto.Hash, nameHash, keyHash []byte) string {
	return string(rune(h)) + "|" + string(nameHash) + "|" + string(keyHash)
}

// forget drops cached answers for a certificate (after it was revoked here;
// other nodes notice within the cache period).
func (o *ocspState) forget(caID, serial string) {
	o.answersMu.Lock()
	defer o.answersMu.Unlock()
	for _, h := range pki.OCSPHashes {
		delete(o.answers, ocspKey{caID, serial, h})
	}
}

// OCSP answers an OCSP request. It is public: no principal is involved.
// ErrOCSPUnauthorized means the request names an issuer Sigil does not
// answer for.
func (s *Service) OCSP(ctx context.Context, req *pki.OCSPRequest) (*OCSPAnswer, error) {
	caID, err := s.ocspIssuer(ctx, req)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	serial := pki.SerialHex(req.Serial)
	key := ocspKey{caID, serial, req.HashAlgorithm}
	s.ocsp.answersMu.Lock()
	cached := s.ocsp.answers[key]
	s.ocsp.answersMu.Unlock()
	if req.Nonce == nil && cached != nil && now.Before(cached.checked.Add(s.cacheTTL())) && now.Before(cached.ans.NextUpdate) {
		return cached.ans, nil
	}

	var rec *store.CA
	var cert *store.Certificate
	err = s.store.View(ctx, func(tx store.Tx) error {
		var err error
		if rec, err = tx.CAs().Get(ctx, caID); err != nil {
			return err
		}
		cert, err = tx.Certificates().Get(ctx, caID, serial)
		if errors.Is(err, store.ErrNotFound) {
			cert, err = nil, nil
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrOCSPUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if st := effectiveStatus(rec, now); gone(rec, now) || (st != Active && st != Disabled) {
		return nil, ErrOCSPUnauthorized
	}
	issuer, err := s.issuerOf(rec)
	if err != nil {
		return nil, errs.Wrap(err, "parse CA certificate")
	}
	if !issuer.pub.ocsp {
		return nil, ErrOCSPUnauthorized
	}
	entry := &ocspEntry{status: pki.OCSPUnknown, version: rec.Version, checked: now}
	if cert != nil {
		entry.status = pki.OCSPGood
		if !cert.RevokedAt.IsZero() {
			entry.status, entry.revokedAt, entry.reason = pki.OCSPRevoked, cert.RevokedAt, cert.RevocationReason
		}
	}
	// Unchanged status, same CA, signed recently enough: reuse the bytes.
	if req.Nonce == nil && cached != nil && cached.status == entry.status && cached.revokedAt.Equal(entry.revokedAt) &&
		cached.version == entry.version && now.Before(cached.ans.ThisUpdate.Add(s.opts.Revocation.OCSPValidity/2)) {
		entry.ans = cached.ans
		s.storeAnswer(key, entry)
		return entry.ans, nil
	}

	sg, err := s.ocspSignerFor(ctx, rec, issuer, now)
	if err != nil {
		return nil, err
	}
	thisUpdate := now.UTC().Truncate(time.Second)
	p := pki.OCSPResponseParams{Request: req, Status: entry.status, RevokedAt: entry.revokedAt,
		Reason: pki.ReasonCodes[entry.reason], ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(s.opts.Revocation.OCSPValidity),
		ProducedAt: thisUpdate, Responder: sg.cert, Delegated: sg.delegated, SigningAlgorithm: sg.alg}
	der, err := pki.SignOCSPResponse(p, sg.signer)
	if err != nil {
		return nil, errs.Wrap(err, "sign OCSP response")
	}
	entry.ans = &OCSPAnswer{DER: der, Status: entry.status, ThisUpdate: p.ThisUpdate, NextUpdate: p.NextUpdate, Fresh: req.Nonce != nil}
	if req.Nonce == nil {
		s.storeAnswer(key, entry)
	}
	return entry.ans, nil
}

func (s *Service) storeAnswer(k ocspKey, e *ocspEntry) {
	s.ocsp.answersMu.Lock()
	defer s.ocsp.answersMu.Unlock()
	if len(s.ocsp.answers) >= s.ocsp.maxAnswers {
		clear(s.ocsp.answers)
	}
	s.ocsp.answers[k] = e
}

// ocspIssuer finds the CA a request names by its issuer name and key hashes.
func (s *Service) ocspIssuer(ctx context.Context, req *pki.OCSPRequest) (string, error) {
	k := indexKey(req.HashAlgorithm, req.IssuerNameHash, req.IssuerKeyHash)
	s.ocsp.mu.RLock()
	id, ok := s.ocsp.index[k]
	s.ocsp.mu.RUnlock()
	if ok {
		return id, nil
	}
	// Unknown: a CA may have been created (here or on another node) since
	// the index was built. Rebuild it, at most once a second.
	s.ocsp.rebuild.Lock()
	defer s.ocsp.rebuild.Unlock()
	s.ocsp.mu.RLock()
	id, ok = s.ocsp.index[k]
	fresh := !s.ocsp.indexedAt.IsZero() && s.clock.Now().Sub(s.ocsp.indexedAt) < time.Second
	s.ocsp.mu.RUnlock()
	if ok {
		return id, nil
	}
	if fresh {
		return "", ErrOCSPUnauthorized
	}
	index := map[string]string{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		return tx.CAs().Each(ctx, func(rec *store.CA) error {
			if len(rec.Certificate) == 0 {
				return nil
			}
			cert, err := x509.ParseCertificate(rec.Certificate)
			if err != nil {
				return nil // an unreadable CA answers nothing
			}
			for _, h := range pki.OCSPHashes {
				name, key, err := pki.OCSPIssuerHashes(cert, h)
				if err == nil {
					index[indexKey(h, name, key)] = rec.ID
				}
			}
			return nil
		})
	})
	if err != nil {
		return "", err
	}
	s.ocsp.mu.Lock()
	s.ocsp.index, s.ocsp.indexedAt = index, s.clock.Now()
	s.ocsp.mu.Unlock()
	if id, ok := index[k]; ok {
		return id, nil
	}
	return "", ErrOCSPUnauthorized
}

// ocspSignerFor returns the key and certificate that sign a CA's answers,
// issuing or renewing the delegated responder certificate when needed.
func (s *Service) ocspSignerFor(ctx context.Context, rec *store.CA, issuer *issuerEntry, now time.Time) (*ocspSigner, error) {
	if v, ok := s.ocsp.respCache.Load(rec.ID); ok {
		if sg := v.(*ocspSigner); sg.version == rec.Version && (sg.renewAt.IsZero() || now.Before(sg.renewAt)) {
			return sg, nil
		}
	}
	s.ocsp.respMu.Lock()
	defer s.ocsp.respMu.Unlock()
	if v, ok := s.ocsp.respCache.Load(rec.ID); ok {
		if sg := v.(*ocspSigner); sg.version == rec.Version && (sg.renewAt.IsZero() || now.Before(sg.renewAt)) {
			return sg, nil
		}
	}
	var sg *ocspSigner
	var err error
	if s.opts.Revocation.CASignsOCSP {
		var signer crypto.Signer
		if signer, err = s.keys.Signer(ctx, rec.KeyRef, rec.ARN); err != nil {
			return nil, errs.Wrap(err, "load CA key")
		}
		sg = &ocspSigner{cert: issuer.cert, signer: signer, alg: issuer.cfg.SigningAlgorithm, version: rec.Version}
	} else if sg, err = s.delegatedResponder(ctx, rec, issuer, now); err != nil {
		return nil, err
	}
	s.ocsp.respCache.Store(rec.ID, sg)
	return sg, nil
}

func responderBinding(caARN string) string { return caARN + "/ocsp-responder" }

// delegatedResponder loads the CA's responder from the store, or issues a
// new one if there is none, it is due for renewal, or the CA certificate it
// was issued under has changed.
func (s *Service) delegatedResponder(ctx context.Context, rec *store.CA, issuer *issuerEntry, now time.Time) (*ocspSigner, error) {
	var stored *store.OCSPResponder
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		stored, err = tx.OCSPResponders().Get(ctx, rec.ID)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if stored != nil {
		if cert, err := x509.ParseCertificate(stored.Certificate); err == nil && responderUsable(cert, issuer.cert, now) {
			signer, err := s.keys.Signer(ctx, stored.KeyRef, responderBinding(rec.ARN))
			if err != nil {
				return nil, errs.Wrap(err, "load OCSP responder key")
			}
			return &ocspSigner{cert: cert, signer: signer, delegated: true, alg: pki.SHA256WithECDSA,
				version: rec.Version, renewAt: renewAt(cert)}, nil
		}
	}

	ref, signer, err := s.keys.Create(ctx, pki.ECP256, responderBinding(rec.ARN))
	if err != nil {
		return nil, errs.Wrap(err, "create OCSP responder key")
	}
	cert, err := s.issueResponderCert(ctx, rec, issuer, signer, now)
	if err != nil {
		s.keys.Destroy(ctx, ref, responderBinding(rec.ARN))
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		return tx.OCSPResponders().Put(ctx, &store.OCSPResponder{CAID: rec.ID, KeyRef: ref, Certificate: cert.Raw, NotAfter: cert.NotAfter})
	})
	if err != nil {
		s.keys.Destroy(ctx, ref, responderBinding(rec.ARN))
		return nil, err
	}
	s.log.InfoContext(ctx, "OCSP responder certificate issued", "ca", rec.ARN, "serial", pki.SerialHex(cert.SerialNumber),
		"not_after", cert.NotAfter)
	return &ocspSigner{cert: cert, signer: signer, delegated: true, alg: pki.SHA256WithECDSA, version: rec.Version,
		renewAt: renewAt(cert)}, nil
}

// renewAt is when a responder certificate is replaced: after two thirds of
// its life.
func renewAt(c *x509.Certificate) time.Time {
	return c.NotAfter.Add(-c.NotAfter.Sub(c.NotBefore) / 3)
}

// responderUsable reports whether a stored responder certificate can keep
// signing: issued under the CA's current certificate and not yet due for
// renewal.
func responderUsable(c, ca *x509.Certificate, now time.Time) bool {
	return now.After(c.NotBefore) && now.Before(renewAt(c)) && c.CheckSignatureFrom(ca) == nil
}

// issueResponderCert issues the delegated responder certificate from the
// OCSPSigningCertificate template.
func (s *Service) issueResponderCert(ctx context.Context, rec *store.CA, issuer *issuerEntry, key crypto.Signer, now time.Time) (*x509.Certificate, error) {
	csrDER, err := pki.CreateCSR(&pki.Subject{CommonName: "OCSP responder " + rec.ID}, pki.SHA256WithECDSA, key, nil, nil)
	if err != nil {
		return nil, errs.Wrap(err, "responder CSR")
	}
	csr, err := pki.ParseCSR(csrDER)
	if err != nil {
		return nil, errs.Wrap(err, "responder CSR")
	}
	tpl, _ := pki.LookupTemplate("arn:aws:acm-pca:::template/OCSPSigningCertificate/V1")
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := now.Add(-DefaultNotBeforeLag).Truncate(time.Second)
	if notBefore.Before(issuer.cert.NotBefore) {
		notBefore = issuer.cert.NotBefore
	}
	notAfter := now.Add(responderValidity).Truncate(time.Second)
	if notAfter.After(issuer.cert.NotAfter) {
		notAfter = issuer.cert.NotAfter
	}
	certTpl, err := pki.Build(pki.IssueParams{Template: tpl, CSR: csr, Issuer: issuer.cert, Serial: serial,
		NotBefore: notBefore, NotAfter: notAfter, SigningAlgorithm: issuer.cfg.SigningAlgorithm,
		CAExtensions: []pkix.Extension{pki.OCSPNoCheck()}})
	if err != nil {
		return nil, errs.Wrap(err, "build responder certificate")
	}
	if s.opts.Linter != nil {
		if err := s.opts.Linter.Check(certTpl, issuer.cert); err != nil {
			return nil, errs.Wrap(err, "lint responder certificate")
		}
	}
	caSigner, err := s.keys.Signer(ctx, rec.KeyRef, rec.ARN)
	if err != nil {
		return nil, errs.Wrap(err, "load CA key")
	}
	der, err := pki.Sign(certTpl, issuer.cert, caSigner)
	if err != nil {
		return nil, errs.Wrap(err, "sign responder certificate")
	}
	return x509.ParseCertificate(der)
}
