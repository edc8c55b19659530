package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// IssueInput asks a CA to sign a CSR.
type IssueInput struct {
	CAARN             string
	CSR               []byte // PEM
	SigningAlgorithm  pki.SigningAlgorithm
	Validity          pki.Validity
	ValidityNotBefore *pki.Validity
	TemplateARN       string
	APISubject        *pki.Subject
	APIExtensions     *pki.Extensions
	IdempotencyToken  string
}

// Issue signs a certificate and returns its ARN. The certificate is stored
// before the ARN is returned, so it can be fetched at once.
func (s *Service) Issue(ctx context.Context, p iam.Principal, in IssueInput) (string, error) {
	req, err := s.prepareIssue(ctx, p, in)
	if err != nil {
		return "", err
	}
	fresh := false
	for attempt := 0; ; attempt++ {
		arn, cached, err := s.issueOnce(ctx, req, fresh)
		switch {
		case err == nil:
			s.tel.CertificateIssued(issuedVia(p))
			return arn, nil
		case errors.Is(err, errCAChanged) && attempt < 3:
			fresh = true // the CA changed while we signed: start over with a fresh record
		case errors.Is(err, errCAChanged):
			return "", concurrentModification(in.CAARN)
		case cached:
			// A refusal based on a cached record may be stale (the CA was
			// renewed or re-enabled elsewhere): decide again on a fresh read.
			s.recs.drop(req.caID)
			fresh = true
		default:
			return "", err
		}
	}
}

// issuedVia labels an issuance for metrics: the service that asked, or
// "direct".
func issuedVia(p iam.Principal) string {
	if p.Service != "" {
		return p.Service
	}
	return "direct"
}

// errCAChanged means the CA record changed between reading it and storing
// a certificate; the certificate is discarded unseen.
var errCAChanged = errors.New("certificate authority changed during issuance")

// DefaultTemplateARN is the template IssueCertificate uses when none is
// named, and the acm-pca:TemplateArn condition key's value then.
const DefaultTemplateARN = "arn:aws:acm-pca:::template/EndEntityCertificate/V1"

// issueRequest is an issuance request whose input has been checked.
type issueRequest struct {
	in   IssueInput
	caID string
	tpl  *pki.Template
	csr  *x509.CertificateRequest
}

// prepareIssue authorizes the caller and checks everything that does not
// depend on the CA's current record.
func (s *Service) prepareIssue(ctx context.Context, p iam.Principal, in IssueInput) (*issueRequest, error) {
	_, id, err := s.parseCAARN(in.CAARN)
	if err != nil {
		return nil, err
	}
	template := in.TemplateARN
	if template == "" {
		template = DefaultTemplateARN
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:IssueCertificate", Resource: in.CAARN,
		Context: map[string][]string{"acm-pca:TemplateArn": {template}}}); err != nil {
		return nil, err
	}
	if in.SigningAlgorithm == "" {
		return nil, required("signingAlgorithm")
	}
	if !in.SigningAlgorithm.Valid() {
		names := make([]string, len(pki.SigningAlgorithms))
		for i, a := range pki.SigningAlgorithms {
			names[i] = string(a)
		}
		return nil, enumValidation("signingAlgorithm", string(in.SigningAlgorithm), names)
	}
	tpl, ok := pki.LookupTemplate(in.TemplateARN)
	if !ok {
		return nil, invalidArgs("The template %s does not exist.", in.TemplateARN)
	}
	if err := validateToken(in.IdempotencyToken); err != nil {
		return nil, err
	}
	csr, err := pki.ParseCSR(in.CSR)
	if err != nil {
		return nil, errs.Coded(errs.Invalid, CodeMalformedCSR, "%s.", capitalize(err.Error()))
	}
	return &issueRequest{in: in, caID: id, tpl: tpl, csr: csr}, nil
}

