package otp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

// Check's options are a type of their own: the options that shape a send
// (WithLocale) cannot be passed to Check; WithBinding and WithLimitKey
// (Check counts failures per client key) can be passed to both.
func TestCheckRefusesStartOnlyOptions(t *testing.T) {
	t.Parallel()
	vt := reflect.TypeFor[*otp.Verifier]()
	variadic := func(name string) reflect.Type {
		m, ok := vt.MethodByName(name)
		if !ok || !m.Type.IsVariadic() {
			t.Fatalf("Verifier.%s is not variadic", name)
		}
		return m.Type.In(m.Type.NumIn() - 1).Elem()
	}
	startOpt, checkOpt := variadic("Start"), variadic("Check")
	for _, tc := range []struct {
		name         string
		opt          any
		start, check bool
	}{
		{"WithBinding", otp.WithBinding("s"), true, true},
		{"WithLimitKey", otp.WithLimitKey("k"), true, true},
		{"WithLocale", otp.WithLocale("de-DE"), true, false},
	} {
		typ := reflect.TypeOf(tc.opt)
		if got := typ.Implements(startOpt); got != tc.start {
			t.Errorf("Start accepts %s: %v, want %v", tc.name, got, tc.start)
		}
		if got := typ.Implements(checkOpt); got != tc.check {
			t.Errorf("Check accepts %s: %v, want %v", tc.name, got, tc.check)
		}
	}
}

// A Verifier not made by NewVerifier refuses every call with an error that
// names the constructor, instead of a misleading policy error or a panic.
func TestZeroVerifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, v := range map[string]*otp.Verifier{"zero": {}, "nil": nil} {
		_, err := v.Start(ctx, alice, sender.SMS)
		if !errors.Is(err, otp.ErrInvalidConfig) || !strings.Contains(err.Error(), "otp.NewVerifier") {
			t.Errorf("%s Verifier: Start err = %v, want ErrInvalidConfig naming otp.NewVerifier", name, err)
		}
		res, err := v.Check(ctx, alice, "123456")
		if !errors.Is(err, otp.ErrInvalidConfig) || !strings.Contains(err.Error(), "otp.NewVerifier") || res.Status == otp.Approved {
			t.Errorf("%s Verifier: Check = %+v, %v; want ErrInvalidConfig naming otp.NewVerifier", name, res, err)
		}
	}
}

// blockingStore blocks Issue and Check until the caller's context ends and
// then fails with that context's error, as a network store does.
type blockingStore struct{ store.Store }

func (blockingStore) Issue(ctx context.Context, _ store.IssueRequest) (store.IssueResult, error) {
	<-ctx.Done()
	return store.IssueResult{}, ctx.Err()
}

func (blockingStore) Check(ctx context.Context, _ store.CheckRequest) (store.CheckResult, error) {
	<-ctx.Done()
	return store.CheckResult{}, ctx.Err()
}

// A cancelled caller is not a store outage: its error wraps
// context.Canceled and not ErrStoreUnavailable. A passed deadline wraps
// both; a failing store only ErrStoreUnavailable. Checked before the store
// call (context already done), during it (the context ends while the store
// works), and with a store that fails on its own.
func TestContextErrorsAreNotStoreOutages(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	down := errors.New("connection refused")
	type want struct{ canceled, deadline, unavailable bool }
	for _, tc := range []struct {
		name  string
		store store.Store
		ctx   func() (context.Context, context.CancelFunc)
		want  want
		kind  otp.EventKind
	}{
		{"cancelled before the call", ms, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, want{canceled: true}, otp.EventCanceled},
		{"cancelled during the store call", blockingStore{ms}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
			return ctx, cancel
		}, want{canceled: true}, otp.EventCanceled},
		{"deadline passed before the call", ms, func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, want{deadline: true, unavailable: true}, otp.EventStoreError},
		{"deadline passed during the store call", blockingStore{ms}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Millisecond)
		}, want{deadline: true, unavailable: true}, otp.EventStoreError},
		{"store down", failingStore{down}, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, want{unavailable: true}, otp.EventStoreError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var kinds []otp.EventKind
			obs := otp.ObserverFunc(func(_ context.Context, e otp.Event) {
				mu.Lock()
				kinds = append(kinds, e.Kind)
				mu.Unlock()
			})
			v, err := otp.NewVerifier(otp.Config{Store: tc.store, Sender: &sendertest.Recorder{}, Secret: testSecret, Observer: obs})
			if err != nil {
				t.Fatal(err)
			}
			check := func(call string, err error) {
				t.Helper()
				got := want{errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, otp.ErrStoreUnavailable)}
				if got != tc.want {
					t.Errorf("%s: err = %v: (Canceled, DeadlineExceeded, ErrStoreUnavailable) = %+v, want %+v", call, err, got, tc.want)
				}
			}
			ctx, cancel := tc.ctx()
			_, err = v.Start(ctx, alice, sender.SMS)
			cancel()
			check("Start", err)
			ctx, cancel = tc.ctx()
			res, err := v.Check(ctx, alice, "123456")
			cancel()
			check("Check", err)
			if res.Status == otp.Approved {
				t.Error("Check approved")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(kinds) != 2 || kinds[0] != tc.kind || kinds[1] != tc.kind {
				t.Errorf("events = %v, want two %q", kinds, tc.kind)
			}
		})
	}
}

