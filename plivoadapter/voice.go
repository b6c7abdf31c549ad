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
	"unicode"
	"unicode/utf8"

	"github.com/go2fa/go2fa/internal/ascii"
	"github.com/go2fa/go2fa/sender"
	plivo "github.com/plivo/plivo-go/v7"
)

// DefaultTokenTTL is how long a call's answer URL stays usable: long
// enough for the phone to ring and be picked up, short enough that a leaked
// URL is soon worthless.
const DefaultTokenTTL = 3 * time.Minute

// DefaultAnswerGrace is how long after the first fetch of a call's answer
// URL a signed re-fetch for the same call still gets the same XML: Plivo
// fetches answer_url again, up to three tries within 60 seconds, when it
// did not get valid XML in time.
const DefaultAnswerGrace = 60 * time.Second

// DefaultTimeLimit is the longest a code call may last once answered.
const DefaultTimeLimit = 2 * time.Minute

// Values of WithMachineDetection.
const (
	// MachineHangup hangs up when an answering machine picks up, so the
	// code is not left on voicemail (Plivo's machine_detection=hangup).
	MachineHangup = "hangup"
	// MachineDetect detects machines but lets the call go on
	// (machine_detection=true).
	MachineDetect = "true"
	// MachineOff does not ask Plivo to detect machines.
	MachineOff = "off"
)

// TokenParam is the query parameter of the answer URL that carries the
// one-time token.
const TokenParam = "token"

// Voice reads codes out in a phone call: Send places the call with
// Calls.Create, and AnswerHandler serves the Plivo XML that speaks the
// digits when the callee picks up. The answer URL carries a one-time,
// short-lived random token, never the code. It is safe for concurrent use.
type Voice struct {
	client   *plivo.Client
	api      api
	grace    time.Duration
	machine  string
	limit    int64
	caller   string
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

// NewVoice returns a voice sender for the account in c. answerURL is the
// public URL at which Plivo reaches AnswerHandler, for example
// "https://example.com/plivo/answer". Plivo fetches it when the callee
// picks up, so it must be reachable from the internet (behind a proxy,
// give the URL as Plivo sees it: the signature covers it); each call adds
// "token=<one-time token>".
//
// NewVoice accepts WithTokenTTL, WithTokens, WithAnswerGrace,
// WithMachineDetection, WithTimeLimit, WithCallerName, WithLanguage,
// WithNonces, WithNonceWindow, WithRand, WithClock and WithLogger; the
// stores, Rand and clock they give are then used from any goroutine. It
// checks c, answerURL and opts and returns an error wrapping
// ErrInvalidConfig that names the bad setting.
func NewVoice(c Config, answerURL string, opts ...Option) (*Voice, error) {
	o, err := collect("NewVoice", voiceOptions, opts)
	if err != nil {
		return nil, err
	}
	if err := c.validate(true, false); err != nil {
		return nil, err
	}
	if answerURL == "" {
		return nil, fmt.Errorf("%w: answer URL is empty", ErrInvalidConfig)
	}
	u, err := publicURL("answer URL", answerURL)
	if err != nil {
		return nil, err
	}
	v := &Voice{from: c.Number, answer: u, rand: rand.Reader, log: o.logger, language: "en-US", machine: MachineHangup}
	if v.now, err = o.clock(); err != nil {
		return nil, err
	}
	if v.ttl, err = o.positive(optTokenTTL, o.tokenTTL, DefaultTokenTTL); err != nil {
		return nil, err
	}
	if v.grace, err = o.positive(optAnswerGrace, o.answerGrace, DefaultAnswerGrace); err != nil {
		return nil, err
	}
	limit, err := o.positive(optTimeLimit, o.timeLimit, DefaultTimeLimit)
	if err != nil {
		return nil, err
	}
	v.limit = int64((limit + time.Second - 1) / time.Second)
	if o.has(optRand) {
		if o.rand == nil {
			return nil, invalid(optRand, "nil reader")
		}
		v.rand = o.rand
	}
	v.tokens = o.tokens
	if !o.has(optTokens) {
		v.tokens = NewMemoryTokens(WithStoreClock(v.now))
	} else if v.tokens == nil {
		return nil, invalid(optTokens, "nil store")
	}
	if o.has(optLanguage) {
		l, ok := SpeakLanguage(o.language)
		if !ok {
			return nil, invalid(optLanguage, "Plivo does not speak %q", ascii.Truncate(o.language, 16))
		}
		v.language = l
	}
	if o.has(optMachineDetection) {
		switch v.machine = o.machine; v.machine {
		case MachineHangup, MachineDetect, MachineOff:
		default:
			return nil, invalid(optMachineDetection, "must be %q, %q or %q", MachineHangup, MachineDetect, MachineOff)
		}
	}
	if utf8.RuneCountInString(o.callerName) > 50 || strings.ContainsFunc(o.callerName, unicode.IsControl) {
		return nil, invalid(optCallerName, "must be at most 50 printable characters")
	}
	v.caller = o.callerName
	window, err := o.positive(optNonceWindow, o.nonceWindow, DefaultNonceWindow)
	if err != nil {
		return nil, err
	}
	nonces, err := o.nonceStore(v.now)
	if err != nil {
		return nil, err
	}
	if v.client, v.api, err = newRESTClient(c); err != nil {
		return nil, err
	}
	v.guard = &callbackGuard{authToken: c.AuthToken, public: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}, nonces: nonces, window: window}
	return v, nil
}

