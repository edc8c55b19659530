package ca

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// loadCA reads a CA inside a transaction, treating a CA whose restore window
// has ended as missing.
func (s *Service) loadCA(ctx context.Context, tx store.Tx, id, arn string) (*store.CA, error) {
	rec, err := tx.CAs().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (rec.ARN != arn || gone(rec, s.clock.Now()))) {
		return nil, notFound("Certificate authority %s not found.", arn)
	}
	return rec, err
}

// get authorizes and reads a CA.
func (s *Service) get(ctx context.Context, p iam.Principal, action, arn string) (*store.CA, error) {
	_, id, err := s.parseCAARN(arn)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: action, Resource: arn}); err != nil {
		return nil, err
	}
	var rec *store.CA
	err = s.store.View(ctx, func(tx store.Tx) (err error) {
		rec, err = s.loadCA(ctx, tx, id, arn)
		return err
	})
	return rec, err
}

func (s *Service) view(rec *store.CA, now time.Time) (*Authority, error) {
	a := &Authority{
		ARN: rec.ARN, Account: rec.Account, Type: Type(rec.Type), Status: effectiveStatus(rec, now),
		FailureReason: rec.FailureReason, UsageMode: rec.UsageMode, KeyStorageSecurityStandard: rec.KeyStorageSecurityStandard,
		Serial: rec.Serial, NotBefore: rec.NotBefore, NotAfter: rec.NotAfter, CreatedAt: rec.CreatedAt,
		LastStateChangeAt: rec.LastStateChangeAt,
	}
	if a.Status == Deleted {
		a.RestorableUntil = rec.RestorableUntil
	}
	if err := json.Unmarshal(rec.Config, &a.Config); err != nil {
		return nil, errs.Wrap(err, "decode CA config of "+rec.ARN)
	}
	if len(rec.RevocationConfig) > 0 {
		a.Revocation = &RevocationConfig{}
		if err := json.Unmarshal(rec.RevocationConfig, a.Revocation); err != nil {
			return nil, errs.Wrap(err, "decode revocation config of "+rec.ARN)
		}
	}
	return a, nil
}

// Describe returns a CA.
func (s *Service) Describe(ctx context.Context, p iam.Principal, arn string) (*Authority, error) {
	rec, err := s.get(ctx, p, "acm-pca:DescribeCertificateAuthority", arn)
	if err != nil {
		return nil, err
	}
	return s.view(rec, s.clock.Now())
}

// ListInput pages through the caller's CAs.
type ListInput struct {
	MaxResults    int
	NextToken     string
	ResourceOwner string // SELF (default) or OTHER_ACCOUNTS
}

// ListOutput is one page of CAs.
type ListOutput struct {
	Authorities []*Authority
	NextToken   string
}

// maxListPage is the most CAs one page returns, whatever MaxResults says
// (as on AWS).
const maxListPage = 100

// List returns the caller's CAs, oldest first.
func (s *Service) List(ctx context.Context, p iam.Principal, in ListInput) (*ListOutput, error) {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm-pca:ListCertificateAuthorities", Resource: "*"}); err != nil {
		return nil, err
	}
	if in.MaxResults != 0 && (in.MaxResults < 1 || in.MaxResults > 1000) {
		return nil, validation("maxResults", in.MaxResults, "Member must have value between 1 and 1000")
	}
	shared := false
	switch in.ResourceOwner {
	case "", "SELF":
	case "OTHER_ACCOUNTS":
		// CAs of other accounts whose resource policy names this account
		// (Sigil's stand-in for a RAM share).
		shared = true
	default:
		return nil, enumValidation("resourceOwner", in.ResourceOwner, []string{"SELF", "OTHER_ACCOUNTS"})
	}
	limit := maxListPage
	if in.MaxResults > 0 && in.MaxResults < limit {
		limit = in.MaxResults
	}
	scope := "acm-pca:ListCertificateAuthorities:" + p.Account
	if shared {
		scope += ":OTHER_ACCOUNTS"
	}
	tok, err := decodeToken(in.NextToken, scope)
	if err != nil {
		return nil, err
	}
	var cursor *store.CACursor
	if tok != nil {
		cursor = &store.CACursor{CreatedAt: time.UnixMicro(tok.After).UTC(), ID: tok.ID}
	}
	now := s.clock.Now()
	out := &ListOutput{}
	var recs []*store.CA
	err = s.store.View(ctx, func(tx store.Tx) (err error) {
		// One extra row tells whether another page exists.
		if shared {
			recs, err = tx.CAAccess().ListShared(ctx, p.Account, cursor, limit+1)
		} else {
			recs, err = tx.CAs().List(ctx, p.Account, cursor, limit+1)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(recs) > limit {
		last := recs[limit-1]
		out.NextToken = encodeCursorToken(scope, last.CreatedAt, last.ID)
		recs = recs[:limit]
	}
	for _, rec := range recs {
		if gone(rec, now) {
			continue
		}
		a, err := s.view(rec, now)
		if err != nil {
			return nil, err
		}
		out.Authorities = append(out.Authorities, a)
	}
	return out, nil
}

// UpdateInput changes a CA's status or revocation configuration.
type UpdateInput struct {
	ARN        string
	Status     Status // "" to leave unchanged; ACTIVE or DISABLED
	Revocation *RevocationConfig
}

// Update enables or disables a CA, or changes its revocation configuration.
func (s *Service) Update(ctx context.Context, p iam.Principal, in UpdateInput) error {
	_, id, err := s.parseCAARN(in.ARN)
	if err != nil {
		return err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:UpdateCertificateAuthority", Resource: in.ARN}); err != nil {
		return err
	}
	switch in.Status {
	case "", Active, Disabled:
	default:
		return invalidArgs("Status can only be set to ACTIVE or DISABLED, not %s.", in.Status)
	}
	if err := in.Revocation.validate(); err != nil {
		return err
	}
	return s.mutate(ctx, id, in.ARN, func(rec *store.CA, now time.Time) error {
		cur := effectiveStatus(rec, now)
		if cur != Active && cur != Disabled {
			return invalidState("The certificate authority %s is %s; only an ACTIVE or DISABLED CA can be updated.", in.ARN, cur)
		}
		if in.Status != "" && in.Status != cur {
			rec.Status = string(in.Status)
			rec.LastStateChangeAt = now
		}
		if in.Revocation != nil {
			rec.RevocationConfig, _ = json.Marshal(in.Revocation)
		}
		return nil
	})
}

// mutate applies change to a CA with optimistic concurrency. A change of
// the CA's status is announced by an ACM Private CA State Change event in
// the same transaction.
func (s *Service) mutate(ctx context.Context, id, arn string, change func(rec *store.CA, now time.Time) error) error {
	defer s.recs.drop(id)
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.loadCA(ctx, tx, id, arn)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		before := effectiveStatus(rec, now)
		if err := change(rec, now); err != nil {
			return err
		}
		if err := s.touchCRLs(ctx, tx, rec, now); err != nil {
			return err
		}
		if err := tx.CAs().Update(ctx, rec); err != nil {
			return err
		}
		if after := effectiveStatus(rec, now); after != before {
			return events.Publish(ctx, tx, events.SourcePCA, events.PCAStateChange, rec.Account, s.opts.Region, now, []string{rec.ARN},
				map[string]string{"previousStatus": string(before), "status": string(after)})
		}
		return nil
	})
	if errors.Is(err, store.ErrStale) {
		return concurrentModification(arn)
	}
	return err
}

