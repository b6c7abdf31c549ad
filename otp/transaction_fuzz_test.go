package otp_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go2fa/go2fa/otp"
)

// FuzzTransactionNormalize: any input is either refused with
// ErrInvalidTransaction or normalized to a fixed point whose amount is
// digits with one '.' at most and whose payee has no control or format
// character.
func FuzzTransactionNormalize(f *testing.F) {
	for _, s := range [][3]string{
		{"12.50", "EUR", "ACME Ltd"}, {"12.5", "eur", " ACME  Ltd "}, {"1,250.00", "EUR", "x"},
		{"1250", "JPY", "Tōkyō"}, {"1.5", "BHD", "x"}, {"-1", "USD", "x"}, {"1e3", "EUR", "x"},
		{"0.00", "EUR", "x"}, {".", "XXX", ""}, {"1", "EUR", "ACME\u202eLtd"}, {"1", "EUR", "\xff"},
		{"99999999999999999", "EUR", strings.Repeat("a", 70)},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, amount, currency, payee string) {
		n, err := otp.Transaction{Amount: amount, Currency: currency, Payee: payee}.Normalize()
		if err != nil {
			if !errors.Is(err, otp.ErrInvalidTransaction) {
				t.Fatalf("error %v does not wrap ErrInvalidTransaction", err)
			}
			return
		}
		again, err := n.Normalize()
		if err != nil || again != n {
			t.Fatalf("Normalize is not idempotent: %+v -> %+v, %v", n, again, err)
		}
		if strings.Count(n.Amount, ".") > 1 || strings.Trim(n.Amount, "0123456789.") != "" {
			t.Fatalf("amount %q", n.Amount)
		}
		if len(n.Currency) != 3 || strings.ToUpper(n.Currency) != n.Currency {
			t.Fatalf("currency %q", n.Currency)
		}
		if !utf8.ValidString(n.Payee) || n.Payee == "" || utf8.RuneCountInString(n.Payee) > otp.MaxPayeeLen ||
			strings.ContainsAny(n.Payee, "\x00\n\r\t<>\u202e\u200d") || strings.TrimSpace(n.Payee) != n.Payee {
			t.Fatalf("payee %q", n.Payee)
		}
	})
}
