package scheduler

import (
	"context"

	"github.com/sigilhq/sigil/internal/store"
)

// EachDue is the shape of a job over due rows: list the IDs whose time has
// come in one read transaction (from an index of due dates), then handle
// each in its own fenced write transaction, so one slow or failing row
// holds no lock over the others. each reports whether it did work (a row
// found not due any more, or gone, is skipped); EachDue returns how many
// did, stopping at the first error.
func EachDue(ctx context.Context, st store.Store, fence Fence, list func(store.Tx) ([]string, error),
	each func(tx store.Tx, id string) (bool, error)) (int, error) {
	var ids []string
	if err := st.View(ctx, func(tx store.Tx) (err error) {
		ids, err = list(tx)
		return err
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		var did bool
		err := st.Update(ctx, func(tx store.Tx) (err error) {
			if err := fence(tx); err != nil {
				return err
			}
			did, err = each(tx, id)
			return err
		})
		if err != nil {
			return n, err
		}
		if did {
			n++
		}
	}
	return n, nil
}
