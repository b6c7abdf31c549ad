package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/go2fa/go2fa/store"
)

// The fallback queue is one sorted set, P:fq: each member a reference,
// its score the unix ms at which it falls due (or its lease ends). Every
// write sets the key to expire store.QueueTTL later, so a queue nobody
// works on disappears. One key means one Cluster slot: the queue is small
// (one entry per code sent with a fallback after silence, for less than the
// code's lifetime).

// Schedule and Claim are one script each (schedule.lua, claim.lua).

var _ store.FallbackQueue = (*Store)(nil)

func (s *Store) queueKey() string { return s.prefix + ":fq" }

// Schedule implements store.FallbackQueue with one EVALSHA.
func (s *Store) Schedule(ctx context.Context, ref string, delay time.Duration) error {
	const op = "schedule"
	if err := store.ValidateRef(ref); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if delay < 0 {
		return fmt.Errorf("redisstore: %s: %w: negative delay", op, store.ErrInvalidRequest)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	if err := scheduleScript.Run(ctx, s.client, []string{s.queueKey()}, ref, msec(delay), msec(store.QueueTTL)).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// Cancel implements store.FallbackQueue with one ZREM.
func (s *Store) Cancel(ctx context.Context, ref string) error {
	const op = "cancel"
	if err := begin(ctx, op, store.ValidateRef(ref)); err != nil {
		return err
	}
	if err := s.client.ZRem(ctx, s.queueKey(), ref).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// Claim implements store.FallbackQueue with one EVALSHA.
func (s *Store) Claim(ctx context.Context, n int, lease time.Duration) ([]string, error) {
	const op = "claim"
	if err := begin(ctx, op, store.ValidateClaim(n, lease)); err != nil {
		return nil, err
	}
	v, err := claimScript.Run(ctx, s.client, []string{s.queueKey()}, n, msec(lease), msec(store.QueueTTL)).Result()
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fail(ctx, op, errReply)
	}
	refs := make([]string, 0, len(arr))
	for _, x := range arr {
		ref, ok := x.(string)
		if !ok {
			return nil, fail(ctx, op, errReply)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}
