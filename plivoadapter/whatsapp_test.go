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

func waOptions() plivoadapter.WhatsAppOptions {
	return plivoadapter.WhatsAppOptions{
		Number:    plivotest.WhatsAppNumber,
		Template:  plivotest.WhatsAppTemplate,
		Languages: plivotest.WhatsAppLanguages(),
		StatusURL: waStatusURL,
		Messages:  plivoadapter.NewMemoryMessages(0, nil),
	}
}

func newWhatsApp(t *testing.T, srv *plivotest.Server, o plivoadapter.WhatsAppOptions) *plivoadapter.WhatsApp {
	t.Helper()
	w, err := plivoadapter.NewWhatsApp(config(srv), o)
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
	w := newWhatsApp(t, srv, waOptions())
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
	o := waOptions()
	o.KeepInPlivoLogs = true
	o.StatusURL = ""
	w := newWhatsApp(t, srv, o)
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
	w := newWhatsApp(t, srv, waOptions())
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
	tests := map[string]func(*plivoadapter.WhatsAppOptions){
		"no template":         func(o *plivoadapter.WhatsAppOptions) { o.Template = "" },
		"template with caps":  func(o *plivoadapter.WhatsAppOptions) { o.Template = "Go2FA_otp" },
		"template with dash":  func(o *plivoadapter.WhatsAppOptions) { o.Template = "go2fa-otp" },
		"template too long":   func(o *plivoadapter.WhatsAppOptions) { o.Template = strings.Repeat("a", 513) },
		"no languages":        func(o *plivoadapter.WhatsAppOptions) { o.Languages = nil },
		"language not a code": func(o *plivoadapter.WhatsAppOptions) { o.Languages = []string{"english"} },
		"language with dash":  func(o *plivoadapter.WhatsAppOptions) { o.Languages = []string{"en-US"} },
		"number not a phone":  func(o *plivoadapter.WhatsAppOptions) { o.Number = "Acme" },
		"relative status url": func(o *plivoadapter.WhatsAppOptions) { o.StatusURL = "/plivo/status" },
		"bad status method":   func(o *plivoadapter.WhatsAppOptions) { o.StatusMethod = "PUT" },
	}
	for name, mutate := range tests {
		o := waOptions()
		mutate(&o)
		if _, err := plivoadapter.NewWhatsApp(config(srv), o); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
			t.Errorf("%s: NewWhatsApp = %v, want ErrInvalidConfig", name, err)
		}
	}
	// Without WhatsAppOptions.Number the sender uses Config.Number.
	c := config(srv)
	c.Number = plivotest.WhatsAppNumber
	o := waOptions()
	o.Number = ""
	w, err := plivoadapter.NewWhatsApp(c, o)
	if err != nil {
		t.Fatalf("NewWhatsApp without Number: %v", err)
	}
	if p, _ := w.Params(waMsg()); p.Src != plivotest.WhatsAppNumber {
		t.Errorf("src = %q, want Config.Number", p.Src)
	}
	// An SMS sender ID as Config.Number does not stop a WhatsApp number.
	c = config(srv)
	c.Number = "Acme"
	if w, err := plivoadapter.NewWhatsApp(c, waOptions()); err != nil {
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
	w := newWhatsApp(t, srv, waOptions())
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
		w := newWhatsApp(t, srv, waOptions())
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
	tests := map[string]func(*plivoadapter.Config, *plivoadapter.WhatsAppOptions){
		"unknown template":      func(c *plivoadapter.Config, o *plivoadapter.WhatsAppOptions) { o.Template = "not_approved" },
		"unapproved language":   func(c *plivoadapter.Config, o *plivoadapter.WhatsAppOptions) { o.Languages = []string{"fr"} },
		"src not whatsapp-able": func(c *plivoadapter.Config, o *plivoadapter.WhatsAppOptions) { o.Number = plivotest.Number },
	}
	for name, mutate := range tests {
		c, o := config(srv), waOptions()
		mutate(&c, &o)
		w, err := plivoadapter.NewWhatsApp(c, o)
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
