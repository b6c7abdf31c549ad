package otp_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

// guardEnv is a Verifier on a memstore with its events and messages
// recorded. A test that moves time runs in a synctest bubble (advance
// sleeps).
type guardEnv struct {
	t   *testing.T
	v   *otp.Verifier
	rec *sendertest.Recorder

	mu     sync.Mutex
	events []otp.Event
}

func newGuardEnv(t *testing.T, p otp.Policy, st store.Store) *guardEnv {
	t.Helper()
	e := &guardEnv{t: t, rec: &sendertest.Recorder{}}
	if st == nil {
		ms := memstore.New()
		t.Cleanup(func() { ms.Close() })
		st = ms
	}
	v, err := otp.NewVerifier(otp.Config{
		Store: st, Sender: e.rec, Secret: testSecret, Policy: p,
		Observer: otp.ObserverFunc(func(_ context.Context, ev otp.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.v = v
	return e
}

func (e *guardEnv) advance(d time.Duration) { time.Sleep(d) }

func (e *guardEnv) kinds(k otp.EventKind) []otp.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []otp.Event
	for _, ev := range e.events {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// start sends a code to to from its own client key; it reports whether the
// guard refused it (any other error fails the test).
func (e *guardEnv) start(to string, opts ...otp.StartOption) (throttled *otp.ThrottleError) {
	e.t.Helper()
	_, err := e.v.Start(e.t.Context(), to, sender.SMS, append([]otp.StartOption{otp.WithLimitKey("ip-" + to)}, opts...)...)
	if err == nil {
		return nil
	}
	if errors.As(err, &throttled) {
		return throttled
	}
	e.t.Fatalf("Start(%s): %v", to, err)
	return nil
}

// approve enters the code last sent to to.
func (e *guardEnv) approve(to string) {
	e.t.Helper()
	var code string
	for _, m := range e.rec.Messages() {
		if m.To == to {
			code = m.Code
		}
	}
	res, err := e.v.Check(e.t.Context(), to, code)
	if err != nil || res.Status != otp.Approved {
		e.t.Fatalf("Check(%s) = %+v, %v; want approved", to, res, err)
	}
	if err := e.v.Flush(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// attack sends count codes to new numbers of the pumped prefix, from *n
// on, one every every, and verifies none; it returns how many went out.
func (e *guardEnv) attack(n *int, count int, every time.Duration) (passed int) {
	e.t.Helper()
	for range count {
		if e.start(num(pumped, *n)) == nil {
			passed++
		}
		*n++
		e.advance(every)
	}
	return passed
}

func num(prefix string, i int) string { return fmt.Sprintf("%s%04d", prefix, i) }

// pumped and healthy are two prefixes at the default depth: "+1 4152" and
// "+1 2122".
const (
	pumped  = "+1415200"
	healthy = "+1212200"
)

func TestPumpingTripsAndExplains(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newGuardEnv(t, otp.Policy{}, nil)
		var te *otp.ThrottleError
		sent := 0
		for i := range 100 {
			if te = e.start(num(pumped, i)); te != nil {
				break
			}
			sent++
			e.advance(5 * time.Second)
		}
		if te == nil {
			t.Fatal("100 unverified sends to one prefix in 8 minutes were never throttled")
		}
		// Detection waits for sends at least 30 s old, then MinSends of them.
		if sent < 20 || sent > 35 {
			t.Errorf("throttled after %d sends, want 20–35 (MinSends, plus the sends of the grace period)", sent)
		}
		if got := len(e.rec.Messages()); got != sent {
			t.Errorf("%d messages sent, want %d: the throttled send must not go out", got, sent)
		}
		s := te.State
		if s.Prefix != "+1 4152" || s.Reason != otp.PumpingConversion || s.Rate != 0 || s.Sends < 20 || s.Baseline <= 0 || !s.Throttled {
			t.Errorf("throttle state = %+v, want prefix +1 4152, reason conversion, rate 0 over ≥ 20 sends, a positive baseline", s)
		}
		if te.RetryAfter < time.Hour || te.RetryAfter > time.Hour+5*time.Minute {
			t.Errorf("RetryAfter = %s, want the hold, 1h, rounded up to 5 minutes", te.RetryAfter)
		}
		var rl *otp.RateLimitError
		if !errors.Is(te, otp.ErrThrottled) || !errors.Is(te, otp.ErrRateLimited) || !errors.As(error(te), &rl) || rl.Reason != otp.LimitPumping {
			t.Errorf("ThrottleError does not match ErrThrottled, ErrRateLimited and *RateLimitError{LimitPumping}")
		}
		trips := e.kinds(otp.EventPumpingTripped)
		if len(trips) != 1 || trips[0].Pumping == nil || trips[0].Pumping.Prefix != "+1 4152" {
			t.Fatalf("tripped events = %+v, want one explaining +1 4152", trips)
		}
		// The code saved for the refused send was withdrawn.
		res, err := e.v.Check(t.Context(), num(pumped, sent), "000000")
		if err != nil || res.Status != otp.Expired {
			t.Errorf("Check on the throttled number = %+v, %v; want expired (no code pending)", res, err)
		}
		// The prefix stays throttled; another prefix keeps flowing.
		e.advance(10 * time.Minute)
		if e.start(num(pumped, 500)) == nil {
			t.Error("a send to the throttled prefix 10 minutes later went out")
		}
		if te := e.start(num(healthy, 1)); te != nil {
			t.Errorf("a send to another prefix was throttled: %v", te)
		}
		st := e.v.PumpingState()
		if len(st) == 0 || st[0].Prefix != "+1 4152" || !st[0].Throttled || st[0].Refused != 2 {
			t.Errorf("PumpingState()[0] = %+v, want +1 4152 throttled with 2 refused", st)
		}
	})
}

// TestPumpingRecovery: a prefix with a good history is pumped, throttled
// for the hold, then flows again for its legitimate users.
func TestPumpingRecovery(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newGuardEnv(t, otp.Policy{}, nil)
		n := 0
		// Three hours of legitimate use: 90 sends, 80 approved.
		for i := range 90 {
			to := num(pumped, n)
			n++
			if te := e.start(to); te != nil {
				t.Fatalf("legitimate send %d throttled: %v", i, te)
			}
			if i%9 != 0 {
				e.advance(20 * time.Second)
				e.approve(to)
			}
			e.advance(2 * time.Minute)
		}
		// The attack: 60 sends in three minutes, none verified.
		if e.attack(&n, 60, 3*time.Second) == 60 {
			t.Fatal("the attack was never throttled")
		}
		// During the hold, a legitimate user is refused too.
		e.advance(30 * time.Minute)
		if e.start(num(pumped, n)) == nil {
			t.Fatal("a send during the hold went out")
		}
		n++
		// After the hold, legitimate traffic flows again and keeps flowing.
		e.advance(36 * time.Minute)
		for i := range 20 {
			to := num(pumped, n)
			n++
			if te := e.start(to); te != nil {
				t.Fatalf("send %d after the hold throttled: %v", i, te)
			}
			e.advance(20 * time.Second)
			e.approve(to)
			e.advance(40 * time.Second)
		}
		if rec := e.kinds(otp.EventPumpingRecovered); len(rec) != 1 || rec[0].Pumping.Prefix != "+1 4152" {
			t.Errorf("recovered events = %+v, want one for +1 4152", rec)
		}
		// The attack resumes: it has to outnumber the recent legitimate sends
		// (about ten in the window) to pull the rate below half the baseline,
		// and is throttled again once its sends are judged.
		passed := e.attack(&n, 80, 3*time.Second)
		if passed >= 40 {
			t.Errorf("%d of 80 sends of the resumed attack passed, want fewer than 40", passed)
		}
		t.Logf("resumed attack: %d of 80 sends passed", passed)
	})
}

// TestPumpingPureAttackStaysThrottled: a prefix that only ever saw the
// attack stays throttled after the hold (its 24-hour conversion is still
// nil), until its attack sends are older than 24 hours.
func TestPumpingPureAttackStaysThrottled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newGuardEnv(t, otp.Policy{}, nil)
		n := 0
		e.attack(&n, 40, 5*time.Second) // throttled or not: the count is what matters
		e.advance(2 * time.Hour)
		te := e.start(num(pumped, n))
		if te == nil || te.State.Reason != otp.PumpingProbation {
			t.Fatalf("first send after the hold: %v, want throttled on probation", te)
		}
		n++
		e.advance(25 * time.Hour)
		if te := e.start(num(pumped, n)); te != nil {
			t.Errorf("a send 25 hours after the attack: %v, want it through", te)
		}
	})
}

