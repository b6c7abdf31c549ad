package otphttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otphttp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

const (
	number  = "+14155550100"
	number2 = "+14155550101"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	h   *otphttp.Handler
	rec *sendertest.Recorder
}

type setup struct {
	policy otp.Policy
	store  store.Store
	before func(context.Context, otp.SendRequest) error
	opts   []otphttp.Option
}

func newEnv(t *testing.T, s setup) *env {
	t.Helper()
	e := &env{rec: &sendertest.Recorder{}}
	st := s.store
	if st == nil {
		ms := memstore.New(memstore.WithSweepInterval(0))
		t.Cleanup(func() { ms.Close() })
		st = ms
	}
	v, err := otp.NewVerifier(otp.Config{
		Store:      st,
		Sender:     e.rec,
		Secret:     secret,
		Policy:     s.policy,
		BeforeSend: s.before,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if e.h, err = otphttp.New(v, s.opts...); err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t *testing.T, method, path, ctype, body string, edit ...func(*http.Request)) reply {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for _, f := range edit {
		f(r)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	out := reply{status: w.Code, header: w.Header(), raw: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
		t.Fatalf("%s %s: reply is not a JSON object: %v: %q", method, path, err, out.raw)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s %s: Cache-Control = %q, want no-store", method, path, got)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("%s %s: Content-Type = %q", method, path, got)
	}
	return out
}

func (e *env) start(t *testing.T, to, channel string, edit ...func(*http.Request)) reply {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/verifications", "application/json",
		fmt.Sprintf(`{"to":%q,"channel":%q}`, to, channel), edit...)
}

func (e *env) check(t *testing.T, to, code string, edit ...func(*http.Request)) reply {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/verifications/check", "application/json",
		fmt.Sprintf(`{"to":%q,"code":%q}`, to, code), edit...)
}

// code returns the code last sent to to.
func (e *env) code(t *testing.T, to string) string {
	t.Helper()
	m, ok := e.rec.Last(to)
	if !ok {
		t.Fatalf("no message sent to %s", to)
	}
	return m.Code
}

func wantStatus(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.raw)
	}
	if code != "" && r.body["code"] != code {
		t.Fatalf("error code = %v, want %q (body %s)", r.body["code"], code, r.raw)
	}
}

func TestStartAndCheckApproved(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, setup{})
		r := e.start(t, "+1 (415) 555-0100", "sms")
		wantStatus(t, r, http.StatusAccepted, "")
		for k, want := range map[string]any{"status": "pending", "to": number, "channel": "sms", "remaining": 5.0, "expires_in": 300.0, "resend_in": 30.0} {
			if r.body[k] != want {
				t.Errorf("%s = %v, want %v", k, r.body[k], want)
			}
		}
		// Time stands still in the bubble: the reply's absolute times are the
		// server's now plus the durations.
		if got, want := r.body["expires_at"], time.Now().Add(5*time.Minute).UTC().Format(time.RFC3339); got != want {
			t.Errorf("expires_at = %v, want %v", got, want)
		}
		if got, want := r.body["resend_at"], time.Now().Add(30*time.Second).UTC().Format(time.RFC3339); got != want {
			t.Errorf("resend_at = %v, want %v", got, want)
		}
		code := e.code(t, number)
		if strings.Contains(r.raw, code) {
			t.Errorf("start reply %s contains the code", r.raw)
		}
		if m, _ := e.rec.Last(number); m.Channel != sender.SMS {
			t.Errorf("channel = %s, want sms", m.Channel)
		}
		c := e.check(t, number, code)
		wantStatus(t, c, http.StatusOK, "")
		if c.body["status"] != "approved" || strings.Contains(c.raw, code) {
			t.Errorf("check reply = %s", c.raw)
		}
		// Single use.
		wantStatus(t, e.check(t, number, code), http.StatusNotFound, "")
	})
}

func TestDefaultChannelAndCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{policy: otp.Policy{Cooldown: -1}})
	r := e.do(t, http.MethodPost, "/api/verifications", "application/json", `{"to":"+14155550100"}`)
	wantStatus(t, r, http.StatusAccepted, "")
	if r.body["channel"] != "sms" {
		t.Errorf("default channel = %v, want sms", r.body["channel"])
	}
	wantStatus(t, e.start(t, number, "call"), http.StatusAccepted, "")
	if m, _ := e.rec.Last(number); m.Channel != sender.Call {
		t.Errorf("channel = %s, want call", m.Channel)
	}
}

func TestCheckRejectedThenLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{})
	wantStatus(t, e.start(t, number, "sms"), http.StatusAccepted, "")
	bad := otptest.Wrong(e.code(t, number))
	for want := 4; want >= 1; want-- {
		r := e.check(t, number, bad)
		wantStatus(t, r, http.StatusUnprocessableEntity, "")
		if r.body["status"] != "rejected" || r.body["remaining"] != float64(want) {
			t.Fatalf("reply = %s, want rejected with remaining %d", r.raw, want)
		}
	}
	r := e.check(t, number, bad)
	wantStatus(t, r, http.StatusTooManyRequests, "")
	if r.body["status"] != "locked" {
		t.Fatalf("reply = %s, want locked", r.raw)
	}
	// The code is gone: the right one no longer works.
	wantStatus(t, e.check(t, number, e.code(t, number)), http.StatusNotFound, "")
}

func TestCheckExpired(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, setup{})
		r := e.check(t, number, "123456")
		wantStatus(t, r, http.StatusNotFound, "")
		if r.body["status"] != "expired" {
			t.Fatalf("reply = %s", r.raw)
		}
		wantStatus(t, e.start(t, number, "sms"), http.StatusAccepted, "")
		time.Sleep(5*time.Minute + time.Second)
		wantStatus(t, e.check(t, number, e.code(t, number)), http.StatusNotFound, "")
	})
}

func TestConcurrentCorrectChecksApproveOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{})
	wantStatus(t, e.start(t, number, "sms"), http.StatusAccepted, "")
	code := e.code(t, number)
	const n = 24
	statuses := make([]int, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-ready
			r := httptest.NewRequest(http.MethodPost, "/api/verifications/check",
				strings.NewReader(fmt.Sprintf(`{"to":%q,"code":%q}`, number, code)))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			statuses[i] = w.Code
		})
	}
	close(ready)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusNotFound] != n-1 {
		t.Fatalf("statuses = %v, want one 200 and %d 404", count, n-1)
	}
}

func TestRateLimitedRetryAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, setup{})
		wantStatus(t, e.start(t, number, "sms"), http.StatusAccepted, "")
		r := e.start(t, number, "call")
		wantStatus(t, r, http.StatusTooManyRequests, otphttp.CodeRateLimited)
		if got := r.header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After = %q, want 30", got)
		}
		if r.body["retry_after"] != 30.0 {
			t.Errorf("retry_after = %v, want 30", r.body["retry_after"])
		}
		// A fraction of a second left rounds up.
		time.Sleep(29*time.Second + 500*time.Millisecond)
		r = e.start(t, number, "call")
		wantStatus(t, r, http.StatusTooManyRequests, otphttp.CodeRateLimited)
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
		time.Sleep(time.Second)
		wantStatus(t, e.start(t, number, "call"), http.StatusAccepted, "")
		if e.rec.Len() != 2 {
			t.Errorf("sent %d messages, want 2", e.rec.Len())
		}
	})
}

