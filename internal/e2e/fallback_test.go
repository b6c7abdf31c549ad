package e2e_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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

// fallbackVerifier returns a Verifier with Policy.Fallback on st, and the
// recorders of its SMS and voice routes.
func fallbackVerifier(t *testing.T, st store.Store, p otp.Policy) (v *otp.Verifier, sms, call *sendertest.Recorder) {
	t.Helper()
	sms, call = &sendertest.Recorder{}, &sendertest.Recorder{}
	p.Fallback = true
	v, err := otp.NewVerifier(otp.Config{
		Store:  st,
		Sender: sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: sms, sender.Call: call}),
		Secret: testSecret,
		Policy: p,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, sms, call
}

// startSMS starts a bound verification by SMS and returns the message sent.
func startSMS(t *testing.T, v *otp.Verifier, sms *sendertest.Recorder, binding string) sender.Message {
	t.Helper()
	if _, err := v.Start(t.Context(), alice, sender.SMS, otp.WithBinding(binding)); err != nil {
		t.Fatal(err)
	}
	m, ok := sms.Last(alice)
	if !ok {
		t.Fatal("no SMS sent")
	}
	if m.Ref == "" || strings.Contains(m.Ref, alice[1:]) || strings.Contains(m.Ref, m.Code) {
		t.Fatalf("Message.Ref %q is empty or holds the number or code", m.Ref)
	}
	return m
}

func TestFallbackSameCodeOnce(t *testing.T) {
	for _, sc := range allStores() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			v, sms, call := fallbackVerifier(t, sc.open(t), otp.Policy{})
			m := startSMS(t, v, sms, "session-1")
			// Two wrong guesses before the report arrives.
			for _, want := range []int{4, 3} {
				if r, err := v.Check(ctx, alice, otptest.Wrong(m.Code), otp.WithBinding("session-1")); err != nil || r.Remaining != want {
					t.Fatalf("wrong guess: %+v, %v; want Remaining %d", r, err, want)
				}
			}
			res, err := v.Fallback(ctx, m.Ref, sender.Call) // well inside the 30 s cooldown
			if err != nil || res.Status != otp.FallbackSent || res.Channel != sender.Call || res.Remaining != 3 {
				t.Fatalf("Fallback = %+v, %v; want sent on call with 3 guesses left", res, err)
			}
			c, ok := call.Last(alice)
			if !ok || c.Code != m.Code || c.Channel != sender.Call || c.TTL <= 0 || c.TTL > 5*time.Minute {
				t.Fatalf("call = %v %v (TTL %v); want the same code, by call, within its lifetime", c, ok, c.TTL)
			}
			// A second report: nothing more.
			if res, err := v.Fallback(ctx, m.Ref, sender.Call); err != nil || res.Status != otp.FallbackSpent {
				t.Fatalf("second Fallback = %+v, %v; want spent", res, err)
			}
			// The guess count went on: 2 left after one more wrong guess.
			if r, err := v.Check(ctx, alice, otptest.Wrong(m.Code), otp.WithBinding("session-1")); err != nil || r.Remaining != 2 {
				t.Fatalf("wrong guess after the fallback: %+v, %v; want Remaining 2", r, err)
			}
			// The called code checks in the original session.
			if r, err := v.Check(ctx, alice, c.Code, otp.WithBinding("session-1")); err != nil || r.Status != otp.Approved {
				t.Fatalf("Check(called code) = %+v, %v; want approved", r, err)
			}
			if call.Len() != 1 || sms.Len() != 1 {
				t.Errorf("sent %d SMS and %d calls, want 1 and 1", sms.Len(), call.Len())
			}
			// Approved: a late report does nothing.
			if res, err := v.Fallback(ctx, m.Ref, sender.Call); err != nil || res.Status != otp.FallbackNotPending {
				t.Fatalf("Fallback after approval = %+v, %v; want not pending", res, err)
			}
		})
	}
}

func TestFallbackConcurrentReports(t *testing.T) {
	for _, sc := range allStores() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			v, sms, call := fallbackVerifier(t, sc.open(t), otp.Policy{})
			m := startSMS(t, v, sms, "")
			var wg sync.WaitGroup
			var mu sync.Mutex
			got := map[otp.FallbackStatus]int{}
			gate := make(chan struct{})
			for range 20 {
				wg.Go(func() {
					<-gate
					res, err := v.Fallback(t.Context(), m.Ref, sender.Call)
					if err != nil {
						t.Errorf("Fallback: %v", err)
					}
					mu.Lock()
					got[res.Status]++
					mu.Unlock()
				})
			}
			close(gate)
			wg.Wait()
			if got[otp.FallbackSent] != 1 || got[otp.FallbackSpent] != 19 || call.Len() != 1 {
				t.Fatalf("20 concurrent reports: %v, %d calls; want sent=1 spent=19 and one call", got, call.Len())
			}
		})
	}
}

