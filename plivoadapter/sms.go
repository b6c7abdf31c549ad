package plivoadapter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go2fa/go2fa/sender"
	plivo "github.com/plivo/plivo-go/v7"
)

// DefaultTemplate is the English wording as a template for
// SMSOptions.Template. It renders as "Your verification code is 123456. It
// expires in 5 minutes.", as the built-in English wording does; with
// Template empty, the sender uses the wording of each message's locale.
const DefaultTemplate = "Your verification code is {code}. It expires in {ttl}."

// Template placeholders.
const (
	// PlaceholderCode is replaced by the code; a template must hold it.
	PlaceholderCode = "{code}"
	// PlaceholderTTL is replaced by the code's lifetime in words ("5
	// minutes", "1 minute", "30 seconds"; "a few minutes" when the Message
	// has no TTL).
	PlaceholderTTL = "{ttl}"
)

// SMSOptions configures the direct SMS sender. NewSMS copies it; the
// functions and the NonceStore it holds (OnFailure, Nonces, Now) are then
// used from any goroutine and must be safe for concurrent use.
type SMSOptions struct {
	// Template is the text, with PlaceholderCode and optionally
	// PlaceholderTTL. It must fit in one SMS (160 GSM-7 units, or 70 if it
	// needs UCS-2) with the longest code (10 digits) and TTL wording; a
	// template that could split is refused by NewSMS with a *LengthError.
	// The default value, empty, renders the wording of the message's
	// locale instead (see Texts).
	Template string
	// Brand, if set, prefixes the text as "Brand: ...". The default value
	// is "" (no prefix).
	Brand string
	// Texts renders the text in the Message's language (Message.Locale)
	// when Template is empty: wordings, WebOTP domain, Android app hash
	// (Brand, when set, fills Texts.Brand if that is empty). NewSMS copies
	// the struct; do not change its Wordings map afterwards. The default
	// value is nil: the built-in wordings of package sender.
	Texts *sender.Texts
	// StatusURL is the public URL at which Plivo reaches StatusHandler;
	// when set, every message asks Plivo for delivery-status callbacks
	// there. The default value is "" (no callbacks).
	StatusURL string
	// StatusMethod is the HTTP method of the callbacks, "POST" or "GET".
	// The default value is "POST".
	StatusMethod string
	// OnFailure is called by StatusHandler once per message whose status
	// becomes "failed" or "undelivered" (also the legacy "rejected"), for
	// example to offer or start the voice fallback. "Once" is kept by the
	// Nonces store for NonceWindow: per process with the default store,
	// across instances and restarts with a shared one. It runs on the
	// callback's request: return quickly, and use context.WithoutCancel(ctx)
	// for work that outlives it. The default value is nil (nothing is
	// called).
	OnFailure func(ctx context.Context, d Delivery)
	// NonceWindow is how long callback nonces (and failed message UUIDs)
	// are remembered to refuse replays. The default value is
	// DefaultNonceWindow.
	NonceWindow time.Duration
	// Nonces remembers the callbacks already accepted. The default value
	// is NewMemoryNonces(DefaultMaxNonces, Now): right for one process, but
	// a captured callback can then be replayed after a restart or to
	// another instance; several instances should share one NonceStore (for
	// example on Redis with SET NX PX). A store error refuses the callback.
	Nonces NonceStore
	// Now is the clock. The default value is time.Now.
	Now func() time.Time
	// Logger receives one line per refused or failed callback, with
	// numbers masked and never a code. The default value is nil (no logs).
	Logger *slog.Logger
}

// SMS sends codes as text messages with Plivo's Messages.Create, and
// serves the delivery-status callbacks (StatusHandler). It is safe for
// concurrent use.
type SMS struct {
	client   *plivo.Client
	from     string
	template string
	texts    *sender.Texts
	brand    string
	status   *url.URL
	method   string
	onFail   func(context.Context, Delivery)
	guard    *callbackGuard
	nonces   NonceStore
	window   time.Duration
	log      *slog.Logger
}

// worstCode and worstTTL are the longest values a template can receive.
const (
	worstCode = "0000000000"
	worstTTL  = "a few minutes"
)

