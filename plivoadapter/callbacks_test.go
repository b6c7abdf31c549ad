package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

const plivoTime = "2006-01-02 15:04:05.000000"

// reportRig is an SMS sender on a fake clock with a status URL, and the
// deliveries its OnFailure received.
type reportRig struct {
	srv *plivotest.Server
	clk *testclock.Clock
	sms *plivoadapter.SMS
	mu  sync.Mutex
	got []plivoadapter.Delivery
}

// newReportRig sends with c (a fake's when c is the zero Config) and
// opts, then the rig's status URL, clock and failure recorder.
func newReportRig(t *testing.T, c plivoadapter.Config, opts ...plivoadapter.Option) *reportRig {
	t.Helper()
	rig := &reportRig{clk: testclock.New()}
	if c.AuthID == "" {
		rig.srv = fake(t)
		c = config(rig.srv)
	}
	opts = append(opts,
		plivoadapter.WithStatusURL("https://example.com/plivo/status"),
		plivoadapter.WithClock(rig.clk.Now),
		plivoadapter.WithOnFailure(func(_ context.Context, d plivoadapter.Delivery) {
			rig.mu.Lock()
			rig.got = append(rig.got, d)
			rig.mu.Unlock()
		}))
	s, err := plivoadapter.NewSMS(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	rig.sms = s
	return rig
}

func (rig *reportRig) failures() []plivoadapter.Delivery {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return append([]plivoadapter.Delivery(nil), rig.got...)
}

// send sends one SMS and returns the fake's record of it.
func (rig *reportRig) send(t *testing.T, m sender.Message) plivotest.Message {
	t.Helper()
	if err := rig.sms.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := rig.srv.Messages()
	return msgs[len(msgs)-1]
}

// report builds Plivo's status callback for m at the rig's clock, signed
// with family sig, token and nonce.
func (rig *reportRig) report(t *testing.T, sig plivotest.Signature, token, mainToken, nonce string, m plivotest.Message, status string) *http.Request {
	t.Helper()
	params := plivotest.StatusParams(m, status, "30")
	params.Set("MessageTime", rig.clk.Now().UTC().Format(plivoTime))
	return ok(t)(plivotest.SignedRequestAs(sig, token, mainToken, nonce, http.MethodPost, m.URL, params))
}

func serve(h http.Handler, r *http.Request) int {
	a, _ := plivotest.Serve(h, r)
	return a.StatusCode
}

// Plivo's messaging documentation signs status callbacks with V2 and
// Ma-V2 (plivo-go ComputeSignatureV2); some accounts get V3. Each of the
// four headers alone is accepted with the right token, and only with it.
func TestStatusCallbackAcceptsEveryDocumentedSignature(t *testing.T) {
	t.Parallel()
	const mainToken = "main-account-token-not-a-secret"
	for _, tt := range []struct {
		name       string
		sig        plivotest.Signature
		keep       string // the only signature header left
		token      string // what signs it
		mainConfig string // Config.MainAuthToken
		want       int
	}{
		{"V2", plivotest.V2, plivoadapter.HeaderSignatureV2, plivotest.AuthToken, "", 200},
		{"Ma-V2 of a main account", plivotest.V2, plivoadapter.HeaderSignatureMaV2, plivotest.AuthToken, "", 200},
		{"Ma-V2 of a subaccount", plivotest.V2, plivoadapter.HeaderSignatureMaV2, mainToken, mainToken, 200},
		{"Ma-V2 with the subaccount token", plivotest.V2, plivoadapter.HeaderSignatureMaV2, plivotest.AuthToken, mainToken, 403},
		{"V2 with the main token", plivotest.V2, plivoadapter.HeaderSignatureV2, mainToken, mainToken, 403},
		{"V3", plivotest.V3, plivoadapter.HeaderSignatureV3, plivotest.AuthToken, "", 200},
		{"Ma-V3 of a subaccount", plivotest.V3, plivoadapter.HeaderSignatureMaV3, mainToken, mainToken, 200},
		{"Ma-V3 with the subaccount token", plivotest.V3, plivoadapter.HeaderSignatureMaV3, plivotest.AuthToken, mainToken, 403},
		{"V2 forged", plivotest.V2, plivoadapter.HeaderSignatureV2, "guessed", "", 403},
	} {
		srv := fake(t)
		c := config(srv)
		c.MainAuthToken = tt.mainConfig
		rig := newReportRig(t, c)
		rig.srv = srv
		m := rig.send(t, smsMsg())
		r := rig.report(t, tt.sig, tt.token, tt.token, plivotest.Nonce(), m, "undelivered")
		for _, h := range []string{plivoadapter.HeaderSignatureV2, plivoadapter.HeaderSignatureMaV2, plivoadapter.HeaderSignatureV3, plivoadapter.HeaderSignatureMaV3} {
			if h != tt.keep {
				r.Header.Del(h)
			}
		}
		if got := serve(rig.sms.StatusHandler(), r); got != tt.want {
			t.Errorf("%s: status = %d, want %d", tt.name, got, tt.want)
		}
		if n := len(rig.failures()); (n == 1) != (tt.want == 200) {
			t.Errorf("%s: OnFailure calls = %d", tt.name, n)
		}
	}
}

// The voice answer handler takes V3 only: a request carrying a valid V2
// signature (which covers neither the query nor the body) is refused.
func TestAnswerHandlerRefusesV2(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	c := placeCall(t, srv, v)
	r := ok(t)(plivotest.SignedRequestAs(plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), http.MethodPost, c.AnswerURL, plivotest.AnswerParams(c)))
	if a, _ := plivotest.Serve(v.AnswerHandler(), r); a.StatusCode != http.StatusForbidden || len(a.Speak) != 0 {
		t.Errorf("V2-signed answer request: status = %d, body %q; want 403", a.StatusCode, a.Body)
	}
	if a, _ := plivotest.PlayAnswer(v.AnswerHandler(), c); a.StatusCode != http.StatusOK {
		t.Errorf("V3-signed answer after the refused one: %d, want 200", a.StatusCode)
	}
}

