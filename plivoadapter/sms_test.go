package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

func TestSMSRequest(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	s := newSMS(t, srv, plivoadapter.WithBrand("Acme"), plivoadapter.WithStatusURL("https://example.com/plivo/status"))
	if err := s.Send(context.Background(), smsMsg()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := onlyRequest(t, srv, "api.plivo.com", "/v1/Account/"+plivotest.AuthID+"/Message/")
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	want := map[string]any{
		"src":            plivotest.Number,
		"dst":            dest,
		"text":           "Acme: Your verification code is " + code + ". It expires in 5 minutes.",
		"url":            "https://example.com/plivo/status",
		"method":         "POST",
		"log":            false,
		"message_expiry": float64(300),
	}
	if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v\nwant %v", got, want)
	}
	m, ok := srv.LastMessage(dest)
	if !ok || m.Code != code {
		t.Errorf("LastMessage = %+v, %v; want code %s", m, ok, code)
	}
}

func TestSMSDefaultTextAndMessageText(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	s := newSMS(t, srv)
	tests := []struct {
		name string
		msg  sender.Message
		want string
	}{
		{"default", smsMsg(), "Your verification code is 493817. It expires in 5 minutes."},
		{"one minute", sender.Message{To: dest, Channel: sender.SMS, Code: code, TTL: 60 * time.Second}, "Your verification code is 493817. It expires in 1 minute."},
		{"no ttl", sender.Message{To: dest, Channel: sender.SMS, Code: code}, "Your verification code is 493817."},
		{"message text", sender.Message{To: dest, Channel: sender.SMS, Code: code, Text: "Code 493817 for Acme"}, "Code 493817 for Acme"},
	}
	for _, tt := range tests {
		if err := s.Send(context.Background(), tt.msg); err != nil {
			t.Fatalf("%s: Send: %v", tt.name, err)
		}
		m, _ := srv.LastMessage(dest)
		if m.Text != tt.want {
			t.Errorf("%s: text = %q, want %q", tt.name, m.Text, tt.want)
		}
	}
}

// The {ttl} wording is sender.TTLWords, so the default template renders
// exactly as sender.DefaultText for every lifetime.
func TestSMSTTLWordsAreSenders(t *testing.T) {
	t.Parallel()
	s, err := plivoadapter.NewSMS(config(fake(t)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ttl  time.Duration
		want string
	}{
		{time.Second, "1 second"},
		{30 * time.Second, "30 seconds"},
		{59*time.Second + 999*time.Millisecond, "59 seconds"},
		{time.Minute, "1 minute"},
		{119 * time.Second, "1 minute"},
		{2 * time.Minute, "2 minutes"},
		{5 * time.Minute, "5 minutes"},
		{2 * time.Hour, "120 minutes"},
		{0, ""},
		{-time.Minute, ""},
	}
	for _, tt := range tests {
		if got := sender.TTLWords(tt.ttl); got != tt.want {
			t.Errorf("sender.TTLWords(%v) = %q, want %q", tt.ttl, got, tt.want)
		}
		m := sender.Message{To: dest, Channel: sender.SMS, Code: code, TTL: tt.ttl}
		got, err := s.Text(m)
		if err != nil {
			t.Fatal(err)
		}
		if want := sender.DefaultText(m); got != want {
			t.Errorf("TTL %v: SMS text = %q, sender.DefaultText = %q", tt.ttl, got, want)
		}
	}
}

func TestSMSRefusesBadMessages(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	s := newSMS(t, srv)
	tests := []struct {
		name string
		msg  sender.Message
		want error
	}{
		{"call channel", callMsg(), sender.ErrUnsupportedChannel},
		{"bad number", sender.Message{To: "4155550100", Channel: sender.SMS, Code: code}, sender.ErrInvalidMessage},
		{"no code", sender.Message{To: dest, Channel: sender.SMS}, sender.ErrInvalidMessage},
		{"text without code", sender.Message{To: dest, Channel: sender.SMS, Code: code, Text: "hello"}, sender.ErrInvalidMessage},
		{"text splits", sender.Message{To: dest, Channel: sender.SMS, Code: code, Text: code + strings.Repeat("x", 155)}, plivoadapter.ErrTooLong},
		{"ucs2 text splits", sender.Message{To: dest, Channel: sender.SMS, Code: code, Text: code + strings.Repeat("ж", 65)}, plivoadapter.ErrTooLong},
	}
	for _, tt := range tests {
		err := s.Send(context.Background(), tt.msg)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		assertNoSecrets(t, err)
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("requests = %d, want 0 for refused messages", n)
	}
}

func TestSMSTemplateChecks(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	tests := []struct {
		name    string
		o       []plivoadapter.Option
		wantErr bool
		enc     plivoadapter.Encoding
	}{
		{"default", nil, false, ""},
		{"no code placeholder", []plivoadapter.Option{plivoadapter.WithTemplate("Hello")}, true, ""},
		// 150 + 10 digits of code = 160: fits.
		{"gsm7 at limit", []plivoadapter.Option{plivoadapter.WithTemplate(strings.Repeat("a", 150) + "{code}")}, false, ""},
		{"gsm7 over limit", []plivoadapter.Option{plivoadapter.WithTemplate(strings.Repeat("a", 151) + "{code}")}, true, plivoadapter.GSM7},
		// Extension characters count twice: 75*2 + 10 = 160.
		{"gsm7 extension at limit", []plivoadapter.Option{plivoadapter.WithTemplate(strings.Repeat("€", 75) + "{code}")}, false, ""},
		{"gsm7 extension over limit", []plivoadapter.Option{plivoadapter.WithTemplate(strings.Repeat("[", 76) + "{code}")}, true, plivoadapter.GSM7},
		{"ucs2 at limit", []plivoadapter.Option{plivoadapter.WithTemplate(strings.Repeat("ж", 60) + "{code}")}, false, ""},
		{"ucs2 over limit", []plivoadapter.Option{plivoadapter.WithTemplate(strings.Repeat("ж", 61) + "{code}")}, true, plivoadapter.UCS2},
		{"brand pushes over", []plivoadapter.Option{plivoadapter.WithBrand("Acme"), plivoadapter.WithTemplate(strings.Repeat("a", 145) + "{code}")}, true, plivoadapter.GSM7},
		{"bad status method", []plivoadapter.Option{plivoadapter.WithStatusURL("https://example.com/s"), plivoadapter.WithStatusMethod("PUT")}, true, ""},
		{"relative status url", []plivoadapter.Option{plivoadapter.WithStatusURL("/plivo/status")}, true, ""},
		{"on failure without url", []plivoadapter.Option{plivoadapter.WithOnFailure(func(context.Context, plivoadapter.Delivery) {})}, true, ""},
	}
	for _, tt := range tests {
		_, err := plivoadapter.NewSMS(config(srv), tt.o...)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, plivoadapter.ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", tt.name, err)
		}
		if tt.enc != "" {
			var le *plivoadapter.LengthError
			if !errors.As(err, &le) || le.Encoding != tt.enc || !errors.Is(err, plivoadapter.ErrTooLong) {
				t.Errorf("%s: err = %v, want *LengthError in %s", tt.name, err, tt.enc)
			}
		}
	}
}

func TestSMSLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text  string
		enc   plivoadapter.Encoding
		units int
	}{
		{"", plivoadapter.GSM7, 0},
		{"Your code is 123456", plivoadapter.GSM7, 19},
		{"@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", plivoadapter.GSM7, 42},
		{"^{}\\[~]|€", plivoadapter.GSM7, 18},
		{"ç", plivoadapter.UCS2, 1}, // only capital Ç is GSM-7
		{"код 1234", plivoadapter.UCS2, 8},
		{"ok 😀", plivoadapter.UCS2, 5}, // a surrogate pair counts 2
	}
	for _, tt := range tests {
		enc, n := plivoadapter.SMSLength(tt.text)
		if enc != tt.enc || n != tt.units {
			t.Errorf("SMSLength(%q) = %s, %d; want %s, %d", tt.text, enc, n, tt.enc, tt.units)
		}
	}
	limits := []struct {
		text string
		ok   bool
	}{
		{strings.Repeat("a", 160), true},
		{strings.Repeat("a", 161), false},
		{strings.Repeat("€", 80), true},
		{strings.Repeat("€", 79) + "aa", true},
		{strings.Repeat("€", 80) + "a", false},
		{strings.Repeat("ж", 70), true},
		{strings.Repeat("ж", 71), false},
		{strings.Repeat("a", 69) + "😀", false},
	}
	for _, tt := range limits {
		if err := plivoadapter.CheckSMSLength(tt.text); (err == nil) != tt.ok {
			t.Errorf("CheckSMSLength(%d runes %q...) = %v, want ok=%v", len([]rune(tt.text)), []rune(tt.text)[0], err, tt.ok)
		}
	}
}

