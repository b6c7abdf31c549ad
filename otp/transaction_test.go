package otp_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

var acme = otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}

func TestTransactionNormalize(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   otp.Transaction
		want otp.Transaction
	}{
		{acme, acme},
		{otp.Transaction{Amount: " 12.5 ", Currency: " eur", Payee: "  ACME \n\t Ltd "}, acme},
		{otp.Transaction{Amount: "0012.50", Currency: "Eur", Payee: "ACME Ltd"}, acme},
		{otp.Transaction{Amount: "1250", Currency: "EUR", Payee: "x"}, otp.Transaction{Amount: "1250.00", Currency: "EUR", Payee: "x"}},
		{otp.Transaction{Amount: "1250", Currency: "JPY", Payee: "x"}, otp.Transaction{Amount: "1250", Currency: "JPY", Payee: "x"}},
		{otp.Transaction{Amount: "1.5", Currency: "BHD", Payee: "x"}, otp.Transaction{Amount: "1.500", Currency: "BHD", Payee: "x"}},
		{otp.Transaction{Amount: "0.01", Currency: "USD", Payee: "x"}, otp.Transaction{Amount: "0.01", Currency: "USD", Payee: "x"}},
		{otp.Transaction{Amount: "0.0001", Currency: "CLF", Payee: "x"}, otp.Transaction{Amount: "0.0001", Currency: "CLF", Payee: "x"}},
		{otp.Transaction{Amount: "5", Currency: "EUR", Payee: "Zoë & Søn (Ærø) A/S, Nr. 5-7: ok+"},
			otp.Transaction{Amount: "5.00", Currency: "EUR", Payee: "Zoë & Søn (Ærø) A/S, Nr. 5-7: ok+"}},
		{otp.Transaction{Amount: "5", Currency: "EUR", Payee: "Łódź Spółka"}, otp.Transaction{Amount: "5.00", Currency: "EUR", Payee: "Łódź Spółka"}},
		{otp.Transaction{Amount: "5", Currency: "EUR", Payee: strings.Repeat("é", otp.MaxPayeeLen)},
			otp.Transaction{Amount: "5.00", Currency: "EUR", Payee: strings.Repeat("é", otp.MaxPayeeLen)}},
	}
	for _, tc := range good {
		got, err := tc.in.Normalize()
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%+v) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	bad := map[string]otp.Transaction{
		"grouped amount":         {Amount: "1,250.00", Currency: "EUR", Payee: "x"},
		"comma decimal":          {Amount: "12,50", Currency: "EUR", Payee: "x"},
		"negative":               {Amount: "-12.50", Currency: "EUR", Payee: "x"},
		"plus sign":              {Amount: "+12.50", Currency: "EUR", Payee: "x"},
		"exponent":               {Amount: "1e3", Currency: "EUR", Payee: "x"},
		"too many decimals":      {Amount: "12.505", Currency: "EUR", Payee: "x"},
		"decimals for JPY":       {Amount: "12.5", Currency: "JPY", Payee: "x"},
		"zero":                   {Amount: "0.00", Currency: "EUR", Payee: "x"},
		"empty amount":           {Currency: "EUR", Payee: "x"},
		"dot only":               {Amount: ".", Currency: "EUR", Payee: "x"},
		"trailing dot":           {Amount: "12.", Currency: "EUR", Payee: "x"},
		"leading dot":            {Amount: ".5", Currency: "EUR", Payee: "x"},
		"huge":                   {Amount: "1" + strings.Repeat("0", 15), Currency: "EUR", Payee: "x"},
		"unknown currency":       {Amount: "1", Currency: "EURO", Payee: "x"},
		"made-up currency":       {Amount: "1", Currency: "ABC", Payee: "x"},
		"gold":                   {Amount: "1", Currency: "XAU", Payee: "x"},
		"no currency":            {Amount: "1", Currency: "XXX", Payee: "x"},
		"empty payee":            {Amount: "1", Currency: "EUR", Payee: " \t "},
		"long payee":             {Amount: "1", Currency: "EUR", Payee: strings.Repeat("a", otp.MaxPayeeLen+1)},
		"right-to-left override": {Amount: "1", Currency: "EUR", Payee: "ACME\u202eLtd"},
		"zero-width joiner":      {Amount: "1", Currency: "EUR", Payee: "AC\u200dME"},
		"markup":                 {Amount: "1", Currency: "EUR", Payee: "<b>ACME</b>"},
		"nul":                    {Amount: "1", Currency: "EUR", Payee: "ACME\x00Ltd"},
		"symbol":                 {Amount: "1", Currency: "EUR", Payee: "ACME €"},
		"invalid utf-8":          {Amount: "1", Currency: "EUR", Payee: "AC\xffME"},
	}
	for name, tr := range bad {
		_, err := tr.Normalize()
		if !errors.Is(err, otp.ErrInvalidTransaction) {
			t.Errorf("%s: error = %v, want ErrInvalidTransaction", name, err)
			continue
		}
		if p := strings.TrimSpace(tr.Payee); p != "" && strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q quotes the payee", name, err)
		}
	}
	if got, want := acme.String(), "EUR 12.50 to ACME Ltd"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// A code for EUR 12.50 to ACME Ltd approves that payment only: another
