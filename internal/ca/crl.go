package ca

import (
	"context"
	"crypto"
	"errors"
	"math/big"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// CRL publication.
//
// Every CA that publishes CRLs has one row per CRL in the store: partition 0
// is the complete CRL (every revoked certificate of the CA, no Issuing
// Distribution Point); partition n >= 1 lists only the certificates whose
// distribution point names partition n and carries a critical Issuing
// Distribution Point with that same URL. A row is due when a revocation
// touched it or when its CRL is halfway to nextUpdate; RefreshCRLs, a
// scheduler job running on one node, regenerates due rows.

// Timing of CRL regeneration.
const (
	// dormantRecheck is how long a row waits when its CA cannot publish (CRLs
	// disabled, CA expired or deleted). Any change to the CA makes the row
	// due again at once.
	dormantRecheck = 24 * time.Hour
	// failedRetry is how long a row waits after a failed regeneration.
	failedRetry = time.Minute
)

// RefreshCRLs regenerates the CRLs that are due and returns how many it
// signed. fence, when not nil, guards every write (the scheduler's lease).
func (s *Service) RefreshCRLs(ctx context.Context, fence func(store.Tx) error) (int, error) {
	now := s.clock.Now()
	var due []*store.CRL
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		due, err = tx.CRLs().Due(ctx, now, 100)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range due {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		now := s.clock.Now() // building CRLs takes time: each gets its own thisUpdate
		signed, err := s.refreshCRL(ctx, row, now, fence)
		if errors.Is(err, store.ErrStale) {
			return n, err // the lease moved: the new holder carries on
		}
		if err != nil {
			s.log.WarnContext(ctx, "CRL regeneration failed; retrying later", "ca", row.CAID, "partition", row.Partition,
				"retry_in", failedRetry, "err", err)
			if err := s.fenced(ctx, fence, func(tx store.Tx) error {
				if err := tx.CRLs().Reschedule(ctx, row.CAID, row.Partition, now.Add(failedRetry)); err != nil {
					return err
				}
				return s.publishCRLEvent(ctx, tx, row.CAID, row.Partition, now, false)
			}); err != nil {
				return n, err
			}
			continue
		}
		if signed {
			n++
		}
	}
	return n, nil
}

// publishCRLEvent announces a CRL generation (or its failure).
func (s *Service) publishCRLEvent(ctx context.Context, tx store.Tx, caID string, partition int64, now time.Time, ok bool) error {
	rec, err := tx.CAs().Get(ctx, caID)
	if err != nil {
		return nil // the CA is gone: nothing to announce
	}
	result := "success"
	if !ok {
		result = "failure"
	}
	return events.Publish(ctx, tx, events.SourcePCA, events.PCACRLGeneration, rec.Account, s.opts.Region, now, []string{rec.ARN},
		map[string]any{"result": result, "partition": partition})
}

// fenced runs fn in a write transaction guarded by fence.
func (s *Service) fenced(ctx context.Context, fence func(store.Tx) error, fn func(store.Tx) error) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		if fence != nil {
			if err := fence(tx); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

// refreshCRL regenerates one CRL, or puts its row to sleep if the CA cannot
// publish now.
func (s *Service) refreshCRL(ctx context.Context, row *store.CRL, now time.Time, fence func(store.Tx) error) (bool, error) {
	var rec *store.CA
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.CAs().Get(ctx, row.CAID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, s.fenced(ctx, fence, func(tx store.Tx) error { return tx.CRLs().Remove(ctx, row.CAID, row.Partition) })
	}
	if err != nil {
		return false, err
	}
	rev, err := decodeRevocation(rec.RevocationConfig)
	if err != nil {
		return false, errs.Wrap(err, "decode revocation config")
	}
	pub := s.publicationOf(rec.ID, rev)
	if st := effectiveStatus(rec, now); !pub.crl || len(rec.Certificate) == 0 || (st != Active && st != Disabled) {
		return false, s.fenced(ctx, fence, func(tx store.Tx) error {
			return tx.CRLs().Reschedule(ctx, row.CAID, row.Partition, now.Add(dormantRecheck))
		})
	}
	issuer, err := s.issuerOf(rec)
	if err != nil {
		return false, errs.Wrap(err, "parse CA certificate")
	}
	signer, err := s.keys.Signer(ctx, rec.KeyRef, rec.ARN)
	if err != nil {
		return false, errs.Wrap(err, "load CA key")
	}
	var number int64
	if err := s.fenced(ctx, fence, func(tx store.Tx) (err error) {
		number, err = tx.Sequences().Reserve(ctx, rec.ID, "crl", 1)
		return err
	}); err != nil {
		return false, err
	}

	thisUpdate := now.UTC().Truncate(time.Second)
	params := pki.CRLParams{Issuer: issuer.cert, Number: big.NewInt(number), ThisUpdate: thisUpdate,
		NextUpdate: thisUpdate.Add(pub.lifetime), SigningAlgorithm: issuer.cfg.SigningAlgorithm}
	if row.Partition > 0 {
		params.DistributionPoint = pub.crlURL(rec.ID, row.Partition)
	}
	der, entries, err := s.buildCRL(ctx, rec.ID, row.Partition, thisUpdate.Add(-pub.lifetime), params, signer)
	if err != nil {
		return false, err
	}
	saved := &store.CRL{CAID: rec.ID, Partition: row.Partition, Number: number, ThisUpdate: params.ThisUpdate,
		NextUpdate: params.NextUpdate, RefreshAt: thisUpdate.Add(pub.lifetime / 2), DER: der}
	if err := s.fenced(ctx, fence, func(tx store.Tx) error {
		if err := tx.CRLs().Save(ctx, saved, row.Pending); err != nil {
			return err
		}
		return s.publishCRLEvent(ctx, tx, rec.ID, row.Partition, now, true)
	}); err != nil {
		return false, err
	}
	s.crls.put(rec.ID, row.Partition, &CRLFile{DER: der, Number: number, ThisUpdate: saved.ThisUpdate, NextUpdate: saved.NextUpdate},
		now.Add(s.cacheTTL()))
	if pub.bucket != "" && s.opts.Objects != nil {
		key := pub.objectPath + CRLFileName(rec.ID, row.Partition)
		if err := s.opts.Objects.Put(ctx, pub.bucket, key, der); err != nil {
			// The CRL is saved and served over HTTP; only the copy in the
			// object store lags. Try again soon.
			s.log.WarnContext(ctx, "publishing a CRL to the object store failed", "bucket", pub.bucket, "key", key, "err", err)
			return true, s.fenced(ctx, fence, func(tx store.Tx) error {
				return tx.CRLs().Reschedule(ctx, rec.ID, row.Partition, now.Add(failedRetry))
			})
		}
	}
	s.log.InfoContext(ctx, "CRL published", "ca", rec.ARN, "partition", row.Partition, "number", number,
		"entries", entries, "bytes", len(der))
	return true, nil
}

// buildCRL streams the revoked certificates of a partition that expire
// after since into a CRL and signs it. Memory grows with the encoded
// entries (about 40 bytes each), not with the certificates.
func (s *Service) buildCRL(ctx context.Context, caID string, partition int64, since time.Time, p pki.CRLParams,
	signer crypto.Signer) ([]byte, int, error) {
	var b pki.CRLBuilder
	err := s.store.View(ctx, func(tx store.Tx) error {
		b = pki.CRLBuilder{}
		return tx.Certificates().Revoked(ctx, caID, partition, since, func(e store.RevokedEntry) error {
			sn, err := pki.ParseSerialHex(e.Serial)
			if err != nil {
				return errs.Wrap(err, "stored serial")
			}
			return b.Add(sn, e.RevokedAt, pki.ReasonCodes[e.Reason])
		})
	})
	if err != nil {
		return nil, 0, err
	}
	der, err := b.Sign(p, signer)
	return der, b.Len(), err
}

// CRLFile is a published CRL.
type CRLFile struct {
	DER        []byte
	Number     int64
	ThisUpdate time.Time
	NextUpdate time.Time
}

// CRL returns the latest CRL of a CA's partition (0: the complete CRL) for
// publication over HTTP. It is public: no principal is involved. A CA that
// does not exist, or has no CRL yet, is ErrNotFound. A node keeps CRLs in
// memory and, once per cache period, checks only the CRL number in the
// store, reading the CRL again only when a new one was published.
func (s *Service) CRL(ctx context.Context, caID string, partition int64) (*CRLFile, error) {
	now := s.clock.Now()
	cached, fresh := s.crls.get(caID, partition, now)
	if fresh {
		return cached, nil
	}
	var f *CRLFile
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.CAs().Get(ctx, caID)
		if err != nil {
			return err
		}
		if gone(rec, now) {
			return store.ErrNotFound
		}
		if cached != nil {
			if n, err := tx.CRLs().Number(ctx, caID, partition); err != nil || n == cached.Number {
				f = cached
				return err
			}
		}
		row, err := tx.CRLs().Get(ctx, caID, partition)
		if err != nil {
			return err
		}
		if len(row.DER) == 0 {
			return store.ErrNotFound // not generated yet
		}
		f = &CRLFile{DER: row.DER, Number: row.Number, ThisUpdate: row.ThisUpdate, NextUpdate: row.NextUpdate}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.crls.drop(caID, partition)
		}
		return nil, err
	}
	s.crls.put(caID, partition, f, now.Add(s.cacheTTL()))
	return f, nil
}

