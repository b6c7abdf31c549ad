package e2e_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/redisstore"
)

func silencePolicy() otp.Policy { return otp.Policy{FallbackAfter: time.Minute} }

func worker(t *testing.T, v *otp.Verifier) *otp.FallbackWorker {
	t.Helper()
	w, err := v.FallbackWorker()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func poll(t *testing.T, w *otp.FallbackWorker, want int) {
	t.Helper()
	n, err := w.Poll(t.Context())
	if err != nil || n != want {
		t.Fatalf("Poll = %d, %v; want %d sent", n, err, want)
	}
}

func TestFallbackAfterSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		v, sms, call := fallbackVerifier(t, st, silencePolicy())
		w := worker(t, v)
		m := startSMS(t, v, sms, "s")
		poll(t, w, 0)
		time.Sleep(59 * time.Second)
		poll(t, w, 0) // not yet
		time.Sleep(2 * time.Second)
		poll(t, w, 1)
		if c, ok := call.Last(alice); !ok || c.Code != m.Code {
			t.Fatalf("call after silence = %v %v, want the SMS's code", c, ok)
		}
		time.Sleep(time.Hour)
		poll(t, w, 0)
		if call.Len() != 1 {
			t.Fatalf("%d calls, want 1", call.Len())
		}
	})
}

func TestFallbackAfterSilenceCancelled(t *testing.T) {
	for name, tc := range map[string]func(t *testing.T, v *otp.Verifier, m sender.Message){
		"delivered": func(t *testing.T, v *otp.Verifier, m sender.Message) {
			if err := v.Delivered(t.Context(), m.Ref); err != nil {
				t.Fatal(err)
			}
		},
		"approved": func(t *testing.T, v *otp.Verifier, m sender.Message) {
			if r, _ := v.Check(t.Context(), alice, m.Code); r.Status != otp.Approved {
				t.Fatal(r)
			}
		},
		"fell back on a report": func(t *testing.T, v *otp.Verifier, m sender.Message) {
			if r, err := v.FallbackNext(t.Context(), m.Ref); err != nil || r.Status != otp.FallbackSent {
				t.Fatal(r, err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := memstore.New()
				t.Cleanup(func() { st.Close() })
				v, sms, call := fallbackVerifier(t, st, silencePolicy())
				m := startSMS(t, v, sms, "")
				tc(t, v, m)
				n := call.Len()
				time.Sleep(2 * time.Minute)
				poll(t, worker(t, v), 0)
				if call.Len() != n {
					t.Fatalf("calls %d -> %d after silence, want no new call", n, call.Len())
				}
			})
		})
	}
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	v, _, _ := fallbackVerifier(t, st, silencePolicy())
	if err := v.Delivered(t.Context(), "forged"); !errors.Is(err, otp.ErrInvalidRef) {
		t.Fatalf("Delivered(forged) = %v, want ErrInvalidRef", err)
	}
}

// TestFallbackAfterSilenceSurvivesRestart: with Redis, the pending
// fallback lives in Redis: a process that scheduled it and died, or a
// worker that claimed it and died before sending, loses nothing; a new
// process sends it, once.
func TestFallbackAfterSilenceSurvivesRestart(t *testing.T) {
	m := miniredis.RunT(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	m.SetTime(now)
	m.ClockTTL(true)
	advance := func(d time.Duration) { now = now.Add(d); m.SetTime(now) }
	process := func() (*otp.Verifier, *sendertest.Recorder, *sendertest.Recorder, *otp.FallbackWorker) {
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		st, err := redisstore.New(c, redisstore.WithPrefix("silence"))
		if err != nil {
			t.Fatal(err)
		}
		v, sms, call := fallbackVerifier(t, st, silencePolicy())
		return v, sms, call, worker(t, v)
	}

	// Process 1 sends the SMS and dies.
	v1, sms1, _, _ := process()
	msg := startSMS(t, v1, sms1, "session")

	// Process 2's worker claims the due fallback and dies before sending.
	advance(61 * time.Second)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	st, _ := redisstore.New(c, redisstore.WithPrefix("silence"))
	if refs, err := st.Claim(t.Context(), 10, otp.DefaultFallbackLease); err != nil || len(refs) != 1 || refs[0] != msg.Ref {
		t.Fatalf("Claim = %q, %v; want the SMS's reference", refs, err)
	}

	// Process 3 starts: the claim is leased, so nothing yet; when the
	// lease ends, it calls, once.
	v3, _, call3, w3 := process()
	poll(t, w3, 0)
	advance(otp.DefaultFallbackLease + time.Second)
	poll(t, w3, 1)
	called, ok := call3.Last(alice)
	if !ok || called.Code != msg.Code {
		t.Fatalf("call = %v %v, want the SMS's code", called, ok)
	}
	advance(time.Minute)
	poll(t, w3, 0)
	if r, err := v3.Check(t.Context(), alice, called.Code, otp.WithBinding("session")); err != nil || r.Status != otp.Approved {
		t.Fatalf("Check(called code, original session) = %+v, %v; want approved", r, err)
	}
	var _ store.FallbackQueue = st
}

func TestFallbackAfterValidation(t *testing.T) {
	for name, p := range map[string]otp.Policy{
		"no fallback":    {FallbackAfter: time.Minute},
		"negative":       {Fallback: true, FallbackAfter: -time.Second},
		"after the TTL":  {Fallback: true, FallbackAfter: 5 * time.Minute},
		"too short":      {Fallback: true, FallbackAfter: time.Millisecond},
		"repeated chain": {Fallback: true, FallbackChain: []sender.Channel{sender.SMS, sender.SMS}},
		"unknown chain":  {Fallback: true, FallbackChain: []sender.Channel{"fax"}},
	} {
		if err := p.Validate(); !errors.Is(err, otp.ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
	// A store without a queue cannot serve FallbackAfter.
	type noQueue struct{ store.FallbackStore }
	_, err := otp.NewVerifier(otp.Config{Store: noQueue{memstore.New()}, Sender: &sendertest.Recorder{}, Secret: testSecret,
		Policy: otp.Policy{Fallback: true, FallbackAfter: time.Minute}})
	if !errors.Is(err, otp.ErrInvalidConfig) {
		t.Fatalf("NewVerifier(FallbackAfter, no queue) = %v, want ErrInvalidConfig", err)
	}
}
