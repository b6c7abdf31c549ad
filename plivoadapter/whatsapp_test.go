package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

const waStatusURL = "https://example.com/plivo/status"

// waTemplate is the template the fake has approved.
func waTemplate() plivoadapter.WhatsAppTemplate {
	return plivoadapter.WhatsAppTemplate{Name: plivotest.WhatsAppTemplate, Languages: plivotest.WhatsAppLanguages()}
}

// waOptions are the fake's WhatsApp number, a status URL and a message
// store, then extra.
func waOptions(extra ...plivoadapter.Option) []plivoadapter.Option {
	return append([]plivoadapter.Option{
		plivoadapter.WithWhatsAppNumber(plivotest.WhatsAppNumber),
		plivoadapter.WithStatusURL(waStatusURL),
		plivoadapter.WithMessages(plivoadapter.NewMemoryMessages()),
	}, extra...)
}

// newWhatsApp is a WhatsApp sender of waTemplate on srv with opts.
func newWhatsApp(t *testing.T, srv *plivotest.Server, opts ...plivoadapter.Option) *plivoadapter.WhatsApp {
	t.Helper()
	w, err := plivoadapter.NewWhatsApp(config(srv), waTemplate(), opts...)
	if err != nil {
		t.Fatalf("NewWhatsApp: %v", err)
	}
	return w
}

// The request Send makes: Plivo's Send Message API with type whatsapp, the
// WhatsApp number as src, the authentication template with the code in the
// body and in the copy-code button, log=false and message_expiry from the
// code's TTL.
func TestWhatsAppRequest(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	w := newWhatsApp(t, srv, waOptions()...)
	m := waMsg()
	m.Locale = "pt-BR"
	if err := w.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := onlyRequest(t, srv, "api.plivo.com", "/v1/Account/"+plivotest.AuthID+"/Message/")
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	codeParam := []any{map[string]any{"type": "text", "text": code}}
	want := map[string]any{
		"src":  plivotest.WhatsAppNumber,
		"dst":  dest,
		"type": "whatsapp",
		"template": map[string]any{
			"name":     plivotest.WhatsAppTemplate,
			"language": "pt_BR",
			"components": []any{
				map[string]any{"type": "body", "parameters": codeParam},
				map[string]any{"type": "button", "sub_type": "url", "index": "0", "parameters": codeParam},
			},
		},
		"log":            false,
		"message_expiry": float64(300),
		"url":            waStatusURL,
		"method":         "POST",
	}
	if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v\nwant %v", got, want)
	}
	got, ok := srv.LastWhatsApp(dest)
	if !ok || got.Code != code || got.ButtonCode != code || got.Language != "pt_BR" || got.Log != "false" || got.Expiry != 300 || !got.OnWhatsApp {
		t.Errorf("LastWhatsApp = %+v, %v", got, ok)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the fake recorded %d SMS for a WhatsApp message", n)
	}
}

func TestWhatsAppKeepInPlivoLogsAndNoTTL(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	w := newWhatsApp(t, srv, plivoadapter.WithWhatsAppNumber(plivotest.WhatsAppNumber), plivoadapter.WithKeepInPlivoLogs())
	m := waMsg()
	m.TTL = 0
	if err := w.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	body := jsonBody(t, srv.Requests()[0].Body)
	for _, k := range []string{"log", "message_expiry", "url", "method"} {
		if v, ok := body[k]; ok {
			t.Errorf("body has %s = %v, want it absent", k, v)
		}
	}
}

func TestWhatsAppMessageExpiryBounds(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	w := newWhatsApp(t, srv, waOptions()...)
	for _, c := range []struct {
		ttl  time.Duration
		want int
	}{{time.Second, 5}, {90 * time.Second, 90}, {1500 * time.Millisecond, 5}, {61500 * time.Millisecond, 62}, {4 * time.Hour, 10799}} {
		m := waMsg()
		m.TTL = c.ttl
		p, err := w.Params(m)
		if err != nil || p.MessageExpiry != c.want {
			t.Errorf("TTL %s: message_expiry = %d, %v; want %d", c.ttl, p.MessageExpiry, err, c.want)
		}
	}
}

