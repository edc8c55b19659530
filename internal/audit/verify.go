package audit

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/sigilhq/sigil/internal/store"
)

// Report is the outcome of Verify.
type Report struct {
	Head    store.AuditHead // as stored
	Records int64           // chained records checked
	// Pending counts records stored with their change and waiting for
	// their call's outcome, within the grace period.
	Pending int
	// Stale counts pending records older than the grace period whose own
	// MAC is good: calls whose node stopped before they finished. A
	// running server chains them.
	Stale int
	// Problem is the first failure found; nil when the trail is intact.
	Problem *Problem
}

// Problem locates a failure of the audit trail.
type Problem struct {
	Position int64  // 0 for a failure that is not at a chain position
	EventID  string // "" when no record can be named
	Reason   string
}

func (p *Problem) Error() string {
	switch {
	case p.Position > 0 && p.EventID != "":
		return fmt.Sprintf("position %d (eventID %s): %s", p.Position, p.EventID, p.Reason)
	case p.Position > 0:
		return fmt.Sprintf("position %d: %s", p.Position, p.Reason)
	case p.EventID != "":
		return fmt.Sprintf("pending record (eventID %s): %s", p.EventID, p.Reason)
	}
	return p.Reason
}

// maxPending bounds the pending records Verify reads.
const maxPending = 10000

// Verify checks the whole audit trail of st with key, from one consistent
// snapshot, and stops at the first failure:
//
//   - the head's tag is good;
//   - the chained records have positions 1, 2, ... up to the head's, and
//     each one's MAC is good, so a record edited, inserted, moved or
//     deleted (even the last) breaks the chain where it is;
//   - each record's indexed columns agree with its body;
//   - the resource rows are exactly those the bodies name (compared as
//     sums of keyed hashes, so in any order and in one pass);
//   - every pending record carries a good MAC of its own.
//
// now and grace tell stale pending records from recent ones.
func Verify(ctx context.Context, st store.Store, key Key, now time.Time, grace time.Duration) (*Report, error) {
	rep := &Report{}
	fail := func(pos int64, id, format string, args ...any) error {
		rep.Problem = &Problem{Position: pos, EventID: id, Reason: fmt.Sprintf(format, args...)}
		return errStop
	}
	err := st.View(ctx, func(tx store.Tx) error {
		*rep = Report{}
		head, err := tx.AuditEvents().Head(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return fail(0, "", "the chain's head row is missing: the trail was truncated or deleted")
		}
		if err != nil {
			return err
		}
		rep.Head = *head
		if !hmacEqual(head.Tag, key.head(head.Position, head.MAC).Tag) {
			return fail(0, "", "the chain's head (position %d) fails its MAC check: it was altered", head.Position)
		}
		want, have := newResourceSum(key), newResourceSum(key)
		prev, pos, prevID := []byte{}, int64(0), "(none)"
		err = tx.AuditEvents().EachChained(ctx, func(e *store.AuditEvent) error {
			pos++
			switch {
			case e.Position > head.Position:
				return fail(e.Position, e.ID, "the record lies beyond the chain's head (position %d): it was inserted", head.Position)
			case e.Position != pos:
				return fail(pos, "", "the record at this position is missing (deleted): the chain goes from eventID %s to position %d (eventID %s)",
					prevID, e.Position, e.ID)
			case !hmacEqual(e.MAC, key.chainMAC(prev, e.Position, e.Body)):
				return fail(e.Position, e.ID, "the record fails its MAC check: it was edited, replaced or moved")
			}
			expect, reason := expectedRow(e.ID, e.Time, e.Body)
			if reason == "" {
				reason = compareRows(e, expect)
			}
			if reason != "" {
				return fail(e.Position, e.ID, "%s", reason)
			}
			for _, r := range expect.Resources {
				want.add(store.AuditResourceRow{Position: e.Position, Account: e.Account, Time: e.Time, AuditResource: r})
			}
			prev, prevID = e.MAC, e.ID
			rep.Records++
			return nil
		})
		if err != nil {
			return err
		}
		if pos != head.Position {
			return fail(pos+1, "", "the chain ends at position %d (eventID %s) but its head says %d: the last records were deleted",
				pos, prevID, head.Position)
		}
		if !hmacEqual(prev, head.MAC) {
			return fail(pos, prevID, "the last record's MAC differs from the head's")
		}
		if err := tx.AuditEvents().EachResource(ctx, func(r store.AuditResourceRow) error {
			have.add(r)
			return nil
		}); err != nil {
			return err
		}
		if !have.equal(want) {
			return fail(0, "", "the resource rows (%d) differ from the resources the records name (%d): rows were added, removed or edited",
				have.n, want.n)
		}
		pending, err := tx.AuditEvents().Pending(ctx, now.Add(time.Hour), maxPending+1)
		if err != nil {
			return err
		}
		if len(pending) > maxPending {
			return fail(0, "", "more than %d records are pending; start a server so that it chains them, then verify again", maxPending)
		}
		for _, p := range pending {
			if !hmacEqual(p.MAC, key.pendingMAC(p)) {
				return fail(0, p.ID, "the record fails its MAC check: it was edited or inserted")
			}
			if _, reason := expectedRow(p.ID, p.Time, p.Body); reason != "" {
				return fail(0, p.ID, "%s", reason)
			}
			if now.Sub(p.CreatedAt) > grace {
				rep.Stale++
			} else {
				rep.Pending++
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return rep, err
}

var errStop = errors.New("stop")

// expectedRow derives a row from a stored body; reason says why it
// cannot.
func expectedRow(id string, at time.Time, body string) (*store.AuditEvent, string) {
	rec, err := parseRecord(body)
	if err != nil {
		return nil, "the record's body is not a JSON record"
	}
	if rec.EventID != id {
		return nil, "the event_id column does not match the record's body: the row was edited"
	}
	if t, err := time.Parse(timeFormat, rec.EventTime); err != nil || !t.Equal(at.Truncate(time.Second)) {
		return nil, "the event_time column does not match the record's body: the row was edited"
	}
	return indexed(rec, at, body), ""
}

// compareRows names the first indexed column of got that differs from
// want.
func compareRows(got, want *store.AuditEvent) string {
	checks := []struct {
		column string
		ok     bool
	}{
		{"account_id", got.Account == want.Account},
		{"event_name", got.Name == want.Name},
		{"event_source", got.Source == want.Source},
		{"read_only", got.ReadOnly == want.ReadOnly},
		{"username", got.Username == want.Username},
		{"access_key_id", got.AccessKeyID == want.AccessKeyID},
		{"request_id", got.RequestID == want.RequestID},
		{"error_code", got.ErrorCode == want.ErrorCode},
	}
	for _, c := range checks {
		if !c.ok {
			return fmt.Sprintf("the %s column does not match the record's body: the row was edited", c.column)
		}
	}
	return ""
}

// resourceSum adds up keyed hashes of resource rows modulo 2^256: equal
// sums mean equal multisets of rows (no one without the key can make two
// differ and still match).
type resourceSum struct {
	key Key
	sum *big.Int
	n   int64
}

var mod256 = new(big.Int).Lsh(big.NewInt(1), 256)

func newResourceSum(k Key) *resourceSum { return &resourceSum{key: k, sum: new(big.Int)} }

func (s *resourceSum) add(r store.AuditResourceRow) {
	s.sum.Add(s.sum, new(big.Int).SetBytes(s.key.resourceHash(r)))
	s.sum.Mod(s.sum, mod256)
	s.n++
}

func (s *resourceSum) equal(o *resourceSum) bool { return s.n == o.n && s.sum.Cmp(o.sum) == 0 }
