package plivoadapter

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go2fa/go2fa/sender"
	plivo "github.com/plivo/plivo-go/v7"
)

// DefaultTokenTTL is how long a call's answer URL stays usable: long
// enough for the phone to ring and be picked up, short enough that a leaked
// URL is soon worthless.
const DefaultTokenTTL = 3 * time.Minute

// TokenParam is the query parameter of the answer URL that carries the
// one-time token.
const TokenParam = "token"

// VoiceOptions configures the direct voice sender. NewVoice copies it; the
// Tokens and Nonces stores, Rand and Now are then used from any goroutine
// and must be safe for concurrent use (crypto/rand.Reader and time.Now
// are).
type VoiceOptions struct {
	// AnswerURL is the public URL at which Plivo reaches AnswerHandler,
	// for example "https://example.com/plivo/answer". Required. Plivo
	// fetches it when the callee picks up, so it must be reachable from the
	// internet (behind a proxy, give the URL as Plivo sees it: the
	// signature covers it). Each call adds "token=<one-time token>".
	AnswerURL string
	// TokenTTL is how long an answer URL stays usable. The default value is
	// DefaultTokenTTL.
	TokenTTL time.Duration
	// Tokens keeps the prompts of calls in progress. The default value is
	// NewMemoryTokens(DefaultMaxTokens, Now): right for one process; use a
	// shared store when several instances serve the answer URL.
	Tokens TokenStore
	// Language is the <Speak> language when the Message has no Locale or
	// one Plivo does not offer. The default value is "en-US".
	Language string
	// NonceWindow is how long callback nonces are remembered to refuse
	// replays. The default value is DefaultNonceWindow.
	NonceWindow time.Duration
	// Nonces remembers the nonces of answer requests already accepted. The
	// default value is NewMemoryNonces(DefaultMaxNonces, Now): right for one
	// process, but a captured request can then be replayed after a restart
	// or to another instance; several instances should share one
	// NonceStore (for example on Redis with SET NX PX), as they share
	// Tokens. A store error refuses the request (403).
	Nonces NonceStore
	// Rand is the source of tokens. The default value is crypto/rand.Reader.
	Rand io.Reader
	// Now is the clock. The default value is time.Now.
	Now func() time.Time
	// Logger receives one line per refused answer request, never with a
	// code or a full number. The default value is nil (no logs).
	Logger *slog.Logger
}

// Voice reads codes out in a phone call: Send places the call with
// Calls.Create, and AnswerHandler serves the Plivo XML that speaks the
// digits when the callee picks up. The answer URL carries a one-time,
// short-lived random token, never the code. It is safe for concurrent use.
type Voice struct {
	client   *plivo.Client
	from     string
	answer   *url.URL
	ttl      time.Duration
	tokens   TokenStore
	language string
	rand     io.Reader
	now      func() time.Time
	guard    *callbackGuard
	log      *slog.Logger
}

// NewVoice returns a voice sender for the account in c. It checks c and o
// and returns an error wrapping ErrInvalidConfig.
func NewVoice(c Config, o VoiceOptions) (*Voice, error) {
	if err := c.validate(true, false); err != nil {
		return nil, err
	}
	if o.AnswerURL == "" {
		return nil, fmt.Errorf("%w: AnswerURL is empty", ErrInvalidConfig)
	}
	u, err := publicURL("AnswerURL", o.AnswerURL)
	if err != nil {
		return nil, err
	}
	v := &Voice{from: c.Number, answer: u, ttl: o.TokenTTL, tokens: o.Tokens, rand: o.Rand, now: o.Now, log: o.Logger}
	if v.ttl <= 0 {
		v.ttl = DefaultTokenTTL
	}
	if v.rand == nil {
		v.rand = rand.Reader
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.tokens == nil {
		v.tokens = NewMemoryTokens(DefaultMaxTokens, v.now)
	}
	v.language = "en-US"
	if o.Language != "" {
		l, ok := SpeakLanguage(o.Language)
		if !ok {
			return nil, fmt.Errorf("%w: Plivo does not speak %q", ErrInvalidConfig, o.Language)
		}
		v.language = l
	}
	cl, err := plivo.NewClient(c.AuthID, c.AuthToken, &plivo.ClientOptions{HttpClient: httpClient(c.HTTPClient)})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	v.client = cl
	nonces, window := o.Nonces, o.NonceWindow
	if nonces == nil {
		nonces = NewMemoryNonces(DefaultMaxNonces, v.now)
	}
	if window <= 0 {
		window = DefaultNonceWindow
	}
	v.guard = &callbackGuard{authToken: c.AuthToken, public: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}, nonces: nonces, window: window}
	return v, nil
}

