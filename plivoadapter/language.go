package plivoadapter

import (
	"encoding/xml"
	"io"
	"strings"

	"github.com/go2fa/go2fa/sender"
)

// speakLanguages are the <Speak> languages Plivo documents for its
// standard voices, "List of languages supported" in
// https://plivo.com/docs/voice/api/call/speak-text-on-calls/speak-text-on-a-call.
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

// phraseSet is the spoken wording of a plain-code call in one language:
// first and again lead into the digits, bye ends the call.
type phraseSet struct{ first, again, bye string }

// phrases holds the spoken wording of a plain-code call for every
// language that SpeakLanguage maps to a Plivo voice, keyed like payments
// by the Plivo language's first subtag; TestSpokenPhrasesEveryLanguage
// fails when one is missing, incomplete or another language's copy.
var phrases = map[string]phraseSet{
	"en":  {"Your verification code is", "Once again, your code is", "Goodbye."},
	"de":  {"Ihr Bestätigungscode lautet", "Noch einmal, Ihr Code lautet", "Auf Wiederhören."},
	"fr":  {"Votre code de vérification est", "Je répète, votre code est", "Au revoir."},
	"es":  {"Su código de verificación es", "Otra vez, su código es", "Adiós."},
	"it":  {"Il suo codice di verifica è", "Ripeto, il suo codice è", "Arrivederci."},
	"pt":  {"O seu código de verificação é", "Repetindo, o seu código é", "Adeus."},
	"nl":  {"Uw verificatiecode is", "Nogmaals, uw code is", "Tot ziens."},
	"arb": {"رمز التحقق الخاص بك هو", "مرة أخرى، رمزك هو", "مع السلامة."},
	"cmn": {"您的验证码是", "再说一遍，您的验证码是", "再见。"},
	"da":  {"Din bekræftelseskode er", "Endnu en gang, din kode er", "Farvel."},
	"hi":  {"आपका सत्यापन कोड है", "फिर से, आपका कोड है", "धन्यवाद।"},
	"is":  {"Staðfestingarkóðinn þinn er", "Aftur, kóðinn þinn er", "Bless."},
	"ja":  {"お客様の認証コードは", "もう一度申し上げます。お客様の認証コードは", "失礼いたします。"},
	"ko":  {"고객님의 인증번호는", "다시 한 번, 고객님의 인증번호는", "감사합니다."},
	"nb":  {"Bekreftelseskoden din er", "Én gang til, koden din er", "Ha det bra."},
	"pl":  {"Twój kod weryfikacyjny to", "Jeszcze raz, twój kod to", "Do widzenia."},
	"ro":  {"Codul dumneavoastră de verificare este", "Încă o dată, codul dumneavoastră este", "La revedere."},
	"ru":  {"Ваш код подтверждения:", "Повторяю, ваш код:", "До свидания."},
	"sv":  {"Din verifieringskod är", "En gång till, din kod är", "Hej då."},
}

// spokenPayment is the spoken transaction sentence of one language:
// first and again hold "{amount}" and "{payee}" and lead into the digits,
// point is the word for the decimal separator, and currencies names the
// most used currencies (any other is spelled letter by letter).
type spokenPayment struct {
	first, again, point string
	currencies          map[string]string
}