// SlogObserver logs a message of its own for every event kind, and
// durations as duration strings, also through slog's JSON handler.
func TestSlogObserverMessages(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	obs := otp.SlogObserver(slog.New(slog.NewJSONHandler(&buf, nil)))
	kinds := []otp.EventKind{otp.EventIssued, otp.EventSent, otp.EventSendFailed, otp.EventVetoed,
		otp.EventRateLimited, otp.EventApproved, otp.EventRejected, otp.EventExpired, otp.EventLocked,
		otp.EventStoreError, otp.EventCanceled}
	for _, k := range kinds {
		obs.Observe(context.Background(), otp.Event{Kind: k, Fingerprint: "f", Region: "US", Channel: sender.SMS,
			Limit: otp.LimitCooldown, RetryAfter: 30 * time.Second, SendTime: 1500 * time.Microsecond})
	}
	msgs := map[string]otp.EventKind{}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(kinds) {
		t.Fatalf("%d log lines, want %d", len(lines), len(kinds))
	}
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		msg, _ := rec["msg"].(string)
		if !strings.HasPrefix(msg, "otp: ") || msg == "otp: "+string(kinds[i]) {
			t.Errorf("%s: msg = %q, want an event-specific sentence", kinds[i], msg)
		}
		if prev, dup := msgs[msg]; dup {
			t.Errorf("%s and %s share the message %q", prev, kinds[i], msg)
		}
		msgs[msg] = kinds[i]
		switch kinds[i] {
		case otp.EventRateLimited:
			if rec["retry_after"] != "30s" {
				t.Errorf("retry_after = %#v, want \"30s\"", rec["retry_after"])
			}
		case otp.EventSent, otp.EventSendFailed:
			if rec["send_time"] != "1.5ms" {
				t.Errorf("%s: send_time = %#v, want \"1.5ms\"", kinds[i], rec["send_time"])
			}
		}
	}
}

// The locale and text options of a Start reach the Sender for both
// channels, and the default text follows the locale.
func TestStartLocaleAndTextOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, func(c *otp.Config) { c.Policy.Cooldown = -1 })
	opts := sender.TextOptions{Brand: "ACME", WebOTPDomain: "example.com"}
	for _, ch := range []sender.Channel{sender.SMS, sender.Call} {
		if _, err := f.v.Start(ctx, alice, ch, otp.WithLocale("de-AT"), otp.WithTextOptions(opts)); err != nil {
			t.Fatalf("%s: Start: %v", ch, err)
		}
		m, ok := f.rec.Last(alice)
		if !ok || m.Locale != "de-AT" || m.TextOptions != opts || m.Channel != ch {
			t.Fatalf("%s: message = %+v, want locale de-AT and the text options", ch, m)
		}
		want := "ACME: Ihr Bestätigungscode lautet " + m.Code + "."
		if got := sender.DefaultText(m); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "\n\n@example.com #"+m.Code) {
			t.Errorf("%s: DefaultText = %q, want German with the WebOTP line", ch, got)
		}
	}
	if _, err := f.v.Start(ctx, alice, sender.SMS, otp.WithTextOptions(sender.TextOptions{WebOTPDomain: "https://x"})); !errors.Is(err, otp.ErrInvalidOption) {
		t.Errorf("Start with a bad WebOTP domain: err = %v, want ErrInvalidOption", err)
	}
}
