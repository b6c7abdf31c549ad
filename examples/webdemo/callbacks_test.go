package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go2fa/go2fa/plivoadapter/plivoredis"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

// With REDIS_URL set, two demo instances that share the Redis and
// GO2FA_SECRET take each other's Plivo callbacks: a delivery report for
// an SMS the first sent is accepted by the second (and its replay is
// refused by the first), and a call the first placed is answered by the
// second. Without REDIS_URL each instance would answer 404.
func TestPlivoCallbacksSharedThroughRedis(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	vars := map[string]string{
		"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken, "PLIVO_NUMBER": plivotest.Number,
		"PUBLIC_URL": "https://demo.example", "GO2FA_SECRET": fmt.Sprintf("%x", testSecret),
		"REDIS_URL": "redis://" + mr.Addr() + "/0", "REDIS_AUTOPIPELINE": "0",
	}
	instance := func() appConfig {
		cfg := testConfig(t, vars, fake.Client())
		return cfg
	}
	a, b := instance(), instance()
	ctx := context.Background()

	if err := a.Sender.Send(ctx, sender.Message{To: testNumber, Channel: sender.SMS, Code: "493817", TTL: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	m, _ := fake.LastMessage(testNumber)
	nonce := plivotest.Nonce()
	report := func() *http.Request {
		r, err := plivotest.SignedRequestAs(plivotest.V2, plivotest.AuthToken, plivotest.AuthToken, nonce, http.MethodPost, m.URL, plivotest.StatusParams(m, "failed", "30"))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if got, _ := plivotest.Serve(b.Mounts["/plivo/status"], report()); got.StatusCode != http.StatusOK {
		t.Errorf("report for a's SMS at b: status = %d, want 200", got.StatusCode)
	}
	if got, _ := plivotest.Serve(a.Mounts["/plivo/status"], report()); got.StatusCode != http.StatusForbidden {
		t.Errorf("the report replayed at a: status = %d, want 403", got.StatusCode)
	}

	if err := a.Sender.Send(ctx, sender.Message{To: testNumber, Channel: sender.Call, Code: "493817", TTL: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	c, _ := fake.LastCall(testNumber)
	if code, status := spokenCode(t, b.Mounts["/plivo/answer"], c); code != "493817" {
		t.Errorf("answer at b for a's call: status = %d, code %q; want 200 and the code", status, code)
	}

	var callbackKeys int
	for _, k := range mr.Keys() {
		if strings.HasPrefix(k, plivoredis.DefaultPrefix) {
			callbackKeys++
		}
	}
	if callbackKeys == 0 {
		t.Errorf("no key under %q in Redis: %q", plivoredis.DefaultPrefix, mr.Keys())
	}
}
