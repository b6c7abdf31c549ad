package e2e_test

// Attack tests: toll fraud and brute force against the whole Verifier, on
// every store go2fa ships: memstore, redisstore on miniredis, and — when
// REDIS_URL / REDIS_CLUSTER_ADDRS are set, as .ci/run does — a real
// redis-server and a real three-node Redis Cluster.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/redisstore"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

type storeCase struct {
	name string
	open func(t *testing.T) store.Store
}

func randomPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "attack-" + hex.EncodeToString(b)
}

func redisStore(t *testing.T, c redis.UniversalClient) store.Store {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	s, err := redisstore.New(c, redisstore.WithPrefix(randomPrefix(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allStores lists the stores to attack. Real servers are used when their
// variable is set and skipped, with a message, when it is not.
func allStores() []storeCase {
	return []storeCase{
		{"memstore", func(t *testing.T) store.Store {
			s := memstore.New()
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"miniredis", func(t *testing.T) store.Store {
			m := miniredis.RunT(t)
			return redisStore(t, redis.NewClient(&redis.Options{Addr: m.Addr()}))
		}},
		{"redis", func(t *testing.T) store.Store {
			u := os.Getenv("REDIS_URL")
			if u == "" {
				t.Skip("REDIS_URL not set: skipping the attack on a real redis-server (.ci/run sets it)")
			}
			opt, err := redis.ParseURL(u)
			if err != nil {
				t.Fatalf("REDIS_URL: %v", err)
			}
			opt.PoolSize = 64
			return redisStore(t, redis.NewClient(opt))
		}},
		{"cluster", func(t *testing.T) store.Store {
			addrs := os.Getenv("REDIS_CLUSTER_ADDRS")
			if addrs == "" {
				t.Skip("REDIS_CLUSTER_ADDRS not set: skipping the attack on a Redis Cluster (.ci/run sets it)")
			}
			return redisStore(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), PoolSize: 64}))
		}},
	}
}

func attackVerifier(t *testing.T, st store.Store, p otp.Policy) (*otp.Verifier, *sendertest.Recorder) {
	t.Helper()
	rec := &sendertest.Recorder{}
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: rec, Secret: testSecret, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	return v, rec
}

// startAll runs one Start per entry concurrently and counts the outcomes.
func startAll(t *testing.T, v *otp.Verifier, calls []func() (otp.StartResult, error)) (sent int, limited map[otp.LimitReason]int) {
	t.Helper()
	var mu sync.Mutex
	limited = map[otp.LimitReason]int{}
	var wg sync.WaitGroup
	var ok atomic.Int64
	gate := make(chan struct{})
	for _, call := range calls {
		wg.Go(func() {
			<-gate
			_, err := call()
			var rl *otp.RateLimitError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &rl):
				mu.Lock()
				limited[rl.Reason]++
				mu.Unlock()
			default:
				t.Errorf("Start: %v", err)
			}
		})
	}
	close(gate)
	wg.Wait()
	return int(ok.Load()), limited
}

// TestTollFraud: floods of sends stay under every budget, on every store,
// under 200 concurrent callers.
func TestTollFraud(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, sc := range allStores() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("one number, 200 callers", func(t *testing.T) {
				t.Parallel()
				v, rec := attackVerifier(t, sc.open(t), otp.Policy{Cooldown: -1, SendsPerWindow: 5})
				calls := make([]func() (otp.StartResult, error), 200)
				for i := range calls {
					calls[i] = func() (otp.StartResult, error) { return v.Start(ctx, alice, sender.SMS) }
				}
				sent, limited := startAll(t, v, calls)
				if sent != 5 || limited[otp.LimitWindow] != 195 || rec.Len() != 5 {
					t.Errorf("sent %d, limited %v, messages %d; want 5 sent, 195 limited by the destination budget", sent, limited, rec.Len())
				}
			})
			t.Run("one IP, 200 numbers", func(t *testing.T) {
				t.Parallel()
				v, rec := attackVerifier(t, sc.open(t), otp.Policy{KeySends: 10})
				nums := otptest.Numbers(200)
				calls := make([]func() (otp.StartResult, error), len(nums))
				for i, n := range nums {
					calls[i] = func() (otp.StartResult, error) {
						return v.Start(ctx, n, sender.SMS, otp.WithLimitKey("203.0.113.9"))
					}
				}
				sent, limited := startAll(t, v, calls)
				if sent != 10 || limited[otp.LimitKey] != 190 || rec.Len() != 10 {
					t.Errorf("sent %d, limited %v, messages %d; want 10 sent, 190 limited by the IP budget", sent, limited, rec.Len())
				}
				// Another IP still gets through: the ceiling is per key.
				if _, err := v.Start(ctx, "+14155550999", sender.SMS, otp.WithLimitKey("203.0.113.10")); err != nil {
					t.Errorf("Start from another IP: %v", err)
				}
			})
			t.Run("global budget, 200 numbers from 200 IPs", func(t *testing.T) {
				t.Parallel()
				v, rec := attackVerifier(t, sc.open(t), otp.Policy{GlobalSends: 25})
				nums := otptest.Numbers(200)
				calls := make([]func() (otp.StartResult, error), len(nums))
				for i, n := range nums {
					calls[i] = func() (otp.StartResult, error) {
						return v.Start(ctx, n, sender.SMS, otp.WithLimitKey(fmt.Sprintf("198.51.100.%d", i)))
					}
				}
				sent, limited := startAll(t, v, calls)
				if sent != 25 || limited[otp.LimitGlobal] != 175 || rec.Len() != 25 {
					t.Errorf("sent %d, limited %v, messages %d; want 25 sent, 175 limited by the global budget", sent, limited, rec.Len())
				}
			})
			t.Run("country allow-list", func(t *testing.T) {
				t.Parallel()
				v, rec := attackVerifier(t, sc.open(t), otp.Policy{AllowedRegions: []string{"US"}})
				for _, n := range []string{"+442079460000", "+33612345678", "+4915112345678"} {
					if _, err := v.Start(ctx, n, sender.SMS); !errors.Is(err, otp.ErrCountryNotAllowed) {
						t.Errorf("Start(%s) err = %v, want ErrCountryNotAllowed", n[:4], err)
					}
				}
				if rec.Len() != 0 {
					t.Errorf("%d messages sent outside the allow-list", rec.Len())
				}
			})
		})
	}
}

