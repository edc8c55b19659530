package certmgr

import (
	"context"
	"errors"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Fence guards a background job's writes (see scheduler.Fence): it fails
// once the node no longer holds the job lease. nil means unguarded.
type Fence func(tx store.Tx) error

func noFence(store.Tx) error { return nil }

func errorsIsStale(err error) bool { return errors.Is(err, store.ErrStale) }

// Renew renews a private certificate now, as managed renewal would: a new
// key pair and a new certificate from the same CA on the same ARN. Only
// private certificates that are eligible (exported or in use) can be
// renewed, as on AWS.
func (s *Service) Renew(ctx context.Context, p iam.Principal, arn string) error {
	id, err := s.authorizeARN(ctx, p, "acm:RenewCertificate", arn)
	if err != nil {
		return err
	}
	var c *store.ACMCertificate
	if err := s.store.View(ctx, func(tx store.Tx) (err error) { c, err = s.load(ctx, tx, arn, id); return err }); err != nil {
		return err
	}
	switch {
	case c.Type != TypePrivate:
		return errs.New(errs.Invalid, "The certificate %s is imported; only private certificates can be renewed. Re-import a new certificate onto the same ARN instead.", arn)
	case c.RenewalStatus == RenewalPending:
		return errs.Coded(errs.State, CodeInProgress, "A renewal of %s is in progress.", arn)
	case c.Status != StatusIssued || !c.NotAfter.After(s.clock.Now()):
		return errs.New(errs.Invalid, "The certificate %s is %s; only issued certificates can be renewed.", arn, view(c, s.clock.Now()).Status)
	case !eligible(c):
		return errs.New(errs.Invalid, "The certificate %s is not eligible for renewal: export it (or put it in use) first, as only exported private certificates can be renewed.", arn)
	}
	_, err = s.renew(ctx, arn, id, noFence)
	return err
}

// renew renews one certificate: it records PENDING_AUTO_RENEWAL, issues a
// new certificate, and records SUCCESS (with an ACM Certificate Available
// event) or FAILED with the CA's reason and a retry time. It reports
// whether the certificate was renewed.
func (s *Service) renew(ctx context.Context, arn, id string, fence Fence) (bool, error) {
	now := s.clock.Now()
	var cur *store.ACMCertificate
	err := s.mutate(ctx, arn, id, func(tx store.Tx, c *store.ACMCertificate) error {
		if err := fence(tx); err != nil {
			return err
		}
		if c.RenewalStatus == RenewalPending && now.Sub(c.RenewalUpdatedAt) < 10*time.Minute {
			return errs.Coded(errs.State, CodeInProgress, "A renewal of %s is in progress.", arn)
		}
		c.RenewalStatus, c.RenewalReason, c.RenewalUpdatedAt = RenewalPending, "", now
		c.RenewAt = now.Add(10 * time.Minute) // picked up again if this node dies mid-renewal
		cur = c
		return nil
	})
	if err != nil {
		return false, err
	}

	names := make([]string, 0, len(cur.Names))
	for _, n := range cur.Names {
		if n.Kind == "DNS" {
			names = append(names, n.Name)
		}
	}
	if len(names) == 0 {
		names = []string{cur.DomainName}
	}
	iss, failure := s.issue(ctx, servicePrincipal(cur.Account), cur, names)
	s.tel.Renewal(failure == "")
	days, err := s.daysBeforeExpiry(ctx, cur.Account)
	if err != nil {
		return false, err
	}
	now = s.clock.Now()
	err = s.mutate(ctx, arn, id, func(tx store.Tx, c *store.ACMCertificate) error {
		if err := fence(tx); err != nil {
			return err
		}
		c.RenewalUpdatedAt = now
		if failure != "" {
			c.RenewalStatus, c.RenewalReason = RenewalFailed, failure
			c.RenewAt = now.Add(renewalRetry)
			if !c.RenewAt.Before(c.NotAfter) {
				c.RenewAt = time.Time{}
			}
			return events.Publish(ctx, tx, events.SourceACM, events.ACMRenewalActionRequired, c.Account, s.region, now,
				[]string{c.ARN}, map[string]any{
					"CommonName": c.DomainName, "DaysToExpiry": daysTo(c.NotAfter, now), "RenewalStatus": RenewalFailed,
					"FailureReason": failure,
				})
		}
		iss.apply(c)
		c.Status, c.IssuedAt = StatusIssued, now
		c.RenewalStatus, c.RenewalReason = RenewalSuccess, ""
		c.Exported = false // eligible again once exported again, as on AWS
		c.RenewAt = time.Time{}
		schedule(c, days, now)
		return events.Publish(ctx, tx, events.SourceACM, events.ACMAvailable, c.Account, s.region, now,
			[]string{c.ARN}, availableDetail(c, "RENEWAL"))
	})
	if err != nil {
		return false, err
	}
	if failure != "" {
		s.log.Warn("certificate renewal failed", "arn", arn, "reason", failure)
		return false, nil
	}
	s.log.Info("certificate renewed", "arn", arn)
	return true, nil
}

// availableDetail is the detail of an ACM Certificate Available event.
func availableDetail(c *store.ACMCertificate, action string) map[string]any {
	return map[string]any{
		"Action": action, "CertificateType": c.Type, "CommonName": c.DomainName,
		"DomainValidationMethod": "", "CertificateCreatedDate": c.CreatedAt.UTC().Format(events.TimeFormat),
		"CertificateExpirationDate": c.NotAfter.UTC().Format(events.TimeFormat),
		"DaysToExpiry":              daysTo(c.NotAfter, c.IssuedAt), "InUse": len(c.InUseBy) > 0,
		"Exportable": c.ExportOption == ExportEnabled, "SerialNumber": c.Serial,
	}
}

// daysTo counts whole days from now to t.
func daysTo(t, now time.Time) int {
	if !t.After(now) {
		return 0
	}
	return int(t.Sub(now) / (24 * time.Hour))
}

// jobBatch bounds the work one job run takes on.
const jobBatch = 200

// RenewDue renews the certificates whose managed renewal is due (60 days
// before expiry, or a retry after a failure), found by their due-date
// index. It returns how many it renewed.
func (s *Service) RenewDue(ctx context.Context, fence Fence) (int, error) {
	if fence == nil {
		fence = noFence
	}
	var ids []string
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		ids, err = tx.ACMCertificates().RenewalDue(ctx, s.clock.Now(), jobBatch)
		return err
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		var c *store.ACMCertificate
		err := s.store.View(ctx, func(tx store.Tx) (err error) { c, err = tx.ACMCertificates().Get(ctx, id); return err })
		if errs.KindOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return n, err
		}
		if !eligible(c) {
			// No longer eligible (it expired or stopped being in use):
			// drop the due date.
			if err := s.mutate(ctx, c.ARN, id, func(tx store.Tx, c *store.ACMCertificate) error {
				if err := fence(tx); err != nil {
					return err
				}
				c.RenewAt = time.Time{}
				return nil
			}); err != nil {
				return n, err
			}
			continue
		}
		ok, err := s.renew(ctx, c.ARN, id, fence)
		if errs.CodeOf(err) == CodeInProgress {
			continue
		}
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// eachDue lists up to jobBatch certificates with due(now) and runs fn on
// each in its own fenced transaction; fn reports whether it did the work
// (a certificate another run already handled is skipped). It returns how
// many fn did.
func (s *Service) eachDue(ctx context.Context, fence Fence,
	due func(store.ACMCertificates, time.Time) ([]string, error),
	fn func(tx store.Tx, c *store.ACMCertificate, now time.Time) (bool, error)) (int, error) {
	if fence == nil {
		fence = noFence
	}
	now := s.clock.Now()
	var ids []string
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		ids, err = due(tx.ACMCertificates(), now)
		return err
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.store.Update(ctx, func(tx store.Tx) error {
			if err := fence(tx); err != nil {
				return err
			}
			c, err := tx.ACMCertificates().Get(ctx, id)
			if err != nil {
				return err
			}
			did, err := fn(tx, c, now)
			if did && err == nil {
				n++
			}
			return err
		})
		if err != nil && errs.KindOf(err) != errs.NotFound {
			return n, err
		}
	}
	return n, nil
}

