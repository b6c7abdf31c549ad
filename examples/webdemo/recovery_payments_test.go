package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/totp"
)

// The first approved TOTP code returns ten recovery codes, once; each
// works once through /api/totp/recover.
func TestTOTPRecoveryCodes(t *testing.T) {
	t.Parallel()
	srv, _ := newTestApp(t, otp.Policy{})
	c := srv.Client()
	r := post(t, c, srv.URL+"/api/totp/enroll", `{}`)
	key, err := totp.ParseURI(r.body["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	id := r.body["enrollment"].(string)
	recover := func(code string) result {
		return post(t, c, srv.URL+"/api/totp/recover", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, code))
	}
	if r := recover("abcde-fghjk"); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("recover before enrollment is confirmed = %d %v, want 422", r.status, r.body)
	}
	now := time.Now()
	code, _ := key.Code(now)
	r = post(t, c, srv.URL+"/api/totp/verify", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, code))
	raw, _ := r.body["recovery_codes"].([]any)
	if r.status != http.StatusOK || len(raw) != 10 {
		t.Fatalf("first approved code = %d %v, want 200 with 10 recovery codes", r.status, r.body)
	}
	codes := make([]string, len(raw))
	for i, v := range raw {
		codes[i] = v.(string)
	}
	// Shown once: the next approved code carries none.
	next, _ := key.Code(now.Add(30 * time.Second))
	r = post(t, c, srv.URL+"/api/totp/verify", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, next))
	if r.status != http.StatusOK || r.body["recovery_codes"] != nil {
		t.Fatalf("second approved code = %d %v, want 200 without recovery codes", r.status, r.body)
	}
	if r := recover(strings.ToUpper(codes[3])); r.status != http.StatusOK || r.body["left"] != 9.0 {
		t.Fatalf("recover = %d %v, want 200 with 9 left", r.status, r.body)
	}
	if r := recover(codes[3]); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("recover with a used code = %d %v, want 422", r.status, r.body)
	}
	if r := recover("not a code"); r.status != http.StatusBadRequest {
		t.Fatalf("recover with a malformed code = %d %v, want 400", r.status, r.body)
	}
	r = post(t, c, srv.URL+"/api/totp/recover", fmt.Sprintf(`{"enrollment":"nope","code":%q}`, codes[0]))
	if r.status != http.StatusNotFound {
		t.Fatalf("recover for an unknown enrollment = %d", r.status)
	}
}

// The payment tab: a code confirms the payment the session described, the
// SMS shows it, and a payment changed after the code was sent is not
// approved by it.
func TestPaymentConfirmation(t *testing.T) {
	t.Parallel()
	srv, rec := newTestApp(t, otp.Policy{})
	c := srv.Client()
	s := &http.Cookie{Name: sessionCookie, Value: "session-pay", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	r := post(t, c, srv.URL+"/api/payments/new", `{"amount":"12.5","currency":"eur","payee":"ACME  Ltd"}`, s)
	if r.status != http.StatusCreated || r.body["amount"] != "EUR 12.50" || r.body["payee"] != "ACME Ltd" {
		t.Fatalf("new payment = %d %v", r.status, r.body)
	}
	r = post(t, c, srv.URL+"/api/payments/verifications", `{"to":"`+testNumber+`"}`, s)
	tx, _ := r.body["transaction"].(map[string]any)
	if r.status != http.StatusAccepted || tx["amount"] != "EUR 12.50" || tx["payee"] != "ACME Ltd" {
		t.Fatalf("start = %d %v", r.status, r.body)
	}
	m, _ := rec.Last(testNumber)
	if !strings.HasPrefix(m.Text, "Code "+m.Code+" to pay EUR 12.50 to ACME Ltd.") {
		t.Fatalf("SMS text = %q", m.Text)
	}
	check := func() result {
		return post(t, c, srv.URL+"/api/payments/verifications/check", `{"to":"`+testNumber+`","code":"`+m.Code+`"}`, s)
	}
	// The payment is raised after the code was sent.
	post(t, c, srv.URL+"/api/payments/new", `{"amount":"1250.00","currency":"EUR","payee":"ACME Ltd"}`, s)
	if r := check(); r.status != http.StatusUnprocessableEntity || r.body["remaining"] != 4.0 {
		t.Fatalf("check of a changed payment = %d %v, want 422 with 4 left", r.status, r.body)
	}
	// A sign-in check does not approve a payment code either.
	r = post(t, c, srv.URL+"/api/verifications/check", `{"to":"`+testNumber+`","code":"`+m.Code+`"}`, s)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("sign-in check of a payment code = %d %v, want 422", r.status, r.body)
	}
	post(t, c, srv.URL+"/api/payments/new", `{"amount":"12.50","currency":"EUR","payee":"ACME Ltd"}`, s)
	if r := check(); r.status != http.StatusOK {
		t.Fatalf("check of the payment = %d %v, want 200", r.status, r.body)
	}
	for _, body := range []string{
		`{"amount":"1,250.00","currency":"EUR","payee":"ACME"}`,
		`{"amount":"1","currency":"EUR","payee":"<script>"}`,
		`{"amount":"1","currency":"EURO","payee":"ACME"}`,
	} {
		if r := post(t, c, srv.URL+"/api/payments/new", body, s); r.status != http.StatusBadRequest {
			t.Errorf("new payment %s = %d, want 400", body, r.status)
		}
	}
	if r := post(t, c, srv.URL+"/api/payments/verifications", `{"to":"`+testNumber+`"}`,
		&http.Cookie{Name: sessionCookie, Value: "no-payment", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}); r.status != http.StatusBadRequest || r.body["code"] != "invalid_transaction" {
		t.Fatalf("start without a payment = %d %v, want 400 invalid_transaction", r.status, r.body)
	}
}