func TestClientIPLimitKey(t *testing.T) {
	t.Parallel()
	fromXFF := func(ip string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Forwarded-For", "198.51.100.7, "+ip) }
	}
	t.Run("RemoteAddr by default", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, setup{policy: otp.Policy{KeySends: 1}})
		wantStatus(t, e.start(t, number, "sms", fromXFF("203.0.113.1")), http.StatusAccepted, "")
		// Another number, a forged header, the same RemoteAddr: refused.
		wantStatus(t, e.start(t, number2, "sms", fromXFF("203.0.113.2")), http.StatusTooManyRequests, otphttp.CodeRateLimited)
	})
	t.Run("trusted header", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, setup{policy: otp.Policy{KeySends: 1}, opts: []otphttp.Option{otphttp.WithTrustedHeader("x-forwarded-for")}})
		wantStatus(t, e.start(t, number, "sms", fromXFF("203.0.113.1")), http.StatusAccepted, "")
		wantStatus(t, e.start(t, number2, "sms", fromXFF("203.0.113.2")), http.StatusAccepted, "")
		wantStatus(t, e.start(t, "+14155550102", "sms", fromXFF("203.0.113.2")), http.StatusTooManyRequests, otphttp.CodeRateLimited)
	})
	t.Run("IPv6 by /64", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, setup{policy: otp.Policy{KeySends: 1}})
		addr := func(a string) func(*http.Request) { return func(r *http.Request) { r.RemoteAddr = a } }
		wantStatus(t, e.start(t, number, "sms", addr("[2001:db8:1:2::1]:5000")), http.StatusAccepted, "")
		wantStatus(t, e.start(t, number2, "sms", addr("[2001:db8:1:2::ffff]:5001")), http.StatusTooManyRequests, otphttp.CodeRateLimited)
		wantStatus(t, e.start(t, number2, "sms", addr("[2001:db8:1:3::1]:5001")), http.StatusAccepted, "")
	})
}

// sessionEnv returns an env whose codes are bound to the request's
// session cookie, which session sets.
func sessionEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, setup{opts: []otphttp.Option{otphttp.WithBinding(func(r *http.Request) string {
		if c, err := r.Cookie("session"); err == nil {
			return c.Value
		}
		return ""
	})}})
}

func TestBinding(t *testing.T) {
	t.Parallel()
	e := sessionEnv(t)
	wantStatus(t, e.start(t, number, "sms", session("a")), http.StatusAccepted, "")
	code := e.code(t, number)
	wantStatus(t, e.check(t, number, code, session("b")), http.StatusNotFound, "")
	wantStatus(t, e.check(t, number, code, session("a")), http.StatusOK, "")
}

func TestPolicyRefusals(t *testing.T) {
	t.Parallel()
	veto := errors.New("landline")
	e := newEnv(t, setup{
		policy: otp.Policy{AllowedRegions: []string{"US", "GB"}, Channels: []sender.Channel{sender.SMS}},
		before: func(_ context.Context, r otp.SendRequest) error {
			if r.Number.Region == "GB" {
				return veto
			}
			return nil
		},
	})
	wantStatus(t, e.start(t, "+33612345678", "sms"), http.StatusForbidden, otphttp.CodeCountryNotAllowed)
	wantStatus(t, e.start(t, number, "call"), http.StatusForbidden, otphttp.CodeChannelNotAllowed)
	wantStatus(t, e.start(t, "+19002345678", "sms"), http.StatusForbidden, otphttp.CodeNumberType)
	wantStatus(t, e.start(t, "+449012345678", "sms"), http.StatusForbidden, otphttp.CodeNumberType)
	r := e.start(t, "+447400123456", "sms")
	wantStatus(t, r, http.StatusForbidden, otphttp.CodeVetoed)
	if strings.Contains(r.raw, "landline") {
		t.Errorf("reply leaks the veto reason: %s", r.raw)
	}
	if e.rec.Len() != 0 {
		t.Errorf("sent %d messages, want 0", e.rec.Len())
	}
}

// failingStore fails every call, as a Store whose backend is down.
type failingStore struct{}

var errDown = errors.New("dial tcp 10.1.2.3:6379: connection refused")

func (failingStore) Issue(context.Context, store.IssueRequest) (store.IssueResult, error) {
	return store.IssueResult{}, errDown
}
func (failingStore) Check(context.Context, store.CheckRequest) (store.CheckResult, error) {
	return store.CheckResult{}, errDown
}
func (failingStore) Withdraw(context.Context, string, []byte, []byte) error { return errDown }
func (failingStore) Attempt(context.Context, store.AttemptRequest) (store.AttemptResult, error) {
	return store.AttemptResult{}, errDown
}