func TestWhatsAppLanguage(t *testing.T) {
	t.Parallel()
	langs := []string{"en_US", "pt_BR", "es_MX", "de"}
	for _, c := range []struct{ locale, want string }{
		{"pt-BR", "pt_BR"},
		{"pt_br", "pt_BR"},
		{"PT-br", "pt_BR"},
		{"pt-PT", "pt_BR"}, // same language, the approved region
		{"pt", "pt_BR"},
		{"de-AT", "de"}, // the bare language
		{"de", "de"},
		{"es", "es_MX"},
		{"en-GB", "en_US"},
		{"fr-FR", "en_US"}, // not approved: the first language
		{"", "en_US"},
		{"zh-Hant-TW", "en_US"},
	} {
		if got := plivoadapter.WhatsAppLanguage(c.locale, langs); got != c.want {
			t.Errorf("WhatsAppLanguage(%q) = %q, want %q", c.locale, got, c.want)
		}
	}
	if got := plivoadapter.WhatsAppLanguage("en", nil); got != "" {
		t.Errorf("WhatsAppLanguage with no languages = %q, want \"\"", got)
	}
}

func TestWhatsAppConfigChecks(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	tmpl := func(name string, langs ...string) plivoadapter.WhatsAppTemplate {
		return plivoadapter.WhatsAppTemplate{Name: name, Languages: langs}
	}
	tests := map[string]struct {
		t      plivoadapter.WhatsAppTemplate
		opts   []plivoadapter.Option
		naming string
	}{
		"no template":          {tmpl("", "en_US"), nil, "Name"},
		"template with caps":   {tmpl("Go2FA_otp", "en_US"), nil, "Name"},
		"template with dash":   {tmpl("go2fa-otp", "en_US"), nil, "Name"},
		"template too long":    {tmpl(strings.Repeat("a", 513), "en_US"), nil, "Name"},
		"no languages":         {tmpl(plivotest.WhatsAppTemplate), nil, "Languages"},
		"language not a code":  {tmpl(plivotest.WhatsAppTemplate, "english"), nil, "language"},
		"language with dash":   {tmpl(plivotest.WhatsAppTemplate, "en-US"), nil, "language"},
		"number not a phone":   {waTemplate(), []plivoadapter.Option{plivoadapter.WithWhatsAppNumber("Acme")}, "WithWhatsAppNumber"},
		"relative status url":  {waTemplate(), waOptions(plivoadapter.WithStatusURL("/plivo/status")), "WithStatusURL"},
		"bad status method":    {waTemplate(), waOptions(plivoadapter.WithStatusMethod("PUT")), "WithStatusMethod"},
		"status without store": {waTemplate(), []plivoadapter.Option{plivoadapter.WithWhatsAppNumber(plivotest.WhatsAppNumber), plivoadapter.WithStatusURL(waStatusURL)}, "WithMessages"},
		"nil store":            {waTemplate(), waOptions(plivoadapter.WithMessages(nil)), "WithMessages"},
		"sms option":           {waTemplate(), waOptions(plivoadapter.WithTemplate("{code}")), "WithTemplate does not apply to NewWhatsApp"},
	}
	for name, tc := range tests {
		if _, err := plivoadapter.NewWhatsApp(config(srv), tc.t, tc.opts...); !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.naming) {
			t.Errorf("%s: NewWhatsApp = %v, want ErrInvalidConfig naming %s", name, err, tc.naming)
		}
	}
	// Without WithWhatsAppNumber the sender uses Config.Number.
	c := config(srv)
	c.Number = plivotest.WhatsAppNumber
	w, err := plivoadapter.NewWhatsApp(c, waTemplate())
	if err != nil {
		t.Fatalf("NewWhatsApp without a WhatsApp number: %v", err)
	}
	if p, _ := w.Params(waMsg()); p.Src != plivotest.WhatsAppNumber {
		t.Errorf("src = %q, want Config.Number", p.Src)
	}
	// An SMS sender ID as Config.Number does not stop a WhatsApp number.
	c = config(srv)
	c.Number = "Acme"
	if w, err := plivoadapter.NewWhatsApp(c, waTemplate(), waOptions()...); err != nil {
		t.Errorf("NewWhatsApp with a sender ID in Config.Number: %v", err)
	} else if p, _ := w.Params(waMsg()); p.Src != plivotest.WhatsAppNumber {
		t.Errorf("src = %q, want the WhatsApp number", p.Src)
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("construction made %d requests", n)
	}
}

