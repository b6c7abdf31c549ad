package sender

import "unicode/utf16"

// Single-SMS limits, in the units SMSUnits counts.
const (
	// MaxGSM7Units is the length of one SMS in the GSM 03.38 default
	// alphabet, in septets.
	MaxGSM7Units = 160
	// MaxUCS2Units is the length of one SMS in UCS-2, in UTF-16 code units.
	MaxUCS2Units = 70
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters sent as escape + septet (two each).
const gsmExtension = "\f^{}\\[~]|€"

var gsmSeptets = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// SMSUnits reports how text would be encoded in an SMS and how long it is
// in that encoding's units: GSM-7 septets (characters of the extension
// table, such as € [ ] { }, count two), or, as soon as one character is
// outside GSM-7, UTF-16 code units of UCS-2. limit is the length of one SMS
// in that encoding (MaxGSM7Units or MaxUCS2Units).
func SMSUnits(text string) (gsm7 bool, units, limit int) {
	for _, r := range text {
		u, ok := gsmSeptets[r]
		if !ok {
			return false, len(utf16.Encode([]rune(text))), MaxUCS2Units
		}
		units += u
	}
	return true, units, MaxGSM7Units
}
