package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// TestPumpingGuardVisible: with no settings the guard is on; a burst of
// unverified sends to one prefix from rotating IPs is refused with 429,
// logged with its prefix, rate and baseline, and shown by the admin view.
func TestPumpingGuardVisible(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	var logs syncBuffer
	const token = "admin-token-0123456789"
	app, err := newApp(appConfig{
		Store: st, Sender: &sendertest.Recorder{}, Secret: testSecret, Now: now,
		TrustedHeader: "X-Forwarded-For", AdminToken: token,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	refused := 0
	for i := range 60 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/verifications", strings.NewReader(fmt.Sprintf(`{"to":"+1415200%04d","channel":"sms"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusAccepted:
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("send %d: %d", i, resp.StatusCode)
		}
		clock.Add(int64(5 * time.Second))
	}
	if refused == 0 {
		t.Fatal("no send refused")
	}
	out := logs.String()
	if !strings.Contains(out, "event=pumping_tripped") || !strings.Contains(out, `prefix="+1 4152"`) || !strings.Contains(out, "baseline=") {
		t.Errorf("log lacks the trip with its prefix and baseline:\n%s", out)
	}
	if strings.Contains(out, "14152000") {
		t.Error("the log shows a number")
	}

	get := func(auth string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/admin/pumping", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body) // the admin view answers a refusal without a JSON body
		return resp.StatusCode, body
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("admin view without token: %d, want 401", code)
	}
	if code, _ := get("Bearer wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("admin view with a wrong token: %d, want 401", code)
	}
	code, body := get("Bearer " + token)
	prefixes, _ := body["prefixes"].([]any)
	if code != http.StatusOK || body["guard"] != true || len(prefixes) == 0 {
		t.Fatalf("admin view = %d %v", code, body)
	}
	first, _ := prefixes[0].(map[string]any)
	if first["prefix"] != "+1 4152" || first["throttled"] != true || first["refused"] != float64(refused) {
		t.Errorf("admin view's first prefix = %v, want +1 4152 throttled with %d refused", first, refused)
	}
}
