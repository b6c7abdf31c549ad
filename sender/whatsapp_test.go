package sender_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

func TestWhatsAppChannel(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"whatsapp", "WhatsApp", " WHATSAPP "} {
		c, err := sender.ParseChannel(in)
		if err != nil || c != sender.WhatsApp {
			t.Errorf("ParseChannel(%q) = %q, %v; want whatsapp", in, c, err)
		}
	}
	for _, in := range []string{"whats app", "wa", "whatsapp2", ""} {
		if c, err := sender.ParseChannel(in); !errors.Is(err, sender.ErrInvalidChannel) {
			t.Errorf("ParseChannel(%q) = %q, %v; want ErrInvalidChannel", in, c, err)
		}
	}
	if !sender.WhatsApp.Valid() {
		t.Error("WhatsApp.Valid() = false")
	}
	m := sender.Message{To: "+14155550100", Channel: sender.WhatsApp, Code: "123456"}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate(whatsapp message) = %v", err)
	}
}

// A router with no WhatsApp route refuses a WhatsApp message with
// ErrUnsupportedChannel and hands it to no sender.
func TestByChannelWithoutWhatsApp(t *testing.T) {
	t.Parallel()
	var sms, call sendertest.Recorder
	r := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: &sms, sender.Call: &call})
	m := sender.Message{To: "+14155550100", Channel: sender.WhatsApp, Code: "123456"}
	if err := r.Send(context.Background(), m); !errors.Is(err, sender.ErrUnsupportedChannel) {
		t.Fatalf("Send(whatsapp) = %v, want ErrUnsupportedChannel", err)
	}
	if sms.Len()+call.Len() != 0 {
		t.Errorf("sent %d sms and %d calls for a whatsapp message, want none", sms.Len(), call.Len())
	}
	var wa sendertest.Recorder
	r = sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: &sms, sender.WhatsApp: &wa})
	if err := r.Send(context.Background(), m); err != nil || wa.Len() != 1 || sms.Len() != 0 {
		t.Errorf("Send(whatsapp) with a whatsapp route = %v, whatsapp %d, sms %d; want nil, 1, 0", err, wa.Len(), sms.Len())
	}
}

// Texts has no wording for WhatsApp (the template is WhatsApp's): it
// refuses the channel instead of rendering an SMS text for it.
func TestTextsRefuseWhatsApp(t *testing.T) {
	t.Parallel()
	for _, tx := range []*sender.Texts{nil, {}} {
		for _, text := range []string{"", "custom"} {
			m := sender.Message{To: "+14155550100", Channel: sender.WhatsApp, Code: "123456", Text: text}
			if got, err := tx.Text(m); !errors.Is(err, sender.ErrUnsupportedChannel) || got != "" {
				t.Errorf("Text(whatsapp, %q) = %q, %v; want ErrUnsupportedChannel", text, got, err)
			}
		}
	}
	if _, err := (*sender.Texts)(nil).Text(sender.Message{Channel: sender.SMS, Code: "123456"}); err != nil {
		t.Errorf("Text(sms) = %v", err)
	}
}