// issueOnce makes one attempt. cached reports whether it relied on a cached
// CA record; fresh forbids using one.
func (s *Service) issueOnce(ctx context.Context, req *issueRequest, fresh bool) (arn string, cached bool, err error) {
	in := req.in
	rec := s.recs.get(req.caID)
	if fresh || rec == nil || rec.ARN != in.CAARN || gone(rec, s.clock.Now()) {
		err = s.store.View(ctx, func(tx store.Tx) (err error) {
			rec, err = s.loadCA(ctx, tx, req.caID, in.CAARN)
			return err
		})
		if err != nil {
			return "", false, err
		}
		// Only a CA that can issue is cached; any other state is read
		// fresh each time, so a refusal never outlives its cause.
		if effectiveStatus(rec, s.clock.Now()) == Active {
			s.recs.put(rec)
		}
	} else {
		cached = true
	}
	arn, err = s.issueWith(ctx, req, rec)
	return arn, cached, err
}

// issueWith checks the request against the CA record, signs, and stores the
// certificate if the CA is unchanged at commit time.
func (s *Service) issueWith(ctx context.Context, req *issueRequest, rec *store.CA) (string, error) {
	in, tpl, csr := req.in, req.tpl, req.csr
	var cfg Config
	if err := decodeJSON(rec.Config, &cfg); err != nil {
		return "", errs.Wrap(err, "decode CA config")
	}
	if !in.SigningAlgorithm.CompatibleWith(cfg.KeyAlgorithm) {
		return "", invalidArgs("SigningAlgorithm %s cannot be used with this CA's %s key.", in.SigningAlgorithm, cfg.KeyAlgorithm)
	}
	now := s.clock.Now()

	// Which CA states may issue, and with which issuer certificate.
	var issuer *issuerEntry
	status := effectiveStatus(rec, now)
	if tpl.Kind == pki.RootCA {
		if Type(rec.Type) != Root {
			return "", invalidArgs("The template %s self-signs a root CA certificate; %s is a SUBORDINATE CA.", tpl.ARN(), in.CAARN)
		}
		if status != PendingCertificate && status != Active {
			return "", invalidState("The certificate authority %s is %s; it cannot issue certificates.", in.CAARN, status)
		}
		own, err := x509.ParseCertificateRequest(rec.CSR)
		if err != nil {
			return "", errs.Wrap(err, "parse stored CSR")
		}
		if !bytes.Equal(own.RawSubjectPublicKeyInfo, csr.RawSubjectPublicKeyInfo) {
			return "", invalidArgs("The template %s can only sign the CA's own CSR (from GetCertificateAuthorityCsr).", tpl.ARN())
		}
	} else {
		if status != Active {
			return "", invalidState("The certificate authority %s is %s; only an ACTIVE CA can issue certificates.", in.CAARN, status)
		}
		var err error
		if issuer, err = s.issuerOf(rec); err != nil {
			return "", errs.Wrap(err, "parse CA certificate")
		}
	}

	notBefore, notAfter, err := s.validity(in, rec, issuer, tpl.Kind == pki.RootCA, now)
	if err != nil {
		return "", err
	}
	if tpl.Kind == pki.SubordinateCA {
		if err := checkPathLength(tpl, issuer); err != nil {
			return "", err
		}
	}

	scope := "acm-pca:IssueCertificate:" + rec.ID
	fp := fingerprint(in)
	if in.IdempotencyToken != "" {
		if arn, err := s.idempotent(ctx, scope, in.IdempotencyToken, fp); arn != "" || err != nil {
			return arn, err
		}
	}

	signer, err := s.keys.Signer(ctx, rec.KeyRef, rec.ARN)
	if err != nil {
		return "", errs.Wrap(err, "load CA key")
	}
	var issuerCert *x509.Certificate
	var caExts []pkix.Extension
	var partition int64
	if issuer != nil {
		issuerCert = issuer.cert
		if pub := issuer.pub; pub.crl || pub.ocsp {
			if pub.crl && pub.partitioned {
				if partition, err = s.nextPartition(ctx, rec.ID); err != nil {
					return "", err
				}
			}
			caExts = pub.extensions(rec.ID, partition)
		}
	}
	ensure := partition > 0 && s.parts.needsEnsure(rec.ID, partition, rec.Version)

	for attempt := 0; ; attempt++ {
		serial, err := pki.RandomSerial()
		if err != nil {
			return "", errs.Wrap(err, "serial")
		}
		params := pki.IssueParams{
			Template: tpl, CSR: csr, Issuer: issuerCert, Serial: serial,
			NotBefore: notBefore, NotAfter: notAfter, SigningAlgorithm: in.SigningAlgorithm,
			APISubject: in.APISubject, APIExtensions: in.APIExtensions, CAExtensions: caExts,
		}
		certTpl, err := pki.Build(params)
		if err != nil {
			if errors.Is(err, pki.ErrNoSubject) {
				return "", errs.Coded(errs.Invalid, CodeMalformedCSR, "%s.", capitalize(err.Error()))
			}
			return "", invalidArgs("%s.", capitalize(err.Error()))
		}
		if s.opts.Linter != nil {
			if err := s.opts.Linter.Check(certTpl, issuerCert); err != nil {
				var le *pki.LintError
				if errors.As(err, &le) {
					return "", invalidArgs("%s.", capitalize(err.Error()))
				}
				return "", errs.Wrap(err, "lint certificate")
			}
		}
		der, err := pki.Sign(certTpl, issuerCert, signer)
		if err != nil {
			return "", errs.Wrap(err, "sign certificate")
		}
		arn := certARN(rec.ARN, serial)
		err = s.store.Update(ctx, func(tx store.Tx) error {
			// The CA must still be what we signed with.
			if v, err := tx.CAs().Version(ctx, rec.ID); err != nil || v != rec.Version {
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				return errCAChanged
			}
			if in.IdempotencyToken != "" {
				if err := tx.Idempotency().Put(ctx, &store.IdempotencyRecord{Scope: scope, Token: in.IdempotencyToken,
					Fingerprint: fp, Result: arn, ExpiresAt: now.Add(IdempotencyWindow)}, now); errors.Is(err, store.ErrConflict) {
					return errIdempotencyRace
				} else if err != nil {
					return err
				}
			}
			if ensure {
				// The CRL job publishes the partition's CRL (empty at
				// first) within the propagation delay.
				if err := tx.CRLs().Ensure(ctx, rec.ID, partition, now); err != nil {
					return err
				}
			}
			if err := tx.Certificates().Insert(ctx, &store.Certificate{
				CAID: rec.ID, Serial: pki.SerialHex(serial), Account: rec.Account, DER: der,
				NotBefore: notBefore, NotAfter: notAfter, IssuedAt: now, TemplateARN: tpl.ARN(), CRLPartition: partition,
			}); err != nil {
				return err
			}
			return events.Publish(ctx, tx, events.SourcePCA, events.PCACertificateIssuance, rec.Account, s.opts.Region, now,
				[]string{rec.ARN, arn}, map[string]string{"result": "success"})
		})
		switch {
		case err == nil:
			if ensure {
				s.parts.markEnsured(rec.ID, partition, rec.Version)
			}
			return arn, nil
		case errors.Is(err, errCAChanged):
			s.recs.drop(rec.ID)
			return "", err
		case errors.Is(err, errIdempotencyRace):
			// A concurrent request with the same token committed first;
			// this certificate is discarded unseen.
			return s.idempotent(ctx, scope, in.IdempotencyToken, fp)
		case errors.Is(err, store.ErrConflict) && attempt < 3:
			// A serial collision (or a concurrent node that drew the same
			// serial): draw another and sign again.
			continue
		default:
			return "", err
		}
	}
}