// amount, currency or payee, or no transaction at all, is a wrong guess,
// counted like one; spelling the same payment differently is the same
// payment.
func TestTransactionDynamicLinking(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, code := f.start(t, alice, sender.SMS, otp.WithTransaction(acme))
	tampered := []struct {
		name string
		opts []otp.CheckOption
	}{
		{"EUR 1250.00", []otp.CheckOption{otp.WithTransaction(otp.Transaction{Amount: "1250.00", Currency: "EUR", Payee: "ACME Ltd"})}},
		{"another payee", []otp.CheckOption{otp.WithTransaction(otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd."})}},
		{"another currency", []otp.CheckOption{otp.WithTransaction(otp.Transaction{Amount: "12.50", Currency: "GBP", Payee: "ACME Ltd"})}},
		{"no transaction", nil},
	}
	for i, tc := range tampered {
		got := f.check(t, alice, code, tc.opts...)
		if want := (otp.CheckResult{Status: otp.Rejected, To: alice, Remaining: 4 - i}); got != want {
			t.Fatalf("Check with %s = %+v, want %+v", tc.name, got, want)
		}
	}
	same := otp.Transaction{Amount: "12.5", Currency: "eur", Payee: " ACME  Ltd"}
	if got := f.check(t, alice, code, otp.WithTransaction(same)); got.Status != otp.Approved {
		t.Fatalf("Check with the same payment spelled differently = %+v, want approved", got)
	}
	// Replay: the approved code is gone.
	if got := f.check(t, alice, code, otp.WithTransaction(acme)); got.Status != otp.Expired {
		t.Fatalf("replayed Check = %+v, want expired", got)
	}
}

// Tampering is counted up to the lock: after MaxAttempts tampered Checks
// the right transaction cannot approve either.
func TestTransactionTamperingLocks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, code := f.start(t, alice, sender.SMS, otp.WithTransaction(acme))
	var last otp.CheckResult
	for i := range 5 {
		evil := otp.Transaction{Amount: fmt.Sprintf("%d.50", 1250+i), Currency: "EUR", Payee: "Mallory"}
		last = f.check(t, alice, code, otp.WithTransaction(evil))
	}
	if last.Status != otp.Locked {
		t.Fatalf("fifth tampered Check = %+v, want locked", last)
	}
	if got := f.check(t, alice, code, otp.WithTransaction(acme)); got.Status == otp.Approved {
		t.Fatalf("right transaction after the lock = %+v, want not approved", got)
	}
}

// The transaction and the binding enter the digest together, and one
// cannot stand in for the other.
func TestTransactionWithBinding(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	acmeOnly := otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME"}
	_, code := f.start(t, alice, sender.SMS, otp.WithTransaction(acme), otp.WithBinding("s1"))
	// Another session's Check sees no pending code (the code is scoped to
	// its binding); the right session with the wrong transaction is a
	// wrong guess.
	for _, tc := range []struct {
		name string
		opts []otp.CheckOption
		want otp.Status
	}{
		{"no binding", []otp.CheckOption{otp.WithTransaction(acme)}, otp.Expired},
		{"other binding", []otp.CheckOption{otp.WithTransaction(acme), otp.WithBinding("s2")}, otp.Expired},
		{"payee split off", []otp.CheckOption{otp.WithTransaction(acmeOnly), otp.WithBinding("Ltd\x00s1")}, otp.Expired},
		{"binding only", []otp.CheckOption{otp.WithBinding("s1")}, otp.Rejected},
	} {
		if got := f.check(t, alice, code, tc.opts...); got.Status != tc.want {
			t.Fatalf("Check with %s = %+v, want %s", tc.name, got, tc.want)
		}
	}
	if got := f.check(t, alice, code, otp.WithBinding("s1"), otp.WithTransaction(acme)); got.Status != otp.Approved {
		t.Fatalf("Check with both = %+v, want approved", got)
	}
	// A plain binding cannot be spelled like a transaction's.
	reserved := otp.WithBinding("\x00psd2/v1\x00EUR 12.50\x00ACME Ltd\x00")
	if _, err := f.v.Start(t.Context(), alice, sender.SMS, reserved); !errors.Is(err, otp.ErrInvalidOption) {
		t.Errorf("Start with a binding in the transaction's form: error = %v, want ErrInvalidOption", err)
	}
	if _, err := f.v.Check(t.Context(), alice, code, reserved); !errors.Is(err, otp.ErrInvalidOption) {
		t.Errorf("Check with a binding in the transaction's form: error = %v, want ErrInvalidOption", err)
	}
}

func TestTransactionMessageText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		locale string
		tr     otp.Transaction
		want   string // %s is the code
	}{
		{"", acme, "Code %s to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes."},
		{"en-GB", otp.Transaction{Amount: "1250", Currency: "JPY", Payee: "Tōkyō"}, "Code %s to pay JPY 1250 to Tōkyō. It expires in 5 minutes."},
		{"de-AT", acme, "Code %s zur Zahlung von EUR 12.50 an ACME Ltd. Er ist 5 Min. gültig."},
		{"fr", acme, "Code %s pour payer EUR 12.50 à ACME Ltd. Il expire dans 5 min."},
		{"es", acme, "Clave %s para pagar EUR 12.50 a ACME Ltd. Caduca en 5 min."},
		{"it", acme, "Codice %s per pagare EUR 12.50 a ACME Ltd. Scade tra 5 min."},
		{"nl", acme, "Code %s om EUR 12.50 te betalen aan ACME Ltd. Deze verloopt over 5 min."},
		{"sv", acme, "Kod %s för att betala EUR 12.50 till ACME Ltd. Den gäller i 5 min."},
		{"pt-BR", acme, "Use %s para pagar EUR 12.50 a ACME Ltd. Expira em 5 min."},
		{"ja", otp.Transaction{Amount: "1250", Currency: "JPY", Payee: "ACME"}, "ACMEへのJPY 1250のお支払いの認証コードは%sです。有効期限は5分です。"},
		// A language without a built-in wording reads English.
		{"is", acme, "Code %s to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes."},
		// UCS-2: the Russian expiry no longer fits in 70 units and is
		// dropped; the payment stays.
		{"ru", otp.Transaction{Amount: "1500", Currency: "RUB", Payee: "ООО Ромашка"}, "Код %s для оплаты RUB 1500.00 получателю ООО Ромашка."},
		// UCS-2 (ł, ó are not GSM-7): the expiry no longer fits in 70 units
		// and is dropped; the payment stays.
		{"en", otp.Transaction{Amount: "99.99", Currency: "PLN", Payee: "Łódź Spółka Akcyjna"},
			"Code %s to pay PLN 99.99 to Łódź Spółka Akcyjna."},
	}
	for _, tc := range tests {
		f := newFixture(t, nil)
		opts := []otp.StartOption{otp.WithTransaction(tc.tr)}
		if tc.locale != "" {
			opts = append(opts, otp.WithLocale(tc.locale))
		}
		_, code := f.start(t, alice, sender.SMS, opts...)
		m, _ := f.rec.Last(alice)
		if want := fmt.Sprintf(tc.want, code); m.Text != want {
			t.Errorf("locale %q: text = %q, want %q", tc.locale, m.Text, want)
		}
		if enc, units := sender.SMSLength(m.Text); units > enc.Limit() {
			t.Errorf("locale %q: text of %d %s units does not fit in one sms (%d)", tc.locale, units, enc, enc.Limit())
		}
	}
}

