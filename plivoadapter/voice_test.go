package plivoadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

const answerURL = "https://example.com/plivo/answer"

// newVoice is a voice sender on srv answering at answerURL, with opts.
func newVoice(t *testing.T, srv *plivotest.Server, opts ...plivoadapter.Option) *plivoadapter.Voice {
	t.Helper()
	v, err := plivoadapter.NewVoice(config(srv), answerURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// answerWith plays Plivo fetching c's answer URL from h, signed V3 with
// nonce.
func answerWith(t *testing.T, h http.Handler, c plivotest.Call, nonce string) plivotest.Answer {
	t.Helper()
	r, err := plivotest.SignedRequestWith(plivotest.AuthToken, nonce, http.MethodPost, c.AnswerURL, plivotest.AnswerParams(c))
	if err != nil {
		t.Fatalf("building an answer request: %v", err)
	}
	a, _ := plivotest.Serve(h, r)
	return a
}

// placeCall sends one call with v and returns the fake's record of it.
func placeCall(t *testing.T, srv *plivotest.Server, v *plivoadapter.Voice) plivotest.Call {
	t.Helper()
	if err := v.Send(context.Background(), callMsg()); err != nil {
		t.Fatal(err)
	}
	c, _ := srv.LastCall(dest)
	return c
}

// placeCalls sends n calls with v and returns the fake's records of all
// its calls.
func placeCalls(t *testing.T, srv *plivotest.Server, v *plivoadapter.Voice, n int) []plivotest.Call {
	t.Helper()
	for range n {
		if err := v.Send(context.Background(), callMsg()); err != nil {
			t.Fatal(err)
		}
	}
	return srv.Calls()
}

func TestVoiceRequest(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	if err := v.Send(context.Background(), callMsg()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := onlyRequest(t, srv, "api.plivo.com", "/v1/Account/"+plivotest.AuthID+"/Call/")
	body := jsonBody(t, r.Body)
	au, _ := body["answer_url"].(string)
	u, err := url.Parse(au)
	if err != nil {
		t.Fatalf("answer_url %q: %v", au, err)
	}
	tok := u.Query().Get(plivoadapter.TokenParam)
	if len(tok) < 43 {
		t.Errorf("token %q is shorter than 32 random bytes", tok)
	}
	if strings.Contains(au, code) {
		t.Errorf("answer_url %q carries the code", au)
	}
	want := map[string]any{"from": plivotest.Number, "to": dest, "answer_url": answerURL + "?token=" + tok, "answer_method": "POST",
		"machine_detection": "hangup", "time_limit": float64(120)}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v\nwant %v", body, want)
	}
}

func TestVoiceTokensAreFresh(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		if err := v.Send(context.Background(), callMsg()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range srv.Calls() {
		if seen[c.AnswerURL] {
			t.Fatalf("answer URL %q used twice", c.AnswerURL)
		}
		seen[c.AnswerURL] = true
	}
}

func TestVoiceAnswerSpeaksDigitsTwice(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	tests := []struct {
		locale, lang, intro string
	}{
		{"", "en-US", "Your verification code is"},
		{"en-GB", "en-GB", "Your verification code is"},
		{"de_AT", "de-DE", "Ihr Bestätigungscode lautet"},
		{"fr-CA", "fr-CA", "Votre code de vérification est"},
		{"ja", "ja-JP", ""},
		{"xx-YY", "en-US", "Your verification code is"},
	}
	for _, tt := range tests {
		m := callMsg()
		m.Locale = tt.locale
		if err := v.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		c, _ := srv.LastCall(dest)
		a, err := plivotest.PlayAnswer(v.AnswerHandler(), c)
		if err != nil {
			t.Fatal(err)
		}
		if a.StatusCode != http.StatusOK {
			t.Fatalf("%q: answer status = %d, body %q", tt.locale, a.StatusCode, a.Body)
		}
		if got := a.Digits(); !reflect.DeepEqual(got, []string{code, code}) {
			t.Errorf("%q: spoken digits = %q, want the code twice", tt.locale, got)
		}
		if want := "4, 9, 3, 8, 1, 7."; !strings.Contains(a.Body, want) {
			t.Errorf("%q: body does not speak the digits one by one (%q): %s", tt.locale, want, a.Body)
		}
		if !strings.Contains(a.Body, `language="`+tt.lang+`"`) {
			t.Errorf("%q: body not in %s: %s", tt.locale, tt.lang, a.Body)
		}
		if tt.intro != "" && (len(a.Speak) == 0 || a.Speak[0] != tt.intro) {
			t.Errorf("%q: first speak = %q, want %q", tt.locale, a.Speak, tt.intro)
		}
		if !strings.Contains(a.Body, "<Wait") {
			t.Errorf("%q: no pause between repetitions: %s", tt.locale, a.Body)
		}
	}
}

// Plivo fetches answer_url again when it did not get valid XML in time:
// a signed re-fetch for the same call within the grace gets the same XML;
// another call's fetch, or one after the grace, gets 404 and nothing.
func TestVoiceAnswerRetryGrace(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	clk := testclock.New()
	v := newVoice(t, srv, plivoadapter.WithClock(clk.Now), plivoadapter.WithAnswerGrace(30*time.Second))
	c := placeCall(t, srv, v)
	first, _ := plivotest.PlayAnswer(v.AnswerHandler(), c)
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first answer = %d", first.StatusCode)
	}
	clk.Advance(29 * time.Second)
	retry, _ := plivotest.PlayAnswer(v.AnswerHandler(), c)
	if retry.StatusCode != http.StatusOK || retry.Body != first.Body {
		t.Errorf("retry within the grace: status = %d, same XML %v; want 200 and the same XML", retry.StatusCode, retry.Body == first.Body)
	}
	other := c
	other.CallUUID = "0d5c1f0e-another-call"
	if a, _ := plivotest.PlayAnswer(v.AnswerHandler(), other); a.StatusCode != http.StatusNotFound || strings.Contains(a.Body, "4, 9") {
		t.Errorf("another call with the token: status = %d, body %q; want 404", a.StatusCode, a.Body)
	}
	clk.Advance(time.Second)
	if a, _ := plivotest.PlayAnswer(v.AnswerHandler(), c); a.StatusCode != http.StatusNotFound || len(a.Speak) != 0 {
		t.Errorf("retry after the grace: status = %d, body %q; want 404 and nothing spoken", a.StatusCode, a.Body)
	}
	// An answer request without CallUUID is refused and spends nothing,
	// not even its nonce.
	c = placeCall(t, srv, v)
	params := plivotest.AnswerParams(c)
	params.Del("CallUUID")
	nonce := plivotest.Nonce()
	r := ok(t)(plivotest.SignedRequestWith(plivotest.AuthToken, nonce, http.MethodPost, c.AnswerURL, params))
	if a, _ := plivotest.Serve(v.AnswerHandler(), r); a.StatusCode != http.StatusBadRequest {
		t.Errorf("no CallUUID: status = %d, want 400", a.StatusCode)
	}
	if a := answerWith(t, v.AnswerHandler(), c, nonce); a.StatusCode != http.StatusOK {
		t.Errorf("genuine answer after the refused one: status = %d, want 200", a.StatusCode)
	}
}

// Of concurrent answers for one token from different calls, exactly one
// is served.
func TestVoiceTokenConcurrentAnswersServeOnce(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	c := placeCall(t, srv, v)
	h := v.AnswerHandler()
	ok := concurrently(16, func(i int) bool {
		ci := c
		ci.CallUUID = fmt.Sprintf("call-%02d", i)
		a, _ := plivotest.PlayAnswer(h, ci)
		return a.StatusCode == http.StatusOK
	})
	if ok != 1 {
		t.Errorf("answers served = %d, want exactly 1", ok)
	}
}

func TestVoiceTokenExpires(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	clk := testclock.New()
	v := newVoice(t, srv, plivoadapter.WithTokenTTL(time.Minute), plivoadapter.WithClock(clk.Now))
	c := placeCall(t, srv, v)
	clk.Advance(time.Minute)
	a, _ := plivotest.PlayAnswer(v.AnswerHandler(), c)
	if a.StatusCode != http.StatusNotFound || len(a.Speak) != 0 {
		t.Errorf("expired token: status = %d, body %q; want 404 and nothing spoken", a.StatusCode, a.Body)
	}
	// Just before expiry it still works.
	c = placeCall(t, srv, v)
	clk.Advance(time.Minute - time.Nanosecond)
	if a, _ := plivotest.PlayAnswer(v.AnswerHandler(), c); a.StatusCode != http.StatusOK {
		t.Errorf("live token: status = %d, want 200", a.StatusCode)
	}
}

func TestVoiceAnswerSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		build func(c plivotest.Call) *http.Request
		want  int
	}{
		{"missing signature", func(c plivotest.Call) *http.Request {
			r := ok(t)(plivotest.AnswerRequest(c))
			r.Header.Del(plivoadapter.HeaderSignatureV3)
			return r
		}, http.StatusForbidden},
		{"forged", func(c plivotest.Call) *http.Request {
			r := ok(t)(plivotest.SignedRequestWith("guessed-token", plivotest.Nonce(), http.MethodPost, c.AnswerURL, plivotest.AnswerParams(c)))
			return r
		}, http.StatusForbidden},
		{"tampered param", func(c plivotest.Call) *http.Request {
			r := ok(t)(plivotest.AnswerRequest(c))
			c.To = "+14155559999"
			r2 := ok(t)(plivotest.SignedRequest(http.MethodPost, c.AnswerURL, plivotest.AnswerParams(c)))
			r2.Header = r.Header
			return r2
		}, http.StatusForbidden},
		{"tampered token", func(c plivotest.Call) *http.Request {
			r := ok(t)(plivotest.AnswerRequest(c))
			r.URL.RawQuery = "token=AAAA"
			return r
		}, http.StatusForbidden},
	}
	for _, tt := range tests {
		srv := fake(t)
		v := newVoice(t, srv)
		c := placeCall(t, srv, v)
		a, _ := plivotest.Serve(v.AnswerHandler(), tt.build(c))
		if a.StatusCode != tt.want || len(a.Speak) != 0 {
			t.Errorf("%s: status = %d, body %q; want %d and nothing spoken", tt.name, a.StatusCode, a.Body, tt.want)
		}
		// Nothing changed: the genuine answer still works once.
		if a, _ := plivotest.PlayAnswer(v.AnswerHandler(), c); a.StatusCode != http.StatusOK {
			t.Errorf("%s: genuine answer after refused one = %d, want 200", tt.name, a.StatusCode)
		}
	}
}

