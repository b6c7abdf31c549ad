package plivotest_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	plivo "github.com/plivo/plivo-go/v7"
)

// authTemplate builds, with plivo-go's own CreateWhatsappTemplate (which
// validates it), the authentication template as WhatsApp documents it for
// a copy-code button: the code as the body's parameter and as the URL
// button's parameter.
func authTemplate(t *testing.T, name, lang, bodyCode, buttonCode string) *plivo.Template {
	t.Helper()
	tpl, err := plivo.CreateWhatsappTemplate(fmt.Sprintf(`{
		"name": %q, "language": %q,
		"components": [
			{"type": "body", "parameters": [{"type": "text", "text": %q}]},
			{"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": %q}]}
		]}`, name, lang, bodyCode, buttonCode))
	if err != nil {
		t.Fatalf("CreateWhatsappTemplate: %v", err)
	}
	return &tpl
}

// The fake takes a WhatsApp template message from plain plivo-go and
// answers as Plivo documents: 202, api_id, "message(s) queued", one
// message_uuid.
func TestWhatsAppPlainPlivoGo(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	srv.NoWhatsApp("+14155550199")
	c := newClient(t, srv, plivotest.AuthToken)
	for _, dst := range []string{"+14155550100", "+14155550199"} {
		resp, err := c.Messages.Create(plivo.MessageCreateParams{
			Src: plivotest.WhatsAppNumber, Dst: dst, Type: "whatsapp", Log: false, MessageExpiry: 300,
			URL: "https://example.com/status", Template: authTemplate(t, plivotest.WhatsAppTemplate, "en_US", "482913", "482913"),
		})
		if err != nil {
			t.Fatalf("Messages.Create(%s): %v", dst, err)
		}
		if len(resp.MessageUUID) != 1 || resp.ApiID == "" || resp.Message != "message(s) queued" {
			t.Errorf("response = %+v", resp)
		}
		m, ok := srv.LastWhatsApp(dst)
		want := plivotest.WhatsAppMessage{
			UUID: resp.MessageUUID[0], Src: plivotest.WhatsAppNumber, Dst: dst, Template: plivotest.WhatsAppTemplate,
			Language: "en_US", Code: "482913", ButtonCode: "482913", Category: "authentication", Log: "false", Expiry: 300,
			URL: "https://example.com/status", Method: http.MethodPost, OnWhatsApp: dst != "+14155550199",
		}
		if !ok || !reflect.DeepEqual(m, want) {
			t.Errorf("LastWhatsApp(%s) = %+v, %v\nwant %+v", dst, m, ok, want)
		}
	}
	if reqs := srv.Requests(); len(reqs) != 2 || reqs[0].Status != 202 {
		t.Errorf("requests = %d, first answered %d; want 2, 202", len(reqs), reqs[0].Status)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("recorded %d SMS, want 0", n)
	}
}