// Send places a call to m.To from the configured number: a POST to
// /v1/Account/{auth_id}/Call/ (re-hosted by plivo-go as a voice request),
// built and executed by plivo-go as Calls.Create does, with ctx attached (a
// done ctx calls nobody). The answer URL carries a fresh token whose prompt
// waits in the TokenStore; if the call cannot be placed, the token is
// deleted. An SMS message fails with sender.ErrUnsupportedChannel.
//
// A request that Plivo answers with a 5xx is retried at once, up to twice
// more, as plivo-go would; Send makes those retries itself so that each one
// carries ctx too: a done ctx stops the retries, and ctx's deadline bounds
// the whole Send. If a retry succeeds, Send succeeds; if every try gets a
// 5xx, the last one's *Error is returned. Timeouts and connection failures
// are not retried.
func (v *Voice) Send(ctx context.Context, m sender.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Channel != sender.Call {
		return fmt.Errorf("plivoadapter: voice sender: %w: %s", sender.ErrUnsupportedChannel, m.Channel)
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "send call", Err: err, temporary: true}
	}
	lang := v.language
	if l, ok := SpeakLanguage(m.Locale); ok {
		lang = l
	}
	tok, err := newToken(v.rand)
	if err != nil {
		return &Error{Op: "send call", Err: err, temporary: true}
	}
	if err := v.tokens.Put(ctx, tok, Prompt{Code: m.Code, Language: lang}, v.now().Add(v.ttl)); err != nil {
		return &Error{Op: "send call", Err: fmt.Errorf("save call token: %w", err), temporary: true}
	}
	answer := *v.answer
	if answer.RawQuery != "" {
		answer.RawQuery += "&"
	}
	answer.RawQuery += TokenParam + "=" + tok
	p := plivo.CallCreateParams{From: v.from, To: m.To, AnswerURL: answer.String(), AnswerMethod: http.MethodPost}
	if err := v.call(ctx, p); err != nil {
		_ = v.tokens.Delete(context.WithoutCancel(ctx), tok)
		return err
	}
	return nil
}

// voiceAttempts is how many times Send tries a call that Plivo answers
// with a 5xx: plivo-go's own count (a first try and two retries).
const voiceAttempts = 3

// call is plivo-go's Calls.Create, split so that every request carries ctx,
// with plivo-go's 5xx retries done here. plivo-go retries a voice request
// that gets a 5xx by itself, but builds the retry with http.NewRequest: it
// carries neither ctx nor the status capture, so only the client's Timeout
// would bound it. Passing "retry": 2 makes plivo-go treat each request as
// its last try (it re-hosts it to its last voice fallback host, which is
// api.plivo.com in plivo-go v7.60.2 like the other two, and never retries
// it); the loop below then retries through do, checking ctx first.
func (v *Voice) call(ctx context.Context, p plivo.CallCreateParams) error {
	var err error
	for attempt := 0; attempt < voiceAttempts; attempt++ {
		req, rerr := v.client.NewRequest(http.MethodPost, p, "Call")
		if rerr != nil {
			return &Error{Op: "send call", Err: rerr}
		}
		var out plivo.CallCreateResponse
		var status int
		// A fresh map per try: plivo-go writes to it.
		status, err = do(ctx, v.client, "send call", req, &out, map[string]interface{}{"is_voice_request": true, "retry": 2})
		switch {
		case err == nil && !hasUUID(out.RequestUUID):
			return &Error{Op: "send call", StatusCode: status, APIID: cleanAPIID(out.ApiID), Message: "answer without request_uuid", temporary: true}
		case err == nil:
			return nil
		case status < 500:
			return err // a 4xx, or no answer (timeout, ctx done): not retried
		}
	}
	return err
}

func hasUUID(v any) bool {
	switch u := v.(type) {
	case string:
		return u != ""
	case []any:
		return len(u) > 0
	}
	return false
}

var _ sender.Sender = (*Voice)(nil)

// AnswerHandler returns the handler for the calls' answer URL; mount it
// where VoiceOptions.AnswerURL points (any path prefix stripping is fine:
// the signature is checked against AnswerURL). It verifies
// X-Plivo-Signature-V3 (403 if missing, forged, tampered or replayed, or
// if the NonceStore fails), then takes the token: an unknown, used or expired token gets 404 and
// nothing is spoken. Otherwise it answers Plivo XML that speaks the digits
// one at a time, twice.
func (v *Voice) AnswerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok, why := v.guard.check(w, r); !ok {
			v.logf(r.Context(), "plivoadapter: refused answer request: "+why)
			return
		}
		tok := r.URL.Query().Get(TokenParam)
		if tok == "" {
			http.NotFound(w, r)
			return
		}
		p, found, err := v.tokens.Take(r.Context(), tok)
		switch {
		case err != nil:
			v.logf(r.Context(), "plivoadapter: token store failed")
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		case !found:
			v.logf(r.Context(), "plivoadapter: refused answer request: unknown, used or expired token")
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, AnswerXML(p))
	})
}

func (v *Voice) logf(ctx context.Context, msg string) {
	if v.log != nil {
		v.log.LogAttrs(ctx, slog.LevelWarn, msg)
	}
}

// AnswerXML returns the Plivo XML that reads p's code: an introduction in
// p.Language where this package knows one, the digits one at a time
// separated by pauses, a short wait, the digits again, and a hang-up.
func AnswerXML(p Prompt) string {
	lang, ok := SpeakLanguage(p.Language)
	if !ok {
		lang = "en-US"
	}
	voice := "WOMAN"
	if manOnly[lang] {
		voice = "MAN"
	}
	ph := phrases[strings.SplitN(lang, "-", 2)[0]]
	digits := make([]string, 0, len(p.Code))
	for _, d := range p.Code {
		if d >= '0' && d <= '9' {
			digits = append(digits, string(d))
		}
	}
	spoken := strings.Join(digits, ", ") + "."
	var b strings.Builder
	speak := func(text string) {
		fmt.Fprintf(&b, `<Speak voice="%s" language="%s">`, voice, lang)
		_ = xmlEscape(&b, text)
		b.WriteString("</Speak>")
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response>")
	for i, intro := range []string{ph.first, ph.again} {
		if i > 0 {
			b.WriteString(`<Wait length="2"></Wait>`)
		}
		if intro != "" {
			speak(intro)
			b.WriteString(`<Wait length="1"></Wait>`)
		}
		speak(spoken)
	}
	if ph.bye != "" {
		b.WriteString(`<Wait length="1"></Wait>`)
		speak(ph.bye)
	}
	b.WriteString("<Hangup></Hangup></Response>\n")
	return b.String()
}
