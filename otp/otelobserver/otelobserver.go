// Package otelobserver records the outcomes of an otp.Verifier as
// OpenTelemetry metrics and spans: the 2FA funnel (sends, deliveries,
// checks and approvals, rate limits, lockouts) by country and channel, the
// time each send takes, and a span for every Start, Check and send.
//
// It is a module of its own (github.com/go2fa/go2fa/otp/otelobserver), so
// that a program that imports otp without it never resolves OpenTelemetry.
//
//	obs, err := otelobserver.New() // global providers; see WithMeterProvider
//	v, err := otp.NewVerifier(otp.Config{..., Observer: obs})
//
// No attribute holds a code, a phone number or anything derived from one
// (not even the destination's fingerprint): attributes are the channel,
// the ISO 3166 country of the number, the outcome, the limit that refused a
// send and whether a configured test number was used.
//
// # Metrics
//
//	go2fa.sends            counter    channel, country, outcome (sent, failed, vetoed), test_number
//	go2fa.send.duration    histogram  seconds the Sender took; channel, country, outcome (sent, failed)
//	go2fa.checks           counter    country, outcome (approved, rejected, expired, locked), test_number
//	go2fa.rate_limits      counter    channel, country, limit (cooldown, destination, failures, key, global)
//	go2fa.lockouts         counter    country: checks that used up a code's guesses
//	go2fa.deliveries       counter    channel, country, outcome (delivered, failed): RecordDelivery
//	go2fa.errors           counter    operation (start, check), outcome (store_error, canceled)
//
// Approvals are go2fa.checks{outcome="approved"}; conversion is approvals
// over sends, per country. A Check does not know which channel delivered
// its code, so go2fa.checks has no channel.
//
// # Spans
//
// "go2fa.Start" and "go2fa.Check" cover each call from its start to its
// outcome, and "go2fa.send" (a child of go2fa.Start) the Sender's work. They
// are children of the span in the call's context. The Verifier reports an
// outcome only once the call is over, so the spans are recorded then, with
// the call's real start and end times. Calls refused before any outcome (a
// malformed number or code) record no span.
package otelobserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/go2fa/go2fa/otp/otelobserver"

// Attribute keys.
const (
	KeyChannel    = attribute.Key("go2fa.channel")
	KeyCountry    = attribute.Key("go2fa.country")
	KeyOutcome    = attribute.Key("go2fa.outcome")
	KeyLimit      = attribute.Key("go2fa.limit")
	KeyOperation  = attribute.Key("go2fa.operation")
	KeyTestNumber = attribute.Key("go2fa.test_number")
)

// ErrInvalidConfig reports an option New refuses; the error names it.
var ErrInvalidConfig = errors.New("otelobserver: invalid config")

// Option configures New. Options only record values; New checks them.
type Option func(*options)

type options struct {
	mp      metric.MeterProvider
	tp      trace.TracerProvider
	nilArgs []string
}

// WithMeterProvider makes the meter with mp; New refuses a nil mp. The
// default value is otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) {
		if o.mp = mp; mp == nil {
			o.nilArgs = append(o.nilArgs, "WithMeterProvider")
		}
	}
}

// WithTracerProvider makes the tracer with tp; New refuses a nil tp. The
// default value is otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) {
		if o.tp = tp; tp == nil {
			o.nilArgs = append(o.nilArgs, "WithTracerProvider")
		}
	}
}

// Observer is an otp.Observer that records OpenTelemetry metrics and
// spans. Create one with New; it is safe for concurrent use.
type Observer struct {
	tracer     trace.Tracer
	sends      metric.Int64Counter
	sendTime   metric.Float64Histogram
	checks     metric.Int64Counter
	rateLimits metric.Int64Counter
	lockouts   metric.Int64Counter
	deliveries metric.Int64Counter
	errs       metric.Int64Counter
}

var _ otp.Observer = (*Observer)(nil)

// New returns an Observer recording through the providers the options
// name (the global ones by default). It returns an error wrapping
// ErrInvalidConfig for a nil provider, or the meter's error for an
// instrument it cannot make.
func New(opts ...Option) (*Observer, error) {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if len(o.nilArgs) > 0 {
		return nil, fmt.Errorf("%w: %s: nil provider", ErrInvalidConfig, o.nilArgs[0])
	}
	mp, tp := o.mp, o.tp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m := mp.Meter(ScopeName)
	obs := &Observer{tracer: tp.Tracer(ScopeName)}
	var err error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, e := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		err = errors.Join(err, e)
		return c
	}
	obs.sends = counter("go2fa.sends", "{message}", "Codes handed to the Sender, by outcome")
	var e error
	obs.sendTime, e = m.Float64Histogram("go2fa.send.duration", metric.WithUnit("s"),
		metric.WithDescription("Time the Sender took to accept or fail a message"))
	err = errors.Join(err, e)
	obs.checks = counter("go2fa.checks", "{check}", "Codes checked, by outcome")
	obs.rateLimits = counter("go2fa.rate_limits", "{send}", "Sends refused by a limit")
	obs.lockouts = counter("go2fa.lockouts", "{code}", "Codes deleted after too many wrong guesses")
	obs.deliveries = counter("go2fa.deliveries", "{message}", "Delivery reports, by outcome")
	obs.errs = counter("go2fa.errors", "{call}", "Calls that failed closed on a store error or a cancelled context")
	if err != nil {
		return nil, err
	}
	return obs, nil
}