func TestInfrastructureFailures(t *testing.T) {
	t.Parallel()
	t.Run("send failed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, setup{})
		e.rec.FailWith(errors.New("plivo: 500 from api.plivo.com, auth id MAXXXXXXXX"))
		r := e.start(t, number, "sms")
		wantStatus(t, r, http.StatusBadGateway, otphttp.CodeSendFailed)
		if strings.Contains(r.raw, "plivo") {
			t.Errorf("reply leaks internals: %s", r.raw)
		}
		// The withdrawn code is not pending.
		wantStatus(t, e.check(t, number, "123456"), http.StatusNotFound, "")
	})
	t.Run("store unavailable", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, setup{store: failingStore{}})
		for _, r := range []reply{e.start(t, number, "sms"), e.check(t, number, "123456")} {
			wantStatus(t, r, http.StatusServiceUnavailable, otphttp.CodeUnavailable)
			if strings.Contains(r.raw, "10.1.2.3") || strings.Contains(r.raw, "refused") {
				t.Errorf("reply leaks internals: %s", r.raw)
			}
		}
		if e.rec.Len() != 0 {
			t.Errorf("sent %d messages, want 0", e.rec.Len())
		}
	})
}

func TestOverlongBindingIsClientError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{opts: []otphttp.Option{otphttp.WithBinding(func(r *http.Request) string {
		return r.Header.Get("X-Session")
	})}})
	long := func(r *http.Request) { r.Header.Set("X-Session", strings.Repeat("s", otp.MaxBindingLen+1)) }
	wantStatus(t, e.start(t, number, "sms", long), http.StatusBadRequest, otphttp.CodeInvalidRequest)
	wantStatus(t, e.check(t, number, "123456", long), http.StatusBadRequest, otphttp.CodeInvalidRequest)
}

