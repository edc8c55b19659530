package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

var quiet = slog.New(slog.DiscardHandler)

func openStore(t *testing.T) store.Store {
	s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// cutStore simulates a node cut off from the database: while cut, every
// call fails.
type cutStore struct {
	store.Store
	cut atomic.Bool
}

var errCut = errors.New("network down")

func (c *cutStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if c.cut.Load() {
		return errCut
	}
	return c.Store.Update(ctx, fn)
}

// countingJob counts its runs, in memory and (fenced) in the store.
func countingJob(name string, ran *atomic.Int64) scheduler.Job {
	return scheduler.Job{Name: "count", Every: 20 * time.Millisecond, Run: func(ctx context.Context, fence scheduler.Fence) error {
		return storeOf(ctx).Update(ctx, func(tx store.Tx) error {
			if err := fence(tx); err != nil {
				return err
			}
			ran.Add(1)
			return tx.Meta().Put(ctx, "last-runner", name)
		})
	}}
}

type storeKey struct{}

func storeOf(ctx context.Context) store.Store { return ctx.Value(storeKey{}).(store.Store) }

func start(t *testing.T, st store.Store, node string, ran *atomic.Int64) (*scheduler.Scheduler, context.CancelFunc, chan struct{}) {
	s := scheduler.New(st, clock.Real{}, node, scheduler.Options{LeaseTTL: 300 * time.Millisecond, Tick: 30 * time.Millisecond, Logger: quiet})
	s.Add(countingJob(node, ran))
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), storeKey{}, st))
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, cancel, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestOneLeaderRunsJobs(t *testing.T) {
	st := openStore(t)
	var ranA, ranB atomic.Int64
	a, stopA, doneA := start(t, st, "node-a", &ranA)
	waitFor(t, "a to lead", func() bool { held, _ := a.Leader(); return held })
	b, _, _ := start(t, st, "node-b", &ranB)
	time.Sleep(300 * time.Millisecond)
	if held, _ := b.Leader(); held {
		t.Fatal("two leaders")
	}
	if ranA.Load() < 5 || ranB.Load() != 0 {
		t.Fatalf("runs: a=%d b=%d", ranA.Load(), ranB.Load())
	}
	// A clean stop releases the lease: b takes over at once, with a new
	// token.
	_, tokenA := a.Leader()
	stopA()
	<-doneA
	waitFor(t, "b to lead", func() bool { held, _ := b.Leader(); return held })
	if _, tokenB := b.Leader(); tokenB <= tokenA {
		t.Fatalf("token did not grow: %d -> %d", tokenA, tokenB)
	}
	before := ranB.Load()
	waitFor(t, "b to run the job", func() bool { return ranB.Load() > before+3 })
}

func TestTakeoverFencesTheOldLeader(t *testing.T) {
	base := openStore(t)
	cut := &cutStore{Store: base}
	var ranA, ranB atomic.Int64
	a, _, _ := start(t, cut, "node-a", &ranA)
	waitFor(t, "a to lead", func() bool { held, _ := a.Leader(); return held })
	_, oldToken := a.Leader()
	b, _, _ := start(t, base, "node-b", &ranB)

	// Cut a off: it cannot renew; after the TTL b takes over.
	cut.cut.Store(true)
	start := time.Now()
	waitFor(t, "b to take over", func() bool { held, _ := b.Leader(); return held })
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("takeover took %v", took)
	}
	waitFor(t, "b to run the job", func() bool { return ranB.Load() > 2 })

	// a comes back believing it still leads with its old token: its fenced
	// writes fail, and it learns it lost the lease.
	cut.cut.Store(false)
	err := base.Update(context.Background(), func(tx store.Tx) error {
		return tx.Leases().Check(context.Background(), scheduler.LeaseName, "node-a", oldToken)
	})
	if !errors.Is(err, store.ErrStale) {
		t.Fatalf("old leader not fenced: %v", err)
	}
	waitFor(t, "a to step down", func() bool { held, _ := a.Leader(); return !held })
	// Only b writes from now on.
	time.Sleep(200 * time.Millisecond)
	base.View(context.Background(), func(tx store.Tx) error {
		if v, _ := tx.Meta().Get(context.Background(), "last-runner"); v != "node-b" {
			t.Errorf("last writer %q", v)
		}
		return nil
	})
}

func TestJobNeverOverlapsItself(t *testing.T) {
	st := openStore(t)
	var running, maxRunning, runs atomic.Int64
	s := scheduler.New(st, clock.Real{}, "solo", scheduler.Options{LeaseTTL: 200 * time.Millisecond, Tick: 10 * time.Millisecond, Logger: quiet})
	s.Add(scheduler.Job{Name: "slow", Every: time.Millisecond, Run: func(ctx context.Context, _ scheduler.Fence) error {
		n := running.Add(1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		time.Sleep(50 * time.Millisecond)
		running.Add(-1)
		runs.Add(1)
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "a few runs", func() bool { return runs.Load() >= 4 })
	cancel()
	<-done
	if maxRunning.Load() != 1 {
		t.Fatalf("%d runs of one job overlapped", maxRunning.Load())
	}
	if s.Runs("slow") < 4 {
		t.Fatalf("Runs = %d", s.Runs("slow"))
	}
}
