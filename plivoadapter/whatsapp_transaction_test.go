package plivoadapter_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

// txnWhatsApp is a WhatsApp message that confirms t.
func txnWhatsApp(locale string, t sender.Transaction) sender.Message {
	m := waMsg()
	m.Locale, m.Transaction = locale, &t
	return m
}

// Without WithTransactionTemplate, a transaction is refused before any
// request: the authentication template could show the code alone.
func TestWhatsAppTransactionWithoutTemplate(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	w := newWhatsApp(t, srv, waOptions()...)
	if sender.CarriesTransaction(w, sender.WhatsApp) {
		t.Error("CarriesTransaction(whatsapp) = true without a transaction template")
	}
	err := w.Send(context.Background(), txnWhatsApp("de", acmePayment))
	if !errors.Is(err, sender.ErrTransactionUnsupported) || !errors.Is(err, sender.ErrInvalidMessage) {
		t.Fatalf("Send = %v, want ErrTransactionUnsupported", err)
	}
	assertNoSecrets(t, err)
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("%d requests reached Plivo, want none", n)
	}
}

// With WithTransactionTemplate, the message goes in that utility template,
// in the language that matches the locale, with the code, the amount and
// the payee as the body's parameters, through plivo-go to the fake, which
// checks the template's parameter count; a code without a transaction
// still goes in the authentication template.
func TestWhatsAppTransactionTemplate(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	w := newWhatsApp(t, srv, waOptions(plivoadapter.WithTransactionTemplate(plivoadapter.WhatsAppTemplate{
		Name: plivotest.WhatsAppPaymentTemplate, Languages: plivotest.WhatsAppLanguages(),
	}))...)
	if !sender.CarriesTransaction(w, sender.WhatsApp) || sender.CarriesTransaction(w, sender.SMS) {
		t.Error("CarriesTransaction must be true for whatsapp only")
	}
	jpy := sender.Transaction{Amount: "1250", Currency: "JPY", Payee: "Zoë & Søn (Ærø) A/S"}
	tests := []struct {
		locale string
		t      sender.Transaction
		lang   string
	}{
		{"de-AT", acmePayment, "de"},
		{"pt-BR", jpy, "pt_BR"},
		{"ja", acmePayment, "en_US"},
	}
	for _, tt := range tests {
		if err := w.Send(context.Background(), txnWhatsApp(tt.locale, tt.t)); err != nil {
			t.Fatalf("%s: Send: %v", tt.locale, err)
		}
		m, ok := srv.LastWhatsApp(dest)
		want := []string{code, tt.t.AmountText(), tt.t.Payee}
		if !ok || m.Template != plivotest.WhatsAppPaymentTemplate || m.Category != "utility" || m.Language != tt.lang || !reflect.DeepEqual(m.BodyParams, want) {
			t.Errorf("%s: sent %+v, want %s in %s with body %q", tt.locale, m, plivotest.WhatsAppPaymentTemplate, tt.lang, want)
		}
		if m.Log != "false" || m.Expiry != 300 || m.URL != waStatusURL {
			t.Errorf("%s: log %q expiry %d url %q; want false, 300, the status URL", tt.locale, m.Log, m.Expiry, m.URL)
		}
	}
	if err := w.Send(context.Background(), waMsg()); err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.LastWhatsApp(dest); m.Template != plivotest.WhatsAppTemplate || m.Code != code || m.BodyParams != nil {
		t.Errorf("a code without transaction went as %+v, want the authentication template", m)
	}
}

// WithTransactionTemplate's template is checked like the authentication
// template, and needs languages.
func TestWhatsAppTransactionConfig(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	tests := map[string]plivoadapter.WhatsAppTemplate{
		"languages without name": {Languages: []string{"en"}},
		"name without languages": {Name: "go2fa_payment"},
		"name with caps":         {Name: "Go2fa_payment", Languages: []string{"en"}},
		"language not a code":    {Name: "go2fa_payment", Languages: []string{"en-US"}},
	}
	for name, tt := range tests {
		_, err := plivoadapter.NewWhatsApp(config(srv), waTemplate(), waOptions(plivoadapter.WithTransactionTemplate(tt))...)
		if !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), "WithTransactionTemplate") {
			t.Errorf("%s: NewWhatsApp = %v, want ErrInvalidConfig naming WithTransactionTemplate", name, err)
		}
	}
}
