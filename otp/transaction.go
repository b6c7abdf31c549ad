package otp

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go2fa/go2fa/internal/ascii"
	"github.com/go2fa/go2fa/sender"
)

// ErrInvalidTransaction reports a Transaction that WithTransaction refuses:
// an amount that is not a positive decimal with at most the currency's
// minor-unit digits, a currency that is not an ISO 4217 code with a minor
// unit, a payee that is empty, too long or holds a character outside
// letters, digits, marks, spaces and .,&'()-/+:, or a channel that cannot
// show the transaction (ErrTransactionUnsupported).
var ErrInvalidTransaction = errors.New("otp: invalid transaction")

// ErrTransactionUnsupported reports a transaction code on a channel where
// the Verifier's Sender cannot show the payment (see
// sender.CarriesTransaction): a WhatsApp sender without a transaction
// template, a PHLO flow, a custom sender that does not declare it. It
// wraps ErrInvalidTransaction. Start returns it before the store is
// touched and nothing is sent.
var ErrTransactionUnsupported = fmt.Errorf("%w: the channel cannot show the transaction", ErrInvalidTransaction)

// ErrTransactionTooLong reports a transaction whose message would not fit
// in one SMS; the error is a *TransactionLengthError.
var ErrTransactionTooLong = errors.New("otp: transaction text does not fit in one sms")

// MaxPayeeLen is the longest payee WithTransaction accepts, in characters.
const MaxPayeeLen = sender.MaxPayeeLen

// maxAmountDigits bounds the whole part of an amount (a quadrillion).
const maxAmountDigits = 15

// Transaction is a payment for PSD2 dynamic linking: a code started with
// WithTransaction approves only a Check that names the same transaction,
// and the message that carries the code shows its amount and payee. It is
// a plain value, safe to copy and share.
type Transaction struct {
	// Amount is the amount in major units, digits with an optional "."
	// and at most the currency's minor-unit digits: "12.5", "12.50",
	// "1250". Signs, exponents and grouping separators ("1,250.00") are
	// refused, so no locale can read it differently.
	Amount string
	// Currency is the ISO 4217 alphabetic code, in any case: "EUR".
	Currency string
	// Payee is the name of the beneficiary as the payer will see it,
	// 1 to MaxPayeeLen characters once runs of white space are collapsed.
	Payee string
}

// Normalize validates t and returns it in canonical form: the currency in
// upper case, the amount with exactly the currency's minor-unit digits
// ("12.5" EUR becomes "12.50", "1250" JPY stays "1250"), white space in the
// payee collapsed to single spaces. Errors wrap ErrInvalidTransaction and
// never quote the payee.
func (t Transaction) Normalize() (Transaction, error) {
	bad := func(format string, a ...any) (Transaction, error) {
		return Transaction{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidTransaction}, a...)...)
	}
	cur := strings.ToUpper(strings.TrimSpace(t.Currency))
	digits, ok := minorUnits[cur]
	if !ok || len(cur) != 3 {
		return bad("currency is not an ISO 4217 code")
	}
	amount, err := normalizeAmount(strings.TrimSpace(t.Amount), digits)
	if err != nil {
		return bad("%s %s", cur, err)
	}
	payee, err := normalizePayee(t.Payee)
	if err != nil {
		return bad("payee %s", err)
	}
	return Transaction{Amount: amount, Currency: cur, Payee: payee}, nil
}

func normalizeAmount(s string, digits int) (string, error) {
	whole, frac, dot := strings.Cut(s, ".")
	switch {
	case !ascii.Digits(whole) || (dot && !ascii.Digits(frac)):
		return "", errors.New("amount must be digits with an optional '.' and fraction")
	case len(frac) > digits:
		return "", fmt.Errorf("amount has more than %d decimals", digits)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > maxAmountDigits {
		return "", errors.New("amount too large")
	}
	frac += strings.Repeat("0", digits-len(frac))
	if whole == "" && strings.Trim(frac, "0") == "" {
		return "", errors.New("amount must be positive")
	}
	if whole == "" {
		whole = "0"
	}
	if digits == 0 {
		return whole, nil
	}
	return whole + "." + frac, nil
}

// payeePunct is the punctuation a payee may hold besides letters, marks,
// digits and spaces.
const payeePunct = ".,&'()-/+:"

func normalizePayee(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("is not valid UTF-8")
	}
	p := strings.Join(strings.Fields(s), " ")
	switch n := utf8.RuneCountInString(p); {
	case n == 0:
		return "", errors.New("is empty")
	case n > MaxPayeeLen:
		return "", fmt.Errorf("longer than %d characters", MaxPayeeLen)
	}
	for _, r := range p {
		// Letters, marks and digits of any script; no control or format
		// characters (a right-to-left override could show the payer a
		// name other than the one approved), no symbols, no markup.
		if r != ' ' && !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) && !strings.ContainsRune(payeePunct, r) {
			return "", fmt.Errorf("holds a character other than letters, digits, spaces and %s", payeePunct)
		}
	}
	return p, nil
}

// AmountText returns the amount as the message shows it: "EUR 12.50".
// t must be normalized.
func (t Transaction) AmountText() string { return t.Currency + " " + t.Amount }

// String returns "EUR 12.50 to ACME Ltd". t must be normalized.
func (t Transaction) String() string { return t.AmountText() + " to " + t.Payee }

