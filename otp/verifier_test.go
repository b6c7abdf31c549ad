package otp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

const (
	alice = "+14155550100"
	bob   = "+14155550101"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// clock is the fake clock shared by a store and a verifier.

// spyStore records every request that reaches the real store.
type spyStore struct {
	store.Store
	mu       sync.Mutex
	issues   []store.IssueRequest
	checks   []store.CheckRequest
	withdraw int
	calls    atomic.Int64
}

func (s *spyStore) Issue(ctx context.Context, r store.IssueRequest) (store.IssueResult, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.issues = append(s.issues, r)
	s.mu.Unlock()
	return s.Store.Issue(ctx, r)
}

func (s *spyStore) Check(ctx context.Context, r store.CheckRequest) (store.CheckResult, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.checks = append(s.checks, r)
	s.mu.Unlock()
	return s.Store.Check(ctx, r)
}

func (s *spyStore) Withdraw(ctx context.Context, key string, scope, digest []byte) error {
	s.calls.Add(1)
	s.mu.Lock()
	s.withdraw++
	s.mu.Unlock()
	return s.Store.Withdraw(ctx, key, scope, digest)
}

// fixture is a Verifier on a memstore on the real clock. A test that moves
// time runs in a synctest bubble, where time.Sleep moves the clock at once.
type fixture struct {
	v     *otp.Verifier
	rec   *sendertest.Recorder
	store *spyStore
}

func newFixture(t *testing.T, mutate func(*otp.Config)) *fixture {
	t.Helper()
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	f := &fixture{rec: &sendertest.Recorder{}, store: &spyStore{Store: ms}}
	cfg := otp.Config{Store: f.store, Sender: f.rec, Secret: testSecret}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := otp.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	f.v = v
	return f
}

// start starts a verification and returns the code that was sent.
func (f *fixture) start(t *testing.T, to string, ch sender.Channel, opts ...otp.StartOption) (otp.StartResult, string) {
	t.Helper()
	res, err := f.v.Start(context.Background(), to, ch, opts...)
	if err != nil {
		t.Fatalf("Start(%s, %s): %v", to, ch, err)
	}
	m, ok := f.rec.Last(res.To)
	if !ok {
		t.Fatalf("Start(%s): no message sent", to)
	}
	return res, m.Code
}

func (f *fixture) check(t *testing.T, to, code string, opts ...otp.CheckOption) otp.CheckResult {
	t.Helper()
	res, err := f.v.Check(context.Background(), to, code, opts...)
	if err != nil {
		t.Fatalf("Check(%s): %v", to, err)
	}
	return res
}

func TestStartCheckApproved(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	res, code := f.start(t, "+1 (415) 555-0100", sender.SMS)
	if res.Status != otp.Pending || res.To != alice || res.Region != "US" || res.Channel != sender.SMS {
		t.Errorf("StartResult = %+v, want pending sms to %s in US", res, alice)
	}
	if res.ExpiresIn != 5*time.Minute || res.ResendIn != 30*time.Second {
		t.Errorf("ExpiresIn, ResendIn = %v, %v; want the policy's TTL 5m0s and cooldown 30s", res.ExpiresIn, res.ResendIn)
	}
	if res.Remaining != 5 {
		t.Errorf("Remaining = %d, want 5", res.Remaining)
	}
	m, _ := f.rec.Last(alice)
	if len(m.Code) != 6 || m.Channel != sender.SMS || m.TTL != 5*time.Minute || m.Ref == "" {
		t.Errorf("message = %+v code len %d, want a 6-digit sms with TTL 5m and a ref", m, len(m.Code))
	}
	if got := f.check(t, alice, code); got.Status != otp.Approved || got.To != alice {
		t.Errorf("Check(correct) = %+v, want approved", got)
	}
	// Single use (SECURITY.md, "double use of a code").
	if got := f.check(t, alice, code); got.Status != otp.Expired {
		t.Errorf("second Check(correct) = %+v, want expired", got)
	}
}

// TestCheckNonCanonicalNumber checks that Check accepts other spellings of
// the number Start normalised.
func TestCheckNonCanonicalNumber(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Config) { c.DefaultRegion = "US" })
	_, code := f.start(t, "(415) 555-0100", sender.SMS)
	if got := f.check(t, "415.555.0100", code); got.Status != otp.Approved {
		t.Errorf("Check(national spelling) = %+v, want approved", got)
	}
}

