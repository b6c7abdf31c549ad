package plivoadapter

import (
	"encoding/xml"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/go2fa/go2fa/sender"
)

// voiceLocale is a locale with the Plivo language SpeakLanguage maps it
// to and that language's first subtag, the key of phrases and payments.
type voiceLocale struct{ locale, lang, base string }

// voiceLocales returns, sorted, every Plivo language and every bare
// language SpeakLanguage knows, each with what SpeakLanguage maps it to;
// it reports one it maps to nothing.
func voiceLocales(t *testing.T) []voiceLocale {
	t.Helper()
	locales := make([]string, 0, len(speakLanguages)+len(defaultRegion))
	for l := range speakLanguages {
		locales = append(locales, l)
	}
	for l := range defaultRegion {
		locales = append(locales, l)
	}
	sort.Strings(locales)
	out := make([]voiceLocale, 0, len(locales))
	for _, locale := range locales {
		lang, ok := SpeakLanguage(locale)
		if !ok {
			t.Errorf("SpeakLanguage(%q) found no Plivo language", locale)
			continue
		}
		out = append(out, voiceLocale{locale, lang, strings.SplitN(lang, "-", 2)[0]})
	}
	return out
}

// Every locale SpeakLanguage maps to a Plivo voice has a spoken payment
// wording in that voice's language: the answer speaks amount (in the
// language's words) and payee before the digits, both times, and every
// <Speak> is in that language. Only a locale Plivo has no voice for is
// left to the English prompt.
func TestSpokenPaymentEveryLanguage(t *testing.T) {
	t.Parallel()
	pay := sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "Northwind Traders"}
	for _, v := range voiceLocales(t) {
		locale, lang, base := v.locale, v.lang, v.base
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

// phraseScripts names the script of each language whose words are not
// written in Latin letters.
var phraseScripts = map[string][]*unicode.RangeTable{
	"arb": {unicode.Arabic},
	"cmn": {unicode.Han},
	"hi":  {unicode.Devanagari},
	"ja":  {unicode.Han, unicode.Hiragana, unicode.Katakana},
	"ko":  {unicode.Hangul},
	"ru":  {unicode.Cyrillic},
}

// Every locale SpeakLanguage maps to a Plivo voice has the spoken words of
// a plain-code call in that voice's language: an introduction, the
// repeat's introduction and a goodbye, each its own language's (no
// sentence is shared with another language, every letter is in the
// language's script; Common marks such as the Japanese 'ー' belong to
// all), and the answer speaks them around the digits, every
// <Speak> in that language.
func TestSpokenPhrasesEveryLanguage(t *testing.T) {
	t.Parallel()
	owner := map[string]string{}
	bases := make([]string, 0, len(phrases))
	for base := range phrases {
		bases = append(bases, base)
	}
	sort.Strings(bases)
	for _, base := range bases {
		ph := phrases[base]
		scripts, ok := phraseScripts[base]
		if !ok {
			scripts = []*unicode.RangeTable{unicode.Latin}
		}
		for _, s := range []string{ph.first, ph.again, ph.bye} {
			if other, ok := owner[s]; ok && s != "" {
				t.Errorf("%s: %q is %s's copy", base, s, other)
			}
			owner[s] = base
			for _, r := range s {
				if unicode.IsLetter(r) && !unicode.In(r, unicode.Common) && !unicode.In(r, scripts...) {
					t.Errorf("%s: %q has %q, not in the language's script", base, s, r)
					break
				}
			}
		}
	}
	for _, v := range voiceLocales(t) {
		locale, lang, base := v.locale, v.lang, v.base
		ph, ok := phrases[base]
		if !ok || ph.first == "" || ph.again == "" || ph.bye == "" {
			t.Errorf("%s (Plivo %s): spoken phrases missing: %q", locale, lang, ph)
			continue
		}
		body := AnswerXML(Prompt{Code: "123456", Language: lang})
		var doc struct {
			Speak []struct {
				Language string `xml:"language,attr"`
				Text     string `xml:",chardata"`
			}
		}
		if err := xml.Unmarshal([]byte(body), &doc); err != nil {
			t.Errorf("%s: answer is not XML (%v): %s", locale, err, body)
			continue
		}
		digits := "1, 2, 3, 4, 5, 6."
		want := []string{ph.first, digits, ph.again, digits, ph.bye}
		got := make([]string, len(doc.Speak))
		for i, sp := range doc.Speak {
			got[i] = sp.Text
			if sp.Language != lang {
				t.Errorf("%s: <Speak> %q is in %q, want %s", locale, sp.Text, sp.Language, lang)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: speaks %q, want %q", locale, got, want)
		}
	}
}