// Observe implements otp.Observer.
func (o *Observer) Observe(ctx context.Context, e otp.Event) {
	now := time.Now()
	place := []attribute.KeyValue{KeyCountry.String(country(e.Region))}
	if e.Channel != "" {
		place = append(place, KeyChannel.String(string(e.Channel)))
	}
	test := KeyTestNumber.Bool(e.Test)

	var (
		op      = "start"
		outcome string
		failed  bool
	)
	switch e.Kind {
	case otp.EventIssued:
		if !e.Final() {
			return // the send's outcome follows
		}
		outcome = "issued" // a test number: nothing is sent
	case otp.EventSent, otp.EventSendFailed, otp.EventVetoed:
		outcome = map[otp.EventKind]string{otp.EventSent: "sent", otp.EventSendFailed: "failed", otp.EventVetoed: "vetoed"}[e.Kind]
		failed = e.Kind != otp.EventSent
		o.sends.Add(ctx, 1, metric.WithAttributes(append(place, KeyOutcome.String(outcome), test)...))
		if e.Kind != otp.EventVetoed {
			o.sendTime.Record(ctx, e.SendTime.Seconds(), metric.WithAttributes(append(place, KeyOutcome.String(outcome))...))
		}
	case otp.EventRateLimited:
		outcome = "rate_limited"
		o.rateLimits.Add(ctx, 1, metric.WithAttributes(append(place, KeyLimit.String(string(e.Limit)))...))
	case otp.EventApproved, otp.EventRejected, otp.EventExpired, otp.EventLocked:
		op, outcome = "check", string(e.Kind)
		o.checks.Add(ctx, 1, metric.WithAttributes(append(place, KeyOutcome.String(outcome), test)...))
		if e.Kind == otp.EventLocked {
			o.lockouts.Add(ctx, 1, metric.WithAttributes(place...))
		}
	case otp.EventStoreError, otp.EventCanceled:
		outcome, failed = string(e.Kind), true
		if e.Channel == "" {
			op = "check" // Start always reports its channel
		}
		o.errs.Add(ctx, 1, metric.WithAttributes(KeyOperation.String(op), KeyOutcome.String(outcome)))
	default:
		return
	}
	o.spans(ctx, now, e, op, outcome, failed, append(place, KeyOutcome.String(outcome)))
}

// spans records the call's span, ended now and started e.Elapsed before,
// and for a send its child span.
func (o *Observer) spans(ctx context.Context, now time.Time, e otp.Event, op, outcome string, failed bool, attrs []attribute.KeyValue) {
	name := "go2fa.Start"
	if op == "check" {
		name = "go2fa.Check"
	}
	ctx, span := o.tracer.Start(ctx, name, trace.WithTimestamp(now.Add(-e.Elapsed)),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	if failed {
		span.SetStatus(codes.Error, outcome)
	}
	if e.Kind == otp.EventSent || e.Kind == otp.EventSendFailed {
		_, send := o.tracer.Start(ctx, "go2fa.send", trace.WithTimestamp(now.Add(-e.SendTime)),
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		if failed {
			send.SetStatus(codes.Error, outcome)
		}
		send.End(trace.WithTimestamp(now))
	}
	span.End(trace.WithTimestamp(now))
}

// RecordDelivery counts a delivery report for a message sent on ch to a
// number of region (ISO 3166-1 alpha-2): call it from a delivery-status
// callback (plivoadapter.WithOnFailure for failures, or your own
// status handler for deliveries).
func (o *Observer) RecordDelivery(ctx context.Context, ch sender.Channel, region string, delivered bool) {
	outcome := "failed"
	if delivered {
		outcome = "delivered"
	}
	if !ch.Valid() {
		ch = "unknown"
	}
	o.deliveries.Add(ctx, 1, metric.WithAttributes(KeyChannel.String(string(ch)),
		KeyCountry.String(country(region)), KeyOutcome.String(outcome)))
}

// country returns region if it is two ASCII letters, else "ZZ" (unknown),
// so that no attribute can carry anything else.
func country(region string) string {
	if len(region) == 2 && isUpper(region[0]) && isUpper(region[1]) {
		return region
	}
	return "ZZ"
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
