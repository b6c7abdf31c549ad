package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/go2fa/go2fa/store"
)

var _ store.Counters = (*Store)(nil)

// countPurgeEvery is how many AddCounts calls pass between two scans that
// drop expired counter keys.
const countPurgeEvery = 1024

// countTable holds the counter keys of a Store. One lock serves every key:
// a call costs a map lookup and a few slice writes.
type countTable struct {
	mu    sync.Mutex
	m     map[string]*countEntry
	calls int
}

type countEntry struct {
	ring store.Ring
	exp  int64 // Store clock, nanoseconds since base
}

// AddCounts implements store.Counters: one atomic step per key, under the
// Store's lock. A key's state expires the longest span of its series after
// its last addition (by the Store's clock, see WithClock); the request's Now
// only picks buckets. It is safe for concurrent use.
func (s *Store) AddCounts(ctx context.Context, req store.CountRequest) (store.Counts, error) {
	if err := s.begin(ctx, req.Validate()); err != nil {
		return store.Counts{}, err
	}
	var span time.Duration
	write := false
	for _, se := range req.Series {
		span = max(span, se.Span())
	}
	for _, d := range req.Add {
		write = write || d != 0
	}
	now := s.now()
	t := &s.counts
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]*countEntry)
	}
	if t.calls++; t.calls%countPurgeEvery == 0 {
		for k, e := range t.m {
			if e.exp <= now {
				delete(t.m, k)
			}
		}
	}
	e := t.m[req.Key]
	if e != nil && e.exp <= now {
		delete(t.m, req.Key)
		e = nil
	}
	if e == nil {
		if !write {
			return store.NewCounts(req), nil
		}
		e = &countEntry{}
		t.m[req.Key] = e
	}
	if write {
		e.exp = now + int64(span)
	}
	return e.ring.Apply(req), nil
}