// A captured, signed failure report acts once per message, however it is
// replayed: byte for byte after the nonce window (its MessageTime is then
// stale, and the message forgotten), or within the window with a fresh
// nonce or, under V2 which signs no body, a rewritten MessageTime.
func TestStatusReportReplays(t *testing.T) {
	t.Parallel()
	rig := newReportRig(t, plivoadapter.Config{}, plivoadapter.WithNonceWindow(10*time.Minute))
	m := rig.send(t, smsMsg()) // the code lives 5 minutes
	h := rig.sms.StatusHandler()
	nonce := plivotest.Nonce()
	if got := serve(h, rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, nonce, m, "failed")); got != 200 {
		t.Fatalf("first report: %d", got)
	}
	// Within the window: the same request (same nonce) is refused.
	if got := serve(h, rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, nonce, m, "failed")); got != http.StatusForbidden {
		t.Errorf("replay within the window: %d, want 403", got)
	}
	// A new signed report (fresh nonce) for the same message: acknowledged,
	// no second action.
	if got := serve(h, rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), m, "undelivered")); got != 200 {
		t.Errorf("second failure report: %d, want 200", got)
	}
	// The captured V2 report with a rewritten MessageTime (V2 does not sign
	// it), after the nonce is forgotten: the message is forgotten too.
	rig.clk.Advance(11 * time.Minute)
	params := plivotest.StatusParams(m, "failed", "30")
	params.Set("MessageTime", rig.clk.Now().UTC().Format(plivoTime))
	r := ok(t)(plivotest.SignedRequestAs(plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, nonce, http.MethodPost, m.URL, params))
	if got := serve(h, r); got != http.StatusNotFound {
		t.Errorf("rewritten replay after the window: %d, want 404 (message forgotten)", got)
	}
	// Byte for byte after the window: stale.
	params.Set("MessageTime", rig.clk.Now().Add(-11*time.Minute).UTC().Format(plivoTime))
	r = ok(t)(plivotest.SignedRequestAs(plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, nonce, http.MethodPost, m.URL, params))
	if got := serve(h, r); got != http.StatusForbidden {
		t.Errorf("replay after the window: %d, want 403 (stale MessageTime)", got)
	}
	if n := len(rig.failures()); n != 1 {
		t.Errorf("OnFailure calls = %d, want 1", n)
	}
}

