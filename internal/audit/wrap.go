package audit

import (
	"context"

	"github.com/sigilhq/sigil/internal/store"
)

// Wrap returns a store that records calls with the changes they make:
// when Update runs under the context of a call (see Log.Begin) whose record
// is not stored yet, the record is inserted in the same transaction, after
// fn succeeded and before the commit, so a change and its record commit or
// roll back together. Reads pass through untouched. The composition root
// hands the wrapped store to the domain services; domain code does not
// change.
func Wrap(st store.Store) store.Store { return wrapped{st} }

type wrapped struct{ store.Store }

// Update runs fn and, for a call not yet recorded, inserts its record. The
// record counts as stored only once the transaction has committed; if it
// rolls back, a later write of the same call (or Finish) records it.
func (w wrapped) Update(ctx context.Context, fn func(store.Tx) error) error {
	c := FromContext(ctx)
	if c == nil {
		return w.Store.Update(ctx, fn)
	}
	tok := new(int) // identifies this Update among the call's writes
	claimed := false
	err := w.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if !claimed {
			claimed = c.claim(tok)
		}
		if !claimed {
			return nil
		}
		return c.insertPending(ctx, tx)
	})
	if claimed {
		c.release(tok, err == nil)
	}
	return err
}

// Unwrap returns the wrapped store.
func (w wrapped) Unwrap() store.Store { return w.Store }
