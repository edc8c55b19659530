package events

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events/pattern"
	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/telemetry"
)

// Delivery statuses.
const (
	DeliveryPending   = "PENDING"
	DeliveryDelivered = "DELIVERED"
	DeliveryFailed    = "FAILED" // dead-lettered: retries or age exhausted, or refused
)

// Request is one HTTP delivery for a Sender.
type Request struct {
	Method, Endpoint string
	Headers          map[string]string
	Query            map[string]string
	Body             []byte
	EventID          string
	// SigningKey keys the delivery's HMAC signature (the connection's API
	// key value or password).
	SigningKey []byte
}

// Sender makes one HTTP delivery and returns the response status; err is
// for deliveries that got no response.
type Sender interface {
	Send(ctx context.Context, r Request) (status int, err error)
}

// Dispatcher moves events from the outbox to targets: Fanout matches new
// events against the enabled rules and records a delivery per matching
// target in the same transaction that marks the events as fanned out;
// Deliver sends due deliveries and retries failures with exponential
// backoff until the target's retry policy gives up. An event is therefore
// delivered at least once — across crashes and restarts — and each
// delivery carries the event's stable id.
type Dispatcher struct {
	store  store.Store
	sealer Sealer
	sender Sender
	clock  clock.Clock
	log    *slog.Logger
	// RetryBase is the first retry's delay (doubling after each failure,
	// up to RetryMax).
	RetryBase, RetryMax time.Duration
	// Telemetry counts delivery attempts (nil: not counted).
	Telemetry telemetry.Recorder

	mu    sync.Mutex
	gen   int64
	rules map[string][]compiledRule // by account
	ready bool
	// nextCall is when each API destination may be called again.
	nextCall map[string]time.Time
}

type compiledRule struct {
	arn     string
	pattern *pattern.Pattern
	targets []Target
}

// NewDispatcher returns a dispatcher.
func NewDispatcher(st store.Store, sealer Sealer, sender Sender, clk clock.Clock, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{store: st, sealer: sealer, sender: sender, clock: clk, log: log, RetryBase: time.Second, RetryMax: 5 * time.Minute}
}

// fanoutBatch bounds the events one Fanout transaction takes.
const fanoutBatch = 200

