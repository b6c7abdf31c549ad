package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

func whatsappVars() map[string]string {
	return map[string]string{
		"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken, "PLIVO_NUMBER": plivotest.Number,
		"PUBLIC_URL": "https://demo.example", "GO2FA_SECRET": fmt.Sprintf("%x", testSecret),
		envWhatsAppNumber: plivotest.WhatsAppNumber, envWhatsAppTemplate: plivotest.WhatsAppTemplate,
		envWhatsAppLanguages: "de, en_US",
	}
}

// With PLIVO_WHATSAPP_NUMBER and PLIVO_WHATSAPP_TEMPLATE the demo offers
// WhatsApp: the page's config lists it, a start on WhatsApp sends the
// authentication template through Plivo with reports to the demo's status
// handler, which takes WhatsApp's signed reports, and the code checks.
func TestPlivoWhatsApp(t *testing.T) {
	t.Parallel()
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	cfg := testConfig(t, whatsappVars(), fake.Client())
	if !slices.Contains(cfg.Policy.Channels, sender.WhatsApp) {
		t.Fatalf("channels = %v, want whatsapp among them", cfg.Policy.Channels)
	}
	app, srv := serve(t, cfg)

	resp, err := srv.Client().Get(srv.URL + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct{ Channels []string }
	err = json.NewDecoder(resp.Body).Decode(&conf)
	resp.Body.Close()
	if err != nil || !slices.Contains(conf.Channels, "whatsapp") {
		t.Fatalf("/api/config channels = %v, %v; want whatsapp", conf.Channels, err)
	}

	if r := post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550100","channel":"whatsapp"}`); r.status != http.StatusAccepted || r.body["channel"] != "whatsapp" {
		t.Fatalf("whatsapp start = %d %v", r.status, r.body)
	}
	m, ok := fake.LastWhatsApp(testNumber)
	if !ok || m.Code == "" || m.Language != "de" || m.URL != "https://demo.example/plivo/status" || m.Log != "false" {
		t.Fatalf("whatsapp message = %+v, %v", m, ok)
	}
	for _, status := range []string{"delivered", "read"} {
		req, err := plivotest.WhatsAppStatusRequest(m, status, "")
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := plivotest.Serve(app, req); a.StatusCode != http.StatusOK {
			t.Errorf("%s report = %d, want 200", status, a.StatusCode)
		}
	}
	forged, _ := plivotest.SignedRequestWith("wrong-token", plivotest.Nonce(), http.MethodPost, m.URL, plivotest.WhatsAppStatusParams(m, "failed", "1000"))
	if a, _ := plivotest.Serve(app, forged); a.StatusCode != http.StatusForbidden {
		t.Errorf("forged whatsapp report = %d, want 403", a.StatusCode)
	}
	r := post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, testNumber, m.Code))
	if r.status != http.StatusOK || r.body["status"] != "approved" {
		t.Fatalf("check of the WhatsApp code = %d %v", r.status, r.body)
	}
}

func TestWhatsAppSettings(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(map[string]string){
		"number without template": func(m map[string]string) { delete(m, envWhatsAppTemplate) },
		"template without number": func(m map[string]string) { delete(m, envWhatsAppNumber) },
		"bad template name":       func(m map[string]string) { m[envWhatsAppTemplate] = "Not-A-Name" },
		"bad language":            func(m map[string]string) { m[envWhatsAppLanguages] = "english" },
	} {
		vars := whatsappVars()
		edit(vars)
		if _, _, _, err := senderFromEnv(env(vars), discard, nil, nil, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	vars := whatsappVars()
	delete(vars, envWhatsAppNumber)
	delete(vars, envWhatsAppTemplate)
	_, _, channels, err := senderFromEnv(env(vars), discard, nil, nil, nil)
	if err != nil || slices.Contains(channels, sender.WhatsApp) {
		t.Errorf("without WhatsApp settings: %v, %v; want no whatsapp", channels, err)
	}
}

// A WhatsApp message that fails falls back, with the same code, to an SMS,
// and an SMS that is not delivered to a call: the demo's chain is
// WhatsApp, SMS, call when WhatsApp is offered. Duplicate reports send
// nothing more.
func TestPlivoWhatsAppFallbackChain(t *testing.T) {
	t.Parallel()
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	fake.NoWhatsApp(testNumber)
	cfg := testConfig(t, whatsappVars(), fake.Client())
	app, srv := serve(t, cfg)
	if r := post(t, srv.Client(), srv.URL+"/api/verifications", `{"to":"+14155550100","channel":"whatsapp"}`); r.status != http.StatusAccepted {
		t.Fatalf("whatsapp start = %d %v", r.status, r.body)
	}
	wm, ok := fake.LastWhatsApp(testNumber)
	if !ok || wm.Code == "" {
		t.Fatalf("whatsapp message = %+v, %v", wm, ok)
	}
	report := func(r *http.Request, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := plivotest.Serve(app, r); a.StatusCode != http.StatusOK {
			t.Fatalf("report = %d, want 200", a.StatusCode)
		}
	}
	report(plivotest.WhatsAppStatusRequest(wm, "failed", "1000"))
	report(plivotest.WhatsAppStatusRequest(wm, "undelivered", "1000"))
	sm, ok := fake.LastMessage(testNumber)
	if !ok || sm.Code != wm.Code || len(fake.Messages()) != 1 {
		t.Fatalf("after the WhatsApp failure: %d SMS, last %+v; want 1 with the same code", len(fake.Messages()), sm)
	}
	report(plivotest.StatusRequest(sm, "undelivered", "30"))
	report(plivotest.StatusRequest(sm, "failed", "30"))
	if n := len(fake.Calls()); n != 1 {
		t.Fatalf("%d calls after the SMS failure, want 1", n)
	}
	r := post(t, srv.Client(), srv.URL+"/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":%q}`, testNumber, wm.Code))
	if r.status != http.StatusOK || r.body["status"] != "approved" {
		t.Fatalf("check = %d %v", r.status, r.body)
	}
}
