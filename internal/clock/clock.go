// Package clock provides the time source that all domain code reads, so that
// renewal, expiry and retention can be tested by moving time instead of
// sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time. Implementations MUST be safe for concurrent
// use and MUST return times in UTC.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns the current wall-clock time in UTC.
func (Real) Now() time.Time { return time.Now().UTC() }

// Offset is a clock that runs with real time plus an adjustable offset. It
// backs the development server's clock endpoint: time keeps flowing, and
// Advance moves it forward.
type Offset struct {
	base Clock
	mu   sync.RWMutex
	off  time.Duration
}

// NewOffset returns an Offset clock over base with a zero offset.
func NewOffset(base Clock) *Offset { return &Offset{base: base} }

// Now returns the base time plus the offset.
func (o *Offset) Now() time.Time {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.base.Now().Add(o.off)
}

// Offset returns how far the clock has been moved forward.
func (o *Offset) Offset() time.Duration {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.off
}

// Advance moves the clock forward by d, which must not be negative, and
// returns the new current time.
func (o *Offset) Advance(d time.Duration) time.Time {
	if d < 0 {
		d = 0
	}
	o.mu.Lock()
	o.off += d
	o.mu.Unlock()
	return o.Now()
}

// Fake is a clock that stands still until told to move. For tests.
type Fake struct {
	mu  sync.RWMutex
	now time.Time
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t.UTC()} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.now
}

// Set moves the fake clock to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = t.UTC()
	f.mu.Unlock()
}

// Advance moves the fake clock by d and returns the new time.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return f.now
}