// A report acts only while the message's code can matter: after the
// code's TTL the message is forgotten and its reports are refused (404).
func TestStatusReportAfterCodeExpiry(t *testing.T) {
	t.Parallel()
	rig := newReportRig(t, plivoadapter.Config{})
	msg := smsMsg()
	msg.TTL = time.Minute
	m := rig.send(t, msg)
	rig.clk.Advance(time.Minute)
	r := rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), m, "undelivered")
	if got := serve(rig.sms.StatusHandler(), r); got != http.StatusNotFound {
		t.Errorf("report after the code expired: %d, want 404", got)
	}
	if n := len(rig.failures()); n != 0 {
		t.Errorf("OnFailure calls = %d, want 0", n)
	}
}

// The Delivery handed to OnFailure carries the Ref the message was sent
// with and its channel (from the sender's record, not from the report),
// and each message's failure reaches OnFailure once.
func TestDeliveryCarriesRefAndChannel(t *testing.T) {
	t.Parallel()
	rig := newReportRig(t, plivoadapter.Config{})
	a, b := smsMsg(), smsMsg()
	a.Ref, b.Ref = "ref-a", "ref-b"
	ma, mb := rig.send(t, a), rig.send(t, b)
	h := rig.sms.StatusHandler()
	for _, m := range []plivotest.Message{mb, ma, mb, ma} {
		r := rig.report(t, plivotest.V3, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), m, "failed")
		if got := serve(h, r); got != 200 {
			t.Errorf("report for %s: %d", m.UUID, got)
		}
	}
	got := rig.failures()
	if len(got) != 2 || got[0].Ref != "ref-b" || got[0].MessageUUID != mb.UUID || got[1].Ref != "ref-a" || got[1].MessageUUID != ma.UUID {
		t.Fatalf("deliveries = %+v, want ref-b then ref-a once each", got)
	}
	for _, d := range got {
		if d.Channel != sender.SMS || d.To != dest || !d.Failed() {
			t.Errorf("delivery %+v: want channel sms, to %s, failed", d, dest)
		}
		if strings.Contains(d.String(), dest) {
			t.Errorf("Delivery.String leaks the number: %s", d)
		}
	}
}

// Bad input gets a clear 4xx and changes nothing: unknown message UUIDs,
// missing or malformed fields, stale or far-future MessageTime, garbage
// bodies. A genuine report afterwards still acts.
func TestStatusCallbackBadInput(t *testing.T) {
	t.Parallel()
	nonces := &countingNonces{NonceStore: plivoadapter.NewMemoryNonces()}
	rig := newReportRig(t, plivoadapter.Config{}, plivoadapter.WithNonces(nonces))
	m := rig.send(t, smsMsg())
	h := rig.sms.StatusHandler()
	now := rig.clk.Now().UTC()
	signed := func(mut func(url.Values)) *http.Request {
		p := plivotest.StatusParams(m, "failed", "30")
		p.Set("MessageTime", now.Format(plivoTime))
		mut(p)
		return ok(t)(plivotest.SignedRequestAs(plivotest.V3, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), http.MethodPost, m.URL, p))
	}
	for _, tt := range []struct {
		name string
		r    *http.Request
		want int
	}{
		{"unknown message", signed(func(p url.Values) { p.Set("MessageUUID", "0f0e0d0c-0000-4000-8000-000000000000") }), 404},
		{"no message uuid", signed(func(p url.Values) { p.Del("MessageUUID") }), 400},
		{"malformed message uuid", signed(func(p url.Values) { p.Set("MessageUUID", "<script>") }), 400},
		{"no status", signed(func(p url.Values) { p.Del("Status") }), 400},
		{"no message time", signed(func(p url.Values) { p.Del("MessageTime") }), 400},
		{"garbage message time", signed(func(p url.Values) { p.Set("MessageTime", "yesterday") }), 400},
		{"stale message time", signed(func(p url.Values) { p.Set("MessageTime", now.Add(-2*time.Hour).Format(plivoTime)) }), 403},
		{"future message time", signed(func(p url.Values) { p.Set("MessageTime", now.Add(2*time.Hour).Format(plivoTime)) }), 403},
		{"unsigned", func() *http.Request {
			r := signed(func(url.Values) {})
			r.Header = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			return r
		}(), 403},
		{"garbage body", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, m.URL, strings.NewReader("%zz%%&&=="))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(plivoadapter.HeaderSignatureV2, "x")
			r.Header.Set(plivoadapter.HeaderNonceV2, "1")
			return r
		}(), 400},
	} {
		if got := serve(h, tt.r); got != tt.want {
			t.Errorf("%s: status = %d, want %d", tt.name, got, tt.want)
		}
	}
	if n := len(rig.failures()); n != 0 {
		t.Fatalf("OnFailure calls after bad input = %d, want 0", n)
	}
	if n := nonces.n.Load(); n != 0 {
		t.Errorf("NonceStore written %d times by refused reports, want 0", n)
	}
	if got := serve(h, signed(func(url.Values) {})); got != 200 || len(rig.failures()) != 1 {
		t.Errorf("genuine report after the bad ones: %d, OnFailure calls %d; want 200 and 1", got, len(rig.failures()))
	}
}

