package sender

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Wording is the text of a verification message in one language. Code,
// Payment and Expires are sentences; the units are patterns in which "{n}"
// stands for the number.
type Wording struct {
	// Code is the sentence that gives the code; it must hold "{code}".
	Code string
	// Payment replaces Code for a Message with a Transaction: it must
	// hold "{code}", "{amount}" (the amount as AmountText writes it,
	// "EUR 12.50") and "{payee}" (the payee verbatim), as in "Code {code}
	// to pay {amount} to {payee}.". When it is empty, a payment message
	// takes the next wording of the fallback chain (see Texts.Wording)
	// that has one, Expires and units included.
	Payment string
	// Expires is the sentence that gives the code's lifetime, with "{ttl}"
	// for the lifetime in Minutes/Seconds form. It is dropped when the
	// lifetime is unknown or when the message would not otherwise fit in
	// one SMS.
	Expires string
	// Minutes and Seconds render a lifetime ("{n} min"); Minute and Second,
	// when set, are used for exactly one unit ("1 minute").
	Minutes, Minute, Seconds, Second string
}

// TextOptions adjust a message's text for an application or for one
// message. Every field is optional.
type TextOptions struct {
	// Brand prefixes the text as "Brand: ...". At most 32 characters, no
	// line breaks.
	Brand string
	// WebOTPDomain, when set, adds the origin-bound last line
	// "@domain #code" that browsers (WebOTP, iOS and Android autofill) use
	// to offer the code to that site only: a host name such as
	// "example.com".
	WebOTPDomain string
	// AppHash is the 11-character hash of an Android app that reads the
	// code with the SMS Retriever API; it is appended to the text.
	AppHash string
}

// Validate reports whether o can be used.
func (o TextOptions) Validate() error {
	switch {
	case utf8.RuneCountInString(o.Brand) > 32 || strings.ContainsFunc(o.Brand, unicode.IsControl):
		return fmt.Errorf("%w: brand must be at most 32 characters on one line", ErrInvalidMessage)
	case o.WebOTPDomain != "" && !validHost(o.WebOTPDomain):
		return fmt.Errorf("%w: WebOTP domain is not a host name", ErrInvalidMessage)
	case o.AppHash != "" && !validAppHash(o.AppHash):
		return fmt.Errorf("%w: app hash must be 11 base64 characters", ErrInvalidMessage)
	}
	return nil
}

// merge returns o with the empty fields taken from base.
func (o TextOptions) merge(base TextOptions) TextOptions {
	if o.Brand == "" {
		o.Brand = base.Brand
	}
	if o.WebOTPDomain == "" {
		o.WebOTPDomain = base.WebOTPDomain
	}
	if o.AppHash == "" {
		o.AppHash = base.AppHash
	}
	return o
}

