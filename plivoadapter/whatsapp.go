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

// WhatsAppOptions configures the WhatsApp sender. NewWhatsApp copies it.
type WhatsAppOptions struct {
	// Number is the WhatsApp Business number, in E.164, that Plivo sends
	// from (src): the number of the WhatsApp Business Account mapped to
	// the Plivo account. The default value is Config.Number.
	Number string
	// Template is the name of an approved WhatsApp authentication template
	// (category AUTHENTICATION, with a copy-code button): lowercase letters,
	// digits and underscores. WhatsApp fixes its text ("123456 is your
	// verification code."), so Message.Text is not used. Required.
	Template string
	// Languages lists the languages the template is approved in, as
	// WhatsApp language codes ("en_US", "pt_BR", "es"). A message goes in
	// the one that matches its Locale best (see WhatsAppLanguage); the
	// first is used when none matches. At least one is required.
	Languages []string
	// TransactionTemplate is the name of an approved WhatsApp template
	// (category UTILITY) for codes that confirm a payment: its body takes
	// three text parameters, in this order, the code ({{1}}), the amount
	// as "EUR 12.50" ({{2}}) and the payee ({{3}}), and it has no other
	// parameter. An authentication template cannot carry them: WhatsApp
	// fixes its text and takes the code alone. The default value is ""
	// (none): a message with a Transaction is then refused with
	// sender.ErrTransactionUnsupported, and CarriesTransaction is false.
	TransactionTemplate string
	// TransactionLanguages lists the languages TransactionTemplate is
	// approved in, chosen as for Languages. Required with
	// TransactionTemplate.
	TransactionLanguages []string
	// KeepInPlivoLogs lets Plivo keep the message content and the full
	// destination number in its logs. By default every message is sent
	// with Plivo's log=false. The default value is false.
	KeepInPlivoLogs bool
	// StatusURL is the public URL at which Plivo posts the message's
	// delivery and read reports. Point it at the SMS sender's
	// StatusHandler (SMSOptions.StatusURL) so that one signed handler
	// serves both channels. The default value is "" (no reports).
	StatusURL string
	// StatusMethod is the HTTP method of the reports, "POST" or "GET".
	// The default value is "POST".
	StatusMethod string
	// Messages remembers, under Plivo's message UUID, the messages sent
	// with a StatusURL, until their code expires (Message.TTL, at most
	// DefaultNonceWindow): the StatusHandler refuses (404) a report for a
	// message its MessageStore does not hold, so pass the SMS sender's
	// store (SMSOptions.Messages) here. The default value is nil, which
	// NewWhatsApp refuses when StatusURL is set.
	Messages MessageStore
	// Now is the clock. The default value is time.Now.
	Now func() time.Time
	// Logger receives a line when the MessageStore fails, never with a
	// code. The default value is nil (no logs).
	Logger *slog.Logger
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

// maxTemplateName bounds WhatsAppOptions.Template.
const maxTemplateName = 512

// NewWhatsApp returns a WhatsApp sender for the account in c. It checks c
// and o and returns an error wrapping ErrInvalidConfig.
func NewWhatsApp(c Config, o WhatsAppOptions) (*WhatsApp, error) {
	if o.Number != "" {
		if !isPhone(o.Number) {
			return nil, fmt.Errorf("%w: WhatsApp Number is not a phone number", ErrInvalidConfig)
		}
		c.Number = o.Number // Config.Number may be an SMS sender ID
	}
	if err := c.validate(true, false); err != nil {
		return nil, err
	}
	w := &WhatsApp{from: c.Number, template: o.Template, keepLogs: o.KeepInPlivoLogs}
	if !templateName(o.Template) {
		return nil, fmt.Errorf("%w: WhatsApp Template must be 1-%d lowercase letters, digits or underscores", ErrInvalidConfig, maxTemplateName)
	}
	if len(o.Languages) == 0 {
		return nil, fmt.Errorf("%w: WhatsApp Languages is empty", ErrInvalidConfig)
	}
	var err error
	if w.languages, err = languageCodes(o.Languages); err != nil {
		return nil, err
	}
	if o.TransactionTemplate != "" || len(o.TransactionLanguages) > 0 {
		if !templateName(o.TransactionTemplate) {
			return nil, fmt.Errorf("%w: WhatsApp TransactionTemplate must be 1-%d lowercase letters, digits or underscores", ErrInvalidConfig, maxTemplateName)
		}
		if len(o.TransactionLanguages) == 0 {
			return nil, fmt.Errorf("%w: WhatsApp TransactionLanguages is empty", ErrInvalidConfig)
		}
		if w.txnLangs, err = languageCodes(o.TransactionLanguages); err != nil {
			return nil, err
		}
		w.txnName = o.TransactionTemplate
	}
	w.method = strings.ToUpper(o.StatusMethod)
	if w.method == "" {
		w.method = http.MethodPost
	}
	if w.method != http.MethodPost && w.method != http.MethodGet {
		return nil, fmt.Errorf("%w: StatusMethod must be POST or GET", ErrInvalidConfig)
	}
	if o.StatusURL != "" {
		u, err := publicURL("StatusURL", o.StatusURL)
		if err != nil {
			return nil, err
		}
		w.status = u
		if o.Messages == nil {
			return nil, fmt.Errorf("%w: WhatsApp StatusURL needs Messages, the SMS sender's MessageStore", ErrInvalidConfig)
		}
	}
	w.messages, w.now, w.log = o.Messages, o.Now, o.Logger
	if w.now == nil {
		w.now = time.Now
	}
	a, err := newAPI(c)
	if err != nil {
		return nil, err
	}
	cl, err := plivo.NewClient(c.AuthID, c.AuthToken, &plivo.ClientOptions{HttpClient: a.hc})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	w.client, w.api = cl, a
	return w, nil
}

// languageCodes checks and copies a list of template languages.
func languageCodes(ls []string) ([]string, error) {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		if !languageCode(l) {
			return nil, fmt.Errorf("%w: WhatsApp language %q is not a code such as en or en_US", ErrInvalidConfig, truncateText(l, 16))
		}
		out = append(out, l)
	}
	return out, nil
}

// CarriesTransaction reports whether w shows a Message.Transaction on c:
// on WhatsApp, when a TransactionTemplate is configured.
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
// KeepInPlivoLogs, message_expiry from m.TTL, and the status URL and
// method. A message with a Transaction goes in the TransactionTemplate
// instead, with the code, the amount ("EUR 12.50") and the payee as the
// body's three parameters; without a TransactionTemplate it fails with
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
			return plivo.MessageCreateParams{}, fmt.Errorf("plivoadapter: whatsapp sender: %w: no TransactionTemplate", sender.ErrTransactionUnsupported)
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
// TransactionTemplate with sender.ErrTransactionUnsupported, before any
// request. Plivo
// failures are *Error: a 4xx answer (a destination or template WhatsApp
// refuses) wraps ErrPermanent, so a failover moves on instead of retrying.
// A message that Plivo accepts and WhatsApp cannot deliver (for example to
// a number without WhatsApp) is reported later, as "failed" or
// "undelivered", to the StatusURL. With a StatusURL, the message is
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

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