// TestPumpingSlowAttack: an attack under MinSends per Window (12 sends
// every 10 minutes) is caught by the 24-hour check once it has made
// DaySends sends; one under DaySends a day is not caught at all.
func TestPumpingSlowAttack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newGuardEnv(t, otp.Policy{}, nil)
		passed := 0
		var te *otp.ThrottleError
		for i := range 500 {
			if te = e.start(num(pumped, i)); te != nil {
				break
			}
			passed++
			e.advance(50 * time.Second)
		}
		if te == nil || te.State.Reason != otp.PumpingSlow {
			t.Fatalf("slow attack: %v, want throttled with reason slow", te)
		}
		if passed != 59 {
			t.Errorf("%d sends passed before the slow check, want 59 (the 60th, DaySends, is judged and refused)", passed)
		}

		// Two sends an hour, 48 a day: under DaySends, never judged.
		e2 := newGuardEnv(t, otp.Policy{}, nil)
		for i := range 48 {
			if te := e2.start(num(pumped, i)); te != nil {
				t.Fatalf("send %d of an attack under every threshold throttled: %v", i, te)
			}
			e2.advance(30 * time.Minute)
		}
	})
}

// failingCounters is a memstore whose counters fail.
type failingCounters struct {
	*memstore.Store
	err error
}

