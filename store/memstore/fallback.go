package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/go2fa/go2fa/store"
)

var _ store.FallbackStore = (*Store)(nil)

// Fallback implements store.FallbackStore. The code's mark is the request's
// Tag, kept with the destination's entry: a new code has a new Sealed
// value, so the mark of an older code never matches it.
func (s *Store) Fallback(ctx context.Context, req store.FallbackRequest) (store.FallbackResult, error) {
	if err := req.Validate(); err != nil {
		return store.FallbackResult{}, wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return store.FallbackResult{}, wrap(err)
	}
	sh := &s.keys[s.shard(req.Key)]
	sh.mu.Lock()
	var buf [8]uint8
	lim := s.lockLimits(req.Limits, buf[:0])
	res := s.fallbackLocked(sh, req)
	for _, i := range lim {
		s.limits[i].mu.Unlock()
	}
	sh.mu.Unlock()
	return res, nil
}

func (s *Store) fallbackLocked(sh *keyShard, req store.FallbackRequest) store.FallbackResult {
	now := s.now()
	e := sh.m[req.Key]
	if e == nil || e.deadline() <= now {
		return store.FallbackResult{Outcome: store.FallbackNotPending}
	}
	limited := func(why store.LimitReason, idx int, retry int64) store.FallbackResult {
		return store.FallbackResult{Outcome: store.FallbackLimited, Reason: why, LimitIndex: idx, RetryAfter: time.Duration(retry)}
	}
	if req.FailureMax > 0 && e.failCount(now) >= int64(req.FailureMax) {
		return limited(store.LimitFailures, 0, e.failExp-now)
	}
	if e.code(now) != pending || !store.HasTag(e.sealed, req.Tag) {
		return store.FallbackResult{Outcome: store.FallbackNotPending}
	}
	step := byte(min(max(req.Step, 1), store.MaxStep)) //nolint:gosec // 1..MaxStep (16), Validate refused the rest
	if len(e.taken) == len(req.Tag)+1 && store.HasTag(e.taken, req.Tag) && e.taken[len(req.Tag)] >= step {
		return store.FallbackResult{Outcome: store.FallbackSpent}
	}
	if req.WindowMax > 0 && e.winExp > now && int64(e.winCount) >= int64(req.WindowMax) {
		return limited(store.LimitWindow, 0, e.winExp-now)
	}
	for i, l := range req.Limits {
		if c := s.limits[s.shard(l.Key)].m[l.Key]; c != nil && c.exp > now && c.n >= int64(l.Max) {
			return limited(store.LimitExtra, i, c.exp-now)
		}
	}

	// Charge every limit, as Issue does.
	for _, l := range req.Limits {
		ls := &s.limits[s.shard(l.Key)]
		c := ls.m[l.Key]
		if c == nil {
			c = &counter{}
			ls.m[strings.Clone(l.Key)] = c
			ls.high = max(ls.high, len(ls.m))
		}
		if c.exp <= now {
			c.n, c.exp = 0, now+int64(l.Window)
		}
		c.n++
	}
	if req.Cooldown > 0 {
		e.coolExp = now + int64(req.Cooldown)
	}
	if req.WindowMax > 0 {
		if e.winExp <= now {
			e.winCount, e.winExp = 0, now+int64(req.Window)
		}
		inc(&e.winCount)
	}
	e.taken = append(slices.Clone(req.Tag), step) // the tag, then the furthest step taken
	return store.FallbackResult{
		Outcome:   store.FallbackTaken,
		Sealed:    slices.Clone(e.sealed),
		Attempts:  int(e.attempts),
		ExpiresIn: time.Duration(e.codeExp - now),
	}
}
