package redisstore

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/redisstore/redistest"
)

// counter is a go-redis hook that records the name of every command the
// client sends, pipelines included.
type counter struct {
	mu    sync.Mutex
	names []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		for _, cmd := range cmds {
			c.names = append(c.names, "pipeline:"+cmd.Name())
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the names recorded since the last take.
func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names = nil
	return n
}

// TestOneRoundTrip counts the commands each operation sends: after the
// scripts are cached, exactly one EVALSHA, and nothing else.
func TestOneRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		c := b.client(t)
		s := newTestStore(t, c)
		ctx := context.Background()
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
		hook := &counter{}
		c.AddHook(hook)

		limits := []store.Limit{{Key: "ip", Max: 1000, Window: time.Minute}, {Key: "global", Max: 1000, Window: time.Minute}}
		ops := []struct {
			name string
			// n is the number of EVALSHAs: 1, but a Cluster client charges
			// each extra limit with one more.
			n  int
			fn func(k string) error
		}{
			{"Issue", 1, func(k string) error {
				_, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: []byte("d"), TTL: time.Minute,
					Cooldown: time.Second, SendWindow: time.Hour, SendsPerWindow: 5, MaxFailures: 5})
				return err
			}},
			{"IssueWithLimits", 1 + map[bool]int{true: len(limits)}[s.split], func(k string) error {
				// Another key: the Issue above started a cooldown, and a
				// Limited Issue on a Cluster client also sends refunds.
				_, err := s.Issue(ctx, store.IssueRequest{Key: "l" + k, Digest: []byte("d"), TTL: time.Minute, Limits: limits})
				return err
			}},
			{"CheckWrong", 1, func(k string) error {
				_, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: []byte("x"), MaxAttempts: 5, MaxFailures: 5, FailureWindow: time.Hour})
				return err
			}},
			{"CheckRight", 1, func(k string) error {
				_, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: []byte("d"), MaxAttempts: 5})
				return err
			}},
			{"Withdraw", 1, func(k string) error { return s.Withdraw(ctx, k, nil, []byte("d")) }},
			{"Attempt", 1, func(k string) error {
				_, err := s.Attempt(ctx, store.AttemptRequest{Key: k, Marker: "1", MarkerTTL: time.Minute, MaxFailures: 3, FailureWindow: time.Minute})
				return err
			}},
		}
		const keys = 20 // spread over the Cluster's nodes
		for _, op := range ops {
			hook.take()
			for i := range keys {
				if err := op.fn("rt-" + string(rune('a'+i))); err != nil {
					t.Fatalf("%s: %v", op.name, err)
				}
			}
			got := hook.take()
			if len(got) != keys*op.n {
				t.Errorf("%s: %d calls sent %d commands %q, want %d EVALSHA", op.name, keys, len(got), got, keys*op.n)
				continue
			}
			for _, name := range got {
				if name != "evalsha" {
					t.Errorf("%s sent %q, want only evalsha", op.name, got)
					break
				}
			}
		}
	})
}

// TestNoScriptFallback shows the script cache being flushed costs one EVAL,
// after which EVALSHA works again. It runs on miniredis only: SCRIPT FLUSH
// on a shared server would disturb other tests' command counts.
func TestNoScriptFallback(t *testing.T) {
	c := miniBackend().client(t)
	s := newTestStore(t, c)
	ctx := context.Background()
	hook := &counter{}
	c.AddHook(hook)
	check := func() {
		t.Helper()
		if _, err := s.Check(ctx, store.CheckRequest{Key: "k", Digest: []byte("d"), MaxAttempts: 5}); err != nil {
			t.Fatal(err)
		}
	}
	check()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	hook.take()
	check()
	if got := strings.Join(hook.take(), ","); got != "evalsha,eval" {
		t.Errorf("first Check after SCRIPT FLUSH sent %s, want evalsha,eval", got)
	}
	check()
	if got := strings.Join(hook.take(), ","); got != "evalsha" {
		t.Errorf("second Check after SCRIPT FLUSH sent %s, want evalsha", got)
	}
}

