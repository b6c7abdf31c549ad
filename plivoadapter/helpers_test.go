package plivoadapter_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

const (
	dest = "+14155550100"
	code = "493817"
)

func fake(t *testing.T) *plivotest.Server {
	t.Helper()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// newSMS is an SMS sender on srv with opts.
func newSMS(t *testing.T, srv *plivotest.Server, opts ...plivoadapter.Option) *plivoadapter.SMS {
	t.Helper()
	s, err := plivoadapter.NewSMS(config(srv), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newSenders is an SMS, a voice and a PHLO sender for c.
func newSenders(t *testing.T, c plivoadapter.Config) (*plivoadapter.SMS, *plivoadapter.Voice, *plivoadapter.PHLO) {
	t.Helper()
	s, err := plivoadapter.NewSMS(c)
	if err != nil {
		t.Fatal(err)
	}
	v, err := plivoadapter.NewVoice(c, answerURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plivoadapter.NewPHLO(c)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, p
}

// concurrently runs f(0) to f(n-1) at once and returns how many returned
// true.
func concurrently(n int, f func(i int) bool) int {
	var wg sync.WaitGroup
	var count atomic.Int64
	for i := range n {
		wg.Go(func() {
			if f(i) {
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return int(count.Load())
}

func config(srv *plivotest.Server) plivoadapter.Config {
	return plivoadapter.Config{
		AuthID:     plivotest.AuthID,
		AuthToken:  plivotest.AuthToken,
		Number:     plivotest.Number,
		PHLOID:     plivotest.PHLOID,
		HTTPClient: srv.Client(),
	}
}

func smsMsg() sender.Message {
	return sender.Message{To: dest, Channel: sender.SMS, Code: code, TTL: 5 * time.Minute, Ref: "fp-4f2a91"}
}

func callMsg() sender.Message {
	return sender.Message{To: dest, Channel: sender.Call, Code: code, TTL: 5 * time.Minute}
}

func basicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(plivotest.AuthID+":"+plivotest.AuthToken))
}

// jsonBody decodes a recorded request body.
func jsonBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("request body is not JSON: %v: %q", err, b)
	}
	return m
}

// assertNoSecrets fails if err's text holds the code, the token or the
// full destination number.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	for _, secret := range []string{code, plivotest.AuthToken, dest, strings.TrimPrefix(dest, "+")} {
		if strings.Contains(s, secret) {
			t.Errorf("error %q leaks %q", s, secret)
		}
	}
}

func plivoError(t *testing.T, err error) *plivoadapter.Error {
	t.Helper()
	var pe *plivoadapter.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *plivoadapter.Error", err, err)
	}
	return pe
}

// ok returns a function that passes on a request built by plivotest and
// fails the test if building it failed.
func ok(t *testing.T) func(*http.Request, error) *http.Request {
	t.Helper()
	return func(r *http.Request, err error) *http.Request {
		t.Helper()
		if err != nil {
			t.Fatalf("building a callback request: %v", err)
		}
		return r
	}
}

// onlyRequest returns the one request srv received and checks its method,
// host, path and Basic-auth header.
func onlyRequest(t *testing.T, srv *plivotest.Server, host, path string) plivotest.Request {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Host != host || r.Path != path {
		t.Errorf("request = %s %s%s, want POST %s%s", r.Method, r.Host, r.Path, host, path)
	}
	if got := r.Header.Get("Authorization"); got != basicAuth() {
		t.Errorf("Authorization = %q, want %q", got, basicAuth())
	}
	return r
}

// newReplyServer serves status and body to every request and returns its
// origin.
func newReplyServer(t *testing.T, status int, body string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}
