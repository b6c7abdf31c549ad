package otelobserver_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otelobserver"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

var secret = []byte("0123456789abcdef0123456789abcdef-otel-secret")

const (
	us = "+14155550100"
	de = "+4915112345678"
)

type harness struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	obs    *otelobserver.Observer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	obs, err := otelobserver.New(otelobserver.WithMeterProvider(mp), otelobserver.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	h.obs = obs
	return h
}

// point is one data point: its attributes as a map and its value.
type point struct {
	attrs map[string]string
	value float64
	count uint64
}

func (h *harness) collect(t *testing.T) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]point{}
	toMap := func(s attribute.Set) map[string]string {
		m := map[string]string{}
		for _, kv := range s.ToSlice() {
			m[string(kv.Key)] = kv.Value.String()
		}
		return m
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrs: toMap(dp.Attributes), value: float64(dp.Value)})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrs: toMap(dp.Attributes), value: dp.Sum, count: dp.Count})
				}
			default:
				t.Fatalf("metric %s has unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// sum adds the values of the points of name whose attributes include want.
func sum(points map[string][]point, name string, want map[string]string) float64 {
	total := 0.0
	for _, p := range points[name] {
		match := true
		for k, v := range want {
			if p.attrs[k] != v {
				match = false
			}
		}
		if match {
			total += p.value
		}
	}
	return total
}

// A real Verifier on memstore runs the funnel, and the metrics read back
// from the SDK's ManualReader count each outcome by country and channel;
// spans cover Start, Check and the sends; and no attribute of any metric or
// span holds a digit (no code, no number, no fingerprint).
func TestFunnelMetricsAndSpans(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	rec := &sendertest.Recorder{}
	fail := errors.New("provider down")
	var failing bool
	snd := sender.Func(func(ctx context.Context, m sender.Message) error {
		if failing {
			return fail
		}
		return rec.Send(ctx, m)
	})
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	p := otp.DefaultPolicy()
	p.MaxAttempts = 2
	v, err := otp.NewVerifier(otp.Config{Store: ms, Sender: snd, Secret: secret, Policy: p, Observer: h.obs})
	if err != nil {
		t.Fatal(err)
	}
	mustStart := func(to string, ch sender.Channel) string {
		t.Helper()
		if _, err := v.Start(ctx, to, ch); err != nil {
			t.Fatalf("Start(%s): %v", ch, err)
		}
		m, _ := rec.Last(to)
		return m.Code
	}
	usCode := mustStart(us, sender.SMS)
	if _, err := v.Start(ctx, us, sender.Call); !errors.Is(err, otp.ErrRateLimited) {
		t.Fatalf("second Start: %v, want rate limited", err)
	}
	wrongCode := "000000"
	if usCode == wrongCode {
		wrongCode = "111111"
	}
	if res, _ := v.Check(ctx, us, wrongCode); res.Status != otp.Rejected {
		t.Fatalf("wrong code: %v", res.Status)
	}
	if res, _ := v.Check(ctx, us, usCode); res.Status != otp.Approved {
		t.Fatalf("right code: %v", res.Status)
	}
	deCode := mustStart(de, sender.Call)
	for range 2 {
		if _, err := v.Check(ctx, de, wrongCode); err != nil {
			t.Fatal(err)
		}
	}
	failing = true
	if _, err := v.Start(ctx, "+14155550101", sender.SMS); !errors.Is(err, otp.ErrSendFailed) {
		t.Fatalf("failing send: %v", err)
	}
	h.obs.RecordDelivery(ctx, sender.SMS, "US", true)

	got := h.collect(t)
	for _, c := range []struct {
		metric string
		attrs  map[string]string
		want   float64
	}{
		{"go2fa.sends", map[string]string{"go2fa.country": "US", "go2fa.channel": "sms", "go2fa.outcome": "sent"}, 1},
		{"go2fa.sends", map[string]string{"go2fa.country": "DE", "go2fa.channel": "call", "go2fa.outcome": "sent"}, 1},
		{"go2fa.sends", map[string]string{"go2fa.country": "US", "go2fa.channel": "sms", "go2fa.outcome": "failed"}, 1},
		{"go2fa.rate_limits", map[string]string{"go2fa.country": "US", "go2fa.channel": "call", "go2fa.limit": "cooldown"}, 1},
		{"go2fa.checks", map[string]string{"go2fa.country": "US", "go2fa.outcome": "rejected"}, 1},
		{"go2fa.checks", map[string]string{"go2fa.country": "US", "go2fa.outcome": "approved"}, 1},
		{"go2fa.checks", map[string]string{"go2fa.country": "DE", "go2fa.outcome": "rejected"}, 1},
		{"go2fa.checks", map[string]string{"go2fa.country": "DE", "go2fa.outcome": "locked"}, 1},
		{"go2fa.lockouts", map[string]string{"go2fa.country": "DE"}, 1},
		{"go2fa.deliveries", map[string]string{"go2fa.country": "US", "go2fa.channel": "sms", "go2fa.outcome": "delivered"}, 1},
	} {
		if n := sum(got, c.metric, c.attrs); n != c.want {
			t.Errorf("%s%v = %v, want %v", c.metric, c.attrs, n, c.want)
		}
	}
	var timed uint64
	for _, p := range got["go2fa.send.duration"] {
		timed += p.count
	}
	if timed != 3 {
		t.Errorf("go2fa.send.duration has %d samples, want 3 (two sent, one failed)", timed)
	}

	// Spans: 5 Starts (one refused by a limit), 4 Checks, 3 sends.
	names := map[string]int{}
	spans := h.spans.Ended()
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		names[s.Name()]++
		byID[s.SpanContext().SpanID().String()] = s
	}
	if names["go2fa.Start"] != 4 || names["go2fa.Check"] != 4 || names["go2fa.send"] != 3 {
		t.Errorf("spans = %v, want 4 go2fa.Start, 4 go2fa.Check, 3 go2fa.send", names)
	}
	for _, s := range spans {
		if s.Name() == "go2fa.send" {
			parent, ok := byID[s.Parent().SpanID().String()]
			if !ok || parent.Name() != "go2fa.Start" {
				t.Errorf("go2fa.send's parent is not a go2fa.Start span")
			}
			if s.StartTime().Before(parent.StartTime()) || s.EndTime().After(parent.EndTime()) {
				t.Errorf("go2fa.send [%v, %v] is not within its go2fa.Start [%v, %v]", s.StartTime(), s.EndTime(), parent.StartTime(), parent.EndTime())
			}
		}
		if s.Name() != "go2fa.Check" && s.Status().Code == codes.Error && s.Status().Description != "failed" {
			t.Errorf("%s status %v", s.Name(), s.Status())
		}
	}

	// No digit anywhere: not the codes, not the numbers, nothing else.
	secrets := []string{usCode, deCode, us, de, us[1:], de[1:]}
	checkValue := func(where, v string) {
		t.Helper()
		if strings.ContainsFunc(v, unicode.IsDigit) {
			t.Errorf("%s holds a digit: %q", where, v)
		}
		for _, s := range secrets {
			if strings.Contains(v, s) {
				t.Errorf("%s holds a code or a number: %q", where, v)
			}
		}
	}
	for name, points := range got {
		for _, p := range points {
			for k, v := range p.attrs {
				checkValue(name+" attribute "+k, v)
			}
		}
	}
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			checkValue(s.Name()+" attribute "+string(kv.Key), kv.Value.String())
		}
		checkValue(s.Name()+" status", s.Status().Description)
		for _, e := range s.Events() {
			checkValue(s.Name()+" event", e.Name)
		}
	}
}