// TestAttemptsAndLock: MaxAttempts wrong guesses lock one code
// (SECURITY.md, "guessing a code").
func TestAttemptsAndLock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, code := f.start(t, alice, sender.SMS)
	bad := otptest.Wrong(code)
	for want := 4; want >= 1; want-- {
		got := f.check(t, alice, bad)
		if got.Status != otp.Rejected || got.Remaining != want {
			t.Fatalf("Check(wrong) = %+v, want rejected with %d remaining", got, want)
		}
	}
	if got := f.check(t, alice, bad); got.Status != otp.Locked {
		t.Fatalf("5th Check(wrong) = %+v, want locked", got)
	}
	if got := f.check(t, alice, code); got.Status != otp.Expired {
		t.Errorf("Check(correct) after lock = %+v, want expired (the code is gone)", got)
	}
}

// TestResendKeepsAttempts: a resend or channel switch does not reset the
// attempt count (SECURITY.md, "guessing a code"), and the new code
// replaces the old one.
func TestResendKeepsAttempts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(c *otp.Config) { c.Generator = &seqGen{codes: []string{"111111", "222222"}} })
		_, first := f.start(t, alice, sender.SMS)
		for range 3 {
			f.check(t, alice, otptest.Wrong(first))
		}
		time.Sleep(30 * time.Second)
		res, second := f.start(t, alice, sender.Call)
		if res.Remaining != 2 {
			t.Errorf("Remaining after resend = %d, want 2", res.Remaining)
		}
		if m, _ := f.rec.Last(alice); m.Channel != sender.Call {
			t.Errorf("resend channel = %s, want call", m.Channel)
		}
		if first != "111111" || second != "222222" {
			t.Fatalf("codes sent %q, %q; want the generator's 111111, 222222", first, second)
		}
		// The old code is no longer valid: presenting it is a wrong guess.
		if got := f.check(t, alice, first); got.Status != otp.Rejected || got.Remaining != 1 {
			t.Fatalf("Check(old code) = %+v, want rejected with 1 remaining", got)
		}
		if got := f.check(t, alice, otptest.Wrong(second)); got.Status != otp.Locked {
			t.Fatalf("Check(wrong) = %+v, want locked after 5 wrong guesses in all", got)
		}
		if got := f.check(t, alice, second); got.Status != otp.Expired {
			t.Errorf("Check(new code) after lock = %+v, want expired", got)
		}
	})
}

// seqGen returns its codes in turn.
type seqGen struct {
	mu    sync.Mutex
	codes []string
	i     int
}

func (g *seqGen) Generate(int) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.codes[g.i%len(g.codes)]
	g.i++
	return c, nil
}

func TestKeepCodeResendsSameCode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(c *otp.Config) { c.Policy.KeepCode = true })
		res1, first := f.start(t, alice, sender.SMS)
		f.check(t, alice, otptest.Wrong(first))
		time.Sleep(time.Minute)
		res2, second := f.start(t, alice, sender.Call)
		if second != first || !res2.Reused {
			t.Fatalf("resend with KeepCode: code changed or Reused=%v", res2.Reused)
		}
		if want := res1.ExpiresIn - time.Minute; res2.ExpiresIn != want {
			t.Errorf("ExpiresIn after resend a minute later = %v, want the original expiry, %v away", res2.ExpiresIn, want)
		}
		if res2.Remaining != 4 {
			t.Errorf("Remaining = %d, want 4", res2.Remaining)
		}
		// The kept code is stored sealed, never in clear.
		for _, r := range f.store.issues {
			if bytes.Contains(r.Sealed, []byte(first)) || len(r.Sealed) == 0 {
				t.Errorf("Sealed = %x: want a non-empty ciphertext without the code", r.Sealed)
			}
		}
		if got := f.check(t, alice, first); got.Status != otp.Approved {
			t.Errorf("Check(kept code) = %+v, want approved", got)
		}
	})
}

// TestExpiry: a code is refused once its TTL has passed (SECURITY.md, "a
// code kept for later").
func TestExpiry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(c *otp.Config) { c.Policy.TTL = time.Minute })
		_, code := f.start(t, alice, sender.SMS)
		time.Sleep(59 * time.Second)
		_, code2 := f.start(t, bob, sender.SMS)
		if got := f.check(t, bob, code2); got.Status != otp.Approved {
			t.Fatalf("Check before TTL = %+v, want approved", got)
		}
		time.Sleep(2 * time.Second)
		if got := f.check(t, alice, code); got.Status != otp.Expired {
			t.Errorf("Check after TTL = %+v, want expired", got)
		}
	})
}