func (f failingCounters) AddCounts(context.Context, store.CountRequest) (store.Counts, error) {
	return store.Counts{}, f.err
}

func TestPumpingStoreErrorFailsSafe(t *testing.T) {
	t.Parallel()
	boom := errors.New("counters down")
	for _, tc := range []struct {
		name     string
		failOpen bool
	}{{"refuse by default", false}, {"FailOpen", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := memstore.New()
			t.Cleanup(func() { ms.Close() })
			e := newGuardEnv(t, otp.Policy{Pumping: otp.PumpingPolicy{FailOpen: tc.failOpen}}, failingCounters{ms, boom})
			_, err := e.v.Start(t.Context(), num(pumped, 1), sender.SMS)
			if ev := e.kinds(otp.EventStoreError); len(ev) != 1 || !errors.Is(ev[0].Err, boom) {
				t.Errorf("store error events = %+v, want one wrapping the failure", ev)
			}
			if tc.failOpen {
				if err != nil || len(e.rec.Messages()) != 1 {
					t.Errorf("FailOpen: Start = %v with %d messages, want the send through", err, len(e.rec.Messages()))
				}
				return
			}
			if !errors.Is(err, otp.ErrStoreUnavailable) || !errors.Is(err, boom) {
				t.Errorf("Start = %v, want ErrStoreUnavailable wrapping the failure", err)
			}
			if len(e.rec.Messages()) != 0 {
				t.Error("a message went out while the guard could not judge")
			}
			res, err := e.v.Check(t.Context(), num(pumped, 1), "000000")
			if err != nil || res.Status != otp.Expired {
				t.Errorf("Check = %+v, %v; want expired: the refused code is withdrawn", res, err)
			}
		})
	}
}

func TestPumpingRequireProof(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newGuardEnv(t, otp.Policy{Pumping: otp.PumpingPolicy{RequireProof: true}}, nil)
		var te *otp.ThrottleError
		n := 0
		for ; n < 100 && te == nil; n++ {
			te = e.start(num(pumped, n))
			e.advance(5 * time.Second)
		}
		if te == nil || !te.ProofAccepted {
			t.Fatalf("throttle = %v, want one that accepts a proof", te)
		}
		if e.start(num(pumped, n)) == nil {
			t.Error("a send without proof went through a throttled prefix")
		}
		before := len(e.rec.Messages())
		if te := e.start(num(pumped, n+1), otp.WithProof()); te != nil {
			t.Errorf("a send with proof was throttled: %v", te)
		}
		if len(e.rec.Messages()) != before+1 {
			t.Error("the send with proof did not go out")
		}
		// Without RequireProof, a proof changes nothing.
		e2 := newGuardEnv(t, otp.Policy{}, nil)
		te = nil
		for n = 0; n < 100 && te == nil; n++ {
			te = e2.start(num(pumped, n))
			e2.advance(5 * time.Second)
		}
		if te == nil || te.ProofAccepted || e2.start(num(pumped, n), otp.WithProof()) == nil {
			t.Error("WithProof let a send through although RequireProof is off")
		}
	})
}