// cacheTTL is how long a node serves CRLs and OCSP statuses from memory:
// half the propagation bound (the other half is the CRL job's period).
func (s *Service) cacheTTL() time.Duration {
	return max(s.opts.Revocation.Propagation/2, 50*time.Millisecond)
}

// CACertificateDER returns a CA's certificate for the AIA caIssuers URL. It
// is public.
func (s *Service) CACertificateDER(ctx context.Context, caID string) ([]byte, error) {
	var der []byte
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.CAs().Get(ctx, caID)
		if err != nil {
			return err
		}
		if gone(rec, s.clock.Now()) || len(rec.Certificate) == 0 {
			return store.ErrNotFound
		}
		der = rec.Certificate
		return nil
	})
	return der, err
}

// crlCache keeps recently served CRLs, bounded in bytes.
type crlCache struct {
	mu    sync.Mutex
	m     map[partitionKey]*crlEntry
	bytes int
}

type crlEntry struct {
	f       *CRLFile
	expires time.Time
}

// crlCacheBytes bounds the CRLs a node keeps in memory; one CRL of a
// million entries is about 35 MiB.
const crlCacheBytes = 256 << 20

// get returns the cached CRL, if any, and whether it is still fresh.
func (c *crlCache) get(caID string, partition int64, now time.Time) (*CRLFile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[partitionKey{caID, partition}]; ok {
		return e.f, now.Before(e.expires)
	}
	return nil, false
}