func TestFallbackNothingPending(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(t *testing.T, v *otp.Verifier, m sender.Message){
		"approved": func(t *testing.T, v *otp.Verifier, m sender.Message) {
			if r, _ := v.Check(ctx, alice, m.Code); r.Status != otp.Approved {
				t.Fatal(r)
			}
		},
		"locked": func(t *testing.T, v *otp.Verifier, m sender.Message) {
			for range 5 {
				if _, err := v.Check(ctx, alice, otptest.Wrong(m.Code)); err != nil {
					t.Fatal(err)
				}
			}
		},
		"expired": func(t *testing.T, v *otp.Verifier, m sender.Message) {
			time.Sleep(5*time.Minute + time.Second)
		},
		"replaced": func(t *testing.T, v *otp.Verifier, m sender.Message) {
			time.Sleep(31 * time.Second)
			if _, err := v.Start(ctx, alice, sender.SMS); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, end := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := memstore.New()
				t.Cleanup(func() { st.Close() })
				v, sms, call := fallbackVerifier(t, st, otp.Policy{})
				m := startSMS(t, v, sms, "")
				end(t, v, m)
				res, err := v.Fallback(ctx, m.Ref, sender.Call)
				if err != nil || res.Status != otp.FallbackNotPending || call.Len() != 0 {
					t.Fatalf("Fallback after the code was %s = %+v, %v, %d calls; want not pending and no call", name, res, err, call.Len())
				}
			})
		})
	}
}

