package pgstore_test

import (
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/pgstore"
)

// TestFallbackMarkGoesWithCode: the mark of a taken code belongs to that
// code: a new code issued over it (without KeepPending) can be taken
// again, even with the same Sealed value and so the same Tag.
func TestFallbackMarkGoesWithCode(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, _ := newStore(t, pool, pgstore.WithSweepInterval(0))
	ctx := t.Context()
	k, tag := newKey(), newDigest()[:12]
	sealed := append(tag[:12:12], "ciphertext"...)
	issue := func(keep bool) store.IssueOutcome {
		t.Helper()
		res, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: newDigest(), Sealed: sealed, KeepPending: keep, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return res.Outcome
	}
	fallback := func(want store.FallbackOutcome) {
		t.Helper()
		res, err := s.Fallback(ctx, store.FallbackRequest{Key: k, Tag: tag})
		if err != nil || res.Outcome != want {
			t.Fatalf("Fallback = %v, %v; want %v", res.Outcome, err, want)
		}
	}
	issue(false)
	fallback(store.FallbackTaken)
	fallback(store.FallbackSpent)
	if o := issue(true); o != store.Reused {
		t.Fatalf("Issue(KeepPending) = %v, want reused", o)
	}
	fallback(store.FallbackSpent)
	issue(false) // a new code with the same Sealed value
	fallback(store.FallbackTaken)
	fallback(store.FallbackSpent)
}

// TestQueueForgotten: a queued ref whose QueueTTL has passed is never
// claimed, and the sweep deletes it.
func TestQueueForgotten(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(0))
	ctx := t.Context()
	old, fresh := "old-"+newKey(), "fresh-"+newKey()
	for _, ref := range []string{old, fresh} {
		if err := s.Schedule(ctx, ref, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Age one entry past its QueueTTL (the test cannot wait a day).
	if _, err := pool.Exec(ctx, "UPDATE "+schema+".fallback_queue SET forget_at = now() - interval '1 second' WHERE ref = $1", []byte(old)); err != nil {
		t.Fatal(err)
	}
	refs, err := s.Claim(ctx, 10, time.Minute)
	if err != nil || len(refs) != 1 || refs[0] != fresh {
		t.Fatalf("Claim = %q, %v; want only the fresh ref", refs, err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 row deleted", n, err)
	}
	if n := rows(t, pool, schema, "fallback_queue"); n != 1 {
		t.Fatalf("fallback_queue holds %d rows after the sweep, want 1", n)
	}
}
