package redisstore

import (
	"context"

	"github.com/go2fa/go2fa/store"
)

// Besides the destination's hash, the Fallback script (fallback.lua)
// writes P:{K}:b (P:{K}:b:S for Scope S), a string holding the Tag of the
// code of the Scope a Fallback took, which expires with that code (SET
// ... PXAT), so it outlives neither the code nor a replacement of it.

var _ store.FallbackStore = (*Store)(nil)

// fallbackKey is the string that marks the code of a Scope a Fallback
// took: P:{K}:b for the pending field p, P:{K}:b:S for p:S.
func fallbackKey(dest, field string) string {
	return dest + ":b" + field[1:]
}

// Fallback implements store.FallbackStore with one EVALSHA, except on a
// Cluster or Ring client with extra limits, where each limit is charged
// (and, unless the code is taken, refunded) with its own script first, as
// Issue does.
func (s *Store) Fallback(ctx context.Context, req store.FallbackRequest) (store.FallbackResult, error) {
	const op = "fallback"
	if err := begin(ctx, op, req.Validate()); err != nil {
		return store.FallbackResult{}, err
	}
	dest := s.destKey(req.Key)
	keys := []string{dest, fallbackKey(dest, pendingField(req.Scope))}
	if !s.split || len(req.Limits) == 0 {
		args := fallbackArgs(req, -1, 0)
		for _, l := range req.Limits {
			keys = append(keys, s.limitKey(l.Key))
			args = append(args, l.Max, msec(l.Window))
		}
		return s.runFallback(ctx, keys, args)
	}
	charges, err := s.chargeLimits(ctx, req.Limits)
	if err != nil {
		return store.FallbackResult{}, fail(ctx, op, err)
	}
	res, err := s.runFallback(ctx, keys, fallbackArgs(req, charges.refused, charges.retry))
	if err == nil && res.Outcome != store.FallbackTaken {
		s.refund(ctx, charges)
	}
	return res, err
}

func fallbackArgs(req store.FallbackRequest, refused int, retry int64) []any {
	args := make([]any, 0, 11+2*len(req.Limits))
	args = append(args, req.Tag, clientTag(req.Client), pendingField(req.Scope))
	return appendInts(args, msec(req.Cooldown), msec(req.SendWindow), int64(req.SendsPerWindow),
		int64(req.MaxFailures), int64(req.FailureCeiling), int64(refused), retry, int64(max(req.Step, 1)))
}

func (s *Store) runFallback(ctx context.Context, keys []string, args []any) (store.FallbackResult, error) {
	const op = "fallback"
	r, err := runSend(ctx, fallbackScript, s.client, keys, args)
	if err != nil {
		return store.FallbackResult{}, fail(ctx, op, err)
	}
	res := store.FallbackResult{
		Outcome:    store.FallbackOutcome(r.outcome),
		Reason:     store.LimitReason(r.reason),
		LimitIndex: r.limitIndex,
		RetryAfter: r.retryAfter,
		Attempts:   r.attempts,
		ExpiresIn:  r.expiresIn,
	}
	switch res.Outcome {
	case store.FallbackTaken:
		if r.sealed == "" {
			return store.FallbackResult{}, fail(ctx, op, errReply)
		}
		res.Sealed = []byte(r.sealed)
	case store.FallbackNotPending, store.FallbackSpent, store.FallbackLimited:
	default:
		return store.FallbackResult{}, fail(ctx, op, errReply)
	}
	return res, nil
}
