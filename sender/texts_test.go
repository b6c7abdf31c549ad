package sender_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/sender"
)

// Every built-in language renders, for every code length Policy allows
// (4-10 digits), as one SMS part with its expiry sentence. With a brand and
// a WebOTP line, or a brand and an Android app hash, every language still
// fits with codes of up to 6 digits (the expiry may go); longer codes fit
// or fail with ErrTooLong, never split.
func TestTextsFitOneSMS(t *testing.T) {
	t.Parallel()
	var texts *sender.Texts
	langs := texts.Languages()
	if len(langs) < 20 {
		t.Fatalf("%d built-in languages, want at least 20: %v", len(langs), langs)
	}
	webOTP := sender.TextOptions{Brand: "ACME", WebOTPDomain: "example.com"}
	android := sender.TextOptions{Brand: "ACME", AppHash: "FA+9qCX9VSu"}
	for _, lang := range langs {
		tag, w := texts.Wording(lang)
		if tag != lang {
			t.Errorf("Wording(%q) found %q", lang, tag)
		}
		codeSentence := func(code string) string { return strings.ReplaceAll(w.Code, "{code}", code) }
		for n := 4; n <= 10; n++ {
			code := strings.Repeat("9", n)
			m := sender.Message{To: "+14155550100", Channel: sender.SMS, Code: code, Locale: lang, TTL: 10 * time.Minute}
			text, err := texts.Text(m)
			if err != nil {
				t.Fatalf("%s, %d digits: %v", lang, n, err)
			}
			if enc, units := sender.SMSLength(text); !sender.FitsOneSMS(text) {
				t.Errorf("%s, %d digits: %q takes %d %s units, more than one SMS", lang, n, text, units, enc)
			}
			if !strings.HasPrefix(text, codeSentence(code)) {
				t.Errorf("%s, %d digits: %q does not start with its own code sentence", lang, n, text)
			}
			if expiry := strings.Split(w.Expires, "{ttl}"); !strings.Contains(text, expiry[0]) || !strings.HasSuffix(text, expiry[1]) {
				t.Errorf("%s, %d digits: %q lost its expiry sentence", lang, n, text)
			}

			for _, o := range []sender.TextOptions{webOTP, android} {
				m.TextOptions = o
				text, err = texts.Text(m)
				if err != nil {
					if n <= 6 || !errors.Is(err, sender.ErrTooLong) {
						t.Errorf("%s, %d digits, %+v: %v", lang, n, o, err)
					}
					continue
				}
				if enc, units := sender.SMSLength(text); !sender.FitsOneSMS(text) {
					t.Errorf("%s, %d digits, %+v: %q takes %d %s units", lang, n, o, text, units, enc)
				}
				if !strings.HasPrefix(text, "ACME: "+codeSentence(code)) {
					t.Errorf("%s, %d digits: %q lacks the brand or its code sentence", lang, n, text)
				}
				lines := strings.Split(text, "\n")
				if o.WebOTPDomain != "" && lines[len(lines)-1] != "@example.com #"+code {
					t.Errorf("%s, %d digits: last line %q, want the WebOTP line", lang, n, lines[len(lines)-1])
				}
				if o.AppHash != "" && !strings.HasSuffix(text, " FA+9qCX9VSu") {
					t.Errorf("%s, %d digits: %q does not end with the app hash", lang, n, text)
				}
			}
		}
	}
}

// No two languages share a sentence: each is its own phrasing, not a
// copy of another.
func TestWordingsDistinct(t *testing.T) {
	t.Parallel()
	var texts *sender.Texts
	seen := map[string]string{}
	for _, lang := range texts.Languages() {
		_, w := texts.Wording(lang)
		if prev, dup := seen[w.Code]; dup {
			t.Errorf("%s and %s share the sentence %q", prev, lang, w.Code)
		}
		seen[w.Code] = lang
	}
}

func TestWordingFallback(t *testing.T) {
	t.Parallel()
	var texts *sender.Texts
	for _, tc := range []struct{ locale, want string }{
		{"", "en"}, {"en-GB", "en"}, {"EN_gb", "en"}, {"xx-YY", "en"},
		{"pt-BR", "pt"}, {"pt", "pt"}, {"pt-PT", "pt-pt"}, {"pt-AO", "pt-pt"},
		{"zh-CN", "zh"}, {"zh-Hans-CN", "zh"}, {"zh-TW", "zh-hant"}, {"zh-Hant-HK", "zh-hant"}, {"zh-HK", "zh-hant"},
		{"de-AT", "de"}, {"es-419", "es"}, {"no", "nb"}, {"nb-NO", "nb"}, {"tl", "fil"}, {"iw", "he"},
	} {
		if got, _ := texts.Wording(tc.locale); got != tc.want {
			t.Errorf("Wording(%q) = %q, want %q", tc.locale, got, tc.want)
		}
	}
}

