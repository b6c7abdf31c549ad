package e2e_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/store/redisstore"
)

// fakeClock is shared by a Validator and miniredis, whose TIME and TTLs
// follow it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
	m  *miniredis.Miniredis
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.m.SetTime(c.t)
	c.m.FastForward(d)
}

var totpKey = totp.Key{Issuer: "ACME", Account: "jane", Secret: []byte("12345678901234567890")}

func redisValidator(t *testing.T, cfg totp.Config) (*totp.Validator, *fakeClock) {
	t.Helper()
	m := miniredis.RunT(t)
	clk := &fakeClock{t: time.Unix(30*50_000_000+10, 0), m: m}
	m.SetTime(clk.t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := redisstore.New(rdb, redisstore.WithPrefix("totp-e2e"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Now = s, clk.Now
	v, err := totp.NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v, clk
}

func totpValidate(t *testing.T, v *totp.Validator, account, code string) totp.Result {
	t.Helper()
	res, err := v.Validate(context.Background(), account, totpKey, code)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return res
}

func totpCode(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := totpKey.Code(at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// On redisstore, a TOTP code is accepted once, its replay is refused while
// its step is in the window, and wrong codes lock the account until the
// lockout, measured on the store's clock, ends.
func TestTOTPOnRedis(t *testing.T) {
	t.Parallel()
	v, clk := redisValidator(t, totp.Config{MaxFailures: 3, Lockout: 10 * time.Minute})
	code := totpCode(t, clk.Now())
	if res := totpValidate(t, v, "jane", code); res.Status != totp.Approved {
		t.Fatalf("first use: %+v, want Approved", res)
	}
	clk.Advance(15 * time.Second)
	if res := totpValidate(t, v, "jane", code); res.Status != totp.Replayed {
		t.Fatalf("replay: %+v, want Replayed", res)
	}
	// Two more failures (the replay counted) lock the account.
	wrong := "000000"
	if wrong == totpCode(t, clk.Now()) {
		wrong = "000001"
	}
	if res := totpValidate(t, v, "jane", wrong); res.Status != totp.Rejected {
		t.Fatalf("wrong code: %+v, want Rejected", res)
	}
	if res := totpValidate(t, v, "jane", wrong); res.Status != totp.Locked {
		t.Fatalf("third failure: %+v, want Locked", res)
	}
	clk.Advance(time.Minute)
	if res := totpValidate(t, v, "jane", totpCode(t, clk.Now())); res.Status != totp.Locked {
		t.Fatalf("right code while locked: %+v, want Locked", res)
	}
	clk.Advance(10 * time.Minute)
	if res := totpValidate(t, v, "jane", totpCode(t, clk.Now())); res.Status != totp.Approved {
		t.Fatalf("right code after the lockout: %+v, want Approved", res)
	}
}
