package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go2fa/go2fa/store"
)

var _ store.FallbackQueue = (*Store)(nil)

// dueQueue is the in-memory store.FallbackQueue: refs and their due
// times (nanoseconds since Store.base). It is small (one entry per code
// sent with a fallback after silence, for less than the code's lifetime),
// so Claim scans it.
type dueQueue struct {
	mu  sync.Mutex
	due map[string]dueEntry
}

type dueEntry struct {
	at, forget int64
}

// Schedule implements store.FallbackQueue.
func (s *Store) Schedule(ctx context.Context, ref string, delay time.Duration) error {
	invalid := store.ValidateRef(ref)
	if invalid == nil && delay < 0 {
		invalid = fmt.Errorf("%w: negative delay", store.ErrInvalidRequest)
	}
	if err := s.begin(ctx, invalid); err != nil {
		return err
	}
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.due == nil {
		q.due = make(map[string]dueEntry)
	}
	now := s.now()
	q.due[strings.Clone(ref)] = dueEntry{at: now + int64(delay), forget: now + int64(store.QueueTTL)}
	return nil
}

// Cancel implements store.FallbackQueue.
func (s *Store) Cancel(ctx context.Context, ref string) error {
	if err := s.begin(ctx, store.ValidateRef(ref)); err != nil {
		return err
	}
	q := &s.queue
	q.mu.Lock()
	delete(q.due, ref)
	q.mu.Unlock()
	return nil
}

// Claim implements store.FallbackQueue.
func (s *Store) Claim(ctx context.Context, n int, lease time.Duration) ([]string, error) {
	if err := s.begin(ctx, store.ValidateClaim(n, lease)); err != nil {
		return nil, err
	}
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	now := s.now()
	type due struct {
		ref string
		at  int64
	}
	var ready []due
	for ref, e := range q.due {
		switch {
		case e.forget <= now:
			delete(q.due, ref)
		case e.at <= now:
			ready = append(ready, due{ref, e.at})
		}
	}
	slices.SortFunc(ready, func(a, b due) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return strings.Compare(a.ref, b.ref)
	})
	ready = ready[:min(len(ready), n)]
	out := make([]string, 0, len(ready))
	for _, d := range ready {
		q.due[d.ref] = dueEntry{at: now + int64(lease), forget: now + int64(store.QueueTTL)}
		out = append(out, d.ref)
	}
	return out, nil
}