// Send places a call to m.To from the configured number: exactly one POST
// to /v1/Account/{auth_id}/Call/ on api.plivo.com (or Config.APIURL),
// built by plivo-go as Calls.Create builds it, from Params, with ctx
// attached (a done ctx calls nobody). The answer URL carries a fresh token
// whose prompt waits in the TokenStore; if the call cannot be placed, the
// token is deleted. An SMS message fails with
// sender.ErrUnsupportedChannel. Send never retries: a 5xx is an *Error
// wrapping ErrTransient, and retrying is the caller's choice (a retried
// call request may ring the phone twice).
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
	p := Prompt{Code: m.Code, Language: lang}
	if m.Transaction != nil {
		t := *m.Transaction
		p.Transaction = &t
	}
	// The transaction, like the code, waits in the TokenStore: the answer
	// URL carries the token only.
	if err := v.tokens.Put(ctx, tok, p, v.now().Add(v.ttl)); err != nil {
		return &Error{Op: "send call", Err: fmt.Errorf("save call token: %w", err), temporary: true}
	}
	answer := *v.answer
	if answer.RawQuery != "" {
		answer.RawQuery += "&"
	}
	answer.RawQuery += TokenParam + "=" + tok
	if err := v.call(ctx, v.Params(m.To, answer.String())); err != nil {
		_ = v.tokens.Delete(context.WithoutCancel(ctx), tok)
		return err
	}
	return nil
}

// Params returns the parameters Send gives Plivo's Calls.Create for a
// call to "to" whose answer URL is answerURL: from, to, answer_url,
// answer_method POST, time_limit, machine_detection unless MachineOff,
// and caller_name when set.
func (v *Voice) Params(to, answerURL string) plivo.CallCreateParams {
	p := plivo.CallCreateParams{From: v.from, To: to, AnswerURL: answerURL, AnswerMethod: http.MethodPost, TimeLimit: v.limit, CallerName: v.caller}
	if v.machine != MachineOff {
		p.MachineDetection = v.machine
	}
	return p
}

