package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/pgstore"
	"github.com/go2fa/go2fa/store/redisstore"
)

const testNumber = "+14155550100"

var testSecret = bytes.Repeat([]byte{0x42}, 32)

// newTestApp serves the demo with a memory store and a Recorder.
func newTestApp(t *testing.T, policy otp.Policy) (*httptest.Server, *sendertest.Recorder) {
	t.Helper()
	rec := &sendertest.Recorder{}
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	app, err := newApp(appConfig{Store: st, Sender: rec, Secret: testSecret, Policy: policy})
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv, rec
}

type result struct {
	status int
	header http.Header
	body   map[string]any
}

func post(t *testing.T, c *http.Client, url, body string, cookies ...*http.Cookie) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := result{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&out.body); err != nil {
		t.Fatalf("POST %s: reply is not JSON: %v", url, err)
	}
	return out
}

func TestPageAndAssets(t *testing.T) {
	t.Parallel()
	srv, _ := newTestApp(t, otp.Policy{})
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != contentSecurityPolicy || strings.Contains(got, "unsafe-inline") {
		t.Errorf("CSP = %q", got)
	}
	for _, h := range []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || len(session.Value) < 20 {
		t.Errorf("session cookie = %+v", session)
	}
	html := string(page)
	for _, want := range []string{
		`<meta name="viewport"`, `<script src="/static/app.js" defer></script>`, `<label for="phone">`,
		`<label for="code">`, `autocomplete="one-time-code"`, `inputmode="numeric"`, "Send verification code",
		"Didn't receive the SMS? Call me", "Start again", "Authenticator app",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(html, "<script") != 1 || strings.Contains(html, "http://") || strings.Contains(html, "https://") || strings.Contains(html, " style=") {
		t.Errorf("page has inline script or style, or loads from another origin")
	}
	for path, ctype := range map[string]string{"/static/app.js": "text/javascript", "/static/app.css": "text/css"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s = %d %q (%d bytes)", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if bytes.Contains(body, []byte("http://")) || bytes.Contains(body, []byte("https://")) {
			t.Errorf("%s refers to another origin", path)
		}
	}
	for _, path := range []string{"/nope", "/static/nope.js", "/static/../main.go"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	resp, err = srv.Client().Get(srv.URL + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Channels   []string `json:"channels"`
		CodeLength int      `json:"code_length"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET /api/config: decoding the reply: %v", err)
	}
	if fmt.Sprint(cfg.Channels) != "[sms call]" || cfg.CodeLength != 6 {
		t.Errorf("config = %+v", cfg)
	}
}

func TestAPIFlowWithSessionBinding(t *testing.T) {
	t.Parallel()
	srv, rec := newTestApp(t, otp.Policy{})
	a := &http.Cookie{Name: sessionCookie, Value: "session-a"}
	b := &http.Cookie{Name: sessionCookie, Value: "session-b"}
	r := post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550100","channel":"sms"}`, a)
	if r.status != http.StatusAccepted || r.body["status"] != "pending" {
		t.Fatalf("start = %d %v", r.status, r.body)
	}
	if r.header.Get("Content-Security-Policy") == "" {
		t.Error("API reply lacks the security headers")
	}
	m, ok := rec.Last(testNumber)
	if !ok {
		t.Fatal("nothing sent")
	}
	// Another browser's session cannot use the code, nor see that it is
	// pending.
	r = post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, testNumber, m.Code), b)
	if r.status != http.StatusNotFound {
		t.Fatalf("check from another session = %d %v, want 404", r.status, r.body)
	}
	r = post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, testNumber, m.Code), a)
	if r.status != http.StatusOK || r.body["status"] != "approved" {
		t.Fatalf("check = %d %v, want 200 approved", r.status, r.body)
	}
	// The per-IP budget (10 sends an hour by default) applies to sends from
	// one client, whatever the numbers.
	for i := range 9 {
		if r := post(t, srv.Client(), srv.URL+"/api/verifications", fmt.Sprintf(`{"to":"+1415555%04d"}`, 200+i)); r.status != http.StatusAccepted {
			t.Fatalf("send %d = %d %v", i+2, r.status, r.body)
		}
	}
	r = post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550300"}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.body["code"] != "rate_limited" {
		t.Fatalf("11th send from one IP = %d %v, want 429 with Retry-After", r.status, r.body)
	}
}

