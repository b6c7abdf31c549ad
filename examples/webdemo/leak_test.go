package main

// The no-leak test for the "the code in a URL or a log" and "a stolen Redis
// dump" rows of SECURITY.md ("What go2fa protects against"): one full run
// through the demo with everything it emits captured, then a search of all
// of it for the codes, the secret and the phone numbers.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/redisstore"
)

// captureTransport keeps every HTTP answer the app gives, status line,
// headers and body.
type captureTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	// replies are the answers, whole; echoes are the "to" members of
	// 202 start replies, removed from the copy in replies (see TestNoLeak).
	replies [][]byte
	echoes  []string
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	kept := body
	var echo string
	if resp.StatusCode == http.StatusAccepted && r.URL.Path == "/api/verifications" {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			echo, _ = m["to"].(string)
			delete(m, "to")
			kept, _ = json.Marshal(m)
		}
	}
	head := *resp
	head.Body = http.NoBody
	head.ContentLength = -1
	dump, err := httputil.DumpResponse(&head, false)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.replies = append(c.replies, append(dump, kept...))
	if echo != "" {
		c.echoes = append(c.echoes, echo)
	}
	c.mu.Unlock()
	return resp, nil
}

// leakBackend is a Redis the run keeps its state in, and a way to dump
// every key and value it holds.
type leakBackend struct {
	name string
	// store, if not nil, is the Store of the run; else redisURL is, and
	// the app connects itself, as main does.
	store    store.Store
	redisURL string
	dump     func(t *testing.T) [][]byte
}

func miniLeakBackend(t *testing.T) leakBackend {
	m := miniredis.RunT(t)
	return leakBackend{
		name:     "miniredis",
		redisURL: "redis://" + m.Addr() + "/0",
		dump: func(t *testing.T) [][]byte {
			out := [][]byte{[]byte(m.Dump())}
			for _, k := range m.Keys() {
				out = append(out, []byte(k))
				switch m.Type(k) {
				case "hash":
					fields, _ := m.HKeys(k)
					for _, f := range fields {
						out = append(out, []byte(f), []byte(m.HGet(k, f)))
					}
				case "string":
					v, _ := m.Get(k)
					out = append(out, []byte(v))
				case "list":
					v, _ := m.List(k)
					out = append(out, []byte(strings.Join(v, "\x00")))
				case "set":
					v, _ := m.SMembers(k)
					out = append(out, []byte(strings.Join(v, "\x00")))
				case "zset":
					v, _ := m.ZMembers(k)
					out = append(out, []byte(strings.Join(v, "\x00")))
				default:
					t.Errorf("miniredis key %q of type %q: not dumped", k, m.Type(k))
				}
			}
			return out
		},
	}
}

// realLeakBackend is the redis-server of REDIS_URL, under a prefix of this
// run's own; dump reads every key under it with SCAN, TYPE, HGETALL or
// GET, and DUMP.
func realLeakBackend(t *testing.T, url string) leakBackend {
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("go2fa-leaktest-%d", time.Now().UnixNano())
	st, err := redisstore.New(rdb, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+":*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return leakBackend{
		name:  "redis-server",
		store: st,
		dump: func(t *testing.T) [][]byte {
			var out [][]byte
			iter := rdb.Scan(ctx, 0, prefix+":*", 100).Iterator()
			for iter.Next(ctx) {
				k := iter.Val()
				out = append(out, []byte(k))
				typ, err := rdb.Type(ctx, k).Result()
				if err != nil {
					t.Fatalf("TYPE %s: %v", k, err)
				}
				switch typ {
				case "hash":
					h, err := rdb.HGetAll(ctx, k).Result()
					if err != nil {
						t.Fatalf("HGETALL %s: %v", k, err)
					}
					for f, v := range h {
						out = append(out, []byte(f), []byte(v))
					}
				case "string":
					v, _ := rdb.Get(ctx, k).Result()
					out = append(out, []byte(v))
				case "set":
					ms, err := rdb.SMembers(ctx, k).Result()
					if err != nil {
						t.Fatalf("SMEMBERS %s: %v", k, err)
					}
					for _, m := range ms {
						out = append(out, []byte(m))
					}
				case "none": // expired since SCAN
				default:
					t.Errorf("key %q of type %q: not dumped", k, typ)
				}
				if d, err := rdb.Dump(ctx, k).Result(); err == nil {
					out = append(out, []byte(d))
				}
			}
			if err := iter.Err(); err != nil {
				t.Fatalf("SCAN: %v", err)
			}
			return out
		},
	}
}