func (c *crlCache) put(caID string, partition int64, f *CRLFile, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(f.DER) > crlCacheBytes/2 {
		return
	}
	k := partitionKey{caID, partition}
	if old, ok := c.m[k]; ok {
		c.bytes -= len(old.f.DER)
	}
	if c.bytes+len(f.DER) > crlCacheBytes {
		clear(c.m)
		c.bytes = 0
	}
	c.m[k] = &crlEntry{f: f, expires: expires}
	c.bytes += len(f.DER)
}

func (c *crlCache) drop(caID string, partition int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[partitionKey{caID, partition}]; ok {
		c.bytes -= len(old.f.DER)
		delete(c.m, partitionKey{caID, partition})
	}
}

// touchCRLs makes a CA's CRLs due at once after a change to the CA (its
// revocation configuration, status or certificate), and creates the row of
// the complete CRL when the CA publishes one.
func (s *Service) touchCRLs(ctx context.Context, tx store.Tx, rec *store.CA, now time.Time) error {
	parts, err := tx.CRLs().Partitions(ctx, rec.ID)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := tx.CRLs().Touch(ctx, rec.ID, p.Partition, now); err != nil {
			return err
		}
	}
	rev, err := decodeRevocation(rec.RevocationConfig)
	if err != nil {
		return errs.Wrap(err, "decode revocation config")
	}
	if pub := s.publicationOf(rec.ID, rev); pub.crl && !pub.partitioned && len(rec.Certificate) > 0 {
		return tx.CRLs().Ensure(ctx, rec.ID, 0, now)
	}
	return nil
}
