package plivoadapter_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store/memstore"
)

// Every option, with a good value, is accepted by the constructors its doc
// names and refused by the others with ErrInvalidConfig naming the option
// and the constructor.
func TestOptionsApplyWhereDocumented(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	messages := plivoadapter.NewMemoryMessages()
	all := map[string]plivoadapter.Option{
		"WithStatusURL":        plivoadapter.WithStatusURL("https://example.com/plivo/status"),
		"WithStatusMethod":     plivoadapter.WithStatusMethod("GET"),
		"WithKeepInPlivoLogs":  plivoadapter.WithKeepInPlivoLogs(),
		"WithMessages":         plivoadapter.WithMessages(messages),
		"WithNonces":           plivoadapter.WithNonces(plivoadapter.NewMemoryNonces()),
		"WithNonceWindow":      plivoadapter.WithNonceWindow(time.Minute),
		"WithClock":            plivoadapter.WithClock(time.Now),
		"WithLogger":           plivoadapter.WithLogger(slog.New(slog.DiscardHandler)),
		"WithTemplate":         plivoadapter.WithTemplate("Code {code}"),
		"WithBrand":            plivoadapter.WithBrand("Acme"),
		"WithPowerpack":        plivoadapter.WithPowerpack("d5a9b5c1-4b6e-4c43-9a1a-2f1e0c9a7b11"),
		"WithDLT":              plivoadapter.WithDLT(plivoadapter.DLT{EntityID: "1201"}),
		"WithTexts":            plivoadapter.WithTexts(sender.Texts{}),
		"WithOnFailure":        plivoadapter.WithOnFailure(func(context.Context, plivoadapter.Delivery) {}),
		"WithOnDelivered":      plivoadapter.WithOnDelivered(func(context.Context, plivoadapter.Delivery) {}),
		"WithTokenTTL":         plivoadapter.WithTokenTTL(time.Minute),
		"WithTokens":           plivoadapter.WithTokens(plivoadapter.NewMemoryTokens()),
		"WithAnswerGrace":      plivoadapter.WithAnswerGrace(time.Second),
		"WithMachineDetection": plivoadapter.WithMachineDetection(plivoadapter.MachineOff),
		"WithTimeLimit":        plivoadapter.WithTimeLimit(time.Minute),
		"WithCallerName":       plivoadapter.WithCallerName("Acme"),
		"WithLanguage":         plivoadapter.WithLanguage("fr-FR"),
		"WithRand":             plivoadapter.WithRand(rand.Reader),
		"WithWhatsAppNumber":   plivoadapter.WithWhatsAppNumber(plivotest.WhatsAppNumber),
		"WithTransactionTemplate": plivoadapter.WithTransactionTemplate(plivoadapter.WhatsAppTemplate{
			Name: plivotest.WhatsAppPaymentTemplate, Languages: plivotest.WhatsAppLanguages(),
		}),
		"WithRefuseSMS":            plivoadapter.WithRefuseSMS(plivoadapter.LineVoIP),
		"WithRefuseCall":           plivoadapter.WithRefuseCall(),
		"WithRefuseUnknownCarrier": plivoadapter.WithRefuseUnknownCarrier(),
		"WithFailOpen":             plivoadapter.WithFailOpen(),
		"WithCache":                plivoadapter.WithCache(ms, lookupSecret),
		"WithCacheTTL":             plivoadapter.WithCacheTTL(time.Hour),
	}
	constructors := map[string]struct {
		build   func(...plivoadapter.Option) error
		accepts []string
		// with is what an accepted option needs beside it.
		with map[string][]plivoadapter.Option
	}{
		"NewSMS": {
			func(o ...plivoadapter.Option) error { _, err := plivoadapter.NewSMS(config(srv), o...); return err },
			[]string{"WithStatusURL", "WithStatusMethod", "WithKeepInPlivoLogs", "WithMessages", "WithNonces", "WithNonceWindow",
				"WithClock", "WithLogger", "WithTemplate", "WithBrand", "WithPowerpack", "WithDLT", "WithTexts", "WithOnFailure", "WithOnDelivered"},
			map[string][]plivoadapter.Option{"WithOnFailure": {all["WithStatusURL"]}, "WithOnDelivered": {all["WithStatusURL"]}},
		},
		"NewVoice": {
			func(o ...plivoadapter.Option) error {
				_, err := plivoadapter.NewVoice(config(srv), answerURL, o...)
				return err
			},
			[]string{"WithNonces", "WithNonceWindow", "WithClock", "WithLogger", "WithTokenTTL", "WithTokens", "WithAnswerGrace",
				"WithMachineDetection", "WithTimeLimit", "WithCallerName", "WithLanguage", "WithRand"},
			nil,
		},
		"NewWhatsApp": {
			func(o ...plivoadapter.Option) error {
				_, err := plivoadapter.NewWhatsApp(config(srv), waTemplate(), o...)
				return err
			},
			[]string{"WithStatusURL", "WithStatusMethod", "WithKeepInPlivoLogs", "WithMessages", "WithClock", "WithLogger", "WithWhatsAppNumber",
				"WithTransactionTemplate"},
			map[string][]plivoadapter.Option{"WithStatusURL": {all["WithMessages"]}},
		},
		"NewLookup": {
			func(o ...plivoadapter.Option) error { _, err := plivoadapter.NewLookup(config(srv), o...); return err },
			[]string{"WithClock", "WithRefuseSMS", "WithRefuseCall", "WithRefuseUnknownCarrier", "WithFailOpen", "WithCache", "WithCacheTTL"},
			map[string][]plivoadapter.Option{"WithCacheTTL": {all["WithCache"]}},
		},
	}
	for cname, c := range constructors {
		for oname, o := range all {
			err := c.build(append(slices.Clone(c.with[oname]), o)...)
			if slices.Contains(c.accepts, oname) {
				if err != nil {
					t.Errorf("%s(%s): %v, want it accepted", cname, oname, err)
				}
				continue
			}
			if want := oname + " does not apply to " + cname; !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s(%s): %v, want ErrInvalidConfig saying %q", cname, oname, err, want)
			}
		}
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("construction made %d requests", n)
	}
}

