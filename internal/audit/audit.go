// Package audit keeps Sigil's tamper-evident audit trail: one record per
// API call on every front end, allowed or denied, with CloudTrail's fields
// (see Record), secret values redacted, chained by an HMAC whose key is
// sealed by the master key, and looked up as CloudTrail's LookupEvents
// does.
//
// A front end brackets each call:
//
//	ctx, call := log.Begin(r.Context(), audit.Info{Source: ..., Name: ..., RequestID: ...})
//	call.SetPrincipal(p)            // once the caller is authenticated
//	out, err := handle(ctx, ...)    // domain code runs with ctx
//	call.SetErrorCode(wireCode)     // the code the client sees, when err != nil
//	call.Finish(outJSON, err)
//
// Records of calls that change something commit with the change: the
// domain's store is wrapped (Wrap), and the first write transaction that
// commits under a call's context also inserts the call's record. Finish
// then completes that record with the outcome, or, for a call that wrote
// nothing (reads, denials, invalid requests), creates it; both go through
// a batcher that chains many records per transaction, so reads never pay
// for a write transaction of their own.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Authorizer decides whether a principal may look up events.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, r iam.Request) error
}

// Options tune a Log.
type Options struct {
	Region string // awsRegion of records; default us-east-1
	Logger *slog.Logger
	// FlushEvery is how long a record may wait in memory before it is
	// written (default 100 ms); BatchSize how many records make a batch
	// written at once (default 500).
	FlushEvery time.Duration
	BatchSize  int
	// Grace is how long a record written with a change may stay unchained
	// before the orphan job chains it as it is (default DefaultGrace).
	Grace time.Duration
}

// DefaultGrace is how long a record may wait for its call to finish before
// the orphan job chains it and `sigil audit verify` warns about it.
const DefaultGrace = 2 * time.Minute

// maxQueued bounds the records waiting in memory; Finish blocks beyond it
// (a record is never dropped).
const maxQueued = 100_000

// Log records calls.
type Log struct {
	store  store.Store // the unwrapped store
	key    Key
	clock  clock.Clock
	authz  Authorizer
	region string
	log    *slog.Logger
	opts   Options

	mu       sync.Mutex
	queue    []queued
	enqueued uint64        // records ever queued
	written  uint64        // records of the queue written so far
	progress chan struct{} // closed and replaced whenever written moves
	space    *sync.Cond    // signalled when the queue shrinks
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closed   bool
}

type queued struct {
	row     *store.AuditEvent
	pending bool // the record has a pending row, which chaining replaces
}