func TestClientGoneIsNotServerError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := func(r *http.Request) { *r = *r.WithContext(ctx) }
	for _, r := range []reply{e.start(t, number, "sms", gone), e.check(t, number, "123456", gone)} {
		if r.status != 499 || r.body["code"] != otphttp.CodeRequestCancelled {
			t.Errorf("cancelled request = %d %s, want 499", r.status, r.raw)
		}
	}
	if e.rec.Len() != 0 {
		t.Errorf("a cancelled request sent %d messages", e.rec.Len())
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{})
	big := `{"to":"` + strings.Repeat("1", otphttp.DefaultMaxBodyBytes) + `"}`
	tests := []struct {
		name, path, ctype, body string
		status                  int
		code                    string
	}{
		{"malformed number", "/api/verifications", "application/json", `{"to":"12345","channel":"sms"}`, 400, otphttp.CodeInvalidNumber},
		{"letters in number", "/api/verifications", "application/json", `{"to":"+1415CALLME","channel":"sms"}`, 400, otphttp.CodeInvalidNumber},
		{"empty number", "/api/verifications", "application/json", `{"channel":"sms"}`, 400, otphttp.CodeInvalidNumber},
		{"control character", "/api/verifications", "application/json", `{"to":"+1415555\u00000100"}`, 400, otphttp.CodeInvalidNumber},
		{"unknown channel", "/api/verifications", "application/json", `{"to":"+14155550100","channel":"fax"}`, 400, otphttp.CodeInvalidChannel},
		{"malformed JSON", "/api/verifications", "application/json", `{"to":`, 400, otphttp.CodeInvalidJSON},
		{"not an object", "/api/verifications", "application/json", `["+14155550100"]`, 400, otphttp.CodeInvalidJSON},
		{"number not a string", "/api/verifications", "application/json", `{"to":14155550100}`, 400, otphttp.CodeInvalidJSON},
		{"empty body", "/api/verifications", "application/json", ``, 400, otphttp.CodeInvalidJSON},
		{"trailing data", "/api/verifications", "application/json", `{"to":"+14155550100"} {"to":"+14155550101"}`, 400, otphttp.CodeInvalidJSON},
		{"unknown field", "/api/verifications", "application/json", `{"to":"+14155550100","code":"123456"}`, 400, otphttp.CodeUnknownField},
		{"oversize body", "/api/verifications", "application/json", big, 400, otphttp.CodeBodyTooLarge},
		{"wrong content type", "/api/verifications", "text/plain", `{"to":"+14155550100"}`, 415, otphttp.CodeUnsupportedMedia},
		{"form content type", "/api/verifications", "application/x-www-form-urlencoded", `to=%2B14155550100`, 415, otphttp.CodeUnsupportedMedia},
		{"no content type", "/api/verifications", "", `{"to":"+14155550100"}`, 415, otphttp.CodeUnsupportedMedia},
		{"code too short", "/api/verifications/check", "application/json", `{"to":"+14155550100","code":"12345"}`, 400, otphttp.CodeInvalidCode},
		{"code too long", "/api/verifications/check", "application/json", `{"to":"+14155550100","code":"1234567"}`, 400, otphttp.CodeInvalidCode},
		{"code not digits", "/api/verifications/check", "application/json", `{"to":"+14155550100","code":"12a456"}`, 400, otphttp.CodeInvalidCode},
		{"code as number", "/api/verifications/check", "application/json", `{"to":"+14155550100","code":123456}`, 400, otphttp.CodeInvalidJSON},
		{"check malformed number", "/api/verifications/check", "application/json", `{"to":"+1","code":"123456"}`, 400, otphttp.CodeInvalidNumber},
		{"check unknown field", "/api/verifications/check", "application/json", `{"to":"+14155550100","code":"123456","x":1}`, 400, otphttp.CodeUnknownField},
		{"check oversize", "/api/verifications/check", "application/json", big, 400, otphttp.CodeBodyTooLarge},
		{"unknown route", "/api/verifications/123456", "application/json", `{}`, 404, otphttp.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, tt.path, tt.ctype, tt.body)
			wantStatus(t, r, tt.status, tt.code)
			if msg, _ := r.body["error"].(string); msg == "" {
				t.Errorf("no error message: %s", r.raw)
			}
		})
	}
	if e.rec.Len() != 0 {
		t.Errorf("bad input sent %d messages", e.rec.Len())
	}
	t.Run("charset parameter accepted", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/api/verifications/check", "application/json; charset=utf-8", `{"to":"+14155550100","code":"123456"}`)
		wantStatus(t, r, http.StatusNotFound, "")
	})
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{})
	for _, path := range []string{"/api/verifications", "/api/verifications/check"} {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			r := e.do(t, m, path+"?to=%2B14155550100&code=123456", "application/json", `{"to":"+14155550100"}`)
			wantStatus(t, r, http.StatusMethodNotAllowed, otphttp.CodeMethodNotAllowed)
			if got := r.header.Get("Allow"); got != "POST" {
				t.Errorf("%s %s: Allow = %q, want POST", m, path, got)
			}
		}
	}
	if e.rec.Len() != 0 {
		t.Errorf("%d messages sent over other methods", e.rec.Len())
	}
}

