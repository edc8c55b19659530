package ca

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// CodeAlreadyProcessed reports a request that was already carried out (a
// certificate revoked twice).
const CodeAlreadyProcessed errs.Code = "RequestAlreadyProcessed"

// CodeInProgress reports that an earlier request is still being carried out.
const CodeInProgress errs.Code = "RequestInProgress"

// RevocationReasons lists the reasons RevokeCertificate accepts.
var RevocationReasons = func() []string {
	out := make([]string, 0, len(pki.ReasonCodes))
	for r := range pki.ReasonCodes {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}()

// Revoke revokes a certificate issued by a CA. The revocation is recorded at
// once; CRLs and OCSP answers show it within the propagation delay. The
// cost does not depend on how many certificates are revoked already.
func (s *Service) Revoke(ctx context.Context, p iam.Principal, caARN, serial, reason string) error {
	_, id, err := s.parseCAARN(caARN)
	if err != nil {
		return err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:RevokeCertificate", Resource: caARN}); err != nil {
		return err
	}
	switch {
	case serial == "":
		return required("certificateSerial")
	case len(serial) > 128:
		return validation("certificateSerial", serial, "Member must have length less than or equal to 128")
	case reason == "":
		return required("revocationReason")
	}
	if _, ok := pki.ReasonCodes[reason]; !ok {
		return enumValidation("revocationReason", reason, RevocationReasons)
	}
	sn, err := pki.ParseSerialHex(strings.TrimSpace(serial))
	if err != nil {
		return invalidArgs("CertificateSerial %q is not a certificate serial number in hexadecimal (colons allowed).", serial)
	}
	hex := pki.SerialHex(sn)
	now := s.clock.Now()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.loadCA(ctx, tx, id, caARN)
		if err != nil {
			return err
		}
		if st := effectiveStatus(rec, now); st != Active && st != Disabled {
			return invalidState("The certificate authority %s is %s; certificates can be revoked only while it is ACTIVE or DISABLED.", caARN, st)
		}
		c, err := tx.Certificates().Get(ctx, id, hex)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("No certificate with serial %s was issued by %s.", serial, caARN)
		}
		if err != nil {
			return err
		}
		if !c.RevokedAt.IsZero() {
			return alreadyRevoked(serial, c)
		}
		if tpl, ok := pki.LookupTemplate(c.TemplateARN); ok && tpl.Kind == pki.RootCA {
			return invalidRequest("The certificate %s is the CA's own self-signed root certificate; it cannot be revoked. Remove it from trust stores instead.", serial)
		}
		if !now.Before(c.NotAfter) {
			return invalidRequest("The certificate %s expired on %s; an expired certificate cannot be revoked.",
				serial, c.NotAfter.Format("2006-01-02T15:04:05Z"))
		}
		if err := tx.Certificates().Revoke(ctx, id, hex, now, reason); errors.Is(err, store.ErrConflict) {
			return alreadyRevoked(serial, c)
		} else if err != nil {
			return err
		}
		rev, err := decodeRevocation(rec.RevocationConfig)
		if err != nil {
			return errs.Wrap(err, "decode revocation config")
		}
		if pub := s.publicationOf(id, rev); pub.crl {
			if err := tx.CRLs().MarkPending(ctx, id, c.CRLPartition, now); err != nil {
				return err
			}
			if c.CRLPartition != 0 {
				// The complete CRL, if the CA publishes one, lists every
				// partition.
				if err := tx.CRLs().Touch(ctx, id, 0, now); err != nil {
					return err
				}
			}
		}
		return events.Publish(ctx, tx, events.SourcePCA, events.PCARevocation, rec.Account, s.opts.Region, now,
			[]string{caARN, certARN(caARN, sn)}, map[string]string{"result": "success", "reason": reason})
	})
	if err != nil {
		return err
	}
	s.ocsp.forget(id, hex)
	s.tel.CertificateRevoked()
	s.log.InfoContext(ctx, "certificate revoked", "ca", caARN, "serial", hex, "reason", reason)
	return nil
}

func alreadyRevoked(serial string, c *store.Certificate) error {
	if c.RevokedAt.IsZero() { // revoked by a concurrent request
		return errs.Coded(errs.Conflict, CodeAlreadyProcessed, "The certificate %s was already revoked.", serial)
	}
	return errs.Coded(errs.Conflict, CodeAlreadyProcessed, "The certificate %s was already revoked at %s (%s).",
		serial, c.RevokedAt.Format("2006-01-02T15:04:05Z"), c.RevocationReason)
}