// A payee too long for one SMS is refused before anything is stored or
// sent, with the room left for it.
func TestTransactionTooLong(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	long := otp.Transaction{Amount: "10", Currency: "PLN", Payee: "Łódź Elektrociepłownia Spółka z ograniczoną odpowiedzialnością"}
	_, err := f.v.Start(t.Context(), alice, sender.SMS, otp.WithTransaction(long))
	var le *otp.TransactionLengthError
	if !errors.Is(err, otp.ErrTransactionTooLong) || !errors.As(err, &le) {
		t.Fatalf("Start with a long payee: error = %v, want a *TransactionLengthError", err)
	}
	if le.Encoding != "UCS-2" || le.Limit != 70 || le.Units <= 70 {
		t.Errorf("TransactionLengthError = %+v, want UCS-2 over 70 units", le)
	}
	if strings.Contains(err.Error(), "Łódź") {
		t.Errorf("error %q quotes the payee", err)
	}
	if n := f.store.calls.Load(); n != 0 || f.rec.Len() != 0 {
		t.Fatalf("a refused transaction reached the store %d times and sent %d messages", n, f.rec.Len())
	}
	// PayeeRoom is enough: a payee of that length fits.
	fit := long
	fit.Payee = string([]rune(long.Payee)[:le.PayeeRoom])
	if _, err := f.v.Start(t.Context(), alice, sender.SMS, otp.WithTransaction(fit)); err != nil {
		t.Fatalf("Start with the payee cut to PayeeRoom (%d): %v", le.PayeeRoom, err)
	}
}