func TestPrefixAndMux(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{opts: []otphttp.Option{otphttp.WithPrefix("/v1/otp/")}})
	if e.h.StartPath() != "/v1/otp/verifications" || e.h.CheckPath() != "/v1/otp/verifications/check" {
		t.Fatalf("paths = %s, %s", e.h.StartPath(), e.h.CheckPath())
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	// The caller's own routes, under the prefix and beside it, stay its own.
	mux.HandleFunc("GET /v1/otp/status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// send returns the status and headers; the body is read and closed.
	type reply struct {
		StatusCode int
		Header     http.Header
	}
	send := func(method, path, body string) reply {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return reply{resp.StatusCode, resp.Header}
	}
	if resp := send(http.MethodPost, "/v1/otp/verifications", `{"to":"+14155550100"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start: status = %d, want 202", resp.StatusCode)
	}
	if resp := send(http.MethodPost, "/v1/otp/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, number, e.code(t, number))); resp.StatusCode != http.StatusOK {
		t.Fatalf("check: status = %d, want 200", resp.StatusCode)
	}
	for _, path := range []string{"/v1/otp/verifications", "/v1/otp/verifications/check"} {
		resp := send(http.MethodGet, path, "")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("GET %s: status %d, Allow %q, Content-Type %q; want a JSON 405 with Allow: POST", path, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"))
		}
	}
	if resp := send(http.MethodGet, "/v1/otp/status", ""); resp.StatusCode != http.StatusTeapot {
		t.Errorf("caller's route: status = %d, want 418", resp.StatusCode)
	}
	// Other paths are the caller's mux's: its plain 404, not the handler's.
	if resp := send(http.MethodPost, "/v1/otp/other", `{}`); resp.StatusCode != http.StatusNotFound || strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown path: status %d, Content-Type %q; want the mux's own 404", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestRootPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{opts: []otphttp.Option{otphttp.WithPrefix("/")}})
	if e.h.StartPath() != "/verifications" || e.h.CheckPath() != "/verifications/check" {
		t.Fatalf("paths = %s, %s", e.h.StartPath(), e.h.CheckPath())
	}
	wantStatus(t, e.do(t, http.MethodPost, "/verifications", "application/json", `{"to":"+14155550100"}`), http.StatusAccepted, "")
	wantStatus(t, e.do(t, http.MethodPost, "/api/verifications", "application/json", `{"to":"+14155550100"}`), http.StatusNotFound, otphttp.CodeNotFound)
}

// TestUncleanPathRedirects: ServeHTTP answers a path that is not clean as
// http.ServeMux does, with a redirect to the clean path, and serves
// nothing there.
func TestUncleanPathRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{})
	for _, path := range []string{"/api//verifications", "/api/./verifications", "/api/x/../verifications"} {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"to":"+14155550100"}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if (w.Code != http.StatusMovedPermanently && w.Code != http.StatusTemporaryRedirect) || w.Header().Get("Location") != "/api/verifications" {
			t.Errorf("POST %s: status %d, Location %q; want a redirect to /api/verifications", path, w.Code, w.Header().Get("Location"))
		}
	}
	if e.rec.Len() != 0 {
		t.Errorf("unclean paths sent %d messages", e.rec.Len())
	}
}

type nopLimiter struct{}

func (nopLimiter) Allow(context.Context, string) (bool, time.Duration, error) { return true, 0, nil }

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	ms := memstore.New(memstore.WithSweepInterval(0))
	t.Cleanup(func() { ms.Close() })
	v, err := otp.NewVerifier(otp.Config{Store: ms, Sender: &sendertest.Recorder{}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string // the option the error must name
		v    *otp.Verifier
		opts []otphttp.Option
	}{
		{"Verifier", nil, nil},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("")}},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("api")}},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("//")}},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("/a//b")}},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("/a/../b")}},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("/{id}")}},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("/a b")}},
		{"WithPrefix", v, []otphttp.Option{otphttp.WithPrefix("/a?b")}},
		{"WithMaxBodyBytes", v, []otphttp.Option{otphttp.WithMaxBodyBytes(0)}},
		{"WithMaxBodyBytes", v, []otphttp.Option{otphttp.WithMaxBodyBytes(-1)}},
		{"WithCheckBudget", v, []otphttp.Option{otphttp.WithCheckBudget(0, time.Minute)}},
		{"WithCheckBudget", v, []otphttp.Option{otphttp.WithCheckBudget(10, 0)}},
		{"WithCheckBudget", v, []otphttp.Option{otphttp.WithCheckBudget(10, time.Minute), otphttp.WithCheckLimiter(nopLimiter{})}},
		{"WithCheckLimiter", v, []otphttp.Option{otphttp.WithCheckLimiter(nil)}},
		{"WithTrustedHeader", v, []otphttp.Option{otphttp.WithTrustedHeader("")}},
		{"WithClientKey", v, []otphttp.Option{otphttp.WithClientKey(nil)}},
		{"WithBinding", v, []otphttp.Option{otphttp.WithBinding(nil)}},
		{"WithTransaction", v, []otphttp.Option{otphttp.WithTransaction(nil)}},
		{"WithLogger", v, []otphttp.Option{otphttp.WithLogger(nil)}},
	}
	for _, tt := range tests {
		h, err := otphttp.New(tt.v, tt.opts...)
		if !errors.Is(err, otphttp.ErrInvalidConfig) || h != nil {
			t.Errorf("New with a bad %s: %v, %v; want ErrInvalidConfig", tt.name, h, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.name) || !strings.HasPrefix(err.Error(), "otphttp: ") {
			t.Errorf("error %q does not name %s", err, tt.name)
		}
	}
	for _, opt := range []otphttp.Option{otphttp.WithPrefix("/"), otphttp.WithPrefix("/v1/otp/"), otphttp.WithCheckLimiter(nopLimiter{}), nil} {
		if _, err := otphttp.New(v, opt); err != nil {
			t.Errorf("New with a good option: %v", err)
		}
	}
}

// BenchmarkCheckExpired measures the check route on the path the load test
// uses: a well-formed code for a number with nothing pending.
func BenchmarkCheckExpired(b *testing.B) {
	ms := memstore.New(memstore.WithSweepInterval(0))
	b.Cleanup(func() { ms.Close() })
	v, err := otp.NewVerifier(otp.Config{Store: ms, Sender: &sendertest.Recorder{}, Secret: secret})
	if err != nil {
		b.Fatal(err)
	}
	h, err := otphttp.New(v)
	if err != nil {
		b.Fatal(err)
	}
	body := `{"to":"+14155550100","code":"123456"}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/api/verifications/check", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusNotFound {
				b.Fatalf("status = %d", w.Code)
			}
		}
	})
}

