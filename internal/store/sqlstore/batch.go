package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// Group commit. SQLite allows one writer, and with synchronous=FULL every
// commit waits for an fsync. Concurrent Update calls therefore queue for a
// single writer goroutine, which runs the waiting functions in one shared
// transaction and commits once for the whole group: one fsync covers many
// requests.
//
// Each function still commits if and only if it returns nil, as with a
// private transaction. The fast path runs the group without savepoints; if
// any function fails (or panics), the transaction is rolled back and the
// group runs again with each function in its own SAVEPOINT, so a failure
// rolls back only its own writes. Running a function twice is allowed by
// the store.Store contract. Failures are rare, so most groups pay for no
// savepoints.

// maxGroup bounds how many functions share one transaction.
const maxGroup = 64

type writeReq struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan writeResult
}

type writeResult struct {
	err   error
	panic any
}

// startWriter runs the group-commit loop until the store closes.
func (s *Store) startWriter() {
	s.writes = make(chan *writeReq, 4*maxGroup)
	s.writerDone = make(chan struct{})
	go func() {
		defer close(s.writerDone)
		for first := range s.writes {
			group := []*writeReq{first}
		drain:
			for len(group) < maxGroup {
				select {
				case r, ok := <-s.writes:
					if !ok {
						break drain
					}
					group = append(group, r)
				default:
					break drain
				}
			}
			s.commitGroup(group)
		}
	}()
}

func (s *Store) commitGroup(group []*writeReq) {
	results := make([]writeResult, len(group))
	defer func() {
		for i, r := range group {
			r.done <- results[i]
		}
	}()

	// Drop requests whose caller has gone away before doing any work.
	var live []int
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			results[i] = writeResult{err: errs.Wrap(err, "write cancelled")}
			continue
		}
		live = append(live, i)
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 && s.runGroup(group, live, results, false) {
		return
	}
	s.runGroup(group, live, results, true)
}

// runGroup runs the live requests in one transaction and commits. Without
// savepoints it gives up (rolling back, returning false) as soon as one
// function fails, so that the caller can run the group again with them.
func (s *Store) runGroup(group []*writeReq, live []int, results []writeResult, savepoints bool) bool {
	sqlTx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		for _, i := range live {
			results[i] = writeResult{err: errs.Wrap(err, "begin transaction")}
		}
		return true
	}
	failAll := func(err error) {
		for _, i := range live {
			if results[i].err == nil && results[i].panic == nil {
				results[i] = writeResult{err: err}
			}
		}
	}
	for n, i := range live {
		sp := fmt.Sprintf("w%d", n)
		if savepoints {
			if _, err := sqlTx.Exec("SAVEPOINT " + sp); err != nil {
				sqlTx.Rollback()
				failAll(errs.Wrap(err, "savepoint"))
				return true
			}
		}
		results[i] = s.runOne(group[i], sqlTx)
		failed := results[i].err != nil || results[i].panic != nil
		switch {
		case failed && !savepoints:
			sqlTx.Rollback()
			for _, j := range live {
				results[j] = writeResult{}
			}
			return false
		case failed:
			if _, err := sqlTx.Exec("ROLLBACK TO " + sp); err != nil {
				// The transaction is unusable: fail the whole group.
				sqlTx.Rollback()
				failAll(errs.Wrap(err, "rollback to savepoint"))
				return true
			}
			sqlTx.Exec("RELEASE " + sp)
		case savepoints:
			sqlTx.Exec("RELEASE " + sp)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		failAll(s.classify(err, "commit transaction"))
	}
	return true
}

// runOne runs one function, turning a panic into a result so that the
// writer goroutine survives and the panic is re-raised in the caller.
func (s *Store) runOne(r *writeReq, sqlTx *sql.Tx) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panic: p}
		}
	}()
	return writeResult{err: r.fn(&tx{s: s, db: s.writer, tx: sqlTx})}
}
