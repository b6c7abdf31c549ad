package main

import (
	"errors"
	"strings"

	"github.com/go2fa/go2fa/plivoadapter"
)

// Environment variables that offer WhatsApp in the demo.
const (
	envWhatsAppNumber    = "PLIVO_WHATSAPP_NUMBER"
	envWhatsAppTemplate  = "PLIVO_WHATSAPP_TEMPLATE"
	envWhatsAppLanguages = "PLIVO_WHATSAPP_LANGUAGES"
)

// whatsappFromEnv returns the WhatsApp sender when PLIVO_WHATSAPP_NUMBER
// and PLIVO_WHATSAPP_TEMPLATE are set, nil when neither is. Its reports go
// to statusURL, the SMS sender's status handler ("" for none), and its
// messages are remembered in messages, the SMS sender's MessageStore.
func whatsappFromEnv(getenv func(string) string, pc plivoadapter.Config, statusURL string, messages plivoadapter.MessageStore) (*plivoadapter.WhatsApp, error) {
	number := strings.TrimSpace(getenv(envWhatsAppNumber))
	template := strings.TrimSpace(getenv(envWhatsAppTemplate))
	if number == "" && template == "" {
		return nil, nil
	}
	if number == "" || template == "" {
		return nil, errors.New("plivo: " + envWhatsAppNumber + " and " + envWhatsAppTemplate + " must be set together")
	}
	langs := []string{"en_US"}
	if v := strings.TrimSpace(getenv(envWhatsAppLanguages)); v != "" {
		langs = langs[:0]
		for _, l := range strings.Split(v, ",") {
			if l = strings.TrimSpace(l); l != "" {
				langs = append(langs, l)
			}
		}
	}
	opts := []plivoadapter.Option{plivoadapter.WithWhatsAppNumber(number), plivoadapter.WithMessages(messages)}
	if statusURL != "" {
		opts = append(opts, plivoadapter.WithStatusURL(statusURL))
	}
	return plivoadapter.NewWhatsApp(pc, plivoadapter.WhatsAppTemplate{Name: template, Languages: langs}, opts...)
}