func TestTOTPAPI(t *testing.T) {
	t.Parallel()
	srv, _ := newTestApp(t, otp.Policy{})
	c := srv.Client()
	resp, err := c.Get(srv.URL + "/api/totp/enroll")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET enroll = %d", resp.StatusCode)
	}
	r := post(t, c, srv.URL+"/api/totp/enroll", `{}`)
	if r.status != http.StatusCreated {
		t.Fatalf("enroll = %d %v", r.status, r.body)
	}
	uri, _ := r.body["uri"].(string)
	key, err := totp.ParseURI(uri)
	if err != nil {
		t.Fatalf("uri %q: %v", uri, err)
	}
	secret, err := totp.DecodeSecret(r.body["secret"].(string))
	if err != nil || !bytes.Equal(secret, key.Secret) {
		t.Fatalf("secret does not match the URI: %v", err)
	}
	qr, _ := r.body["qr"].(string)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(qr, "data:image/png;base64,") {
		t.Fatalf("qr is not a PNG data URL: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("qr PNG: %v", err)
	}
	id := r.body["enrollment"].(string)
	code, err := key.Code(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	verify := func(code string) result {
		return post(t, c, srv.URL+"/api/totp/verify", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, code))
	}
	wrongCode := fmt.Sprintf("%06d", (atoi(code)+500000)%1000000)
	if r := verify(wrongCode); r.status != http.StatusUnprocessableEntity || r.body["remaining"] != 4.0 {
		t.Fatalf("wrong code = %d %v, want 422 with 4 left", r.status, r.body)
	}
	if r := verify("12ab56"); r.status != http.StatusBadRequest {
		t.Fatalf("malformed code = %d, want 400", r.status)
	}
	if r := verify(code); r.status != http.StatusOK || r.body["status"] != "approved" {
		t.Fatalf("right code = %d %v", r.status, r.body)
	}
	if r := verify(code); r.status != http.StatusConflict || r.body["status"] != "replayed" {
		t.Fatalf("replayed code = %d %v, want 409", r.status, r.body)
	}
	r = post(t, c, srv.URL+"/api/totp/verify", fmt.Sprintf(`{"enrollment":"nope","code":%q}`, code))
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown enrollment = %d", r.status)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfe, 0x01}, 16)
	for _, s := range []string{
		fmt.Sprintf("%x", raw),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
	} {
		got, err := parseSecret(s)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("parseSecret(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"short", fmt.Sprintf("%x", raw[:31]), "not base64 or hex!!"} {
		if _, err := parseSecret(s); !errors.Is(err, errNoSecret) {
			t.Errorf("parseSecret(%q) err = %v, want errNoSecret", s, err)
		}
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// testConfig is the demo's configuration read from vars as main reads the
// environment, with Plivo's requests through client (nil: the default).
func testConfig(t *testing.T, vars map[string]string, client *http.Client) appConfig {
	t.Helper()
	cfg, cleanup, err := configFromEnv(t.Context(), env(vars), io.Discard, discard, client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return cfg
}

// serve serves the demo built from cfg.
func serve(t *testing.T, cfg appConfig) (http.Handler, *httptest.Server) {
	t.Helper()
	app, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return app, srv
}

var discard = slog.New(slog.DiscardHandler)

func TestConfigFromEnvDefaults(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	cfg, cleanup, err := configFromEnv(t.Context(), env(nil), &stderr, discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if _, ok := cfg.Store.(*memstore.Store); !ok {
		t.Errorf("store = %T, want memstore", cfg.Store)
	}
	if _, ok := cfg.Sender.(*sender.WriterSender); !ok {
		t.Errorf("sender = %T, want the development sender", cfg.Sender)
	}
	if len(cfg.Secret) < 32 || !strings.Contains(stderr.String(), "warning: GO2FA_SECRET is not set") {
		t.Errorf("random secret of %d bytes, stderr %q", len(cfg.Secret), stderr.String())
	}
	// The development sender prints channel, destination and text.
	if err := cfg.Sender.Send(t.Context(), sender.Message{To: testNumber, Channel: sender.SMS, Code: "123456"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "sms to +14155550100: Your verification code is 123456.") {
		t.Errorf("dev sender printed %q", stderr.String())
	}

	_, _, err = configFromEnv(t.Context(), env(map[string]string{"GO2FA_SECRET": "abcd"}), io.Discard, discard, nil)
	if !errors.Is(err, errNoSecret) {
		t.Errorf("short secret: err = %v", err)
	}
	_, _, err = configFromEnv(t.Context(), env(map[string]string{"REDIS_URL": "mysql://nope"}), io.Discard, discard, nil)
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("bad REDIS_URL: err = %v", err)
	}
	_, _, err = configFromEnv(t.Context(), env(map[string]string{"DATABASE_URL": "postgres://u:hunter2@[::1"}), io.Discard, discard, nil)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad DATABASE_URL: err = %v", err)
	}
	_, _, err = configFromEnv(t.Context(), env(map[string]string{"DATABASE_URL": "postgres://127.0.0.1/x", "REDIS_URL": "redis://127.0.0.1"}), io.Discard, discard, nil)
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("DATABASE_URL and REDIS_URL: err = %v", err)
	}
	_, _, err = configFromEnv(t.Context(), env(map[string]string{"PLIVO_AUTH_ID": "MA123"}), io.Discard, discard, nil)
	if err == nil || !strings.Contains(err.Error(), "PLIVO_AUTH_TOKEN, PLIVO_NUMBER") {
		t.Errorf("partial Plivo settings: err = %v", err)
	}
}

// TestRedis runs the demo's API on the Redis server named by REDIS_URL,
// with checks autopipelined (the default) and with one round trip each.
func TestRedis(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("REDIS_URL not set: skipping the webdemo test against a real Redis")
	}
	for _, pipelined := range []string{"", "0"} {
		t.Run("REDIS_AUTOPIPELINE="+pipelined, func(t *testing.T) {
			vars := map[string]string{"REDIS_URL": url, "REDIS_AUTOPIPELINE": pipelined}
			cfg := testConfig(t, vars, nil)
			switch cfg.Store.(type) {
			case splitStore:
				if pipelined == "0" {
					t.Fatal("autopipelined despite REDIS_AUTOPIPELINE=0")
				}
			case *redisstore.Store:
				if pipelined == "" {
					t.Fatal("not autopipelined by default")
				}
			default:
				t.Fatalf("store = %T, want a redisstore", cfg.Store)
			}
			testRedisFlow(t, cfg)
		})
	}
}

// TestPostgres runs the demo's API on the PostgreSQL named by DATABASE_URL.
func TestPostgres(t *testing.T) {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Skip("DATABASE_URL not set: skipping the webdemo test against a real PostgreSQL")
	}
	cfg := testConfig(t, map[string]string{"DATABASE_URL": url}, nil)
	if _, ok := cfg.Store.(*pgstore.Store); !ok {
		t.Fatalf("store = %T, want a pgstore", cfg.Store)
	}
	testRedisFlow(t, cfg)
}

// testRedisFlow runs a start, a wrong check and 24 concurrent right checks
// against a shared store (Redis or PostgreSQL).
func testRedisFlow(t *testing.T, cfg appConfig) {
	rec := &sendertest.Recorder{}
	cfg.Sender = rec
	_, srv := serve(t, cfg)
	// A number unlikely to collide with other runs sharing the server.
	to := fmt.Sprintf("+1415555%04d", time.Now().UnixNano()%10000)
	r := post(t, srv.Client(), srv.URL+"/api/verifications", fmt.Sprintf(`{"to":%q}`, to))
	if r.status != http.StatusAccepted {
		t.Fatalf("start = %d %v", r.status, r.body)
	}
	m, _ := rec.Last(to)
	check := func(code string) result {
		return post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, to, code))
	}
	if r := check(wrongCode(m.Code)); r.status != http.StatusUnprocessableEntity || r.body["remaining"] != 4.0 {
		t.Fatalf("wrong code = %d %v, want 422 with 4 left", r.status, r.body)
	}
	// 24 concurrent correct checks: exactly one approves.
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := map[int]int{}
	for range 24 {
		wg.Go(func() {
			r := check(m.Code)
			mu.Lock()
			count[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if count[200] != 1 || count[404] != 23 {
		t.Fatalf("statuses = %v, want one 200 and 23 404", count)
	}
}

// TestPlivoDirect wires the demo to the fake Plivo API: an SMS, then the
// "Call me" path with the answer URL mounted on the demo's own mux.
func TestPlivoDirect(t *testing.T) {
	t.Parallel()
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	vars := map[string]string{
		"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken, "PLIVO_NUMBER": plivotest.Number,
		"PUBLIC_URL": "https://demo.example/", "GO2FA_SECRET": fmt.Sprintf("%x", testSecret),
	}
	cfg := testConfig(t, vars, fake.Client())
	if cfg.Mounts["/plivo/answer"] == nil || cfg.Mounts["/plivo/status"] == nil {
		t.Fatalf("mounts = %v, want the answer and status handlers", cfg.Mounts)
	}
	cfg.Policy.Cooldown = -1
	app, srv := serve(t, cfg)

	if r := post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550100","channel":"sms"}`); r.status != http.StatusAccepted {
		t.Fatalf("sms start = %d %v", r.status, r.body)
	}
	sms, ok := fake.LastMessage(testNumber)
	if !ok || sms.Code == "" || sms.URL != "https://demo.example/plivo/status" {
		t.Fatalf("sms = %+v, %v", sms, ok)
	}
	if r := post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550100","channel":"call"}`); r.status != http.StatusAccepted {
		t.Fatalf("call start = %d %v", r.status, r.body)
	}
	call, ok := fake.LastCall(testNumber)
	if !ok || !strings.HasPrefix(call.AnswerURL, "https://demo.example/plivo/answer?") || strings.Contains(call.AnswerURL, sms.Code) {
		t.Fatalf("call = %+v", call)
	}
	ans, err := plivotest.PlayAnswer(app, call)
	if err != nil || ans.StatusCode != http.StatusOK {
		t.Fatalf("answer = %+v, %v", ans, err)
	}
	digits := ans.Digits()
	if len(digits) == 0 || digits[0] == sms.Code {
		t.Fatalf("call speaks %v; want a new code", digits)
	}
	r := post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, testNumber, digits[0]))
	if r.status != http.StatusOK {
		t.Fatalf("check of the spoken code = %d %v", r.status, r.body)
	}
	// A forged answer request is refused by the mounted handler.
	req, _ := plivotest.SignedRequestWith("wrong-token", plivotest.Nonce(), http.MethodPost, call.AnswerURL, plivotest.AnswerParams(call))
	if a, _ := plivotest.Serve(app, req); a.StatusCode != http.StatusForbidden {
		t.Errorf("forged answer = %d, want 403", a.StatusCode)
	}
}

