package redisstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
)

// TestFallbackReadsScopedLayout: a pending value whose flags carry bit 2
// holds a Scope's 16-byte fingerprint before Sealed; the fallback script
// finds Sealed after it, and finds nothing when the tag does not match.
func TestFallbackReadsScopedLayout(t *testing.T) {
	mi := newMini(t)
	c := redis.NewClient(&redis.Options{Addr: mi.m.Addr()})
	t.Cleanup(func() { c.Close() })
	s := newTestStore(t, c)
	ctx := t.Context()
	tag := bytes.Repeat([]byte{7}, 12)
	sealed := append(bytes.Clone(tag), "ciphertext"...)
	if _, err := s.Issue(ctx, store.IssueRequest{Key: "k", Digest: []byte("digest"), Sealed: sealed, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	dest := s.destKey("k")
	p := mi.m.HGet(dest, "p")
	if len(p) < 25 {
		t.Fatalf("pending field = %q", p)
	}
	scoped := string([]byte{p[0] | 2}) + p[1:25] + string(bytes.Repeat([]byte{9}, 16)) + p[25:]
	mi.m.HSet(dest, "p", scoped)
	res, err := s.Fallback(ctx, store.FallbackRequest{Key: "k", Tag: bytes.Repeat([]byte{9}, 12)})
	if err != nil || res.Outcome != store.FallbackNotPending {
		t.Fatalf("Fallback with the scope's bytes as tag = %v, %v; want not pending", res.Outcome, err)
	}
	res, err = s.Fallback(ctx, store.FallbackRequest{Key: "k", Tag: tag})
	if err != nil || res.Outcome != store.FallbackTaken || !bytes.Equal(res.Sealed, sealed) {
		t.Fatalf("Fallback = %v %q, %v; want taken with the Sealed value", res.Outcome, res.Sealed, err)
	}
}
