package plivoredis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivoredis"
	"github.com/go2fa/go2fa/sender"
)

// stores is one implementation of the three callback stores, with the
// clock they read and a way to move time for them.
type stores struct {
	messages plivoadapter.MessageStore
	nonces   plivoadapter.NonceStore
	tokens   plivoadapter.TokenStore
	clk      *testclock.Clock
	// ff moves the backend's own clock (Redis TTLs) as clk moves; nil
	// when the backend's clock cannot be moved (a real server).
	ff func(time.Duration)
}

func (s *stores) advance(d time.Duration) {
	s.clk.Advance(d)
	if s.ff != nil {
		s.ff(d)
	}
}

// eachImplementation runs f against the memory stores and the Redis
// stores on every Redis from envs.
func eachImplementation(t *testing.T, f func(t *testing.T, s *stores)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New()
		f(t, &stores{
			messages: plivoadapter.NewMemoryMessages(plivoadapter.WithStoreClock(clk.Now)),
			nonces:   plivoadapter.NewMemoryNonces(plivoadapter.WithStoreClock(clk.Now)),
			tokens:   plivoadapter.NewMemoryTokens(plivoadapter.WithStoreClock(clk.Now)),
			clk:      clk,
			ff:       func(time.Duration) {},
		})
	})
	eachRedis(t, func(t *testing.T, e *redisEnv) {
		clk := testclock.New()
		f(t, newRedisStores(t, e, clk))
	})
}

func newRedisStores(t *testing.T, e *redisEnv, clk *testclock.Clock) *stores {
	t.Helper()
	m, err := plivoredis.NewMessages(e.config(clk))
	if err != nil {
		t.Fatal(err)
	}
	n, err := plivoredis.NewNonces(e.config(clk))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := plivoredis.NewTokens(e.config(clk))
	if err != nil {
		t.Fatal(err)
	}
	return &stores{messages: m, nonces: n, tokens: tk, clk: clk, ff: e.ff}
}

func TestMessageStoreConformance(t *testing.T) {
	t.Parallel()
	eachImplementation(t, func(t *testing.T, s *stores) {
		ctx := context.Background()
		get := func(uuid string) (plivoadapter.Sent, bool) {
			t.Helper()
			v, found, err := s.messages.Get(ctx, uuid)
			if err != nil {
				t.Fatalf("Get(%q): %v", uuid, err)
			}
			return v, found
		}
		put := func(uuid string, v plivoadapter.Sent) {
			t.Helper()
			if err := s.messages.Put(ctx, uuid, v); err != nil {
				t.Fatalf("Put(%q): %v", uuid, err)
			}
		}
		exp := s.clk.Now().Add(5*time.Minute + 123*time.Nanosecond)
		want := plivoadapter.Sent{Ref: "fp-1", Channel: sender.SMS, Expires: exp}
		put("uuid-1", want)
		if got, found := get("uuid-1"); !found || got.Ref != want.Ref || got.Channel != want.Channel || !got.Expires.Equal(want.Expires) {
			t.Errorf("Get = %+v, %v; want %+v, true", got, found, want)
		}
		if _, found := get("uuid-unknown"); found {
			t.Error("unknown uuid: found = true")
		}
		// Put again overwrites.
		put("uuid-1", plivoadapter.Sent{Ref: "fp-2", Channel: sender.Call, Expires: exp})
		if got, _ := get("uuid-1"); got.Ref != "fp-2" || got.Channel != sender.Call {
			t.Errorf("after overwrite: Get = %+v, want Ref fp-2 on call", got)
		}
		s.advance(5*time.Minute - time.Millisecond)
		if _, found := get("uuid-1"); !found {
			t.Error("just before Expires: found = false")
		}
		s.advance(time.Millisecond + 123*time.Nanosecond)
		if _, found := get("uuid-1"); found {
			t.Error("at Expires: found = true")
		}
		// A Put whose Sent has already expired replaces a live one.
		put("uuid-2", plivoadapter.Sent{Ref: "fp-3", Expires: s.clk.Now().Add(time.Minute)})
		put("uuid-2", plivoadapter.Sent{Ref: "fp-3", Expires: s.clk.Now().Add(-time.Second)})
		if _, found := get("uuid-2"); found {
			t.Error("after a Put of an expired Sent: found = true")
		}
	})
}

func TestNonceStoreConformance(t *testing.T) {
	t.Parallel()
	eachImplementation(t, func(t *testing.T, s *stores) {
		ctx := context.Background()
		seen := func(key string, ttl time.Duration) bool {
			t.Helper()
			got, err := s.nonces.Seen(ctx, key, ttl)
			if err != nil {
				t.Fatalf("Seen(%q): %v", key, err)
			}
			return got
		}
		if seen("nonce:v3:a", time.Minute) {
			t.Error("new key: seen = true")
		}
		if !seen("nonce:v3:a", time.Minute) {
			t.Error("repeated key: seen = false")
		}
		if seen("nonce:v2:a", time.Minute) || seen("failed:a", 0) {
			t.Error("other keys: seen = true")
		}
		if seen("nonce:v3:b", 2*time.Minute) {
			t.Error("new key with a longer ttl: seen = true")
		}
		if s.ff == nil {
			t.Skip("expiry: Redis's clock cannot be moved on a real server (covered on miniredis)")
		}
		s.advance(time.Minute - time.Millisecond)
		if !seen("nonce:v3:a", time.Minute) {
			t.Error("just before its ttl: seen = false")
		}
		s.advance(time.Millisecond)
		if seen("nonce:v3:a", time.Minute) {
			t.Error("after its ttl: seen = true")
		}
		if !seen("nonce:v3:b", 2*time.Minute) {
			t.Error("within its longer ttl: seen = false")
		}
		// ttl <= 0 is DefaultNonceWindow.
		if seen("failed:b", 0) {
			t.Error("new key, ttl 0: seen = true")
		}
		s.advance(plivoadapter.DefaultNonceWindow - time.Millisecond)
		if !seen("failed:b", 0) {
			t.Error("ttl 0, before DefaultNonceWindow: seen = false")
		}
		s.advance(time.Millisecond)
		if seen("failed:b", 0) {
			t.Error("ttl 0, after DefaultNonceWindow: seen = true")
		}
	})
}

