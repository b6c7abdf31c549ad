package sender

import "unicode/utf16"

// Encoding is the character set an SMS is sent in.
type Encoding string

const (
	// GSM7 is the GSM 03.38 default alphabet: 160 characters in one SMS;
	// characters of the extension table (such as € [ ] { } ^ ~ | \) count
	// as two.
	GSM7 Encoding = "GSM-7"
	// UCS2 is used as soon as one character is outside GSM-7: 70 UTF-16
	// code units in one SMS.
	UCS2 Encoding = "UCS-2"
)

// Single-SMS limits, in units of each encoding.
const (
	MaxGSM7Units = 160
	MaxUCS2Units = 70
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters sent as escape + septet (two each).
const gsmExtension = "\f^{}\\[~]|€"

var gsmUnits = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// SMSLength reports how text would be encoded and how many units of that
// encoding it takes: GSM-7 septets (extension characters count 2) or, if
// any character is outside GSM-7, UTF-16 code units.
func SMSLength(text string) (Encoding, int) {
	n := 0
	for _, r := range text {
		u, ok := gsmUnits[r]
		if !ok {
			return UCS2, len(utf16.Encode([]rune(text)))
		}
		n += u
	}
	return GSM7, n
}

// FitsOneSMS reports whether text fits in a single SMS part: 160 GSM-7
// units, or 70 UTF-16 units when it needs UCS-2.
func FitsOneSMS(text string) bool {
	enc, n := SMSLength(text)
	if enc == UCS2 {
		return n <= MaxUCS2Units
	}
	return n <= MaxGSM7Units
}

// Limit is the length of one SMS part in e's units: MaxGSM7Units for
// GSM7, MaxUCS2Units otherwise.
func (e Encoding) Limit() int {
	if e == GSM7 {
		return MaxGSM7Units
	}
	return MaxUCS2Units
}
