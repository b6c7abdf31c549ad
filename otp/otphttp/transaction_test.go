package otphttp_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otphttp"
)

// payments is the server-side state of a payment screen: the payment each
// session is confirming, keyed by a cookie.
type payments struct {
	mu sync.Mutex
	m  map[string]otp.Transaction
}

func (p *payments) set(session string, t otp.Transaction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[session] = t
}

func (p *payments) pending(r *http.Request) (otp.Transaction, error) {
	c, err := r.Cookie("session")
	if err != nil {
		return otp.Transaction{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.m[c.Value]
	if !ok {
		return otp.Transaction{}, errors.New("no payment pending")
	}
	return t, nil
}

func session(id string) func(*http.Request) {
	return func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "session", Value: id, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
}

func newPaymentEnv(t *testing.T) (*env, *payments) {
	t.Helper()
	p := &payments{m: map[string]otp.Transaction{}}
	return newEnv(t, setup{opts: []otphttp.Option{otphttp.WithTransaction(p.pending)}}), p
}

var acme = otp.Transaction{Amount: "12.5", Currency: "eur", Payee: "ACME Ltd"}

func TestTransactionConfirm(t *testing.T) {
	t.Parallel()
	e, p := newPaymentEnv(t)
	p.set("s1", acme)
	r := e.start(t, number, "sms", session("s1"))
	wantStatus(t, r, http.StatusAccepted, "")
	tx, _ := r.body["transaction"].(map[string]any)
	if tx["amount"] != "EUR 12.50" || tx["payee"] != "ACME Ltd" {
		t.Fatalf("start reply transaction = %v, want EUR 12.50 to ACME Ltd", r.body["transaction"])
	}
	m, _ := e.rec.Last(number)
	if want := "Code " + m.Code + " to pay EUR 12.50 to ACME Ltd."; !strings.HasPrefix(m.Text, want) {
		t.Fatalf("SMS text = %q, want it to start with %q", m.Text, want)
	}
	if strings.Contains(r.raw, m.Code) {
		t.Fatal("the start reply holds the code")
	}
	wantStatus(t, e.check(t, number, m.Code, session("s1")), http.StatusOK, "")
}

// The payment the session confirms changes between the code and the check
// (the amount is raised, the payee swapped): the code does not approve it,
// and every try is counted.
func TestTransactionTampered(t *testing.T) {
	t.Parallel()
	e, p := newPaymentEnv(t)
	p.set("s1", acme)
	wantStatus(t, e.start(t, number, "sms", session("s1")), http.StatusAccepted, "")
	code := e.code(t, number)
	for i, evil := range []otp.Transaction{
		{Amount: "1250.00", Currency: "EUR", Payee: "ACME Ltd"},
		{Amount: "12.50", Currency: "EUR", Payee: "Mallory"},
	} {
		p.set("s1", evil)
		r := e.check(t, number, code, session("s1"))
		wantStatus(t, r, http.StatusUnprocessableEntity, "")
		if r.body["remaining"] != float64(4-i) {
			t.Fatalf("tampered check %d: remaining = %v, want %d", i, r.body["remaining"], 4-i)
		}
	}
	// Another session has no payment: refused before the Verifier.
	wantStatus(t, e.check(t, number, code, session("s2")), http.StatusBadRequest, otphttp.CodeInvalidTransaction)
	p.set("s1", acme)
	wantStatus(t, e.check(t, number, code, session("s1")), http.StatusOK, "")
}

// The client cannot name the payment: the body takes no such member, and a
// session without a payment gets no code.
func TestTransactionNotFromClient(t *testing.T) {
	t.Parallel()
	e, p := newPaymentEnv(t)
	p.set("s1", acme)
	r := e.do(t, http.MethodPost, "/api/verifications", "application/json",
		`{"to":"+14155550100","channel":"sms","amount":"1.00"}`, session("s1"))
	wantStatus(t, r, http.StatusBadRequest, otphttp.CodeUnknownField)
	wantStatus(t, e.start(t, number, "sms"), http.StatusBadRequest, otphttp.CodeInvalidTransaction)
	wantStatus(t, e.start(t, number, "sms", session("nobody")), http.StatusBadRequest, otphttp.CodeInvalidTransaction)
	if e.rec.Len() != 0 {
		t.Fatalf("%d messages sent, want none", e.rec.Len())
	}
}

func TestTransactionRefusals(t *testing.T) {
	t.Parallel()
	e, p := newPaymentEnv(t)
	p.set("call", acme)
	wantStatus(t, e.start(t, number, "call", session("call")), http.StatusBadRequest, otphttp.CodeInvalidTransaction)
	p.set("bad", otp.Transaction{Amount: "1,250.00", Currency: "EUR", Payee: "ACME"})
	wantStatus(t, e.start(t, number, "sms", session("bad")), http.StatusBadRequest, otphttp.CodeInvalidTransaction)
	p.set("long", otp.Transaction{Amount: "10", Currency: "PLN", Payee: "Łódź Elektrociepłownia Spółka z ograniczoną odpowiedzialnością"})
	r := e.start(t, number, "sms", session("long"))
	wantStatus(t, r, http.StatusBadRequest, otphttp.CodeTransactionTooLong)
	if strings.Contains(r.raw, "Łódź") {
		t.Fatalf("error reply quotes the payee: %s", r.raw)
	}
	if e.rec.Len() != 0 {
		t.Fatalf("%d messages sent, want none", e.rec.Len())
	}
}
