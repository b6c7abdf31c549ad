package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
)

// sleep moves b's clock by d: FastForward-like on miniredis, a real sleep
// (with a margin) on a real server.
func sleep(t *testing.T, b backend, d time.Duration) {
	t.Helper()
	if b.advance != nil {
		b.advance(t, d)
		return
	}
	time.Sleep(d + 50*time.Millisecond)
}

func issueReq(key, digest string) store.IssueRequest {
	return store.IssueRequest{Key: key, Digest: []byte(digest), TTL: time.Minute}
}

func checkReq(key, digest string) store.CheckRequest {
	return store.CheckRequest{Key: key, Digest: []byte(digest), MaxAttempts: 3}
}

func mustIssue(t *testing.T, s *Store, req store.IssueRequest) store.IssueResult {
	t.Helper()
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return res
}

func mustCheck(t *testing.T, s *Store, req store.CheckRequest) store.CheckResult {
	t.Helper()
	res, err := s.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}

func wantCheck(t *testing.T, got store.CheckResult, status store.CheckStatus, remaining int) {
	t.Helper()
	if got.Status != status || got.Remaining != remaining {
		t.Fatalf("Check = %v remaining %d, want %v remaining %d", got.Status, got.Remaining, status, remaining)
	}
}

func TestNew(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	if _, err := New(nil); err == nil {
		t.Error("New(nil) = nil error, want an error")
	}
	var nilClient *redis.Client
	if _, err := New(nilClient); err == nil {
		t.Error("New((*redis.Client)(nil)) = nil error, want an error")
	}
	for _, p := range []string{"", "a{b", "a}b", "sp ace", "tab\t", "é", string(make([]byte, MaxPrefixLen+1))} {
		if _, err := New(c, WithPrefix(p)); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithPrefix") {
			t.Errorf("New(WithPrefix(%q)) error = %v, want ErrInvalidOption naming WithPrefix", p, err)
		}
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != DefaultPrefix || s.split {
		t.Errorf("New(*redis.Client) = prefix %q split %v, want %q false", s.prefix, s.split, DefaultPrefix)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	if s, err := New(cc, WithPrefix("app")); err != nil || !s.split || s.prefix != "app" {
		t.Errorf("New(*redis.ClusterClient) = %+v, %v; want split with prefix app", s, err)
	}
}

func TestInvalidRequests(t *testing.T) {
	b := miniBackend()
	s := newTestStore(t, b.client(t))
	ctx := context.Background()
	if _, err := s.Issue(ctx, store.IssueRequest{Key: "k", Digest: []byte("d")}); !errors.Is(err, store.ErrInvalidRequest) {
		t.Errorf("Issue without TTL: err = %v, want ErrInvalidRequest", err)
	}
	if _, err := s.Check(ctx, store.CheckRequest{Key: "k", Digest: []byte("d")}); !errors.Is(err, store.ErrInvalidRequest) {
		t.Errorf("Check without MaxAttempts: err = %v, want ErrInvalidRequest", err)
	}
	if err := s.Withdraw(ctx, "", nil, []byte("d")); !errors.Is(err, store.ErrInvalidRequest) {
		t.Errorf("Withdraw with empty key: err = %v, want ErrInvalidRequest", err)
	}
	if err := s.Withdraw(ctx, "k", nil, nil); !errors.Is(err, store.ErrInvalidRequest) {
		t.Errorf("Withdraw with empty digest: err = %v, want ErrInvalidRequest", err)
	}
	if _, err := s.Attempt(ctx, store.AttemptRequest{Key: "k"}); !errors.Is(err, store.ErrInvalidRequest) {
		t.Errorf("Attempt without MaxFailures: err = %v, want ErrInvalidRequest", err)
	}
	if _, err := s.Check(ctx, store.CheckRequest{Key: "k", Digest: []byte("d"), MaxAttempts: MaxAttempts + 1}); !errors.Is(err, store.ErrInvalidRequest) {
		t.Errorf("Check with MaxAttempts %d: err = %v, want ErrInvalidRequest", MaxAttempts+1, err)
	}
}

// TestManyAttempts: the attempt count is kept in two bytes, so counts past
// 255 survive, carry over to the next code, and MaxAttempts is usable.
func TestManyAttempts(t *testing.T) {
	b := miniBackend()
	s := newTestStore(t, b.client(t))
	mustIssue(t, s, issueReq("k", "good"))
	bad := checkReq("k", "bad")
	bad.MaxAttempts = MaxAttempts
	for i := 1; i <= 300; i++ {
		wantCheck(t, mustCheck(t, s, bad), store.Rejected, MaxAttempts-i)
	}
	if r := mustIssue(t, s, issueReq("k", "next")); r.Outcome != store.Issued || r.Attempts != 300 {
		t.Fatalf("Issue after 300 wrong guesses = %+v, want Issued with 300 attempts carried", r)
	}
	good := checkReq("k", "next")
	good.MaxAttempts = 301
	wantCheck(t, mustCheck(t, s, good), store.Approved, 0)
}

func TestContract(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("approve once", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			if r := mustIssue(t, s, issueReq("k", "good")); r.Outcome != store.Issued || r.Attempts != 0 || r.ExpiresIn != time.Minute {
				t.Fatalf("Issue = %+v, want Issued, 0 attempts, expires in 1m", r)
			}
			wantCheck(t, mustCheck(t, s, checkReq("k", "good")), store.Approved, 0)
			wantCheck(t, mustCheck(t, s, checkReq("k", "good")), store.Expired, 0)
			wantCheck(t, mustCheck(t, s, checkReq("never", "good")), store.Expired, 0)
		})
		t.Run("attempts lock", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			mustIssue(t, s, issueReq("k", "good"))
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Rejected, 2)
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Rejected, 1)
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Locked, 0)
			wantCheck(t, mustCheck(t, s, checkReq("k", "good")), store.Expired, 0)
		})
		t.Run("resend carries attempts", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			mustIssue(t, s, issueReq("k", "one"))
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Rejected, 2)
			if r := mustIssue(t, s, issueReq("k", "two")); r.Outcome != store.Issued || r.Attempts != 1 {
				t.Fatalf("resend = %+v, want Issued with 1 attempt", r)
			}
			wantCheck(t, mustCheck(t, s, checkReq("k", "one")), store.Rejected, 1)
			wantCheck(t, mustCheck(t, s, checkReq("k", "two")), store.Approved, 0)
		})
		t.Run("keep pending", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			req := issueReq("k", "one")
			req.Sealed = []byte("sealed-one")
			mustIssue(t, s, req)
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Rejected, 2)
			req2 := issueReq("k", "two")
			req2.Sealed, req2.KeepPending = []byte("sealed-two"), true
			r := mustIssue(t, s, req2)
			if r.Outcome != store.Reused || r.Attempts != 1 || string(r.Sealed) != "sealed-one" || r.ExpiresIn <= 0 || r.ExpiresIn > time.Minute {
				t.Fatalf("Issue(KeepPending) = %+v, want Reused, 1 attempt, sealed-one, 0 < ExpiresIn <= 1m", r)
			}
			wantCheck(t, mustCheck(t, s, checkReq("k", "two")), store.Rejected, 1)
			wantCheck(t, mustCheck(t, s, checkReq("k", "one")), store.Approved, 0)
			// With nothing pending, KeepPending issues, and an empty Sealed
			// replaces nothing.
			if r := mustIssue(t, s, req2); r.Outcome != store.Issued {
				t.Fatalf("Issue(KeepPending) with nothing pending = %+v, want Issued", r)
			}
			req3 := issueReq("k", "three")
			req3.KeepPending = true
			if r := mustIssue(t, s, req3); r.Outcome != store.Reused || string(r.Sealed) != "sealed-two" {
				t.Fatalf("Issue(KeepPending) = %+v, want Reused with sealed-two", r)
			}
		})
		t.Run("expiry", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			req := issueReq("k", "good")
			req.TTL = 200 * time.Millisecond
			mustIssue(t, s, req)
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Rejected, 2)
			sleep(t, b, 300*time.Millisecond)
			wantCheck(t, mustCheck(t, s, checkReq("k", "good")), store.Expired, 0)
			// The attempts died with the code.
			if r := mustIssue(t, s, issueReq("k", "new")); r.Attempts != 0 {
				t.Fatalf("Issue after expiry = %+v, want 0 attempts", r)
			}
		})
		t.Run("cooldown", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			req := issueReq("k", "one")
			req.Cooldown = 300 * time.Millisecond
			mustIssue(t, s, req)
			req.Digest = []byte("two") // the same digest would be an idempotent retry
			r := mustIssue(t, s, req)
			if r.Outcome != store.Limited || r.Reason != store.LimitCooldown || r.RetryAfter <= 0 || r.RetryAfter > req.Cooldown {
				t.Fatalf("Issue in cooldown = %+v, want Limited by cooldown, 0 < RetryAfter <= 300ms", r)
			}
			wantCheck(t, mustCheck(t, s, checkReq("k", "one")), store.Approved, 0)
			sleep(t, b, req.Cooldown)
			if r := mustIssue(t, s, req); r.Outcome != store.Issued {
				t.Fatalf("Issue after cooldown = %+v, want Issued", r)
			}
		})
		t.Run("window", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			req := issueReq("k", "one")
			req.SendWindow, req.SendsPerWindow = 300*time.Millisecond, 2
			mustIssue(t, s, req)
			req.Digest = []byte("two") // the same digest would be an idempotent retry
			mustIssue(t, s, req)
			req.Digest = []byte("three")
			r := mustIssue(t, s, req)
			if r.Outcome != store.Limited || r.Reason != store.LimitWindow || r.RetryAfter <= 0 || r.RetryAfter > req.SendWindow {
				t.Fatalf("third Issue = %+v, want Limited by window", r)
			}
			sleep(t, b, req.SendWindow)
			if r := mustIssue(t, s, req); r.Outcome != store.Issued {
				t.Fatalf("Issue in a new window = %+v, want Issued", r)
			}
		})
		t.Run("failure cap", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			creq := checkReq("k", "bad")
			creq.MaxAttempts, creq.MaxFailures, creq.FailureWindow = 2, 3, time.Minute
			ireq := issueReq("k", "good")
			ireq.MaxFailures = 3
			mustIssue(t, s, ireq)
			wantCheck(t, mustCheck(t, s, creq), store.Rejected, 1)
			wantCheck(t, mustCheck(t, s, creq), store.Locked, 0)
			mustIssue(t, s, ireq)
			wantCheck(t, mustCheck(t, s, creq), store.Locked, 0) // third failure: the cap
			r := mustIssue(t, s, ireq)
			if r.Outcome != store.Limited || r.Reason != store.LimitFailures || r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
				t.Fatalf("Issue at the failure cap = %+v, want Limited by failures", r)
			}
			good := creq
			good.Digest = []byte("good")
			wantCheck(t, mustCheck(t, s, good), store.Locked, 0)
		})
		t.Run("approval resets failures", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			creq := checkReq("k", "bad")
			creq.MaxFailures, creq.FailureWindow = 2, time.Minute
			mustIssue(t, s, issueReq("k", "good"))
			wantCheck(t, mustCheck(t, s, creq), store.Rejected, 1) // 1 of 2 failures left
			good := creq
			good.Digest = []byte("good")
			wantCheck(t, mustCheck(t, s, good), store.Approved, 0)
			mustIssue(t, s, issueReq("k", "good"))
			wantCheck(t, mustCheck(t, s, creq), store.Rejected, 1) // failures start again at 1
			wantCheck(t, mustCheck(t, s, good), store.Approved, 0)
		})
		t.Run("extra limits", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			lim := []store.Limit{{Key: "global", Max: 100, Window: time.Minute}, {Key: "ip", Max: 2, Window: time.Minute}}
			req := func(key string) store.IssueRequest {
				r := issueReq(key, "d")
				r.Cooldown, r.Limits = time.Minute, lim
				return r
			}
			mustIssue(t, s, req("a"))
			// Refused by the cooldown: no limit is charged.
			again := req("a")
			again.Digest = []byte("d2") // the same digest would be an idempotent retry
			if r := mustIssue(t, s, again); r.Outcome != store.Limited || r.Reason != store.LimitCooldown {
				t.Fatalf("Issue in cooldown = %+v, want Limited by cooldown", r)
			}
			mustIssue(t, s, req("b"))
			r := mustIssue(t, s, req("c"))
			if r.Outcome != store.Limited || r.Reason != store.LimitExtra || r.LimitIndex != 1 || r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
				t.Fatalf("third destination = %+v, want Limited by extra limit 1", r)
			}
			// Refused by limit 1: limit 0 is not charged either.
			c := s.client
			if n, err := c.HGet(context.Background(), s.limitKey("global"), "n").Int(); err != nil || n != 2 {
				t.Fatalf("global count = %d, %v; want 2", n, err)
			}
			// "c" was not issued: no cooldown, nothing pending.
			wantCheck(t, mustCheck(t, s, checkReq("c", "d")), store.Expired, 0)
		})
		t.Run("withdraw", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			ctx := context.Background()
			mustIssue(t, s, issueReq("k", "one"))
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Rejected, 2)
			if err := s.Withdraw(ctx, "k", nil, []byte("other")); err != nil {
				t.Fatal(err)
			}
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Rejected, 1)
			if err := s.Withdraw(ctx, "k", nil, []byte("one")); err != nil {
				t.Fatal(err)
			}
			wantCheck(t, mustCheck(t, s, checkReq("k", "one")), store.Expired, 0)
			if err := s.Withdraw(ctx, "k", nil, []byte("one")); err != nil {
				t.Fatalf("second Withdraw: %v", err)
			}
			if r := mustIssue(t, s, issueReq("k", "two")); r.Outcome != store.Issued || r.Attempts != 2 {
				t.Fatalf("Issue after Withdraw = %+v, want Issued with 2 attempts carried", r)
			}
			wantCheck(t, mustCheck(t, s, checkReq("k", "bad")), store.Locked, 0)
		})
		t.Run("attempt", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			ctx := context.Background()
			att := func(marker string) store.AttemptResult {
				t.Helper()
				r, err := s.Attempt(ctx, store.AttemptRequest{Key: "u", Marker: marker, MarkerTTL: time.Minute, MaxFailures: 3, FailureWindow: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			if r := att(""); r.Status != store.Rejected || r.Remaining != 2 {
				t.Fatalf("wrong code = %+v, want Rejected 2", r)
			}
			if r := att("100"); r.Status != store.Approved {
				t.Fatalf("right code = %+v, want Approved", r)
			}
			if r := att("100"); r.Status != store.Replayed || r.Remaining != 2 {
				t.Fatalf("replay = %+v, want Replayed 2 (failures were reset)", r)
			}
			if r := att("101"); r.Status != store.Approved {
				t.Fatalf("next step = %+v, want Approved", r)
			}
			att("")
			att("")
			r := att("")
			if r.Status != store.Locked || r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
				t.Fatalf("third failure = %+v, want Locked with 0 < RetryAfter <= 1m", r)
			}
			if r := att("102"); r.Status != store.Locked {
				t.Fatalf("right code while locked = %+v, want Locked", r)
			}
		})
		t.Run("attempt markers expire", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			ctx := context.Background()
			req := store.AttemptRequest{Key: "u", Marker: "7", MarkerTTL: 200 * time.Millisecond, MaxFailures: 3, FailureWindow: time.Minute}
			if r, err := s.Attempt(ctx, req); err != nil || r.Status != store.Approved {
				t.Fatalf("Attempt = %+v, %v; want Approved", r, err)
			}
			sleep(t, b, 300*time.Millisecond)
			if r, err := s.Attempt(ctx, req); err != nil || r.Status != store.Approved {
				t.Fatalf("Attempt after MarkerTTL = %+v, %v; want Approved", r, err)
			}
		})
		t.Run("every key has a TTL", func(t *testing.T) {
			t.Parallel()
			c := b.client(t)
			s := newTestStore(t, c)
			ctx := context.Background()
			req := issueReq("k", "one")
			req.Cooldown, req.SendWindow, req.SendsPerWindow, req.MaxFailures = time.Minute, time.Hour, 5, 10
			req.Limits = []store.Limit{{Key: "ip", Max: 10, Window: time.Hour}}
			mustIssue(t, s, req)
			creq := checkReq("k", "bad")
			creq.MaxFailures, creq.FailureWindow = 10, 2*time.Hour
			mustCheck(t, s, creq)
			if _, err := s.Attempt(ctx, store.AttemptRequest{Key: "k", Marker: "1", MarkerTTL: 3 * time.Hour, MaxFailures: 3, FailureWindow: time.Minute}); err != nil {
				t.Fatal(err)
			}
			keys := scanKeys(t, c, s)
			if len(keys) != 2 {
				t.Fatalf("keys = %q, want the destination (with its pending code) and the limit", keys)
			}
			for _, k := range keys {
				ttl, err := c.PTTL(ctx, k).Result()
				if err != nil || ttl <= 0 || ttl > 3*time.Hour {
					t.Errorf("PTTL(%s) = %v, %v; want 0 < ttl <= 3h (the longest lifetime)", k, ttl, err)
				}
			}
			if ttl := c.PTTL(ctx, s.destKey("k")).Val(); ttl <= 2*time.Hour {
				t.Errorf("destination PTTL = %v, want > 2h: the marker's lifetime", ttl)
			}
			// The code's own expiry is in its head (bytes 4-9, unix ms): the
			// code's lifetime from now, and within the hash's.
			p, err := c.HGet(ctx, s.destKey("k"), "p").Result()
			if err != nil || len(p) < 9 {
				t.Fatalf("pending field = %q, %v", p, err)
			}
			var expiry int64
			for _, b := range []byte(p[3:9]) {
				expiry = expiry<<8 | int64(b)
			}
			if left := time.Until(time.UnixMilli(expiry)); b.name != "miniredis" && (left <= 0 || left > req.TTL) {
				t.Errorf("pending code expires in %v, want 0 < left <= %v: the code's lifetime", left, req.TTL)
			}
		})
		t.Run("nothing in clear", func(t *testing.T) {
			t.Parallel()
			c := b.client(t)
			s := newTestStore(t, c)
			ctx := context.Background()
			req := issueReq("k", "DIGEST")
			req.Sealed, req.Cooldown, req.SendWindow, req.SendsPerWindow = []byte("SEALED"), time.Minute, time.Hour, 5
			mustIssue(t, s, req)
			mustCheck(t, s, checkReq("k", "WRONG"))
			for _, k := range scanKeys(t, c, s) {
				h, err := c.HGetAll(ctx, k).Result()
				if err != nil {
					t.Fatal(err)
				}
				for f, v := range h {
					if k == s.destKey("k") && f == "p" {
						// A 9-byte head (flags, attempts, expiry), the digest's
						// fingerprint, then the sealed value as given.
						if want := string(fingerprint([]byte("DIGEST"))) + "SEALED"; len(v) != 9+len(want) || v[9:] != want {
							t.Errorf("pending value = %q, want a 9-byte head, then %q", v, want)
						}
						continue
					}
					if _, err := strconv.ParseInt(v, 10, 64); err == nil {
						continue
					}
					t.Errorf("%s field %s = %q: not a number", k, f, v)
				}
			}
		})
		t.Run("concurrent checks", func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, b.client(t))
			const n = 32
			run := func(digest string) map[store.CheckStatus]int {
				var mu sync.Mutex
				got := map[store.CheckStatus]int{}
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						req := checkReq("k", digest)
						req.MaxAttempts = 5
						r, err := s.Check(context.Background(), req)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						got[r.Status]++
						mu.Unlock()
					})
				}
				wg.Wait()
				return got
			}
			mustIssue(t, s, issueReq("k", "good"))
			if got := run("good"); got[store.Approved] != 1 || got[store.Expired] != n-1 {
				t.Errorf("%d concurrent right Checks: %v, want 1 approved, the rest expired", n, got)
			}
			mustIssue(t, s, issueReq("k", "good"))
			if got := run("bad"); got[store.Rejected] != 4 || got[store.Locked] != 1 || got[store.Expired] != n-5 {
				t.Errorf("%d concurrent wrong Checks: %v, want 4 rejected, 1 locked, the rest expired", n, got)
			}
		})
	})
}

// TestCheckLimitsPerRequest: the Check limits argument is cached for the
// last policy seen; Checks that alternate policies still get their own.
func TestCheckLimitsPerRequest(t *testing.T) {
	b := miniBackend()
	s := newTestStore(t, b.client(t))
	mustIssue(t, s, issueReq("a", "good"))
	mustIssue(t, s, issueReq("b", "good"))
	for i := 1; i <= 3; i++ {
		ra := checkReq("a", "bad")
		ra.MaxAttempts = 10
		wantCheck(t, mustCheck(t, s, ra), store.Rejected, 10-i)
		rb := checkReq("b", "bad")
		rb.MaxAttempts, rb.MaxFailures, rb.FailureWindow = 10, 5, time.Minute
		wantCheck(t, mustCheck(t, s, rb), store.Rejected, 5-i)
	}
}