// In every built-in language, a transaction with the longest code (10
// digits), a typical amount and the longest payee either goes out in one
// SMS that states code, amount and payee, or is refused before the store
// with a *TransactionLengthError whose PayeeRoom is exact for a payee of
// one-unit characters: that many characters go out in one SMS, one more
// is refused. A language whose payment wording is in GSM-7 fits the
// longest payee in GSM-7 even with the largest amount; every language
// leaves room for a payee of at least minPayeeRoom characters.
func TestTransactionLengthEveryLanguage(t *testing.T) {
	t.Parallel()
	const minPayeeRoom = 20
	payee := strings.Repeat("Northwind", 8)[:otp.MaxPayeeLen]
	typical := otp.Transaction{Amount: "1250.00", Currency: "EUR", Payee: payee}
	largest := otp.Transaction{Amount: "999999999999999.99", Currency: "EUR", Payee: payee}
	// start runs Start on a fresh Verifier with 10-digit codes and returns
	// the text sent, or the error with nothing stored or sent.
	start := func(t *testing.T, lang string, tr otp.Transaction) (string, error) {
		t.Helper()
		f := newFixture(t, func(c *otp.Config) { c.Policy.CodeLength = otp.MaxCodeLength })
		_, err := f.v.Start(t.Context(), alice, sender.SMS, otp.WithTransaction(tr), otp.WithLocale(lang))
		if err != nil {
			if n := f.store.calls.Load(); n != 0 || f.rec.Len() != 0 {
				t.Errorf("%s: refused Start reached the store %d times, sent %d messages", lang, n, f.rec.Len())
			}
			return "", err
		}
		m, _ := f.rec.Last(alice)
		if enc, units := sender.SMSLength(m.Text); units > enc.Limit() {
			t.Errorf("%s: %q takes %d %s units, more than one SMS", lang, m.Text, units, enc)
		}
		if len(m.Code) != otp.MaxCodeLength {
			t.Errorf("%s: code of %d digits, want %d", lang, len(m.Code), otp.MaxCodeLength)
		}
		for _, part := range []string{m.Code, tr.Currency + " " + tr.Amount, tr.Payee} {
			if !strings.Contains(m.Text, part) {
				t.Errorf("%s: %q lacks %q", lang, m.Text, part)
			}
		}
		return m.Text, nil
	}
	var texts *sender.Texts
	for _, lang := range texts.Languages() {
		_, w := texts.Wording(lang)
		if enc, _ := sender.SMSLength(w.Payment); enc == sender.GSM7 {
			if _, err := start(t, lang, largest); err != nil {
				t.Errorf("%s (GSM-7): the longest payee with the largest amount: %v", lang, err)
			}
		}
		_, err := start(t, lang, typical)
		if err == nil {
			continue
		}
		var le *otp.TransactionLengthError
		if !errors.As(err, &le) || !errors.Is(err, otp.ErrTransactionTooLong) {
			t.Errorf("%s: Start = %v, want a *TransactionLengthError", lang, err)
			continue
		}
		if le.Encoding != string(sender.UCS2) || le.Limit != sender.MaxUCS2Units || le.Units <= le.Limit {
			t.Errorf("%s: %+v, want UCS-2 units over the limit of %d", lang, le, sender.MaxUCS2Units)
		}
		if le.PayeeRoom < minPayeeRoom || le.PayeeRoom >= otp.MaxPayeeLen {
			t.Errorf("%s: PayeeRoom %d, want %d to %d", lang, le.PayeeRoom, minPayeeRoom, otp.MaxPayeeLen-1)
			continue
		}
		t.Logf("%s: room for a payee of %d characters", lang, le.PayeeRoom)
		fit, over := typical, typical
		fit.Payee, over.Payee = payee[:le.PayeeRoom], payee[:le.PayeeRoom+1]
		if _, err := start(t, lang, fit); err != nil {
			t.Errorf("%s: payee cut to PayeeRoom %d: %v", lang, le.PayeeRoom, err)
		}
		if _, err := start(t, lang, over); !errors.As(err, &le) {
			t.Errorf("%s: payee of PayeeRoom+1 characters: %v, want a *TransactionLengthError", lang, err)
		}
	}
}

