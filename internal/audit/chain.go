package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// The chain. Record n's MAC is
//
//	HMAC-SHA256(key, "sigil-audit-chain-v1" || MAC(n-1) || uint64be(n) || body)
//
// with MAC(0) empty, over the exact stored body bytes. The head row holds
// the last position and MAC and a tag, HMAC(key, "sigil-audit-head-v1" ||
// uint64be(position) || MAC), so the chain cannot be cut short by editing
// the head either. A record written before it is chained (inside the
// transaction of the change it describes) carries its own MAC,
// HMAC(key, "sigil-audit-pending-v1" || eventID || 0 || uint64be(eventTime
// µs) || uint64be(createdAt µs) || body), so it cannot be forged while it
// waits.
//
// The key is 32 random bytes, created once per deployment and kept in the
// meta table sealed by the master key: someone with only the database
// cannot recompute any MAC.

// Key is the MAC key of the audit chain.
type Key []byte

const (
	metaKey     = "audit_mac_key"
	sealContext = "sigil/audit/mac-key/v1"
)

// ErrNoTrail reports a store that has no audit key yet (no server with the
// audit trail has started on it).
var ErrNoTrail = errs.New(errs.NotFound, "this store has no audit trail yet (no audit key in its meta table)")

// Sealer seals the audit key with the master key (seal.Keyring is one).
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	Open(blob, context []byte) ([]byte, error)
}

// LoadKey reads and unseals the audit key of a store; ErrNoTrail if there
// is none. It never writes.
func LoadKey(ctx context.Context, st store.Store, s Sealer) (Key, error) {
	var sealed string
	err := st.View(ctx, func(tx store.Tx) (err error) {
		sealed, err = tx.Meta().Get(ctx, metaKey)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoTrail
	}
	if err != nil {
		return nil, err
	}
	return openKey(sealed, s)
}

func openKey(sealed string, s Sealer) (Key, error) {
	blob, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("the audit key in the meta table is malformed: %w", err)
	}
	key, err := s.Open(blob, []byte(sealContext))
	if err != nil {
		return nil, fmt.Errorf("cannot unseal the audit key with this master key: %w", err)
	}
	return Key(key), nil
}

// ensureKey returns the store's audit key, creating it and an empty
// chain's head the first time (once, even with several nodes starting
// together). A store that has a key but no head was tampered with: it is
// refused rather than silently restarted.
func ensureKey(ctx context.Context, st store.Store, s Sealer) (Key, error) {
	key, err := LoadKey(ctx, st, s)
	if err == nil {
		return key, checkHead(ctx, st)
	}
	if !errors.Is(err, ErrNoTrail) {
		return nil, err
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	blob, err := s.Seal(fresh, []byte(sealContext))
	if err != nil {
		return nil, err
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Meta().Insert(ctx, metaKey, base64.StdEncoding.EncodeToString(blob)); err != nil {
			return err
		}
		return tx.AuditEvents().CreateHead(ctx, Key(fresh).head(0, nil))
	})
	if errors.Is(err, store.ErrConflict) { // another node created it first
		key, err := LoadKey(ctx, st, s)
		if err != nil {
			return nil, err
		}
		return key, checkHead(ctx, st)
	}
	if err != nil {
		return nil, fmt.Errorf("create the audit key: %w", err)
	}
	return Key(fresh), nil
}

func checkHead(ctx context.Context, st store.Store) error {
	err := st.View(ctx, func(tx store.Tx) error {
		_, err := tx.AuditEvents().Head(ctx)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("the audit chain's head row is missing although the store has an audit key: the audit trail was tampered with; run `sigil audit verify` and investigate before starting")
	}
	return err
}

func (k Key) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func be64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// chainMAC is the MAC of the record at position after prev.
func (k Key) chainMAC(prev []byte, position int64, body string) []byte {
	return k.mac([]byte("sigil-audit-chain-v1"), prev, be64(position), []byte(body))
}

// head builds a head row for a chain ending at position with mac.
func (k Key) head(position int64, mac []byte) *store.AuditHead {
	if mac == nil {
		mac = []byte{}
	}
	return &store.AuditHead{Position: position, MAC: mac, Tag: k.mac([]byte("sigil-audit-head-v1"), be64(position), mac)}
}

// pendingMAC is the MAC of a record that is not chained yet.
func (k Key) pendingMAC(p *store.AuditPending) []byte {
	return k.mac([]byte("sigil-audit-pending-v1"), []byte(p.ID), []byte{0}, be64(p.Time.UnixMicro()),
		be64(p.CreatedAt.UnixMicro()), []byte(p.Body))
}

// resourceHash is the keyed hash of one resource row; Verify adds them up
// to compare the resource table with the records, in any order.
func (k Key) resourceHash(r store.AuditResourceRow) []byte {
	return k.mac([]byte("sigil-audit-resource-v1"), be64(r.Position), be64(r.Time.UnixMicro()), []byte(r.Account), []byte{0},
		[]byte(r.Type), []byte{0}, []byte(r.Name))
}

// append chains records after the head in one transaction: each gets the
// next position and its MAC. For a record whose pending row must go
// (pending reports it), the pending row is deleted first; if it is gone
// (chained meanwhile by the orphan job) the record is skipped, as is one
// whose ID is chained already (a commit whose answer was lost). Skipped
// IDs are returned.
func (k Key) append(ctx context.Context, tx store.Tx, items []*store.AuditEvent, pending func(i int) bool) (skipped []string, err error) {
	head, err := tx.AuditEvents().LockHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock the audit chain head: %w", err)
	}
	pos, prev := head.Position, head.MAC
	for i, item := range items {
		if pending(i) {
			err := tx.AuditEvents().DeletePending(ctx, item.ID)
			if errors.Is(err, store.ErrNotFound) {
				skipped = append(skipped, item.ID)
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		e := *item // Update may run this again: leave the items as they were
		e.Position = pos + 1
		e.MAC = k.chainMAC(prev, e.Position, e.Body)
		err := tx.AuditEvents().Append(ctx, &e)
		if errors.Is(err, store.ErrConflict) {
			skipped = append(skipped, item.ID)
			continue
		}
		if err != nil {
			return nil, err
		}
		pos, prev = e.Position, e.MAC
	}
	if pos == head.Position {
		return skipped, nil
	}
	return skipped, tx.AuditEvents().SetHead(ctx, k.head(pos, prev))
}

// micro truncates a time to what the store keeps.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }
