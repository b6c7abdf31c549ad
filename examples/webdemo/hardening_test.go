package main

// Fault tests for the "infrastructure faults" row of SECURITY.md ("What
// go2fa protects against"), run against the real app over HTTP (newApp:
// otphttp on a real otp.Verifier): Redis killed and restarted under load,
// Redis slow, and Plivo failing in every way the fake can. Each fault must
// end in a clean status from the API (a 503 for the store, a 502 for the
// sender, never a 500, never an approval), leave no valid code behind for a
// message that was not sent, and give full service once it ends. The
// no-leak test is in leak_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/redisstore"
	"github.com/go2fa/go2fa/store/redisstore/redistest"
)

// faultPolicy lifts the limits that would otherwise refuse the many sends
// of a load or fault test from one client IP.
func faultPolicy() otp.Policy {
	return otp.Policy{Cooldown: -1, SendsPerWindow: 1_000_000, KeySends: 1_000_000, MaxFailures: 100}
}

func startBody(to string, ch sender.Channel) string {
	return fmt.Sprintf(`{"to":%q,"channel":%q}`, to, ch)
}

func checkBody(to, code string) string {
	return fmt.Sprintf(`{"to":%q,"code":%q}`, to, code)
}

// TestFaultRedisKilledMidLoad runs the demo on a redis-server of its own,
// wired exactly as main wires REDIS_URL (checks autopipelined), with 8
// workers doing start / wrong check / right check over HTTP; it SIGKILLs
// the server in the middle of the load, keeps loading, and restarts it on
// the same port. Every reply must be a clean status: 202/200/422/404
// while it can reach Redis, a JSON 503 "unavailable" with Retry-After
// while it cannot; never another 5xx, never a dropped connection (a
// panic), never a wrong code approved. After the restart full service
// resumes.
func TestFaultRedisKilledMidLoad(t *testing.T) {
	srv := redistest.StartServer(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	vars := map[string]string{
		"REDIS_URL":    "redis://" + srv.Addr() + "/0?dial_timeout=200ms&read_timeout=500ms&write_timeout=500ms&max_retries=1",
		"GO2FA_SECRET": fmt.Sprintf("%x", testSecret),
	}
	cfg, cleanup, err := configFromEnv(t.Context(), env(vars), io.Discard, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	rec := &sendertest.Recorder{}
	cfg.Sender, cfg.Policy = rec, faultPolicy()
	cfg.CheckBudget = 1 << 20 // the load is one client
	app, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(app)
	t.Cleanup(ts.Close)
	client := ts.Client()
	client.Timeout = 10 * time.Second

	const (
		workers       = 8
		phaseUp       = 0 // before the kill
		phaseDown     = 1 // killed
		phaseRestored = 2 // restarted
	)
	var (
		phase     atomic.Int32
		approvals [3]atomic.Int64
		outage503 atomic.Int64
		replies   atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		mu        sync.Mutex
		problems  []string
		statuses  = map[string]int{}
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	// seen classifies one reply of route ("start", "wrong", "right").
	seen := func(route string, r reply, err error) bool {
		replies.Add(1)
		ph := phase.Load()
		if err != nil {
			problem("%s (phase %d): no reply: %v", route, ph, err)
			return false
		}
		mu.Lock()
		statuses[fmt.Sprintf("phase%d %s %d", ph, route, r.status)]++
		mu.Unlock()
		if r.status >= 500 {
			body := r.json()
			if r.status != http.StatusServiceUnavailable || body["code"] != "unavailable" || r.header.Get("Retry-After") == "" {
				problem("%s (phase %d): %d %s, want only a JSON 503 unavailable with Retry-After", route, ph, r.status, r.body)
			}
			if ph == phaseDown {
				outage503.Add(1)
			}
			return false
		}
		want := map[string][]int{
			"start": {http.StatusAccepted},
			// A wrong code: rejected, or expired when the restart lost
			// the code; never approved, and never locked (one guess).
			"wrong": {http.StatusUnprocessableEntity, http.StatusNotFound},
			// The right code: approved, or expired when the restart lost
			// it.
			"right": {http.StatusOK, http.StatusNotFound},
		}[route]
		if phase.Load() == phaseUp && route != "start" {
			// Redis was up for the whole request: no code can be lost.
			want = want[:1]
		}
		for _, s := range want {
			if r.status == s {
				return true
			}
		}
		problem("%s (phase %d): %d %s, want one of %v or 503", route, ph, r.status, r.body, want)
		return false
	}
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				to := fmt.Sprintf("+1415555%d%03d", w, i%1000)
				r, err := postJSON(client, ts.URL+"/api/verifications", startBody(to, sender.SMS))
				if !seen("start", r, err) {
					continue
				}
				m, ok := rec.Last(to)
				if !ok {
					problem("start %s answered 202 but sent nothing", to)
					continue
				}
				r, err = postJSON(client, ts.URL+"/api/verifications/check", checkBody(to, wrongCode(m.Code)))
				if seen("wrong", r, err) && r.status == http.StatusOK {
					problem("a wrong code was approved")
				}
				ph := phase.Load()
				r, err = postJSON(client, ts.URL+"/api/verifications/check", checkBody(to, m.Code))
				if seen("right", r, err) && r.status == http.StatusOK {
					approvals[ph].Add(1)
				}
			}
		})
	}
	finish := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	t.Cleanup(finish)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				finish()
				t.Fatalf("gave up waiting for %s (statuses %v, problems %v)", what, statuses, problems)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The TOTP tab keeps its failure counts in the same store.
	r, err := postJSON(client, ts.URL+"/api/totp/enroll", `{}`)
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("enroll = %+v, %v", r, err)
	}
	key, err := totp.ParseURI(r.json()["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	totpVerify := func(code string) reply {
		t.Helper()
		r, err := postJSON(client, ts.URL+"/api/totp/verify", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, r.json()["enrollment"], code))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	waitFor("approvals before the kill", func() bool { return approvals[phaseUp].Load() >= 40 })
	phase.Store(phaseDown)
	srv.Kill()
	waitFor("503s while Redis is down", func() bool { return outage503.Load() >= 2*workers })
	now, err := key.Code(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := totpVerify(now); r.status != http.StatusServiceUnavailable || r.json()["code"] != "unavailable" {
		t.Errorf("TOTP verify while Redis is down = %d %s, want a JSON 503", r.status, r.body)
	}
	srv.Restart()
	phase.Store(phaseRestored)
	waitFor("approvals after the restart", func() bool { return approvals[phaseRestored].Load() >= 40 })
	finish()

	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d replies; by phase, route and status: %v", replies.Load(), statuses)

	// Full service: a fresh start, and its code approved once.
	to := "+14155559999"
	if r, err := postJSON(client, ts.URL+"/api/verifications", startBody(to, sender.SMS)); err != nil || r.status != http.StatusAccepted {
		t.Fatalf("start after the restart = %+v, %v; want 202", r, err)
	}
	m, _ := rec.Last(to)
	if r, err := postJSON(client, ts.URL+"/api/verifications/check", checkBody(to, m.Code)); err != nil || r.status != http.StatusOK {
		t.Fatalf("check after the restart = %+v, %v; want 200 approved", r, err)
	}
	if r := totpVerify(now); r.status != http.StatusOK {
		t.Errorf("TOTP verify after the restart = %d %s, want 200", r.status, r.body)
	}
	// The outage was logged with its cause, typed by otp.
	if out := logs.String(); !strings.Contains(out, "otp: store unavailable") || !strings.Contains(out, "redisstore: ") {
		t.Errorf("the log lacks the store failures: %.500s", out)
	}
}

// isTimeout reports whether err says a deadline passed: a context deadline
// or a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// slowBackends are the Redis servers TestFaultRedisSlow puts its proxy in
// front of: miniredis always, and the redis-server of REDIS_URL when set.
func slowBackends(t *testing.T) map[string]*redis.Options {
	m := miniredis.RunT(t)
	out := map[string]*redis.Options{"miniredis": {Addr: m.Addr()}}
	if u := os.Getenv("REDIS_URL"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		out["redis-server"] = opt
	} else {
		t.Log("REDIS_URL not set: the slow-Redis test runs on miniredis only")
	}
	return out
}

// TestFaultRedisSlow puts a proxy that delays every chunk by 1 s between
// the app and Redis, whose client has 250 ms read and write
// timeouts. Start and check answer a JSON 503 (never an approval, never a
// message sent); the Verifier's error, seen directly, is
// otp.ErrStoreUnavailable with a timeout underneath, also with a context
// deadline instead of a socket timeout. Once the proxy stops delaying,
// service resumes.
func TestFaultRedisSlow(t *testing.T) {
	for name, base := range slowBackends(t) {
		t.Run(name, func(t *testing.T) {
			proxy := redistest.NewProxy(t, base.Addr)
			opt := *base
			opt.Addr = proxy.Addr()
			opt.ReadTimeout, opt.WriteTimeout = 250*time.Millisecond, 250*time.Millisecond
			opt.MaxRetries, opt.PoolSize = -1, 4
			rdb := redis.NewClient(&opt)
			t.Cleanup(func() { rdb.Close() })
			// A prefix of its own, so a shared REDIS_URL server is not
			// disturbed.
			st, err := redisstore.New(rdb, redisstore.WithPrefix(fmt.Sprintf("go2fa-slowtest-%d", time.Now().UnixNano())))
			if err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			rec := &sendertest.Recorder{}
			cfg := appConfig{Store: st, Sender: rec, Secret: testSecret, Policy: faultPolicy(),
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), CheckBudget: 1 << 20}
			app, err := newApp(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(app)
			t.Cleanup(ts.Close)
			c := ts.Client()
			start := func(to string) reply {
				t.Helper()
				r, err := postJSON(c, ts.URL+"/api/verifications", startBody(to, sender.SMS))
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			check := func(to, code string) reply {
				t.Helper()
				r, err := postJSON(c, ts.URL+"/api/verifications/check", checkBody(to, code))
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			want503 := func(what string, r reply) {
				t.Helper()
				if r.status != http.StatusServiceUnavailable || r.json()["code"] != "unavailable" || r.header.Get("Retry-After") == "" {
					t.Errorf("%s on slow Redis = %d %s, want a JSON 503 unavailable with Retry-After", what, r.status, r.body)
				}
			}

			// Through the proxy, not slow yet: the path works.
			const pending, slowTo, after = "+14155550201", "+14155550202", "+14155550203"
			if r := start(pending); r.status != http.StatusAccepted {
				t.Fatalf("start before the fault = %d %s", r.status, r.body)
			}
			code, _ := rec.Last(pending)

			proxy.SetDelay(time.Second)
			want503("start", start(slowTo))
			if _, sent := rec.Last(slowTo); sent {
				t.Error("a message was sent although the code could not be saved")
			}
			want503("check of the right code", check(pending, code.Code))
			want503("check of a wrong code", check(pending, wrongCode(code.Code)))
			if out := logs.String(); !strings.Contains(out, "otp: store unavailable") || !strings.Contains(out, "timeout") {
				t.Errorf("the log lacks the typed, timed-out store failure: %.500s", out)
			}

			// The same through the Verifier itself: typed errors, a
			// deadline underneath; first the client's socket timeouts,
			// then a context deadline on a client that honours it.
			v, err := otp.NewVerifier(otp.Config{Store: st, Sender: rec, Secret: testSecret, Policy: faultPolicy()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Start(t.Context(), slowTo, sender.SMS)
			if !errors.Is(err, otp.ErrStoreUnavailable) || errors.Is(err, otp.ErrSendFailed) || !isTimeout(err) {
				t.Errorf("Start on slow Redis: err = %v, want ErrStoreUnavailable with a timeout underneath", err)
			}
			res, err := v.Check(t.Context(), pending, code.Code)
			if !errors.Is(err, otp.ErrStoreUnavailable) || !isTimeout(err) || res.Status == otp.Approved {
				t.Errorf("Check on slow Redis = %+v, %v; want ErrStoreUnavailable with a timeout underneath", res, err)
			}
			opt2 := opt
			opt2.ReadTimeout, opt2.WriteTimeout, opt2.ContextTimeoutEnabled = 5*time.Second, 5*time.Second, true
			rdb2 := redis.NewClient(&opt2)
			t.Cleanup(func() { rdb2.Close() })
			st2, err := redisstore.New(rdb2, redisstore.WithPrefix("go2fa-slowtest-ctx"))
			if err != nil {
				t.Fatal(err)
			}
			v2, err := otp.NewVerifier(otp.Config{Store: st2, Sender: rec, Secret: testSecret, Policy: faultPolicy()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
			res, err = v2.Check(ctx, pending, code.Code)
			cancel()
			if !errors.Is(err, otp.ErrStoreUnavailable) || !errors.Is(err, context.DeadlineExceeded) || res.Status == otp.Approved {
				t.Errorf("Check with a 250 ms deadline on slow Redis = %+v, %v; want ErrStoreUnavailable wrapping context.DeadlineExceeded", res, err)
			}
			if _, sent := rec.Last(slowTo); sent {
				t.Error("a message was sent although the code could not be saved")
			}

			// The fault ends: full service for a new verification.
			proxy.SetDelay(0)
			if r := start(after); r.status != http.StatusAccepted {
				t.Fatalf("start after the fault = %d %s", r.status, r.body)
			}
			m, _ := rec.Last(after)
			if r := check(after, wrongCode(m.Code)); r.status != http.StatusUnprocessableEntity {
				t.Fatalf("wrong code after the fault = %d %s, want 422", r.status, r.body)
			}
			if r := check(after, m.Code); r.status != http.StatusOK {
				t.Fatalf("check after the fault = %d %s, want 200", r.status, r.body)
			}
		})
	}
}

// plivoApp serves the demo with the real plivoadapter senders (direct SMS,
// and voice with its answer handler mounted) against the fake Plivo API,
// as main wires PLIVO_* and PUBLIC_URL. Plivo requests time out after
// 1 s. st, if not nil, replaces the memory store.
func plivoApp(t *testing.T, secret []byte, log *slog.Logger, stderr io.Writer, policy otp.Policy, st store.Store) (*plivotest.Server, appConfig, http.Handler, *httptest.Server) {
	t.Helper()
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	hc := fake.Client()
	hc.Timeout = time.Second
	vars := map[string]string{
		"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken, "PLIVO_NUMBER": plivotest.Number,
		"PUBLIC_URL": "https://demo.example", "GO2FA_SECRET": fmt.Sprintf("%x", secret),
	}
	cfg, cleanup, err := configFromEnv(t.Context(), env(vars), stderr, log, hc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	if st != nil {
		cfg.Store = st
	}
	channels := cfg.Policy.Channels
	cfg.Policy = policy
	// The fault tests probe with many checks from one client.
	cfg.CheckBudget = 1 << 20
	cfg.Policy.Channels = channels
	app, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(app)
	t.Cleanup(ts.Close)
	return fake, cfg, app, ts
}

// spokenCode plays Plivo picking up call c and returns the code the
// answer URL speaks ("" and the status when it speaks none).
func spokenCode(t *testing.T, app http.Handler, c plivotest.Call) (string, int) {
	t.Helper()
	a, err := plivotest.PlayAnswer(app, c)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	if d := a.Digits(); len(d) > 0 {
		return d[0], a.StatusCode
	}
	return "", a.StatusCode
}

// TestFaultPlivo sends through the real plivoadapter senders against the
// fake Plivo API failing in each way it can, on both channels. Each
// failed start answers a JSON 502 send_failed that holds neither the code
// nor the number; the code that reached Plivo (the SMS text, or the
// call's answer URL) is not valid afterwards; the Verifier's own error is
// otp.ErrSendFailed over a *plivoadapter.Error with the right status and
// class; and once the fault is cleared, a new start works end to end.
func TestFaultPlivo(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	fake, cfg, app, ts := plivoApp(t, testSecret, log, io.Discard, faultPolicy(), nil)
	c := ts.Client()
	v, err := otp.NewVerifier(otp.Config{Store: cfg.Store, Sender: cfg.Sender, Secret: testSecret, Policy: cfg.Policy})
	if err != nil {
		t.Fatal(err)
	}

	failures := []struct {
		name      string
		f         plivotest.Failure
		status    int  // the HTTP status the adapter reports (0: no answer)
		transient bool // ErrTransient, else ErrPermanent
	}{
		{"500", plivotest.ServerError, 500, true},
		{"429", plivotest.TooManyRequests, 429, true},
		{"400", plivotest.BadRequest, 400, false},
		{"401", plivotest.Unauthorized, 401, false},
		{"garbage JSON", plivotest.GarbageJSON, 200, true},
		{"hang past the timeout", plivotest.Hang, 0, true},
	}
	n := 0
	var allCodes []string
	var numbers []string
	for _, fc := range failures {
		for _, ch := range []sender.Channel{sender.SMS, sender.Call} {
			n++
			to := fmt.Sprintf("+1415555%04d", 3000+n)
			direct := fmt.Sprintf("+1415555%04d", 3500+n)
			numbers = append(numbers, to, direct)
			t.Run(fc.name+"/"+string(ch), func(t *testing.T) {
				before := fake.RequestCount()
				fake.Fail(fc.f)
				r, err := postJSON(c, ts.URL+"/api/verifications", startBody(to, ch))
				fake.Fail(plivotest.None)
				if err != nil {
					t.Fatal(err)
				}
				body := r.json()
				if r.status != http.StatusBadGateway || body["code"] != "send_failed" || body["error"] == "" || len(body) != 2 {
					t.Fatalf("start with Plivo failing = %d %s, want a JSON 502 send_failed", r.status, r.body)
				}
				reqs := fake.Requests()[before:]
				if len(reqs) == 0 {
					t.Fatal("the request never reached the fake")
				}
				// What reached Plivo: the SMS text holds the code; a
				// call's answer URL holds a token that must be dead.
				var code string
				for _, rq := range reqs {
					switch ch {
					case sender.SMS:
						if code = codeInBody(rq.Body); code == "" {
							t.Fatalf("no code in the SMS request %s", rq.Body)
						}
						allCodes = append(allCodes, code)
					case sender.Call:
						var p struct {
							AnswerURL string `json:"answer_url"`
						}
						if err := json.Unmarshal(rq.Body, &p); err != nil || p.AnswerURL == "" {
							t.Fatalf("call request without an answer URL: %s", rq.Body)
						}
						got, status := spokenCode(t, app, plivotest.Call{CallUUID: "c", RequestUUID: "r", From: plivotest.Number, To: to, AnswerURL: p.AnswerURL, AnswerMethod: http.MethodPost})
						if got != "" || status != http.StatusNotFound {
							t.Fatalf("the failed call's answer URL = %d, speaks %q; want 404 and nothing spoken", status, got)
						}
					}
				}
				for _, s := range append([]string{code}, numberForms(to)...) {
					if s != "" && containsToken(r.body, s) {
						t.Errorf("the 502 reply %s holds %q", r.body, s)
					}
				}
				// Nothing is pending: the code that reached Plivo is
				// expired, and so is any other (a pending code would
				// answer 422 to a wrong one).
				probe := []string{"000000"}
				if code != "" {
					probe = append(probe, code, wrongCode(code))
				}
				for _, p := range probe {
					r, err := postJSON(c, ts.URL+"/api/verifications/check", checkBody(to, p))
					if err != nil || r.status != http.StatusNotFound || r.json()["status"] != "expired" {
						t.Fatalf("check after the failed send = %+v, %v; want 404 expired", r, err)
					}
				}

				// The Verifier's own error, typed.
				fake.Fail(fc.f)
				_, err = v.Start(t.Context(), direct, ch)
				fake.Fail(plivotest.None)
				var pe *plivoadapter.Error
				class := plivoadapter.ErrPermanent
				if fc.transient {
					class = plivoadapter.ErrTransient
				}
				switch {
				case !errors.Is(err, otp.ErrSendFailed) || errors.Is(err, otp.ErrStoreUnavailable):
					t.Errorf("Start: err = %v, want ErrSendFailed only", err)
				case !errors.As(err, &pe) || pe.StatusCode != fc.status || !errors.Is(err, class):
					t.Errorf("Start: err = %v, want a *plivoadapter.Error with status %d and class %v", err, fc.status, class)
				case fc.f == plivotest.Hang && !isTimeout(err):
					t.Errorf("Start: err = %v, want a timeout underneath", err)
				}
				if err != nil {
					for _, s := range append(numberForms(direct), allCodes...) {
						if containsToken([]byte(err.Error()), s) {
							t.Errorf("the error %q holds %q", err, s)
						}
					}
				}

				// The fault is cleared: a new start works end to end.
				if r, err := postJSON(c, ts.URL+"/api/verifications", startBody(to, ch)); err != nil || r.status != http.StatusAccepted {
					t.Fatalf("start after the fault = %+v, %v; want 202", r, err)
				}
				var sent string
				switch ch {
				case sender.SMS:
					m, _ := fake.LastMessage(to)
					sent = m.Code
				case sender.Call:
					call, ok := fake.LastCall(to)
					if !ok {
						t.Fatal("no call placed after the fault")
					}
					sent, _ = spokenCode(t, app, call)
				}
				if sent == "" || sent == code {
					t.Fatalf("code after the fault = %q (failed one %q)", sent, code)
				}
				if r, err := postJSON(c, ts.URL+"/api/verifications/check", checkBody(to, sent)); err != nil || r.status != http.StatusOK {
					t.Fatalf("check after the fault = %+v, %v; want 200", r, err)
				}
			})
		}
	}
	out := []byte(logs.String())
	if !strings.Contains(string(out), "otp: send failed") || !strings.Contains(string(out), "plivoadapter: send") {
		t.Errorf("the log lacks the typed send failures: %.500s", out)
	}
	for _, n := range numbers {
		for _, s := range numberForms(n) {
			if containsToken(out, s) {
				t.Errorf("the log holds the number %q", s)
			}
		}
	}
	for _, code := range allCodes {
		if containsToken(out, code) {
			t.Errorf("the log holds a code %q", code)
		}
	}
}