func TestTextsRender(t *testing.T) {
	t.Parallel()
	m := sender.Message{To: "+4915112345678", Channel: sender.SMS, Code: "123456", Locale: "de-DE", TTL: 5 * time.Minute}
	var builtin *sender.Texts
	for _, tc := range []struct {
		name  string
		texts *sender.Texts
		call  sender.TextOptions
		ttl   time.Duration
		want  string
	}{
		{"built-in", builtin, sender.TextOptions{}, 5 * time.Minute, "Ihr Bestätigungscode lautet 123456. Er ist 5 Min. gültig."},
		{"seconds", builtin, sender.TextOptions{}, 45 * time.Second, "Ihr Bestätigungscode lautet 123456. Er ist 45 Sek. gültig."},
		{"no ttl", builtin, sender.TextOptions{}, 0, "Ihr Bestätigungscode lautet 123456."},
		{"app options", &sender.Texts{TextOptions: sender.TextOptions{Brand: "ACME", WebOTPDomain: "example.com"}}, sender.TextOptions{}, 5 * time.Minute,
			"ACME: Ihr Bestätigungscode lautet 123456. Er ist 5 Min. gültig.\n\n@example.com #123456"},
		{"call options win", &sender.Texts{TextOptions: sender.TextOptions{Brand: "ACME", AppHash: "FA+9qCX9VSu"}}, sender.TextOptions{Brand: "Shop"}, 5 * time.Minute,
			"Shop: Ihr Bestätigungscode lautet 123456. Er ist 5 Min. gültig. FA+9qCX9VSu"},
		{"app wording", &sender.Texts{Wordings: map[string]sender.Wording{"de": {Code: "Code: {code}"}}}, sender.TextOptions{}, 5 * time.Minute, "Code: 123456"},
	} {
		m := m
		m.TextOptions, m.TTL = tc.call, tc.ttl
		got, err := tc.texts.Text(m)
		if err != nil || got != tc.want {
			t.Errorf("%s: Text = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// The expiry sentence goes first when the text would not fit.
	long := sender.TextOptions{Brand: "ACME", WebOTPDomain: "example.com"}
	ru := sender.Message{To: "+79161234567", Channel: sender.SMS, Code: "1234567890", Locale: "ru", TTL: 5 * time.Minute, TextOptions: long}
	if got, err := builtin.Text(ru); err != nil || strings.Contains(got, "Действует") || !sender.FitsOneSMS(got) {
		t.Errorf("Text(long domain) = %q, %v; want one SMS without the expiry sentence", got, err)
	}
	long.WebOTPDomain = strings.Repeat("a", 60) + ".example.com"
	ru.TextOptions = long
	if _, err := builtin.Text(ru); !errors.Is(err, sender.ErrTooLong) || !errors.Is(err, sender.ErrInvalidMessage) {
		t.Errorf("Text(too long) err = %v, want ErrTooLong", err)
	}
}

func TestTextOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []sender.TextOptions{
		{Brand: strings.Repeat("b", 33)}, {Brand: "two\nlines"},
		{WebOTPDomain: "https://example.com"}, {WebOTPDomain: "example"}, {WebOTPDomain: "Example.com"}, {WebOTPDomain: "-a.com"},
		{AppHash: "short"}, {AppHash: "FA+9qCX9VS!"},
	} {
		if err := o.Validate(); !errors.Is(err, sender.ErrInvalidMessage) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidMessage", o, err)
		}
		m := sender.Message{To: "+14155550100", Channel: sender.SMS, Code: "123456", TextOptions: o}
		if err := m.Validate(); !errors.Is(err, sender.ErrInvalidMessage) {
			t.Errorf("Message.Validate with %+v = %v, want ErrInvalidMessage", o, err)
		}
	}
	if err := (sender.TextOptions{Brand: "ACME", WebOTPDomain: "login.example.com", AppHash: "FA+9qCX9VSu"}).Validate(); err != nil {
		t.Errorf("Validate(good options) = %v", err)
	}
	bad := &sender.Texts{Wordings: map[string]sender.Wording{"de": {Code: "no placeholder"}}}
	if err := bad.Validate(); !errors.Is(err, sender.ErrInvalidMessage) {
		t.Errorf("Texts.Validate(wording without {code}) = %v, want ErrInvalidMessage", err)
	}
	if err := (*sender.Texts)(nil).Validate(); err != nil {
		t.Errorf("nil Texts: Validate = %v", err)
	}
}

// Every built-in language has a payment wording of its own that holds the
// code, the amount and the payee, and Text uses it for a Message with a
// Transaction.
func TestPaymentWordings(t *testing.T) {
	t.Parallel()
	var texts *sender.Texts
	pay := &sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}
	seen := map[string]string{}
	for _, lang := range texts.Languages() {
		tag, w := texts.Wording(lang)
		if tag != lang {
			t.Errorf("Wording(%q) found %q", lang, tag)
		}
		for _, p := range []string{"{code}", "{amount}", "{payee}"} {
			if !strings.Contains(w.Payment, p) {
				t.Errorf("%s: payment wording %q lacks %s", lang, w.Payment, p)
			}
		}
		if prev, dup := seen[w.Payment]; dup {
			t.Errorf("%s and %s share the payment wording %q", prev, lang, w.Payment)
		}
		seen[w.Payment] = lang
		m := sender.Message{To: "+14155550100", Channel: sender.SMS, Code: "123456", Locale: lang, Transaction: pay}
		text, err := texts.Text(m)
		want := strings.NewReplacer("{code}", "123456", "{amount}", "EUR 12.50", "{payee}", "ACME Ltd").Replace(w.Payment)
		if err != nil || text != want {
			t.Errorf("%s: Text = %q, %v; want %q", lang, text, err, want)
		}
		if got := sender.DefaultText(m); got != text {
			t.Errorf("%s: DefaultText = %q, want %q", lang, got, text)
		}
	}
}