// call sends the request of plivo-go's Calls.Create once.
func (v *Voice) call(ctx context.Context, p plivo.CallCreateParams) error {
	req, err := v.client.NewRequest(http.MethodPost, p, "Call")
	if err != nil {
		return &Error{Op: "send call", Err: err}
	}
	var out plivo.CallCreateResponse
	status, err := v.api.do(ctx, "send call", req, &out)
	switch {
	case err != nil:
		return err
	case !hasUUID(out.RequestUUID):
		return &Error{Op: "send call", StatusCode: status, APIID: cleanAPIID(out.ApiID), Message: "answer without request_uuid", temporary: true}
	}
	return nil
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

// CarriesTransaction reports whether v shows a Message.Transaction on c:
// true for calls, whose answer speaks the amount and payee before the
// digits.
func (v *Voice) CarriesTransaction(c sender.Channel) bool { return c == sender.Call }

var (
	_ sender.Sender             = (*Voice)(nil)
	_ sender.TransactionCarrier = (*Voice)(nil)
)

// AnswerHandler returns the handler for the calls' answer URL; mount it
// where NewVoice's answerURL points (any path prefix stripping is fine:
// the signature is checked against answerURL). It accepts only
// X-Plivo-Signature-V3 (403 if missing, forged, tampered or replayed, or
// if the NonceStore fails), and needs the call's CallUUID (400 without).
// The first fetch takes the token and answers Plivo XML that speaks the
// digits one at a time, twice; a signed re-fetch of the same URL for the
// same CallUUID within AnswerGrace of it gets the same XML (Plivo retries
// an answer URL whose reply it did not get). An unknown, expired or used
// token, another call's fetch, or a fetch after the grace gets 404 and
// nothing is spoken.
func (v *Voice) AnswerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, nonces, ok, why := v.guard.verify(w, r)
		if !ok {
			v.logf(r.Context(), "plivoadapter: refused answer request: "+why)
			return
		}
		tok, callUUID := r.URL.Query().Get(TokenParam), params["CallUUID"]
		if tok == "" {
			http.NotFound(w, r)
			return
		}
		if callUUID == "" || len(callUUID) > 64 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if ok, why := v.guard.fresh(w, r, nonces); !ok {
			v.logf(r.Context(), "plivoadapter: refused answer request: "+why)
			return
		}
		retryKey := tok + "." + callUUID
		p, found, err := v.tokens.Take(r.Context(), tok)
		if err == nil && found {
			// First fetch: keep the prompt for this call's retries only.
			p.Retry = v.now().Add(v.grace)
			err = v.tokens.Put(context.WithoutCancel(r.Context()), retryKey, p, p.Retry)
		} else if err == nil {
			// A retry: the copy kept for this very call, within the grace.
			p, found, err = v.tokens.Take(r.Context(), retryKey)
			if err == nil && found && v.now().Before(p.Retry) {
				err = v.tokens.Put(context.WithoutCancel(r.Context()), retryKey, p, p.Retry)
			} else {
				found = false
			}
		}
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
// separated by pauses, a short wait, the introduction and the digits
// again, and a hang-up.
//
// With p.Transaction, the introduction both times is the payment: "Your
// code to pay 12 point 5 0 euros to ACME Ltd is" and the digits. The
// amount is written for a text-to-speech voice (the decimal separator as
// a word, each decimal digit alone, the currency named or spelled letter
// by letter); the payee is spoken as given, escaped as XML text, so it
// can add no element or attribute. Every language Plivo has a voice for
// (SpeakLanguage) has a transaction wording; a p.Language without a Plivo
// voice is spoken in English (en-US), prompt and payment alike, so that a
// voice never reads words of another language.
func AnswerXML(p Prompt) string {
	lang, ok := SpeakLanguage(p.Language)
	if !ok {
		lang = "en-US"
	}
	base := strings.SplitN(lang, "-", 2)[0]
	pay, hasPay := payments[base]
	if p.Transaction != nil && !hasPay {
		lang, base, pay = "en-US", "en", payments["en"]
	}
	voice := "WOMAN"
	if manOnly[lang] {
		voice = "MAN"
	}
	ph := phrases[base]
	if t := p.Transaction; t != nil {
		ph.first, ph.again = pay.sentence(pay.first, *t), pay.sentence(pay.again, *t)
	}
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
