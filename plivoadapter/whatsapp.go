package plivoadapter

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/go2fa/go2fa/internal/ascii"
	"github.com/go2fa/go2fa/sender"
	plivo "github.com/plivo/plivo-go/v7"
)

// WhatsAppTemplate is the approved WhatsApp authentication template that
// NewWhatsApp sends. It is a plain value; NewWhatsApp copies it.
type WhatsAppTemplate struct {
	// Name is the template's name (category AUTHENTICATION, with a
	// copy-code button): lowercase letters, digits and underscores.
	// WhatsApp fixes its text ("123456 is your verification code."), so
	// Message.Text is not used. Required.
	Name string
	// Languages lists the languages the template is approved in, as
	// WhatsApp language codes ("en_US", "pt_BR", "es"). A message goes in
	// the one that matches its Locale best (see WhatsAppLanguage); the
	// first is used when none matches. At least one is required.
	Languages []string
}

// WhatsApp sends codes as WhatsApp authentication template messages with
// Plivo's Messages.Create (type "whatsapp"). It is safe for concurrent
// use.
type WhatsApp struct {
	client    *plivo.Client
	api       api
	messages  MessageStore
	now       func() time.Time
	log       *slog.Logger
	from      string
	template  string
	languages []string
	txnName   string
	txnLangs  []string
	keepLogs  bool
	status    *url.URL
	method    string
}

// Message type and template component values of a WhatsApp authentication
// template with a copy-code button, as Plivo's Send Message API and
// plivo-go's Template type (messages.go) take them.
const (
	whatsappType       = "whatsapp"
	componentBody      = "body"
	componentButton    = "button"
	buttonSubTypeURL   = "url"
	parameterText      = "text"
	copyCodeButtonSlot = "0"
)

// maxTemplateName bounds WhatsAppTemplate.Name.
const maxTemplateName = 512

// NewWhatsApp returns a WhatsApp sender for the account in c that sends
// template t. It accepts WithWhatsAppNumber, WithKeepInPlivoLogs,
// WithStatusURL (which needs WithMessages: the SMS sender's store, whose
// StatusHandler then serves both channels), WithStatusMethod, WithClock
// and WithLogger. It checks c, t and opts and returns an error wrapping
// ErrInvalidConfig that names the bad setting.
func NewWhatsApp(c Config, t WhatsAppTemplate, opts ...Option) (*WhatsApp, error) {
	o, err := collect("NewWhatsApp", whatsAppOptions, opts)
	if err != nil {
		return nil, err
	}
	if o.has(optWhatsAppNumber) {
		if !isPhone(o.whatsAppNumber) {
			return nil, invalid(optWhatsAppNumber, "not a phone number")
		}
		c.Number = o.whatsAppNumber // Config.Number may be an SMS sender ID
	}
	if err := c.validate(true, false); err != nil {
		return nil, err
	}
	w := &WhatsApp{from: c.Number, template: t.Name, keepLogs: o.keepLogs, log: o.logger}
	if !templateName(t.Name) {
		return nil, fmt.Errorf("%w: WhatsApp template Name must be 1-%d lowercase letters, digits or underscores", ErrInvalidConfig, maxTemplateName)
	}
	if len(t.Languages) == 0 {
		return nil, fmt.Errorf("%w: WhatsApp template Languages is empty", ErrInvalidConfig)
	}
	if w.languages, err = languageCodes(t.Languages); err != nil {
		return nil, err
	}
	if o.has(optTransactionTemplate) {
		tt := o.transactionTemplate
		if !templateName(tt.Name) {
			return nil, invalid(optTransactionTemplate, "Name must be 1-%d lowercase letters, digits or underscores", maxTemplateName)
		}
		if len(tt.Languages) == 0 {
			return nil, invalid(optTransactionTemplate, "Languages is empty")
		}
		if w.txnLangs, err = languageCodes(tt.Languages); err != nil {
			return nil, fmt.Errorf("%w (%s)", err, optTransactionTemplate)
		}
		w.txnName = tt.Name
	}
	if w.method, w.status, err = o.statusTarget(); err != nil {
		return nil, err
	}
	if o.has(optMessages) && o.messages == nil {
		return nil, invalid(optMessages, "nil store")
	}
	if w.status != nil && o.messages == nil {
		return nil, fmt.Errorf("%w: %s needs %s, the SMS sender's MessageStore", ErrInvalidConfig, optStatusURL, optMessages)
	}
	w.messages = o.messages
	if w.now, err = o.clock(); err != nil {
		return nil, err
	}
	if w.client, w.api, err = newRESTClient(c); err != nil {
		return nil, err
	}
	return w, nil
}

