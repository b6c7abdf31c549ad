package plivoadapter

import (
	"fmt"

	"github.com/go2fa/go2fa/sender"
)

// Encoding is the character set an SMS is sent in (sender.Encoding).
type Encoding = sender.Encoding

const (
	// GSM7 is the GSM 03.38 default alphabet: 160 characters in one SMS,
	// characters of the extension table (such as € [ ] { } ^ ~ | \) count
	// as two.
	GSM7 = sender.GSM7
	// UCS2 is used as soon as one character is outside GSM-7: 70 UTF-16
	// code units in one SMS.
	UCS2 = sender.UCS2
)

// Single-SMS limits.
const (
	MaxGSM7Units = sender.MaxGSM7Units
	MaxUCS2Units = sender.MaxUCS2Units
)

// SMSLength reports how text would be encoded and how many units of that
// encoding it takes: GSM-7 septets (extension characters count 2) or, if
// any character is outside GSM-7, UTF-16 code units. It is
// sender.SMSLength.
func SMSLength(text string) (Encoding, int) { return sender.SMSLength(text) }

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