func TestPaymentRender(t *testing.T) {
	t.Parallel()
	pay := &sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}
	m := sender.Message{To: "+4915112345678", Channel: sender.SMS, Code: "123456", Locale: "de-AT", TTL: 5 * time.Minute, Transaction: pay}
	custom := &sender.Texts{Wordings: map[string]sender.Wording{
		"de":    {Code: "Code: {code}"},
		"de-at": {Code: "Ihr Code: {code}", Payment: "{code} zahlt {amount} an {payee}", Expires: "({ttl})", Minutes: "{n} Minuten"},
		"is":    {Code: "Kóðinn þinn er {code}."},
	}}
	for _, tc := range []struct {
		name   string
		texts  *sender.Texts
		locale string
		o      sender.TextOptions
		want   string
	}{
		{"built-in", nil, "de-AT", sender.TextOptions{}, "Code 123456 zur Zahlung von EUR 12.50 an ACME Ltd. Er ist 5 Min. gültig."},
		{"options", nil, "de", sender.TextOptions{Brand: "ACME", WebOTPDomain: "example.com"},
			"ACME: Code 123456 zur Zahlung von EUR 12.50 an ACME Ltd. Er ist 5 Min. gültig.\n\n@example.com #123456"},
		{"CJK full stop", nil, "zh-TW", sender.TextOptions{}, "驗證碼123456，用於向ACME Ltd支付EUR 12.50。5分鐘內有效。"},
		{"custom payment", custom, "de-AT", sender.TextOptions{}, "123456 zahlt EUR 12.50 an ACME Ltd (5 Minuten)"},
		// A wording without Payment passes a payment on down the
		// chain, with that wording's expiry: "de" to the built-in "de",
		// "is" to English.
		{"custom without payment", custom, "de", sender.TextOptions{}, "Code 123456 zur Zahlung von EUR 12.50 an ACME Ltd. Er ist 5 Min. gültig."},
		{"custom language without payment", custom, "is", sender.TextOptions{}, "Code 123456 to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes."},
	} {
		m := m
		m.Locale, m.TextOptions = tc.locale, tc.o
		if got, err := tc.texts.Text(m); err != nil || got != tc.want {
			t.Errorf("%s: Text = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// The payee is filled in once, never searched for placeholders.
	m.Transaction = &sender.Transaction{Amount: "1", Currency: "EUR", Payee: "{code} {amount}"}
	if got, _ := (*sender.Texts)(nil).Text(m); strings.Count(got, "123456") != 1 || !strings.Contains(got, "an {code} {amount}.") {
		t.Errorf("payee with placeholders: Text = %q, want them verbatim", got)
	}
	// Too long for one SMS: ErrTooLong from Text, the whole text from
	// DefaultText.
	m.Locale, m.Transaction = "ru", &sender.Transaction{Amount: "1", Currency: "EUR", Payee: strings.Repeat("Ж", 64)}
	if _, err := (*sender.Texts)(nil).Text(m); !errors.Is(err, sender.ErrTooLong) {
		t.Errorf("Text(payee too long) err = %v, want ErrTooLong", err)
	}
	if got := sender.DefaultText(m); !strings.Contains(got, m.Transaction.Payee) || !strings.HasPrefix(got, "Код 123456") {
		t.Errorf("DefaultText(payee too long) = %q, want the whole Russian text", got)
	}
	// Validate refuses a payment wording without one of its placeholders.
	for _, p := range []string{"{code}", "{amount}", "{payee}"} {
		bad := &sender.Texts{Wordings: map[string]sender.Wording{"de": {Code: "{code}", Payment: strings.ReplaceAll("{code} {amount} {payee}", p, "")}}}
		if err := bad.Validate(); !errors.Is(err, sender.ErrInvalidMessage) || !strings.Contains(err.Error(), p) {
			t.Errorf("Validate(payment without %s) = %v, want ErrInvalidMessage naming it", p, err)
		}
	}
	if err := custom.Validate(); err != nil {
		t.Errorf("Validate(custom) = %v", err)
	}
}
