package plivoadapter_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	plivo "github.com/plivo/plivo-go/v7"
)

// TestWhatsAppWireMatchesPlivoGo captures, on the wire, the request our
// WhatsApp sender makes and the one plivo-go's own Messages.Create makes
// for the same authentication template, written by hand from WhatsApp's
// documentation and checked by plivo-go's CreateWhatsappTemplate, and
// compares them field by field: method, host, path, query, Basic auth,
// content type, user agent, and the JSON body, byte for byte and decoded.
func TestWhatsAppWireMatchesPlivoGo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		locale string
		lang   string
		ttl    time.Duration
		status string
		method string
	}{
		{"en with reports", "en-US", "en_US", 5 * time.Minute, "https://example.com/plivo/status", "POST"},
		{"pt-BR, GET reports", "pt-BR", "pt_BR", 90 * time.Second, "https://example.com/plivo/status?app=demo", "GET"},
		{"de-AT, no reports", "de-AT", "de", 10 * time.Minute, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ours, theirs := fake(t), fake(t)

			o := []plivoadapter.Option{plivoadapter.WithWhatsAppNumber(plivotest.WhatsAppNumber)}
			if c.status != "" {
				o = waOptions(plivoadapter.WithStatusURL(c.status), plivoadapter.WithStatusMethod(c.method))
			}
			w := newWhatsApp(t, ours, o...)
			m := sender.Message{To: dest, Channel: sender.WhatsApp, Code: code, TTL: c.ttl, Locale: c.locale}
			if err := w.Send(context.Background(), m); err != nil {
				t.Fatalf("our Send: %v", err)
			}

			cl := plivoGo(t, theirs.Client())
			tpl, err := plivo.CreateWhatsappTemplate(fmt.Sprintf(`{
				"name": %q, "language": %q,
				"components": [
					{"type": "body", "parameters": [{"type": "text", "text": %q}]},
					{"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": %q}]}
				]}`, plivotest.WhatsAppTemplate, c.lang, code, code))
			if err != nil {
				t.Fatalf("CreateWhatsappTemplate: %v", err)
			}
			p := plivo.MessageCreateParams{
				Src: plivotest.WhatsAppNumber, Dst: dest, Type: "whatsapp", Template: &tpl,
				Log: false, MessageExpiry: int(c.ttl / time.Second), URL: c.status, Method: c.method,
			}
			if _, err := cl.Messages.Create(p); err != nil {
				t.Fatalf("plivo-go Messages.Create: %v", err)
			}

			a, b := ours.Requests(), theirs.Requests()
			if len(a) != 1 || len(b) != 1 {
				t.Fatalf("requests: ours %d, plivo-go %d; want 1 each", len(a), len(b))
			}
			got, want := a[0], b[0]
			fields := []struct{ name, got, want string }{
				{"method", got.Method, want.Method},
				{"host", got.Host, want.Host},
				{"path", got.Path, want.Path},
				{"query", got.Query, want.Query},
				{"Authorization", got.Header.Get("Authorization"), want.Header.Get("Authorization")},
				{"Content-Type", got.Header.Get("Content-Type"), want.Header.Get("Content-Type")},
				{"User-Agent", got.Header.Get("User-Agent"), want.Header.Get("User-Agent")},
			}
			for _, f := range fields {
				if f.got != f.want {
					t.Errorf("%s: ours %q, plivo-go %q", f.name, f.got, f.want)
				}
			}
			if got.Header.Get("Authorization") != basicAuth() {
				t.Errorf("Authorization = %q, want Basic auth of the account", got.Header.Get("Authorization"))
			}
			if !bytes.Equal(got.Body, want.Body) {
				t.Errorf("body:\nours     %s\nplivo-go %s", got.Body, want.Body)
			}
			gb, wb := jsonBody(t, got.Body), jsonBody(t, want.Body)
			for k := range wb {
				if !reflect.DeepEqual(gb[k], wb[k]) {
					t.Errorf("body %q: ours %v, plivo-go %v", k, gb[k], wb[k])
				}
			}
			for k := range gb {
				if _, ok := wb[k]; !ok {
					t.Errorf("body %q: ours %v, plivo-go has none", k, gb[k])
				}
			}
			if got.Status != 202 || want.Status != 202 {
				t.Errorf("answers: ours %d, plivo-go %d; want 202", got.Status, want.Status)
			}
		})
	}
}

// Params is what Send sends: the same plivo-go value that plivo-go's
// Messages.Create would take.
func TestWhatsAppParamsFeedMessagesCreate(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	w := newWhatsApp(t, srv, waOptions()...)
	p, err := w.Params(waMsg())
	if err != nil {
		t.Fatal(err)
	}
	cl := plivoGo(t, srv.Client())
	if _, err := cl.Messages.Create(p); err != nil {
		t.Fatalf("Messages.Create(Params): %v", err)
	}
	if err := w.Send(context.Background(), waMsg()); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()
	if len(r) != 2 || !bytes.Equal(r[0].Body, r[1].Body) {
		t.Errorf("Messages.Create(Params(m)) and Send(m) sent different bodies:\n%s\n%s", r[0].Body, r[len(r)-1].Body)
	}
}