// TestConcurrentCorrectChecks: of 100 concurrent correct checks exactly one
// is approved (SECURITY.md, "double use of a code").
func TestConcurrentCorrectChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, code := f.start(t, alice, sender.SMS)
	counts := otptest.Concurrently(t, 100, func(int) (otp.CheckResult, error) {
		return f.v.Check(context.Background(), alice, code)
	})
	if counts[otp.Approved] != 1 || counts[otp.Expired] != 99 {
		t.Errorf("100 concurrent correct checks: %v, want 1 approved and 99 expired", counts)
	}
}

// TestConcurrentWrongGuesses: 1,000 concurrent wrong guesses count exactly
// MaxAttempts (SECURITY.md, "guessing in parallel").
func TestConcurrentWrongGuesses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, code := f.start(t, alice, sender.SMS)
	counts := otptest.Concurrently(t, 1000, func(i int) (otp.CheckResult, error) {
		g := fmt.Sprintf("%06d", i)
		if g == code {
			g = otptest.Wrong(code)
		}
		return f.v.Check(context.Background(), alice, g)
	})
	if counts[otp.Rejected] != 4 || counts[otp.Locked] != 1 || counts[otp.Expired] != 995 || counts[otp.Approved] != 0 {
		t.Errorf("1,000 concurrent wrong guesses: %v, want 4 rejected, 1 locked, 995 expired", counts)
	}
	if got := f.check(t, alice, code); got.Status != otp.Expired {
		t.Errorf("Check(correct) after lock = %+v, want expired", got)
	}
}

func rateLimit(t *testing.T, err error) *otp.RateLimitError {
	t.Helper()
	var rl *otp.RateLimitError
	if !errors.Is(err, otp.ErrRateLimited) || !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a *RateLimitError", err)
	}
	return rl
}

// TestSendLimits: the cooldown, the budget per destination, the per-key
// budget and the global budget each refuse a send (SECURITY.md, "SMS
// pumping / toll fraud").
func TestSendLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("cooldown and window", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			f := newFixture(t, nil)
			f.start(t, alice, sender.SMS)
			time.Sleep(10 * time.Second)
			_, err := f.v.Start(ctx, alice, sender.Call)
			rl := rateLimit(t, err)
			if rl.Reason != otp.LimitCooldown || rl.RetryAfter != 20*time.Second {
				t.Errorf("second send: %+v, want cooldown with RetryAfter 20s", rl)
			}
			for range 4 {
				time.Sleep(30 * time.Second)
				f.start(t, alice, sender.SMS)
			}
			time.Sleep(30 * time.Second)
			_, err = f.v.Start(ctx, alice, sender.SMS)
			rl = rateLimit(t, err)
			if rl.Reason != otp.LimitWindow || rl.RetryAfter <= 0 || rl.RetryAfter > time.Hour {
				t.Errorf("6th send in an hour: %+v, want the destination budget", rl)
			}
			if n := f.rec.Len(); n != 5 {
				t.Errorf("messages sent = %d, want 5", n)
			}
			time.Sleep(rl.RetryAfter)
			f.start(t, alice, sender.SMS)
		})
	})
	t.Run("limit key", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(c *otp.Config) { c.Policy.KeySends = 3 })
		for i := range 3 {
			f.start(t, fmt.Sprintf("+1415555%04d", 200+i), sender.SMS, otp.WithLimitKey("198.51.100.7"))
		}
		_, err := f.v.Start(ctx, "+14155550299", sender.SMS, otp.WithLimitKey("198.51.100.7"))
		if rl := rateLimit(t, err); rl.Reason != otp.LimitKey {
			t.Errorf("4th send from one key: reason %s, want %s", rl.Reason, otp.LimitKey)
		}
		f.start(t, "+14155550299", sender.SMS, otp.WithLimitKey("198.51.100.8"))
	})
	t.Run("global", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			f := newFixture(t, func(c *otp.Config) { c.Policy.GlobalSends = 4 })
			for i := range 4 {
				f.start(t, fmt.Sprintf("+1415555%04d", 300+i), sender.SMS)
			}
			_, err := f.v.Start(ctx, "+14155550399", sender.SMS)
			if rl := rateLimit(t, err); rl.Reason != otp.LimitGlobal || rl.RetryAfter > time.Minute {
				t.Errorf("5th send: %+v, want the global budget", rl)
			}
			time.Sleep(time.Minute)
			f.start(t, "+14155550399", sender.SMS)
		})
	})
	t.Run("concurrent senders stay within the budget", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(c *otp.Config) { c.Policy.Cooldown = -1 })
		var ok, limited atomic.Int64
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				_, err := f.v.Start(ctx, alice, sender.SMS)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, otp.ErrRateLimited):
					limited.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 5 || limited.Load() != 195 || f.rec.Len() != 5 {
			t.Errorf("200 concurrent sends: %d sent, %d limited, %d messages; want 5, 195, 5", ok.Load(), limited.Load(), f.rec.Len())
		}
	})
}