func TestFallbackBadInput(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	v, sms, call := fallbackVerifier(t, st, otp.Policy{Channels: []sender.Channel{sender.SMS, sender.Call}})
	m := startSMS(t, v, sms, "")
	raw, _ := base64.RawURLEncoding.DecodeString(m.Ref)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	// A reference that names a Scope and a client key as well.
	if _, err := v.Start(ctx, bob, sender.SMS, otp.WithBinding("s"), otp.WithLimitKey("ip")); err != nil {
		t.Fatal(err)
	}
	mb, _ := sms.Last(bob)
	rawb, _ := base64.RawURLEncoding.DecodeString(mb.Ref)
	flipb := func(i int) string {
		b := append([]byte(nil), rawb...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	smsOnly, err := otp.NewVerifier(otp.Config{Store: st, Sender: sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: sms}), Secret: testSecret, Policy: otp.Policy{Fallback: true}})
	if err != nil {
		t.Fatal(err)
	}
	noCall, err := otp.NewVerifier(otp.Config{Store: st, Sender: sms, Secret: testSecret, Policy: otp.Policy{Fallback: true, Channels: []sender.Channel{sender.SMS}}})
	if err != nil {
		t.Fatal(err)
	}
	otherSecret, err := otp.NewVerifier(otp.Config{Store: st, Sender: &sendertest.Recorder{}, Secret: []byte(strings.Repeat("z", 32)), Policy: otp.Policy{Fallback: true}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		v    *otp.Verifier
		ref  string
		ch   sender.Channel
		want error
	}{
		"empty ref":       {v, "", sender.Call, otp.ErrInvalidRef},
		"garbage ref":     {v, "not-a-reference", sender.Call, otp.ErrInvalidRef},
		"truncated ref":   {v, m.Ref[:len(m.Ref)-1], sender.Call, otp.ErrInvalidRef},
		"altered key":     {v, flip(0), sender.Call, otp.ErrInvalidRef},
		"altered tag":     {v, flip(20), sender.Call, otp.ErrInvalidRef},
		"altered channel": {v, flip(28), sender.Call, otp.ErrInvalidRef},
		"altered mac":     {v, flip(len(raw) - 1), sender.Call, otp.ErrInvalidRef},
		"altered flags":   {v, flipb(29), sender.Call, otp.ErrInvalidRef},
		"altered scope":   {v, flipb(30), sender.Call, otp.ErrInvalidRef},
		"altered client":  {v, flipb(50), sender.Call, otp.ErrInvalidRef},
		"no client part":  {v, base64.RawURLEncoding.EncodeToString(append(rawb[:46:46], rawb[len(rawb)-16:]...)), sender.Call, otp.ErrInvalidRef},
		"fingerprint ref": {v, "0123456789abcdef", sender.Call, otp.ErrInvalidRef},
		"other secret":    {otherSecret, m.Ref, sender.Call, otp.ErrInvalidRef},
		"unknown channel": {v, m.Ref, "fax", otp.ErrInvalidChannel},
		"same channel":    {v, m.Ref, sender.SMS, otp.ErrInvalidChannel},
		"no voice sender": {smsOnly, m.Ref, sender.Call, otp.ErrNoSender},
		"policy forbids":  {noCall, m.Ref, sender.Call, otp.ErrChannelNotAllowed},
		"fallback not on": {nil, m.Ref, sender.Call, otp.ErrInvalidConfig},
	} {
		vv := tc.v
		if vv == nil {
			vv, err = otp.NewVerifier(otp.Config{Store: st, Sender: sms, Secret: testSecret})
			if err != nil {
				t.Fatal(err)
			}
		}
		if res, err := vv.Fallback(ctx, tc.ref, tc.ch); !errors.Is(err, tc.want) || res.Status != "" {
			t.Errorf("%s: Fallback = %+v, %v; want %v", name, res, err, tc.want)
		}
	}
	if call.Len() != 0 || sms.Len() != 2 {
		t.Fatalf("bad input sent %d calls and %d SMS, want none beyond the first two SMS", call.Len(), sms.Len()-2)
	}
	// None of that touched the code: it still falls back, once.
	if res, err := v.Fallback(ctx, m.Ref, sender.Call); err != nil || res.Status != otp.FallbackSent {
		t.Fatalf("Fallback after the bad input = %+v, %v; want sent", res, err)
	}
}

func TestFallbackBudgets(t *testing.T) {
	ctx := context.Background()
	t.Run("window", func(t *testing.T) {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		v, sms, call := fallbackVerifier(t, st, otp.Policy{SendsPerWindow: 1})
		m := startSMS(t, v, sms, "")
		var rl *otp.RateLimitError
		if _, err := v.Fallback(ctx, m.Ref, sender.Call); !errors.As(err, &rl) || rl.Reason != otp.LimitWindow || call.Len() != 0 {
			t.Fatalf("Fallback over the window: %v, %d calls; want LimitWindow and no call", err, call.Len())
		}
	})
	t.Run("global", func(t *testing.T) {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		v, sms, call := fallbackVerifier(t, st, otp.Policy{GlobalSends: 1})
		m := startSMS(t, v, sms, "")
		var rl *otp.RateLimitError
		if _, err := v.Fallback(ctx, m.Ref, sender.Call); !errors.As(err, &rl) || rl.Reason != otp.LimitGlobal || call.Len() != 0 {
			t.Fatalf("Fallback over the global budget: %v, %d calls; want LimitGlobal and no call", err, call.Len())
		}
	})
	t.Run("cooldown restarts", func(t *testing.T) {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		v, sms, _ := fallbackVerifier(t, st, otp.Policy{})
		m := startSMS(t, v, sms, "")
		if _, err := v.Fallback(ctx, m.Ref, sender.Call); err != nil {
			t.Fatal(err)
		}
		var rl *otp.RateLimitError
		if _, err := v.Start(ctx, alice, sender.SMS); !errors.As(err, &rl) || rl.Reason != otp.LimitCooldown {
			t.Fatalf("Start right after a fallback: %v; want the cooldown", err)
		}
	})
	t.Run("client key", func(t *testing.T) {
		// The fallback of a code asked for with a binding and a client key
		// takes the code of that binding and charges that key's window:
		// the reference carries both.
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		v, sms, call := fallbackVerifier(t, st, otp.Policy{SendsPerWindow: 2, Cooldown: -1})
		s1, ip1 := otp.WithBinding("s1"), otp.WithLimitKey("ip-1")
		if _, err := v.Start(ctx, alice, sender.SMS, s1, ip1); err != nil {
			t.Fatal(err)
		}
		m, _ := sms.Last(alice)
		res, err := v.Fallback(ctx, m.Ref, sender.Call)
		if c, _ := call.Last(alice); err != nil || res.Status != otp.FallbackSent || c.Code != m.Code {
			t.Fatalf("Fallback of a bound code with a client key = %+v, %v; want its code sent by call", res, err)
		}
		if r, err := v.Check(ctx, alice, m.Code, s1, ip1); err != nil || r.Status != otp.Approved {
			t.Fatalf("Check of the called code in its session = %+v, %v; want approved", r, err)
		}
		// ip-1's window (2) is spent by its send and its fallback.
		var rl *otp.RateLimitError
		if _, err := v.Start(ctx, alice, sender.SMS, s1, ip1); !errors.As(err, &rl) || rl.Reason != otp.LimitWindow {
			t.Fatalf("Start from ip-1 after its send and fallback: %v; want its window spent", err)
		}
		if _, err := v.Start(ctx, alice, sender.SMS, otp.WithBinding("s2"), otp.WithLimitKey("ip-2")); err != nil {
			t.Fatalf("Start from ip-2: %v; want a send", err)
		}
	})
	t.Run("failed call", func(t *testing.T) {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		v, sms, call := fallbackVerifier(t, st, otp.Policy{})
		m := startSMS(t, v, sms, "")
		call.FailWith(errors.New("voice down"))
		if _, err := v.Fallback(ctx, m.Ref, sender.Call); !errors.Is(err, otp.ErrSendFailed) {
			t.Fatalf("Fallback with the voice sender down: %v, want ErrSendFailed", err)
		}
		if r, err := v.Check(ctx, alice, m.Code); err != nil || r.Status != otp.Approved {
			t.Fatalf("the SMS code after a failed fallback: %+v, %v; want approved (it stays valid)", r, err)
		}
	})
}

func TestFallbackConfig(t *testing.T) {
	// A store without Fallback cannot be used with Policy.Fallback.
	type plain struct{ store.Store }
	_, err := otp.NewVerifier(otp.Config{Store: plain{memstore.New()}, Sender: &sendertest.Recorder{}, Secret: testSecret, Policy: otp.Policy{Fallback: true}})
	if !errors.Is(err, otp.ErrInvalidConfig) {
		t.Fatalf("NewVerifier(Fallback, store without it) = %v, want ErrInvalidConfig", err)
	}
}

// TestFallbackDumpRevealsNothing: with Policy.Fallback the store keeps the
// number and code sealed; a dump of Redis holds neither.
func TestFallbackDumpRevealsNothing(t *testing.T) {
	m := miniredis.RunT(t)
	v, sms, _ := fallbackVerifier(t, redisStore(t, redis.NewClient(&redis.Options{Addr: m.Addr()})), otp.Policy{})
	msg := startSMS(t, v, sms, "session")
	if _, err := v.Fallback(t.Context(), msg.Ref, sender.Call); err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, k := range m.Keys() {
		dump.WriteString(k)
		if s, err := m.Get(k); err == nil {
			dump.WriteString(s)
		}
		fields, _ := m.HKeys(k)
		for _, f := range fields {
			dump.WriteString(f + m.HGet(k, f))
		}
	}
	if dump.Len() == 0 {
		t.Fatal("empty dump")
	}
	for _, secret := range []string{alice[1:], alice[len(alice)-7:], msg.Code} {
		if strings.Contains(dump.String(), secret) {
			t.Errorf("the Redis dump holds %q", secret)
		}
	}
}

// TestFallbackOnceAcrossProcesses: two Verifiers (two instances of a
// service) share one Redis; reports reaching both at once still make one
// call.
func TestFallbackOnceAcrossProcesses(t *testing.T) {
	m := miniredis.RunT(t)
	// Both instances use one prefix.
	c1 := redis.NewClient(&redis.Options{Addr: m.Addr()})
	c2 := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c1.Close(); c2.Close() })
	st1, err := redisstore.New(c1, redisstore.WithPrefix("shared"))
	if err != nil {
		t.Fatal(err)
	}
	st2, err := redisstore.New(c2, redisstore.WithPrefix("shared"))
	if err != nil {
		t.Fatal(err)
	}
	v1, sms1, call1 := fallbackVerifier(t, st1, otp.Policy{})
	v2, _, call2 := fallbackVerifier(t, st2, otp.Policy{})
	msg := startSMS(t, v1, sms1, "")
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range 20 {
		v := v1
		if i%2 == 1 {
			v = v2
		}
		wg.Go(func() {
			<-gate
			if _, err := v.Fallback(t.Context(), msg.Ref, sender.Call); err != nil {
				t.Errorf("Fallback: %v", err)
			}
		})
	}
	close(gate)
	wg.Wait()
	if n := call1.Len() + call2.Len(); n != 1 {
		t.Fatalf("%d calls from two instances, want 1", n)
	}
}