func TestNonceStoreConcurrentSeen(t *testing.T) {
	t.Parallel()
	eachImplementation(t, func(t *testing.T, s *stores) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh, errs := 0, 0
		for range 20 {
			wg.Go(func() {
				seen, err := s.nonces.Seen(context.Background(), "nonce:v3:k", time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					errs++
				case !seen:
					fresh++
				}
			})
		}
		wg.Wait()
		if fresh != 1 || errs != 0 {
			t.Errorf("20 concurrent Seens: %d saw it new, %d failed; want 1 and 0", fresh, errs)
		}
	})
}

func TestTokenStoreConformance(t *testing.T) {
	t.Parallel()
	eachImplementation(t, func(t *testing.T, s *stores) {
		ctx := context.Background()
		take := func(tok string) (plivoadapter.Prompt, bool) {
			t.Helper()
			p, found, err := s.tokens.Take(ctx, tok)
			if err != nil {
				t.Fatalf("Take(%q): %v", tok, err)
			}
			return p, found
		}
		put := func(tok string, p plivoadapter.Prompt, exp time.Time) {
			t.Helper()
			if err := s.tokens.Put(ctx, tok, p, exp); err != nil {
				t.Fatalf("Put(%q): %v", tok, err)
			}
		}
		p := plivoadapter.Prompt{Code: "493817", Language: "fr-FR", Transaction: &sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}}
		put("tok-1", p, s.clk.Now().Add(5*time.Minute))
		if got, found := take("tok-1"); !found || got.Code != p.Code || got.Language != p.Language || !got.Retry.IsZero() ||
			got.Transaction == nil || *got.Transaction != *p.Transaction {
			t.Errorf("Take = %v %q %v %v, %v; want the prompt put, with its transaction", got.Language, got.Code, got.Retry, got.Transaction, found)
		}
		put("tok-plain", plivoadapter.Prompt{Code: "493817", Language: "fr-FR"}, s.clk.Now().Add(5*time.Minute))
		if got, found := take("tok-plain"); !found || got.Transaction != nil {
			t.Errorf("Take of a prompt without transaction = %v, %v; want found, no transaction", got.Transaction, found)
		}
		if _, found := take("tok-1"); found {
			t.Error("second Take: found = true")
		}
		if _, found := take("tok-unknown"); found {
			t.Error("unknown token: found = true")
		}

		put("tok-2", p, s.clk.Now().Add(time.Minute))
		if err := s.tokens.Delete(ctx, "tok-2"); err != nil {
			t.Fatal(err)
		}
		if _, found := take("tok-2"); found {
			t.Error("after Delete: found = true")
		}
		if err := s.tokens.Delete(ctx, "tok-unknown"); err != nil {
			t.Errorf("Delete of an unknown token: %v", err)
		}

		// Expiry, as the answer handler keeps a prompt for a call's
		// re-fetches: under "token.CallUUID" until Retry, Retry kept to
		// the nanosecond.
		retry := s.clk.Now().Add(60*time.Second + 7*time.Nanosecond)
		r := plivoadapter.Prompt{Code: "493817", Language: "en-US", Retry: retry}
		put("tok-3.call-1", r, retry)
		s.advance(60*time.Second - time.Millisecond)
		got, found := take("tok-3.call-1")
		if !found || !got.Retry.Equal(retry) || got.Code != r.Code {
			t.Fatalf("within the grace: Take = %q %v, %v; want the prompt with Retry %v", got.Code, got.Retry, found, retry)
		}
		put("tok-3.call-1", got, got.Retry)
		if _, found := take("tok-3.call-2"); found {
			t.Error("another call's key: found = true")
		}
		s.advance(time.Millisecond + 7*time.Nanosecond)
		if _, found := take("tok-3.call-1"); found {
			t.Error("at Retry: found = true")
		}

		// A Put whose expiry has passed replaces a live prompt.
		put("tok-4", p, s.clk.Now().Add(time.Minute))
		put("tok-4", p, s.clk.Now())
		if _, found := take("tok-4"); found {
			t.Error("after a Put that expires now: found = true")
		}

		// A done context saves nothing.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.tokens.Put(cctx, "tok-5", p, s.clk.Now().Add(time.Minute)); err == nil {
			t.Error("Put with a done context: err = nil")
		}
		if _, found := take("tok-5"); found {
			t.Error("Put with a done context saved the prompt")
		}
	})
}

func TestTokenStoreConcurrentTake(t *testing.T) {
	t.Parallel()
	eachImplementation(t, func(t *testing.T, s *stores) {
		ctx := context.Background()
		if err := s.tokens.Put(ctx, "tok", plivoadapter.Prompt{Code: "493817", Language: "en-US"}, s.clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, errs := 0, 0
		for range 20 {
			wg.Go(func() {
				p, found, err := s.tokens.Take(ctx, "tok")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					errs++
				case found && p.Code == "493817":
					won++
				case found:
					errs++
				}
			})
		}
		wg.Wait()
		if won != 1 || errs != 0 {
			t.Errorf("20 concurrent Takes: %d found it, %d failed; want 1 and 0", won, errs)
		}
	})
}
