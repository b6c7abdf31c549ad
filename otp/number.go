package otp

import (
	"fmt"
	"strings"

	"github.com/go2fa/go2fa/internal/ascii"
	"github.com/nyaruka/phonenumbers"
)

// maxNumberInput bounds the raw number text we are willing to parse.
const maxNumberInput = 64

// Number is a validated destination.
type Number struct {
	// E164 is the number in E.164 form, for example "+14155550100".
	E164 string
	// Region is the ISO 3166-1 alpha-2 region of the number ("US"), or
	// "001" for a non-geographic number ("+800...").
	Region string
	// Type is the kind of line the number plan assigns the number to, from
	// its prefix (the line may since have been ported).
	Type NumberType
}

// NumberType is the kind of a number in its country's numbering plan, as
// libphonenumber classifies it.
type NumberType string

// The number types. Start refuses the costly ones (premium rate, shared
// cost, UAN, personal, pager) unless Policy.AllowNumberTypes names them:
// calls and messages to them can earn their owner money, the "Call me"
// revenue-share fraud.
const (
	NumberFixedLine         NumberType = "fixed_line"
	NumberMobile            NumberType = "mobile"
	NumberFixedLineOrMobile NumberType = "fixed_line_or_mobile" // the plan does not tell them apart (US, CA)
	NumberTollFree          NumberType = "toll_free"
	NumberPremiumRate       NumberType = "premium_rate" // costly
	NumberSharedCost        NumberType = "shared_cost"  // costly
	NumberVoIP              NumberType = "voip"
	NumberPersonal          NumberType = "personal" // costly: a forwarding number
	NumberPager             NumberType = "pager"    // costly
	NumberUAN               NumberType = "uan"      // costly: a company's universal access number
	NumberVoicemail         NumberType = "voicemail"
	NumberUnknown           NumberType = "unknown"
)

// costlyTypes are refused unless Policy.AllowNumberTypes names them.
var costlyTypes = []NumberType{NumberPremiumRate, NumberSharedCost, NumberUAN, NumberPersonal, NumberPager}

func numberTypeOf(pn *phonenumbers.PhoneNumber) NumberType {
	switch phonenumbers.GetNumberType(pn) {
	case phonenumbers.FIXED_LINE:
		return NumberFixedLine
	case phonenumbers.MOBILE:
		return NumberMobile
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return NumberFixedLineOrMobile
	case phonenumbers.TOLL_FREE:
		return NumberTollFree
	case phonenumbers.PREMIUM_RATE:
		return NumberPremiumRate
	case phonenumbers.SHARED_COST:
		return NumberSharedCost
	case phonenumbers.VOIP:
		return NumberVoIP
	case phonenumbers.PERSONAL_NUMBER:
		return NumberPersonal
	case phonenumbers.PAGER:
		return NumberPager
	case phonenumbers.UAN:
		return NumberUAN
	case phonenumbers.VOICEMAIL:
		return NumberVoicemail
	}
	return NumberUnknown
}

func (t NumberType) known() bool {
	switch t {
	case NumberFixedLine, NumberMobile, NumberFixedLineOrMobile, NumberTollFree, NumberPremiumRate,
		NumberSharedCost, NumberVoIP, NumberPersonal, NumberPager, NumberUAN, NumberVoicemail, NumberUnknown:
		return true
	}
	return false
}

// ParseNumber validates a phone number and returns it in E.164 form with
// its region. Numbers without a leading "+" are read as national numbers
// of defaultRegion (an ISO 3166-1 alpha-2 code); with defaultRegion empty
// they are refused. Errors wrap ErrInvalidNumber.
func ParseNumber(raw, defaultRegion string) (Number, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return Number{}, fmt.Errorf("%w: empty", ErrInvalidNumber)
	case len(raw) > maxNumberInput:
		return Number{}, fmt.Errorf("%w: longer than %d characters", ErrInvalidNumber, maxNumberInput)
	case raw[0] != '+' && defaultRegion == "":
		return Number{}, fmt.Errorf("%w: use the international form with a leading +", ErrInvalidNumber)
	}
	// Only digits and common separators: no letters (phonenumbers would
	// read "1-800-FLOWERS" as digits), no control characters.
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= '0' && c <= '9', c == '+' && i == 0, c == ' ', c == '-', c == '.', c == '(', c == ')', c == '/':
		default:
			return Number{}, fmt.Errorf("%w: only digits, a leading + and the separators ( ) - . / are allowed", ErrInvalidNumber)
		}
	}
	pn, err := phonenumbers.Parse(raw, defaultRegion)
	if err != nil {
		return Number{}, fmt.Errorf("%w: %v", ErrInvalidNumber, err) //nolint:errorlint // phonenumbers' error is detail, not part of otp's API
	}
	if pn.GetExtension() != "" {
		return Number{}, fmt.Errorf("%w: extensions are not allowed", ErrInvalidNumber)
	}
	if !phonenumbers.IsValidNumber(pn) {
		return Number{}, fmt.Errorf("%w: not a valid number", ErrInvalidNumber)
	}
	n := Number{
		E164:   phonenumbers.Format(pn, phonenumbers.E164),
		Region: phonenumbers.GetRegionCodeForNumber(pn),
		Type:   numberTypeOf(pn),
	}
	if len(n.E164) > 16 {
		// phonenumbers accepts some numbers longer than E.164's 15 digits.
		return Number{}, fmt.Errorf("%w: more than 15 digits", ErrInvalidNumber)
	}
	if plusDigits(raw) && raw != n.E164 {
		// "+4402079460000": shaped like E.164 but not E.164 (a national
		// trunk prefix after the country code). Check takes such input
		// as it is, so accepting it here would make its codes uncheckable.
		return Number{}, fmt.Errorf("%w: not in E.164 form (drop the national prefix after the country code, or write the number with spaces)", ErrInvalidNumber)
	}
	return n, nil
}

// canonical returns raw unchanged when it already has the shape of an
// E.164 number ("+" then 8 to 15 digits, the first not 0), so that Check
// does not pay for full parsing on the common path.
func canonical(raw string) (string, bool) {
	if len(raw) < 9 || len(raw) > 16 || raw[1] == '0' || !plusDigits(raw) {
		return "", false
	}
	return raw, true
}

// plusDigits reports whether s is "+" followed by digits only.
func plusDigits(s string) bool {
	return len(s) >= 2 && s[0] == '+' && ascii.Digits(s[1:])
}

// regionOf resolves the main region of an E.164 number from its country
// calling code alone (no full parse).
func regionOf(e164 string) string {
	for n, cc := 1, 0; n <= 3 && n < len(e164); n++ {
		cc = cc*10 + int(e164[n]-'0')
		if r := phonenumbers.GetRegionCodeForCountryCode(cc); r != "" && r != "ZZ" {
			return r
		}
	}
	return ""
}
