package certmgr

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// Certificate is the public view of a certificate (ACM's CertificateDetail
// and, without the X.509 details, CertificateSummary).
type Certificate struct {
	ARN                string
	DomainName         string
	SANs               []string // DNS names
	Serial             string
	Subject            string
	Issuer             string
	Status             string
	Type               string
	KeyAlgorithm       string
	SignatureAlgorithm string
	CreatedAt          time.Time
	IssuedAt           time.Time
	ImportedAt         time.Time
	RevokedAt          time.Time
	RevocationReason   string
	NotBefore          time.Time
	NotAfter           time.Time
	InUseBy            []string
	FailureReason      string
	RenewalEligibility string
	Renewal            *RenewalSummary
	KeyUsages          []string
	ExtKeyUsages       []EKU
	CAARN              string
	ExportOption       string
	Exported           bool
	KeyPairOrigin      string
}

// RenewalSummary reports the latest managed renewal.
type RenewalSummary struct {
	Status    string
	Reason    string
	UpdatedAt time.Time
}

// eligible reports whether managed renewal applies: a private certificate
// that is issued and has been exported since it was issued or last renewed,
// or is in use.
func eligible(c *store.ACMCertificate) bool {
	return c.Type == TypePrivate && c.Status == StatusIssued && (c.Exported || len(c.InUseBy) > 0)
}

// schedule sets the record's due dates from its state: managed renewal 60
// days before expiry for an eligible certificate (kept if a retry is
// already scheduled), and the next approaching-expiry event.
func schedule(c *store.ACMCertificate, daysBefore int, now time.Time) {
	if !eligible(c) {
		c.RenewAt = time.Time{}
	} else if c.RenewAt.IsZero() {
		c.RenewAt = c.NotAfter.Add(-RenewBefore)
	}
	c.ExpiryEventAt = time.Time{}
	if c.Status == StatusIssued && c.NotAfter.After(now) {
		at := c.NotAfter.Add(-time.Duration(daysBefore) * 24 * time.Hour)
		if at.Before(now) {
			at = now
		}
		c.ExpiryEventAt = at
	}
}

// daysBeforeExpiry returns the account's DaysBeforeExpiry setting.
func (s *Service) daysBeforeExpiry(ctx context.Context, account string) (int, error) {
	var v string
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		v, err = tx.AccountSettings().Get(ctx, account, settingDaysBeforeExp)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return DefaultDaysBeforeExp, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return DefaultDaysBeforeExp, nil
	}
	return n, nil
}

// view turns a record into the public view, computing what is derived.
func view(c *store.ACMCertificate, now time.Time) *Certificate {
	out := &Certificate{
		ARN: c.ARN, DomainName: c.DomainName, Serial: c.Serial, Subject: c.Subject, Issuer: c.Issuer,
		Status: c.Status, Type: c.Type, KeyAlgorithm: c.KeyAlgorithm, SignatureAlgorithm: c.SignatureAlgorithm,
		CreatedAt: c.CreatedAt, IssuedAt: c.IssuedAt, ImportedAt: c.ImportedAt, RevokedAt: c.RevokedAt,
		RevocationReason: c.RevocationReason, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		InUseBy: append([]string{}, c.InUseBy...), FailureReason: c.FailureReason, CAARN: c.CAARN,
		ExportOption: c.ExportOption, Exported: c.Exported, RenewalEligibility: Ineligible,
		KeyPairOrigin: "AWS_MANAGED",
	}
	if c.Type == TypeImported {
		out.KeyPairOrigin = "CUSTOMER_PROVIDED"
	}
	// The expiry job marks certificates EXPIRED within a tick; the view
	// does not wait for it.
	if out.Status == StatusIssued && !c.NotAfter.IsZero() && !now.Before(c.NotAfter) {
		out.Status = StatusExpired
	}
	if eligible(c) && out.Status == StatusIssued {
		out.RenewalEligibility = Eligible
	}
	if c.RenewalStatus != "" {
		out.Renewal = &RenewalSummary{Status: c.RenewalStatus, Reason: c.RenewalReason, UpdatedAt: c.RenewalUpdatedAt}
	}
	for _, n := range c.Names {
		if n.Kind == "DNS" {
			out.SANs = append(out.SANs, n.Name)
		}
	}
	if c.Status != StatusFailed {
		out.KeyUsages = []string{}
		for i, name := range KeyUsageNames {
			if c.KeyUsages&(1<<i) != 0 {
				out.KeyUsages = append(out.KeyUsages, name)
			}
		}
		out.ExtKeyUsages = []EKU{}
		for _, e := range ExtKeyUsages {
			if c.ExtKeyUsages&e.bit != 0 {
				out.ExtKeyUsages = append(out.ExtKeyUsages, e)
			}
		}
	}
	return out
}

// Describe returns a certificate's details.
func (s *Service) Describe(ctx context.Context, p iam.Principal, arn string) (*Certificate, error) {
	id, err := s.authorizeARN(ctx, p, "acm:DescribeCertificate", arn)
	if err != nil {
		return nil, err
	}
	var c *store.ACMCertificate
	if err := s.store.View(ctx, func(tx store.Tx) (err error) { c, err = s.load(ctx, tx, arn, id); return err }); err != nil {
		return nil, err
	}
	out := view(c, s.clock.Now())
	if c.Certificate != nil {
		// Custom extended key usages carry their OIDs.
		if x, err := parseDER(c.Certificate); err == nil {
			for i, e := range out.ExtKeyUsages {
				if e.Name == "CUSTOM" {
					out.ExtKeyUsages = append(out.ExtKeyUsages[:i:i], out.ExtKeyUsages[i+1:]...)
					for _, oid := range customEKUs(x) {
						out.ExtKeyUsages = append(out.ExtKeyUsages, EKU{Name: "CUSTOM", OID: oid})
					}
					break
				}
			}
		}
	}
	return out, nil
}

// Get returns a certificate and its chain as PEM.
func (s *Service) Get(ctx context.Context, p iam.Principal, arn string) (cert, chain []byte, err error) {
	id, err := s.authorizeARN(ctx, p, "acm:GetCertificate", arn)
	if err != nil {
		return nil, nil, err
	}
	var c *store.ACMCertificate
	if err := s.store.View(ctx, func(tx store.Tx) (err error) { c, err = s.load(ctx, tx, arn, id); return err }); err != nil {
		return nil, nil, err
	}
	if c.Certificate == nil {
		if c.Status == StatusFailed {
			return nil, nil, errs.New(errs.State, "The certificate %s was not issued: %s.", arn, c.FailureReason)
		}
		return nil, nil, errs.Coded(errs.State, CodeInProgress, "The certificate %s is not issued yet.", arn)
	}
	return pki.EncodeCertificatesPEM(c.Certificate), c.Chain, nil
}
