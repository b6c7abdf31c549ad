package sender

import (
	"context"
	"errors"
	"fmt"
)

// ByChannel returns a Sender that hands each message to the sender
// registered for its channel, for example Plivo SMS for SMS and a voice
// provider for Call. A message on a channel with no sender fails with
// ErrUnsupportedChannel. The returned Sender is safe for concurrent use if
// the senders are; the map is copied.
func ByChannel(routes map[Channel]Sender) Sender {
	m := make(map[Channel]Sender, len(routes))
	for c, s := range routes {
		if s != nil {
			m[c] = s
		}
	}
	return Func(func(ctx context.Context, msg Message) error {
		if !msg.Channel.Valid() {
			return fmt.Errorf("%w: %q", ErrInvalidChannel, truncate(string(msg.Channel), 16))
		}
		s, ok := m[msg.Channel]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnsupportedChannel, msg.Channel)
		}
		return s.Send(ctx, msg)
	})
}

// Failover returns a Sender that tries each sender in order with the same
// message (so the same code and the same attempt budget) until one
// succeeds. It stops early when ctx is done or the message itself is
// invalid. If every sender fails, the error joins all their errors, so
// errors.Is and errors.As see each of them.
//
// A failure can be ambiguous: a provider may have accepted a message whose
// answer timed out. The next sender then delivers the same code a second
// time (the user may get two messages with one code; the code and its
// attempts are the same, so this costs money, not safety).
func Failover(senders ...Sender) Sender {
	list := make([]Sender, 0, len(senders))
	for _, s := range senders {
		if s != nil {
			list = append(list, s)
		}
	}
	return Func(func(ctx context.Context, msg Message) error {
		if len(list) == 0 {
			return fmt.Errorf("%w: no sender configured", ErrUnsupportedChannel)
		}
		var errs []error
		for i, s := range list {
			err := s.Send(ctx, msg)
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Errorf("sender %d: %w", i, err))
			if ctx.Err() != nil || errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrInvalidChannel) {
				break
			}
		}
		return fmt.Errorf("sender: failover: every sender failed: %w", errors.Join(errs...))
	})
}