// NewSMS returns an SMS sender for the account in c. It checks c and o and
// returns an error wrapping ErrInvalidConfig (and a *LengthError for a
// template that would split).
func NewSMS(c Config, o SMSOptions) (*SMS, error) {
	if err := c.validate(false, false); err != nil {
		return nil, err
	}
	s := &SMS{from: c.Number, template: o.Template, brand: strings.TrimSpace(o.Brand), onFail: o.OnFailure, log: o.Logger}
	if s.template == "" {
		var t sender.Texts
		if o.Texts != nil {
			t = *o.Texts
		}
		if t.Brand == "" {
			t.Brand = s.brand
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("%w: texts: %w", ErrInvalidConfig, err)
		}
		s.texts = &t
	} else {
		if !strings.Contains(s.template, PlaceholderCode) {
			return nil, fmt.Errorf("%w: template has no %s", ErrInvalidConfig, PlaceholderCode)
		}
		if err := CheckSMSLength(s.render(worstCode, worstTTL)); err != nil {
			return nil, fmt.Errorf("%w: template with the longest code: %w", ErrInvalidConfig, err)
		}
	}
	s.method = strings.ToUpper(o.StatusMethod)
	if s.method == "" {
		s.method = http.MethodPost
	}
	if s.method != http.MethodPost && s.method != http.MethodGet {
		return nil, fmt.Errorf("%w: StatusMethod must be POST or GET", ErrInvalidConfig)
	}
	if o.StatusURL != "" {
		u, err := publicURL("StatusURL", o.StatusURL)
		if err != nil {
			return nil, err
		}
		s.status = u
	} else if o.OnFailure != nil {
		return nil, fmt.Errorf("%w: OnFailure needs a StatusURL", ErrInvalidConfig)
	}
	cl, err := plivo.NewClient(c.AuthID, c.AuthToken, &plivo.ClientOptions{HttpClient: httpClient(c.HTTPClient)})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s.client = cl
	s.nonces, s.window = o.Nonces, o.NonceWindow
	if s.nonces == nil {
		s.nonces = NewMemoryNonces(DefaultMaxNonces, o.Now)
	}
	if s.window <= 0 {
		s.window = DefaultNonceWindow
	}
	s.guard = &callbackGuard{authToken: c.AuthToken, public: s.status, nonces: s.nonces, window: s.window}
	return s, nil
}

func (s *SMS) render(code, ttl string) string {
	t := strings.ReplaceAll(s.template, PlaceholderCode, code)
	t = strings.ReplaceAll(t, PlaceholderTTL, ttl)
	if s.brand != "" {
		t = s.brand + ": " + t
	}
	return t
}

// Text returns the text Send would send for m: m.Text (with the brand
// prefix) when set, else the template, or without a template the wording
// of m.Locale (SMSOptions.Texts). It fails with ErrInvalidMessage and
// a *LengthError if the text would split, or if m.Text lacks the code.
func (s *SMS) Text(m sender.Message) (string, error) {
	var text string
	if m.Text != "" {
		if !strings.Contains(m.Text, m.Code) {
			return "", fmt.Errorf("plivoadapter: %w: text does not contain the code", sender.ErrInvalidMessage)
		}
		text = m.Text
		if s.brand != "" {
			text = s.brand + ": " + text
		}
	} else if s.texts != nil {
		t, err := s.texts.Text(m)
		if err != nil {
			return "", fmt.Errorf("plivoadapter: %w", err)
		}
		text = t
	} else {
		text = s.render(m.Code, ttlWords(m.TTL))
	}
	if err := CheckSMSLength(text); err != nil {
		return "", fmt.Errorf("plivoadapter: %w: %w", sender.ErrInvalidMessage, err)
	}
	return text, nil
}

// ttlWords renders a lifetime as sender.DefaultText does, or worstTTL
// when the Message has none.
func ttlWords(ttl time.Duration) string {
	if w := sender.TTLWords(ttl); w != "" {
		return w
	}
	return worstTTL
}

