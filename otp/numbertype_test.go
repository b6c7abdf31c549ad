package otp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// costly are numbers of the types Start refuses by default, in the regions
// where "Call me" revenue-share fraud has used them (examples from
// phonenumbers' metadata).
var costly = []struct {
	number string
	typ    otp.NumberType
}{
	{"+19002345678", otp.NumberPremiumRate},
	{"+449012345678", otp.NumberPremiumRate},
	{"+499001234567", otp.NumberPremiumRate},
	{"+33891123456", otp.NumberPremiumRate},
	{"+37190123456", otp.NumberPremiumRate},
	{"+4918012345", otp.NumberSharedCost},
	{"+33884012345", otp.NumberSharedCost},
	{"+37181123456", otp.NumberSharedCost},
	{"+445512345678", otp.NumberUAN},
	{"+4918500123456", otp.NumberUAN},
	{"+33806123456", otp.NumberUAN},
	{"+15002345678", otp.NumberPersonal},
	{"+447012345678", otp.NumberPersonal},
	{"+4970012345678", otp.NumberPersonal},
	{"+447640123456", otp.NumberPager},
	{"+4916412345", otp.NumberPager},
}

func newTypeVerifier(t *testing.T, p otp.Policy) (*otp.Verifier, *sendertest.Recorder) {
	t.Helper()
	st := memstore.New(memstore.WithSweepInterval(0))
	t.Cleanup(func() { st.Close() })
	rec := &sendertest.Recorder{}
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: rec, Secret: testSecret, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	return v, rec
}

// TestCostlyNumbersRefused: premium-rate, shared-cost, UAN, personal and
// pager numbers get no SMS and no call by default, with a typed error.
func TestCostlyNumbersRefused(t *testing.T) {
	t.Parallel()
	v, rec := newTypeVerifier(t, otp.Policy{})
	for _, c := range costly {
		for _, ch := range []sender.Channel{sender.SMS, sender.Call} {
			_, err := v.Start(context.Background(), c.number, ch)
			var te *otp.NumberTypeError
			if !errors.Is(err, otp.ErrNumberTypeNotAllowed) || !errors.As(err, &te) || te.Type != c.typ {
				t.Errorf("Start(%s, %s) error = %v, want a *NumberTypeError for %s", c.number, ch, err, c.typ)
			}
		}
	}
	if n := rec.Len(); n != 0 {
		t.Fatalf("%d messages sent to costly numbers, want 0", n)
	}
	// Ordinary numbers still go through: mobile, fixed line, toll-free, VoIP.
	for _, n := range []string{"+14155550100", "+447400123456", "+442079460000", "+18002345678", "+33912345678"} {
		if _, err := v.Start(context.Background(), n, sender.SMS); err != nil {
			t.Errorf("Start(%s) = %v, want a send", n, err)
		}
	}
}

// TestAllowNumberTypes: the policy can allow chosen types, and only those.
func TestAllowNumberTypes(t *testing.T) {
	t.Parallel()
	v, rec := newTypeVerifier(t, otp.Policy{AllowNumberTypes: []otp.NumberType{otp.NumberPremiumRate}})
	for _, c := range costly {
		_, err := v.Start(context.Background(), c.number, sender.Call)
		if allowed := c.typ == otp.NumberPremiumRate; allowed != (err == nil) {
			t.Errorf("Start(%s) with premium rate allowed = %v", c.number, err)
		}
	}
	if n := rec.Len(); n != 5 {
		t.Errorf("sent %d, want the 5 premium-rate numbers", n)
	}
	if _, err := otp.NewVerifier(otp.Config{Store: memstore.New(), Sender: rec, Secret: testSecret,
		Policy: otp.Policy{AllowNumberTypes: []otp.NumberType{"golden"}}}); !errors.Is(err, otp.ErrInvalidConfig) {
		t.Errorf("unknown number type: error = %v, want ErrInvalidConfig", err)
	}
}

// TestParseNumberType: ParseNumber reports the number's type.
func TestParseNumberType(t *testing.T) {
	t.Parallel()
	for _, c := range costly {
		n, err := otp.ParseNumber(c.number, "")
		if err != nil || n.Type != c.typ {
			t.Errorf("ParseNumber(%s) = %+v, %v; want type %s", c.number, n, err, c.typ)
		}
	}
}
