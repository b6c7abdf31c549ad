package redisstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

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

// timed runs fn(base) .. fn(base+m-1) from n goroutines and returns the
// wall time it took.
func timed(n, base, m int, fn func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	for range n {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(m) {
					return
				}
				if err := fn(base + int(i)); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(m))
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

// versus runs lib b.N times and floor b.N times, from n goroutines each, in
// alternating chunks (so a change of load on the machine hits both alike),
// and reports the throughput of each and lib's share of the floor's. Only
// lib's time counts as the benchmark's ns/op.
func versus(b *testing.B, n int, floor, lib func(i int) error) {
	b.Helper()
	chunks := 50
	if b.N < chunks*n {
		chunks = 1
	}
	per := (b.N + chunks - 1) / chunks
	var tFloor, tLib time.Duration
	b.ResetTimer()
	b.StopTimer()
	for k, done := 0, 0; done < b.N; k++ {
		m := min(per, b.N-done)
		runFloor := func() {
			d, err := timed(n, done, m, floor)
			if err != nil {
				b.Fatalf("floor: %v", err)
			}
			tFloor += d
		}
		runLib := func() {
			b.StartTimer()
			d, err := timed(n, done, m, lib)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			tLib += d
		}
		if k%2 == 0 {
			runFloor()
			runLib()
		} else {
			runLib()
			runFloor()
		}
		done += m
	}
	b.ReportMetric(float64(b.N)/tLib.Seconds(), "ops/s")
	b.ReportMetric(float64(b.N)/tFloor.Seconds(), "floor-ops/s")
	b.ReportMetric(100*tFloor.Seconds()/tLib.Seconds(), "%floor")
}

// defaultIssue is an Issue with the otp package's default policy.
func defaultIssue(key string, digest []byte) store.IssueRequest {
	return store.IssueRequest{Key: key, Digest: digest, TTL: 5 * time.Minute, Cooldown: 30 * time.Second,
		Window: time.Hour, WindowMax: 5, FailureMax: 20}
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
			if _, err := timed(64, 0, b.N, func(i int) error {
				_, err := s.Issue(ctx, defaultIssue(benchKey(run, i), digest))
				return err
			}); err != nil {
				b.Fatal(err)
			}
			versus(b, n, floor, func(i int) error {
				res, err := s.Check(ctx, store.CheckRequest{Key: benchKey(run, i), Digest: digest,
					MaxAttempts: 5, FailureMax: 20, FailureWindow: 24 * time.Hour})
				if err == nil && res.Status != store.Approved {
					err = fmt.Errorf("Check = %v, want approved", res.Status)
				}
				return err
			})
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
			versus(b, n, floor, func(i int) error {
				res, err := s.Issue(ctx, defaultIssue(benchKey(run, i), digest))
				if err == nil && res.Outcome != store.Issued {
					err = fmt.Errorf("Issue = %v, want issued", res.Outcome)
				}
				return err
			})
			settle(b, s)
		})
	}
}
