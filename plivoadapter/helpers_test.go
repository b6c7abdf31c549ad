package plivoadapter_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

const (
	dest = "+14155550100"
	code = "493817"
)

// clock is a fake time source tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func fake(t *testing.T) *plivotest.Server {
	t.Helper()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

func config(srv *plivotest.Server) plivoadapter.Config {
	return plivoadapter.Config{
		AuthID:     plivotest.AuthID,
		AuthToken:  plivotest.AuthToken,
		Number:     plivotest.Number,
		PHLOID:     plivotest.PHLOID,
		HTTPClient: srv.Client(),
	}
}

func smsMsg() sender.Message {
	return sender.Message{To: dest, Channel: sender.SMS, Code: code, TTL: 5 * time.Minute}
}

func callMsg() sender.Message {
	return sender.Message{To: dest, Channel: sender.Call, Code: code, TTL: 5 * time.Minute}
}

func basicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(plivotest.AuthID+":"+plivotest.AuthToken))
}

// jsonBody decodes a recorded request body.
func jsonBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("request body is not JSON: %v: %q", err, b)
	}
	return m
}

// assertNoSecrets fails if err's text holds the code, the token or the
// full destination number.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	for _, secret := range []string{code, plivotest.AuthToken, dest, strings.TrimPrefix(dest, "+")} {
		if strings.Contains(s, secret) {
			t.Errorf("error %q leaks %q", s, secret)
		}
	}
}

func plivoError(t *testing.T, err error) *plivoadapter.Error {
	t.Helper()
	var pe *plivoadapter.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *plivoadapter.Error", err, err)
	}
	return pe
}