// FuzzRequests checks that no request body, path or method makes the
// handler answer 5xx, panic, reply with something other than a JSON object
// (or the mux's redirect of a path that is not clean), or echo a code it
// sent.
func FuzzRequests(f *testing.F) {
	for _, s := range []struct{ method, path, body string }{
		{"POST", "/api/verifications", `{"to":"+14155550100","channel":"sms"}`},
		{"POST", "/api/verifications", `{"to":"+44 07400 123456","channel":"CALL"}`},
		{"POST", "/api/verifications", `{"to":"+1\u0000","channel":""}`},
		{"POST", "/api/verifications/check", `{"to":"+14155550100","code":"123456"}`},
		{"POST", "/api/verifications/check", `{"to":"٤١٥","code":"١٢٣٤٥٦"}`},
		{"POST", "/api/verifications/check", `{"to":null,"code":null}`},
		{"GET", "/api/verifications", ``},
		{"POST", "/api/verifications", `{"to":"+14155550100"}{}`},
	} {
		f.Add(s.method, s.path, s.body)
	}
	ms := memstore.New(memstore.WithSweepInterval(0))
	f.Cleanup(func() { ms.Close() })
	rec := &sendertest.Recorder{}
	v, err := otp.NewVerifier(otp.Config{Store: ms, Sender: rec, Secret: secret, Policy: otp.Policy{Cooldown: -1, SendsPerWindow: 1000, KeySends: 1 << 30}})
	if err != nil {
		f.Fatal(err)
	}
	h, err := otphttp.New(v)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !validMethod(method) {
			return
		}
		r := &http.Request{
			Method:     method,
			URL:        &url.URL{Path: path},
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(body)),
			RemoteAddr: "192.0.2.1:1234",
		}
		r = r.WithContext(context.Background())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: status %d %s", method, path, body, w.Code, w.Body)
		}
		if w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect {
			// The mux's redirect of a path that is not clean, which serves
			// nothing.
			if rec.Len() != 0 {
				t.Fatalf("%s %s: redirected and sent %d messages", method, path, rec.Len())
			}
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &obj); err != nil {
			t.Fatalf("reply is not a JSON object: %q", w.Body)
		}
		for _, m := range rec.Messages() {
			if strings.Contains(w.Body.String(), `"`+m.Code+`"`) {
				t.Fatalf("reply %s contains a sent code", w.Body)
			}
		}
		rec.Reset()
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