// TestScriptServerCalls counts, with INFO commandstats on a redis-server of
// its own, the commands an Issue and a Check run inside their scripts. An
// Issue for a new destination reads the clock, reads the hash once (the
// code's field with the limits), writes it once and sets its expiry:
// TIME, HMGET, HSET, PEXPIREAT (NX: the hash had no TTL, so no PTTL). A Check with the right code and no
// failure counted is TIME, one HMGET of the code and the failure fields,
// and one HDEL of the code and the client's unapproved send (the send
// ceiling's mark); a right code after a wrong guess also forgives the
// client's failure (HSET) before it approves.
func TestScriptServerCalls(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	s := newTestStore(t, c)
	ctx := context.Background()
	issue := func(key string) map[string]int {
		t.Helper()
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Issue(ctx, defaultIssue(key, []byte("good"))); err != nil || r.Outcome != store.Issued {
			t.Fatalf("Issue = %+v, %v", r, err)
		}
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		return scriptCalls(t, info)
	}
	check := func(key, digest string, want store.CheckStatus) map[string]int {
		t.Helper()
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		r, err := s.Check(ctx, store.CheckRequest{Key: key, Digest: []byte(digest), MaxAttempts: 5,
			MaxFailures: 20, FailureWindow: 24 * time.Hour})
		if err != nil || r.Status != want {
			t.Fatalf("Check = %+v, %v; want %v", r, err, want)
		}
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		return scriptCalls(t, info)
	}

	if got, want := issue("fast"), map[string]int{"time": 1, "hmget": 1, "hset": 1, "pexpireat": 1}; !maps.Equal(got, want) {
		t.Errorf("Issue for a new destination: Redis ran %v, want %v", got, want)
	}
	if got, want := check("fast", "good", store.Approved), map[string]int{"time": 1, "hmget": 1, "hdel": 1}; !maps.Equal(got, want) {
		t.Errorf("right code, no failure: Redis ran %v, want %v", got, want)
	}
	issue("flagged")
	check("flagged", "bad", store.Rejected)
	got := check("flagged", "good", store.Approved)
	if want := map[string]int{"hmget": 1, "time": 1, "hset": 1, "hdel": 1}; !maps.Equal(got, want) {
		t.Errorf("right code after a wrong guess: Redis ran %v, want %v (the client's failure forgiven)", got, want)
	}
}

// TestIssueNeverShortensHashLife: an Issue that finds none of the fields
// it reads in the destination's hash tries PEXPIREAT ... NX first, as for a
// new hash; on a hash that already lives longer (here: a TOTP marker's 3
// hours, in fields Issue does not read) its expiry must stay.
func TestIssueNeverShortensHashLife(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		c := b.client(t)
		s := newTestStore(t, c)
		ctx := context.Background()
		if _, err := s.Attempt(ctx, store.AttemptRequest{Key: "k", Marker: "1", MarkerTTL: 3 * time.Hour, MaxFailures: 3,
			FailureWindow: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Issue(ctx, defaultIssue("k", []byte("d"))); err != nil || r.Outcome != store.Issued {
			t.Fatalf("Issue = %+v, %v", r, err)
		}
		if ttl := c.PTTL(ctx, s.destKey("k")).Val(); ttl <= 2*time.Hour {
			t.Errorf("destination PTTL after Issue = %v, want > 2h: the marker's lifetime", ttl)
		}
	})
}

// scriptCalls reads INFO commandstats: calls per command, without the ones
// the test itself sends (EVALSHA, CONFIG, INFO).
func scriptCalls(t *testing.T, info string) map[string]int {
	t.Helper()
	calls := map[string]int{}
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("INFO commandstats line %q: %v", line, err)
		}
		switch name {
		case "evalsha", "eval", "info", "config|resetstat":
		default:
			calls[name] = v
		}
	}
	return calls
}