// WithTransaction binds the code to a payment (PSD2 dynamic linking,
// Commission Delegated Regulation (EU) 2018/389, article 5): the
// normalized transaction enters the code's HMAC, by the same path as
// WithBinding (and together with it), so a Check approves only with the
// same amount, currency and payee; a Check with any other transaction,
// or none, is a wrong guess and is counted. Start puts the amount and payee
// into the SMS text in the message's language (WithLocale):
// "Code 123456 to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes."
// The text is checked to fit in one SMS before anything is stored or sent
// (the expiry sentence is dropped when only it does not fit); a payee too
// long for that gets a *TransactionLengthError. With Policy.Fallback the
// same check runs for every channel, since the code may be re-sent by SMS.
//
// On every channel the sender.Message carries the transaction
// (Message.Transaction), and Start sends a transaction code only on a
// channel whose Sender shows it (sender.CarriesTransaction: the Plivo
// voice call speaks it, a Plivo WhatsApp sender with a transaction
// template fills it in); on any other channel Start returns
// ErrTransactionUnsupported before anything is stored or sent, because the
// payer must be shown what the code approves. Verifier.Fallback re-sends
// the transaction with the code. A code pending for a transaction is never
// re-sent by Policy.KeepCode: a resend makes a new code.
//
// Nothing of the transaction is stored or logged: the store sees only the
// HMAC, and errors and events never carry the amount or the payee.
func WithTransaction(t Transaction) Option {
	return func(o *callOptions) {
		n, err := t.Normalize()
		if err != nil {
			o.err = err
			return
		}
		o.txn = &n
	}
}

// txnMarker starts the digest binding of a transaction. The canonical
// transaction after it holds no 0 byte (the amount and currency are ASCII,
// the payee is letters, digits and punctuation), so marker, amount, payee
// and binding split in one way only.
const txnMarker = "\x00psd2/v1\x00"

// digestBinding is what enters the code's HMAC between the number and the
// code: the binding alone, or the transaction followed by the binding.
func (o *callOptions) digestBinding() string {
	if o.txn == nil {
		return o.binding
	}
	return txnMarker + o.txn.AmountText() + "\x00" + o.txn.Payee + "\x00" + o.binding
}

// checkTransaction refuses what would make a transaction's digest
// ambiguous or its message impossible: a plain binding that starts like a
// transaction's, a channel whose Sender cannot show the transaction, or an
// SMS text too long for one SMS (checked for SMS, and for every channel
// with Policy.Fallback, which may re-send the code by SMS). It runs before
// any store access.
func (v *Verifier) checkTransaction(o *callOptions, ch sender.Channel) error {
	if o.txn == nil {
		if strings.HasPrefix(o.binding, txnMarker) {
			return fmt.Errorf("%w: binding starts with a reserved prefix", ErrInvalidOption)
		}
		return nil
	}
	if ch == "" {
		return nil // Check: nothing is sent
	}
	if !sender.CarriesTransaction(v.send, ch) {
		return fmt.Errorf("%w: %s", ErrTransactionUnsupported, ch)
	}
	if ch != sender.SMS && !v.policy.Fallback {
		return nil
	}
	text := transactionText(o.locale, strings.Repeat("0", v.policy.CodeLength), *o.txn, 0)
	enc, units := sender.SMSLength(text)
	limit := enc.Limit()
	if units <= limit {
		return nil
	}
	room := max(0, utf8.RuneCountInString(o.txn.Payee)-(units-limit))
	return &TransactionLengthError{Encoding: string(enc), Units: units, Limit: limit, PayeeRoom: room}
}

// TransactionLengthError reports a transaction whose message would not fit
// in one SMS. errors.Is(err, ErrTransactionTooLong) is true for it. It
// never holds the text.
type TransactionLengthError struct {
	// Encoding is "GSM-7" or "UCS-2" (the text needs UCS-2 as soon as one
	// character, in the payee or the language's wording, is outside GSM-7).
	Encoding string
	// Units is the text's length in that encoding, Limit one SMS's.
	Units, Limit int
	// PayeeRoom is about how many characters the payee may have for the
	// text to fit (exact when the payee's characters count one unit each).
	PayeeRoom int
}

// Error implements error.
func (e *TransactionLengthError) Error() string {
	return fmt.Sprintf("otp: transaction text does not fit in one sms: %d %s units, limit %d; shorten the payee to about %d characters",
		e.Units, e.Encoding, e.Limit, e.PayeeRoom)
}

// Is makes errors.Is(err, ErrTransactionTooLong) true.
func (e *TransactionLengthError) Is(target error) bool { return target == ErrTransactionTooLong }

// transactionText returns the SMS text for a transaction code: the
// payment wording of locale in package sender (sender.Wording.Payment,
// "Code 123456 to pay EUR 12.50 to ACME Ltd."), with its expiry sentence
// when ttl is positive and that still fits in one SMS. A text that does
// not fit even without it is returned unchecked: checkTransaction measures
// it (with ttl 0) and refuses it before anything is sent.
func transactionText(locale, code string, t Transaction, ttl time.Duration) string {
	return sender.DefaultText(sender.Message{
		Channel: sender.SMS, Code: code, Locale: locale, TTL: ttl,
		Transaction: &sender.Transaction{Amount: t.Amount, Currency: t.Currency, Payee: t.Payee},
	})
}

// transactionMessage adds a transaction to m: Message.Transaction on
// every channel and, on SMS, the transaction's text as Message.Text.
func transactionMessage(m *sender.Message, t *Transaction) {
	if t == nil {
		return
	}
	m.Transaction = &sender.Transaction{Amount: t.Amount, Currency: t.Currency, Payee: t.Payee}
	if m.Channel == sender.SMS {
		m.Text = transactionText(m.Locale, m.Code, *t, m.TTL)
	}
}
