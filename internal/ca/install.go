package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// CSR returns the CA's certificate signing request as PEM.
func (s *Service) CSR(ctx context.Context, p iam.Principal, arn string) ([]byte, error) {
	rec, err := s.get(ctx, p, "acm-pca:GetCertificateAuthorityCsr", arn)
	if err != nil {
		return nil, err
	}
	switch Status(rec.Status) {
	case Deleted, Failed:
		return nil, invalidState("The certificate authority %s is %s.", arn, rec.Status)
	}
	return pki.EncodePEM("CERTIFICATE REQUEST", rec.CSR), nil
}

// Certificate returns the CA's own certificate and, for a subordinate CA,
// the chain above it (PEM, issuer first, root last).
func (s *Service) Certificate(ctx context.Context, p iam.Principal, arn string) (cert, chain []byte, err error) {
	rec, err := s.get(ctx, p, "acm-pca:GetCertificateAuthorityCertificate", arn)
	if err != nil {
		return nil, nil, err
	}
	if Status(rec.Status) == Deleted {
		return nil, nil, invalidState("The certificate authority %s is deleted.", arn)
	}
	if len(rec.Certificate) == 0 {
		return nil, nil, invalidState("The certificate authority %s has no certificate yet (status %s).", arn, rec.Status)
	}
	return pki.EncodeCertificatesPEM(rec.Certificate), rec.Chain, nil
}

// ImportCertificate installs a signed certificate for the CA (and, for a
// subordinate CA, the chain up to its root). The certificate must carry the
// CA's key, be a valid CA certificate, and validate against the chain.
func (s *Service) ImportCertificate(ctx context.Context, p iam.Principal, arn string, certPEM, chainPEM []byte) error {
	_, id, err := s.parseCAARN(arn)
	if err != nil {
		return err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:ImportCertificateAuthorityCertificate", Resource: arn}); err != nil {
		return err
	}
	if len(certPEM) == 0 {
		return required("certificate")
	}
	if len(certPEM) > MaxCertificatePEM {
		return validation("certificate", "<blob>", "Member must have length less than or equal to 32768")
	}
	if len(chainPEM) > MaxChainPEM {
		return validation("certificateChain", "<blob>", "Member must have length less than or equal to 2097152")
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return errs.Coded(errs.Invalid, CodeMalformedCertificate, "The certificate is malformed: %v.", err)
	}
	if len(certs) != 1 {
		return errs.Coded(errs.Invalid, CodeMalformedCertificate,
			"The certificate field must hold exactly one certificate; put the issuers in the certificate chain.")
	}
	cert := certs[0]
	var chain []*x509.Certificate
	if len(bytes.TrimSpace(chainPEM)) > 0 {
		if chain, err = pki.ParseCertificatesPEM(chainPEM); err != nil {
			return errs.Coded(errs.Invalid, CodeMalformedCertificate, "The certificate chain is malformed: %v.", err)
		}
	}
	if err := pki.CheckCACertificate(cert); err != nil {
		return errs.Coded(errs.Invalid, CodeMalformedCertificate, "The certificate cannot be a CA certificate: %v.", err)
	}

	return s.mutate(ctx, id, arn, func(rec *store.CA, now time.Time) error {
		switch cur := effectiveStatus(rec, now); cur {
		case PendingCertificate, Active, Disabled, Expired:
		default:
			return invalidState("The certificate authority %s is %s; a certificate cannot be imported now.", arn, cur)
		}
		csr, err := x509.ParseCertificateRequest(rec.CSR)
		if err != nil {
			return errs.Wrap(err, "parse stored CSR of "+arn)
		}
		if !bytes.Equal(cert.RawSubjectPublicKeyInfo, csr.RawSubjectPublicKeyInfo) {
			return errs.Coded(errs.Invalid, CodeCertificateMismatch,
				"The certificate's public key does not match the key of certificate authority %s.", arn)
		}
		if !now.Before(cert.NotAfter) {
			return invalidRequest("The certificate expired on %s.", cert.NotAfter.Format(time.RFC3339))
		}
		selfSigned := pki.IsSelfSigned(cert)
		switch Type(rec.Type) {
		case Root:
			if !selfSigned {
				return invalidRequest("A ROOT certificate authority needs a self-signed certificate.")
			}
			if len(chain) > 0 {
				return invalidRequest("A ROOT certificate authority's certificate takes no certificate chain.")
			}
		case Subordinate:
			if selfSigned {
				return invalidRequest("A SUBORDINATE certificate authority's certificate must be signed by another CA, not self-signed.")
			}
			if len(chain) == 0 {
				return invalidRequest("A SUBORDINATE certificate authority needs the certificate chain of its issuer.")
			}
			if len(chain)+1 > MaxDepth {
				return invalidRequest("The hierarchy would be %d levels deep; at most %d are allowed.", len(chain)+1, MaxDepth)
			}
			if err := pki.VerifyChain(cert, chain, now); err != nil {
				return invalidRequest("%s.", capitalize(err.Error()))
			}
		}
		if cur := Status(rec.Status); cur == PendingCertificate {
			rec.Status = string(Active)
			rec.LastStateChangeAt = now
		}
		rec.Certificate = cert.Raw
		rec.Chain = nil
		if len(chain) > 0 {
			raws := make([][]byte, len(chain))
			for i, c := range chain {
				raws[i] = c.Raw
			}
			rec.Chain = pki.EncodeCertificatesPEM(raws...)
		}
		rec.Serial = pki.SerialHex(cert.SerialNumber)
		rec.NotBefore, rec.NotAfter = cert.NotBefore.UTC(), cert.NotAfter.UTC()
		return nil
	})
}