// DefaultDeletionDays is the restore window when none is given.
const DefaultDeletionDays = 30

// Delete schedules a CA for deletion. A CA that never received a certificate
// is deleted at once; others stay restorable for days (7 to 30).
func (s *Service) Delete(ctx context.Context, p iam.Principal, arn string, days *int) error {
	_, id, err := s.parseCAARN(arn)
	if err != nil {
		return err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:DeleteCertificateAuthority", Resource: arn}); err != nil {
		return err
	}
	window := DefaultDeletionDays
	if days != nil {
		if *days < 7 || *days > 30 {
			return validation("permanentDeletionTimeInDays", *days, "Member must have value between 7 and 30")
		}
		window = *days
	}
	return s.mutate(ctx, id, arn, func(rec *store.CA, now time.Time) error {
		switch cur := effectiveStatus(rec, now); cur {
		case Active:
			return invalidState("The certificate authority %s is ACTIVE; disable it before deleting it.", arn)
		case Deleted:
			return invalidState("The certificate authority %s is already deleted.", arn)
		case PendingCertificate, Creating, Failed:
			// Nothing was ever issued under a trusted certificate: no
			// restore window.
			rec.StatusBeforeDeletion = rec.Status
			rec.RestorableUntil = now
		default: // DISABLED, EXPIRED
			rec.StatusBeforeDeletion = rec.Status
			rec.RestorableUntil = now.AddDate(0, 0, window)
		}
		rec.Status = string(Deleted)
		rec.LastStateChangeAt = now
		return nil
	})
}

// Restore brings back a deleted CA within its restore window, in the state
// it had before deletion.
func (s *Service) Restore(ctx context.Context, p iam.Principal, arn string) error {
	_, id, err := s.parseCAARN(arn)
	if err != nil {
		return err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:RestoreCertificateAuthority", Resource: arn}); err != nil {
		return err
	}
	return s.mutate(ctx, id, arn, func(rec *store.CA, now time.Time) error {
		if Status(rec.Status) != Deleted {
			return invalidState("The certificate authority %s is not deleted.", arn)
		}
		rec.Status = rec.StatusBeforeDeletion
		rec.StatusBeforeDeletion = ""
		rec.RestorableUntil = time.Time{}
		rec.LastStateChangeAt = now
		return nil
	})
}

// Purge permanently removes CAs whose restore window has ended, with their
// certificates, tags and keys. It returns how many it removed. fence, when
// not nil, runs inside each removal's transaction (the scheduler's lease
// check) and aborts it if it fails.
func (s *Service) Purge(ctx context.Context, fence func(store.Tx) error) (int, error) {
	now := s.clock.Now()
	var ids []string
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		ids, err = tx.CAs().DeletedBefore(ctx, now.Add(time.Microsecond), 100)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		var rec *store.CA
		err := s.store.Update(ctx, func(tx store.Tx) error {
			if fence != nil {
				if err := fence(tx); err != nil {
					return err
				}
			}
			r, err := tx.CAs().Get(ctx, id)
			if err != nil {
				return err
			}
			if !gone(r, now) { // restored meanwhile
				return nil
			}
			rec = r
			return tx.CAs().Delete(ctx, id)
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if rec == nil {
			continue
		}
		if err := s.keys.Destroy(ctx, rec.KeyRef, rec.ARN); err != nil {
			s.log.WarnContext(ctx, "destroying a purged CA's key failed", "arn", rec.ARN, "err", err)
		}
		s.log.InfoContext(ctx, "certificate authority purged", "arn", rec.ARN)
		n++
	}
	return n, nil
}
