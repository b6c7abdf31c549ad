package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/store/memstore"
)

// fallbackDemo is the demo wired to the fake Plivo, with its clock.
type fallbackDemo struct {
	fake    *plivotest.Server
	app     http.Handler
	srv     *httptest.Server
	advance func(time.Duration)
}

// newFallbackDemo serves the demo with PLIVO_* and PUBLIC_URL set (SMS with
// delivery reports, and voice), on memory or on Redis (miniredis).
func newFallbackDemo(t *testing.T, backend string) *fallbackDemo {
	t.Helper()
	d := &fallbackDemo{fake: plivotest.NewServer()}
	t.Cleanup(d.fake.Close)
	vars := map[string]string{
		"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken, "PLIVO_NUMBER": plivotest.Number,
		"PUBLIC_URL": "https://demo.example/", "GO2FA_SECRET": fmt.Sprintf("%x", testSecret),
	}
	var m *miniredis.Miniredis
	if backend == "redis" {
		m = miniredis.RunT(t)
		now := time.Now()
		m.SetTime(now)
		m.ClockTTL(true)
		d.advance = func(dt time.Duration) { now = now.Add(dt); m.SetTime(now) }
		vars["REDIS_URL"] = "redis://" + m.Addr() + "/0"
	}
	cfg := testConfig(t, vars, d.fake.Client())
	if cfg.Fallback == nil {
		t.Fatal("PLIVO_* and PUBLIC_URL set, but the fallback is off")
	}
	if backend == "memory" {
		clk := testclock.At(time.Now())
		st := memstore.New(memstore.WithClock(clk.Now))
		t.Cleanup(func() { st.Close() })
		cfg.Store = st
		d.advance = func(dt time.Duration) { clk.Advance(dt) }
	}
	d.app, d.srv = serve(t, cfg)
	return d
}

// browser returns a client with a session cookie from the page.
func (d *fallbackDemo) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := *d.srv.Client() // a copy: each browser has its own jar
	c.Jar = jar
	resp, err := c.Get(d.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return &c
}

func (d *fallbackDemo) startSMS(t *testing.T, c *http.Client, to string) plivotest.Message {
	t.Helper()
	if r := post(t, c, d.srv.URL+"/api/verifications", fmt.Sprintf(`{"to":%q,"channel":"sms"}`, to)); r.status != http.StatusAccepted {
		t.Fatalf("start = %d %v", r.status, r.body)
	}
	m, ok := d.fake.LastMessage(to)
	if !ok || m.Code == "" || m.URL != "https://demo.example/plivo/status" {
		t.Fatalf("sms = %+v, %v; want one with a status URL", m, ok)
	}
	return m
}

func (d *fallbackDemo) check(t *testing.T, c *http.Client, to, code string) result {
	t.Helper()
	return post(t, c, d.srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, to, code))
}

// report posts Plivo's signed status callback for m, as Plivo would.
func (d *fallbackDemo) report(t *testing.T, m plivotest.Message, status string) int {
	t.Helper()
	req, err := plivotest.StatusRequest(m, status, "30")
	if err != nil {
		t.Error(err)
		return 0
	}
	return d.serve(req)
}

// serve sends a callback to the demo as Plivo would and returns the status.
func (d *fallbackDemo) serve(r *http.Request) int {
	w := httptest.NewRecorder()
	d.app.ServeHTTP(w, r)
	return w.Code
}

func (d *fallbackDemo) calls(to string) int {
	n := 0
	for _, c := range d.fake.Calls() {
		if strings.TrimPrefix(c.To, "+") == strings.TrimPrefix(to, "+") {
			n++
		}
	}
	return n
}

func (d *fallbackDemo) notice(t *testing.T, c *http.Client) string {
	t.Helper()
	resp, err := c.Get(d.srv.URL + "/api/fallback")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out["fallback"]
}

