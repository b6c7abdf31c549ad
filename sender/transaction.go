package sender

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go2fa/go2fa/internal/ascii"
)

// Transaction is the payment a code confirms (PSD2 dynamic linking): the
// otp Verifier sets Message.Transaction from a normalised otp.Transaction,
// so a Sender can show the amount and the payee with the code. It is a
// plain value, safe to copy and share. String, GoString and LogValue of a
// Message never print it.
type Transaction struct {
	// Amount is the amount in major units with the currency's minor-unit
	// digits: "12.50", "1250" (JPY), "1.500" (BHD).
	Amount string
	// Currency is the ISO 4217 alphabetic code in upper case: "EUR".
	Currency string
	// Payee is the beneficiary's name, at most MaxPayeeLen characters.
	Payee string
}

// MaxPayeeLen is the longest Transaction.Payee, in characters.
const MaxPayeeLen = 64

// AmountText is the amount as messages show it: "EUR 12.50".
func (t Transaction) AmountText() string { return t.Currency + " " + t.Amount }

// ErrTransactionUnsupported reports a Message with a Transaction on a
// channel where the Sender cannot show it (a WhatsApp sender without a
// transaction template, a PHLO flow). It wraps ErrInvalidMessage.
var ErrTransactionUnsupported = fmt.Errorf("%w: the sender cannot show a transaction on this channel", ErrInvalidMessage)

// validate checks the form a Sender relies on: an upper-case three-letter
// currency, an amount of digits with at most one ".", and a payee of
// 1 to MaxPayeeLen characters without control or format characters. It
// never quotes the payee.
func (t Transaction) validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: transaction %s", ErrInvalidMessage, what) }
	if len(t.Currency) != 3 || strings.ContainsFunc(t.Currency, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		return bad("currency is not an upper-case ISO 4217 code")
	}
	whole, frac, dot := strings.Cut(t.Amount, ".")
	if !ascii.Digits(whole) || (dot && !ascii.Digits(frac)) {
		return bad("amount is not digits with an optional '.'")
	}
	n := utf8.RuneCountInString(t.Payee)
	if !utf8.ValidString(t.Payee) || n == 0 || n > MaxPayeeLen || strings.TrimSpace(t.Payee) != t.Payee {
		return bad("payee is empty, too long or not trimmed")
	}
	if strings.ContainsFunc(t.Payee, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
		return bad("payee holds a control or format character")
	}
	return nil
}

// TransactionCarrier is implemented by senders that can show a
// Message.Transaction, and say on which channels. The otp Verifier asks it
// (through CarriesTransaction) before it issues a transaction code, so a
// payer is never sent a code without the payment it approves.
type TransactionCarrier interface {
	CarriesTransaction(c Channel) bool
}

// CarriesTransaction reports whether s shows a Message.Transaction on
// channel c: s.CarriesTransaction(c) when s implements TransactionCarrier;
// otherwise true for SMS only, when s serves it, because on SMS the
// Message.Text that the otp Verifier writes carries the transaction, while a
// sender that does not say how it reads out or templates a message on
// another channel is assumed to show the code alone.
func CarriesTransaction(s Sender, c Channel) bool {
	if tc, ok := s.(TransactionCarrier); ok {
		return tc.CarriesTransaction(c)
	}
	return c == SMS && Serves(s, c)
}