// A transaction code goes only where the Sender shows the payment: a
// sender that does not declare a channel (the Recorder) gets none on call
// or WhatsApp, and the refusal comes before the store and the send. On a
// channel that carries it, the message holds the transaction (and on SMS,
// the text), and the code approves that payment only.
func TestTransactionChannels(t *testing.T) {
	t.Parallel()
	all := []sender.Channel{sender.SMS, sender.Call, sender.WhatsApp}
	f := newFixture(t, func(c *otp.Config) { c.Policy.Channels = all })
	for _, ch := range []sender.Channel{sender.Call, sender.WhatsApp} {
		_, err := f.v.Start(t.Context(), alice, ch, otp.WithTransaction(acme))
		if !errors.Is(err, otp.ErrTransactionUnsupported) || !errors.Is(err, otp.ErrInvalidTransaction) {
			t.Fatalf("Start(%s) through a sender that does not show transactions: %v, want ErrTransactionUnsupported", ch, err)
		}
	}
	if n := f.store.calls.Load(); n != 0 || f.rec.Len() != 0 {
		t.Fatalf("store calls %d, messages %d; want none", n, f.rec.Len())
	}
	if _, err := f.v.Start(t.Context(), alice, sender.SMS, otp.WithTransaction(otp.Transaction{Amount: "1,00", Currency: "EUR", Payee: "x"})); !errors.Is(err, otp.ErrInvalidTransaction) {
		t.Fatalf("Start with a bad amount: error = %v, want ErrInvalidTransaction", err)
	}

	c := &sendertest.Carrier{Shows: []sender.Channel{sender.SMS, sender.Call, sender.WhatsApp}}
	g := newFixture(t, func(cfg *otp.Config) { cfg.Sender = c; cfg.Policy.Channels = all; cfg.Policy.Cooldown = -1 })
	want := sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}
	for _, ch := range all {
		if _, err := g.v.Start(t.Context(), bob, ch, otp.WithTransaction(acme), otp.WithLocale("fr")); err != nil {
			t.Fatalf("Start(%s): %v", ch, err)
		}
		m, _ := c.Last(bob)
		if m.Transaction == nil || *m.Transaction != want {
			t.Fatalf("%s message carries %v, want %v", ch, m.Transaction, want)
		}
		if wantText := ch == sender.SMS; (m.Text != "") != wantText || (wantText && !strings.Contains(m.Text, "pour payer EUR 12.50 à ACME Ltd")) {
			t.Fatalf("%s message text %q", ch, m.Text)
		}
		if got := g.check(t, bob, m.Code, otp.WithTransaction(otp.Transaction{Amount: "12.51", Currency: "EUR", Payee: "ACME Ltd"})); got.Status != otp.Rejected {
			t.Fatalf("%s: Check for another amount = %+v, want rejected", ch, got)
		}
		if got := g.check(t, bob, m.Code, otp.WithTransaction(acme)); got.Status != otp.Approved {
			t.Fatalf("%s: Check for the payment = %+v, want approved", ch, got)
		}
	}
	// A code without a transaction carries none.
	if _, err := g.v.Start(t.Context(), bob, sender.Call); err != nil {
		t.Fatal(err)
	}
	if m, _ := c.Last(bob); m.Transaction != nil || m.Text != "" {
		t.Fatalf("plain call message carries %v, %q", m.Transaction, m.Text)
	}
}

// With Policy.KeepCode a resend for a transaction makes a new code (a kept
// code's text named the transaction it was sent for), and the attempts
// carry over.
func TestTransactionKeepCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Config) { c.Policy.KeepCode = true; c.Policy.Cooldown = -1 })
	_, a := f.start(t, alice, sender.SMS, otp.WithTransaction(acme))
	f.check(t, alice, otptest.Wrong(a), otp.WithTransaction(acme))
	other := otp.Transaction{Amount: "99.00", Currency: "EUR", Payee: "Other"}
	res, b := f.start(t, alice, sender.SMS, otp.WithTransaction(other))
	if res.Reused || res.Remaining != 4 {
		t.Fatalf("resend for another transaction: Reused=%v Remaining=%d, want a new code with 4 left", res.Reused, res.Remaining)
	}
	if m, _ := f.rec.Last(alice); !strings.Contains(m.Text, "EUR 99.00 to Other") {
		t.Fatalf("resend text %q does not name the new transaction", m.Text)
	}
	if got := f.check(t, alice, b, otp.WithTransaction(other)); got.Status != otp.Approved {
		t.Fatalf("Check of the new code = %+v, want approved", got)
	}
}