// TestFailureCap: consecutive failures across codes lock the destination
// until the window passes; an approval resets the count.
func TestFailureCap(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(c *otp.Config) {
			c.Policy.MaxFailures = 7
			c.Policy.Cooldown = -1
			c.Policy.SendsPerWindow = 20
		})
		_, code := f.start(t, alice, sender.SMS)
		for range 4 {
			f.check(t, alice, otptest.Wrong(code))
		}
		_, code = f.start(t, alice, sender.SMS) // attempts carried: 4 of 5
		f.check(t, alice, otptest.Wrong(code))  // 5: locked, failures = 5
		_, code = f.start(t, alice, sender.SMS)
		if got := f.check(t, alice, otptest.Wrong(code)); got.Status != otp.Rejected || got.Remaining != 1 {
			t.Fatalf("6th consecutive failure = %+v, want rejected with 1 remaining (the cap, not the code's 4)", got)
		}
		if got := f.check(t, alice, otptest.Wrong(code)); got.Status != otp.Locked {
			t.Fatalf("7th consecutive failure = %+v, want locked", got)
		}
		time.Sleep(time.Hour)
		if _, err := f.v.Start(context.Background(), alice, sender.SMS); err == nil {
			t.Fatal("Start after the failure cap succeeded")
		}
		if got := f.check(t, alice, code); got.Status != otp.Locked {
			t.Fatalf("check after 7 consecutive failures = %+v, want locked even for the right code", got)
		}
		_, err := f.v.Start(context.Background(), alice, sender.SMS)
		if rl := rateLimit(t, err); rl.Reason != otp.LimitFailures || rl.RetryAfter != 23*time.Hour {
			t.Errorf("send after the failure cap: reason %s, want %s", rl.Reason, otp.LimitFailures)
		}
		time.Sleep(23 * time.Hour)
		_, code = f.start(t, alice, sender.SMS)
		f.check(t, alice, otptest.Wrong(code))
		if got := f.check(t, alice, code); got.Status != otp.Approved {
			t.Fatalf("Check after the failure window = %+v, want approved", got)
		}
		// The approval reset the counter: 6 more failures are allowed again.
		_, code = f.start(t, alice, sender.SMS)
		for range 4 {
			if got := f.check(t, alice, otptest.Wrong(code)); got.Status != otp.Rejected {
				t.Fatalf("Check(wrong) after reset = %+v, want rejected", got)
			}
		}
	})
}

func TestBinding(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, code := f.start(t, alice, sender.SMS, otp.WithBinding("session-A"))
	// Outside the binding nothing is pending, right code or not, and the
	// code's attempts stay untouched.
	for range 10 {
		if got := f.check(t, alice, code, otp.WithBinding("session-B")); got.Status != otp.Expired {
			t.Errorf("Check with another binding = %+v, want expired", got)
		}
		if got := f.check(t, alice, otptest.Wrong(code)); got.Status != otp.Expired {
			t.Errorf("Check without the binding = %+v, want expired", got)
		}
	}
	if got := f.check(t, alice, otptest.Wrong(code), otp.WithBinding("session-A")); got.Status != otp.Rejected || got.Remaining != 4 {
		t.Errorf("wrong Check with the binding = %+v, want rejected with 4 remaining", got)
	}
	if got := f.check(t, alice, code, otp.WithBinding("session-A")); got.Status != otp.Approved {
		t.Errorf("Check with the binding = %+v, want approved", got)
	}
}

