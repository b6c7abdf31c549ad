package plivoadapter_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store/memstore"
)

// TestWhatsAppSMSVoiceFallbackEndToEnd plays one verification through
// real plivo-go clients against the fake Plivo API: the code goes out on
// WhatsApp to a number without WhatsApp; WhatsApp's "failed" report
// reaches the same signed status handler as SMS reports, whose OnFailure
// calls Verifier.FallbackNext with the report's Delivery.Ref, which re-sends
// the same code by SMS; the SMS is reported "undelivered", and the same
// OnFailure sends the same code in a voice call; the call's answer URL
// speaks it, and the code typed in the original session is approved.
// Duplicate, replayed and late reports send nothing more.
func TestWhatsAppSMSVoiceFallbackEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := fake(t)
	srv.NoWhatsApp(dest)
	clk := testclock.New() // the Verifier's and the store's; Plivo's callbacks carry real times
	c := config(srv)

	var (
		mu       sync.Mutex
		v        *otp.Verifier
		errs     []error
		statuses []otp.FallbackStatus
	)
	messages := plivoadapter.NewMemoryMessages() // one store for both senders
	sms, err := plivoadapter.NewSMS(
		c,
		plivoadapter.WithStatusURL(waStatusURL),
		plivoadapter.WithMessages(messages),
		plivoadapter.WithOnFailure(func(ctx context.Context, d plivoadapter.Delivery) {
			res, err := v.FallbackNext(context.WithoutCancel(ctx), d.Ref)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			statuses = append(statuses, res.Status)
		}))
	if err != nil {
		t.Fatal(err)
	}
	wa := newWhatsApp(t, srv, waOptions(plivoadapter.WithMessages(messages))...) // reports to waStatusURL too
	voice, err := plivoadapter.NewVoice(c, answerURL)
	if err != nil {
		t.Fatal(err)
	}
	router := sender.ByChannel(map[sender.Channel]sender.Sender{sender.WhatsApp: wa, sender.SMS: sms, sender.Call: voice})
	st := memstore.New(memstore.WithClock(clk.Now), memstore.WithSweepInterval(0))
	t.Cleanup(func() { st.Close() })
	chain := []sender.Channel{sender.WhatsApp, sender.SMS, sender.Call}
	policy := otp.Policy{Fallback: true, FallbackChain: chain, Channels: chain}
	v, err = otp.NewVerifier(otp.Config{Store: st, Sender: router, Secret: []byte("0123456789abcdef0123456789abcdef-e2e"), Policy: policy, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	status := sms.StatusHandler()
	must := ok(t)
	serve := func(step string, r *http.Request) {
		t.Helper()
		if a, _ := plivotest.Serve(status, r); a.StatusCode != http.StatusOK {
			t.Fatalf("%s: status handler answered %d, want 200", step, a.StatusCode)
		}
	}

	// 1. The user asks for a code on WhatsApp.
	res, err := v.Start(ctx, dest, sender.WhatsApp)
	if err != nil {
		t.Fatalf("Start(whatsapp): %v", err)
	}
	wm, found := srv.LastWhatsApp(dest)
	if !found || wm.OnWhatsApp || wm.Code == "" || wm.URL != waStatusURL {
		t.Fatalf("WhatsApp message = %+v, %v", wm, found)
	}
	theCode := wm.Code

	// 2. WhatsApp cannot deliver: Plivo reports "failed" to the shared
	// status handler; the same code goes out by SMS. A "sent" report
	// before it changes nothing.
	clk.Advance(31 * time.Second) // past the default 30 s cooldown
	serve("whatsapp sent", must(plivotest.WhatsAppStatusRequest(wm, "sent", "")))
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("a \"sent\" report started %d SMS", n)
	}
	failed := must(plivotest.WhatsAppStatusRequest(wm, "failed", "1000"))
	serve("whatsapp failed", failed)
	sm, found := srv.LastMessage(dest)
	if !found || sm.Code != theCode {
		t.Fatalf("SMS after the WhatsApp failure = %+v, %v; want the same code", sm, found)
	}
	// A replayed failure report is refused; a duplicate one (fresh
	// signature) acts no more: the SMS is not sent again.
	replay, err := plivotest.SignedRequestAs(plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, failed.Header.Get("X-Plivo-Signature-V2-Nonce"), http.MethodPost, wm.URL, plivotest.WhatsAppStatusParams(wm, "failed", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := plivotest.Serve(status, replay); a.StatusCode != http.StatusForbidden {
		t.Errorf("replayed whatsapp report: %d, want 403", a.StatusCode)
	}
	if _, err := plivotest.Serve(status, must(plivotest.WhatsAppStatusRequest(wm, "undelivered", "1000"))); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d SMS after duplicate WhatsApp reports, want 1", n)
	}

	// 3. The SMS is not delivered either: the same code, by voice.
	clk.Advance(31 * time.Second)
	serve("sms undelivered", must(plivotest.StatusRequest(sm, "undelivered", "30")))
	call, found := srv.LastCall(dest)
	if !found {
		t.Fatal("no call after the SMS failure")
	}
	a, err := plivotest.PlayAnswer(voice.AnswerHandler(), call)
	if err != nil || a.StatusCode != http.StatusOK {
		t.Fatalf("answer URL: %d, %v", a.StatusCode, err)
	}
	if d := a.Digits(); len(d) == 0 || d[0] != theCode {
		t.Fatalf("the call speaks %v, want the code sent on WhatsApp", d)
	}
	// A duplicate SMS report sends no second call.
	if _, err := plivotest.Serve(status, must(plivotest.StatusRequest(sm, "failed", "30"))); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(errs) != 0 {
		t.Fatalf("fallbacks failed: %v", errs)
	}
	if len(statuses) != 2 || statuses[0] != otp.FallbackSent || statuses[1] != otp.FallbackSent {
		t.Fatalf("fallbacks = %v, want [sent sent]", statuses)
	}
	mu.Unlock()
	if n, m, k := len(srv.WhatsAppMessages()), len(srv.Messages()), len(srv.Calls()); n != 1 || m != 1 || k != 1 {
		t.Errorf("sent %d WhatsApp, %d SMS, %d calls; want 1 each", n, m, k)
	}

	// 4. The user types the one code in the original session: approved,
	// once.
	got, err := v.Check(ctx, res.To, theCode)
	if err != nil || got.Status != otp.Approved {
		t.Fatalf("Check = %+v, %v; want approved", got, err)
	}
	if again, _ := v.Check(ctx, res.To, theCode); again.Status == otp.Approved {
		t.Error("the code was approved twice")
	}
}
