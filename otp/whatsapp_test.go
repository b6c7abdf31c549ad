package otp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

func TestWhatsAppChannelPolicy(t *testing.T) {
	t.Parallel()
	const to = "+14155550100"

	// Listed in Policy.Channels: the code goes out on WhatsApp and checks.
	f := newFixture(t, func(c *otp.Config) {
		c.Policy.Channels = []sender.Channel{sender.WhatsApp, sender.SMS, sender.Call}
	})
	res, code := f.start(t, to, sender.WhatsApp)
	if res.Channel != sender.WhatsApp {
		t.Errorf("StartResult.Channel = %s, want whatsapp", res.Channel)
	}
	if m, _ := f.rec.Last(to); m.Channel != sender.WhatsApp {
		t.Errorf("message channel = %s, want whatsapp", m.Channel)
	}
	if r := f.check(t, to, code); r.Status != otp.Approved {
		t.Errorf("Check = %s, want approved", r.Status)
	}

	// The default policy does not list WhatsApp: refused before any send.
	def := newFixture(t, nil)
	if _, err := def.v.Start(context.Background(), to, sender.WhatsApp); !errors.Is(err, otp.ErrChannelNotAllowed) {
		t.Errorf("Start(whatsapp) with the default policy = %v, want ErrChannelNotAllowed", err)
	}
	if def.rec.Len() != 0 {
		t.Errorf("default policy sent %d messages, want 0", def.rec.Len())
	}

	if err := (otp.Policy{Channels: []sender.Channel{sender.WhatsApp}}).Validate(); err != nil {
		t.Errorf("Policy{Channels: [whatsapp]}.Validate() = %v", err)
	}
}

// A sender that does not serve WhatsApp fails the Start with ErrSendFailed
// wrapping sender.ErrUnsupportedChannel, and the code is withdrawn.
func TestWhatsAppUnsupportedBySender(t *testing.T) {
	t.Parallel()
	const to = "+14155550100"
	var sms sendertest.Recorder
	f := newFixture(t, func(c *otp.Config) {
		c.Policy.Channels = []sender.Channel{sender.WhatsApp, sender.SMS}
		c.Policy.Cooldown = -1
		c.Sender = sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: &sms})
	})
	_, err := f.v.Start(context.Background(), to, sender.WhatsApp)
	if !errors.Is(err, otp.ErrSendFailed) || !errors.Is(err, sender.ErrUnsupportedChannel) {
		t.Fatalf("Start(whatsapp) = %v, want ErrSendFailed wrapping ErrUnsupportedChannel", err)
	}
	// Nothing valid was left behind: a guess at any code finds no pending one.
	if r := f.check(t, to, fmt.Sprintf("%06d", 0)); r.Status != otp.Expired {
		t.Errorf("Check after the refused send = %s, want expired (no pending code)", r.Status)
	}
}

// TestFallbackChainWhatsAppSMSCall: with the chain WhatsApp -> SMS ->
// call, FallbackNext on the report of each message moves the one code a
// step further, once per step however many reports arrive (concurrently,
// repeated, or for an earlier step), and the code is approved once.
func TestFallbackChainWhatsAppSMSCall(t *testing.T) {
	t.Parallel()
	const to = "+14155550100"
	ctx := context.Background()
	chain := []sender.Channel{sender.WhatsApp, sender.SMS, sender.Call}
	f := newFixture(t, func(c *otp.Config) {
		ms := memstore.New()
		t.Cleanup(func() { ms.Close() })
		c.Store = ms
		c.Policy.Channels, c.Policy.FallbackChain, c.Policy.Fallback = chain, chain, true
	})
	_, code := f.start(t, to, sender.WhatsApp)
	wa, _ := f.rec.Last(to)

	hop := func(ref string, want sender.Channel) sender.Message {
		t.Helper()
		const n = 16
		var wg sync.WaitGroup
		got := make([]otp.FallbackStatus, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				res, err := f.v.FallbackNext(ctx, ref)
				got[i], errs[i] = res.Status, err
			})
		}
		wg.Wait()
		sent := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("FallbackNext: %v", errs[i])
			}
			if got[i] == otp.FallbackSent {
				sent++
			} else if got[i] != otp.FallbackSpent {
				t.Fatalf("FallbackNext = %s, want sent or spent", got[i])
			}
		}
		m, _ := f.rec.Last(to)
		if sent != 1 || m.Channel != want || m.Code != code || m.Ref == ref {
			t.Fatalf("%d concurrent FallbackNext: %d sent, last message on %s (same code %v, new ref %v); want 1 on %s",
				n, sent, m.Channel, m.Code == code, m.Ref != ref, want)
		}
		return m
	}
	sms := hop(wa.Ref, sender.SMS)
	call := hop(sms.Ref, sender.Call)

	// Replays of either report, and explicit fallbacks to a step already
	// taken or behind it, send nothing.
	for _, ref := range []string{wa.Ref, sms.Ref} {
		if res, err := f.v.FallbackNext(ctx, ref); err != nil || res.Status != otp.FallbackSpent {
			t.Errorf("FallbackNext again = %v, %v; want spent", res.Status, err)
		}
	}
	if res, err := f.v.Fallback(ctx, wa.Ref, sender.Call); err != nil || res.Status != otp.FallbackSpent {
		t.Errorf("Fallback(whatsapp ref, call) = %v, %v; want spent", res.Status, err)
	}
	if _, err := f.v.FallbackNext(ctx, call.Ref); !errors.Is(err, otp.ErrInvalidChannel) {
		t.Errorf("FallbackNext after the last channel = %v, want ErrInvalidChannel", err)
	}
	if f.rec.Len() != 3 {
		t.Errorf("%d messages sent, want 3", f.rec.Len())
	}
	if r := f.check(t, to, code); r.Status != otp.Approved {
		t.Errorf("Check = %s, want approved", r.Status)
	}
	if r := f.check(t, to, code); r.Status == otp.Approved {
		t.Error("approved twice")
	}
}

func TestFallbackInvalidChannelNamesWhatsApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Config) {
		ms := memstore.New()
		t.Cleanup(func() { ms.Close() })
		c.Store, c.Policy.Fallback = ms, true
	})
	f.start(t, "+14155550100", sender.SMS)
	m, _ := f.rec.Last("+14155550100")
	_, err := f.v.Fallback(context.Background(), m.Ref, "fax")
	if !errors.Is(err, otp.ErrInvalidChannel) || !strings.Contains(err.Error(), `"whatsapp"`) {
		t.Errorf("Fallback(fax) = %v, want ErrInvalidChannel listing whatsapp", err)
	}
}

// A transaction code is never sent on WhatsApp: the template could not
// show what the code approves. Refused before anything is stored or sent.
func TestWhatsAppRefusesTransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Config) {
		c.Policy.Channels = []sender.Channel{sender.WhatsApp, sender.SMS}
	})
	txn := otp.WithTransaction(otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"})
	if _, err := f.v.Start(context.Background(), "+14155550100", sender.WhatsApp, txn); !errors.Is(err, otp.ErrInvalidTransaction) {
		t.Errorf("Start(whatsapp, transaction) = %v, want ErrInvalidTransaction", err)
	}
	if f.rec.Len() != 0 {
		t.Errorf("%d messages sent, want 0", f.rec.Len())
	}
}