func TestBeforeSendVeto(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		errLandline := errors.New("landline")
		var seen otp.SendRequest
		var calls atomic.Int64
		f := newFixture(t, func(c *otp.Config) {
			c.Generator = fixedGen("123456")
			c.BeforeSend = func(_ context.Context, r otp.SendRequest) error {
				calls.Add(1)
				seen = r
				if r.Channel == sender.SMS {
					return errLandline
				}
				return nil
			}
		})
		ctx := context.Background()
		_, err := f.v.Start(ctx, alice, sender.SMS, otp.WithLimitKey("ip"))
		if !errors.Is(err, otp.ErrVetoed) || !errors.Is(err, errLandline) {
			t.Fatalf("vetoed Start err = %v, want ErrVetoed wrapping the hook's error", err)
		}
		if seen.Number.E164 != alice || seen.Number.Region != "US" || seen.LimitKey != "ip" {
			t.Errorf("hook saw %+v", seen)
		}
		if f.rec.Len() != 0 {
			t.Errorf("vetoed send: %d messages, want none", f.rec.Len())
		}
		// The vetoed code was withdrawn.
		if got := f.check(t, alice, "123456"); got.Status != otp.Expired {
			t.Errorf("Check(vetoed code) = %+v, want expired", got)
		}
		// The limits bound the hook: within the client's cooldown it is not called.
		if _, err := f.v.Start(ctx, alice, sender.SMS, otp.WithLimitKey("ip")); !errors.Is(err, otp.ErrRateLimited) {
			t.Errorf("second Start err = %v, want rate limited", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("BeforeSend called %d times, want 1 (the rate-limited Start must not reach it)", n)
		}
		time.Sleep(30 * time.Second)
		f.start(t, alice, sender.Call, otp.WithLimitKey("ip"))
	})
}

// TestKeepCodeWithBinding: a kept code is not re-sent to another binding
// (it would not check there); the other binding gets a code of its own,
// with its own attempts, and the first binding's code stays pending.
func TestKeepCodeWithBinding(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Config) { c.Policy.KeepCode = true; c.Policy.Cooldown = -1 })
	_, a := f.start(t, alice, sender.SMS, otp.WithBinding("session-A"))
	f.check(t, alice, otptest.Wrong(a), otp.WithBinding("session-A"))
	res, b := f.start(t, alice, sender.SMS, otp.WithBinding("session-B"))
	if res.Reused || res.Remaining != 5 {
		t.Errorf("send to another binding: Reused=%v Remaining=%d, want a new code with 5 guesses left", res.Reused, res.Remaining)
	}
	if got := f.check(t, alice, b, otp.WithBinding("session-B")); got.Status != otp.Approved {
		t.Errorf("Check(session B's code in session B) = %+v, want approved", got)
	}
	if got := f.check(t, alice, a, otp.WithBinding("session-A")); got.Status != otp.Approved {
		t.Errorf("Check(session A's code in session A) = %+v, want approved (not replaced by B's)", got)
	}
}

func TestTestNumbers(t *testing.T) {
	t.Parallel()
	nums := map[string]string{"+1 415 555 0199": "123456"}
	_, err := otp.NewVerifier(otp.Config{Store: memstore.New(), Sender: &sendertest.Recorder{}, Secret: testSecret, TestNumbers: nums})
	if !errors.Is(err, otp.ErrInvalidConfig) {
		t.Fatalf("TestNumbers without AllowTestNumbers: err = %v, want ErrInvalidConfig", err)
	}
	f := newFixture(t, func(c *otp.Config) { c.TestNumbers, c.AllowTestNumbers = nums, true })
	for range 8 { // beyond cooldown and budget: test numbers are exempt
		res, err := f.v.Start(context.Background(), "+14155550199", sender.SMS)
		if err != nil || res.Status != otp.Pending {
			t.Fatalf("Start(test number) = %+v, %v", res, err)
		}
	}
	if f.rec.Len() != 0 {
		t.Errorf("test number: %d messages sent, want none", f.rec.Len())
	}
	if got := f.check(t, "+14155550199", "654321"); got.Status != otp.Rejected {
		t.Errorf("Check(test number, wrong) = %+v, want rejected", got)
	}
	if got := f.check(t, "+14155550199", "123456"); got.Status != otp.Approved {
		t.Errorf("Check(test number, fixed code) = %+v, want approved", got)
	}
}

func TestAllowedRegions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Config) { c.Policy.AllowedRegions = []string{"us", "CA"} })
	_, err := f.v.Start(context.Background(), "+442079460000", sender.SMS)
	if !errors.Is(err, otp.ErrCountryNotAllowed) {
		t.Errorf("GB number: err = %v, want ErrCountryNotAllowed", err)
	}
	if f.store.calls.Load() != 0 || f.rec.Len() != 0 {
		t.Error("refused region touched the store or sent a message")
	}
	f.start(t, alice, sender.SMS)
}

