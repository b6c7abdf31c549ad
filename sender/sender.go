// Package sender defines how go2fa delivers a one-time code: the Sender
// interface, the Message it sends and the Channel it uses, plus senders for
// development and tests and combinators that route and fail over between
// senders.
//
// The Plivo senders live in package plivoadapter; this package imports only
// the standard library.
//
// A Message carries the code in clear, because a Sender must deliver it. Its
// String, GoString and LogValue methods redact the code and most of the
// number, so printing or logging a Message never leaks them.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go2fa/go2fa/internal/ascii"
)

// Channel is the way a code reaches its destination.
type Channel string

const (
	// SMS sends the code as a text message.
	SMS Channel = "sms"
	// Call reads the code out in a voice call.
	Call Channel = "call"
	// WhatsApp sends the code as a WhatsApp authentication template
	// message.
	WhatsApp Channel = "whatsapp"
)

// Errors returned (wrapped) by senders in this package.
var (
	// ErrInvalidChannel reports a channel other than SMS, Call or WhatsApp.
	ErrInvalidChannel = errors.New("sender: invalid channel")
	// ErrUnsupportedChannel reports a valid channel that a sender does not serve.
	ErrUnsupportedChannel = errors.New("sender: channel not supported")
	// ErrInvalidMessage reports a Message that cannot be sent (no
	// destination, no code, over-long text).
	ErrInvalidMessage = errors.New("sender: invalid message")
)

// ParseChannel returns the Channel named s ("sms", "call" or "whatsapp",
// in any case).
func ParseChannel(s string) (Channel, error) {
	switch c := Channel(strings.ToLower(strings.TrimSpace(s))); c {
	case SMS, Call, WhatsApp:
		return c, nil
	}
	return "", fmt.Errorf("%w: %q (want %q, %q or %q)", ErrInvalidChannel, ascii.Truncate(s, 16), SMS, Call, WhatsApp)
}

// Valid reports whether c is SMS, Call or WhatsApp.
func (c Channel) Valid() bool { return c == SMS || c == Call || c == WhatsApp }

// String returns the channel's name.
func (c Channel) String() string { return string(c) }

// MaxTextLen is the longest Message.Text, in characters, that Validate accepts.
const MaxTextLen = 1600

// Message is one code to deliver.
type Message struct {
	// To is the destination in E.164 form, for example "+14155550100".
	To string
	// Channel is SMS, Call or WhatsApp.
	Channel Channel
	// Code is the one-time code, digits only.
	Code string
	// Text is the text to deliver; when empty, senders render the wording
	// of Locale (see Texts and DefaultText).
	Text string
	// Locale is the language of the message, SMS and voice alike, as a BCP
	// 47 tag ("en-US", "pt-BR"); may be empty (English).
	Locale string
	// TextOptions adjust the rendered text of this message (brand, WebOTP
	// line, Android app hash) over the sender's own; may be zero.
	TextOptions TextOptions
	// TTL is how long the code stays valid, for the text ("expires in 5
	// minutes").
	TTL time.Duration
	// Ref is an opaque reference to the verification, never the number or
	// the code, for logs and delivery callbacks: the otp Verifier sets a
	// fingerprint of the destination, or with its Policy.Fallback a signed
	// reference to the code that Verifier.Fallback accepts. A sender that
	// reports deliveries hands it back with the report.
	Ref string
	// Transaction, when not nil, is the payment the code confirms: a
	// Sender must show its amount and payee with the code (on SMS, Text
	// already holds them) or refuse the message with
	// ErrTransactionUnsupported (see CarriesTransaction).
	Transaction *Transaction
}

// Validate reports whether m can be sent.
func (m Message) Validate() error {
	switch {
	case !m.Channel.Valid():
		return fmt.Errorf("%w: %q", ErrInvalidChannel, ascii.Truncate(string(m.Channel), 16))
	case len(m.To) < 2 || m.To[0] != '+' || !ascii.Digits(m.To[1:]) || len(m.To) > 16:
		return fmt.Errorf("%w: destination is not an E.164 number", ErrInvalidMessage)
	case m.Code == "" || !ascii.Digits(m.Code):
		return fmt.Errorf("%w: code is not digits", ErrInvalidMessage)
	case utf8.RuneCountInString(m.Text) > MaxTextLen:
		return fmt.Errorf("%w: text longer than %d characters", ErrInvalidMessage, MaxTextLen)
	}
	if m.Transaction != nil {
		if err := m.Transaction.validate(); err != nil {
			return err
		}
	}
	return m.TextOptions.Validate()
}

// DefaultText returns m.Text, or when it is empty the built-in wording of
// m.Locale with m.TextOptions (see Texts): in English, "Your verification
// code is 123456. It expires in 5 minutes.", or with m.Transaction "Code
// 123456 to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes.". Where
// Texts.Text fails (a text longer than one SMS, invalid options),
// DefaultText returns the wording without options and unchecked.
func DefaultText(m Message) string {
	var t *Texts
	if text, err := t.Text(m); err == nil {
		return text
	}
	return render(t.wordingFor(m), TextOptions{}, m, true)
}

// TTLWords renders a code's lifetime in English words, as DefaultText
// uses them: "5 minutes", "1 minute", "30 seconds" (whole units, rounded
// down). It returns "" for a lifetime of zero or less.
func TTLWords(ttl time.Duration) string {
	switch {
	case ttl <= 0:
		return ""
	case ttl < 2*time.Second:
		return "1 second"
	case ttl < time.Minute:
		return fmt.Sprintf("%d seconds", int(ttl/time.Second))
	case ttl < 2*time.Minute:
		return "1 minute"
	default:
		return fmt.Sprintf("%d minutes", int(ttl/time.Minute))
	}
}

// String describes m without its code and with the number masked.
func (m Message) String() string {
	return fmt.Sprintf("%s to %s (code redacted)", m.Channel, MaskNumber(m.To))
}

// GoString is like String, so %#v does not print the code either.
func (m Message) GoString() string { return "sender.Message{" + m.String() + "}" }

// LogValue makes slog print m without its code.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("channel", string(m.Channel)),
		slog.String("to", MaskNumber(m.To)),
		slog.String("ref", m.Ref),
	)
}

// MaskNumber keeps the country-code end and the last two digits of an E.164
// number: "+14155550100" becomes "+14*******00".
func MaskNumber(n string) string {
	if len(n) <= 5 {
		return strings.Repeat("*", len(n))
	}
	return n[:3] + strings.Repeat("*", len(n)-5) + n[len(n)-2:]
}

// Sender delivers a message. Implementations must be safe for concurrent
// use, must honour ctx (or bound their I/O with a timeout), and must never
// put the code in an error or a log line.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Func adapts a function to the Sender interface.
type Func func(ctx context.Context, m Message) error

// Send calls f(ctx, m).
func (f Func) Send(ctx context.Context, m Message) error { return f(ctx, m) }
