package otp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// FuzzParseNumber: any input either fails with ErrInvalidNumber or yields
// an E.164 number that parses back to itself; never a panic.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{
		"+14155550100", "+1 (415) 555-0100", "4155550100", "+442079460000",
		"+4402079460000", "+", "", "++1", "+1415abc0100", "+14155550100 ext. 7",
		"\x00", "+٤١٥", strings.Repeat("9", 80), "+999999999999999", "+1-800-FLOWERS",
	} {
		f.Add(s, "")
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		n, err := otp.ParseNumber(raw, region)
		if err != nil {
			if !errors.Is(err, otp.ErrInvalidNumber) {
				t.Fatalf("ParseNumber(%q, %q) err = %v, want ErrInvalidNumber", raw, region, err)
			}
			return
		}
		if len(n.E164) < 2 || n.E164[0] != '+' || len(n.E164) > 16 {
			t.Fatalf("ParseNumber(%q) = %q, not E.164", raw, n.E164)
		}
		// Check uses input shaped like E.164 as it is, so such input must
		// already be the E.164 form Start stores codes under.
		if t := strings.TrimSpace(raw); len(t) > 1 && t[0] == '+' && strings.Trim(t[1:], "0123456789") == "" && t != n.E164 {
			panic(fmt.Sprintf("ParseNumber(%q) = %q: E.164-shaped input accepted with another E.164 form", raw, n.E164))
		}
		again, err := otp.ParseNumber(n.E164, "")
		if err != nil || again != n {
			t.Fatalf("ParseNumber(%q) = %+v, but parsing that again gives %+v, %v", raw, n, again, err)
		}
	})
}

// FuzzCheck: Check never panics, refuses malformed codes and numbers with
// typed errors before touching the store, and never approves a guess for a
// destination that has nothing pending.
func FuzzCheck(f *testing.F) {
	for _, s := range [][2]string{
		{alice, "123456"}, {alice, "12345"}, {alice, "1234567"}, {alice, "12a456"},
		{alice, "١٢٣٤٥٦"}, {"", ""}, {"+1", "000000"}, {"(415) 555-0100", "999999"},
		{"+14155550100\x00", "123456"}, {alice, "12345\x00"},
	} {
		f.Add(s[0], s[1])
	}
	ms := memstore.New()
	f.Cleanup(func() { ms.Close() })
	spy := &spyStore{Store: ms}
	v, err := otp.NewVerifier(otp.Config{Store: spy, Sender: &sendertest.Recorder{}, Secret: testSecret, DefaultRegion: "US"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, to, code string) {
		before := spy.calls.Load()
		res, err := v.Check(context.Background(), to, code)
		wellFormed := len(code) == 6 && strings.Trim(code, "0123456789") == ""
		switch {
		case !wellFormed:
			if !errors.Is(err, otp.ErrInvalidCode) {
				t.Fatalf("Check(%q, %q) err = %v, want ErrInvalidCode", to, code, err)
			}
			if spy.calls.Load() != before {
				t.Fatalf("Check(%q, %q) with a malformed code reached the store", to, code)
			}
		case err != nil:
			if !errors.Is(err, otp.ErrInvalidNumber) || spy.calls.Load() != before {
				t.Fatalf("Check(%q, %q) err = %v, want ErrInvalidNumber without store access", to, code, err)
			}
		case res.Status != otp.Expired:
			t.Fatalf("Check(%q, %q) = %+v with nothing pending, want expired", to, code, res)
		}
		if err != nil && utf8.ValidString(code) && len(code) >= 4 && strings.Contains(err.Error(), code) {
			t.Fatalf("error %q repeats the code", err)
		}
	})
}
