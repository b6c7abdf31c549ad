package otphttp

import (
	"context"
	"sync"
	"time"
)

// Default per-client check budget: DefaultCheckBudget checks per
// DefaultCheckWindow, refilled continuously.
const (
	DefaultCheckBudget = 30
	DefaultCheckWindow = 10 * time.Minute
)

// CheckLimiter bounds the checks one client may make, across all numbers,
// so that a client cannot spray guesses over every number with a code
// pending. Implementations must be safe for concurrent use.
type CheckLimiter interface {
	// Allow charges one check to the client key and reports whether it
	// is within the budget; when it is not, retryAfter says when one will
	// be. An error refuses the check (503).
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// WithCheckBudget sets the per-client check budget of the default
// CheckLimiter: n checks per window, refilled continuously (a token bucket
// of n). New refuses n <= 0, window <= 0, and WithCheckBudget together with
// WithCheckLimiter. The default values are DefaultCheckBudget per
// DefaultCheckWindow. The default limiter keeps its counts in the
// process's memory, so behind several instances each has its own budget;
// use WithCheckLimiter to share one.
func WithCheckBudget(n int, window time.Duration) Option {
	return func(o *options) { o.checkN, o.checkWindow, o.budgetSet = n, window, true }
}

// WithCheckLimiter replaces the default in-memory per-client check budget
// with l (for example one kept in a store shared by every instance). New
// refuses a nil l.
func WithCheckLimiter(l CheckLimiter) Option {
	return func(o *options) {
		o.checkLimiter = l
		o.nilArg("WithCheckLimiter", l == nil)
	}
}

// memLimiter is the default CheckLimiter: a token bucket per client key,
// in memory.
type memLimiter struct {
	mu      sync.Mutex
	m       map[string]*bucket
	n       float64
	perNS   float64 // tokens per nanosecond
	now     func() time.Time
	inserts int
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepEvery is how many new keys a memLimiter admits between sweeps of
// the buckets that have refilled (and so carry no state).
const sweepEvery = 1024

func newMemLimiter(n int, window time.Duration, now func() time.Time) *memLimiter {
	return &memLimiter{m: make(map[string]*bucket), n: float64(n), perNS: float64(n) / float64(window), now: now}
}

func (l *memLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.n, b.tokens+float64(d)*l.perNS)
		b.last = now
	}
}

// Allow implements CheckLimiter.
func (l *memLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		l.inserts++
		if l.inserts%sweepEvery == 0 {
			for k, o := range l.m {
				if l.refill(o, now); o.tokens >= l.n {
					delete(l.m, k)
				}
			}
		}
		b = &bucket{tokens: l.n, last: now}
		l.m[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0, nil
	}
	return false, time.Duration((1 - b.tokens) / l.perNS), nil
}