// languageCodes checks and copies a list of template languages.
func languageCodes(ls []string) ([]string, error) {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		if !languageCode(l) {
			return nil, fmt.Errorf("%w: WhatsApp language %q is not a code such as en or en_US", ErrInvalidConfig, ascii.Truncate(l, 16))
		}
		out = append(out, l)
	}
	return out, nil
}

// CarriesTransaction reports whether w shows a Message.Transaction on c:
// on WhatsApp, when NewWhatsApp was given WithTransactionTemplate.
func (w *WhatsApp) CarriesTransaction(c sender.Channel) bool {
	return c == sender.WhatsApp && w.txnName != ""
}

// Serves reports whether the sender serves channel c: WhatsApp only.
func (w *WhatsApp) Serves(c sender.Channel) bool { return c == sender.WhatsApp }

// Language returns the template language a message with this locale is
// sent in.
func (w *WhatsApp) Language(locale string) string { return WhatsAppLanguage(locale, w.languages) }

// Params returns the parameters Send gives Plivo's Messages.Create for m
// (after checking m as Send does): src, dst, type "whatsapp", the
// template with the code as the body's parameter and as the copy-code
// button's parameter (WhatsApp requires both), log=false unless
// WithKeepInPlivoLogs, message_expiry from m.TTL, and the status URL and
// method. A message with a Transaction goes in the WithTransactionTemplate
// template instead, with the code, the amount ("EUR 12.50") and the payee
// as the body's three parameters; without one it fails with
// sender.ErrTransactionUnsupported.
func (w *WhatsApp) Params(m sender.Message) (plivo.MessageCreateParams, error) {
	if err := m.Validate(); err != nil {
		return plivo.MessageCreateParams{}, err
	}
	if m.Channel != sender.WhatsApp {
		return plivo.MessageCreateParams{}, fmt.Errorf("plivoadapter: whatsapp sender: %w: %s", sender.ErrUnsupportedChannel, m.Channel)
	}
	if m.Text != "" {
		// The template's text is fixed: a text of the caller's (a
		// transaction to confirm) could not be shown, so nothing is sent.
		return plivo.MessageCreateParams{}, fmt.Errorf("plivoadapter: whatsapp sender: %w: an authentication template carries the code only, not Message.Text", sender.ErrInvalidMessage)
	}
	code := []plivo.Parameter{{Type: parameterText, Text: m.Code}}
	tpl := &plivo.Template{
		Name:     w.template,
		Language: w.Language(m.Locale),
		Components: []plivo.Component{
			{Type: componentBody, Parameters: code},
			{Type: componentButton, SubType: buttonSubTypeURL, Index: copyCodeButtonSlot, Parameters: code},
		},
	}
	if t := m.Transaction; t != nil {
		if w.txnName == "" {
			return plivo.MessageCreateParams{}, fmt.Errorf("plivoadapter: whatsapp sender: %w: no transaction template", sender.ErrTransactionUnsupported)
		}
		tpl = &plivo.Template{
			Name:     w.txnName,
			Language: WhatsAppLanguage(m.Locale, w.txnLangs),
			Components: []plivo.Component{{Type: componentBody, Parameters: []plivo.Parameter{
				{Type: parameterText, Text: m.Code},
				{Type: parameterText, Text: t.AmountText()},
				{Type: parameterText, Text: t.Payee},
			}}},
		}
	}
	p := plivo.MessageCreateParams{
		Src:           w.from,
		Dst:           m.To,
		Type:          whatsappType,
		Template:      tpl,
		MessageExpiry: expirySeconds(m.TTL),
	}
	if !w.keepLogs {
		p.Log = false
	}
	if w.status != nil {
		p.URL = w.status.String()
		p.Method = w.method
	}
	return p, nil
}

