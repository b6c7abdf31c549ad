package plivoadapter

import (
	"fmt"
	"unicode/utf16"
)

// Encoding is the character set an SMS is sent in (a string constant,
// safe for concurrent use).
type Encoding string

const (
	// GSM7 is the GSM 03.38 default alphabet: 160 characters in one SMS,
	// characters of the extension table (such as € [ ] { } ^ ~ | \) count
	// as two.
	GSM7 Encoding = "GSM-7"
	// UCS2 is used as soon as one character is outside GSM-7: 70 UTF-16
	// code units in one SMS.
	UCS2 Encoding = "UCS-2"
)

// Single-SMS limits.
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

// LengthError reports a text that would be split into several SMS. It is
// a plain value, not modified after it is returned, and safe to share.
type LengthError struct {
	Encoding Encoding // the encoding the text needs
	Units    int      // its length in that encoding's units
	Limit    int      // the single-SMS limit for that encoding
}

// Error says how long the text is, never what it says.
func (e *LengthError) Error() string {
	return fmt.Sprintf("plivoadapter: text does not fit in one sms: %d %s units, limit %d", e.Units, e.Encoding, e.Limit)
}

// Is makes errors.Is(err, ErrTooLong) true.
func (e *LengthError) Is(target error) bool { return target == ErrTooLong }

// CheckSMSLength returns nil if text fits in one SMS, else a *LengthError.
func CheckSMSLength(text string) error {
	enc, n := SMSLength(text)
	limit := MaxGSM7Units
	if enc == UCS2 {
		limit = MaxUCS2Units
	}
	if n > limit {
		return &LengthError{Encoding: enc, Units: n, Limit: limit}
	}
	return nil
}
