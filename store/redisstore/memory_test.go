package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
)

// memoryBudget is the most Redis may use, as MEMORY USAGE reports it, for
// everything one pending verification leaves behind, under the otp package's
// default policy, for one client key (each further client key that sends or
// fails adds a few fields to the destination's hash).
const memoryBudget = 328

// keepCodeBudget is the same ceiling with Policy.KeepCode, which adds the
// sealed code (34 bytes) to the pending value.
const keepCodeBudget = 392

// realisticKey is shaped like the otp package's store keys: 128 bits of
// HMAC, base64url (22 characters).
func realisticKey(t testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMemoryPerVerification measures, on a real redis-server, MEMORY USAGE
// summed over every key one verification leaves (found with SCAN on a
// prefix of its own, as long as the default one), for the otp package's
// default policy, and holds it to memoryBudget (keepCodeBudget with a
// sealed code).
func TestMemoryPerVerification(t *testing.T) {
	b, ok := standaloneBackend(t)
	if !ok {
		t.Skip("REDIS_URL not set: MEMORY USAGE needs a real redis-server (miniredis does not have it)")
	}
	c := b.client(t)
	ctx := context.Background()
	info, _ := c.Info(ctx, "server").Result()
	t.Logf("redis: %s", firstLine(info, "redis_version:"))

	cases := []struct {
		name   string
		sealed int  // bytes of IssueRequest.Sealed (AES-GCM of 6 digits: 34)
		wrong  bool // one wrong Check after the Issue
		limit  bool // one extra limit (counted separately: it is shared)
	}{
		{name: "pending", sealed: 0},
		{name: "pending+wrong guess", sealed: 0, wrong: true},
		{name: "pending+wrong guess+limit", sealed: 0, wrong: true, limit: true},
		{name: "pending+sealed", sealed: 34},
		{name: "pending+sealed+wrong guess", sealed: 34, wrong: true},
		{name: "pending+sealed+wrong guess+limit", sealed: 34, wrong: true, limit: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A prefix as long as DefaultPrefix, unique to this run.
			prefix := "m" + base64.RawURLEncoding.EncodeToString(randBytes(t, 3))[:4]
			prefix = sanitize(prefix)
			s, err := New(c, WithPrefix(prefix))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteKeys(t, c, s) })
			key := realisticKey(t)
			client := "k-" + realisticKey(t)
			req := store.IssueRequest{Key: key, Digest: randBytes(t, 32), Client: client, TTL: 5 * time.Minute,
				Cooldown: 30 * time.Second, SendWindow: time.Hour, SendsPerWindow: 5, MaxFailures: 20, FailureCeiling: 100}
			if tc.sealed > 0 {
				req.Sealed, req.KeepPending = randBytes(t, tc.sealed), true
			}
			if tc.limit {
				req.Limits = []store.Limit{{Key: "k-" + realisticKey(t), Max: 10, Window: time.Hour}}
			}
			if r, err := s.Issue(ctx, req); err != nil || r.Outcome != store.Issued {
				t.Fatalf("Issue = %+v, %v", r, err)
			}
			if tc.wrong {
				if _, err := s.Check(ctx, store.CheckRequest{Key: key, Digest: randBytes(t, 32), Client: client, MaxAttempts: 5,
					MaxFailures: 20, FailureCeiling: 100, FailureWindow: 24 * time.Hour}); err != nil {
					t.Fatal(err)
				}
			}
			dest, limits := 0, 0
			keys := scanKeys(t, c, s)
			for _, k := range keys {
				n, err := c.MemoryUsage(ctx, k).Result()
				if err != nil {
					t.Fatal(err)
				}
				if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 {
					t.Errorf("%s has no TTL (%v)", k, ttl)
				}
				if k == s.destKey(key) {
					dest += int(n)
				} else {
					limits += int(n)
				}
			}
			if len(keys) == 0 {
				t.Fatal("SCAN found no key")
			}
			t.Logf("MEMORY USAGE: destination %d bytes (%d keys in all), extra limits %d bytes", dest, len(keys), limits)
			budget := memoryBudget
			if tc.sealed > 0 {
				budget = keepCodeBudget
			}
			if dest > budget {
				t.Errorf("one verification uses %d bytes, want <= %d", dest, budget)
			}
		})
	}
}

func sanitize(p string) string {
	b := []byte(p)
	for i, c := range b {
		if c == '-' || c == '_' {
			b[i] = 'x'
		}
	}
	return string(b)
}

// firstLine returns the value of the INFO line that starts with prefix.
func firstLine(info, prefix string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), prefix); ok {
			return v
		}
	}
	return "unknown"
}
