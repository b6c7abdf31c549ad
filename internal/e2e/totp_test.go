package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/store/redisstore"
)

var totpKey = totp.Key{Issuer: "ACME", Account: "jane", Secret: []byte("12345678901234567890")}

// redisValidator returns a Validator on redisstore and miniredis, and the
// clock they share; advance moves it and miniredis's TIME and TTLs with
// it.
func redisValidator(t *testing.T, cfg totp.Config) (v *totp.Validator, clk *clock, advance func(time.Duration)) {
	t.Helper()
	m := miniredis.RunT(t)
	clk = testclock.At(time.Unix(30*50_000_000+10, 0))
	m.SetTime(clk.Now())
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := redisstore.New(rdb, redisstore.WithPrefix("totp-e2e"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Now = s, clk.Now
	v, err = totp.NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v, clk, func(d time.Duration) {
		m.SetTime(clk.Advance(d))
		m.FastForward(d)
	}
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
	v, clk, advance := redisValidator(t, totp.Config{MaxFailures: 3, Lockout: 10 * time.Minute})
	code := totpCode(t, clk.Now())
	if res := totpValidate(t, v, "jane", code); res.Status != totp.Approved {
		t.Fatalf("first use: %+v, want Approved", res)
	}
	advance(15 * time.Second)
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
	advance(time.Minute)
	if res := totpValidate(t, v, "jane", totpCode(t, clk.Now())); res.Status != totp.Locked {
		t.Fatalf("right code while locked: %+v, want Locked", res)
	}
	advance(10 * time.Minute)
	if res := totpValidate(t, v, "jane", totpCode(t, clk.Now())); res.Status != totp.Approved {
		t.Fatalf("right code after the lockout: %+v, want Approved", res)
	}
}
