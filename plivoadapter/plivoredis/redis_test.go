package plivoredis_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivoredis"
	"github.com/go2fa/go2fa/sender"
	"github.com/redis/go-redis/v9"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { rdb.Close() })
	for _, tt := range []struct {
		name string
		c    plivoredis.Config
		ok   bool
	}{
		{"valid", plivoredis.Config{Client: rdb, Secret: secret}, true},
		{"no client", plivoredis.Config{Secret: secret}, false},
		{"no secret", plivoredis.Config{Client: rdb}, false},
		{"short secret", plivoredis.Config{Client: rdb, Secret: secret[:plivoredis.MinSecretLen-1]}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err1 := plivoredis.NewMessages(tt.c)
			_, err2 := plivoredis.NewNonces(tt.c)
			_, err3 := plivoredis.NewTokens(tt.c)
			for i, err := range []error{err1, err2, err3} {
				if tt.ok && err != nil {
					t.Errorf("constructor %d: %v", i, err)
				}
				if !tt.ok && !errors.Is(err, plivoredis.ErrConfig) {
					t.Errorf("constructor %d: err = %v, want ErrConfig", i, err)
				}
			}
		})
	}
}

// What the stores are given must not be readable in Redis: no code, no
// token (it would open the answer URL), no message UUID, Ref or nonce,
// and every key lives under the prefix and has a TTL.
func TestRedisHoldsNothingInClear(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, e *redisEnv) {
		ctx := context.Background()
		s := newRedisStores(t, e, nil)
		const (
			code  = "493817"
			uuid  = "8f6a1d8e-5c3b-11ef-9a3e-0242ac110002"
			ref   = "fp-4f2a91"
			nonce = "29436473158932612054"
			call  = "a1b2c3d4-0000-4000-8000-123456789abc"
		)
		// A call token as plivoadapter makes them: 32 random bytes,
		// base64url.
		raw := make([]byte, 32)
		rand.Read(raw)
		token := base64.RawURLEncoding.EncodeToString(raw)
		now := time.Now()
		if err := s.messages.Put(ctx, uuid, plivoadapter.Sent{Ref: ref, Channel: sender.SMS, Expires: now.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.nonces.Seen(ctx, "nonce:v2:"+nonce, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.nonces.Seen(ctx, "failed:"+uuid, time.Hour); err != nil {
			t.Fatal(err)
		}
		p := plivoadapter.Prompt{Code: code, Language: "en-US", Transaction: &sender.Transaction{Amount: "4321.98", Currency: "EUR", Payee: "Zebulon Quartermaine"}}
		if err := s.tokens.Put(ctx, token, p, now.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		p.Retry = now.Add(time.Minute)
		if err := s.tokens.Put(ctx, token+"."+call, p, p.Retry); err != nil {
			t.Fatal(err)
		}
		dump := e.dump(t)
		if len(dump) != 5 {
			t.Fatalf("keys under the prefix = %d, want 5: %q", len(dump), dump)
		}
		secrets := []string{code, token, uuid, ref, nonce, call, "en-US", string(secret), "4321.98", "Zebulon"}
		for k, v := range dump {
			for _, text := range []string{k, v} {
				for _, s := range secrets {
					if strings.Contains(text, s) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(s))) {
						t.Errorf("Redis holds %q in clear in key %q", s, k)
					}
				}
			}
			if ttl := e.pttl(t, k); ttl <= 0 || ttl > time.Hour {
				t.Errorf("key %q: PTTL = %v, want a TTL within an hour", k, ttl)
			}
		}
	})
}