func TestVoiceAnswerNonceReplay(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	calls := placeCalls(t, srv, v, 2)
	nonce := plivotest.Nonce()
	if a := answerWith(t, v.AnswerHandler(), calls[0], nonce); a.StatusCode != http.StatusOK {
		t.Fatalf("first: %d", a.StatusCode)
	}
	// The same signed request again, byte for byte.
	if a := answerWith(t, v.AnswerHandler(), calls[0], nonce); a.StatusCode != http.StatusForbidden {
		t.Errorf("replayed request: status = %d, want 403", a.StatusCode)
	}
	// A replayed nonce is refused even for another (valid) token, which
	// stays usable.
	if a := answerWith(t, v.AnswerHandler(), calls[1], nonce); a.StatusCode != http.StatusForbidden {
		t.Errorf("replayed nonce: status = %d, want 403", a.StatusCode)
	}
	if a, _ := plivotest.PlayAnswer(v.AnswerHandler(), calls[1]); a.StatusCode != http.StatusOK {
		t.Errorf("second call: status = %d, want 200", a.StatusCode)
	}
}

func TestVoiceFailedCallDropsToken(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	tokens := plivoadapter.NewMemoryTokens()
	v := newVoice(t, srv, plivoadapter.WithTokens(tokens))
	srv.Fail(plivotest.BadRequest)
	if err := v.Send(context.Background(), callMsg()); !errors.Is(err, plivoadapter.ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
	if n := tokens.Len(); n != 0 {
		t.Errorf("tokens after failed call = %d, want 0", n)
	}
}

func TestVoiceRefusesBadInput(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	if err := v.Send(context.Background(), smsMsg()); !errors.Is(err, sender.ErrUnsupportedChannel) {
		t.Errorf("sms message: err = %v, want ErrUnsupportedChannel", err)
	}
	if err := v.Send(context.Background(), sender.Message{To: "14155550100", Channel: sender.Call, Code: code}); !errors.Is(err, sender.ErrInvalidMessage) {
		t.Errorf("bad number: err = %v, want ErrInvalidMessage", err)
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
	for _, tc := range []struct {
		answer string
		opts   []plivoadapter.Option
	}{
		{"", nil},
		{"/plivo/answer", nil},
		{"ftp://example.com/a", nil},
		{answerURL, []plivoadapter.Option{plivoadapter.WithLanguage("tlh")}},
	} {
		if _, err := plivoadapter.NewVoice(config(srv), tc.answer, tc.opts...); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
			t.Errorf("NewVoice(%q, %d options) err = %v, want ErrInvalidConfig", tc.answer, len(tc.opts), err)
		}
	}
	c := config(srv)
	c.Number = "Acme"
	if _, err := plivoadapter.NewVoice(c, answerURL); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("sender id as caller: err = %v, want ErrInvalidConfig", err)
	}
}