// TestBadInput: bad input gets a typed error, no panic and no store
// access (SECURITY.md, "bad input").
func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Config) { c.Policy.Channels = []sender.Channel{sender.SMS} })
	ctx := context.Background()
	starts := []struct {
		name string
		to   string
		ch   sender.Channel
		opts []otp.StartOption
		want error
	}{
		{"empty number", "", sender.SMS, nil, otp.ErrInvalidNumber},
		{"letters", "+1415abc0100", sender.SMS, nil, otp.ErrInvalidNumber},
		{"too short", "+1415", sender.SMS, nil, otp.ErrInvalidNumber},
		{"too long", "+" + strings.Repeat("1", 70), sender.SMS, nil, otp.ErrInvalidNumber},
		{"national without region", "4155550100", sender.SMS, nil, otp.ErrInvalidNumber},
		{"invalid number", "+10005550100", sender.SMS, nil, otp.ErrInvalidNumber},
		{"extension", "+14155550100 ext. 12", sender.SMS, nil, otp.ErrInvalidNumber},
		{"control char", "+1415555\x000100", sender.SMS, nil, otp.ErrInvalidNumber},
		{"unknown channel", alice, "fax", nil, otp.ErrInvalidChannel},
		{"empty channel", alice, "", nil, otp.ErrInvalidChannel},
		{"channel not allowed", alice, sender.Call, nil, otp.ErrChannelNotAllowed},
		{"long binding", alice, sender.SMS, []otp.StartOption{otp.WithBinding(strings.Repeat("b", 300))}, otp.ErrInvalidOption},
		{"empty limit key", alice, sender.SMS, []otp.StartOption{otp.WithLimitKey("")}, otp.ErrInvalidOption},
		{"bad locale", alice, sender.SMS, []otp.StartOption{otp.WithLocale("en US<script>")}, otp.ErrInvalidOption},
	}
	for _, tc := range starts {
		_, err := f.v.Start(ctx, tc.to, tc.ch, tc.opts...)
		if !errors.Is(err, tc.want) {
			t.Errorf("Start %s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	checks := []struct {
		name, to, code string
		want           error
	}{
		{"empty code", alice, "", otp.ErrInvalidCode},
		{"short code", alice, "12345", otp.ErrInvalidCode},
		{"long code", alice, "1234567", otp.ErrInvalidCode},
		{"letters", alice, "12a456", otp.ErrInvalidCode},
		{"unicode digits", alice, "١٢٣٤٥٦", otp.ErrInvalidCode},
		{"spaces", alice, "123 56", otp.ErrInvalidCode},
		{"bad number", "+1", "123456", otp.ErrInvalidNumber},
		{"garbage number", "not a number", "123456", otp.ErrInvalidNumber},
	}
	for _, tc := range checks {
		_, err := f.v.Check(ctx, tc.to, tc.code)
		if !errors.Is(err, tc.want) {
			t.Errorf("Check %s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if n := f.store.calls.Load(); n != 0 {
		t.Errorf("bad input reached the store %d times, want 0", n)
	}
	if n := f.rec.Len(); n != 0 {
		t.Errorf("bad input sent %d messages, want 0", n)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	rec := &sendertest.Recorder{}
	ok := otp.Config{Store: ms, Sender: rec, Secret: testSecret}
	cases := []struct {
		name   string
		mutate func(*otp.Config)
	}{
		{"no store", func(c *otp.Config) { c.Store = nil }},
		{"no sender", func(c *otp.Config) { c.Sender = nil }},
		{"short secret", func(c *otp.Config) { c.Secret = testSecret[:31] }},
		{"code length 3", func(c *otp.Config) { c.Policy.CodeLength = 3 }},
		{"code length 11", func(c *otp.Config) { c.Policy.CodeLength = 11 }},
		{"TTL 11m", func(c *otp.Config) { c.Policy.TTL = 11 * time.Minute }},
		{"MaxAttempts 11", func(c *otp.Config) { c.Policy.MaxAttempts = 11 }},
		{"negative MaxAttempts", func(c *otp.Config) { c.Policy.MaxAttempts = -1 }},
		{"MaxFailures 101", func(c *otp.Config) { c.Policy.MaxFailures = 101 }},
		{"negative sends", func(c *otp.Config) { c.Policy.SendsPerWindow = -1 }},
		{"unknown region", func(c *otp.Config) { c.Policy.AllowedRegions = []string{"XX"} }},
		{"unknown channel", func(c *otp.Config) { c.Policy.Channels = []sender.Channel{"fax"} }},
		{"unknown default region", func(c *otp.Config) { c.DefaultRegion = "Atlantis" }},
		{"bad test code", func(c *otp.Config) {
			c.TestNumbers, c.AllowTestNumbers = map[string]string{alice: "12"}, true
		}},
		{"bad test number", func(c *otp.Config) {
			c.TestNumbers, c.AllowTestNumbers = map[string]string{"+1": "123456"}, true
		}},
	}
	for _, tc := range cases {
		cfg := ok
		tc.mutate(&cfg)
		if _, err := otp.NewVerifier(cfg); !errors.Is(err, otp.ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
	if _, err := otp.NewVerifier(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestPolicyOdds(t *testing.T) {
	t.Parallel()
	perCode, perWindow := otp.DefaultPolicy().GuessOdds()
	if perCode != 5e-6 || perWindow != 1e-4 {
		// 5 guesses per code; FailureCeiling, 100, per FailureWindow.
		t.Errorf("GuessOdds = %g, %g; want 5e-6, 1e-4", perCode, perWindow)
	}
	p := otp.DefaultPolicy()
	if p.CodeLength != 6 || p.TTL != 5*time.Minute || p.MaxAttempts != 5 || p.Cooldown != 30*time.Second ||
		p.SendsPerWindow != 5 || p.SendWindow != time.Hour {
		t.Errorf("DefaultPolicy = %+v", p)
	}
}

// failingStore fails every call.
type failingStore struct{ err error }

func (s failingStore) Issue(context.Context, store.IssueRequest) (store.IssueResult, error) {
	return store.IssueResult{}, s.err
}
func (s failingStore) Check(context.Context, store.CheckRequest) (store.CheckResult, error) {
	return store.CheckResult{}, s.err
}
func (s failingStore) Withdraw(context.Context, string, []byte, []byte) error { return s.err }
func (s failingStore) Attempt(context.Context, store.AttemptRequest) (store.AttemptResult, error) {
	return store.AttemptResult{}, s.err
}

// TestFaults: faults fail closed with typed errors (SECURITY.md,
// "infrastructure faults").
func TestFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		down := errors.New("connection refused")
		rec := &sendertest.Recorder{}
		v, err := otp.NewVerifier(otp.Config{Store: failingStore{down}, Sender: rec, Secret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Start(ctx, alice, sender.SMS); !errors.Is(err, otp.ErrStoreUnavailable) || !errors.Is(err, down) {
			t.Errorf("Start: err = %v, want ErrStoreUnavailable wrapping the cause", err)
		}
		if rec.Len() != 0 {
			t.Error("a code was sent although it could not be stored")
		}
		res, err := v.Check(ctx, alice, "123456")
		if !errors.Is(err, otp.ErrStoreUnavailable) || res.Status == otp.Approved {
			t.Errorf("Check: %+v, %v; want ErrStoreUnavailable and no approval", res, err)
		}
	})
	t.Run("send fails", func(t *testing.T) {
		t.Parallel()
		var sent string
		down := errors.New("provider 503")
		ms := memstore.New()
		t.Cleanup(func() { ms.Close() })
		v, err := otp.NewVerifier(otp.Config{Store: ms, Secret: testSecret,
			Sender: sender.Func(func(_ context.Context, m sender.Message) error { sent = m.Code; return down })})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Start(ctx, alice, sender.SMS); !errors.Is(err, otp.ErrSendFailed) || !errors.Is(err, down) {
			t.Fatalf("Start: err = %v, want ErrSendFailed wrapping the cause", err)
		}
		if res, err := v.Check(ctx, alice, sent); err != nil || res.Status != otp.Expired {
			t.Errorf("Check(unsent code) = %+v, %v; want expired: the code must be withdrawn", res, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := f.v.Start(cctx, alice, sender.SMS); !errors.Is(err, context.Canceled) {
			t.Errorf("Start(cancelled) err = %v, want context.Canceled", err)
		}
		if f.rec.Len() != 0 {
			t.Error("cancelled Start sent a message")
		}
		if _, err := f.v.Check(cctx, alice, "123456"); !errors.Is(err, context.Canceled) {
			t.Errorf("Check(cancelled) err = %v, want context.Canceled", err)
		}
	})
}

// TestNothingInClear: at the boundary the otp package owns, nothing handed
// to the store, no event, no log line and no error holds the code or the
// number (SECURITY.md, "a stolen Redis dump" and "the code in a URL or a
// log").
func TestNothingInClear(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var events []otp.Event
	var mu sync.Mutex
	obs := otp.ObserverFunc(func(ctx context.Context, e otp.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		otp.SlogObserver(slog.New(slog.NewJSONHandler(&logs, nil))).Observe(ctx, e)
	})
	f := newFixture(t, func(c *otp.Config) { c.Observer = obs; c.Policy.KeepCode = true })
	_, code := f.start(t, alice, sender.SMS)
	var errs []string
	for _, g := range []string{otptest.Wrong(code), otptest.Wrong(otptest.Wrong(code))} {
		f.check(t, alice, g)
	}
	if _, err := f.v.Start(context.Background(), alice, sender.SMS); err != nil {
		errs = append(errs, err.Error())
	}
	f.check(t, alice, code)
	f.check(t, alice, code)
	for _, bad := range []string{"12345", "abcdef"} {
		if _, err := f.v.Check(context.Background(), alice, bad); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if _, err := f.v.Start(context.Background(), "+1415555010", sender.SMS); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) < 3 {
		t.Fatalf("expected errors to inspect, got %v", errs)
	}

	secrets := []string{code, alice, alice[1:], "4155550100", string(testSecret)}
	var dump bytes.Buffer
	for _, r := range f.store.issues {
		fmt.Fprintf(&dump, "%s %x %x %+v\n", r.Key, r.Digest, r.Sealed, r.Limits)
		dump.Write(r.Digest)
		dump.Write(r.Sealed)
	}
	for _, r := range f.store.checks {
		fmt.Fprintf(&dump, "%s %x\n", r.Key, r.Digest)
		dump.Write(r.Digest)
	}
	for _, e := range events {
		fmt.Fprintf(&dump, "%+v\n", e)
	}
	dump.WriteString(strings.Join(errs, "\n"))
	m, _ := f.rec.Last(alice)
	fmt.Fprintf(&dump, "%v %+v %#v %s\n", m, m, m, m.String())
	slog.New(slog.NewTextHandler(&dump, nil)).Info("message", "m", m)
	dump.Write(logs.Bytes())
	for _, s := range secrets {
		if bytes.Contains(dump.Bytes(), []byte(s)) {
			t.Errorf("%q appears in store requests, events, logs or errors:\n%s", s, dump.String())
		}
	}
	kinds := map[otp.EventKind]bool{}
	for _, e := range events {
		kinds[e.Kind] = true
		if e.Fingerprint == "" || e.Region != "US" {
			t.Errorf("event %+v: want a fingerprint and region US", e)
		}
	}
	for _, k := range []otp.EventKind{otp.EventIssued, otp.EventSent, otp.EventRejected, otp.EventRateLimited, otp.EventApproved, otp.EventExpired} {
		if !kinds[k] {
			t.Errorf("no %s event observed", k)
		}
	}
}

// lateStore saves the code but reports a failure, as a store does when its
// reply times out after the write went through.
type lateStore struct{ store.Store }

var errLate = errors.New("i/o timeout")

func (s lateStore) Issue(ctx context.Context, r store.IssueRequest) (store.IssueResult, error) {
	if _, err := s.Store.Issue(ctx, r); err != nil {
		return store.IssueResult{}, err
	}
	return store.IssueResult{}, errLate
}

// TestStoreFailureLeavesNoValidCode: a Start whose Issue failed sends
// nothing, and the code the store may have saved anyway is withdrawn
// (SECURITY.md, "codes that were never delivered").
func TestStoreFailureLeavesNoValidCode(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	rec := &sendertest.Recorder{}
	v, err := otp.NewVerifier(otp.Config{Store: lateStore{ms}, Sender: rec, Secret: testSecret, Generator: fixedGen("123456")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Start(ctx, alice, sender.SMS); !errors.Is(err, otp.ErrStoreUnavailable) || !errors.Is(err, errLate) {
		t.Fatalf("Start err = %v, want ErrStoreUnavailable wrapping the cause", err)
	}
	if rec.Len() != 0 {
		t.Fatal("a code was sent although the store failed")
	}
	if res, err := v.Check(ctx, alice, "123456"); err != nil || res.Status != otp.Expired {
		t.Errorf("Check(unsent code) = %+v, %v; want expired: the code saved late must be withdrawn", res, err)
	}
}

// TestLimitReasonsMatchStore: the limits otp and store both name read the
// same in both.
func TestLimitReasonsMatchStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		otp   otp.LimitReason
		store store.LimitReason
	}{
		{otp.LimitCooldown, store.LimitCooldown},
		{otp.LimitWindow, store.LimitWindow},
		{otp.LimitFailures, store.LimitFailures},
	} {
		if string(tc.otp) != tc.store.String() {
			t.Errorf("otp.LimitReason %q, store %q: want one word", tc.otp, tc.store)
		}
	}
}