// gatedCounters is a memstore whose counters, once closed, wait for
// release (signalling entered first).
type gatedCounters struct {
	*memstore.Store
	closed  atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedCounters) AddCounts(ctx context.Context, req store.CountRequest) (store.Counts, error) {
	if g.closed.Load() {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Store.AddCounts(ctx, req)
}

// TestPumpingCheckDoesNotWait: Check counts an approval without waiting for
// the Store's counters; the approval is written in the background. (Were
// Check to write it itself, it could not return while the write is held,
// and the test would hang.)
func TestPumpingCheckDoesNotWait(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	g := &gatedCounters{Store: ms, entered: make(chan struct{}, 1), release: make(chan struct{})}
	e := newGuardEnv(t, otp.Policy{}, g)
	to := num(pumped, 1)
	if te := e.start(to); te != nil {
		t.Fatal(te)
	}
	g.closed.Store(true)
	done := make(chan otp.CheckResult, 1)
	go func() {
		res, err := e.v.Check(t.Context(), to, e.rec.Messages()[0].Code)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-g.entered // the approval's write has started and is held
	if res := <-done; res.Status != otp.Approved {
		t.Errorf("Check = %+v, want approved", res)
	}
	close(g.release)
	if err := e.v.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestPumpingPolicy(t *testing.T) {
	t.Parallel()
	d := otp.DefaultPolicy().Pumping
	want := otp.PumpingPolicy{Depth: 4, Window: 10 * time.Minute, MinSends: 20, DaySends: 60, Drop: 0.5, Prior: 0.5, Hold: time.Hour, KnownFor: 30 * 24 * time.Hour}
	if d != want {
		t.Errorf("DefaultPolicy().Pumping = %+v, want %+v (on)", d, want)
	}
	for _, tc := range []struct {
		name string
		p    otp.PumpingPolicy
		ok   bool
	}{
		{"disabled ignores the rest", otp.PumpingPolicy{Disabled: true, Depth: 99}, true},
		{"depth 7", otp.PumpingPolicy{Depth: 7}, false},
		{"window 1m", otp.PumpingPolicy{Window: time.Minute}, false},
		{"window 45s steps", otp.PumpingPolicy{Window: 2*time.Minute + 15*time.Second}, false},
		{"min sends 3", otp.PumpingPolicy{MinSends: 3}, false},
		{"drop 1", otp.PumpingPolicy{Drop: 1}, false},
		{"prior 1.5", otp.PumpingPolicy{Prior: 1.5}, false},
		{"hold 13h", otp.PumpingPolicy{Hold: 13 * time.Hour}, false},
		{"depth 6, hold 12h", otp.PumpingPolicy{Depth: 6, Hold: 12 * time.Hour}, true},
		{"known for 12h", otp.PumpingPolicy{KnownFor: 12 * time.Hour}, false},
		{"known for 36h", otp.PumpingPolicy{KnownFor: 36 * time.Hour}, false},
		{"known for 366 days", otp.PumpingPolicy{KnownFor: 366 * 24 * time.Hour}, false},
		{"known for 7 days", otp.PumpingPolicy{KnownFor: 7 * 24 * time.Hour}, true},
	} {
		err := otp.Policy{Pumping: tc.p}.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, otp.ErrInvalidConfig)) {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestPumpingKnownClient: while a prefix is throttled, the number's owner,
// recognised by a client key that had a code for that number approved, is
// let through; a new client key, no client key, and the owner's key for
// another number of the prefix are refused, and so is the owner with
// NoKnownClients.
func TestPumpingKnownClient(t *testing.T) {
	t.Parallel()
	for _, noKnown := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoKnownClients=%v", noKnown), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newGuardEnv(t, otp.Policy{Pumping: otp.PumpingPolicy{NoKnownClients: noKnown}}, nil)
				ctx := t.Context()
				owner, neighbour := num(pumped, 9999), num(pumped, 9998)
				home := otp.WithLimitKey("owner-home")
				login := func() error {
					if _, err := e.v.Start(ctx, owner, sender.SMS, home); err != nil {
						return err
					}
					m, _ := e.rec.Last(owner)
					res, err := e.v.Check(ctx, owner, m.Code, home)
					if err != nil || res.Status != otp.Approved {
						t.Fatalf("owner's Check = %+v, %v; want approved", res, err)
					}
					return e.v.Flush(ctx)
				}
				if err := login(); err != nil {
					t.Fatalf("owner's first login: %v", err)
				}
				var te *otp.ThrottleError
				n := 0
				for ; n < 200 && te == nil; n++ {
					te = e.start(num(pumped, n))
					e.advance(5 * time.Second)
				}
				if te == nil {
					t.Fatal("the attack never tripped the prefix")
				}
				e.advance(time.Minute) // past the owner's cooldown
				err := login()
				if noKnown {
					if !errors.Is(err, otp.ErrThrottled) {
						t.Errorf("owner with NoKnownClients: err = %v, want throttled", err)
					}
				} else if err != nil {
					t.Errorf("owner's known client key was refused: %v", err)
				}
				for name, try := range map[string]func() error{
					"a new client key": func() error {
						_, err := e.v.Start(ctx, owner, sender.SMS, otp.WithLimitKey("owner-cafe"))
						return err
					},
					"no client key": func() error {
						_, err := e.v.Start(ctx, owner, sender.SMS)
						return err
					},
					"the owner's key for another number": func() error {
						_, err := e.v.Start(ctx, neighbour, sender.SMS, home)
						return err
					},
				} {
					if err := try(); !errors.Is(err, otp.ErrThrottled) {
						t.Errorf("%s: err = %v, want throttled", name, err)
					}
				}
			})
		})
	}
}