// secretForm is one spelling of a secret the leak search looks for.
type secretForm struct{ what, text string }

// TestNoLeak drives one full run through the demo: two instances sharing
// one Redis and one secret, one with the development sender (as `go run`
// with REDIS_URL set), one with the Plivo senders against the fake Plivo
// API (SMS, and voice with its answer URL). The run covers a start by SMS,
// wrong checks, a resend by call, the lock, a new start and its approval,
// the destination's rate limit, bad inputs, a Plivo failure, a delivery
// failure callback, and the TOTP tab (enroll, wrong code, right code,
// replay). It captures the shared output stream (the logs, and the
// development sender's lines, as main writes both to standard error),
// every HTTP answer (status, headers, body), the error strings of direct
// Verifier calls, and every key and value in Redis.
//
// None of it may hold a code that was sent or typed, the secret (raw, hex,
// base64), or a phone number (E.164 with and without "+", national
// digits), outside the places the user expects: the development sender's
// lines and what went to Plivo (the SMS text, the spoken answer). One
// deliberate exception is checked and then removed: a 202 start reply
// echoes the number, in E.164, to the client that sent it (the page shows
// "We sent a code by SMS to +1…"); it must equal what that client sent.
func TestNoLeak(t *testing.T) {
	t.Parallel()
	backends := []func(t *testing.T) leakBackend{miniLeakBackend}
	if url := os.Getenv("REDIS_URL"); url != "" {
		backends = append(backends, func(t *testing.T) leakBackend { return realLeakBackend(t, url) })
	} else {
		t.Log("REDIS_URL not set: the no-leak run uses miniredis only")
	}
	for _, newBackend := range backends {
		b := newBackend(t)
		t.Run(b.name, func(t *testing.T) { testNoLeak(t, b) })
	}
}

