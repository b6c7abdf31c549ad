package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
)

// The NonceStore contract (new, repeated, expiry, concurrent Seens) is
// tested for MemoryNonces and plivoredis.Nonces alike by plivoredis's
// conformance suite (plivoredis/conformance_test.go).

// failingNonces fails every Seen whose key starts with prefix, and counts
// the calls.
type failingNonces struct {
	prefix string
	ok     plivoadapter.NonceStore
	mu     sync.Mutex
	calls  int
}

var errStoreDown = errors.New("nonce store down")

func (f *failingNonces) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if strings.HasPrefix(key, f.prefix) {
		return false, errStoreDown
	}
	return f.ok.Seen(ctx, key, ttl)
}

// newStatusSMS is an SMS sender with a status URL and the given nonce
// store; OnFailure calls are counted in *failures.
func newStatusSMS(t *testing.T, srv *plivotest.Server, nonces plivoadapter.NonceStore, mu *sync.Mutex, failures *int) *plivoadapter.SMS {
	t.Helper()
	return newStatusSMSWith(t, srv, nonces, nil, mu, failures)
}

// newStatusSMSWith is newStatusSMS with a MessageStore (nil: the default).
func newStatusSMSWith(t *testing.T, srv *plivotest.Server, nonces plivoadapter.NonceStore, messages plivoadapter.MessageStore, mu *sync.Mutex, failures *int) *plivoadapter.SMS {
	t.Helper()
	opts := []plivoadapter.Option{
		plivoadapter.WithStatusURL("https://example.com/plivo/status"),
		plivoadapter.WithNonces(nonces),
		plivoadapter.WithOnFailure(func(context.Context, plivoadapter.Delivery) {
			mu.Lock()
			*failures++
			mu.Unlock()
		}),
	}
	if messages != nil {
		opts = append(opts, plivoadapter.WithMessages(messages))
	}
	s := newSMS(t, srv, opts...)
	return s
}

// Two instances (or one before and one after a restart) that share a
// NonceStore and a MessageStore refuse each other's replays, and start one
// fallback per failed message between them.
func TestStatusCallbackSharedNonceStore(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	shared := plivoadapter.NewMemoryNonces()
	messages := plivoadapter.NewMemoryMessages()
	var mu sync.Mutex
	failures := 0
	a := newStatusSMSWith(t, srv, shared, messages, &mu, &failures)
	b := newStatusSMSWith(t, srv, shared, messages, &mu, &failures)
	if err := a.Send(context.Background(), smsMsg()); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.LastMessage(dest)
	nonce := plivotest.Nonce()
	for i, tt := range []struct {
		h    http.Handler
		want int
	}{{a.StatusHandler(), http.StatusOK}, {b.StatusHandler(), http.StatusForbidden}, {a.StatusHandler(), http.StatusForbidden}} {
		r := ok(t)(plivotest.SignedRequestWith(plivotest.AuthToken, nonce, http.MethodPost, m.URL, plivotest.StatusParams(m, "failed", "30")))
		if got, _ := plivotest.Serve(tt.h, r); got.StatusCode != tt.want {
			t.Errorf("delivery %d of one signed callback: status = %d, want %d", i, got.StatusCode, tt.want)
		}
	}
	// A second, genuine failure report for the same message (fresh
	// nonce) reaches the other instance: acknowledged, no second fallback.
	r := ok(t)(plivotest.StatusRequest(m, "undelivered", "30"))
	if got, _ := plivotest.Serve(b.StatusHandler(), r); got.StatusCode != http.StatusOK {
		t.Errorf("second report: status = %d, want 200", got.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if failures != 1 {
		t.Errorf("OnFailure calls = %d, want 1", failures)
	}
}

func TestVoiceAnswerSharedNonceStore(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	o := []plivoadapter.Option{plivoadapter.WithTokens(plivoadapter.NewMemoryTokens()), plivoadapter.WithNonces(plivoadapter.NewMemoryNonces())}
	a, b := newVoice(t, srv, o...), newVoice(t, srv, o...)
	calls := placeCalls(t, srv, a, 2)
	nonce := plivotest.Nonce()
	if got := answerWith(t, a.AnswerHandler(), calls[0], nonce); got.StatusCode != http.StatusOK {
		t.Fatalf("first answer: status = %d, want 200", got.StatusCode)
	}
	// The nonce replayed to the other instance, with the second call's
	// (live) token: refused there too.
	if got := answerWith(t, b.AnswerHandler(), calls[1], nonce); got.StatusCode != http.StatusForbidden || len(got.Speak) != 0 {
		t.Errorf("replayed nonce on another instance: status = %d, body %q; want 403 and nothing spoken", got.StatusCode, got.Body)
	}
	if got, _ := plivotest.PlayAnswer(b.AnswerHandler(), calls[1]); got.StatusCode != http.StatusOK {
		t.Errorf("second call, fresh nonce: status = %d, want 200", got.StatusCode)
	}
}

// A NonceStore that fails refuses callbacks (fail closed) and changes
// nothing: no fallback starts, no token is spent.
func TestNonceStoreErrorFailsClosed(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	store := &failingNonces{prefix: "nonce:", ok: plivoadapter.NewMemoryNonces()}
	if status, failures := failedCallback(t, srv, store); status != http.StatusForbidden || failures != 0 {
		t.Errorf("status callback, store down: status = %d, OnFailure calls = %d; want 403 and 0", status, failures)
	}

	tokens := plivoadapter.NewMemoryTokens()
	v := newVoice(t, srv, plivoadapter.WithTokens(tokens), plivoadapter.WithNonces(store))
	c := placeCall(t, srv, v)
	if got, _ := plivotest.PlayAnswer(v.AnswerHandler(), c); got.StatusCode != http.StatusForbidden || len(got.Speak) != 0 {
		t.Errorf("answer, store down: status = %d, body %q; want 403 and nothing spoken", got.StatusCode, got.Body)
	}
	if n := tokens.Len(); n != 1 {
		t.Errorf("tokens = %d, want 1 (not spent)", n)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.calls != 2 {
		t.Errorf("store calls = %d, want 2 (one per callback)", store.calls)
	}
}

// If the store fails when asked whether OnFailure already ran for the
// message, OnFailure is not called and Plivo gets 503.
func TestStatusCallbackFailureStoreError(t *testing.T) {
	t.Parallel()
	store := &failingNonces{prefix: "failed:", ok: plivoadapter.NewMemoryNonces()}
	if status, failures := failedCallback(t, fake(t), store); status != http.StatusServiceUnavailable || failures != 0 {
		t.Errorf("status = %d, OnFailure calls = %d; want 503 and 0", status, failures)
	}
}

// failedCallback sends an SMS through an SMS sender whose nonces live in
// store, plays Plivo's "failed" status callback for it, and returns the
// handler's status and the number of OnFailure calls.
func failedCallback(t *testing.T, srv *plivotest.Server, store plivoadapter.NonceStore) (status, failures int) {
	t.Helper()
	var mu sync.Mutex
	s := newStatusSMS(t, srv, store, &mu, &failures)
	if err := s.Send(context.Background(), smsMsg()); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.LastMessage(dest)
	got, err := plivotest.Serve(s.StatusHandler(), ok(t)(plivotest.StatusRequest(m, "failed", "30")))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got.StatusCode, failures
}
