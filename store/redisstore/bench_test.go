package redisstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/internal/benchfloor"
	"github.com/go2fa/go2fa/store"
)

// The benchmarks run on the redis-server at REDIS_URL, or on miniredis
// (named so in the benchmark name) when it is unset. Each one measures the
// floor next to the Store, in the same run, on the same client, at the same
// concurrency: a raw EVALSHA of a script that only returns 1. Run:
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench . -benchtime 2s ./store/redisstore

func benchBackend(b *testing.B) (string, redis.UniversalClient) {
	b.Helper()
	name, addr, db := "miniredis", "", 0
	if url := os.Getenv("REDIS_URL"); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			b.Fatalf("REDIS_URL: %v", err)
		}
		name, addr, db = "redis", opt.Addr, opt.DB
	} else {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(m.Close)
		addr = m.Addr()
	}
	// The client as users get it: go-redis's defaults.
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	b.Cleanup(func() { c.Close() })
	return name, c
}

// floorScript is the trivial script the Store is compared with.
var floorScript = redis.NewScript("return 1")

// defaultIssue is an Issue with the otp package's default policy.
func defaultIssue(key string, digest []byte) store.IssueRequest {
	return store.IssueRequest{Key: key, Digest: digest, TTL: 5 * time.Minute, Cooldown: 30 * time.Second,
		SendWindow: time.Hour, SendsPerWindow: 5, MaxFailures: 20}
}

// settle deletes every key a round left (the timer is stopped), so each
// round, and each -count repetition, starts from the same database: without
// it the destinations' hashes (an hour's TTL) pile up round after round, and
// later rounds pay for Redis growing and rehashing a table that holds
// millions of keys, which the floor never touches.
func settle(b *testing.B, s *Store) {
	b.Helper()
	b.StopTimer()
	deleteKeys(b, s.client, s)
}

func benchKey(run string, i int) string { return run + "-" + strconv.Itoa(i) }

var benchRun atomic.Int64

// benchSetup returns the Store under benchmark and the floor (a raw
// EVALSHA of `return 1` on the same client), both scripts loaded.
func benchSetup(b *testing.B) (name string, s *Store, floor func(int) error) {
	b.Helper()
	name, c := benchBackend(b)
	s = newTestStore(b, c)
	ctx := context.Background()
	if err := s.Load(ctx); err != nil {
		b.Fatal(err)
	}
	if err := floorScript.Load(ctx, c).Err(); err != nil {
		b.Fatal(err)
	}
	floor = func(int) error { return floorScript.Run(ctx, c, []string{s.destKey("floor")}).Err() }
	return name, s, floor
}

func BenchmarkCheck(b *testing.B) {
	name, s, floor := benchSetup(b)
	ctx := context.Background()
	digest := make([]byte, 32)
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("%s/callers=%d", name, n), func(b *testing.B) {
			// One pending code per Check, issued before the clock starts;
			// every Check approves (the path that deletes).
			run := "c" + strconv.FormatInt(benchRun.Add(1), 10)
			if _, err := benchfloor.Timed(64, 0, b.N, func(i int) error {
				_, err := s.Issue(ctx, defaultIssue(benchKey(run, i), digest))
				return err
			}); err != nil {
				b.Fatal(err)
			}
			benchfloor.Versus(b, n, 50, func(i int) error {
				res, err := s.Check(ctx, store.CheckRequest{Key: benchKey(run, i), Digest: digest,
					MaxAttempts: 5, MaxFailures: 20, FailureWindow: 24 * time.Hour})
				if err == nil && res.Status != store.Approved {
					err = fmt.Errorf("Check = %v, want approved", res.Status)
				}
				return err
			}, benchfloor.Floor{Name: "floor", Run: floor})
			settle(b, s)
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	name, s, floor := benchSetup(b)
	ctx := context.Background()
	digest := make([]byte, 32)
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("%s/callers=%d", name, n), func(b *testing.B) {
			run := "i" + strconv.FormatInt(benchRun.Add(1), 10)
			benchfloor.Versus(b, n, 50, func(i int) error {
				res, err := s.Issue(ctx, defaultIssue(benchKey(run, i), digest))
				if err == nil && res.Outcome != store.Issued {
					err = fmt.Errorf("Issue = %v, want issued", res.Outcome)
				}
				return err
			}, benchfloor.Floor{Name: "floor", Run: floor})
			settle(b, s)
		})
	}
}