// Redis drops every entry when it expires (TTLs, not only a check on
// read): after the time passes, no key is left.
func TestRedisTTLsDropEntries(t *testing.T) {
	t.Parallel()
	e := newMiniredis(t)
	clk := testclock.New()
	s := newRedisStores(t, e, clk)
	ctx := context.Background()
	if err := s.messages.Put(ctx, "uuid", plivoadapter.Sent{Ref: "r", Expires: clk.Now().Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.tokens.Put(ctx, "tok", plivoadapter.Prompt{Code: "123456"}, clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.nonces.Seen(ctx, "nonce:v3:n", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	// A lifetime that is not whole milliseconds is rounded up, so Redis
	// never drops the entry before its expiry.
	if err := s.tokens.Put(ctx, "short", plivoadapter.Prompt{Code: "123456"}, clk.Now().Add(1500*time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	for _, k := range e.mr.Keys() {
		if d := e.mr.TTL(k); d != 2*time.Millisecond && d < time.Minute {
			t.Errorf("TTL of a 1.5 ms token = %v, want 2ms", d)
		}
	}
	if _, found, err := s.tokens.Take(ctx, "short"); !found || err != nil {
		t.Fatalf("Take of the short token = %v, %v; want found", found, err)
	}
	for _, tt := range []struct {
		after time.Duration
		keys  int
	}{{time.Minute - time.Millisecond, 3}, {time.Millisecond, 2}, {time.Minute, 1}, {time.Minute, 0}} {
		e.mr.FastForward(tt.after)
		if got := len(e.mr.Keys()); got != tt.keys {
			t.Errorf("keys = %d, want %d", got, tt.keys)
		}
	}
}

// A value changed in Redis, or copied under another key (another call's
// token), does not open: an error, never a prompt.
func TestRedisTamperedValuesFail(t *testing.T) {
	t.Parallel()
	e := newMiniredis(t)
	s := newRedisStores(t, e, nil)
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	if err := s.tokens.Put(ctx, "victim", plivoadapter.Prompt{Code: "111111"}, exp); err != nil {
		t.Fatal(err)
	}
	if err := s.tokens.Put(ctx, "attacker", plivoadapter.Prompt{Code: "222222"}, exp); err != nil {
		t.Fatal(err)
	}
	if err := s.messages.Put(ctx, "uuid", plivoadapter.Sent{Ref: "r", Expires: exp}); err != nil {
		t.Fatal(err)
	}
	keys := e.mr.Keys()
	byValue := map[string]string{}
	for _, k := range keys {
		v, _ := e.mr.Get(k)
		byValue[k] = v
	}
	// Move each token value under the other token's key.
	var tk []string
	for _, k := range keys {
		if strings.HasPrefix(k, e.prefix+"t:") {
			tk = append(tk, k)
		}
	}
	if len(tk) != 2 {
		t.Fatalf("token keys = %q, want 2", tk)
	}
	if err := e.mr.Set(tk[0], byValue[tk[1]]); err != nil {
		t.Fatal(err)
	}
	if err := e.mr.Set(tk[1], byValue[tk[0]]); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"victim", "attacker"} {
		if p, found, err := s.tokens.Take(ctx, tok); !errors.Is(err, plivoredis.ErrSealed) || found || p.Code != "" {
			t.Errorf("Take(%q) of a moved value = %q, %v, %v; want ErrSealed", tok, p.Code, found, err)
		}
	}
	// Flip one byte of the message's value.
	for _, k := range keys {
		if strings.HasPrefix(k, e.prefix+"m:") {
			v := []byte(byValue[k])
			v[len(v)-1] ^= 1
			if err := e.mr.Set(k, string(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, found, err := s.messages.Get(ctx, "uuid"); !errors.Is(err, plivoredis.ErrSealed) || found {
		t.Errorf("Get of a changed value = %v, %v; want ErrSealed", found, err)
	}
	// Another secret names other keys and cannot open these values.
	other, err := plivoredis.NewMessages(plivoredis.Config{Client: e.rdb, Prefix: e.prefix, Secret: []byte(strings.Repeat("x", 32))})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := other.Get(ctx, "uuid"); found || err != nil {
		t.Errorf("Get with another secret = %v, %v; want not found", found, err)
	}
}

// A Redis that fails is an error from every operation, never "not found"
// or "not seen".
func TestRedisErrorsAreErrors(t *testing.T) {
	t.Parallel()
	e := newMiniredis(t)
	s := newRedisStores(t, e, nil)
	ctx := context.Background()
	e.mr.SetError("LOADING Redis is loading the dataset in memory")
	exp := time.Now().Add(time.Minute)
	if err := s.messages.Put(ctx, "u", plivoadapter.Sent{Expires: exp}); err == nil {
		t.Error("messages.Put: err = nil")
	}
	if _, _, err := s.messages.Get(ctx, "u"); err == nil {
		t.Error("messages.Get: err = nil")
	}
	if _, err := s.nonces.Seen(ctx, "k", time.Minute); err == nil {
		t.Error("nonces.Seen: err = nil")
	}
	if err := s.tokens.Put(ctx, "t", plivoadapter.Prompt{}, exp); err == nil {
		t.Error("tokens.Put: err = nil")
	}
	if _, _, err := s.tokens.Take(ctx, "t"); err == nil {
		t.Error("tokens.Take: err = nil")
	}
	if err := s.tokens.Delete(ctx, "t"); err == nil {
		t.Error("tokens.Delete: err = nil")
	}
}

// Two prefixes on one Redis are two separate sets of stores.
func TestRedisPrefixesAreSeparate(t *testing.T) {
	t.Parallel()
	e := newMiniredis(t)
	a, err := plivoredis.NewNonces(plivoredis.Config{Client: e.rdb, Prefix: "a:", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	b, err := plivoredis.NewNonces(plivoredis.Config{Client: e.rdb, Prefix: "b:", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []*plivoredis.Nonces{a, b} {
		if seen, err := s.Seen(context.Background(), "k", time.Minute); seen || err != nil {
			t.Errorf("store %d: Seen = %v, %v; want false, nil", i, seen, err)
		}
	}
	for _, k := range e.mr.Keys() {
		if !strings.HasPrefix(k, "a:n:") && !strings.HasPrefix(k, "b:n:") {
			t.Errorf("key %q outside its prefix", k)
		}
	}
}