// Spans are children of the span in the call's context.
func TestSpansJoinTheCallersTrace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	h.obs.Observe(ctx, otp.Event{Kind: otp.EventApproved, Region: "FR"})
	parent.End()
	for _, s := range h.spans.Ended() {
		if s.Name() == "go2fa.Check" && s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("go2fa.Check's parent = %v, want the request span", s.Parent().SpanID())
		}
	}
}

// Store errors and cancellations count as errors by operation, and an
// unknown region is "ZZ", never echoed.
func TestErrorsAndRegions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.obs.Observe(ctx, otp.Event{Kind: otp.EventStoreError, Region: "US", Channel: sender.SMS, Err: errors.New("down")})
	h.obs.Observe(ctx, otp.Event{Kind: otp.EventCanceled, Region: "US", Err: context.Canceled})
	h.obs.Observe(ctx, otp.Event{Kind: otp.EventApproved, Region: "+14155550100"})
	got := h.collect(t)
	if n := sum(got, "go2fa.errors", map[string]string{"go2fa.operation": "start", "go2fa.outcome": "store_error"}); n != 1 {
		t.Errorf("start store errors = %v, want 1", n)
	}
	if n := sum(got, "go2fa.errors", map[string]string{"go2fa.operation": "check", "go2fa.outcome": "canceled"}); n != 1 {
		t.Errorf("check cancellations = %v, want 1", n)
	}
	if n := sum(got, "go2fa.checks", map[string]string{"go2fa.country": "ZZ", "go2fa.outcome": "approved"}); n != 1 {
		t.Errorf("approvals with an unknown region = %v, want 1 under ZZ", n)
	}
}

func TestNewRefusesNilProviders(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  otelobserver.Option
	}{
		{"WithMeterProvider", otelobserver.WithMeterProvider(nil)},
		{"WithTracerProvider", otelobserver.WithTracerProvider(nil)},
	} {
		obs, err := otelobserver.New(tc.opt)
		if !errors.Is(err, otelobserver.ErrInvalidConfig) || obs != nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("New(%s(nil)) = %v, %v; want an ErrInvalidConfig naming it", tc.name, obs, err)
		}
	}
	if _, err := otelobserver.New(); err != nil {
		t.Errorf("New() with the global providers: %v", err)
	}
}
