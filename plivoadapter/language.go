package plivoadapter

import (
	"encoding/xml"
	"io"
	"strings"
)

// speakLanguages are the <Speak> languages Plivo documents for its
// standard voices.
var speakLanguages = map[string]bool{
	"arb": true, "cmn-CN": true, "da-DK": true, "nl-NL": true, "en-AU": true,
	"en-IN": true, "en-GB": true, "en-US": true, "en-GB-WLS": true,
	"fr-CA": true, "fr-FR": true, "de-DE": true, "hi-IN": true, "is-IS": true,
	"it-IT": true, "ja-JP": true, "ko-KR": true, "nb-NO": true, "pl-PL": true,
	"pt-BR": true, "pt-PT": true, "ro-RO": true, "ru-RU": true, "es-ES": true,
	"es-US": true, "sv-SE": true,
}

// manOnly lists languages Plivo offers with a MAN voice only.
var manOnly = map[string]bool{"pt-PT": true, "en-GB-WLS": true}

// defaultRegion maps a bare language to the Plivo language used for it.
var defaultRegion = map[string]string{
	"ar": "arb", "zh": "cmn-CN", "da": "da-DK", "nl": "nl-NL", "en": "en-US",
	"fr": "fr-FR", "de": "de-DE", "hi": "hi-IN", "is": "is-IS", "it": "it-IT",
	"ja": "ja-JP", "ko": "ko-KR", "nb": "nb-NO", "no": "nb-NO", "pl": "pl-PL",
	"pt": "pt-BR", "ro": "ro-RO", "ru": "ru-RU", "es": "es-ES", "sv": "sv-SE",
}

// SpeakLanguage maps a BCP 47 locale ("de", "de-AT", "pt_BR", "EN-gb") to
// the Plivo <Speak> language to use, and reports whether Plivo offers one:
// an exact match first, else the language's usual region ("de-AT" speaks
// "de-DE").
func SpeakLanguage(locale string) (string, bool) {
	parts := strings.Split(strings.ReplaceAll(strings.TrimSpace(locale), "_", "-"), "-")
	if len(parts) == 0 || parts[0] == "" {
		return "", false
	}
	parts[0] = strings.ToLower(parts[0])
	if len(parts) > 1 {
		parts[1] = strings.ToUpper(parts[1])
		for i := 2; i < len(parts); i++ {
			parts[i] = strings.ToUpper(parts[i])
		}
		if l := strings.Join(parts, "-"); speakLanguages[l] {
			return l, true
		}
		if l := parts[0] + "-" + parts[1]; speakLanguages[l] {
			return l, true
		}
	}
	if speakLanguages[parts[0]] {
		return parts[0], true
	}
	l, ok := defaultRegion[parts[0]]
	return l, ok
}

type phraseSet struct{ first, again, bye string }

// phrases holds the spoken introduction per language; languages without
// an entry hear the digits only.
var phrases = map[string]phraseSet{
	"en": {"Your verification code is", "Once again, your code is", "Goodbye."},
	"de": {"Ihr Bestätigungscode lautet", "Noch einmal, Ihr Code lautet", "Auf Wiederhören."},
	"fr": {"Votre code de vérification est", "Je répète, votre code est", "Au revoir."},
	"es": {"Su código de verificación es", "Otra vez, su código es", "Adiós."},
	"it": {"Il suo codice di verifica è", "Ripeto, il suo codice è", "Arrivederci."},
	"pt": {"O seu código de verificação é", "Repetindo, o seu código é", "Adeus."},
	"nl": {"Uw verificatiecode is", "Nogmaals, uw code is", "Tot ziens."},
}

func xmlEscape(w io.Writer, s string) error { return xml.EscapeText(w, []byte(s)) }