func TestVoiceAnswerURLWithQuery(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v, err := plivoadapter.NewVoice(config(srv), "https://example.com:8443/2fa/answer?app=demo")
	if err != nil {
		t.Fatal(err)
	}
	c := placeCall(t, srv, v)
	if !strings.HasPrefix(c.AnswerURL, "https://example.com:8443/2fa/answer?app=demo&token=") {
		t.Errorf("answer URL = %q", c.AnswerURL)
	}
	if a, _ := plivotest.PlayAnswer(v.AnswerHandler(), c); a.StatusCode != http.StatusOK {
		t.Errorf("answer = %d, want 200", a.StatusCode)
	}
}

func TestMemoryTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testclock.New()
	s := plivoadapter.NewMemoryTokens(plivoadapter.WithCapacity(2), plivoadapter.WithStoreClock(clk.Now))
	p := plivoadapter.Prompt{Code: code, Language: "en-US"}
	if err := s.Put(ctx, "a", p, clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "b", p, clk.Now().Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "c", p, clk.Now().Add(time.Minute)); !errors.Is(err, plivoadapter.ErrTokenStoreFull) {
		t.Errorf("third put = %v, want ErrTokenStoreFull", err)
	}
	clk.Advance(time.Minute) // "a" expires and is swept for "c"
	if err := s.Put(ctx, "c", p, clk.Now().Add(time.Minute)); err != nil {
		t.Errorf("put after expiry = %v", err)
	}
	if _, found, _ := s.Take(ctx, "a"); found {
		t.Error("expired token found")
	}
	if got, found, _ := s.Take(ctx, "b"); !found || got != p {
		t.Errorf("Take(b) = %v, %v", got, found)
	}
	if _, found, _ := s.Take(ctx, "b"); found {
		t.Error("token taken twice")
	}
	if err := s.Delete(ctx, "c"); err != nil || s.Len() != 0 {
		t.Errorf("Delete: %v, Len %d", err, s.Len())
	}
	if strings.Contains(p.String(), code) || strings.Contains(p.GoString(), code) {
		t.Errorf("Prompt prints its code: %s", p)
	}
}

func TestSpeakLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"en-US", "en-US", true}, {"en", "en-US", true}, {"EN-gb", "en-GB", true},
		{"de", "de-DE", true}, {"de-CH", "de-DE", true}, {"pt_BR", "pt-BR", true},
		{"pt-PT", "pt-PT", true}, {"zh-Hans-CN", "cmn-CN", true}, {"es-US", "es-US", true},
		{"", "", false}, {"xx", "", false}, {"tlh-QO", "", false},
	}
	for _, tt := range tests {
		got, ok := plivoadapter.SpeakLanguage(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SpeakLanguage(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVoiceTokenStoreFullPlacesNoCall(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv, plivoadapter.WithTokens(plivoadapter.NewMemoryTokens(plivoadapter.WithCapacity(1))))
	if err := v.Send(context.Background(), callMsg()); err != nil {
		t.Fatal(err)
	}
	err := v.Send(context.Background(), callMsg())
	if !errors.Is(err, plivoadapter.ErrTokenStoreFull) || !errors.Is(err, plivoadapter.ErrTransient) {
		t.Errorf("err = %v, want ErrTokenStoreFull, transient", err)
	}
	if n := len(srv.Calls()); n != 1 {
		t.Errorf("calls = %d, want 1", n)
	}
}
