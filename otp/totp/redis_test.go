package totp_test

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/redisstore"
)

// The Validator scenarios also run against store/redisstore on miniredis,
// whose clock (TIME, TTLs) follows the test's fake clock. Only this test
// file imports go-redis; package totp does not.
func init() {
	backends = append(backends, backend{"redisstore", newRedis})
}

func newRedis(t *testing.T, clk *clock) store.Store {
	t.Helper()
	m := miniredis.RunT(t)
	m.ClockTTL(true)
	clk.onAdvance(m.SetTime)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := redisstore.New(rdb, redisstore.WithPrefix("totp-test"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// miniredis's clock must be the fake clock for the scenarios to mean
// anything: check that a marker expires with it, not with the wall clock.
func TestRedisBackendFollowsFakeClock(t *testing.T) {
	t.Parallel()
	clk := &clock{t: start}
	s := newRedis(t, clk)
	req := store.AttemptRequest{Key: "totp:k", Marker: "1", MarkerTTL: time.Minute, MaxFailures: 5, FailureWindow: time.Hour}
	ctx := t.Context()
	if res, err := s.Attempt(ctx, req); err != nil || res.Status != store.Approved {
		t.Fatalf("first Attempt = %+v, %v; want Approved", res, err)
	}
	if res, err := s.Attempt(ctx, req); err != nil || res.Status != store.Replayed {
		t.Fatalf("second Attempt = %+v, %v; want Replayed", res, err)
	}
	clk.Advance(time.Minute + time.Second)
	if res, err := s.Attempt(ctx, req); err != nil || res.Status != store.Approved {
		t.Fatalf("Attempt after the marker's TTL on the fake clock = %+v, %v; want Approved", res, err)
	}
}