// The WhatsApp sender serves WhatsApp only: SMS and Call messages, and
// invalid ones, are refused before any request.
func TestWhatsAppRefusesOtherChannels(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	w := newWhatsApp(t, srv, waOptions()...)
	for _, m := range []sender.Message{smsMsg(), callMsg()} {
		if err := w.Send(context.Background(), m); !errors.Is(err, sender.ErrUnsupportedChannel) {
			t.Errorf("Send(%s) = %v, want ErrUnsupportedChannel", m.Channel, err)
		}
	}
	bad := waMsg()
	bad.Code = "12a456"
	if err := w.Send(context.Background(), bad); !errors.Is(err, sender.ErrInvalidMessage) {
		t.Errorf("Send(non-digit code) = %v, want ErrInvalidMessage", err)
	}
	withText := waMsg()
	withText.Text = "Code 123456 to pay EUR 12.50 to ACME Ltd."
	if err := w.Send(context.Background(), withText); !errors.Is(err, sender.ErrInvalidMessage) {
		t.Errorf("Send(with a Text the template cannot show) = %v, want ErrInvalidMessage", err)
	}
	if !w.Serves(sender.WhatsApp) || w.Serves(sender.SMS) || w.Serves(sender.Call) {
		t.Error("Serves: want WhatsApp only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Send(ctx, waMsg()); !errors.Is(err, context.Canceled) {
		t.Errorf("Send(done ctx) = %v, want context.Canceled", err)
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("%d requests reached Plivo, want 0", n)
	}
}

// A 4xx from Plivo (a destination or template that WhatsApp refuses) is a
// permanent *Error: a failover moves on to the next sender after exactly
// one request, it does not retry. 429 and 5xx are transient.
func TestWhatsAppErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		failure   plivotest.Failure
		status    int
		permanent bool
	}{
		{plivotest.BadRequest, 400, true},
		{plivotest.Unauthorized, 401, true},
		{plivotest.TooManyRequests, 429, false},
		{plivotest.ServerError, 500, false},
	} {
		srv := fake(t)
		w := newWhatsApp(t, srv, waOptions()...)
		srv.FailNext(c.failure, 1)
		var backup sendertest.Recorder
		err := sender.Failover(w, &backup).Send(context.Background(), waMsg())
		if err != nil {
			t.Errorf("%d: Failover = %v, want the backup to deliver", c.status, err)
		}
		if srv.RequestCount() != 1 || backup.Len() != 1 {
			t.Errorf("%d: plivo requests %d, backup sends %d; want 1 and 1", c.status, srv.RequestCount(), backup.Len())
		}
		srv.FailNext(c.failure, 1)
		err = w.Send(context.Background(), waMsg())
		var pe *plivoadapter.Error
		if !errors.As(err, &pe) || pe.StatusCode != c.status || errors.Is(err, plivoadapter.ErrPermanent) != c.permanent || errors.Is(err, plivoadapter.ErrTransient) == c.permanent {
			t.Errorf("%d: Send = %v, want *Error %d permanent=%v", c.status, err, c.status, c.permanent)
		}
		if err != nil && strings.Contains(err.Error(), code) {
			t.Errorf("%d: error %q holds the code", c.status, err)
		}
	}
}

// The fake refuses what WhatsApp refuses: a template it does not know, a
// language the template is not approved in, a src that is not the account's
// WhatsApp number. Each is a permanent error.
func TestWhatsAppRefusedByPlivo(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	tests := map[string]struct {
		t      plivoadapter.WhatsAppTemplate
		number string
	}{
		"unknown template":      {plivoadapter.WhatsAppTemplate{Name: "not_approved", Languages: plivotest.WhatsAppLanguages()}, plivotest.WhatsAppNumber},
		"unapproved language":   {plivoadapter.WhatsAppTemplate{Name: plivotest.WhatsAppTemplate, Languages: []string{"fr"}}, plivotest.WhatsAppNumber},
		"src not whatsapp-able": {waTemplate(), plivotest.Number},
	}
	for name, tc := range tests {
		w, err := plivoadapter.NewWhatsApp(config(srv), tc.t, plivoadapter.WithWhatsAppNumber(tc.number))
		if err != nil {
			t.Fatalf("%s: NewWhatsApp: %v", name, err)
		}
		var pe *plivoadapter.Error
		if err := w.Send(context.Background(), waMsg()); !errors.As(err, &pe) || pe.StatusCode != http.StatusBadRequest || !errors.Is(err, plivoadapter.ErrPermanent) {
			t.Errorf("%s: Send = %v, want a permanent 400", name, err)
		}
	}
	if n := len(srv.WhatsAppMessages()); n != 0 {
		t.Errorf("the fake accepted %d messages, want 0", n)
	}
}