// Send sends m as one SMS from the configured number: one POST to
// /v1/Account/{auth_id}/Message/, built and executed by plivo-go as
// Messages.Create does, with ctx attached (a done ctx sends nothing). A
// Call message fails with sender.ErrUnsupportedChannel; Plivo failures are
// *Error.
func (s *SMS) Send(ctx context.Context, m sender.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Channel != sender.SMS {
		return fmt.Errorf("plivoadapter: sms sender: %w: %s", sender.ErrUnsupportedChannel, m.Channel)
	}
	text, err := s.Text(m)
	if err != nil {
		return err
	}
	p := plivo.MessageCreateParams{Src: s.from, Dst: m.To, Text: text}
	if s.status != nil {
		p.URL = s.status.String()
		p.Method = s.method
	}
	// This is plivo-go's Messages.Create, split so the request carries ctx.
	req, err := s.client.NewRequest(http.MethodPost, p, "Message")
	if err != nil {
		return &Error{Op: "send sms", Err: err}
	}
	var out plivo.MessageCreateResponseBody
	if _, err := do(ctx, s.client, "send sms", req, &out); err != nil {
		return err
	}
	if len(out.MessageUUID) == 0 || out.MessageUUID[0] == "" {
		return &Error{Op: "send sms", StatusCode: 200, APIID: cleanAPIID(out.ApiID), Message: "answer without message_uuid", temporary: true}
	}
	return nil
}

var _ sender.Sender = (*SMS)(nil)

// Delivery is one message-status callback from Plivo. It is a plain value,
// safe to copy and share.
type Delivery struct {
	// MessageUUID is Plivo's ID of the message.
	MessageUUID string
	// To is the destination in E.164 form ("+" added when Plivo reports
	// digits only). It is a full phone number: do not log it (String and
	// LogValue mask it).
	To string
	// Status is Plivo's status: queued, sent, delivered, undelivered or
	// failed.
	Status string
	// ErrorCode is Plivo's error code for failed and undelivered messages.
	ErrorCode string
}

// Failed reports whether d says the message will not arrive.
func (d Delivery) Failed() bool {
	switch d.Status {
	case "failed", "undelivered", "rejected":
		return true
	}
	return false
}

// String describes d with the number masked.
func (d Delivery) String() string {
	return fmt.Sprintf("message %s to %s: %s (error %s)", d.MessageUUID, sender.MaskNumber(d.To), d.Status, d.ErrorCode)
}

// LogValue makes slog print d with the number masked.
func (d Delivery) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("message_uuid", d.MessageUUID),
		slog.String("to", sender.MaskNumber(d.To)),
		slog.String("status", d.Status),
		slog.String("error_code", d.ErrorCode),
	)
}

// StatusHandler returns the handler for Plivo's message-status callbacks;
// mount it where SMSOptions.StatusURL points. It verifies
// X-Plivo-Signature-V3 against StatusURL (403 if missing, forged, tampered
// or replayed, and nothing happens; also 403 when the NonceStore fails),
// calls OnFailure once per failed or undelivered message, and answers 200
// to every verified callback. If the NonceStore fails when asked whether
// OnFailure already ran for the message, OnFailure is not called and the
// answer is 503.
func (s *SMS) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, ok, why := s.guard.check(w, r)
		if !ok {
			s.logf(r.Context(), "plivoadapter: refused status callback: "+why, slog.String("method", r.Method))
			return
		}
		to := params["To"]
		if allDigits(to) {
			to = "+" + to // Plivo reports E.164 without the "+"
		}
		d := Delivery{MessageUUID: params["MessageUUID"], To: to, Status: strings.ToLower(params["Status"]), ErrorCode: params["ErrorCode"]}
		if d.MessageUUID == "" || d.Status == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if d.Failed() && s.onFail != nil {
			seen, err := s.nonces.Seen(r.Context(), "failed:"+d.MessageUUID, s.window)
			if err != nil {
				s.logf(r.Context(), "plivoadapter: nonce store failed; OnFailure not called", slog.Any("delivery", d))
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			if !seen {
				s.logf(r.Context(), "plivoadapter: sms not delivered", slog.Any("delivery", d))
				s.onFail(r.Context(), d)
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

func (s *SMS) logf(ctx context.Context, msg string, attrs ...slog.Attr) {
	if s.log != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	}
}
