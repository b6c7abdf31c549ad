// Package testclock is a fake clock for go2fa's tests: the time moves only
// when a test advances it, so tests never sleep.
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

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
