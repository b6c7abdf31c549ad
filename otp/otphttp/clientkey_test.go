package otphttp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otphttp"
)

// post sends one JSON POST through a real HTTP client and returns the status.
func post(t *testing.T, c *http.Client, url, body string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// nthNumber is a distinct valid US number for each i < 100.
func nthNumber(i int) string { return fmt.Sprintf("+141555501%02d", i) }

// TestSpoofedForwardedFor: behind a proxy that appends "IP:port" to
// X-Forwarded-For, a client that writes its own entries to the left must
// still be keyed by the entry the proxy appended, so 50 sends to 50
// numbers with 50 forged addresses are held to the per-client budget.
func TestSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{policy: otp.Policy{KeySends: 10}, opts: []otphttp.Option{otphttp.WithTrustedHeader("X-Forwarded-For")}})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	accepted := 0
	for i := range 50 {
		st := post(t, srv.Client(), srv.URL+"/api/verifications", fmt.Sprintf(`{"to":%q}`, nthNumber(i)),
			map[string]string{"X-Forwarded-For": fmt.Sprintf("192.0.2.%d, 203.0.113.50:51234", i+1)})
		if st == http.StatusAccepted {
			accepted++
		}
	}
	if accepted != 10 || e.rec.Len() != 10 {
		t.Fatalf("one client with forged X-Forwarded-For entries made %d sends (%d messages), want the budget of 10", accepted, e.rec.Len())
	}
}

// TestForwardedHeader: with the RFC 7239 Forwarded header trusted, two
// clients behind one proxy get a budget each.
func TestForwardedHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{policy: otp.Policy{KeySends: 1}, opts: []otphttp.Option{otphttp.WithTrustedHeader("Forwarded")}})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	send := func(i int, fwd string) int {
		return post(t, srv.Client(), srv.URL+"/api/verifications", fmt.Sprintf(`{"to":%q}`, nthNumber(i)), map[string]string{"Forwarded": fwd})
	}
	if st := send(0, `for=192.0.2.9, for="203.0.113.60:4711";proto=https`); st != http.StatusAccepted {
		t.Fatalf("first client: status %d, want 202", st)
	}
	if st := send(1, `for=192.0.2.10, for="[2001:db8:cafe::17]:4711"`); st != http.StatusAccepted {
		t.Fatalf("second client: status %d, want 202", st)
	}
	if st := send(2, `for=192.0.2.11, For="203.0.113.60"`); st != http.StatusTooManyRequests {
		t.Fatalf("first client again, with a forged entry to the left: status %d, want 429", st)
	}
}