// Send sends m as one WhatsApp authentication template message: one POST
// to /v1/Account/{auth_id}/Message/, built by plivo-go as Messages.Create
// builds it, from Params(m), with ctx attached (a done ctx sends nothing).
// An SMS or Call message fails with sender.ErrUnsupportedChannel, a
// message with a Text (which the template cannot show) with
// sender.ErrInvalidMessage, and a message with a Transaction but no
// WithTransactionTemplate with sender.ErrTransactionUnsupported, before any
// request. Plivo failures are *Error: a 4xx answer (a destination or template WhatsApp
// refuses) wraps ErrPermanent, so a failover moves on instead of retrying.
// A message that Plivo accepts and WhatsApp cannot deliver (for example to
// a number without WhatsApp) is reported later, as "failed" or
// "undelivered", to the status URL. With WithStatusURL, the message is
// remembered in the MessageStore under its UUID, with m.Ref and the
// channel, until its code expires; a store error is logged and does not
// fail Send, but a report for that message will then be refused.
func (w *WhatsApp) Send(ctx context.Context, m sender.Message) error {
	p, err := w.Params(m)
	if err != nil {
		return err
	}
	uuid, err := createMessage(ctx, w.client, w.api, "send whatsapp", p)
	if err != nil {
		return err
	}
	if w.status != nil {
		if err := rememberSent(ctx, w.messages, uuid, m, w.now(), DefaultNonceWindow); err != nil && w.log != nil {
			w.log.LogAttrs(ctx, slog.LevelWarn, "plivoadapter: message store failed; reports for this whatsapp message will be refused", slog.String("message_uuid", uuid))
		}
	}
	return nil
}

var (
	_ sender.Sender             = (*WhatsApp)(nil)
	_ sender.TransactionCarrier = (*WhatsApp)(nil)
)

// WhatsAppLanguage picks, from the languages a template is approved in
// (WhatsApp codes such as "en_US", "pt_BR", "es"), the one for a BCP 47
// locale ("pt-BR", "pt_br", "es-MX", "de"): the same language and region,
// else the bare language, else the first of the same language with another
// region, else languages[0]. It returns "" when languages is empty.
func WhatsAppLanguage(locale string, languages []string) string {
	if len(languages) == 0 {
		return ""
	}
	base, region, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(locale), "-", "_"), "_")
	region, _, _ = strings.Cut(region, "_")
	if base == "" {
		return languages[0]
	}
	if region != "" {
		for _, l := range languages {
			if strings.EqualFold(l, base+"_"+region) {
				return l
			}
		}
	}
	for _, l := range languages {
		if strings.EqualFold(l, base) {
			return l
		}
	}
	for _, l := range languages {
		if b, _, ok := strings.Cut(l, "_"); ok && strings.EqualFold(b, base) {
			return l
		}
	}
	return languages[0]
}

// templateName accepts what Plivo documents for WhatsApp template names:
// a-z, 0-9 and underscore.
func templateName(s string) bool {
	if s == "" || len(s) > maxTemplateName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// languageCode accepts a WhatsApp template language code: two or three
// lowercase letters, optionally "_" and a region of two to four letters or
// digits ("en", "en_US", "zh_HK").
func languageCode(s string) bool {
	base, region, hasRegion := strings.Cut(s, "_")
	if len(base) < 2 || len(base) > 3 {
		return false
	}
	for i := 0; i < len(base); i++ {
		if base[i] < 'a' || base[i] > 'z' {
			return false
		}
	}
	if !hasRegion {
		return true
	}
	if len(region) < 2 || len(region) > 4 {
		return false
	}
	for i := 0; i < len(region); i++ {
		c := region[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