// TestFallbackEndToEnd: an SMS, a signed "undelivered" report, exactly one
// call speaking the same code, approved in the original session; however
// the report is repeated, one call; the guess count goes on.
func TestFallbackEndToEnd(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			d := newFallbackDemo(t, backend)
			c := d.browser(t)
			sms := d.startSMS(t, c, testNumber)
			if r := d.check(t, c, testNumber, wrongCode(sms.Code)); r.body["remaining"] != 4.0 {
				t.Fatalf("wrong code = %d %v, want 4 left", r.status, r.body)
			}
			if n := d.notice(t, c); n != "" {
				t.Fatalf("notice before any report = %q, want none", n)
			}
			if st := d.report(t, sms, "delivered"); st != http.StatusOK || d.calls(testNumber) != 0 {
				t.Fatalf("delivered report = %d, %d calls; want 200 and none", st, d.calls(testNumber))
			}

			// The signed "undelivered" report, kept to be replayed byte for byte.
			params := plivotest.StatusParams(sms, "undelivered", "30")
			nonce := plivotest.Nonce()
			signed := func() *http.Request {
				r, err := plivotest.SignedRequestWith(plivotest.AuthToken, nonce, http.MethodPost, sms.URL, params)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			if st := d.serve(signed()); st != http.StatusOK {
				t.Fatalf("undelivered report = %d, want 200", st)
			}
			if n := d.calls(testNumber); n != 1 {
				t.Fatalf("%d calls after the report, want 1", n)
			}
			call, _ := d.fake.LastCall(testNumber)
			if strings.Contains(call.AnswerURL, sms.Code) {
				t.Fatal("the answer URL holds the code")
			}
			ans, err := plivotest.PlayAnswer(d.app, call)
			if err != nil || ans.StatusCode != http.StatusOK {
				t.Fatalf("answer = %+v, %v", ans, err)
			}
			if digits := ans.Digits(); len(digits) == 0 || digits[0] != sms.Code {
				t.Fatalf("the call speaks %v; want the SMS's code", digits)
			}
			if n := d.notice(t, c); n != "call" {
				t.Fatalf("notice after the fallback = %q, want call", n)
			}
			if n := d.notice(t, d.browser(t)); n != "" {
				t.Fatalf("another browser's notice = %q, want none", n)
			}

			// Replayed, duplicated, and 20 concurrent reports: still one call.
			d.serve(signed())
			d.report(t, sms, "undelivered")
			d.report(t, sms, "failed")
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() { d.report(t, sms, "undelivered") })
			}
			wg.Wait()
			if n := d.calls(testNumber); n != 1 {
				t.Fatalf("%d calls after repeated reports, want 1", n)
			}

			// The guess count was not reset: one more wrong guess leaves 3.
			if r := d.check(t, c, testNumber, wrongCode(sms.Code)); r.body["remaining"] != 3.0 {
				t.Fatalf("wrong code after the fallback = %d %v, want 3 left", r.status, r.body)
			}
			// Another session cannot use the code (it is bound to this one).
			if r := d.check(t, d.browser(t), testNumber, sms.Code); r.status == http.StatusOK {
				t.Fatalf("the code checked in another session: %v", r.body)
			}
			if r := d.check(t, c, testNumber, ans.Digits()[0]); r.status != http.StatusOK || r.body["status"] != "approved" {
				t.Fatalf("check of the spoken code in the original session = %d %v", r.status, r.body)
			}
		})
	}
}

// TestFallbackNoCall: a report for a code that was approved, expired or
// locked, or a report that is not Plivo's, places no call.
func TestFallbackNoCall(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			d := newFallbackDemo(t, backend)
			cases := []struct {
				name, to string
				end      func(c *http.Client, m plivotest.Message)
			}{
				{"approved", "+14155550101", func(c *http.Client, m plivotest.Message) {
					if r := d.check(t, c, m.Dst, m.Code); r.status != http.StatusOK {
						t.Fatalf("check = %d %v", r.status, r.body)
					}
				}},
				{"locked", "+14155550102", func(c *http.Client, m plivotest.Message) {
					for range 5 {
						d.check(t, c, m.Dst, wrongCode(m.Code))
					}
					if r := d.check(t, c, m.Dst, m.Code); r.body["status"] == "approved" {
						t.Fatal("approved after five wrong guesses")
					}
				}},
				{"expired", "+14155550103", func(c *http.Client, m plivotest.Message) {
					d.advance(5*time.Minute + time.Second)
				}},
			}
			for _, tc := range cases {
				c := d.browser(t)
				m := d.startSMS(t, c, tc.to)
				tc.end(c, m)
				// 200 (acknowledged), or 404 from a status handler that
				// forgets a message once its code has expired.
				if st := d.report(t, m, "undelivered"); st != http.StatusOK && st != http.StatusNotFound {
					t.Fatalf("%s: report = %d, want 200 or 404", tc.name, st)
				}
				if n := d.calls(tc.to); n != 0 {
					t.Fatalf("%s: %d calls, want none", tc.name, n)
				}
			}

			// Forged: signed with another token. Nothing happens.
			c := d.browser(t)
			m := d.startSMS(t, c, "+14155550104")
			req, _ := plivotest.SignedRequestWith("wrong-token", plivotest.Nonce(), http.MethodPost, m.URL, plivotest.StatusParams(m, "undelivered", "30"))
			if st := d.serve(req); st != http.StatusForbidden || d.calls("+14155550104") != 0 {
				t.Fatalf("forged report = %d, %d calls; want 403 and none", st, d.calls("+14155550104"))
			}
			// A report about a message this demo never sent.
			other := m
			other.Dst, other.UUID = "+14155550199", "00000000-0000-4000-8000-000000000000"
			if st := d.report(t, other, "undelivered"); (st != http.StatusOK && st != http.StatusNotFound) || len(d.fake.Calls()) != 0 {
				t.Fatalf("unknown message: %d, %d calls; want 200 or 404, and none", st, len(d.fake.Calls()))
			}
		})
	}
}
