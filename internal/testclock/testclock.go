// Package testclock is a fake clock for the tests that cannot run in a
// testing/synctest bubble, chiefly those that share one clock between
// go2fa and a miniredis server (internal/e2e, internal/attacksim): the test
// moves it and sets miniredis's time to follow, since a bubble cannot wait
// on miniredis, which is reached over TCP. A test on memstore or on pure Go
// code runs in a bubble instead, where time.Sleep moves time.Now.
package testclock

import (
	"sync"
	"time"
)

// Clock is a fake clock. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock set to a fixed instant (2026-11-25 12:00 UTC).
func New() *Clock { return At(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) }

// At returns a Clock set to t, for tests whose inputs carry real times.
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
