package attacksim_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/pgstore"
	"github.com/go2fa/go2fa/store/redisstore"
)

const victim = "+14155550100"

var secret = []byte("0123456789abcdef0123456789abcdef-attacksim")

// clock is a fake clock shared by a store and the Verifier.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// world is one store under attack.
type world struct {
	store store.Store
	// now and advance are the store's clock: a fake one that advance
	// moves, or real time that advance sleeps through.
	now     func() time.Time
	advance func(d time.Duration)
	// scale shrinks the default policy's durations for real-time stores.
	scale time.Duration
}

// policy is the default policy with every duration divided by w.scale.
func (w world) policy() otp.Policy {
	p := otp.DefaultPolicy()
	// The SMS-pumping guard stays on, as by default: the attacker's
	// unconverted sends trip the victim's prefix, and the victim, whose
	// client key has had codes for its number approved, is let through
	// (PumpingPolicy.KnownFor).
	if w.scale > 1 {
		// Every limit keeps its ratio to the others; only the TTL, which
		// the simulation never waits out, is raised to Policy's floor.
		for _, d := range []*time.Duration{&p.TTL, &p.Cooldown, &p.SendWindow, &p.FailureWindow, &p.KeyWindow} {
			*d /= w.scale
		}
		p.TTL = max(p.TTL, time.Second)
	}
	return p
}

// verifier returns a Verifier on the world's store and clock with its
// policy, and the recorder its messages go to.
func (w world) verifier(t *testing.T) (*otp.Verifier, *sendertest.Recorder, otp.Policy) {
	t.Helper()
	rec := &sendertest.Recorder{}
	p := w.policy()
	v, err := otp.NewVerifier(otp.Config{Store: w.store, Sender: rec, Secret: secret, Policy: p, Now: w.now})
	if err != nil {
		t.Fatal(err)
	}
	return v, rec, p
}