// TestBruteForce: guesses against one code are bounded by MaxAttempts on
// every store, under concurrency and across resends.
func TestBruteForce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, sc := range allStores() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("1000 concurrent wrong guesses", func(t *testing.T) {
				t.Parallel()
				v, rec := attackVerifier(t, sc.open(t), otp.Policy{})
				if _, err := v.Start(ctx, alice, sender.SMS); err != nil {
					t.Fatal(err)
				}
				m, _ := rec.Last(alice)
				counts := otptest.Concurrently(t, 1000, func(i int) (otp.CheckResult, error) {
					g := fmt.Sprintf("%06d", i)
					if g == m.Code {
						g = otptest.Wrong(m.Code)
					}
					return v.Check(ctx, alice, g)
				})
				if counts[otp.Rejected] != 4 || counts[otp.Locked] != 1 || counts[otp.Approved] != 0 {
					t.Errorf("outcomes %v, want exactly 4 rejected and 1 locked (MaxAttempts 5)", counts)
				}
				if res, err := v.Check(ctx, alice, m.Code); err != nil || res.Status != otp.Expired {
					t.Errorf("right code after the lock = %+v, %v; want expired", res, err)
				}
			})
			t.Run("guessing across resends", func(t *testing.T) {
				t.Parallel()
				v, rec := attackVerifier(t, sc.open(t), otp.Policy{Cooldown: -1, SendsPerWindow: 10})
				wrongGuesses := 0
				for resend := 0; ; resend++ {
					if _, err := v.Start(ctx, bob, []sender.Channel{sender.SMS, sender.Call}[resend%2]); err != nil {
						t.Fatal(err)
					}
					m, _ := rec.Last(bob)
					res, err := v.Check(ctx, bob, otptest.Wrong(m.Code))
					if err != nil {
						t.Fatal(err)
					}
					wrongGuesses++
					if res.Status == otp.Locked {
						break
					}
					if res.Status != otp.Rejected || res.Remaining != 5-wrongGuesses {
						t.Fatalf("guess %d after %d resends = %+v, want rejected with %d left", wrongGuesses, resend, res, 5-wrongGuesses)
					}
				}
				if wrongGuesses != 5 {
					t.Errorf("the code locked after %d wrong guesses across resends, want 5", wrongGuesses)
				}
			})
		})
	}
}

// TestGuessOdds: an attacker who makes every guess the policy allows on
// every verification succeeds no more often than MaxAttempts/10^digits.
// 4-digit codes make the rate measurable: 40,000 verifications, 5 distinct
// guesses each, expected 20 successes (p = 5e-4).
func TestGuessOdds(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the 40,000-verification odds test")
	}
	ctx := context.Background()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	// 40,000 unverified sends to consecutive numbers are what the pumping
	// guard exists to stop; this test measures the guesses alone.
	policy := otp.Policy{CodeLength: 4, Pumping: otp.PumpingPolicy{Disabled: true}}
	v, rec := attackVerifier(t, st, policy)
	perCode, _ := policy.GuessOdds()
	const trials = 40000
	nums := otptest.Numbers(trials)
	wins := 0
	for i, n := range nums {
		if _, err := v.Start(ctx, n, sender.SMS); err != nil {
			t.Fatal(err)
		}
		rec.Reset()
		for g := 0; ; g++ {
			res, err := v.Check(ctx, n, fmt.Sprintf("%04d", (i*7+g*1237)%10000))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status == otp.Approved {
				wins++
				break
			}
			if res.Status == otp.Locked {
				if g != 4 {
					t.Fatalf("locked after %d guesses, want 5", g+1)
				}
				break
			}
			if g >= 4 {
				t.Fatalf("guess %d allowed: %+v", g+1, res)
			}
		}
	}
	// Poisson(20): P(X >= 45) < 1e-6, so a fair bound fails by chance
	// essentially never; a sixth guess per code would push the mean to 24,
	// no lockout at all to ~40,000.
	if want := perCode * trials; float64(wins) > want+25 {
		t.Errorf("%d of %d verifications guessed, want about %.0f (odds %g per code)", wins, trials, want, perCode)
	}
	t.Logf("%d of %d verifications guessed with 5 guesses on 4-digit codes (expected %.0f)", wins, trials, perCode*trials)
}