func testNoLeak(t *testing.T, b leakBackend) {
	secret := make([]byte, 32)
	rand.Read(secret)
	// One stream, as in main: the slog handler and the development sender
	// both write to standard error.
	var stderr syncBuffer
	log := slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	policy := otp.Policy{Cooldown: -1}

	vars := map[string]string{"GO2FA_SECRET": hex.EncodeToString(secret), "REDIS_URL": b.redisURL}
	devCfg, cleanup, err := configFromEnv(t.Context(), env(vars), &stderr, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	if b.store != nil {
		devCfg.Store = b.store
	}
	devCfg.Policy = policy
	devApp, err := newApp(devCfg)
	if err != nil {
		t.Fatal(err)
	}
	dev := httptest.NewServer(devApp)
	t.Cleanup(dev.Close)

	// The second instance: Plivo senders, the same store and secret.
	fake, plivoCfg, plivoHandler, plivo := plivoApp(t, secret, log, &stderr, policy, devCfg.Store)

	capture := &captureTransport{base: http.DefaultTransport}
	c := &http.Client{Transport: capture, Timeout: 10 * time.Second}
	var sentCodes, typedCodes []string
	step := func(base, path, body string, want int) reply {
		t.Helper()
		r, err := postJSON(c, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != want {
			t.Fatalf("POST %s %s = %d %s, want %d", path, body, r.status, r.body, want)
		}
		return r
	}
	start := func(base, to string, ch sender.Channel, want int) {
		t.Helper()
		step(base, "/api/verifications", startBody(to, ch), want)
	}
	check := func(base, to, code string, want int) {
		t.Helper()
		typedCodes = append(typedCodes, code)
		step(base, "/api/verifications/check", checkBody(to, code), want)
	}
	devLine := regexp.MustCompile(`(?m)^go2fa\[dev\] (sms|call) to (\+[0-9]+): Your verification code is ([0-9]+)\.`)
	lastDevCode := func(to string) string {
		t.Helper()
		var code string
		for _, m := range devLine.FindAllStringSubmatch(stderr.String(), -1) {
			if m[2] == to {
				code = m[3]
			}
		}
		if code == "" {
			t.Fatalf("the development sender printed no code for %s", to)
		}
		sentCodes = append(sentCodes, code)
		return code
	}
	spoken := func(to string) string {
		t.Helper()
		call, ok := fake.LastCall(to)
		if !ok {
			t.Fatalf("no call to %s", to)
		}
		code, status := spokenCode(t, plivoHandler, call)
		if status != http.StatusOK || code == "" {
			t.Fatalf("answer = %d, speaks %q", status, code)
		}
		sentCodes = append(sentCodes, code)
		return code
	}

	const (
		a = "+14155550142"  // the main user, US
		g = "+447400123456" // a UK number: SMS through Plivo, one failed
		k = "+14155550177"  // a call through the development sender
	)
	numbers := []string{a, g, k}
	nationalUK := "07400123456"

	// Start by SMS, two wrong checks, a resend by call (another
	// instance, through Plivo), the old code (now wrong), the lock.
	start(dev.URL, a, sender.SMS, http.StatusAccepted)
	a1 := lastDevCode(a)
	check(dev.URL, a, wrongCode(a1), http.StatusUnprocessableEntity)
	check(dev.URL, a, fmt.Sprintf("%06d", (atoi(a1)+1)%1000000), http.StatusUnprocessableEntity)
	start(plivo.URL, a, sender.Call, http.StatusAccepted)
	a2 := spoken(a)
	check(dev.URL, a, a1, http.StatusUnprocessableEntity)
	check(plivo.URL, a, wrongCode(a2), http.StatusUnprocessableEntity)
	check(dev.URL, a, fmt.Sprintf("%06d", (atoi(a2)+1)%1000000), http.StatusTooManyRequests) // locked
	check(dev.URL, a, a2, http.StatusNotFound)                                               // gone with the lock
	// A new start, approved.
	start(dev.URL, a, sender.SMS, http.StatusAccepted)
	check(dev.URL, a, lastDevCode(a), http.StatusOK)
	// The destination's budget (5 sends an hour): sends 4 and 5, then 429.
	start(dev.URL, a, sender.SMS, http.StatusAccepted)
	lastDevCode(a)
	start(dev.URL, a, sender.SMS, http.StatusAccepted)
	a5 := lastDevCode(a)
	start(dev.URL, a, sender.SMS, http.StatusTooManyRequests)
	check(dev.URL, a, a5, http.StatusOK)

	// Bad inputs, several carrying a number or a code.
	for _, bad := range []struct{ path, body, ctype string }{
		{"/api/verifications", `{"to":"4155550142"}`, ""},
		{"/api/verifications", `{"to":"` + nationalUK + `"}`, ""},
		{"/api/verifications", `{"to":"+1415555014"}`, ""},
		{"/api/verifications", `{"to":"` + a + `","channel":"fax"}`, ""},
		{"/api/verifications", `{"to":"` + a + `","extra":"` + a + `"}`, ""},
		{"/api/verifications", `{"to":` + strings.TrimPrefix(a, "+") + `}`, ""},
		{"/api/verifications", `{"to":"` + a + `"} {"to":"` + g + `"}`, ""},
		{"/api/verifications", `{"to":"` + strings.Repeat("4155550142", 500) + `"}`, ""},
		{"/api/verifications/check", `{"to":"` + a + `","code":"12ab56"}`, ""},
		{"/api/verifications/check", `{"to":"` + a + `","code":"` + a1 + `0"}`, ""},
		{"/api/verifications/check", `{"to":"4155550142","code":"` + a1 + `"}`, ""},
		{"/api/verifications/check", `{"to":"` + a + `","code":"` + a1 + `"}`, "text/plain"},
		{"/api/totp/verify", `{"enrollment":"` + a + `","code":"` + a1 + `"}`, ""},
	} {
		ct := bad.ctype
		if ct == "" {
			ct = "application/json"
		}
		resp, err := c.Post(dev.URL+bad.path, ct, strings.NewReader(bad.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("bad input %s %s = %d, want a 4xx", bad.path, bad.body, resp.StatusCode)
		}
	}
	if resp, err := c.Get(dev.URL + "/api/verifications?to=" + strings.TrimPrefix(a, "+")); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", resp.StatusCode)
	}

	// A Plivo failure, then the same number served.
	before := fake.RequestCount()
	fake.Fail(plivotest.ServerError)
	start(plivo.URL, g, sender.SMS, http.StatusBadGateway)
	fake.Fail(plivotest.None)
	for _, rq := range fake.Requests()[before:] {
		if code := codeInBody(rq.Body); code != "" {
			sentCodes = append(sentCodes, code)
			check(plivo.URL, g, code, http.StatusNotFound)
		}
	}
	start(plivo.URL, g, sender.SMS, http.StatusAccepted)
	gm, _ := fake.LastMessage(g)
	sentCodes = append(sentCodes, gm.Code)
	// Plivo reports that SMS undelivered: the status callback logs it.
	req, err := plivotest.StatusRequest(gm, "undelivered", "30")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := plivotest.Serve(plivoHandler, req)
	if cb.StatusCode != http.StatusOK {
		t.Fatalf("status callback = %d", cb.StatusCode)
	}
	check(plivo.URL, g, gm.Code, http.StatusOK)
	// A call through the development sender.
	start(dev.URL, k, sender.Call, http.StatusAccepted)
	check(dev.URL, k, lastDevCode(k), http.StatusOK)

	// The TOTP tab.
	r := step(dev.URL, "/api/totp/enroll", `{}`, http.StatusCreated)
	enrolled := r.json()
	key, err := totp.ParseURI(enrolled["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	id := enrolled["enrollment"].(string)
	now, err := key.Code(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	typedCodes = append(typedCodes, now)
	step(dev.URL, "/api/totp/verify", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, wrongCode(now)), http.StatusUnprocessableEntity)
	verified := step(dev.URL, "/api/totp/verify", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, now), http.StatusOK).json()
	step(dev.URL, "/api/totp/verify", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, now), http.StatusConflict)
	// The recovery codes that first approval returned: shown once in that
	// reply, nowhere else; one is redeemed.
	var recoveryCodes []secretForm
	rcs, _ := verified["recovery_codes"].([]any)
	for _, c := range rcs {
		c := c.(string)
		recoveryCodes = append(recoveryCodes, secretForm{"a recovery code", c}, secretForm{"a recovery code", strings.ReplaceAll(c, "-", "")})
	}
	if len(recoveryCodes) == 0 {
		t.Fatal("no recovery codes in the first approval: the search for them would prove nothing")
	}
	step(dev.URL, "/api/totp/recover", fmt.Sprintf(`{"enrollment":%q,"code":%q}`, id, rcs[0]), http.StatusOK)

	// Error strings of direct Verifier calls, with the library's own slog
	// observer writing to the same stream.
	v, err := otp.NewVerifier(otp.Config{Store: devCfg.Store, Sender: plivoCfg.Sender, Secret: secret, Policy: policy, Observer: otp.SlogObserver(log)})
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	keep := func(err error) {
		if err == nil {
			t.Error("a bad call gave no error")
			return
		}
		errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	_, err = v.Start(t.Context(), "4155550142", sender.SMS)
	keep(err)
	_, err = v.Start(t.Context(), nationalUK, sender.SMS)
	keep(err)
	_, err = v.Check(t.Context(), a, a1+"x")
	keep(err)
	for _, f := range []plivotest.Failure{plivotest.BadRequest, plivotest.ServerError, plivotest.GarbageJSON} {
		before := fake.RequestCount()
		fake.Fail(f)
		_, err = v.Start(t.Context(), k, sender.SMS)
		fake.Fail(plivotest.None)
		keep(err)
		for _, rq := range fake.Requests()[before:] {
			if code := codeInBody(rq.Body); code != "" {
				sentCodes = append(sentCodes, code)
			}
		}
	}
	res, err := v.Check(t.Context(), k, "123456")
	if err != nil || res.Status != otp.Expired {
		t.Errorf("check after failed sends = %+v, %v; want expired", res, err)
	}

	// Sort the captured text into what the user expects to see codes and
	// numbers in, and everything else.
	var devOut, rest []byte
	for _, line := range strings.SplitAfter(stderr.String(), "\n") {
		if strings.HasPrefix(line, "go2fa[dev] ") {
			devOut = append(devOut, line...)
		} else {
			rest = append(rest, line...)
		}
	}
	places := map[string][][]byte{"log": {rest}}
	capture.mu.Lock()
	places["HTTP reply"] = capture.replies
	echoes := capture.echoes
	capture.mu.Unlock()
	places["status callback reply"] = [][]byte{[]byte(cb.Body)}
	for _, e := range errs {
		places["error string"] = append(places["error string"], []byte(e))
	}
	places["Redis"] = b.dump(t)

	// Not vacuous: the places hold what a run produces, and the sender's
	// output holds every code it sent.
	for _, want := range []struct{ place, text string }{
		{"log", "otphttp: request failed"},
		{"log", "otp: send failed"},
		{"log", "webdemo: sms not delivered"},
		{"log", "event=send_failed"},
		{"HTTP reply", `"status":"locked"`},
		{"HTTP reply", `"code":"rate_limited"`},
		{"HTTP reply", `"code":"invalid_number"`},
		{"HTTP reply", `"code":"send_failed"`},
		{"HTTP reply", "Content-Security-Policy"},
		{"error string", "otp: invalid phone number"},
		{"error string", "plivo answered 500"},
	} {
		if !bytes.Contains(bytes.Join(places[want.place], nil), []byte(want.text)) {
			t.Errorf("the %s lacks %q: the capture is incomplete", want.place, want.text)
		}
	}
	if len(places["Redis"]) < 4 {
		t.Errorf("Redis holds only %d keys and values", len(places["Redis"]))
	}
	for _, code := range []string{a1, a5} {
		if !containsToken(devOut, code) {
			t.Errorf("the development sender's output lacks the code %s it sent", code)
		}
	}
	if gm.Code == "" || !strings.Contains(gm.Text, gm.Code) {
		t.Errorf("the fake Plivo recorded no SMS with the code: %+v", gm)
	}
	if len(echoes) == 0 {
		t.Error("no start reply echoed its number")
	}
	for _, e := range echoes {
		found := false
		for _, n := range numbers {
			found = found || e == n
		}
		if !found {
			t.Errorf("a start reply echoed %q, which its client did not send", e)
		}
	}

	// The search.
	var forbidden []secretForm
	for _, s := range []string{
		string(secret), hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret),
		base32.StdEncoding.EncodeToString(secret),
	} {
		forbidden = append(forbidden, secretForm{"the secret", s})
	}
	// The TOTP key is the user's secret too: shown once in the enroll
	// reply (expected), never logged or stored in Redis.
	totpKey := []secretForm{{"the TOTP key", string(key.Secret)}, {"the TOTP key", key.Base32()}, {"the TOTP key", hex.EncodeToString(key.Secret)}}
	var tokens []secretForm
	seenCode := map[string]bool{}
	for _, code := range append(append([]string{}, sentCodes...), typedCodes...) {
		if !seenCode[code] {
			seenCode[code] = true
			tokens = append(tokens, secretForm{"a code", code})
		}
	}
	for _, n := range numbers {
		for _, f := range numberForms(n) {
			tokens = append(tokens, secretForm{"a number", f})
		}
	}
	tokens = append(tokens, secretForm{"a number", nationalUK}, secretForm{"a number", strings.TrimPrefix(nationalUK, "0")})
	leaks := 0
	for place, texts := range places {
		for _, text := range texts {
			found := func(f secretForm, hit bool) {
				if hit && leaks < 20 {
					leaks++
					t.Errorf("%s holds %s (%q): %.300q", place, f.what, f.text, text)
				}
			}
			for _, f := range forbidden {
				found(f, bytes.Contains(text, []byte(f.text)))
			}
			// The enroll reply shows the key, once; nothing else may.
			if enrollReply := place == "HTTP reply" && bytes.Contains(text, []byte(`"uri":"otpauth://`)); !enrollReply {
				for _, f := range totpKey {
					found(f, bytes.Contains(text, []byte(f.text)))
				}
			}
			for _, f := range tokens {
				found(f, containsToken(text, f.text))
			}
			if recoveryReply := place == "HTTP reply" && bytes.Contains(text, []byte(`"recovery_codes":`)); !recoveryReply {
				for _, f := range recoveryCodes {
					found(f, bytes.Contains(text, []byte(f.text)))
				}
			}
		}
	}
	if testing.Verbose() {
		t.Logf("log:\n%s", rest)
	}
	t.Logf("searched %d log bytes, %d HTTP replies, %d error strings, %d Redis keys and values for %d codes and %d numbers",
		len(rest), len(places["HTTP reply"]), len(errs), len(places["Redis"]), len(seenCode), len(numbers)+1)
}
