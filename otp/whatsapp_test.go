package otp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
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
	var sms sender.Recorder
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