// Fanout records the deliveries of new outbox events and returns how many
// events it handled.
func (d *Dispatcher) Fanout(ctx context.Context, fence scheduler.Fence) (int, error) {
	if err := d.loadRules(ctx); err != nil {
		return 0, err
	}
	total := 0
	for {
		n := 0
		err := d.store.Update(ctx, func(tx store.Tx) error {
			if err := fence(tx); err != nil {
				return err
			}
			evs, err := tx.Events().Undelivered(ctx, fanoutBatch)
			if err != nil {
				return err
			}
			n = len(evs)
			now := d.clock.Now()
			for _, e := range evs {
				if err := d.fanoutOne(ctx, tx, e, now); err != nil {
					return err
				}
				if err := tx.Events().MarkDelivered(ctx, e.ID, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < fanoutBatch {
			return total, nil
		}
	}
}

func (d *Dispatcher) fanoutOne(ctx context.Context, tx store.Tx, e *store.Event, now time.Time) error {
	d.mu.Lock()
	rules := d.rules[e.Account]
	d.mu.Unlock()
	if len(rules) == 0 {
		return nil
	}
	ev, err := pattern.Decode(e.Body)
	if err != nil {
		d.log.Warn("outbox event is not JSON; not delivered", "event_id", e.ID)
		return nil
	}
	for _, r := range rules {
		if !r.pattern.Match(ev) {
			continue
		}
		for _, t := range r.targets {
			body, err := t.Payload(e.Body)
			if err != nil {
				d.log.Warn("target input could not be built", "rule", r.arn, "target", t.ID, "error", err)
				continue
			}
			maxAttempts, maxAge := DefaultMaxAttempts, DefaultMaxAge
			if rp := t.RetryPolicy; rp != nil {
				if rp.MaximumRetryAttempts != nil {
					maxAttempts = *rp.MaximumRetryAttempts
				}
				if rp.MaximumEventAgeInSeconds != nil {
					maxAge = time.Duration(*rp.MaximumEventAgeInSeconds) * time.Second
				}
			}
			_, err = tx.EventRules().InsertDelivery(ctx, &store.EventDelivery{ID: uuid.NewString(), EventID: e.ID, Account: e.Account,
				RuleARN: r.arn, TargetID: t.ID, TargetARN: t.ARN, Body: body, Status: DeliveryPending, MaxAttempts: maxAttempts + 1,
				Expires: e.Time.Add(maxAge), NextAt: now, CreatedAt: now})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// loadRules refreshes the compiled rules when they changed.
func (d *Dispatcher) loadRules(ctx context.Context) error {
	var gen int64
	var rs []*store.EventRule
	var fresh bool
	targets := map[string][]*store.EventTarget{}
	err := d.store.View(ctx, func(tx store.Tx) (err error) {
		if gen, err = tx.EventRules().Generation(ctx); err != nil {
			return err
		}
		d.mu.Lock()
		fresh = d.ready && gen == d.gen
		d.mu.Unlock()
		if fresh {
			return nil
		}
		if rs, err = tx.EventRules().EnabledRules(ctx); err != nil {
			return err
		}
		for _, r := range rs {
			if targets[r.ARN], err = tx.EventRules().Targets(ctx, r.Account, r.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || fresh {
		return err
	}
	m := map[string][]compiledRule{}
	for _, r := range rs {
		p, err := pattern.Compile(r.Pattern)
		if err != nil {
			d.log.Warn("stored rule pattern does not compile; rule skipped", "rule", r.ARN, "error", err)
			continue
		}
		cr := compiledRule{arn: r.ARN, pattern: p}
		for _, t := range targets[r.ARN] {
			var x Target
			if json.Unmarshal(t.Config, &x) == nil {
				cr.targets = append(cr.targets, x)
			}
		}
		m[r.Account] = append(m[r.Account], cr)
	}
	d.mu.Lock()
	d.rules, d.gen, d.ready = m, gen, true
	d.mu.Unlock()
	return nil
}

// deliverBatch bounds the deliveries one Deliver run sends.
const deliverBatch = 100

// Deliver sends due deliveries and records each outcome. It returns how
// many it sent successfully.
func (d *Dispatcher) Deliver(ctx context.Context, fence scheduler.Fence) (int, error) {
	now := d.clock.Now()
	var due []*store.EventDelivery
	if err := d.store.View(ctx, func(tx store.Tx) (err error) {
		due, err = tx.EventRules().DueDeliveries(ctx, now, deliverBatch)
		return err
	}); err != nil {
		return 0, err
	}
	ok := 0
	var waited time.Duration // for destinations' rate limits, this run
	for _, dl := range due {
		if ctx.Err() != nil {
			return ok, ctx.Err()
		}
		status, sendErr := d.send(ctx, dl, &waited)
		if errors.Is(sendErr, errRateLimited) {
			continue // its turn comes in a later run; nothing is recorded
		}
		now := d.clock.Now()
		dl.Attempts++
		dl.LastStatus = status
		dl.LastError = ""
		switch {
		case sendErr == nil && status >= 200 && status < 300:
			dl.Status, dl.DeliveredAt = DeliveryDelivered, now
			ok++
			d.tel().Delivery("delivered")
		default:
			dl.LastError = describe(status, sendErr)
			switch {
			case !retryable(status, sendErr):
				dl.Status = DeliveryFailed
			case dl.Attempts >= dl.MaxAttempts || !now.Before(dl.Expires):
				dl.Status = DeliveryFailed
			default:
				dl.NextAt = now.Add(d.backoff(dl.Attempts))
			}
			if dl.Status == DeliveryFailed {
				d.tel().Delivery("failed")
			} else {
				d.tel().Delivery("retry")
			}
			if dl.Status == DeliveryFailed {
				d.log.Warn("event delivery dead-lettered", "event_id", dl.EventID, "rule", dl.RuleARN, "target", dl.TargetID,
					"attempts", dl.Attempts, "error", dl.LastError)
			}
		}
		if err := d.store.Update(ctx, func(tx store.Tx) error {
			if err := fence(tx); err != nil {
				return err
			}
			return tx.EventRules().UpdateDelivery(ctx, dl)
		}); err != nil {
			return ok, err
		}
	}
	return ok, nil
}

func (d *Dispatcher) tel() telemetry.Recorder { return telemetry.Or(d.Telemetry) }

// send resolves a delivery's API destination and connection and sends it.
func (d *Dispatcher) send(ctx context.Context, dl *store.EventDelivery, waited *time.Duration) (int, error) {
	var dest *store.EventDestination
	var conn *store.EventConnection
	err := d.store.View(ctx, func(tx store.Tx) (err error) {
		if dest, err = tx.EventRules().GetDestination(ctx, dl.TargetARN); err != nil {
			return err
		}
		conn, err = tx.EventRules().GetConnection(ctx, dest.ConnectionARN)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, errNoDestination
	}
	if err != nil {
		return 0, err
	}
	// Honour the destination's rate: wait for its next slot, unless this
	// run has waited enough already (then a later run sends it).
	if wait := d.untilNext(dest.ARN); wait > 0 {
		if *waited+wait > maxRateWait {
			return 0, errRateLimited
		}
		*waited += wait
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	d.reserve(dest.ARN, dest.RateLimit)
	plain, err := d.sealer.Open(conn.Auth, sealContext(conn.ARN))
	if err != nil {
		return 0, errs.Wrap(err, "open connection")
	}
	var secret connectionSecret
	var info connectionInfo
	_ = json.Unmarshal(plain, &secret)
	_ = json.Unmarshal(conn.Info, &info)
	r := Request{Method: dest.Method, Endpoint: dest.Endpoint, Body: dl.Body, EventID: dl.EventID, Headers: map[string]string{}}
	switch conn.AuthType {
	case AuthAPIKey:
		r.Headers[info.APIKeyName] = secret.APIKeyValue
		r.SigningKey = []byte(secret.APIKeyValue)
	case AuthBasic:
		r.Headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(info.Username+":"+secret.Password))
		r.SigningKey = []byte(secret.Password)
	}
	var t Target
	if err := d.targetOf(ctx, dl, &t); err == nil && t.HTTPParameters != nil {
		for k, v := range t.HTTPParameters.HeaderParameters {
			r.Headers[k] = v
		}
		r.Query = t.HTTPParameters.QueryStringParameters
	}
	return d.sender.Send(ctx, r)
}

func (d *Dispatcher) targetOf(ctx context.Context, dl *store.EventDelivery, t *Target) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.rules[dl.Account] {
		if r.arn != dl.RuleARN {
			continue
		}
		for _, x := range r.targets {
			if x.ID == dl.TargetID {
				*t = x
				return nil
			}
		}
	}
	return store.ErrNotFound
}

var errNoDestination = errors.New("the API destination or its connection no longer exists")

// errRateLimited means the API destination's InvocationRateLimitPerSecond
// leaves no room for another call now.
var errRateLimited = errors.New("the API destination's invocation rate limit is reached")

// maxRateWait bounds how long one delivery run waits for destinations'
// rate limits, so that one slow destination cannot hold up the others.
const maxRateWait = 2 * time.Second

// untilNext is how long until an API destination may be called again
// under its InvocationRateLimitPerSecond (this node is the only one
// delivering: it holds the scheduler lease).
func (d *Dispatcher) untilNext(dest string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return max(d.nextCall[dest].Sub(d.clock.Now()), 0)
}

// reserve records a call to a destination now: the next may come 1/rate
// seconds later.
func (d *Dispatcher) reserve(dest string, rate int) {
	if rate <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nextCall == nil {
		d.nextCall = map[string]time.Time{}
	}
	d.nextCall[dest] = d.clock.Now().Add(time.Second / time.Duration(rate))
}

// retryable follows EventBridge's API destination rules: retry when there
// was no answer, on 401, 407, 409, 429 and 5xx; not on other answers.
func retryable(status int, err error) bool {
	if errors.Is(err, errNoDestination) {
		return false
	}
	if err != nil {
		return true
	}
	switch {
	case status == 401, status == 407, status == 409, status == 429, status >= 500:
		return true
	}
	return false
}

func describe(status int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", status)
}

// backoff is the delay before the retry after the n-th failed attempt.
func (d *Dispatcher) backoff(n int) time.Duration {
	delay := d.RetryBase
	for i := 1; i < n && delay < d.RetryMax; i++ {
		delay *= 2
	}
	return min(delay, d.RetryMax)
}

// Retention of the outbox and the delivery log.
const (
	KeepEvents     = 30 * 24 * time.Hour // events, once fanned out
	KeepDelivered  = 30 * 24 * time.Hour // successful deliveries
	KeepDeadLetter = 90 * 24 * time.Hour // deliveries given up
)

// Purge deletes fanned-out events and finished deliveries past their
// retention, a batch per transaction, and returns how many rows went.
func (d *Dispatcher) Purge(ctx context.Context, fence scheduler.Fence) (int, error) {
	now := d.clock.Now()
	total := 0
	for _, step := range []func(tx store.Tx) (int, error){
		func(tx store.Tx) (int, error) { return tx.Events().PurgeDelivered(ctx, now.Add(-KeepEvents), 1000) },
		func(tx store.Tx) (int, error) {
			return tx.EventRules().PurgeDeliveries(ctx, DeliveryDelivered, now.Add(-KeepDelivered), 1000)
		},
		func(tx store.Tx) (int, error) {
			return tx.EventRules().PurgeDeliveries(ctx, DeliveryFailed, now.Add(-KeepDeadLetter), 1000)
		},
	} {
		for {
			n := 0
			err := d.store.Update(ctx, func(tx store.Tx) (err error) {
				if err := fence(tx); err != nil {
					return err
				}
				n, err = step(tx)
				return err
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < 1000 {
				break
			}
		}
	}
	return total, nil
}