// payments holds the spoken transaction sentence of every language that
// SpeakLanguage maps to a Plivo voice, keyed by the Plivo language's
// first subtag ("arb", "cmn", "pt" for pt-BR and pt-PT);
// TestSpokenPaymentEveryLanguage fails when one is missing. A call in a
// language without one would speak the whole prompt in English (en-US),
// so that the voice and the words match (see AnswerXML).
var payments = map[string]spokenPayment{
	"en": {"Your code to pay {amount} to {payee} is", "Once again, your code to pay {amount} to {payee} is", "point",
		map[string]string{"EUR": "euros", "USD": "US dollars", "GBP": "pounds sterling", "CHF": "Swiss francs"}},
	"de": {"Ihr Code für die Zahlung von {amount} an {payee} lautet", "Noch einmal, Ihr Code für die Zahlung von {amount} an {payee} lautet", "Komma",
		map[string]string{"EUR": "Euro", "USD": "US-Dollar", "GBP": "Pfund Sterling", "CHF": "Schweizer Franken"}},
	"fr": {"Votre code pour payer {amount} à {payee} est", "Je répète, votre code pour payer {amount} à {payee} est", "virgule",
		map[string]string{"EUR": "euros", "USD": "dollars américains", "GBP": "livres sterling", "CHF": "francs suisses"}},
	"es": {"Su código para pagar {amount} a {payee} es", "Otra vez, su código para pagar {amount} a {payee} es", "coma",
		map[string]string{"EUR": "euros", "USD": "dólares estadounidenses", "GBP": "libras esterlinas", "CHF": "francos suizos"}},
	"it": {"Il suo codice per pagare {amount} a {payee} è", "Ripeto, il suo codice per pagare {amount} a {payee} è", "virgola",
		map[string]string{"EUR": "euro", "USD": "dollari statunitensi", "GBP": "sterline", "CHF": "franchi svizzeri"}},
	"nl": {"Uw code om {amount} te betalen aan {payee} is", "Nogmaals, uw code om {amount} te betalen aan {payee} is", "komma",
		map[string]string{"EUR": "euro", "USD": "Amerikaanse dollar", "GBP": "Britse pond", "CHF": "Zwitserse frank"}},
	"pt": {"O seu código para pagar {amount} a {payee} é", "Repetindo, o seu código para pagar {amount} a {payee} é", "vírgula",
		map[string]string{"EUR": "euros", "USD": "dólares americanos", "GBP": "libras esterlinas", "CHF": "francos suíços", "BRL": "reais"}},
	"arb": {"رمزك لدفع {amount} إلى {payee} هو", "مرة أخرى، رمزك لدفع {amount} إلى {payee} هو", "فاصلة",
		map[string]string{"EUR": "يورو", "USD": "دولار أمريكي", "GBP": "جنيه إسترليني", "CHF": "فرنك سويسري", "SAR": "ريال سعودي", "AED": "درهم إماراتي"}},
	"cmn": {"您向{payee}支付{amount}的验证码是", "再说一遍，您向{payee}支付{amount}的验证码是", "点",
		map[string]string{"EUR": "欧元", "USD": "美元", "GBP": "英镑", "CHF": "瑞士法郎", "CNY": "人民币"}},
	"da": {"Din kode til betaling af {amount} til {payee} er", "Endnu en gang, din kode til betaling af {amount} til {payee} er", "komma",
		map[string]string{"EUR": "euro", "USD": "amerikanske dollars", "GBP": "britiske pund", "CHF": "schweizerfranc", "DKK": "kroner"}},
	"hi": {"{payee} को {amount} के भुगतान के लिए आपका कोड है", "फिर से, {payee} को {amount} के भुगतान के लिए आपका कोड है", "दशमलव",
		map[string]string{"EUR": "यूरो", "USD": "अमेरिकी डॉलर", "GBP": "ब्रिटिश पाउंड", "CHF": "स्विस फ़्रैंक", "INR": "रुपये"}},
	"is": {"Kóðinn þinn til að greiða {amount} til {payee} er", "Aftur, kóðinn þinn til að greiða {amount} til {payee} er", "komma",
		map[string]string{"EUR": "evrur", "USD": "Bandaríkjadalir", "GBP": "sterlingspund", "CHF": "svissneskir frankar", "ISK": "krónur"}},
	"ja": {"{payee}への{amount}のお支払いの認証コードは", "もう一度申し上げます。{payee}への{amount}のお支払いの認証コードは", "点",
		map[string]string{"EUR": "ユーロ", "USD": "米ドル", "GBP": "英ポンド", "CHF": "スイスフラン", "JPY": "円"}},
	"ko": {"{payee}에 {amount} 결제를 위한 인증번호는", "다시 한 번, {payee}에 {amount} 결제를 위한 인증번호는", "점",
		map[string]string{"EUR": "유로", "USD": "미국 달러", "GBP": "영국 파운드", "CHF": "스위스 프랑", "KRW": "원"}},
	"nb": {"Koden din for å betale {amount} til {payee} er", "Én gang til, koden din for å betale {amount} til {payee} er", "komma",
		map[string]string{"EUR": "euro", "USD": "amerikanske dollar", "GBP": "britiske pund", "CHF": "sveitsiske franc", "NOK": "kroner"}},
	"pl": {"Twój kod do płatności {amount} dla {payee} to", "Jeszcze raz, twój kod do płatności {amount} dla {payee} to", "przecinek",
		map[string]string{"EUR": "euro", "USD": "dolarów amerykańskich", "GBP": "funtów szterlingów", "CHF": "franków szwajcarskich", "PLN": "złotych"}},
	"ro": {"Codul dumneavoastră pentru plata de {amount} către {payee} este", "Încă o dată, codul dumneavoastră pentru plata de {amount} către {payee} este", "virgulă",
		map[string]string{"EUR": "euro", "USD": "dolari americani", "GBP": "lire sterline", "CHF": "franci elvețieni", "RON": "lei"}},
	"ru": {"Ваш код для оплаты {amount} получателю {payee}:", "Повторяю, ваш код для оплаты {amount} получателю {payee}:", "запятая",
		map[string]string{"EUR": "евро", "USD": "долларов США", "GBP": "фунтов стерлингов", "CHF": "швейцарских франков", "RUB": "рублей"}},
	"sv": {"Din kod för att betala {amount} till {payee} är", "En gång till, din kod för att betala {amount} till {payee} är", "komma",
		map[string]string{"EUR": "euro", "USD": "amerikanska dollar", "GBP": "brittiska pund", "CHF": "schweiziska franc", "SEK": "kronor"}},
}

// spokenAmount writes an amount so that a text-to-speech voice reads it
// one way only: the whole part as a number, the decimal separator as the
// language's word, each decimal digit on its own, then the currency's
// name, or its code letter by letter: "12 point 5 0 euros",
// "1250 J P Y".
func (sp spokenPayment) spokenAmount(t sender.Transaction) string {
	var b strings.Builder
	whole, frac, _ := strings.Cut(t.Amount, ".")
	b.WriteString(whole)
	if frac != "" {
		b.WriteString(" " + sp.point)
		for _, d := range frac {
			b.WriteString(" ")
			b.WriteRune(d)
		}
	}
	b.WriteString(" ")
	if name, ok := sp.currencies[t.Currency]; ok {
		b.WriteString(name)
	} else {
		b.WriteString(strings.Join(strings.Split(t.Currency, ""), " "))
	}
	return b.String()
}

// sentence fills a first or again pattern with t.
func (sp spokenPayment) sentence(pattern string, t sender.Transaction) string {
	return strings.NewReplacer("{amount}", sp.spokenAmount(t), "{payee}", t.Payee).Replace(pattern)
}

func xmlEscape(w io.Writer, s string) error { return xml.EscapeText(w, []byte(s)) }
