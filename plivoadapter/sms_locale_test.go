package plivoadapter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/sender"
)

// Without a Template, the SMS is sent in the wording of the message's
// locale, with the application's options (WithBrand, WithTexts) under
// the message's own.
func TestSMSFollowsLocale(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	s, err := plivoadapter.NewSMS(
		config(srv),
		plivoadapter.WithBrand("ACME"),
		plivoadapter.WithTexts(sender.Texts{TextOptions: sender.TextOptions{WebOTPDomain: "example.com"}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		locale string
		opts   sender.TextOptions
		want   string
	}{
		{"de-DE", sender.TextOptions{}, "ACME: Ihr Bestätigungscode lautet 493817. Er ist 5 Min. gültig.\n\n@example.com #493817"},
		// UCS-2: 70 units; the expiry sentence makes way for the WebOTP line.
		{"pt-BR", sender.TextOptions{}, "ACME: Seu código de verificação é 493817.\n\n@example.com #493817"},
		{"", sender.TextOptions{Brand: "Shop", AppHash: "FA+9qCX9VSu"}, "Shop: Your verification code is 493817. It expires in 5 minutes. FA+9qCX9VSu\n\n@example.com #493817"},
	} {
		m := sender.Message{To: dest, Channel: sender.SMS, Code: code, TTL: 5 * time.Minute, Locale: tc.locale, TextOptions: tc.opts}
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("%s: Send: %v", tc.locale, err)
		}
		got, _ := srv.LastMessage(dest)
		if got.Text != tc.want {
			t.Errorf("%s: text = %q, want %q", tc.locale, got.Text, tc.want)
		}
	}
	if _, err := plivoadapter.NewSMS(config(srv), plivoadapter.WithTexts(sender.Texts{TextOptions: sender.TextOptions{AppHash: "bad"}})); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("NewSMS with a bad app hash: %v, want ErrInvalidConfig", err)
	}
}
