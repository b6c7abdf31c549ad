package plivoadapter_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

// senders builds each sender on the fake, with the message it sends.
func senders(t *testing.T, c plivoadapter.Config) map[string]func(context.Context) error {
	t.Helper()
	s, v, p := newSenders(t, c)
	return map[string]func(context.Context) error{
		"sms":   func(ctx context.Context) error { return s.Send(ctx, smsMsg()) },
		"voice": func(ctx context.Context) error { return v.Send(ctx, callMsg()) },
		"phlo":  func(ctx context.Context) error { return p.Send(ctx, smsMsg()) },
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		failure   plivotest.Failure
		status    int
		transient bool
	}{
		{plivotest.BadRequest, 400, false},
		{plivotest.Unauthorized, 401, false},
		{plivotest.NotFound, 404, false},
		{plivotest.TooManyRequests, 429, true},
		{plivotest.ServerError, 500, true},
		{plivotest.GarbageJSON, 200, true},
		{plivotest.EmptyJSON, 200, true},
		{plivotest.Hang, 0, true},
	}
	for _, tt := range tests {
		srv := fake(t)
		c := config(srv)
		c.HTTPClient = srv.Client()
		// Only Hang needs the client to give up; the other failures answer at
		// once, and a short timeout would fail them on a loaded machine.
		c.HTTPClient.Timeout = time.Minute
		if tt.failure == plivotest.Hang {
			c.HTTPClient.Timeout = 100 * time.Millisecond
		}
		for name, send := range senders(t, c) {
			srv.Reset()
			srv.Fail(tt.failure)
			err := send(context.Background())
			if err == nil {
				t.Errorf("%s/%d: no error", name, tt.status)
				continue
			}
			pe := plivoError(t, err)
			if pe.StatusCode != tt.status {
				t.Errorf("%s: StatusCode = %d, want %d (%v)", name, pe.StatusCode, tt.status, err)
			}
			if pe.Temporary() != tt.transient || errors.Is(err, plivoadapter.ErrTransient) != tt.transient || errors.Is(err, plivoadapter.ErrPermanent) == tt.transient {
				t.Errorf("%s/%d: transient = %v, want %v (%v)", name, tt.status, pe.Temporary(), tt.transient, err)
			}
			if tt.status >= 400 && pe.APIID == "" {
				t.Errorf("%s/%d: no api_id in %v", name, tt.status, err)
			}
			if !strings.HasPrefix(err.Error(), "plivoadapter: ") {
				t.Errorf("%s: error %q lacks the package prefix", name, err)
			}
			assertNoSecrets(t, err)
		}
	}
}

// Every sender makes exactly one HTTP request per Send: a 5xx is
// returned as a transient *Error, never retried behind the caller's back
// (a retried call request may ring the phone twice).
func TestOneRequestPerSendOn5xx(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	for name, send := range senders(t, config(srv)) {
		srv.Reset()
		srv.Fail(plivotest.ServerError)
		err := send(context.Background())
		if !errors.Is(err, plivoadapter.ErrTransient) || plivoError(t, err).StatusCode != 500 {
			t.Errorf("%s: err = %v, want a transient 500", name, err)
		}
		if n := srv.RequestCount(); n != 1 {
			t.Errorf("%s: requests = %d, want 1", name, n)
		}
	}
}

func TestWrongCredentialsArePermanent(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	c := config(srv)
	c.AuthToken = "wrong-token"
	for name, send := range senders(t, c) {
		err := send(context.Background())
		if pe := plivoError(t, err); pe.StatusCode != 401 || !pe.Permanent() {
			t.Errorf("%s: err = %v, want 401 permanent", name, err)
		}
		if strings.Contains(err.Error(), "wrong-token") {
			t.Errorf("%s: error %q leaks the token", name, err)
		}
	}
}

func TestContextDoneSendsNothing(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, send := range senders(t, config(srv)) {
		err := send(ctx)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, plivoadapter.ErrTransient) {
			t.Errorf("%s: err = %v, want context.Canceled, transient", name, err)
		}
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}

// A ctx deadline shorter than the client's timeout ends the request.
func TestContextDeadlineBoundsRequest(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	c := config(srv)
	c.HTTPClient = srv.Client()
	c.HTTPClient.Timeout = time.Hour
	srv.Fail(plivotest.Hang)
	for name, send := range senders(t, c) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := send(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, plivoadapter.ErrTransient) {
			t.Errorf("%s: err = %v, want context.DeadlineExceeded, transient", name, err)
		}
	}
}