var errIdempotencyRace = errors.New("idempotency token claimed concurrently")

// validity computes NotBefore and NotAfter and checks them against the CA.
func (s *Service) validity(in IssueInput, rec *store.CA, issuer *issuerEntry, selfSigned bool, now time.Time) (time.Time, time.Time, error) {
	if in.Validity.Type == "" {
		return time.Time{}, time.Time{}, required("validity.type")
	}
	notAfter, err := in.Validity.End(now)
	if err != nil {
		return time.Time{}, time.Time{}, invalidArgs("Validity: %v.", err)
	}
	notBefore := now.Add(-DefaultNotBeforeLag).Truncate(time.Second)
	if in.ValidityNotBefore != nil {
		if notBefore, err = in.ValidityNotBefore.Start(); err != nil {
			return time.Time{}, time.Time{}, invalidArgs("%s.", capitalize(err.Error()))
		}
	} else if issuer != nil && notBefore.Before(issuer.cert.NotBefore) {
		// Do not start before the issuer does.
		notBefore = issuer.cert.NotBefore
	}
	if !notAfter.After(now) {
		return time.Time{}, time.Time{}, invalidArgs("The validity ends at %s, which is not in the future.", notAfter.Format(time.RFC3339))
	}
	if !notAfter.After(notBefore) {
		return time.Time{}, time.Time{}, invalidArgs("The validity ends (%s) before it starts (%s).",
			notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	}
	if issuer != nil && notAfter.After(issuer.cert.NotAfter) {
		return time.Time{}, time.Time{}, errs.New(errs.Invalid,
			"The certificate would expire at %s, after its issuing CA certificate (%s); a certificate cannot outlive its CA.",
			notAfter.Format(time.RFC3339), issuer.cert.NotAfter.Format(time.RFC3339))
	}
	// Short-lived mode limits what the CA issues, not its own certificate.
	if rec.UsageMode == ShortLivedCertificate && !selfSigned && notAfter.Sub(notBefore) > ShortLivedMax {
		return time.Time{}, time.Time{}, errs.New(errs.Invalid,
			"The CA is in SHORT_LIVED_CERTIFICATE mode; certificates may be valid for at most 7 days.")
	}
	return notBefore, notAfter, nil
}

// checkPathLength enforces the issuer's basic-constraints path length and the
// maximum hierarchy depth when issuing a CA certificate.
func checkPathLength(tpl *pki.Template, issuer *issuerEntry) error {
	c := issuer.cert
	// crypto/x509 reports an absent path length as -1.
	if c.MaxPathLen == 0 {
		return invalidArgs("The issuing CA's certificate has path length 0; it cannot issue CA certificates.")
	}
	if c.MaxPathLen > 0 && tpl.PathLen >= c.MaxPathLen {
		return invalidArgs("The template %s sets path length %d, but the issuing CA allows at most %d below it.",
			tpl.ARN(), tpl.PathLen, c.MaxPathLen-1)
	}
	depth := len(issuer.chain) + 1 // levels down to the issuer, root included
	if depth+1 > MaxDepth {
		return invalidArgs("A CA certificate issued here would be at level %d; a hierarchy has at most %d levels.", depth+1, MaxDepth)
	}
	return nil
}

// GetCertificate returns an issued certificate and its chain (issuing CA
// first, root last) as PEM. A self-signed certificate has no chain.
func (s *Service) GetCertificate(ctx context.Context, p iam.Principal, caARN, certARNStr string) (cert, chain []byte, err error) {
	_, id, err := s.parseCAARN(caARN)
	if err != nil {
		return nil, nil, err
	}
	owner, serial, err := parseCertARN(certARNStr)
	if err != nil {
		return nil, nil, err
	}
	if owner != caARN {
		return nil, nil, invalidArn("The certificate %s was not issued by %s.", certARNStr, caARN)
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:GetCertificate", Resource: caARN}); err != nil {
		return nil, nil, err
	}
	var rec *store.CA
	var c *store.Certificate
	err = s.store.View(ctx, func(tx store.Tx) error {
		var err error
		if rec, err = s.loadCA(ctx, tx, id, caARN); err != nil {
			return err
		}
		c, err = tx.Certificates().Get(ctx, id, pki.SerialHex(serial))
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Certificate %s not found.", certARNStr)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if Status(rec.Status) == Deleted {
		return nil, nil, invalidState("The certificate authority %s is deleted.", caARN)
	}
	if tpl, ok := pki.LookupTemplate(c.TemplateARN); (ok && tpl.Kind == pki.RootCA) || len(rec.Certificate) == 0 {
		return pki.EncodeCertificatesPEM(c.DER), nil, nil
	}
	issuer, err := s.issuerOf(rec)
	if err != nil {
		return nil, nil, errs.Wrap(err, "parse CA certificate")
	}
	return pki.EncodeCertificatesPEM(c.DER), issuer.chainPEM, nil
}
