package audit

import (
	"context"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// The batcher. Finish queues each call's final record in memory; one
// goroutine writes the queue every FlushEvery (or as soon as BatchSize
// records wait), up to BatchSize records per transaction, chaining them
// under the head's lock. A write that fails is retried on the next tick
// with the same records: none is dropped, and Finish blocks once maxQueued
// records wait. A crash loses the records still queued: at most about one
// FlushEvery of calls that changed nothing (a call that changed something
// has its pending record in the store, chained later by ChainOrphans).
func (l *Log) enqueue(q queued) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		// Shutting down: write it on its own.
		if err := l.write(context.Background(), []queued{q}); err != nil {
			l.log.Error("audit record lost at shutdown", "event_id", q.row.ID, "err", err)
		}
		return
	}
	for len(l.queue) >= maxQueued {
		l.space.Wait()
	}
	l.queue = append(l.queue, q)
	l.enqueued++
	full := len(l.queue) >= l.opts.BatchSize
	l.mu.Unlock()
	if full {
		l.wake()
	}
}

func (l *Log) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.opts.FlushEvery)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		case <-l.kick:
		}
		for {
			more, err := l.writeBatch(context.Background())
			if err != nil {
				failures++
				l.log.Error("audit records not written yet; retrying", "err", err, "failures", failures)
				break
			}
			failures = 0
			if !more {
				break
			}
		}
	}
}

// writeBatch writes the oldest batch of the queue and reports whether more
// is waiting.
func (l *Log) writeBatch(ctx context.Context) (more bool, err error) {
	l.mu.Lock()
	n := min(len(l.queue), l.opts.BatchSize)
	batch := l.queue[:n:n]
	l.mu.Unlock()
	if n == 0 {
		return false, nil
	}
	if err := l.write(ctx, batch); err != nil {
		return false, err
	}
	l.mu.Lock()
	l.queue = l.queue[n:]
	l.written += uint64(n)
	close(l.progress)
	l.progress = make(chan struct{})
	more = len(l.queue) > 0
	l.space.Broadcast()
	l.mu.Unlock()
	return more, nil
}

// write chains records in one transaction.
func (l *Log) write(ctx context.Context, batch []queued) error {
	rows := make([]*store.AuditEvent, len(batch))
	for i, q := range batch {
		rows[i] = q.row
	}
	var skipped []string
	err := l.store.Update(ctx, func(tx store.Tx) (err error) {
		skipped, err = l.key.append(ctx, tx, rows, func(i int) bool { return batch[i].pending })
		return err
	})
	for _, id := range skipped {
		l.log.Warn("the outcome of a call came after its record was chained; the record says the outcome is unknown", "event_id", id)
	}
	return err
}

// Flush waits until every record finished before the call is in the
// store, chained.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	target := l.enqueued
	for l.written < target {
		ch := l.progress
		l.mu.Unlock()
		l.wake()
		select {
		case <-ch:
		case <-ctx.Done():
			return errs.Wrap(ctx.Err(), "flush the audit trail")
		case <-l.done:
			return errs.New(errs.Unavailable, "the audit log is closed")
		}
		l.mu.Lock()
	}
	l.mu.Unlock()
	return nil
}

// Close stops the batcher and writes what is queued (giving up when ctx
// ends); records finished later are written one by one.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.stop)
	l.mu.Unlock()
	<-l.done
	for {
		more, err := l.writeBatch(ctx)
		if err != nil {
			return errs.Wrap(err, "write the last audit records")
		}
		if !more {
			return nil
		}
	}
}

// ChainOrphans chains records that were stored with a change but whose
// call never finished (the node stopped), once they are older than the
// grace period, as they are: their body says the outcome is unknown. fence
// (the scheduler's lease check) runs in the transaction. It returns how
// many it chained. A record whose own MAC is wrong is left for `sigil
// audit verify` to report.
func (l *Log) ChainOrphans(ctx context.Context, fence func(store.Tx) error) (int, error) {
	n := 0
	err := l.store.Update(ctx, func(tx store.Tx) error {
		n = 0
		if fence != nil {
			if err := fence(tx); err != nil {
				return err
			}
		}
		pending, err := tx.AuditEvents().Pending(ctx, l.clock.Now().Add(-l.opts.Grace), l.opts.BatchSize)
		if err != nil || len(pending) == 0 {
			return err
		}
		var rows []*store.AuditEvent
		for _, p := range pending {
			rec, err := parseRecord(p.Body)
			if !hmacEqual(p.MAC, l.key.pendingMAC(p)) || err != nil {
				l.log.Error("a pending audit record fails its MAC check; left for `sigil audit verify`", "event_id", p.ID)
				continue
			}
			rows = append(rows, indexed(rec, p.Time, p.Body))
		}
		skipped, err := l.key.append(ctx, tx, rows, func(int) bool { return true })
		n = len(rows) - len(skipped)
		return err
	})
	return n, err
}