// env returns a getenv over vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		"PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": " secret-token ", "PLIVO_NUMBER": " +14155550000 ",
		"PHLO_ID": "abc", "PLIVO_API_URL": " http://127.0.0.1:8089 ", "PLIVO_MAIN_AUTH_TOKEN": "main-secret",
	}
	// with returns full with the given key, value pairs replaced.
	with := func(kv ...string) map[string]string {
		m := maps.Clone(full)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name             string
		vars             map[string]string
		missing, invalid []string
	}{
		{"nothing set", nil, []string{"PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN", "PLIVO_NUMBER"}, nil},
		{"token blank", with("PLIVO_AUTH_TOKEN", "  "), []string{"PLIVO_AUTH_TOKEN"}, nil},
		{"api url with a path", with("PLIVO_API_URL", "http://127.0.0.1:8089/v1"), nil, []string{"PLIVO_API_URL"}},
		{"number missing and api url bad", with("PLIVO_NUMBER", "", "PLIVO_API_URL", "ftp://127.0.0.1:8089"), []string{"PLIVO_NUMBER"}, []string{"PLIVO_API_URL"}},
	} {
		_, err := plivoadapter.ConfigFromEnv(env(tc.vars))
		var ee *plivoadapter.EnvError
		if !errors.Is(err, plivoadapter.ErrInvalidConfig) || !errors.As(err, &ee) {
			t.Errorf("%s: err = %v, want an *EnvError wrapping ErrInvalidConfig", tc.name, err)
			continue
		}
		if !slices.Equal(ee.Missing, tc.missing) || !slices.Equal(ee.Invalid, tc.invalid) {
			t.Errorf("%s: missing %q, invalid %q; want %q, %q", tc.name, ee.Missing, ee.Invalid, tc.missing, tc.invalid)
		}
		if !containsAll(err.Error(), append(slices.Clone(tc.missing), tc.invalid...)...) {
			t.Errorf("%s: %q does not name every variable", tc.name, err)
		}
		for _, v := range []string{"secret-token", "main-secret", "8089", "MAXXXXXXXXXXXXXXXXXX", "14155550000"} {
			if strings.Contains(err.Error(), v) {
				t.Errorf("%s: error %q holds the value %q", tc.name, err, v)
			}
		}
	}

	c, err := plivoadapter.ConfigFromEnv(env(full))
	if err != nil {
		t.Fatal(err)
	}
	want := plivoadapter.Config{AuthID: "MAXXXXXXXXXXXXXXXXXX", AuthToken: "secret-token", Number: "+14155550000",
		PHLOID: "abc", APIURL: "http://127.0.0.1:8089", MainAuthToken: "main-secret"}
	if c != want {
		t.Errorf("config = %#v, want %#v (tokens redacted)", c, want)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "main-secret") || strings.Contains(s, "secret-token") {
			t.Errorf("config prints a token: %s", s)
		}
	}

	c, err = plivoadapter.ConfigFromEnv(env(with("PHLO_ID", "")))
	if err != nil || c.PHLOID != "" {
		t.Fatalf("PHLO_ID unset: config %v, err %v; want PHLO_ID optional", c, err)
	}
	if _, err := plivoadapter.NewPHLO(c); !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), "PHLO_ID") {
		t.Errorf("NewPHLO without PHLO_ID: err = %v, want ErrInvalidConfig naming PHLO_ID", err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := plivoadapter.NewSMS(plivoadapter.Config{})
	if !errors.Is(err, plivoadapter.ErrInvalidConfig) || !containsAll(err.Error(), "PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN", "PLIVO_NUMBER") {
		t.Errorf("empty config: err = %v", err)
	}
	c := plivoadapter.Config{AuthID: "MA", AuthToken: "t", Number: "Acme Inc"}
	if _, err := plivoadapter.NewSMS(c); err != nil {
		t.Errorf("alphanumeric sender id refused for SMS: %v", err)
	}
	c.Number = "not a number!"
	if _, err := plivoadapter.NewSMS(c); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("bad source: err = %v", err)
	}
}

func TestConfigPrintsNoToken(t *testing.T) {
	t.Parallel()
	c := plivoadapter.Config{AuthID: "MA1", AuthToken: "very-secret", Number: "+14155550000"}
	for _, s := range []string{c.String(), c.GoString(), c.LogValue().String()} {
		if strings.Contains(s, "very-secret") {
			t.Errorf("config prints its token: %s", s)
		}
	}
}

func TestDeliveryPrintsMaskedNumber(t *testing.T) {
	t.Parallel()
	d := plivoadapter.Delivery{MessageUUID: "u", To: dest, Status: "failed", ErrorCode: "30"}
	for _, s := range []string{d.String(), d.LogValue().String()} {
		if strings.Contains(s, dest) || !strings.Contains(s, sender.MaskNumber(dest)) {
			t.Errorf("delivery prints %q", s)
		}
	}
}

func TestFakeRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	resp, err := srv.Client().Get("http://example.com/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("request to a non-Plivo host went through")
	}
	if srv.RequestCount() != 0 {
		t.Error("fake recorded a non-Plivo request")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
