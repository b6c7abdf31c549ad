package sender_test

import (
	"strings"
	"testing"

	"github.com/go2fa/go2fa/sender"
)

func TestSMSUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text         string
		gsm7         bool
		units, limit int
	}{
		{"", true, 0, 160},
		{"Code 123456 to pay EUR 12.50 to ACME Ltd.", true, 41, 160},
		{"€5 [x]", true, 9, 160},         // €, [ and ] take two septets each
		{"à payer à Zoé", true, 13, 160}, // à and é are in the default alphabet
		{"Código 1", false, 8, 70},       // ó is not: UCS-2
		{"😀", false, 2, 70},              // a surrogate pair
		{strings.Repeat("a", 161), true, 161, 160},
	}
	for _, tc := range tests {
		gsm7, units, limit := sender.SMSUnits(tc.text)
		if gsm7 != tc.gsm7 || units != tc.units || limit != tc.limit {
			t.Errorf("SMSUnits(%q) = %v, %d, %d; want %v, %d, %d", tc.text, gsm7, units, limit, tc.gsm7, tc.units, tc.limit)
		}
	}
}