func validHost(h string) bool {
	if len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || !strings.Contains(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c != '-' && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

func validAppHash(h string) bool {
	if len(h) != 11 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c != '+' && c != '/' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Texts renders the text of verification messages in the language of each
// Message's Locale. The zero value (and a nil *Texts) uses the built-in
// wordings and no options. A Texts must not be changed once in use; it is
// then safe for concurrent use.
type Texts struct {
	// TextOptions apply to every message; a Message's own non-empty
	// TextOptions fields win over them.
	TextOptions
	// Wordings adds languages or replaces built-in ones, keyed by BCP 47
	// tag ("de", "pt-BR"). The default value is nil: the built-in
	// wordings only.
	Wordings map[string]Wording
}

// ErrTooLong reports a text that does not fit in one SMS even without its
// Expires sentence (a long brand or WebOTP domain). It wraps
// ErrInvalidMessage.
var ErrTooLong = fmt.Errorf("%w: text does not fit in one sms", ErrInvalidMessage)

// Validate checks t's options and wordings: every wording must hold
// "{code}", every Payment it sets "{code}", "{amount}" and "{payee}", and
// with t's options and a 6-digit code (the default length) the code
// sentence must fit in one SMS (how much room a payment leaves depends on
// its payee; the otp Verifier checks each one before it sends). Without options every built-in wording fits with codes of
// up to 10 digits; with a brand and a WebOTP domain, a longer code in a
// UCS-2 language may not, and Text then fails with ErrTooLong.
func (t *Texts) Validate() error {
	if t == nil {
		return nil
	}
	if err := t.TextOptions.Validate(); err != nil {
		return err
	}
	for tag, w := range t.Wordings {
		if !strings.Contains(w.Code, "{code}") {
			return fmt.Errorf("%w: wording %q has no {code}", ErrInvalidMessage, tag)
		}
		if p := missingPlaceholder(w.Payment); w.Payment != "" && p != "" {
			return fmt.Errorf("%w: payment wording %q has no %s", ErrInvalidMessage, tag, p)
		}
	}
	for _, tag := range t.Languages() {
		m := Message{Code: "000000", Locale: tag}
		if _, err := t.Text(m); err != nil {
			return fmt.Errorf("wording %q: %w", tag, err)
		}
	}
	return nil
}

// Languages returns the tags t has a wording for, sorted.
func (t *Texts) Languages() []string {
	seen := make(map[string]bool, len(wordings))
	for tag := range wordings {
		seen[tag] = true
	}
	if t != nil {
		for tag := range t.Wordings {
			seen[canonicalTag(tag)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for tag := range seen {
		out = append(out, tag)
	}
	sort.Strings(out)
	return out
}

// Wording returns the wording t uses for locale and the tag it was found
// under, following the fallback chain: the full tag ("pt-br"), an alias
// ("zh-tw" to "zh-hant", "pt-ao" to "pt-pt", "no" to "nb"), the bare
// language ("pt"), and finally "en".
func (t *Texts) Wording(locale string) (string, Wording) {
	return t.wording(locale, false)
}

// wording is Wording; with payment, it skips wordings without a Payment
// sentence. Every built-in wording has one.
func (t *Texts) wording(locale string, payment bool) (string, Wording) {
	for _, tag := range fallbackChain(locale) {
		if t != nil {
			for k, w := range t.Wordings {
				if canonicalTag(k) == tag && (!payment || w.Payment != "") {
					return tag, w
				}
			}
		}
		if w, ok := wordings[tag]; ok {
			return tag, w
		}
	}
	return "en", wordings["en"]
}

// missingPlaceholder returns the first of "{code}", "{amount}" and
// "{payee}" that a payment sentence lacks, or "".
func missingPlaceholder(payment string) string {
	for _, p := range []string{"{code}", "{amount}", "{payee}"} {
		if !strings.Contains(payment, p) {
			return p
		}
	}
	return ""
}

// Text returns the text to send for m: m.Text when set, else the wording
// of m.Locale with m's TextOptions over t's: its Payment sentence when
// m.Transaction is set, else its Code sentence. When the whole text does not
// fit in one SMS, the Expires sentence is dropped; when it still does not
// fit, Text fails with ErrTooLong. A WhatsApp message has no text of its
// own (WhatsApp sends the approved template it names): Text fails with
// ErrUnsupportedChannel.
func (t *Texts) Text(m Message) (string, error) {
	if m.Channel == WhatsApp {
		return "", fmt.Errorf("%w: whatsapp messages are templates, not texts", ErrUnsupportedChannel)
	}
	if m.Text != "" {
		return m.Text, nil
	}
	var base TextOptions
	if t != nil {
		base = t.TextOptions
	}
	o := m.TextOptions.merge(base)
	if err := o.Validate(); err != nil {
		return "", err
	}
	w := t.wordingFor(m)
	full := render(w, o, m, true)
	if FitsOneSMS(full) {
		return full, nil
	}
	short := render(w, o, m, false)
	if FitsOneSMS(short) {
		return short, nil
	}
	enc, n := SMSLength(short)
	return "", fmt.Errorf("%w: %d %s units", ErrTooLong, n, enc)
}

// wordingFor returns the wording for m's locale, one with a Payment
// sentence when m has a Transaction.
func (t *Texts) wordingFor(m Message) Wording {
	_, w := t.wording(m.Locale, m.Transaction != nil)
	return w
}

// render builds the text: "Brand: <sentence> <expiry> <app hash>", then a
// blank line and "@domain #code" as the last line. The sentence is w's
// Payment, filled with m.Transaction, when m has one, else w's Code.
func render(w Wording, o TextOptions, m Message, expiry bool) string {
	var b strings.Builder
	if o.Brand != "" {
		b.WriteString(strings.TrimSpace(o.Brand))
		b.WriteString(": ")
	}
	sentence := strings.ReplaceAll(w.Code, "{code}", m.Code)
	if t := m.Transaction; t != nil {
		// One pass: a payee is never searched for placeholders.
		sentence = strings.NewReplacer("{code}", m.Code, "{amount}", t.AmountText(), "{payee}", t.Payee).Replace(w.Payment)
	}
	b.WriteString(sentence)
	if expiry && w.Expires != "" {
		if life := w.lifetime(m.TTL); life != "" {
			if !strings.HasSuffix(sentence, "。") {
				b.WriteString(" ") // no space after a CJK full stop
			}
			b.WriteString(strings.ReplaceAll(w.Expires, "{ttl}", life))
		}
	}
	if o.AppHash != "" {
		b.WriteString(" ")
		b.WriteString(o.AppHash)
	}
	if o.WebOTPDomain != "" {
		b.WriteString("\n\n@")
		b.WriteString(o.WebOTPDomain)
		b.WriteString(" #")
		b.WriteString(m.Code)
	}
	return b.String()
}

// lifetime renders ttl in whole units, rounded down: seconds below a
// minute (at least one), minutes from there. It returns "" for ttl <= 0 or
// a wording without units.
func (w Wording) lifetime(ttl time.Duration) string {
	if ttl <= 0 {
		return ""
	}
	n, many, one := int(ttl/time.Minute), w.Minutes, w.Minute
	if ttl < time.Minute {
		n, many, one = max(int(ttl/time.Second), 1), w.Seconds, w.Second
	}
	if many == "" {
		return ""
	}
	if n == 1 && one != "" {
		return one
	}
	return strings.ReplaceAll(many, "{n}", strconv.Itoa(n))
}

// canonicalTag lowercases a BCP 47 tag and writes "_" as "-".
func canonicalTag(tag string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
}

// fallbackChain lists the tags to try for locale, most specific first.
func fallbackChain(locale string) []string {
	tag := canonicalTag(locale)
	if tag == "" {
		return []string{"en"}
	}
	chain := make([]string, 0, 6)
	parts := strings.Split(tag, "-")
	for i := len(parts); i > 0; i-- {
		t := strings.Join(parts[:i], "-")
		chain = append(chain, t)
		if a, ok := tagAliases[t]; ok {
			chain = append(chain, a)
		}
	}
	return append(chain, "en")
}

// tagAliases maps tags (and legacy language codes) to the wording used for
// them.
var tagAliases = map[string]string{
	"zh-tw": "zh-hant", "zh-hk": "zh-hant", "zh-mo": "zh-hant",
	"zh-cn": "zh", "zh-sg": "zh", "zh-hans": "zh",
	"pt-pt": "pt-pt", "pt-ao": "pt-pt", "pt-mz": "pt-pt", "pt-cv": "pt-pt",
	"pt-gw": "pt-pt", "pt-st": "pt-pt", "pt-tl": "pt-pt",
	"no": "nb", "nn": "nb", "tl": "fil", "in": "id", "iw": "he",
}

// wordings are the built-in languages: the most used in SMS verification
// traffic, each in its own phrasing. TestTextsFitOneSMS renders every one
// of them with 4- to 10-digit codes and checks it fits in one SMS.
//
// Every one has a Payment sentence (TestPaymentWordings). Where a plain
// phrasing exists in the GSM-7 alphabet, the Payment sentence uses it
// ("Clave" rather than "Código", "Use" in Portuguese, "transakcji" in
// Polish), since one character outside GSM-7 makes the whole SMS UCS-2,
// 70 units instead of 160, and leaves less room for the payee.
var wordings = map[string]Wording{
	"en": {Code: "Your verification code is {code}.",
		Payment: "Code {code} to pay {amount} to {payee}.",
		Expires: "It expires in {ttl}.",
		Minutes: "{n} minutes", Minute: "1 minute", Seconds: "{n} seconds", Second: "1 second"},
	"es": {Code: "Tu código de verificación es {code}.",
		Payment: "Clave {code} para pagar {amount} a {payee}.",
		Expires: "Caduca en {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"pt": {Code: "Seu código de verificação é {code}.",
		Payment: "Use {code} para pagar {amount} a {payee}.",
		Expires: "Expira em {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"pt-pt": {Code: "O seu código de verificação é {code}.",
		Payment: "Utilize {code} para pagar {amount} a {payee}.",
		Expires: "Expira em {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"fr": {Code: "Votre code de vérification est {code}.",
		Payment: "Code {code} pour payer {amount} à {payee}.",
		Expires: "Il expire dans {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"de": {Code: "Ihr Bestätigungscode lautet {code}.",
		Payment: "Code {code} zur Zahlung von {amount} an {payee}.",
		Expires: "Er ist {ttl} gültig.",
		Minutes: "{n} Min.", Seconds: "{n} Sek."},
	"it": {Code: "Il tuo codice di verifica è {code}.",
		Payment: "Codice {code} per pagare {amount} a {payee}.",
		Expires: "Scade tra {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"nl": {Code: "Je verificatiecode is {code}.",
		Payment: "Code {code} om {amount} te betalen aan {payee}.",
		Expires: "Deze verloopt over {ttl}.",
		Minutes: "{n} min", Seconds: "{n} sec"},
	"ru": {Code: "Ваш код подтверждения: {code}.",
		Payment: "Код {code} для оплаты {amount} получателю {payee}.",
		Expires: "Действует {ttl}",
		Minutes: "{n} мин.", Seconds: "{n} сек."},
	"uk": {Code: "Ваш код підтвердження: {code}.",
		Payment: "Код {code} для оплати {amount} отримувачу {payee}.",
		Expires: "Дійсний {ttl}",
		Minutes: "{n} хв.", Seconds: "{n} с."},
	"pl": {Code: "Twój kod weryfikacyjny to {code}.",
		Payment: "Kod {code} do transakcji {amount} dla {payee}.",
		Expires: "Ważny przez {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"tr": {Code: "Doğrulama kodunuz: {code}.",
		Payment: "{payee} için {amount} ödeme kodu: {code}.",
		Expires: "{ttl} geçerlidir.",
		Minutes: "{n} dk", Seconds: "{n} sn"},
	"ar": {Code: "رمز التحقق الخاص بك هو {code}.",
		Payment: "الرمز {code} لدفع {amount} إلى {payee}.",
		Expires: "صالح لمدة {ttl}.",
		Minutes: "{n} دقائق", Minute: "دقيقة واحدة", Seconds: "{n} ثانية"},
	"he": {Code: "קוד האימות שלך הוא {code}.",
		Payment: "קוד {code} לתשלום {amount} ל-{payee}.",
		Expires: "הקוד בתוקף {ttl}.",
		Minutes: "{n} דקות", Minute: "דקה אחת", Seconds: "{n} שניות"},
	"fa": {Code: "کد تأیید شما {code} است.",
		Payment: "کد {code} برای پرداخت {amount} به {payee}.",
		Expires: "تا {ttl} معتبر است.",
		Minutes: "{n} دقیقه", Seconds: "{n} ثانیه"},
	"hi": {Code: "आपका सत्यापन कोड {code} है।",
		Payment: "{payee} को {amount} के भुगतान का कोड {code} है।",
		Expires: "यह {ttl} तक मान्य है।",
		Minutes: "{n} मिनट", Seconds: "{n} सेकंड"},
	"bn": {Code: "আপনার যাচাইকরণ কোড {code}।",
		Payment: "{payee}-কে {amount} পরিশোধের কোড {code}।",
		Expires: "মেয়াদ {ttl}।",
		Minutes: "{n} মিনিট", Seconds: "{n} সেকেন্ড"},
	"ur": {Code: "آپ کا تصدیقی کوڈ {code} ہے۔",
		Payment: "{payee} کو {amount} کی ادائیگی کا کوڈ {code} ہے۔",
		Expires: "{ttl} تک کارآمد۔",
		Minutes: "{n} منٹ", Seconds: "{n} سیکنڈ"},
	"id": {Code: "Kode verifikasi Anda adalah {code}.",
		Payment: "Kode {code} untuk membayar {amount} ke {payee}.",
		Expires: "Berlaku selama {ttl}.",
		Minutes: "{n} menit", Seconds: "{n} detik"},
	"ms": {Code: "Kod pengesahan anda ialah {code}.",
		Payment: "Kod {code} untuk membayar {amount} kepada {payee}.",
		Expires: "Sah selama {ttl}.",
		Minutes: "{n} minit", Seconds: "{n} saat"},
	"fil": {Code: "Ang iyong verification code ay {code}.",
		Payment: "Code {code} para magbayad ng {amount} sa {payee}.",
		Expires: "Valid ito nang {ttl}.",
		Minutes: "{n} minuto", Seconds: "{n} segundo"},
	"vi": {Code: "Mã xác minh của bạn là {code}.",
		Payment: "Mã {code} để thanh toán {amount} cho {payee}.",
		Expires: "Hết hạn sau {ttl}.",
		Minutes: "{n} phút", Seconds: "{n} giây"},
	"th": {Code: "รหัสยืนยันของคุณคือ {code}",
		Payment: "รหัส {code} สำหรับชำระเงิน {amount} ให้ {payee}",
		Expires: "หมดอายุใน {ttl}",
		Minutes: "{n} นาที", Seconds: "{n} วินาที"},
	"zh": {Code: "您的验证码是{code}。",
		Payment: "验证码{code}，用于向{payee}支付{amount}。",
		Expires: "{ttl}内有效。",
		Minutes: "{n}分钟", Seconds: "{n}秒"},
	"zh-hant": {Code: "您的驗證碼是{code}。",
		Payment: "驗證碼{code}，用於向{payee}支付{amount}。",
		Expires: "{ttl}內有效。",
		Minutes: "{n}分鐘", Seconds: "{n}秒"},
	"ja": {Code: "認証コードは{code}です。",
		Payment: "{payee}への{amount}のお支払いの認証コードは{code}です。",
		Expires: "有効期限は{ttl}です。",
		Minutes: "{n}分", Seconds: "{n}秒"},
	"ko": {Code: "인증번호는 {code}입니다.",
		Payment: "{payee}에 {amount} 결제 인증번호는 {code}입니다.",
		Expires: "{ttl} 동안 유효합니다.",
		Minutes: "{n}분", Seconds: "{n}초"},
	"sv": {Code: "Din verifieringskod är {code}.",
		Payment: "Kod {code} för att betala {amount} till {payee}.",
		Expires: "Den gäller i {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"da": {Code: "Din bekræftelseskode er {code}.",
		Payment: "Kode {code} til betaling af {amount} til {payee}.",
		Expires: "Den udløber om {ttl}.",
		Minutes: "{n} minutter", Minute: "1 minut", Seconds: "{n} sekunder", Second: "1 sekund"},
	"nb": {Code: "Din bekreftelseskode er {code}.",
		Payment: "Kode {code} for å betale {amount} til {payee}.",
		Expires: "Den utløper om {ttl}.",
		Minutes: "{n} min", Seconds: "{n} sek"},
	"fi": {Code: "Vahvistuskoodisi on {code}.",
		Payment: "Koodi {code}: maksu {amount} saajalle {payee}.",
		Expires: "Se vanhenee {ttl} kuluttua.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"cs": {Code: "Váš ověřovací kód je {code}.",
		Payment: "Kód {code} k platbě {amount} příjemci {payee}.",
		Expires: "Platí {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"ro": {Code: "Codul tău de verificare este {code}.",
		Payment: "Codul {code} pentru plata de {amount}, beneficiar {payee}.",
		Expires: "Expiră în {ttl}.",
		Minutes: "{n} min", Seconds: "{n} s"},
	"hu": {Code: "Az ellenőrző kódod: {code}.",
		Payment: "Kód: {code}. Fizetés: {amount}, {payee} részére.",
		Expires: "{ttl} múlva lejár.",
		Minutes: "{n} perc", Seconds: "{n} mp"},
	"el": {Code: "Ο κωδικός επαλήθευσής σας είναι {code}.",
		Payment: "Κωδικός {code} για πληρωμή {amount} προς {payee}.",
		Expires: "Λήγει σε {ttl}.",
		Minutes: "{n} λεπτά", Minute: "1 λεπτό", Seconds: "{n} δευτ."},
	"sw": {Code: "Msimbo wako wa uthibitisho ni {code}.",
		Payment: "Msimbo {code} wa kulipa {amount} kwa {payee}.",
		Expires: "Unaisha baada ya {ttl}.",
		Minutes: "dakika {n}", Seconds: "sekunde {n}"},
}
