// Package scheduler runs Sigil's background jobs (purges now; renewals,
// rotations, CRL refreshes and event delivery later) exactly once across
// all nodes that share a store. Nodes compete for one lease; the holder
// renews it and runs the jobs that are due, and every job write checks the
// lease's fencing token, so a node that has lost the lease (paused, cut off,
// killed) can no longer change anything. When the holder dies, another node
// takes the lease once it expires and carries on.
package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/store"
)

// LeaseName is the lease that elects the node running the jobs.
const LeaseName = "scheduler"

// Fence guards a job's write: call it inside every write transaction the
// job makes. It fails (store.ErrStale) once this node no longer holds the
// lease with the token the job started under, and it locks the lease until
// the transaction ends so a takeover cannot interleave.
type Fence func(tx store.Tx) error

// Job is a unit of background work. Run must be idempotent: after a
// takeover the next holder runs it again from the store's state.
type Job struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context, fence Fence) error
}

// Options tune a scheduler.
type Options struct {
	// LeaseTTL is how long the lease lasts without renewal: how soon another
	// node takes over from a dead one (default 10s).
	LeaseTTL time.Duration
	// Tick is how often a node tries to acquire or renew the lease (default
	// LeaseTTL/4).
	Tick   time.Duration
	Logger *slog.Logger
}

// Scheduler runs jobs on the node that holds the lease.
type Scheduler struct {
	store store.Store
	clock clock.Clock // wall clock: leases are between machines, not about the domain
	node  string
	opts  Options
	log   *slog.Logger
	jobs  []Job

	mu      sync.Mutex
	held    bool
	token   int64
	lastRun map[string]time.Time
	busy    map[string]bool // jobs running now: a job never overlaps itself
	runs    map[string]int
	ok      map[string]time.Time // when each job last finished without error
}

// New returns a scheduler for node (a name unique among the nodes).
func New(st store.Store, wall clock.Clock, node string, opts Options) *Scheduler {
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	if opts.Tick <= 0 {
		opts.Tick = opts.LeaseTTL / 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Scheduler{store: st, clock: wall, node: node, opts: opts, log: opts.Logger,
		lastRun: map[string]time.Time{}, busy: map[string]bool{}, runs: map[string]int{}, ok: map[string]time.Time{}}
}

// Add registers a job. Add before Run.
func (s *Scheduler) Add(j Job) { s.jobs = append(s.jobs, j) }

// Leader reports whether this node holds the lease, and its token.
func (s *Scheduler) Leader() (bool, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held, s.token
}

// Runs reports how many times a job has run on this node.
func (s *Scheduler) Runs(job string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[job]
}

// JobStatus is a job's recent history on this node.
type JobStatus struct {
	Name        string
	Every       time.Duration
	LastSuccess time.Time // zero: it has not succeeded on this node
}

// Jobs reports every job's status, in the order they were added.
func (s *Scheduler) Jobs() []JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobStatus, len(s.jobs))
	for i, j := range s.jobs {
		out[i] = JobStatus{Name: j.Name, Every: j.Every, LastSuccess: s.ok[j.Name]}
	}
	return out
}

// Run acquires and renews the lease and runs due jobs until ctx ends; then
// it releases the lease so another node can take over at once.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	jobs := &jobGroup{parent: ctx}
	defer func() {
		jobs.stop()
		s.release()
	}()
	for {
		held, token, changed := s.renew(ctx)
		if changed {
			jobs.restart() // jobs started under an old token must stop
			if held {
				s.log.Info("scheduler lease acquired", "node", s.node, "token", token)
			} else {
				s.log.Info("scheduler lease lost", "node", s.node)
			}
		}
		if held {
			// Run due jobs one after another in the background, so that the
			// lease keeps being renewed while they work.
			s.mu.Lock()
			var due []Job
			now := s.clock.Now()
			for _, j := range s.jobs {
				if last, ok := s.lastRun[j.Name]; (!ok || now.Sub(last) >= j.Every) && !s.busy[j.Name] {
					due = append(due, j)
					s.lastRun[j.Name] = now
					s.busy[j.Name] = true
				}
			}
			s.mu.Unlock()
			if len(due) > 0 {
				jobs.goRun(func(ctx context.Context) {
					for _, j := range due {
						s.runJob(ctx, j, token)
					}
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// jobGroup runs job batches under a context that is cancelled when the
// lease changes hands.
type jobGroup struct {
	parent  context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup
}

func (g *jobGroup) restart() {
	g.stop()
	g.ctx, g.cancel = context.WithCancel(g.parent)
}

func (g *jobGroup) stop() {
	if g.cancel != nil {
		g.cancel()
	}
	g.running.Wait()
}

func (g *jobGroup) goRun(fn func(context.Context)) {
	if g.ctx == nil {
		g.restart()
	}
	g.running.Add(1)
	go func(ctx context.Context) {
		defer g.running.Done()
		fn(ctx)
	}(g.ctx)
}

// renew acquires or renews the lease and reports whether the holding state
// or token changed.
func (s *Scheduler) renew(ctx context.Context) (held bool, token int64, changed bool) {
	now := s.clock.Now()
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		token, held, err = tx.Leases().Acquire(ctx, LeaseName, s.node, now, now.Add(s.opts.LeaseTTL))
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("scheduler lease renewal failed", "node", s.node, "err", err)
		}
		held, token = false, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed = held != s.held || token != s.token
	if changed && held {
		clear(s.lastRun) // a new holder runs every job at once
	}
	s.held, s.token = held, token
	return held, token, changed
}

func (s *Scheduler) runJob(ctx context.Context, j Job, token int64) {
	defer func() {
		s.mu.Lock()
		s.busy[j.Name] = false
		s.mu.Unlock()
	}()
	if ctx.Err() != nil {
		return
	}
	fence := func(tx store.Tx) error { return tx.Leases().Check(ctx, LeaseName, s.node, token) }
	start := time.Now()
	err := j.Run(ctx, fence)
	s.mu.Lock()
	s.runs[j.Name]++
	if err == nil {
		s.ok[j.Name] = s.clock.Now()
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, store.ErrStale):
		s.log.Warn("scheduler job stopped: the lease moved to another node", "job", j.Name, "node", s.node)
	case err != nil && ctx.Err() == nil:
		s.log.Error("scheduler job failed", "job", j.Name, "node", s.node, "err", err)
	default:
		s.log.Debug("scheduler job ran", "job", j.Name, "node", s.node, "took", time.Since(start))
	}
}

func (s *Scheduler) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.Leases().Release(ctx, LeaseName, s.node) }); err != nil {
		s.log.Warn("scheduler lease release failed", "node", s.node, "err", err)
	}
}