// A bad value is refused with ErrInvalidConfig naming the option: a nil
// store, clock or reader never silently becomes the default.
func TestOptionsRefuseBadValues(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	sms := func(o ...plivoadapter.Option) error { _, err := plivoadapter.NewSMS(config(srv), o...); return err }
	voice := func(o ...plivoadapter.Option) error {
		_, err := plivoadapter.NewVoice(config(srv), answerURL, o...)
		return err
	}
	for _, tc := range []struct {
		name   string
		err    error
		option string
	}{
		{"sms nil nonces", sms(plivoadapter.WithNonces(nil)), "WithNonces"},
		{"sms nil messages", sms(plivoadapter.WithMessages(nil)), "WithMessages"},
		{"sms nil clock", sms(plivoadapter.WithClock(nil)), "WithClock"},
		{"sms zero window", sms(plivoadapter.WithNonceWindow(0)), "WithNonceWindow"},
		{"sms empty status url", sms(plivoadapter.WithStatusURL("")), "WithStatusURL"},
		{"sms empty template", sms(plivoadapter.WithTemplate("")), "WithTemplate"},
		{"sms template and texts", sms(plivoadapter.WithTemplate("{code}"), plivoadapter.WithTexts(sender.Texts{})), "WithTexts"},
		{"sms bad powerpack", sms(plivoadapter.WithPowerpack("")), "WithPowerpack"},
		{"voice nil tokens", voice(plivoadapter.WithTokens(nil)), "WithTokens"},
		{"voice nil nonces", voice(plivoadapter.WithNonces(nil)), "WithNonces"},
		{"voice nil rand", voice(plivoadapter.WithRand(nil)), "WithRand"},
		{"voice negative ttl", voice(plivoadapter.WithTokenTTL(-time.Second)), "WithTokenTTL"},
		{"voice zero grace", voice(plivoadapter.WithAnswerGrace(0)), "WithAnswerGrace"},
		{"voice empty language", voice(plivoadapter.WithLanguage("")), "WithLanguage"},
		{"voice empty machine detection", voice(plivoadapter.WithMachineDetection("")), "WithMachineDetection"},
	} {
		if !errors.Is(tc.err, plivoadapter.ErrInvalidConfig) || !strings.Contains(tc.err.Error(), tc.option) {
			t.Errorf("%s: %v, want ErrInvalidConfig naming %s", tc.name, tc.err, tc.option)
		}
	}
}

// Given twice, the last value of an option wins; a nil Option is ignored.
func TestOptionsLastWins(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	s := newSMS(t, srv, plivoadapter.WithBrand("First"), nil, plivoadapter.WithBrand("Second"))
	text, err := s.Text(smsMsg())
	if err != nil || !strings.HasPrefix(text, "Second: ") {
		t.Errorf("text = %q, %v; want the second brand", text, err)
	}
}

// A memory store's option at its zero value (or nil) keeps the default:
// the store works on time.Now with its default capacity. WithCapacity and
// WithStoreClock at work are tested with each store (TestMemoryTokens, and
// plivoredis's conformance suite, which runs on the memory stores).
func TestMemoryStoreOptionsZero(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	zero := []plivoadapter.MemoryOption{nil, plivoadapter.WithCapacity(0), plivoadapter.WithCapacity(-1), plivoadapter.WithStoreClock(nil)}
	tokens := plivoadapter.NewMemoryTokens(zero...)
	messages := plivoadapter.NewMemoryMessages(zero...)
	nonces := plivoadapter.NewMemoryNonces(zero...)
	for i := range 3 {
		key := fmt.Sprint("k", i)
		if err := tokens.Put(ctx, key, plivoadapter.Prompt{Code: code}, time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if err := messages.Put(ctx, key, plivoadapter.Sent{Ref: key, Expires: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if seen, err := nonces.Seen(ctx, key, time.Minute); seen || err != nil {
			t.Fatalf("nonce %d: seen %v, %v", i, seen, err)
		}
	}
	if tokens.Len() != 3 || messages.Len() != 3 {
		t.Errorf("held %d tokens, %d messages; want 3 and 3", tokens.Len(), messages.Len())
	}
	if _, found, _ := messages.Get(ctx, "k0"); !found {
		t.Error("a live message is not found on time.Now")
	}
}