// TestPlivoAPIURL runs the demo as a user would against a local stand-in
// of Plivo: PLIVO_API_URL at the fake's loopback origin, the default HTTP
// client (no test transport), a plain-http PUBLIC_URL. The SMS and the call
// reach the stand-in, a V2-signed delivery report (as Plivo's messaging
// docs sign them) is accepted at PUBLIC_URL/plivo/status, and the spoken
// code checks out.
func TestPlivoAPIURL(t *testing.T) {
	t.Parallel()
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	vars := map[string]string{
		"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken, "PLIVO_NUMBER": plivotest.Number,
		"PLIVO_API_URL": fake.URL(), "PUBLIC_URL": "http://127.0.0.1:8080", "GO2FA_SECRET": fmt.Sprintf("%x", testSecret),
	}
	cfg := testConfig(t, vars, nil)
	cfg.Policy.Cooldown = -1
	app, srv := serve(t, cfg)
	if r := post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550100","channel":"sms"}`); r.status != http.StatusAccepted {
		t.Fatalf("sms start = %d %v", r.status, r.body)
	}
	sms, ok := fake.LastMessage(testNumber)
	if !ok || sms.URL != "http://127.0.0.1:8080/plivo/status" || sms.Log != false {
		t.Fatalf("sms = %+v, %v", sms, ok)
	}
	report, err := plivotest.StatusRequest(sms, "delivered", "")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := plivotest.Serve(app, report); a.StatusCode != http.StatusOK {
		t.Errorf("V2-signed delivery report = %d, want 200", a.StatusCode)
	}
	if r := post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550100","channel":"call"}`); r.status != http.StatusAccepted {
		t.Fatalf("call start = %d %v", r.status, r.body)
	}
	call, ok := fake.LastCall(testNumber)
	if !ok || !strings.HasPrefix(call.AnswerURL, "http://127.0.0.1:8080/plivo/answer?") {
		t.Fatalf("call = %+v, %v", call, ok)
	}
	ans, err := plivotest.PlayAnswer(app, call)
	if err != nil || ans.StatusCode != http.StatusOK || len(ans.Digits()) == 0 {
		t.Fatalf("answer = %+v, %v", ans, err)
	}
	r := post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, testNumber, ans.Digits()[0]))
	if r.status != http.StatusOK {
		t.Fatalf("check of the spoken code = %d %v", r.status, r.body)
	}
	for _, req := range fake.Requests() {
		if !strings.HasPrefix(req.Host, "127.0.0.1:") {
			t.Errorf("request to %s, want the stand-in's origin", req.Host)
		}
	}
	vars["PLIVO_API_URL"] = "http://127.0.0.1:1/v1"
	if _, _, err := configFromEnv(t.Context(), env(vars), io.Discard, discard, nil); err == nil {
		t.Error("PLIVO_API_URL with a path accepted")
	}
}