// statusSetup returns an SMS sender with a status URL and the deliveries
// its OnFailure received.
func statusSetup(t *testing.T, method string) (*plivotest.Server, *plivoadapter.SMS, func() []plivoadapter.Delivery) {
	t.Helper()
	srv := fake(t)
	var mu sync.Mutex
	var got []plivoadapter.Delivery
	s, err := plivoadapter.NewSMS(
		config(srv),
		plivoadapter.WithStatusURL("https://example.com/plivo/status?app=demo"),
		plivoadapter.WithStatusMethod(method),
		plivoadapter.WithOnFailure(func(ctx context.Context, d plivoadapter.Delivery) {
			mu.Lock()
			got = append(got, d)
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), smsMsg()); err != nil {
		t.Fatal(err)
	}
	return srv, s, func() []plivoadapter.Delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]plivoadapter.Delivery(nil), got...)
	}
}

func TestStatusCallbackFailureCallsOnFailure(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		for _, status := range []string{"failed", "undelivered"} {
			srv, s, got := statusSetup(t, method)
			m, _ := srv.LastMessage(dest)
			r, err := plivotest.StatusRequest(m, status, "30")
			if err != nil {
				t.Fatal(err)
			}
			a, _ := plivotest.Serve(s.StatusHandler(), r)
			if a.StatusCode != http.StatusOK {
				t.Errorf("%s %s: status = %d, want 200", method, status, a.StatusCode)
			}
			d := got()
			if len(d) != 1 || d[0].MessageUUID != m.UUID || d[0].To != dest || d[0].Status != status || d[0].ErrorCode != "30" ||
				d[0].Ref != smsMsg().Ref || d[0].Channel != sender.SMS || d[0].MessageTime.IsZero() {
				t.Errorf("%s %s: OnFailure got %+v, want one for %s", method, status, d, m.UUID)
			}
			// A second failure report for the same message is acknowledged
			// but does not start a second fallback.
			r = ok(t)(plivotest.StatusRequest(m, "undelivered", "30"))
			if a, _ := plivotest.Serve(s.StatusHandler(), r); a.StatusCode != http.StatusOK {
				t.Errorf("%s %s: repeat status = %d, want 200", method, status, a.StatusCode)
			}
			if n := len(got()); n != 1 {
				t.Errorf("%s %s: OnFailure calls = %d, want 1", method, status, n)
			}
		}
	}
}

func TestStatusCallbackSuccessIsAcknowledged(t *testing.T) {
	t.Parallel()
	srv, s, got := statusSetup(t, http.MethodPost)
	m, _ := srv.LastMessage(dest)
	for _, status := range []string{"queued", "sent", "delivered"} {
		r := ok(t)(plivotest.StatusRequest(m, status, ""))
		a, _ := plivotest.Serve(s.StatusHandler(), r)
		if a.StatusCode != http.StatusOK {
			t.Errorf("%s: status = %d, want 200", status, a.StatusCode)
		}
	}
	if d := got(); len(d) != 0 {
		t.Errorf("OnFailure called for successful statuses: %v", d)
	}
}