func worlds(t *testing.T) map[string]func(t *testing.T) world {
	t.Helper()
	base := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	ws := map[string]func(t *testing.T) world{
		"memstore": func(t *testing.T) world {
			c := &clock{now: base}
			s := memstore.New(memstore.WithClock(c.Now), memstore.WithSweepInterval(0))
			t.Cleanup(func() { s.Close() })
			return world{store: s, now: c.Now, advance: c.Advance}
		},
		"miniredis": func(t *testing.T) world {
			m := miniredis.RunT(t)
			c := &clock{now: base}
			m.SetTime(base)
			m.ClockTTL(true)
			rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { rdb.Close() })
			s, err := redisstore.New(rdb)
			if err != nil {
				t.Fatal(err)
			}
			return world{store: s, now: c.Now, advance: func(d time.Duration) { c.Advance(d); m.SetTime(c.Now()) }}
		},
	}
	real := func(c redis.UniversalClient) world {
		t.Cleanup(func() { c.Close() })
		s, err := redisstore.New(c, redisstore.WithPrefix(fmt.Sprintf("go2fa-attacksim-%d", time.Now().UnixNano())))
		if err != nil {
			t.Fatal(err)
		}
		// An hour of the default policy becomes 1 s (Policy's floor for
		// SendWindow and KeyWindow), 24 h become 24 s: the simulation runs
		// in real time on a server whose clock the test cannot move.
		return world{store: s, now: time.Now, advance: time.Sleep, scale: 3600}
	}
	ws["redis"] = func(t *testing.T) world {
		url := os.Getenv("REDIS_URL")
		if url == "" {
			t.Skip("REDIS_URL not set: skipping the redis-server run")
		}
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		return real(redis.NewClient(opt))
	}
	ws["cluster"] = func(t *testing.T) world {
		addrs := os.Getenv("REDIS_CLUSTER_ADDRS")
		if addrs == "" {
			t.Skip("REDIS_CLUSTER_ADDRS not set: skipping the Redis Cluster run")
		}
		return real(redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")}))
	}
	ws["pgstore"] = func(t *testing.T) world {
		url := os.Getenv("DATABASE_URL")
		if url == "" {
			t.Skip("DATABASE_URL not set: skipping the PostgreSQL run")
		}
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		schema := fmt.Sprintf("go2fa_attacksim_%d", time.Now().UnixNano())
		t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
		if err := pgstore.Migrate(ctx, pool, pgstore.WithSchema(schema)); err != nil {
			t.Fatal(err)
		}
		s, err := pgstore.New(pool, pgstore.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		// Real time, scaled as for redis-server.
		return world{store: s, now: time.Now, advance: time.Sleep, scale: 3600}
	}
	return ws
}

// owner is the victim, who logs in from its own session and address, and
// what its logins measured.
type owner struct {
	logins, ok int
	worstDown  time.Duration // longest run of failed logins
	downSince  time.Time     // start of the current run of failed logins
}

// login asks for a code for the victim's number and checks it, at now; it
// reports whether a code was sent.
func (o *owner) login(t *testing.T, v *otp.Verifier, rec *sendertest.Recorder, now time.Time) (sent bool) {
	t.Helper()
	ctx := context.Background()
	o.logins++
	approved := false
	vb, vk := otp.WithBinding("victim-session"), otp.WithLimitKey("ip:203.0.113.7")
	if _, err := v.Start(ctx, victim, sender.SMS, vb, vk); err == nil {
		sent = true
		m, _ := rec.Last(victim)
		res, err := v.Check(ctx, victim, m.Code, vb, vk)
		approved = err == nil && res.Status == otp.Approved
		// The approval's background write (the pumping guard's counts and
		// the known client key) lands well within the 15 minutes before
		// the next login; the simulation's clock does not wait for it.
		if err := v.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case approved:
		o.ok++
		if !o.downSince.IsZero() {
			o.worstDown = max(o.worstDown, now.Sub(o.downSince))
		}
		o.downSince = time.Time{}
	case o.downSince.IsZero():
		o.downSince = now
	}
	return sent
}

// end closes a run of failed logins still open at now.
func (o *owner) end(now time.Time) {
	if !o.downSince.IsZero() {
		o.worstDown = max(o.worstDown, now.Sub(o.downSince))
	}
}

// outcome is what one simulation measured.
type outcome struct {
	worstDown    time.Duration // longest run of failed victim logins
	bestWindow   int           // most guesses compared in any FailureWindow
	bestSendWin  int           // most guesses compared in any SendWindow
	victimLogins int
	victimOK     int
}

// run plays the attack for horizon: every step the attacker, from the next
// of its 50 addresses and a fresh session, asks for a code for the victim's
// number and guesses wrong until refused; every probe interval the victim,
// from its own session and address, asks for a code and checks it.
func run(t *testing.T, w world, horizon, step, probe time.Duration) outcome {
	t.Helper()
	ctx := context.Background()
	v, rec, p := w.verifier(t)
	var guesses []time.Time
	var out outcome
	var vic owner
	start := w.now()
	nextProbe := start
	session := 0
	for w.now().Sub(start) < horizon {
		// The attacker.
		session++
		ip := fmt.Sprintf("ip:198.51.100.%d", session%50)
		bind := otp.WithBinding(fmt.Sprintf("attacker-%d", session))
		if _, err := v.Start(ctx, victim, sender.SMS, bind, otp.WithLimitKey(ip)); err == nil {
			m, _ := rec.Last(victim)
			wrong := []byte(m.Code)
			wrong[0] = '0' + (wrong[0]-'0'+1)%10
			for {
				res, err := v.Check(ctx, victim, string(wrong), bind, otp.WithLimitKey(ip))
				if err != nil {
					t.Fatal(err)
				}
				if res.Status == otp.Rejected || res.Status == otp.Locked {
					guesses = append(guesses, w.now())
				}
				if res.Status != otp.Rejected {
					break
				}
			}
		} else if !errors.Is(err, otp.ErrRateLimited) {
			t.Fatal(err)
		}
		// The victim.
		if now := w.now(); !now.Before(nextProbe) {
			nextProbe = now.Add(probe)
			vic.login(t, v, rec, now)
		}
		w.advance(step)
	}
	vic.end(w.now())
	out.worstDown, out.victimLogins, out.victimOK = vic.worstDown, vic.logins, vic.ok
	// Real time is read by the client, a little after the server's: the
	// spans are shortened by a margin so no guess is counted in the wrong
	// window.
	margin := time.Duration(0)
	if w.scale > 1 {
		margin = p.SendWindow / 20
	}
	out.bestWindow = mostIn(guesses, nil, p.FailureWindow-margin)
	out.bestSendWin = mostIn(guesses, nil, p.SendWindow-margin)
	return out
}

// mostIn returns the most times of ts (sorted) that fit in any span of d
// with no time of resets (sorted) between them.
func mostIn(ts, resets []time.Time, d time.Duration) int {
	best, j, r := 0, 0, 0
	for i := range ts {
		for r < len(resets) && !resets[r].After(ts[i]) {
			// A reset before ts[i]: only guesses after it count with ts[i].
			for j < i && ts[j].Before(resets[r]) {
				j++
			}
			r++
		}
		for ts[i].Sub(ts[j]) >= d {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestTargetedLockout runs the attack on every store and asserts both
// goals: the victim is never kept from being approved for more than 15
// minutes (in the default policy's time), and no FailureWindow holds more
// compared guesses than Policy.GuessOdds states (FailureCeiling).
func TestTargetedLockout(t *testing.T) {
	for name, mk := range worlds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := mk(t)
			p := w.policy()
			scale := max(w.scale, 1)
			horizon, step, probe := 2*p.FailureWindow+2*p.SendWindow, time.Minute/scale, 15*time.Minute/scale
			if scale > 1 {
				step = max(step, 2*time.Millisecond)
				probe = max(probe, step)
			}
			out := run(t, w, horizon, step, probe)
			_, perWindow := p.GuessOdds()
			space := math.Pow10(p.CodeLength)
			down := out.worstDown * scale
			t.Logf("%s: victim logins %d, approved %d; worst unavailability %s (goal: at most 15m0s%s)",
				name, out.victimLogins, out.victimOK, down.Round(time.Minute), map[bool]string{true: ", met", false: ", NOT met"}[down <= 15*time.Minute])
			t.Logf("%s: attacker's best: %d guesses compared in one FailureWindow (%s), odds %.1e; %d in one SendWindow, odds %.1e; GuessOdds per FailureWindow %.1e",
				name, out.bestWindow, p.FailureWindow*scale, float64(out.bestWindow)/space, out.bestSendWin, float64(out.bestSendWin)/space, perWindow)
			if down > 15*time.Minute {
				t.Errorf("the victim was kept from being approved for %s, want at most 15m0s", down.Round(time.Minute))
			}
			if float64(out.bestWindow)/space > perWindow*(1+1e-9) {
				t.Errorf("odds %.2e within one FailureWindow, above GuessOdds' %.2e", float64(out.bestWindow)/space, perWindow)
			}
		})
	}
}

// floodOutcome is what one send flood measured.
type floodOutcome struct {
	worstDown    time.Duration // longest run of failed victim logins
	bestSendWin  int           // most sends to the victim's number in any SendWindow
	keys         int           // client keys that sent to it, the victim's included
	victimLogins int
	victimOK     int
}

// flood plays a send flood for horizon: every step each of the attacker's
// 50 addresses, from a fresh session, asks for a code for the victim's
// number (the limits decide how many go out; it never guesses); every
// probe interval the victim, from its own session and address, asks for a
// code and checks it.
func flood(t *testing.T, w world, horizon, step, probe time.Duration) floodOutcome {
	t.Helper()
	ctx := context.Background()
	v, rec, p := w.verifier(t)
	var sends []time.Time
	keys := map[string]bool{}
	var out floodOutcome
	var vic owner
	start := w.now()
	nextProbe := start
	session := 0
	for w.now().Sub(start) < horizon {
		for i := range 50 {
			session++
			ip := fmt.Sprintf("ip:198.51.100.%d", i)
			_, err := v.Start(ctx, victim, sender.SMS, otp.WithBinding(fmt.Sprintf("attacker-%d", session)), otp.WithLimitKey(ip))
			switch {
			case err == nil:
				sends = append(sends, w.now())
				keys[ip] = true
			case !errors.Is(err, otp.ErrRateLimited):
				t.Fatal(err)
			}
		}
		if now := w.now(); !now.Before(nextProbe) {
			nextProbe = now.Add(probe)
			if vic.login(t, v, rec, now) {
				sends = append(sends, w.now())
				keys["victim"] = true
			}
		}
		w.advance(step)
	}
	vic.end(w.now())
	out.worstDown, out.victimLogins, out.victimOK = vic.worstDown, vic.logins, vic.ok
	// The ceiling holds per window of the store, which is fixed and starts
	// with the number's first send in it; the measure is a sliding span.
	// In real time a burst of sends takes a while and the next window's
	// burst follows within a step of the window's end, so for the
	// real-time stores the span is shortened by a quarter: it cannot reach
	// from one window's burst into the next's. (A sliding SendWindow can
	// hold up to twice the bound, across the end of a window.)
	margin := time.Duration(0)
	if w.scale > 1 {
		margin = p.SendWindow / 4
	}
	out.bestSendWin = mostIn(sends, nil, p.SendWindow-margin)
	out.keys = len(keys)
	return out
}

// TestSendFlood floods the victim's number with sends from 50 addresses as
// fast as the limits allow, on every store, and asserts that no SendWindow
// holds more sends to it than the send ceiling allows: SendsPerWindow, one
// more for each client key used, and one more for each approval, of which
// only the victim makes any (at most SendsPerWindow - 1 that its own
// window budget leaves after its first send); while the victim is never
// kept from being approved for more than 15 minutes.
func TestSendFlood(t *testing.T) {
	for name, mk := range worlds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := mk(t)
			if w.scale > 1 {
				// A burst of 50 sends takes real time: an hour becomes 4 s
				// here, so that a burst is short beside a window.
				w.scale = 900
			}
			p := w.policy()
			scale := max(w.scale, 1)
			horizon, step, probe := 3*p.SendWindow, p.Cooldown, 15*time.Minute/scale
			if scale > 1 {
				step = max(step, 2*time.Millisecond)
				probe = max(probe, step)
			}
			out := flood(t, w, horizon, step, probe)
			down := out.worstDown * scale
			bound := p.SendsPerWindow + out.keys + p.SendsPerWindow - 1
			t.Logf("%s: %d sends to the number in one SendWindow from %d client keys (bound %d); victim logins %d, approved %d; worst unavailability %s",
				name, out.bestSendWin, out.keys, bound, out.victimLogins, out.victimOK, down.Round(time.Minute))
			if out.bestSendWin > bound {
				t.Errorf("%d sends to one number in one SendWindow, want at most SendsPerWindow + keys + approvals = %d", out.bestSendWin, bound)
			}
			if down > 15*time.Minute {
				t.Errorf("the victim was kept from being approved for %s, want at most 15m0s", down.Round(time.Minute))
			}
		})
	}
}