// TestNoClientKeyRefuses: on a unix-socket listener RemoteAddr is not an
// IP address; without a key function the handler refuses (500,
// client_key_unavailable) instead of serving without a per-client budget.
func TestNoClientKeyRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, setup{policy: otp.Policy{KeySends: 10}})
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("unix sockets unavailable: %v", err)
	}
	srv := &http.Server{Handler: e.h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	for i := range 40 {
		if st := post(t, c, "http://unix/api/verifications", fmt.Sprintf(`{"to":%q}`, nthNumber(i)), nil); st != http.StatusInternalServerError {
			t.Fatalf("send %d over a unix socket: status %d, want 500", i, st)
		}
	}
	if st := post(t, c, "http://unix/api/verifications/check", fmt.Sprintf(`{"to":%q,"code":"123456"}`, nthNumber(0)), nil); st != http.StatusInternalServerError {
		t.Fatalf("check over a unix socket: status %d, want 500", st)
	}
	if n := e.rec.Len(); n != 0 {
		t.Fatalf("%d messages sent with no client key, want 0", n)
	}

	// A key function makes the same listener usable.
	e2 := newEnv(t, setup{policy: otp.Policy{KeySends: 2}, opts: []otphttp.Option{otphttp.WithClientKey(func(r *http.Request) (string, error) {
		return "user:" + r.Header.Get("X-User"), nil
	})}})
	srv.Handler = e2.h
	user := map[string]string{"X-User": "a"}
	for i, want := range []int{http.StatusAccepted, http.StatusAccepted, http.StatusTooManyRequests} {
		if st := post(t, c, "http://unix/api/verifications", fmt.Sprintf(`{"to":%q}`, nthNumber(i)), user); st != want {
			t.Fatalf("send %d with a key function: status %d, want %d", i, st, want)
		}
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header, remote string
		values               []string
		want                 string
	}{
		{"remote v4", "", "203.0.113.1:5000", nil, "ip:203.0.113.1"},
		{"remote v6 by /64", "", "[2001:db8:1:2::1]:5000", nil, "ip:2001:db8:1:2::/64"},
		{"remote v4-mapped", "", "[::ffff:203.0.113.1]:5000", nil, "ip:203.0.113.1"},
		{"untrusted header ignored", "", "203.0.113.1:5000", []string{"192.0.2.1"}, "ip:203.0.113.1"},
		{"xff right-most", "X-Forwarded-For", "10.0.0.1:1", []string{"192.0.2.1, 203.0.113.50"}, "ip:203.0.113.50"},
		{"xff port stripped", "X-Forwarded-For", "10.0.0.1:1", []string{"192.0.2.1, 203.0.113.50:51234"}, "ip:203.0.113.50"},
		{"xff brackets", "X-Forwarded-For", "10.0.0.1:1", []string{"192.0.2.1, [2001:db8::5]"}, "ip:2001:db8::/64"},
		{"xff brackets and port", "X-Forwarded-For", "10.0.0.1:1", []string{"192.0.2.1,[2001:db8::5]:443"}, "ip:2001:db8::/64"},
		{"xff bare v6", "X-Forwarded-For", "10.0.0.1:1", []string{"2001:db8::5"}, "ip:2001:db8::/64"},
		{"xff last line", "X-Forwarded-For", "10.0.0.1:1", []string{"192.0.2.1", "192.0.2.2, 203.0.113.7"}, "ip:203.0.113.7"},
		{"xff garbage right-most: no walk left", "X-Forwarded-For", "10.0.0.1:1", []string{"192.0.2.1, unknown"}, "ip:10.0.0.1"},
		{"xff empty right-most: no walk left", "X-Forwarded-For", "10.0.0.1:1", []string{"192.0.2.1, "}, "ip:10.0.0.1"},
		{"xff bad port", "X-Forwarded-For", "10.0.0.1:1", []string{"203.0.113.50:port"}, "ip:10.0.0.1"},
		{"x-real-ip", "X-Real-IP", "10.0.0.1:1", []string{"203.0.113.8"}, "ip:203.0.113.8"},
		{"forwarded", "Forwarded", "10.0.0.1:1", []string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, "ip:192.0.2.60"},
		{"forwarded quoted v6 port", "Forwarded", "10.0.0.1:1", []string{`for=192.0.2.1, for="[2001:db8:cafe::17]:4711"`}, "ip:2001:db8:cafe::/64"},
		{"forwarded case, spaces", "Forwarded", "10.0.0.1:1", []string{`proto=https; For="203.0.113.9:8080" ;by=x`}, "ip:203.0.113.9"},
		{"forwarded unknown", "Forwarded", "10.0.0.1:1", []string{"for=192.0.2.1, for=unknown"}, "ip:10.0.0.1"},
		{"forwarded obfuscated", "Forwarded", "10.0.0.1:1", []string{"for=192.0.2.1, for=_hidden"}, "ip:10.0.0.1"},
		{"forwarded no for", "Forwarded", "10.0.0.1:1", []string{"for=192.0.2.1, proto=https"}, "ip:10.0.0.1"},
		{"forwarded comma in quotes", "Forwarded", "10.0.0.1:1", []string{`for=192.0.2.1;x="a,b", for=203.0.113.3`}, "ip:203.0.113.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tt.remote
			name := tt.header
			if name == "" {
				name = "X-Forwarded-For"
			}
			for _, v := range tt.values {
				r.Header.Add(name, v)
			}
			got, err := otphttp.ClientKey(r, tt.header)
			if err != nil || got != tt.want {
				t.Errorf("ClientKey = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, remote := range []string{"", "@", "/run/api.sock", "example.com:80"} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = remote
		if got, err := otphttp.ClientKey(r, ""); !errors.Is(err, otphttp.ErrNoClientKey) || got != "" {
			t.Errorf("ClientKey with RemoteAddr %q = %q, %v; want ErrNoClientKey", remote, got, err)
		}
	}
}
