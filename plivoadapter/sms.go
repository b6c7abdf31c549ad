package plivoadapter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go2fa/go2fa/internal/ascii"
	"github.com/go2fa/go2fa/sender"
	plivo "github.com/plivo/plivo-go/v7"
)

// DefaultTemplate is the English wording as a template for
// WithTemplate. It renders as "Your verification code is 123456. It
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

// DLT is India's DLT registration of the sender and the template
// (Plivo's dlt_entity_id, dlt_template_id and dlt_template_category). It
// is a plain value, safe to copy and share.
type DLT struct {
	// EntityID is the registered entity (dlt_entity_id).
	EntityID string
	// TemplateID is the registered template (dlt_template_id); the text
	// must match the template registered under it.
	TemplateID string
	// TemplateCategory is the template's category
	// (dlt_template_category), as registered.
	TemplateCategory string
}

func (d DLT) set() bool { return d.EntityID != "" || d.TemplateID != "" || d.TemplateCategory != "" }

// SMS sends codes as text messages with Plivo's Messages.Create, and
// serves the delivery-status callbacks (StatusHandler). It is safe for
// concurrent use.
type SMS struct {
	client    *plivo.Client
	api       api
	from      string
	powerpack string
	dlt       DLT
	keepLogs  bool
	template  string
	texts     *sender.Texts
	brand     string
	status    *url.URL
	method    string
	onFail    func(context.Context, Delivery)
	onDeliver func(context.Context, Delivery)
	guard     *callbackGuard
	nonces    NonceStore
	messages  MessageStore
	window    time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// worstCode and worstTTL are the longest values a template can receive.
const (
	worstCode = "0000000000"
	worstTTL  = "a few minutes"
)

// Plivo's bounds for message_expiry, in seconds.
const (
	minExpiry = 5
	maxExpiry = 10799
)

// NewSMS returns an SMS sender for the account in c. It accepts
// WithTemplate, WithBrand, WithTexts, WithKeepInPlivoLogs, WithPowerpack,
// WithDLT, WithStatusURL, WithStatusMethod, WithOnFailure, WithOnDelivered,
// WithMessages, WithNonces, WithNonceWindow, WithClock and WithLogger; the
// functions and stores they give are then used from any goroutine. It
// checks c and opts and returns an error wrapping ErrInvalidConfig that
// names the bad setting (and a *LengthError for a template that would
// split).
func NewSMS(c Config, opts ...Option) (*SMS, error) {
	o, err := collect("NewSMS", smsOptions, opts)
	if err != nil {
		return nil, err
	}
	if err := c.check(false, false, !o.has(optPowerpack)); err != nil {
		return nil, err
	}
	s := &SMS{from: c.Number, template: o.template, brand: strings.TrimSpace(o.brand), onFail: o.onFailure, onDeliver: o.onDelivered, log: o.logger,
		keepLogs: o.keepLogs, powerpack: o.powerpack, dlt: o.dlt}
	if s.now, err = o.clock(); err != nil {
		return nil, err
	}
	if o.has(optPowerpack) {
		if cleanAPIID(s.powerpack) == "" {
			return nil, invalid(optPowerpack, "not a uuid")
		}
		s.from = "" // Plivo takes src or powerpack_uuid, not both
	}
	for _, v := range []string{o.dlt.EntityID, o.dlt.TemplateID, o.dlt.TemplateCategory} {
		if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r < '!' || r > '~' }) {
			return nil, invalid(optDLT, "values must be short printable ASCII")
		}
	}
	if !o.has(optTemplate) {
		t := o.texts
		if t.Brand == "" {
			t.Brand = s.brand
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, optTexts, err)
		}
		s.texts = &t
	} else {
		if o.has(optTexts) {
			return nil, fmt.Errorf("%w: %s and %s exclude each other", ErrInvalidConfig, optTemplate, optTexts)
		}
		if !strings.Contains(s.template, PlaceholderCode) {
			return nil, invalid(optTemplate, "no %s", PlaceholderCode)
		}
		if err := CheckSMSLength(s.render(worstCode, worstTTL)); err != nil {
			return nil, fmt.Errorf("%w: %s: with the longest code: %w", ErrInvalidConfig, optTemplate, err)
		}
	}
	if s.method, s.status, err = o.statusTarget(); err != nil {
		return nil, err
	}
	if s.status == nil && (o.onFailure != nil || o.onDelivered != nil) {
		return nil, fmt.Errorf("%w: %s and %s need %s", ErrInvalidConfig, optOnFailure, optOnDelivered, optStatusURL)
	}
	if s.window, err = o.positive(optNonceWindow, o.nonceWindow, DefaultNonceWindow); err != nil {
		return nil, err
	}
	if s.nonces, err = o.nonceStore(s.now); err != nil {
		return nil, err
	}
	s.messages = o.messages
	if !o.has(optMessages) {
		s.messages = NewMemoryMessages(WithStoreClock(s.now))
	} else if s.messages == nil {
		return nil, invalid(optMessages, "nil store")
	}
	if s.client, s.api, err = newRESTClient(c); err != nil {
		return nil, err
	}
	s.guard = &callbackGuard{authToken: c.AuthToken, mainToken: c.mainToken(), v2: true, public: s.status, nonces: s.nonces, window: s.window}
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
// of m.Locale (WithTexts). It fails with ErrInvalidMessage and
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