// New returns a Log over st (the store itself, not Wrap(st)), creating the
// deployment's audit key the first time. clk should be the wall clock:
// records say when calls really happened.
func New(ctx context.Context, st store.Store, sealer Sealer, clk clock.Clock, authz Authorizer, opts Options) (*Log, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 100 * time.Millisecond
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	key, err := ensureKey(ctx, st, sealer)
	if err != nil {
		return nil, err
	}
	l := &Log{store: st, key: key, clock: clk, authz: authz, region: opts.Region, log: opts.Logger, opts: opts,
		progress: make(chan struct{}), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	l.space = sync.NewCond(&l.mu)
	go l.run()
	return l, nil
}

// Info is what a front end knows about a call when it begins. Fields may
// be completed later with the Call's setters.
type Info struct {
	Source    string // eventSource, e.g. "kms.amazonaws.com"
	Name      string // eventName: the operation
	SourceIP  string
	UserAgent string
	RequestID string
	// Request holds the request's parameters: raw JSON ([]byte or
	// json.RawMessage) or a value to encode as JSON. It is redacted
	// before anything is stored.
	Request any
}

type callKey struct{}

// Call is one API call being recorded. Its methods are safe for
// concurrent use and do nothing on a nil Call.
type Call struct {
	log  *Log
	id   string
	time time.Time

	mu        sync.Mutex
	cond      *sync.Cond
	info      Info
	principal *iam.Principal
	errorCode string
	state     callState
	writer    *int // the Update inserting the record, while state is writing
	pending   *store.AuditPending
}

type callState uint8

const (
	open     callState = iota // no record stored yet
	writing                   // a transaction is inserting the record
	written                   // the record is stored, unchained, awaiting the outcome
	finished                  // Finish was called
)

// Begin starts recording a call; the returned context carries it to Wrap.
func (l *Log) Begin(ctx context.Context, info Info) (context.Context, *Call) {
	c := &Call{log: l, id: newEventID(), time: micro(l.clock.Now()), info: info}
	c.cond = sync.NewCond(&c.mu)
	return context.WithValue(ctx, callKey{}, c), c
}

func newEventID() string {
	// Version 7 UUIDs grow with time, so the primary key index is appended
	// to rather than written all over.
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// FromContext returns the call a context carries, or nil.
func FromContext(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// EventID returns the call's eventID.
func (c *Call) EventID() string {
	if c == nil {
		return ""
	}
	return c.id
}

// SetOperation sets the eventSource and eventName.
func (c *Call) SetOperation(source, name string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.info.Source, c.info.Name = source, name
	c.mu.Unlock()
}

// SetRequest sets the request parameters (see Info.Request).
func (c *Call) SetRequest(request any) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.info.Request = request
	c.mu.Unlock()
}

// SetPrincipal records who called, once authenticated.
func (c *Call) SetPrincipal(p iam.Principal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.principal = &p
	c.mu.Unlock()
}

// SetErrorCode sets the errorCode recorded for the error given to Finish:
// the code the client sees (an AWS __type). Without it, the error's errs
// code is recorded, or its kind.
func (c *Call) SetErrorCode(code string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.errorCode = code
	c.mu.Unlock()
}

// Finish records the call's outcome: response is what the client received
// (raw JSON as []byte or json.RawMessage, or a value to encode), err the
// error it received instead. Response elements are kept only for calls
// that change something, as CloudTrail does. Finish does not wait for the
// record to reach the store (see Log.Flush); only the first call counts.
func (c *Call) Finish(response any, err error) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for c.state == writing {
		c.cond.Wait()
	}
	if c.state == finished {
		c.mu.Unlock()
		return
	}
	pending := c.state == written
	c.state = finished
	row, mErr := c.row(c.record(response, err, true))
	c.mu.Unlock()
	if mErr != nil {
		c.log.log.Error("audit record not encodable", "event_id", c.id, "err", mErr)
		return
	}
	c.log.enqueue(queued{row: row, pending: pending})
}

// ---- records written with a change (see Wrap) ----

// claim makes the Update identified by tok the one that inserts the
// call's record, if no record is stored or being stored.
func (c *Call) claim(tok *int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != open {
		return c.state == writing && c.writer == tok
	}
	c.state, c.writer = writing, tok
	return true
}

// release ends a claim: the record is stored if the transaction committed.
func (c *Call) release(tok *int, committed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != writing || c.writer != tok {
		return
	}
	c.writer = nil
	if committed {
		c.state = written
	} else {
		c.state = open
	}
	c.cond.Broadcast()
}

// insertPending stores the call's record, pending and without its
// outcome, in tx.
func (c *Call) insertPending(ctx context.Context, tx store.Tx) error {
	c.mu.Lock()
	if c.pending == nil {
		body, err := marshal(c.record(nil, nil, false))
		if err != nil {
			c.mu.Unlock()
			return errs.Wrap(err, "encode audit record")
		}
		p := &store.AuditPending{ID: c.id, Time: c.time, Body: string(body), CreatedAt: micro(c.log.clock.Now())}
		p.MAC = c.log.key.pendingMAC(p)
		c.pending = p
	}
	p := *c.pending
	c.mu.Unlock()
	if err := tx.AuditEvents().InsertPending(ctx, &p); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}
