package plivoadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
)

const fuzzStatusURL = "https://example.com/plivo/status"

// FuzzStatusCallback throws arbitrary requests at the message-status
// handler: it never panics, never answers 5xx, and acts (OnFailure) only on
// requests signed with the auth token. A second half of each input is
// signed correctly, so the parsing behind the signature is fuzzed too.
func FuzzStatusCallback(f *testing.F) {
	f.Add("POST", "nonce-1", "c2lnbmF0dXJl", "MessageUUID=abc&Status=failed&To=14155550100", "")
	f.Add("GET", "", "", "", "MessageUUID=abc&Status=undelivered")
	f.Add("PUT", "n", "s", "%zz", "a=%zz")
	f.Add("POST", "n\x00", "====", strings.Repeat("a=b&", 100), "x=1;y=2")
	f.Add("POST", "n2", "sig", "Status=failed&MessageUUID=", "")

	var calls atomic.Int64
	cfg := plivoadapter.Config{AuthID: plivotest.AuthID, AuthToken: plivotest.AuthToken, Number: plivotest.Number}
	sms, err := plivoadapter.NewSMS(cfg,
		plivoadapter.WithStatusURL(fuzzStatusURL),
		plivoadapter.WithOnFailure(func(context.Context, plivoadapter.Delivery) { calls.Add(1) }))
	if err != nil {
		f.Fatal(err)
	}
	h := sms.StatusHandler()

	f.Fuzz(func(t *testing.T, method, nonce, sig, body, query string) {
		target := fuzzStatusURL
		if query != "" {
			target += "?" + query
		}
		// Forged: whatever signature the input carries.
		r, err := http.NewRequest(method, fuzzStatusURL, strings.NewReader(body))
		if err != nil {
			return // not a request a server could receive
		}
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set(plivoadapter.HeaderSignatureV3, sig)
		r.Header.Set(plivoadapter.HeaderNonceV3, nonce)
		r.Header.Set(plivoadapter.HeaderSignatureMaV3, sig)
		r.Header.Set(plivoadapter.HeaderSignatureV2, sig)
		r.Header.Set(plivoadapter.HeaderSignatureMaV2, sig)
		r.Header.Set(plivoadapter.HeaderNonceV2, nonce)
		before := calls.Load()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("forged %s: status %d", method, w.Code)
		}
		if w.Code == http.StatusOK || calls.Load() != before {
			t.Fatalf("forged %s (sig %q) was accepted: %d", method, sig, w.Code)
		}

		// Signed as Plivo signs: the parameters are whatever the input has.
		params, err := url.ParseQuery(body)
		if err != nil || (method != http.MethodGet && method != http.MethodPost) {
			return
		}
		for _, fam := range []plivotest.Signature{plivotest.V2, plivotest.V3} {
			signed, err := plivotest.SignedRequestAs(fam, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), method, target, params)
			if err != nil {
				return
			}
			w = httptest.NewRecorder()
			h.ServeHTTP(w, signed)
			if w.Code >= 500 {
				t.Fatalf("signed %s: status %d", method, w.Code)
			}
		}
	})
}