// Params returns the parameters Send gives Plivo's Messages.Create for m
// (after checking m as Send does): src or powerpack_uuid, dst, text,
// log=false unless WithKeepInPlivoLogs, message_expiry from m.TTL, the status
// URL and method, and the DLT values for an Indian number.
func (s *SMS) Params(m sender.Message) (plivo.MessageCreateParams, error) {
	if err := m.Validate(); err != nil {
		return plivo.MessageCreateParams{}, err
	}
	if m.Channel != sender.SMS {
		return plivo.MessageCreateParams{}, fmt.Errorf("plivoadapter: sms sender: %w: %s", sender.ErrUnsupportedChannel, m.Channel)
	}
	text, err := s.Text(m)
	if err != nil {
		return plivo.MessageCreateParams{}, err
	}
	p := plivo.MessageCreateParams{Src: s.from, PowerpackUUID: s.powerpack, Dst: m.To, Text: text, MessageExpiry: expirySeconds(m.TTL)}
	if !s.keepLogs {
		p.Log = false
	}
	if s.status != nil {
		p.URL = s.status.String()
		p.Method = s.method
	}
	if s.dlt.set() && strings.HasPrefix(m.To, "+91") {
		p.DLTEntityID, p.DLTTemplateID, p.DLTTemplateCategory = s.dlt.EntityID, s.dlt.TemplateID, s.dlt.TemplateCategory
	}
	return p, nil
}

// expirySeconds is Plivo's message_expiry for a code that lives ttl: its
// whole seconds rounded up, within Plivo's 5 to 10799; 0 (not sent) when
// ttl is unknown.
func expirySeconds(ttl time.Duration) int {
	if ttl <= 0 {
		return 0
	}
	n := int((ttl + time.Second - 1) / time.Second)
	return min(max(n, minExpiry), maxExpiry)
}

// Send sends m as one SMS: one POST to /v1/Account/{auth_id}/Message/,
// built by plivo-go as Messages.Create builds it, from Params(m), with ctx
// attached (a done ctx sends nothing). A Call message fails with
// sender.ErrUnsupportedChannel; Plivo failures are *Error. With
// WithStatusURL, the message is remembered in the MessageStore under its
// UUID, with m.Ref, until its code expires; a store error is logged and
// does not fail Send (the SMS is on its way), but a report for that
// message will then be refused.
func (s *SMS) Send(ctx context.Context, m sender.Message) error {
	p, err := s.Params(m)
	if err != nil {
		return err
	}
	uuid, err := createMessage(ctx, s.client, s.api, "send sms", p)
	if err != nil {
		return err
	}
	if s.status != nil {
		if err := rememberSent(ctx, s.messages, uuid, m, s.now(), s.window); err != nil {
			s.logf(ctx, "plivoadapter: message store failed; reports for this sms will be refused", slog.String("message_uuid", uuid))
		}
	}
	return nil
}

var _ sender.Sender = (*SMS)(nil)

// createMessage sends p as plivo-go's Messages.Create would (the same
// request, built by plivo-go), once, with ctx attached, and returns the
// new message's UUID.
func createMessage(ctx context.Context, client *plivo.Client, a api, op string, p plivo.MessageCreateParams) (string, error) {
	req, err := client.NewRequest(http.MethodPost, p, "Message")
	if err != nil {
		return "", &Error{Op: op, Err: err}
	}
	var out plivo.MessageCreateResponseBody
	status, err := a.do(ctx, op, req, &out)
	if err != nil {
		return "", err
	}
	if len(out.MessageUUID) == 0 || cleanAPIID(out.MessageUUID[0]) == "" {
		return "", &Error{Op: op, StatusCode: status, APIID: cleanAPIID(out.ApiID), Message: "answer without message_uuid", temporary: true}
	}
	return out.MessageUUID[0], nil
}

// rememberSent keeps m, sent as uuid, in ms for its delivery reports: its
// Ref and channel, until its code expires (at most window from now). It
// outlives ctx's cancellation: the message is on its way.
func rememberSent(ctx context.Context, ms MessageStore, uuid string, m sender.Message, now time.Time, window time.Duration) error {
	life := m.TTL
	if life <= 0 || life > window {
		life = window
	}
	return ms.Put(context.WithoutCancel(ctx), uuid, Sent{Ref: m.Ref, Channel: m.Channel, Expires: now.Add(life)})
}

