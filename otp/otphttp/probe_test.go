package otphttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otphttp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// TestCheckBudget: one client spraying guesses across many numbers that
// each have a code pending is held to the per-client check budget.
func TestCheckBudget(t *testing.T) {
	t.Parallel()
	st := memstore.New(memstore.WithSweepInterval(0))
	t.Cleanup(func() { st.Close() })
	rec := &sendertest.Recorder{}
	// 60 codes to one prefix that nobody enters is what the pumping guard
	// throttles; this test is about the check budget alone.
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: rec, Secret: secret, Policy: otp.Policy{Pumping: otp.PumpingPolicy{Disabled: true}}})
	if err != nil {
		t.Fatal(err)
	}
	const numbers = 60
	for i := range numbers {
		if _, err := v.Start(context.Background(), nthNumber(i), sender.SMS); err != nil {
			t.Fatal(err)
		}
	}
	h, err := otphttp.New(v, otphttp.WithCheckBudget(20, otphttp.DefaultCheckWindow))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	served := 0
	for i := range numbers {
		st := post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":"000000"}`, nthNumber(i)), nil)
		if st != http.StatusTooManyRequests {
			served++
		}
	}
	if served != 20 {
		t.Fatalf("one client had %d checks served across %d numbers, want the budget of 20", served, numbers)
	}
}

// TestNoPendingOracle: with codes bound to sessions, a client in another
// session gets the same reply whether or not a code is pending, and its
// checks cost the owner's code nothing.
func TestNoPendingOracle(t *testing.T) {
	t.Parallel()
	e := sessionEnv(t)
	wantStatus(t, e.start(t, number, "sms", session("owner")), http.StatusAccepted, "")
	code := e.code(t, number)
	for i := range 10 {
		pending := e.check(t, number, otptest.Wrong(code), session(fmt.Sprint("attacker", i)))
		idle := e.check(t, number2, otptest.Wrong(code), session(fmt.Sprint("attacker", i)))
		if pending.status != idle.status || pending.raw != idle.raw {
			t.Fatalf("probe %d: a number with a code pending answers %d %s, one without %d %s", i, pending.status, pending.raw, idle.status, idle.raw)
		}
	}
	// The owner's code still has all its attempts, and works.
	r := e.check(t, number, otptest.Wrong(code), session("owner"))
	if r.status != http.StatusUnprocessableEntity || r.body["remaining"] != 4.0 {
		t.Fatalf("owner's wrong guess = %d %s, want 422 with 4 remaining", r.status, r.raw)
	}
	wantStatus(t, e.check(t, number, code, session("owner")), http.StatusOK, "")
}

// TestCheckBudgetRefills: the budget refills continuously and a refused
// check says when to retry.
func TestCheckBudgetRefills(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, setup{opts: []otphttp.Option{otphttp.WithCheckBudget(2, time.Minute)}})
		wantStatus(t, e.check(t, number, "123456"), http.StatusNotFound, "")
		wantStatus(t, e.check(t, number2, "123456"), http.StatusNotFound, "")
		r := e.check(t, number, "123456")
		wantStatus(t, r, http.StatusTooManyRequests, otphttp.CodeRateLimited)
		if got := r.header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After = %q, want 30", got)
		}
		// Another client has its own budget.
		wantStatus(t, e.check(t, number, "123456", func(r *http.Request) { r.RemoteAddr = "198.51.100.9:4000" }), http.StatusNotFound, "")
		time.Sleep(30 * time.Second)
		wantStatus(t, e.check(t, number, "123456"), http.StatusNotFound, "")
		wantStatus(t, e.check(t, number, "123456"), http.StatusTooManyRequests, otphttp.CodeRateLimited)
	})
}
