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
	// Err is the failure of an EventSendFailed, EventVetoed or
	// EventStoreError.
	Err error
}

// Observer receives every outcome of a Verifier, synchronously, on the
// calling goroutine: keep it fast. It must be safe for concurrent use.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// SlogObserver returns an Observer that logs each event to l: failures and
// rate limits at Warn, the rest at Info. It logs the fingerprint and region,
// never a code or a number.
func SlogObserver(l *slog.Logger) Observer {
	return ObserverFunc(func(ctx context.Context, e Event) {
		level := slog.LevelInfo
		attrs := make([]slog.Attr, 0, 8)
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
			attrs = append(attrs, slog.String("limit", string(e.Limit)), slog.Duration("retry_after", e.RetryAfter))
		case EventLocked:
			level = slog.LevelWarn
		case EventPumpingTripped, EventPumpingThrottled, EventPumpingRecovered:
			level = slog.LevelWarn
			if p := e.Pumping; p != nil {
				attrs = append(attrs, slog.String("prefix", p.Prefix), slog.String("reason", p.Reason),
					slog.Float64("rate", p.Rate), slog.Float64("baseline", p.Baseline), slog.Int64("sends", p.Sends))
			}
		case EventSendFailed, EventVetoed, EventStoreError:
			level = slog.LevelWarn
			if e.Err != nil {
				attrs = append(attrs, slog.String("error", e.Err.Error()))
			}
		}
		l.LogAttrs(ctx, level, "go2fa", attrs...)
	})
}
