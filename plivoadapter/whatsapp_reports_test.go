package plivoadapter_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
)

// WhatsApp's delivery and read reports reach the SMS sender's signed
// status handler: delivered and read are acknowledged and start nothing,
// failed and undelivered call OnFailure once per message, and a forged or
// replayed report is refused. POST and GET alike.
func TestWhatsAppReportsThroughSMSStatusHandler(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		srv := fake(t)
		var mu sync.Mutex
		var failed []plivoadapter.Delivery
		messages := plivoadapter.NewMemoryMessages() // one store for both senders
		sms, err := plivoadapter.NewSMS(
			config(srv),
			plivoadapter.WithStatusURL(waStatusURL),
			plivoadapter.WithStatusMethod(method),
			plivoadapter.WithMessages(messages),
			plivoadapter.WithOnFailure(func(ctx context.Context, d plivoadapter.Delivery) {
				mu.Lock()
				failed = append(failed, d)
				mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		wa := newWhatsApp(t, srv, waOptions(plivoadapter.WithStatusMethod(method), plivoadapter.WithMessages(messages))...)
		if err := wa.Send(context.Background(), waMsg()); err != nil {
			t.Fatal(err)
		}
		m, _ := srv.LastWhatsApp(dest)
		if m.Method != method {
			t.Fatalf("%s: report method = %q", method, m.Method)
		}
		h := sms.StatusHandler()
		for _, status := range []string{"queued", "sent", "delivered", "read"} {
			if a, _ := plivotest.Serve(h, ok(t)(plivotest.WhatsAppStatusRequest(m, status, ""))); a.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %d, want 200", method, status, a.StatusCode)
			}
		}
		mu.Lock()
		if len(failed) != 0 {
			t.Errorf("%s: OnFailure called for delivered/read reports: %v", method, failed)
		}
		mu.Unlock()
		forged, _ := plivotest.SignedRequestWith("not-the-token", plivotest.Nonce(), method, m.URL, plivotest.WhatsAppStatusParams(m, "failed", "1000"))
		if a, _ := plivotest.Serve(h, forged); a.StatusCode != http.StatusForbidden {
			t.Errorf("%s forged: %d, want 403", method, a.StatusCode)
		}
		first := ok(t)(plivotest.WhatsAppStatusRequest(m, "failed", "1000"))
		nonce := first.Header.Get(plivoadapter.HeaderNonceV3)
		for _, r := range []*http.Request{first, ok(t)(plivotest.WhatsAppStatusRequest(m, "undelivered", "1000"))} {
			if a, _ := plivotest.Serve(h, r); a.StatusCode != http.StatusOK {
				t.Errorf("%s failure report: %d, want 200", method, a.StatusCode)
			}
		}
		replay := ok(t)(plivotest.SignedRequestWith(plivotest.AuthToken, nonce, method, m.URL, plivotest.WhatsAppStatusParams(m, "failed", "1000")))
		if a, _ := plivotest.Serve(h, replay); a.StatusCode != http.StatusForbidden {
			t.Errorf("%s replay: %d, want 403", method, a.StatusCode)
		}
		mu.Lock()
		if len(failed) != 1 || failed[0].MessageUUID != m.UUID || failed[0].Status != "failed" || failed[0].To != dest {
			t.Errorf("%s: OnFailure got %v, want one failure for %s", method, failed, m.UUID)
		}
		mu.Unlock()
	}
}
