package main

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/go2fa/go2fa/otp"
)

// The "Confirm a payment" tab (PSD2 dynamic linking). The page first
// describes a payment, which the server keeps for the browser's session;
// otphttp.WithTransaction then sends a code whose SMS shows it and that
// approves only it:
//
//	POST /api/payments/new            {"amount":"12.50","currency":"EUR","payee":"ACME Ltd"}
//	  -> 201 {"amount":"EUR 12.50","payee":"ACME Ltd"}
//	POST /api/payments/verifications        {"to":"+14155550100"}   (otphttp)
//	POST /api/payments/verifications/check  {"to":...,"code":...}   (otphttp)
//
// The payment is never read back from the browser after /new.
const (
	paymentTTL  = 15 * time.Minute
	maxPayments = 10_000
)

type payment struct {
	t       otp.Transaction
	expires time.Time
}

type paymentsDemo struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]payment
}

func newPaymentsDemo(now func() time.Time) *paymentsDemo {
	return &paymentsDemo{now: now, m: make(map[string]payment)}
}

func sessionOf(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return "", false
	}
	return c.Value, true
}

var errNoPayment = errors.New("webdemo: no payment pending for the session")

// pending is the otphttp.WithTransaction function: the session's payment.
func (p *paymentsDemo) pending(r *http.Request) (otp.Transaction, error) {
	id, ok := sessionOf(r)
	if !ok {
		return otp.Transaction{}, errNoPayment
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[id]
	if !ok || p.now().After(e.expires) {
		return otp.Transaction{}, errNoPayment
	}
	return e.t, nil
}

// create serves POST /api/payments/new.
func (p *paymentsDemo) create(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	id, ok := sessionOf(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "no_session", "reload the page to get a session")
		return
	}
	var body struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
		Payee    string `json:"payee"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	t, err := otp.Transaction{Amount: body.Amount, Currency: body.Currency, Payee: body.Payee}.Normalize()
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_transaction",
			"enter an amount like 12.50 (no thousands separators), a currency code like EUR, and a payee of letters, digits and .,&'()-/+:")
		return
	}
	now := p.now()
	p.mu.Lock()
	if len(p.m) >= maxPayments {
		for k, e := range p.m {
			if now.After(e.expires) || len(p.m) >= maxPayments {
				delete(p.m, k)
			}
		}
	}
	p.m[id] = payment{t: t, expires: now.Add(paymentTTL)}
	p.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"amount": t.AmountText(), "payee": t.Payee})
}
