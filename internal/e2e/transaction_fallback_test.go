package e2e_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
)

// paymentFallback returns a Verifier with Policy.Fallback over SMS, call
// and WhatsApp on st, where WhatsApp's sender cannot show a transaction.
func paymentFallback(t *testing.T, st store.Store) (*otp.Verifier, *sendertest.Recorder, *sendertest.Carrier, *sendertest.Recorder) {
	t.Helper()
	// The call sender shows a Message.Transaction, as the Plivo voice
	// sender speaks it.
	sms, call, wa := &sendertest.Recorder{}, &sendertest.Carrier{Shows: []sender.Channel{sender.Call}}, &sendertest.Recorder{}
	chain := []sender.Channel{sender.SMS, sender.Call, sender.WhatsApp}
	v, err := otp.NewVerifier(otp.Config{
		Store:  st,
		Sender: sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: sms, sender.Call: call, sender.WhatsApp: wa}),
		Secret: testSecret,
		Policy: otp.Policy{Fallback: true, FallbackChain: chain, Channels: chain},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, sms, call, wa
}

// The fallback of a transaction code re-sends the payment with the code:
// the call carries the same transaction, on every store (the payment
// travels in the sealed value); a later channel that cannot show it gets
// nothing.
func TestFallbackTransaction(t *testing.T) {
	pay := otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}
	for _, sc := range allStores() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			v, sms, call, wa := paymentFallback(t, sc.open(t))
			if _, err := v.Start(ctx, alice, sender.SMS, otp.WithTransaction(pay), otp.WithLocale("it"), otp.WithBinding("s1")); err != nil {
				t.Fatal(err)
			}
			m, _ := sms.Last(alice)
			if !strings.Contains(m.Text, "per pagare EUR 12.50 a ACME Ltd") {
				t.Fatalf("SMS text %q lacks the payment", m.Text)
			}
			res, err := v.Fallback(ctx, m.Ref, sender.Call)
			if err != nil || res.Status != otp.FallbackSent {
				t.Fatalf("Fallback(call) = %+v, %v", res, err)
			}
			c, _ := call.Last(alice)
			want := sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}
			if c.Code != m.Code || c.Locale != "it" || c.Transaction == nil || *c.Transaction != want || c.Text != "" {
				t.Fatalf("call = code ok %v, locale %q, transaction %v, text %q; want the same code and payment", c.Code == m.Code, c.Locale, c.Transaction, c.Text)
			}
			if _, err := v.Fallback(ctx, c.Ref, sender.WhatsApp); !errors.Is(err, otp.ErrTransactionUnsupported) {
				t.Fatalf("Fallback(whatsapp) = %v, want ErrTransactionUnsupported", err)
			}
			if wa.Len() != 0 {
				t.Fatal("a WhatsApp message went out without the payment")
			}
			if got, err := v.Check(ctx, alice, m.Code, otp.WithBinding("s1"), otp.WithTransaction(pay)); err != nil || got.Status != otp.Approved {
				t.Fatalf("Check = %+v, %v; want approved", got, err)
			}
		})
	}
}

// With Policy.Fallback a transaction code started by call may be re-sent
// by SMS, so its SMS text must fit: a payee too long for one SMS is
// refused at Start, before anything is stored or sent.
func TestFallbackTransactionFitsSMS(t *testing.T) {
	t.Parallel()
	st := allStores()[0].open(t)
	v, _, call, _ := paymentFallback(t, st)
	long := otp.Transaction{Amount: "1", Currency: "EUR", Payee: strings.Repeat("Łódź", 16)}
	if _, err := v.Start(t.Context(), alice, sender.Call, otp.WithTransaction(long)); !errors.Is(err, otp.ErrTransactionTooLong) {
		t.Fatalf("Start(call) with a payee too long for one SMS = %v, want ErrTransactionTooLong", err)
	}
	if call.Len() != 0 {
		t.Fatal("a call was placed")
	}
}

// With Policy.Fallback the transaction waits in the store's sealed value:
// a Redis dump holds neither the amount nor the payee in clear.
func TestFallbackTransactionDumpRevealsNothing(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	v, sms, _, _ := paymentFallback(t, redisStore(t, redis.NewClient(&redis.Options{Addr: mr.Addr()})))
	if _, err := v.Start(t.Context(), alice, sender.SMS, otp.WithTransaction(otp.Transaction{Amount: "4321.98", Currency: "EUR", Payee: "Zebulon Quartermaine"})); err != nil {
		t.Fatal(err)
	}
	m, _ := sms.Last(alice)
	dump := redisDump(mr)
	if dump.Len() == 0 {
		t.Fatal("nothing dumped: the test would prove nothing")
	}
	for _, s := range []string{"4321", "Zebulon", "Quartermaine", m.Code, alice[1:]} {
		if bytes.Contains(dump.Bytes(), []byte(s)) {
			t.Errorf("the Redis dump contains %q", s)
		}
	}
}