func TestPlivoSettings(t *testing.T) {
	t.Parallel()
	base := map[string]string{"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken, "PLIVO_NUMBER": plivotest.Number}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range base {
			m[k] = v
		}
		return m
	}
	s, mounts, channels, err := senderFromEnv(env(with("PHLO_ID", plivotest.PHLOID)), discard, nil, nil, nil)
	if _, ok := s.(*plivoadapter.PHLO); err != nil || !ok || len(mounts) != 0 || len(channels) != 2 {
		t.Errorf("PHLO: %T %v %v %v", s, mounts, channels, err)
	}
	_, mounts, channels, err = senderFromEnv(env(base), discard, nil, nil, nil)
	if err != nil || len(mounts) != 0 || fmt.Sprint(channels) != "[sms]" {
		t.Errorf("direct without PUBLIC_URL: %v %v %v (want SMS only)", mounts, channels, err)
	}
	if _, _, _, err = senderFromEnv(env(with("PUBLIC_URL", "ftp://x")), discard, nil, nil, nil); err == nil {
		t.Errorf("bad PUBLIC_URL accepted")
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	var stderr syncBuffer
	go func() { errc <- run(ctx, []string{"-addr", "127.0.0.1:0"}, env(nil), &stderr, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-errc:
		t.Fatalf("run: %v", err)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d", resp.StatusCode)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run after shutdown: %v", err)
	}
	if out := stderr.String(); !strings.Contains(out, "serving on http://127.0.0.1:") || !strings.Contains(out, "shutting down") {
		t.Errorf("stderr = %q", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTOTPEnrollmentsBounded(t *testing.T) {
	t.Parallel()
	d := newTOTPDemo(nil, time.Now, discard)
	k := totp.Key{Secret: testSecret}
	for i := range maxEnrollments + 5 {
		d.put(fmt.Sprint(i), k)
	}
	if n := len(d.keys); n != maxEnrollments {
		t.Fatalf("%d enrollments kept, want at most %d", n, maxEnrollments)
	}
	if _, ok := d.get(fmt.Sprint(maxEnrollments + 4)); !ok {
		t.Fatal("the newest enrollment was evicted")
	}
}

// TestSessionCookieSecure checks the Secure attribute of the session cookie
// as main wires it: set for a request over TLS, and for a plain-HTTP request
// when PUBLIC_URL is https (a proxy in front terminates TLS); unset on plain
// HTTP otherwise, where a Secure cookie would never come back.
func TestSessionCookieSecure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		publicURL  string
		tls        bool
		wantSecure bool
	}{
		{name: "plain HTTP", wantSecure: false},
		{name: "TLS", tls: true, wantSecure: true},
		{name: "plain HTTP behind https PUBLIC_URL", publicURL: "https://demo.example/", wantSecure: true},
		{name: "plain HTTP behind HTTPS PUBLIC_URL", publicURL: "HTTPS://demo.example", wantSecure: true},
		{name: "plain HTTP with http PUBLIC_URL", publicURL: "http://192.168.1.5:8080", wantSecure: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"GO2FA_SECRET": fmt.Sprintf("%x", testSecret), "PUBLIC_URL": tc.publicURL}
			cfg := testConfig(t, vars, nil)
			app, err := newApp(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(app)
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			resp, err := srv.Client().Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var session *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == sessionCookie {
					session = c
				}
			}
			if session == nil {
				t.Fatalf("no session cookie in %q", resp.Header.Values("Set-Cookie"))
			}
			if session.Secure != tc.wantSecure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie Secure = %v, want %v (HttpOnly %v, SameSite %v)", session.Secure, tc.wantSecure, session.HttpOnly, session.SameSite)
			}
		})
	}
}

func TestPublicURLChecked(t *testing.T) {
	t.Parallel()
	// PUBLIC_URL decides the cookie's Secure attribute even without Plivo,
	// so a malformed one is refused rather than silently ignored.
	for _, bad := range []string{"ftp://x", "demo.example", "https://"} {
		if _, _, err := configFromEnv(t.Context(), env(map[string]string{"PUBLIC_URL": bad}), io.Discard, discard, nil); err == nil || !strings.Contains(err.Error(), "PUBLIC_URL") {
			t.Errorf("PUBLIC_URL=%q: err = %v, want a PUBLIC_URL error", bad, err)
		}
	}
}
