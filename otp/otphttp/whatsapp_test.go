package otphttp_test

import (
	"net/http"
	"testing"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
)

func TestWhatsAppChannel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{policy: otp.Policy{Cooldown: -1, Channels: []sender.Channel{sender.SMS, sender.Call, sender.WhatsApp}}})
	for _, ch := range []string{"whatsapp", "WhatsApp"} {
		r := e.start(t, number, ch)
		wantStatus(t, r, http.StatusAccepted, "")
		if r.body["channel"] != "whatsapp" {
			t.Errorf("channel %q: reply channel = %v, want whatsapp", ch, r.body["channel"])
		}
		if m, _ := e.rec.Last(number); m.Channel != sender.WhatsApp {
			t.Errorf("channel %q: sent on %s, want whatsapp", ch, m.Channel)
		}
	}
	wantStatus(t, e.check(t, number, e.code(t, number)), http.StatusOK, "")

	// The default policy leaves WhatsApp out: 403, nothing sent.
	def := newEnv(t, setup{})
	wantStatus(t, def.start(t, number, "whatsapp"), http.StatusForbidden, "channel_not_allowed")
	if def.rec.Len() != 0 {
		t.Errorf("sent %d messages under the default policy, want 0", def.rec.Len())
	}
	wantStatus(t, def.start(t, number, "whats app"), http.StatusBadRequest, "invalid_channel")
}