// What WhatsApp refuses for an authentication template, the fake refuses
// with Plivo's error shape (400, api_id, error), recording no message.
func TestWhatsAppRefusals(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddWhatsAppTemplate("other_otp", "fr")
	c := newClient(t, srv, plivotest.AuthToken)
	good := func() plivo.MessageCreateParams {
		return plivo.MessageCreateParams{Src: plivotest.WhatsAppNumber, Dst: "+14155550100", Type: "whatsapp",
			Template: authTemplate(t, plivotest.WhatsAppTemplate, "de", "123456", "123456")}
	}
	tests := map[string]func(*plivo.MessageCreateParams){
		"sms number as src":   func(p *plivo.MessageCreateParams) { p.Src = plivotest.Number },
		"no template":         func(p *plivo.MessageCreateParams) { p.Template = nil; p.Text = "123456" },
		"text and template":   func(p *plivo.MessageCreateParams) { p.Text = "123456" },
		"unknown template":    func(p *plivo.MessageCreateParams) { p.Template.Name = "nope" },
		"unapproved language": func(p *plivo.MessageCreateParams) { p.Template.Language = "fr" },
		"other template lang": func(p *plivo.MessageCreateParams) { p.Template.Name = "other_otp" },
		"button code differs": func(p *plivo.MessageCreateParams) {
			p.Template = authTemplate(t, plivotest.WhatsAppTemplate, "de", "123456", "654321")
		},
		"code over 15 chars": func(p *plivo.MessageCreateParams) {
			p.Template = authTemplate(t, plivotest.WhatsAppTemplate, "de", "1234567890123456", "1234567890123456")
		},
		"no button":        func(p *plivo.MessageCreateParams) { p.Template.Components = p.Template.Components[:1] },
		"no body":          func(p *plivo.MessageCreateParams) { p.Template.Components = p.Template.Components[1:] },
		"bad expiry":       func(p *plivo.MessageCreateParams) { p.MessageExpiry = 10800 },
		"bad log":          func(p *plivo.MessageCreateParams) { p.Log = "no" },
		"relative status":  func(p *plivo.MessageCreateParams) { p.URL = "/status" },
		"invalid dst":      func(p *plivo.MessageCreateParams) { p.Dst = "12" },
		"button not index": func(p *plivo.MessageCreateParams) { p.Template.Components[1].Index = "1" },
	}
	for name, mutate := range tests {
		p := good()
		mutate(&p)
		if _, err := c.Messages.Create(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if r := srv.Requests(); r[len(r)-1].Status != 400 {
			t.Errorf("%s: answered %d, want 400", name, r[len(r)-1].Status)
		}
	}
	if _, err := c.Messages.Create(good()); err != nil {
		t.Errorf("the unmutated message: %v", err)
	}
	if n := len(srv.WhatsAppMessages()); n != 1 {
		t.Errorf("recorded %d messages, want 1", n)
	}
}

// A WhatsApp status report carries Plivo's message status attributes with
// Type "whatsapp", the WhatsApp-only conversation attributes, ErrorCode for
// a failure, and a V3 signature that plivo-go's own ValidateSignatureV3
// accepts.
func TestWhatsAppStatusRequest(t *testing.T) {
	t.Parallel()
	m := plivotest.WhatsAppMessage{UUID: "9c7c4c6e-1111-4222-8333-444455556666", Src: plivotest.WhatsAppNumber, Dst: "+14155550100",
		URL: "https://example.com/plivo/status?app=1", Method: http.MethodPost}
	for _, c := range []struct{ status, code string }{{"read", ""}, {"delivered", ""}, {"failed", "1000"}} {
		r, err := plivotest.WhatsAppStatusRequest(m, c.status, c.code)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		f := r.PostForm
		if f.Get("Type") != "whatsapp" || f.Get("Status") != c.status || f.Get("MessageUUID") != m.UUID || f.Get("To") != "14155550100" ||
			f.Get("ConversationOrigin") != "authentication" || f.Get("ConversationID") == "" || f.Get("ErrorCode") != c.code {
			t.Errorf("%s: params = %v", c.status, f)
		}
		nonce := r.Header.Get("X-Plivo-Signature-V2-Nonce")
		if nonce == "" || r.Header.Get("X-Plivo-Signature-V3") != "" {
			t.Errorf("%s: headers %v, want V2 only", c.status, r.Header)
		}
		for _, h := range []string{"X-Plivo-Signature-V2", "X-Plivo-Signature-Ma-V2"} {
			if !plivo.ValidateSignatureV2(m.URL, nonce, r.Header.Get(h), plivotest.AuthToken) {
				t.Errorf("%s: plivo-go rejects %s", c.status, h)
			}
		}
		r3, err := plivotest.WhatsAppStatusRequestAs(plivotest.V3, m, c.status, c.code)
		if err != nil {
			t.Fatal(err)
		}
		if err := r3.ParseForm(); err != nil {
			t.Fatal(err)
		}
		params := map[string]string{}
		for k := range r3.PostForm {
			params[k] = r3.PostForm.Get(k)
		}
		if !plivo.ValidateSignatureV3(m.URL, r3.Header.Get("X-Plivo-Signature-V3-Nonce"), http.MethodPost, r3.Header.Get("X-Plivo-Signature-V3"), plivotest.AuthToken, params) {
			t.Errorf("%s: plivo-go rejects the V3 signature", c.status)
		}
	}
	m.URL = ""
	if _, err := plivotest.WhatsAppStatusRequest(m, "read", ""); err == nil {
		t.Error("a message without a status URL gave a request")
	}
}

// A utility template (WhatsAppPaymentTemplate) takes exactly its body's
// text parameters, as plain plivo-go sends them; a wrong count, an empty
// parameter, a button or an unknown language is refused and recorded
// nowhere.
func TestWhatsAppUtilityTemplate(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv, plivotest.AuthToken)
	send := func(tpl string) error {
		t.Helper()
		template, err := plivo.CreateWhatsappTemplate(tpl)
		if err != nil {
			t.Fatalf("CreateWhatsappTemplate: %v", err)
		}
		_, err = c.Messages.Create(plivo.MessageCreateParams{Src: plivotest.WhatsAppNumber, Dst: "+14155550100", Type: "whatsapp", Template: &template})
		return err
	}
	ok := `{"name": "go2fa_payment", "language": "de", "components": [{"type": "body", "parameters": [
		{"type": "text", "text": "482913"}, {"type": "text", "text": "EUR 12.50"}, {"type": "text", "text": "ACME Ltd"}]}]}`
	if err := send(ok); err != nil {
		t.Fatalf("utility template: %v", err)
	}
	m, found := srv.LastWhatsApp("+14155550100")
	if !found || m.Category != "utility" || !reflect.DeepEqual(m.BodyParams, []string{"482913", "EUR 12.50", "ACME Ltd"}) || m.Code != "" || m.Language != "de" {
		t.Fatalf("LastWhatsApp = %+v, %v", m, found)
	}
	if v := plivotest.WhatsAppStatusParams(m, "sent", ""); v.Get("ConversationOrigin") != "utility" {
		t.Errorf("ConversationOrigin = %q, want utility", v.Get("ConversationOrigin"))
	}
	bad := map[string]string{
		"two parameters": `{"name": "go2fa_payment", "language": "de", "components": [{"type": "body", "parameters": [
			{"type": "text", "text": "482913"}, {"type": "text", "text": "EUR 12.50"}]}]}`,
		"empty parameter": `{"name": "go2fa_payment", "language": "de", "components": [{"type": "body", "parameters": [
			{"type": "text", "text": "482913"}, {"type": "text", "text": "EUR 12.50"}, {"type": "text", "text": ""}]}]}`,
		"button": `{"name": "go2fa_payment", "language": "de", "components": [{"type": "body", "parameters": [
			{"type": "text", "text": "482913"}, {"type": "text", "text": "EUR 12.50"}, {"type": "text", "text": "ACME Ltd"}]},
			{"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "482913"}]}]}`,
		"language": `{"name": "go2fa_payment", "language": "fr", "components": [{"type": "body", "parameters": [
			{"type": "text", "text": "482913"}, {"type": "text", "text": "EUR 12.50"}, {"type": "text", "text": "ACME Ltd"}]}]}`,
	}
	for name, tpl := range bad {
		if err := send(tpl); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := len(srv.WhatsAppMessages()); n != 1 {
		t.Errorf("recorded %d messages, want 1", n)
	}
}
