package otp

import (
	"context"
	"log/slog"
	"time"

	"github.com/go2fa/go2fa/sender"
)

// EventKind names an outcome reported to an Observer.
type EventKind string

// The outcomes a Verifier reports.
const (
	EventIssued      EventKind = "issued"       // a code was saved (before sending)
	EventSent        EventKind = "sent"         // the Sender accepted the message
	EventSendFailed  EventKind = "send_failed"  // the Sender failed; the code was withdrawn
	EventVetoed      EventKind = "vetoed"       // Config.BeforeSend refused the send
	EventRateLimited EventKind = "rate_limited" // a limit refused the send
	EventApproved    EventKind = "approved"     // a correct code was presented
	EventRejected    EventKind = "rejected"     // a wrong code was presented
	EventExpired     EventKind = "expired"      // a code was presented with none pending
	EventLocked      EventKind = "locked"       // the attempts were used up
	EventStoreError  EventKind = "store_error"  // the Store failed; the call failed closed
	EventCanceled    EventKind = "canceled"     // the caller's context was cancelled; the call failed closed
)

// Event describes one outcome. It never holds a code or a phone number:
// the destination appears as a Fingerprint (64 bits of HMAC under a key
// derived from the secret, stable for one secret) and its Region.
type Event struct {
	Kind        EventKind
	Fingerprint string
	Region      string
	Channel     sender.Channel
	// Remaining is the number of guesses left (EventRejected).
	Remaining int
	// Limit and RetryAfter describe an EventRateLimited.
	Limit      LimitReason
	RetryAfter time.Duration
	// Test is true for a configured test number.
	Test bool
	// Pumping explains a pumping guard event (prefix, rate, baseline).
	Pumping *PrefixState
	// Err is the failure of an EventSendFailed, EventVetoed,
	// EventStoreError or EventCanceled.
	Err error
	// Elapsed is the time from the start of the Start or Check call that
	// reports the event to the event.
	Elapsed time.Duration
	// SendTime is how long the Sender took (EventSent, EventSendFailed).
	SendTime time.Duration
}

// Final reports whether e is the last event of its call: every event but
// EventIssued, which is followed by the send's outcome (except for a test
// number, which is not sent).
func (e Event) Final() bool { return e.Kind != EventIssued || e.Test }

// Observer receives every outcome of a Verifier, synchronously, on the
// calling goroutine: keep it fast. It must be safe for concurrent use.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// eventMessages are SlogObserver's log messages.
var eventMessages = map[EventKind]string{
	EventIssued:      "otp: code issued",
	EventSent:        "otp: code sent",
	EventSendFailed:  "otp: send failed, code withdrawn",
	EventVetoed:      "otp: send vetoed",
	EventRateLimited: "otp: send refused by a rate limit",
	EventApproved:    "otp: code approved",
	EventRejected:    "otp: wrong code",
	EventExpired:     "otp: no code pending",
	EventLocked:      "otp: code locked after too many wrong guesses",
	EventStoreError:  "otp: store unavailable",
	EventCanceled:    "otp: call cancelled by the caller",
}

// SlogObserver returns an Observer that logs each event to l with a message
// naming the event ("otp: code sent", "otp: wrong code", ...): failures,
// rate limits and lockouts at Warn, the rest (a cancelled call too) at Info. Durations are logged
// in Go's duration syntax ("30s", "1.2ms") so that every handler prints them
// the same way. It logs the fingerprint and region, never a code or a
// number. It is safe for concurrent use if l is.
func SlogObserver(l *slog.Logger) Observer {
	return ObserverFunc(func(ctx context.Context, e Event) {
		level := slog.LevelInfo
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs, slog.String("event", string(e.Kind)), slog.String("dest", e.Fingerprint))
		if e.Region != "" {
			attrs = append(attrs, slog.String("region", e.Region))
		}
		if e.Channel != "" {
			attrs = append(attrs, slog.String("channel", string(e.Channel)))
		}
		if e.Test {
			attrs = append(attrs, slog.Bool("test_number", true))
		}
		switch e.Kind {
		case EventRejected:
			attrs = append(attrs, slog.Int("remaining", e.Remaining))
		case EventRateLimited:
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("limit", string(e.Limit)), durationAttr("retry_after", e.RetryAfter.Round(time.Millisecond)))
		case EventLocked:
			level = slog.LevelWarn
		case EventPumpingTripped, EventPumpingThrottled, EventPumpingRecovered:
			level = slog.LevelWarn
			if p := e.Pumping; p != nil {
				attrs = append(attrs, slog.String("prefix", p.Prefix), slog.String("reason", p.Reason),
					slog.Float64("rate", p.Rate), slog.Float64("baseline", p.Baseline), slog.Int64("sends", p.Sends))
			}
		case EventSendFailed, EventVetoed, EventStoreError, EventCanceled:
			if e.Kind != EventCanceled { // a caller that went away is no fault
				level = slog.LevelWarn
			}
			if e.Err != nil {
				attrs = append(attrs, slog.String("error", e.Err.Error()))
			}
		}
		if e.Kind == EventSent || e.Kind == EventSendFailed {
			attrs = append(attrs, durationAttr("send_time", e.SendTime))
		}
		msg, ok := eventMessages[e.Kind]
		if !ok {
			msg = "otp: " + string(e.Kind)
		}
		l.LogAttrs(ctx, level, msg, attrs...)
	})
}

// durationAttr logs d as a duration string: slog's JSON handler would print
// slog.Duration as an integer of nanoseconds.
func durationAttr(key string, d time.Duration) slog.Attr {
	return slog.String(key, d.String())
}