func TestStatusCallbackSignature(t *testing.T) {
	t.Parallel()
	for _, fam := range []struct {
		name            string
		sig             plivotest.Signature
		header, ma, non string
	}{
		{"V2", plivotest.V2, plivoadapter.HeaderSignatureV2, plivoadapter.HeaderSignatureMaV2, plivoadapter.HeaderNonceV2},
		{"V3", plivotest.V3, plivoadapter.HeaderSignatureV3, plivoadapter.HeaderSignatureMaV3, plivoadapter.HeaderNonceV3},
	} {
		sign := func(m plivotest.Message, token, uri, status string) *http.Request {
			return ok(t)(plivotest.SignedRequestAs(fam.sig, token, token, plivotest.Nonce(), http.MethodPost, uri, plivotest.StatusParams(m, status, "30")))
		}
		tests := []struct {
			name   string
			mutate func(r *http.Request, m plivotest.Message) *http.Request
			want   int
		}{
			{"valid", func(r *http.Request, _ plivotest.Message) *http.Request { return r }, http.StatusOK},
			{"only the plain header", func(r *http.Request, _ plivotest.Message) *http.Request {
				r.Header.Del(fam.ma)
				return r
			}, http.StatusOK},
			{"only the Ma header", func(r *http.Request, _ plivotest.Message) *http.Request {
				r.Header.Del(fam.header)
				return r
			}, http.StatusOK},
			{"missing signatures", func(r *http.Request, _ plivotest.Message) *http.Request {
				r.Header.Del(fam.header)
				r.Header.Del(fam.ma)
				return r
			}, http.StatusForbidden},
			{"missing nonce", func(r *http.Request, _ plivotest.Message) *http.Request {
				r.Header.Del(fam.non)
				return r
			}, http.StatusForbidden},
			{"other nonce", func(r *http.Request, _ plivotest.Message) *http.Request {
				r.Header.Set(fam.non, plivotest.Nonce())
				return r
			}, http.StatusForbidden},
			{"signature of the other family", func(r *http.Request, _ plivotest.Message) *http.Request {
				for _, h := range []string{plivoadapter.HeaderSignatureV2, plivoadapter.HeaderSignatureV3} {
					if h != fam.header {
						r.Header.Set(h, r.Header.Get(fam.header))
					}
				}
				r.Header.Del(fam.header)
				r.Header.Del(fam.ma)
				return r
			}, http.StatusForbidden},
			{"signed for another path", func(_ *http.Request, m plivotest.Message) *http.Request {
				r := sign(m, plivotest.AuthToken, "https://example.com/other/status?app=demo", "failed")
				r.URL.Path = "/plivo/status"
				return r
			}, http.StatusForbidden},
			{"signed for another host", func(_ *http.Request, m plivotest.Message) *http.Request {
				return sign(m, plivotest.AuthToken, "https://evil.example/plivo/status?app=demo", "failed")
			}, http.StatusForbidden},
			{"forged with other token", func(_ *http.Request, m plivotest.Message) *http.Request {
				return sign(m, "not-the-token", m.URL, "failed")
			}, http.StatusForbidden},
			{"wrong method", func(r *http.Request, _ plivotest.Message) *http.Request {
				r.Method = http.MethodPut
				return r
			}, http.StatusMethodNotAllowed},
		}
		if fam.sig == plivotest.V3 {
			// V3 also signs the query and the body.
			tests = append(tests, []struct {
				name   string
				mutate func(r *http.Request, m plivotest.Message) *http.Request
				want   int
			}{
				{"tampered status", func(_ *http.Request, m plivotest.Message) *http.Request {
					r := sign(m, plivotest.AuthToken, m.URL, "delivered")
					r2 := sign(m, plivotest.AuthToken, m.URL, "failed")
					r2.Header = r.Header
					return r2
				}, http.StatusForbidden},
				{"tampered query", func(r *http.Request, _ plivotest.Message) *http.Request {
					r.URL.RawQuery = "app=other"
					return r
				}, http.StatusForbidden},
			}...)
		}
		for _, tt := range tests {
			srv, s, got := statusSetup(t, http.MethodPost)
			m, _ := srv.LastMessage(dest)
			r, err := plivotest.StatusRequestAs(fam.sig, m, "failed", "30")
			if err != nil {
				t.Fatal(err)
			}
			a, _ := plivotest.Serve(s.StatusHandler(), tt.mutate(r, m))
			if a.StatusCode != tt.want {
				t.Errorf("%s %s: status = %d, want %d", fam.name, tt.name, a.StatusCode, tt.want)
			}
			if n := len(got()); (tt.want == http.StatusOK) != (n == 1) {
				t.Errorf("%s %s: OnFailure calls = %d", fam.name, tt.name, n)
			}
		}
	}
}

func TestStatusCallbackReplayRefused(t *testing.T) {
	t.Parallel()
	srv, s, got := statusSetup(t, http.MethodPost)
	m, _ := srv.LastMessage(dest)
	nonce := plivotest.Nonce()
	for i, want := range []int{http.StatusOK, http.StatusForbidden} {
		r := ok(t)(plivotest.SignedRequestWith(plivotest.AuthToken, nonce, http.MethodPost, m.URL, plivotest.StatusParams(m, "delivered", "")))
		if a, _ := plivotest.Serve(s.StatusHandler(), r); a.StatusCode != want {
			t.Errorf("delivery %d: status = %d, want %d", i, a.StatusCode, want)
		}
	}
	// A replayed "failed" must not start a fallback either.
	nonce = plivotest.Nonce()
	for i, want := range []int{http.StatusOK, http.StatusForbidden} {
		r := ok(t)(plivotest.SignedRequestWith(plivotest.AuthToken, nonce, http.MethodPost, m.URL, plivotest.StatusParams(m, "failed", "30")))
		if a, _ := plivotest.Serve(s.StatusHandler(), r); a.StatusCode != want {
			t.Errorf("failure %d: status = %d, want %d", i, a.StatusCode, want)
		}
	}
	if n := len(got()); n != 1 {
		t.Errorf("OnFailure calls = %d, want 1", n)
	}
}

func TestStatusHandlerWithoutURLRefuses(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	s := newSMS(t, srv)
	r := ok(t)(plivotest.SignedRequest(http.MethodPost, "https://example.com/plivo/status", plivotest.StatusParams(plivotest.Message{UUID: "u", Dst: dest}, "failed", "30")))
	if a, _ := plivotest.Serve(s.StatusHandler(), r); a.StatusCode != http.StatusForbidden {
		t.Errorf("status = %d, want 403", a.StatusCode)
	}
}
