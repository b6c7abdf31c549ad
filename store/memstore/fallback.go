package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/go2fa/go2fa/store"
)

var _ store.FallbackStore = (*Store)(nil)

// Fallback implements store.FallbackStore. The code's mark is the request's
// Tag, kept with the destination's entry: a new code has a new Sealed
// value, so the mark of an older code never matches it.
func (s *Store) Fallback(ctx context.Context, req store.FallbackRequest) (store.FallbackResult, error) {
	if err := s.begin(ctx, req.Validate()); err != nil {
		return store.FallbackResult{}, err
	}
	var buf [8]uint8
	sh, lim := s.lockSend(req.Key, req.Limits, buf[:0])
	defer s.unlockSend(sh, lim)
	return s.fallbackLocked(sh, req), nil
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
	cl := e.client(req.Client, now, false)
	if no, retry := e.refused(cl, now, req.MaxFailures, req.FailureCeiling); no {
		return limited(store.LimitFailures, 0, retry)
	}
	c := e.code(req.Scope, now)
	if c == nil || c.state != pending || !store.HasTag(c.sealed, req.Tag) {
		return store.FallbackResult{Outcome: store.FallbackNotPending}
	}
	step := byte(min(max(req.Step, 1), store.MaxStep)) //nolint:gosec // 1..MaxStep (16), Validate refused the rest
	if len(c.taken) == len(req.Tag)+1 && store.HasTag(c.taken, req.Tag) && c.taken[len(req.Tag)] >= step {
		return store.FallbackResult{Outcome: store.FallbackSpent}
	}
	if no, retry := e.windowRefuses(cl, now, req.SendsPerWindow); no {
		return limited(store.LimitWindow, 0, retry)
	}
	if i, retry := s.fullLimit(req.Limits, now); i >= 0 {
		return limited(store.LimitExtra, i, retry)
	}
	s.chargeLimits(req.Limits, now)
	if req.Cooldown > 0 || req.SendsPerWindow > 0 {
		e.send(e.client(req.Client, now, true), now, req.Cooldown, req.SendWindow, req.SendsPerWindow)
	}
	c.taken = append(slices.Clone(req.Tag), step) // the tag, then the furthest step taken
	return store.FallbackResult{
		Outcome:   store.FallbackTaken,
		Sealed:    slices.Clone(c.sealed),
		Attempts:  int(c.attempts),
		ExpiresIn: time.Duration(c.exp - now),
	}
}