// Delivery is one message-status callback from Plivo, tied to the
// message the sender sent. It is a plain value, safe to copy and share.
type Delivery struct {
	// MessageUUID is Plivo's ID of the message.
	MessageUUID string
	// Ref is the sender.Message.Ref the message was sent with (from the
	// MessageStore, not from the callback).
	Ref string
	// Channel is the channel the message went on (sender.SMS).
	Channel sender.Channel
	// To is the destination in E.164 form ("+" added when Plivo reports
	// digits only). It is a full phone number: do not log it (String and
	// LogValue mask it).
	To string
	// Status is Plivo's status: queued, sent, delivered, undelivered or
	// failed.
	Status string
	// ErrorCode is Plivo's error code for failed and undelivered messages.
	ErrorCode string
	// MessageTime is when Plivo says the message was sent (MessageTime).
	MessageTime time.Time
}

// Delivered reports whether d says the message arrived: "delivered", or
// "read" (WhatsApp).
func (d Delivery) Delivered() bool { return d.Status == "delivered" || d.Status == "read" }

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
	return fmt.Sprintf("%s message %s (ref %s) to %s: %s (error %s)", d.Channel, d.MessageUUID, d.Ref, sender.MaskNumber(d.To), d.Status, d.ErrorCode)
}

// LogValue makes slog print d with the number masked.
func (d Delivery) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("message_uuid", d.MessageUUID),
		slog.String("ref", d.Ref),
		slog.String("channel", string(d.Channel)),
		slog.String("to", sender.MaskNumber(d.To)),
		slog.String("status", d.Status),
		slog.String("error_code", d.ErrorCode),
	)
}

// StatusHandler returns the handler for Plivo's message-status callbacks;
// mount it where WithStatusURL points. It accepts a callback signed
// with any of X-Plivo-Signature-V2 or X-Plivo-Signature-V3 (Config's
// AuthToken) or X-Plivo-Signature-Ma-V2 or X-Plivo-Signature-Ma-V3
// (Config.MainAuthToken), each checked in constant time, and answers:
//
//   - 403 if no signature checks out, the nonce was seen before, the
//     NonceStore fails, or MessageTime is more than the nonce window
//     (WithNonceWindow) away from now (stale or replayed later);
//   - 400 if MessageUUID, Status or MessageTime is missing or malformed;
//   - 404 if the MessageStore does not hold the message (not sent by this
//     sender, or its code has expired); 503 if it fails;
//   - 200 otherwise, after calling the WithOnFailure function for a
//     failure, or the WithOnDelivered one for a delivery, reported for
//     the first time for that message.
//
// Only a 200 records the callback's nonce; nothing else changes state.
func (s *SMS) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, nonces, ok, why := s.guard.verify(w, r)
		if !ok {
			s.logf(r.Context(), "plivoadapter: refused status callback: "+why, slog.String("method", r.Method))
			return
		}
		to := params["To"]
		if ascii.Digits(to) {
			to = "+" + to // Plivo reports E.164 without the "+"
		}
		d := Delivery{MessageUUID: params["MessageUUID"], To: to, Status: strings.ToLower(params["Status"]), ErrorCode: params["ErrorCode"]}
		at, okTime := parseMessageTime(params["MessageTime"])
		if cleanAPIID(d.MessageUUID) == "" || d.Status == "" || !okTime {
			s.logf(r.Context(), "plivoadapter: refused status callback: missing or malformed MessageUUID, Status or MessageTime")
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		d.MessageTime = at
		if age := s.now().Sub(at); age > s.window || age < -s.window {
			s.logf(r.Context(), "plivoadapter: refused status callback: stale MessageTime", slog.String("message_uuid", d.MessageUUID))
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		sent, found, err := s.messages.Get(r.Context(), d.MessageUUID)
		switch {
		case err != nil:
			s.logf(r.Context(), "plivoadapter: message store failed", slog.String("message_uuid", d.MessageUUID))
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		case !found:
			s.logf(r.Context(), "plivoadapter: refused status callback: unknown or expired message", slog.String("message_uuid", d.MessageUUID))
			http.NotFound(w, r)
			return
		}
		d.Ref, d.Channel = sent.Ref, sent.Channel
		if ok, why := s.guard.fresh(w, r, nonces); !ok {
			s.logf(r.Context(), "plivoadapter: refused status callback: "+why, slog.String("message_uuid", d.MessageUUID))
			return
		}
		act, kind, what := s.onFail, "failed:", "sms not delivered"
		if d.Delivered() {
			act, kind, what = s.onDeliver, "delivered:", "sms delivered"
		} else if !d.Failed() {
			act = nil
		}
		if act != nil {
			// Remembered as long as the message is, and at least as long
			// as the nonce: a later copy of this report is either refused
			// as unknown or seen here.
			seen, err := s.nonces.Seen(r.Context(), kind+d.MessageUUID, s.window)
			if err != nil {
				s.logf(r.Context(), "plivoadapter: nonce store failed; report not acted on", slog.Any("delivery", d))
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			if !seen {
				s.logf(r.Context(), "plivoadapter: "+what, slog.Any("delivery", d))
				act(r.Context(), d)
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

// parseMessageTime reads Plivo's MessageTime, documented as
// "YYYY-mm-dd HH:MM:SS.SSSSSS" (UTC; an explicit offset is honoured).
func parseMessageTime(v string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05-07", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *SMS) logf(ctx context.Context, msg string, attrs ...slog.Attr) {
	if s.log != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	}
}