// Of many concurrent failure reports for one message, each with its own
// nonce, exactly one reaches OnFailure.
func TestStatusReportsConcurrentActOnce(t *testing.T) {
	t.Parallel()
	rig := newReportRig(t, plivoadapter.Config{})
	m := rig.send(t, smsMsg())
	h := rig.sms.StatusHandler()
	reqs := make([]*http.Request, 16)
	for i := range reqs {
		reqs[i] = rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), m, "undelivered")
	}
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := serve(h, r); got != 200 {
				t.Errorf("report: %d, want 200", got)
			}
		}()
	}
	wg.Wait()
	if n := len(rig.failures()); n != 1 {
		t.Errorf("OnFailure calls = %d, want 1", n)
	}
}

// countingNonces counts Seen calls.
type countingNonces struct {
	plivoadapter.NonceStore
	n atomic.Int64
}

func (c *countingNonces) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	c.n.Add(1)
	return c.NonceStore.Seen(ctx, key, ttl)
}

// A "delivered" report reaches OnDelivered once per message, however often
// it comes (duplicates with fresh nonces, concurrently); it never reaches
// OnFailure, and a failure report never reaches OnDelivered.
func TestStatusReportDeliveredOnce(t *testing.T) {
	t.Parallel()
	var (
		mu        sync.Mutex
		delivered []plivoadapter.Delivery
	)
	rig := newReportRig(t, plivoadapter.Config{}, plivoadapter.WithOnDelivered(func(_ context.Context, d plivoadapter.Delivery) {
		mu.Lock()
		delivered = append(delivered, d)
		mu.Unlock()
	}))
	m := rig.send(t, smsMsg())
	h := rig.sms.StatusHandler()
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	for range 20 {
		wg.Go(func() {
			codes <- serve(h, rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), m, "delivered"))
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivered report: %d, want 200", c)
		}
	}
	if got := serve(h, rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), m, "sent")); got != http.StatusOK {
		t.Errorf("sent report: %d, want 200", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 1 || delivered[0].Ref == "" || delivered[0].Status != "delivered" {
		t.Fatalf("OnDelivered calls = %+v, want one with the message's Ref", delivered)
	}
	if n := len(rig.failures()); n != 0 {
		t.Errorf("OnFailure calls = %d after delivered reports, want 0", n)
	}

	m2 := rig.send(t, smsMsg())
	if got := serve(h, rig.report(t, plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, plivotest.Nonce(), m2, "undelivered")); got != http.StatusOK {
		t.Fatalf("undelivered report: %d", got)
	}
	if len(delivered) != 1 || len(rig.failures()) != 1 {
		t.Errorf("after an undelivered report: %d OnDelivered, %d OnFailure calls; want 1 and 1", len(delivered), len(rig.failures()))
	}
}

func TestOnDeliveredNeedsStatusURL(t *testing.T) {
	t.Parallel()
	_, err := plivoadapter.NewSMS(config(fake(t)), plivoadapter.WithOnDelivered(func(context.Context, plivoadapter.Delivery) {}))
	if !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("NewSMS with OnDelivered and no StatusURL: %v, want ErrInvalidConfig", err)
	}
}
