package plivoredis_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivoredis"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

const (
	dest      = "+14155550100"
	code      = "493817"
	statusURL = "https://example.com/plivo/status"
	answerURL = "https://example.com/plivo/answer"
)

// instance is one copy of the application: its own Redis client, its own
// Redis stores (one Redis for all instances) and its own Plivo senders.
type instance struct {
	sms   *plivoadapter.SMS
	voice *plivoadapter.Voice
}

// failures counts OnFailure calls across instances.
type failures struct {
	mu sync.Mutex
	n  int
}

func (f *failures) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func newInstance(t *testing.T, e *redisEnv, srv *plivotest.Server, clk *testclock.Clock, f *failures) *instance {
	t.Helper()
	c := plivoredis.Config{Client: e.another(t), Prefix: e.prefix, Secret: secret, Now: clk.Now}
	messages, err := plivoredis.NewMessages(c)
	if err != nil {
		t.Fatal(err)
	}
	nonces, err := plivoredis.NewNonces(c)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := plivoredis.NewTokens(c)
	if err != nil {
		t.Fatal(err)
	}
	pc := plivoadapter.Config{AuthID: plivotest.AuthID, AuthToken: plivotest.AuthToken, Number: plivotest.Number, HTTPClient: srv.Client()}
	sms, err := plivoadapter.NewSMS(
		pc,
		plivoadapter.WithStatusURL(statusURL),
		plivoadapter.WithNonces(nonces),
		plivoadapter.WithMessages(messages),
		plivoadapter.WithOnFailure(func(context.Context, plivoadapter.Delivery) {
			f.mu.Lock()
			f.n++
			f.mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	voice, err := plivoadapter.NewVoice(pc, answerURL,
		plivoadapter.WithTokens(tokens),
		plivoadapter.WithNonces(nonces),
		plivoadapter.WithClock(clk.Now),
		plivoadapter.WithAnswerGrace(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return &instance{sms: sms, voice: voice}
}

// Delivery reports reach whichever instance Plivo calls: a report for a
// message another instance sent is tied to it, a replayed report is
// refused everywhere (and by an instance started afterwards), and
// OnFailure runs once per message across instances.
func TestTwoInstancesStatusCallbacks(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, e *redisEnv) {
		srv := plivotest.NewServer()
		t.Cleanup(srv.Close)
		clk := testclock.At(time.Now()) // reports carry the real MessageTime
		var f failures
		a, b := newInstance(t, e, srv, clk, &f), newInstance(t, e, srv, clk, &f)
		if err := a.sms.Send(context.Background(), sender.Message{To: dest, Channel: sender.SMS, Code: code, TTL: 5 * time.Minute, Ref: "fp-4f2a91"}); err != nil {
			t.Fatal(err)
		}
		m, _ := srv.LastMessage(dest)
		nonce := plivotest.Nonce()
		report := func() *http.Request {
			r, err := plivotest.SignedRequestAs(plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, nonce, http.MethodPost, m.URL, plivotest.StatusParams(m, "failed", "30"))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		serve := func(h http.Handler, r *http.Request) int {
			t.Helper()
			got, err := plivotest.Serve(h, r)
			if err != nil {
				t.Fatal(err)
			}
			return got.StatusCode
		}
		if got := serve(b.sms.StatusHandler(), report()); got != http.StatusOK {
			t.Errorf("report for a's message at b: status = %d, want 200", got)
		}
		if got := serve(a.sms.StatusHandler(), report()); got != http.StatusForbidden {
			t.Errorf("the report replayed at a: status = %d, want 403", got)
		}
		restarted := newInstance(t, e, srv, clk, &f)
		if got := serve(restarted.sms.StatusHandler(), report()); got != http.StatusForbidden {
			t.Errorf("the report replayed at an instance started later: status = %d, want 403", got)
		}
		r, err := plivotest.StatusRequest(m, "undelivered", "30")
		if err != nil {
			t.Fatal(err)
		}
		if got := serve(restarted.sms.StatusHandler(), r); got != http.StatusOK {
			t.Errorf("second genuine report at the later instance: status = %d, want 200", got)
		}
		if n := f.count(); n != 1 {
			t.Errorf("OnFailure calls = %d, want 1", n)
		}
		unknown := m
		unknown.UUID = "00000000-0000-4000-8000-000000000000"
		if r, err = plivotest.StatusRequest(unknown, "failed", "30"); err != nil {
			t.Fatal(err)
		}
		if got := serve(a.sms.StatusHandler(), r); got != http.StatusNotFound {
			t.Errorf("report for a message nobody sent: status = %d, want 404", got)
		}
		assertNothingInClear(t, e, m.UUID)
	})
}

// A call placed by one instance is answered by another; Plivo's re-fetch
// for the same call within the grace is served by either; another call,
// a replayed nonce, or a fetch after the grace gets nothing.
func TestTwoInstancesVoiceAnswer(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, e *redisEnv) {
		srv := plivotest.NewServer()
		t.Cleanup(srv.Close)
		clk := testclock.New()
		var f failures
		a, b := newInstance(t, e, srv, clk, &f), newInstance(t, e, srv, clk, &f)
		if err := a.voice.Send(context.Background(), sender.Message{To: dest, Channel: sender.Call, Code: code, TTL: 5 * time.Minute}); err != nil {
			t.Fatal(err)
		}
		c, _ := srv.LastCall(dest)
		u, err := url.Parse(c.AnswerURL)
		if err != nil {
			t.Fatal(err)
		}
		token := u.Query().Get(plivoadapter.TokenParam)

		nonce := plivotest.Nonce()
		first, err := plivotest.Serve(b.voice.AnswerHandler(), signedAnswer(t, nonce, c))
		if err != nil {
			t.Fatal(err)
		}
		if first.StatusCode != http.StatusOK || len(first.Digits()) != 2 || first.Digits()[0] != code {
			t.Fatalf("answer at b for a's call: status = %d, digits %q; want 200 and the code twice", first.StatusCode, first.Digits())
		}
		if got, _ := plivotest.Serve(a.voice.AnswerHandler(), signedAnswer(t, nonce, c)); got.StatusCode != http.StatusForbidden || len(got.Speak) != 0 {
			t.Errorf("the answer request replayed at a: status = %d, want 403 and nothing spoken", got.StatusCode)
		}
		clk.Advance(29 * time.Second)
		if e.ff != nil {
			e.ff(29 * time.Second)
		}
		retry, _ := plivotest.PlayAnswer(a.voice.AnswerHandler(), c)
		if retry.StatusCode != http.StatusOK || retry.Body != first.Body {
			t.Errorf("Plivo's re-fetch at a within the grace: status = %d, same XML %v; want 200 and the same XML", retry.StatusCode, retry.Body == first.Body)
		}
		other := c
		other.CallUUID = "0d5c1f0e-another-call"
		if got, _ := plivotest.PlayAnswer(b.voice.AnswerHandler(), other); got.StatusCode != http.StatusNotFound || len(got.Speak) != 0 {
			t.Errorf("another call with the token at b: status = %d, want 404", got.StatusCode)
		}
		clk.Advance(time.Second)
		if e.ff != nil {
			e.ff(time.Second)
		}
		if got, _ := plivotest.PlayAnswer(b.voice.AnswerHandler(), c); got.StatusCode != http.StatusNotFound || len(got.Speak) != 0 {
			t.Errorf("re-fetch after the grace at b: status = %d, want 404 and nothing spoken", got.StatusCode)
		}
		assertNothingInClear(t, e, token, c.CallUUID)
	})
}

func signedAnswer(t *testing.T, nonce string, c plivotest.Call) *http.Request {
	t.Helper()
	r, err := plivotest.SignedRequestWith(plivotest.AuthToken, nonce, http.MethodPost, c.AnswerURL, plivotest.AnswerParams(c))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// assertNothingInClear fails if any key or value under e's prefix holds
// the code, the full number, or one of more.
func assertNothingInClear(t *testing.T, e *redisEnv, more ...string) {
	t.Helper()
	dump := e.dump(t)
	if len(dump) == 0 {
		t.Fatal("nothing under the prefix: the stores were not used")
	}
	for k, v := range dump {
		for _, s := range append([]string{code, dest, strings.TrimPrefix(dest, "+")}, more...) {
			if strings.Contains(k, s) || strings.Contains(v, s) {
				t.Errorf("Redis key %q holds %q in clear", k, s)
			}
		}
	}
}

// When Redis fails, the handlers refuse and nothing happens: no
// fallback, nothing spoken; and no call is placed whose prompt could not
// be saved.
func TestRedisDownFailsClosed(t *testing.T) {
	t.Parallel()
	e := newMiniredis(t)
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	clk := testclock.At(time.Now())
	var f failures
	a := newInstance(t, e, srv, clk, &f)
	if err := a.sms.Send(context.Background(), sender.Message{To: dest, Channel: sender.SMS, Code: code, TTL: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.LastMessage(dest)
	if err := a.voice.Send(context.Background(), sender.Message{To: dest, Channel: sender.Call, Code: code, TTL: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	c, _ := srv.LastCall(dest)
	calls := len(srv.Calls())

	e.mr.SetError("LOADING Redis is loading the dataset in memory")
	r, err := plivotest.StatusRequest(m, "failed", "30")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := plivotest.Serve(a.sms.StatusHandler(), r); got.StatusCode < 400 || f.count() != 0 {
		t.Errorf("report with Redis down: status = %d, OnFailure calls = %d; want a refusal and 0", got.StatusCode, f.count())
	}
	if got, _ := plivotest.PlayAnswer(a.voice.AnswerHandler(), c); got.StatusCode < 400 || len(got.Speak) != 0 {
		t.Errorf("answer with Redis down: status = %d, body %q; want a refusal and nothing spoken", got.StatusCode, got.Body)
	}
	if err := a.voice.Send(context.Background(), sender.Message{To: dest, Channel: sender.Call, Code: code, TTL: 5 * time.Minute}); err == nil {
		t.Error("Send of a call with Redis down: err = nil")
	}
	if n := len(srv.Calls()); n != calls {
		t.Errorf("calls placed with Redis down = %d, want 0", n-calls)
	}

	// Redis back: the same report and answer go through.
	e.mr.SetError("")
	if r, err = plivotest.StatusRequest(m, "failed", "30"); err != nil {
		t.Fatal(err)
	}
	if got, _ := plivotest.Serve(a.sms.StatusHandler(), r); got.StatusCode != http.StatusOK || f.count() != 1 {
		t.Errorf("report with Redis back: status = %d, OnFailure calls = %d; want 200 and 1", got.StatusCode, f.count())
	}
	if got, _ := plivotest.PlayAnswer(a.voice.AnswerHandler(), c); got.StatusCode != http.StatusOK {
		t.Errorf("answer with Redis back: status = %d, want 200", got.StatusCode)
	}
}
