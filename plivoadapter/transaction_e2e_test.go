package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

// countingStore counts the codes the Verifier tries to issue.
type countingStore struct {
	*memstore.Store
	issues atomic.Int64
}

func (s *countingStore) Issue(ctx context.Context, r store.IssueRequest) (store.IssueResult, error) {
	s.issues.Add(1)
	return s.Store.Issue(ctx, r)
}

// paymentVerifier wires a Verifier with the Plivo WhatsApp, SMS and voice
// senders against srv, whose SMS sender's status handler moves a code
// along Policy.FallbackChain (WhatsApp, SMS, call). txnTemplate names the
// WhatsApp transaction template ("" for none).
func paymentVerifier(t *testing.T, srv *plivotest.Server, txnTemplate string) (*otp.Verifier, *countingStore, *plivoadapter.SMS, *plivoadapter.Voice, *testclock.Clock, func() []error) {
	t.Helper()
	clk := testclock.New()
	c := config(srv)
	var (
		mu   sync.Mutex
		v    *otp.Verifier
		errs []error
	)
	messages := plivoadapter.NewMemoryMessages()
	sms, err := plivoadapter.NewSMS(c,
		plivoadapter.WithStatusURL(waStatusURL),
		plivoadapter.WithMessages(messages),
		plivoadapter.WithOnFailure(func(ctx context.Context, d plivoadapter.Delivery) {
			if res, err := v.FallbackNext(context.WithoutCancel(ctx), d.Ref); err != nil || res.Status != otp.FallbackSent {
				mu.Lock()
				errs = append(errs, errors.Join(err, errors.New("fallback: "+string(res.Status))))
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	wo := waOptions(plivoadapter.WithMessages(messages))
	if txnTemplate != "" {
		wo = append(wo, plivoadapter.WithTransactionTemplate(plivoadapter.WhatsAppTemplate{Name: txnTemplate, Languages: plivotest.WhatsAppLanguages()}))
	}
	wa := newWhatsApp(t, srv, wo...)
	voice := newVoice(t, srv)
	st := &countingStore{Store: memstore.New(memstore.WithClock(clk.Now), memstore.WithSweepInterval(0))}
	t.Cleanup(func() { st.Close() })
	chain := []sender.Channel{sender.WhatsApp, sender.SMS, sender.Call}
	v, err = otp.NewVerifier(otp.Config{
		Store:  st,
		Sender: sender.ByChannel(map[sender.Channel]sender.Sender{sender.WhatsApp: wa, sender.SMS: sms, sender.Call: voice}),
		Secret: []byte("0123456789abcdef0123456789abcdef-e2e"),
		Policy: otp.Policy{Fallback: true, FallbackChain: chain, Channels: chain},
		Now:    clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, st, sms, voice, clk, func() []error { mu.Lock(); defer mu.Unlock(); return errs }
}

// A code for a payment goes out on WhatsApp in the transaction template,
// falls back by SMS and then by call, the same code each time, and every
// message states the payment in the user's language; the code approves
// that payment only.
func TestTransactionFallbackEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := fake(t)
	srv.NoWhatsApp(dest)
	v, _, sms, voice, clk, fallbackErrs := paymentVerifier(t, srv, plivotest.WhatsAppPaymentTemplate)
	pay := otp.Transaction{Amount: "12.5", Currency: "eur", Payee: "ACME Ltd"}
	must := ok(t)

	res, err := v.Start(ctx, dest, sender.WhatsApp, otp.WithTransaction(pay), otp.WithLocale("de-AT"))
	if err != nil {
		t.Fatalf("Start(whatsapp, transaction): %v", err)
	}
	wm, found := srv.LastWhatsApp(dest)
	if !found || wm.Template != plivotest.WhatsAppPaymentTemplate || wm.Language != "de" || len(wm.BodyParams) != 3 ||
		!reflect.DeepEqual(wm.BodyParams[1:], []string{"EUR 12.50", "ACME Ltd"}) {
		t.Fatalf("WhatsApp message = %+v, %v; want the payment template in de with amount and payee", wm, found)
	}
	theCode := wm.BodyParams[0]

	// WhatsApp cannot deliver: the same code by SMS, with the payment.
	clk.Advance(31 * time.Second)
	if a, _ := plivotest.Serve(sms.StatusHandler(), must(plivotest.WhatsAppStatusRequest(wm, "failed", "1000"))); a.StatusCode != http.StatusOK {
		t.Fatalf("whatsapp report: %d", a.StatusCode)
	}
	sm, found := srv.LastMessage(dest)
	if want := "Code " + theCode + " zur Zahlung von EUR 12.50 an ACME Ltd."; !found || !strings.HasPrefix(sm.Text, want) {
		t.Fatalf("SMS = %q, %v; want it to start %q", sm.Text, found, want)
	}

	// The SMS is not delivered: the same code by call, which speaks the
	// payment before the digits, both times.
	clk.Advance(31 * time.Second)
	if a, _ := plivotest.Serve(sms.StatusHandler(), must(plivotest.StatusRequest(sm, "undelivered", "30"))); a.StatusCode != http.StatusOK {
		t.Fatalf("sms report: %d", a.StatusCode)
	}
	call, found := srv.LastCall(dest)
	if !found {
		t.Fatalf("no call after the SMS failure (fallback errors: %v)", fallbackErrs())
	}
	a, err := plivotest.PlayAnswer(voice.AnswerHandler(), call)
	if err != nil || a.StatusCode != http.StatusOK {
		t.Fatalf("answer: %d, %v", a.StatusCode, err)
	}
	spoken := "Ihr Code für die Zahlung von 12 Komma 5 0 Euro an ACME Ltd lautet"
	if len(a.Speak) < 3 || a.Speak[0] != spoken || !strings.Contains(a.Speak[2], spoken[len("Ihr "):]) ||
		!reflect.DeepEqual(a.Digits(), []string{theCode, theCode}) {
		t.Fatalf("the call speaks %q, want %q and the code %s twice", a.Speak, spoken, theCode)
	}
	for _, where := range []string{call.AnswerURL, wm.URL} {
		if strings.Contains(where, "12") || strings.Contains(where, "ACME") || strings.Contains(where, theCode) {
			t.Errorf("URL %q carries the payment or the code", where)
		}
	}
	if errs := fallbackErrs(); len(errs) != 0 {
		t.Fatalf("fallbacks failed: %v", errs)
	}

	// The code approves this payment only: another amount is a counted
	// wrong guess, the right one approves.
	if got, err := v.Check(ctx, res.To, theCode, otp.WithTransaction(otp.Transaction{Amount: "1250.00", Currency: "EUR", Payee: "ACME Ltd"})); err != nil || got.Status != otp.Rejected {
		t.Fatalf("Check for EUR 1250.00 = %+v, %v; want rejected", got, err)
	}
	if got, err := v.Check(ctx, res.To, theCode, otp.WithTransaction(pay)); err != nil || got.Status != otp.Approved {
		t.Fatalf("Check for the payment = %+v, %v; want approved", got, err)
	}
}

// Without a WhatsApp transaction template, a payment code on WhatsApp is
// refused before anything is stored or sent; SMS and call still work.
func TestTransactionWhatsAppWithoutTemplateRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := fake(t)
	v, st, _, _, _, _ := paymentVerifier(t, srv, "")
	pay := otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}
	_, err := v.Start(ctx, dest, sender.WhatsApp, otp.WithTransaction(pay))
	if !errors.Is(err, otp.ErrTransactionUnsupported) || !errors.Is(err, otp.ErrInvalidTransaction) {
		t.Fatalf("Start(whatsapp) = %v, want ErrTransactionUnsupported", err)
	}
	if n, r := st.issues.Load(), srv.RequestCount(); n != 0 || r != 0 {
		t.Fatalf("store issues %d, Plivo requests %d; want none", n, r)
	}
	if _, err := v.Start(ctx, dest, sender.Call, otp.WithTransaction(pay)); err != nil {
		t.Fatalf("Start(call, transaction): %v", err)
	}
	if c, ok := srv.LastCall(dest); !ok || c.AnswerURL == "" {
		t.Fatal("no call placed")
	}
}
