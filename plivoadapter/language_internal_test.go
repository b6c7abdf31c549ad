package plivoadapter

import (
	"sort"
	"strings"
	"testing"

	"github.com/go2fa/go2fa/sender"
)

// Every locale SpeakLanguage maps to a Plivo voice has a spoken payment
// wording in that voice's language: the answer speaks amount (in the
// language's words) and payee before the digits, both times, and every
// <Speak> is in that language. Only a locale Plivo has no voice for is
// left to the English prompt.
func TestSpokenPaymentEveryLanguage(t *testing.T) {
	t.Parallel()
	locales := make([]string, 0, len(speakLanguages)+len(defaultRegion))
	for l := range speakLanguages {
		locales = append(locales, l)
	}
	for l := range defaultRegion {
		locales = append(locales, l)
	}
	sort.Strings(locales)
	pay := sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "Northwind Traders"}
	for _, locale := range locales {
		lang, ok := SpeakLanguage(locale)
		if !ok {
			t.Errorf("SpeakLanguage(%q) found no Plivo language", locale)
			continue
		}
		base := strings.SplitN(lang, "-", 2)[0]
		sp, ok := payments[base]
		if !ok {
			t.Errorf("%s (Plivo %s): no spoken payment wording", locale, lang)
			continue
		}
		for _, pattern := range []string{sp.first, sp.again} {
			if !strings.Contains(pattern, "{amount}") || !strings.Contains(pattern, "{payee}") {
				t.Errorf("%s: spoken wording %q lacks {amount} or {payee}", lang, pattern)
			}
		}
		if sp.point == "" || sp.currencies["EUR"] == "" {
			t.Errorf("%s: no decimal word or no name for EUR", lang)
		}
		if base != "en" && (sp.first == payments["en"].first || sp.point == payments["en"].point) {
			t.Errorf("%s: spoken wording is English", lang)
		}
		body := AnswerXML(Prompt{Code: "123456", Language: lang, Transaction: &pay})
		if n := strings.Count(body, "<Speak"); n < 4 || strings.Count(body, `language="`+lang+`"`) != n {
			t.Errorf("%s: not every <Speak> is in %s: %s", locale, lang, body)
		}
		amount := "12 " + sp.point + " 5 0 " + sp.currencies["EUR"]
		for _, s := range []string{sp.sentence(sp.first, pay), sp.sentence(sp.again, pay)} {
			if !strings.Contains(s, amount) || !strings.Contains(s, pay.Payee) {
				t.Errorf("%s: %q lacks the amount %q or the payee", lang, s, amount)
			}
			var esc strings.Builder
			_ = xmlEscape(&esc, s)
			if !strings.Contains(body, ">"+esc.String()+"</Speak>") {
				t.Errorf("%s: the answer does not speak %q: %s", lang, s, body)
			}
		}
	}
}