// ExpireDue marks certificates past NotAfter EXPIRED, with an ACM
// Certificate Expired event (not for imported certificates, as on AWS).
func (s *Service) ExpireDue(ctx context.Context, fence Fence) (int, error) {
	due := func(r store.ACMCertificates, now time.Time) ([]string, error) {
		return r.ExpiredDue(ctx, now, jobBatch)
	}
	return s.eachDue(ctx, fence, due, func(tx store.Tx, c *store.ACMCertificate, now time.Time) (bool, error) {
		if c.Status != StatusIssued || c.NotAfter.After(now) {
			return false, nil
		}
		c.Status, c.RenewAt, c.ExpiryEventAt = StatusExpired, time.Time{}, time.Time{}
		if err := tx.ACMCertificates().Update(ctx, c); err != nil {
			return false, err
		}
		if c.Type == TypeImported {
			return true, nil
		}
		return true, events.Publish(ctx, tx, events.SourceACM, events.ACMExpired, c.Account, s.region, now,
			[]string{c.ARN}, map[string]any{
				"CertificateType": c.Type, "CommonName": c.DomainName, "DomainValidationMethod": "",
				"CertificateCreatedDate":    c.CreatedAt.UTC().Format(events.TimeFormat),
				"CertificateExpirationDate": c.NotAfter.UTC().Format(events.TimeFormat),
				"InUse":                     len(c.InUseBy) > 0, "Exported": c.Exported, "SerialNumber": c.Serial,
			})
	})
}

// SendExpiryEvents publishes ACM Certificate Approaching Expiration for
// every certificate whose daily event is due, then schedules the next one
// a day later. A certificate gets at most one event per day, even if the
// job did not run for several days.
func (s *Service) SendExpiryEvents(ctx context.Context, fence Fence) (int, error) {
	due := func(r store.ACMCertificates, now time.Time) ([]string, error) {
		return r.ExpiryEventDue(ctx, now, jobBatch)
	}
	return s.eachDue(ctx, fence, due, func(tx store.Tx, c *store.ACMCertificate, now time.Time) (bool, error) {
		if c.ExpiryEventAt.IsZero() || c.ExpiryEventAt.After(now) {
			return false, nil // another run got here first
		}
		next := c.ExpiryEventAt
		for !next.After(now) {
			next = next.Add(24 * time.Hour)
		}
		if c.Status != StatusIssued || !next.Before(c.NotAfter) {
			next = time.Time{}
		}
		send := c.Status == StatusIssued && c.NotAfter.After(now)
		c.ExpiryEventAt = next
		if err := tx.ACMCertificates().Update(ctx, c); err != nil || !send {
			return false, err
		}
		return true, events.Publish(ctx, tx, events.SourceACM, events.ACMApproachingExpiration, c.Account, s.region, now,
			[]string{c.ARN}, map[string]any{"DaysToExpiry": daysTo(c.NotAfter, now), "CommonName": c.DomainName})
	})
}
