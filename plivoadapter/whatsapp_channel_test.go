package plivoadapter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go2fa/go2fa/sender"
)

func waMsg() sender.Message {
	return sender.Message{To: dest, Channel: sender.WhatsApp, Code: code, TTL: 5 * time.Minute, Locale: "en-US"}
}

// The SMS, voice and PHLO senders do not serve WhatsApp: each refuses a
// WhatsApp message with sender.ErrUnsupportedChannel before any request.
func TestSMSVoicePHLORefuseWhatsApp(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	c := config(srv)
	s, v, p := newSenders(t, c)
	for name, snd := range map[string]sender.Sender{"sms": s, "voice": v, "phlo": p} {
		if err := snd.Send(context.Background(), waMsg()); !errors.Is(err, sender.ErrUnsupportedChannel) {
			t.Errorf("%s: Send(whatsapp) = %v, want ErrUnsupportedChannel", name, err)
		}
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("%d requests reached Plivo, want 0", n)
	}
}
