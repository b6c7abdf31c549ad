package sender

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go2fa/go2fa/internal/ascii"
)

// Server is implemented by senders that know which channels they serve.
// Failover, FailoverChannels and the otp Verifier ask it, so that a message
// is never handed to a sender for a channel it does not serve.
type Server interface {
	Serves(c Channel) bool
}

// Serves reports whether s serves channel c: s.Serves(c) when s implements
// Server, and true otherwise (a sender that does not say is trusted, and
// refuses a channel it cannot send on with ErrUnsupportedChannel).
func Serves(s Sender, c Channel) bool {
	if sv, ok := s.(Server); ok {
		return sv.Serves(c)
	}
	return s != nil
}

// Router is a Sender that hands each message to the sender registered for
// its channel. Create one with ByChannel. It is safe for concurrent use if
// its senders are.
type Router struct {
	routes map[Channel]Sender
}

// ByChannel returns a Router that hands each message to the sender
// registered for its channel, for example Plivo SMS for SMS and Plivo voice
// for Call. Nil senders and invalid channels are left out. A message on a
// channel with no sender fails with ErrUnsupportedChannel and nothing is
// sent. The map is copied.
func ByChannel(routes map[Channel]Sender) *Router {
	m := make(map[Channel]Sender, len(routes))
	for c, s := range routes {
		if s != nil && c.Valid() && Serves(s, c) {
			m[c] = s
		}
	}
	return &Router{routes: m}
}

// Send implements Sender.
func (r *Router) Send(ctx context.Context, msg Message) error {
	if !msg.Channel.Valid() {
		return fmt.Errorf("%w: %q", ErrInvalidChannel, ascii.Truncate(string(msg.Channel), 16))
	}
	s, ok := r.routes[msg.Channel]
	if !ok {
		return fmt.Errorf("%w: no sender for %s", ErrUnsupportedChannel, msg.Channel)
	}
	return s.Send(ctx, msg)
}

// Serves reports whether a sender is registered for c.
func (r *Router) Serves(c Channel) bool {
	_, ok := r.routes[c]
	return ok
}

// Channels returns the channels r serves, sorted.
func (r *Router) Channels() []Channel {
	cs := make([]Channel, 0, len(r.routes))
	for c := range r.routes {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}

// CarriesTransaction reports whether the sender registered for c shows a
// Message.Transaction on it (see the function CarriesTransaction).
func (r *Router) CarriesTransaction(c Channel) bool {
	s, ok := r.routes[c]
	return ok && CarriesTransaction(s, c)
}

var (
	_ Server             = (*Router)(nil)
	_ TransactionCarrier = (*Router)(nil)
)

// failover is the Sender Failover returns.
type failover struct{ list []Sender }

// Failover returns a Sender that tries each sender in order with the same
// message (so the same code, channel and attempt budget) until one
// succeeds: two providers for one channel. A sender that declares (through
// Server) that it does not serve the message's channel is skipped, and a
// message that no sender serves fails with ErrUnsupportedChannel before
// anything is sent. Failover stops early when ctx is done or the message
// itself is invalid. If every sender fails, the error joins all their
// errors, so errors.Is and errors.As see each of them.
//
// Failover never changes the message's channel: to fall back from SMS to a
// voice call use FailoverChannels. The returned Sender serves a channel when
// one of its senders does, and is safe for concurrent use if they are.
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
	return &failover{list: list}
}

func (f *failover) Serves(c Channel) bool {
	return slices.ContainsFunc(f.list, func(s Sender) bool { return Serves(s, c) })
}

// CarriesTransaction is true when every sender that serves c shows a
// transaction on it, since any of them may be the one that delivers.
func (f *failover) CarriesTransaction(c Channel) bool {
	serving := false
	for _, s := range f.list {
		if Serves(s, c) {
			if !CarriesTransaction(s, c) {
				return false
			}
			serving = true
		}
	}
	return serving
}

func (f *failover) Send(ctx context.Context, msg Message) error {
	if !msg.Channel.Valid() {
		return fmt.Errorf("%w: %q", ErrInvalidChannel, ascii.Truncate(string(msg.Channel), 16))
	}
	var errs []error
	for i, s := range f.list {
		if !Serves(s, msg.Channel) {
			continue
		}
		err := s.Send(ctx, msg)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("sender %d: %w", i, err))
		if ctx.Err() != nil || errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrInvalidChannel) {
			break
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: no sender serves %s", ErrUnsupportedChannel, msg.Channel)
	}
	return fmt.Errorf("sender: failover: every sender failed: %w", errors.Join(errs...))
}

// channelFailover is the Sender FailoverChannels returns.
type channelFailover struct {
	s     Sender
	order []Channel
}

// FailoverChannels returns a Sender that sends a message on its own
// channel through s and, when that send fails, re-addresses the same
// message (same code) to each later channel of order in turn, until one
// send succeeds: FailoverChannels(router, sender.SMS, sender.Call) places a
// call when the SMS provider refuses the text. A message whose channel is
// not in order is sent on its channel only.
//
// It returns an error wrapping ErrUnsupportedChannel, and no Sender, when
// s declares (through Server, as a Router does) that it does not serve one
// of the channels in order, and ErrInvalidChannel for an invalid or
// repeated channel: a failover that could only fail is refused when it is
// built, not when a user is waiting for a code.
//
// It reacts to a failed Send only (the provider refused the message or
// could not be reached). A message the provider accepted and later could
// not deliver is reported by a delivery callback; otp.Verifier.Fallback
// handles that case. The returned Sender is safe for concurrent use if s
// is; it serves the channels in order.
func FailoverChannels(s Sender, order ...Channel) (Sender, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil sender", ErrUnsupportedChannel)
	}
	if len(order) < 2 {
		return nil, fmt.Errorf("%w: a failover needs at least two channels", ErrInvalidChannel)
	}
	for i, c := range order {
		if !c.Valid() || slices.Contains(order[:i], c) {
			return nil, fmt.Errorf("%w: %q (invalid or repeated)", ErrInvalidChannel, ascii.Truncate(string(c), 16))
		}
		if !Serves(s, c) {
			return nil, fmt.Errorf("%w: the sender does not serve %s", ErrUnsupportedChannel, c)
		}
	}
	return &channelFailover{s: s, order: slices.Clone(order)}, nil
}

func (f *channelFailover) Serves(c Channel) bool { return slices.Contains(f.order, c) }

// CarriesTransaction is true when s shows a transaction on c and on every
// later channel of the order, any of which may deliver the message.
func (f *channelFailover) CarriesTransaction(c Channel) bool {
	start := slices.Index(f.order, c)
	if start < 0 {
		return CarriesTransaction(f.s, c)
	}
	for _, next := range f.order[start:] {
		if !CarriesTransaction(f.s, next) {
			return false
		}
	}
	return true
}

func (f *channelFailover) Send(ctx context.Context, msg Message) error {
	start := slices.Index(f.order, msg.Channel)
	if start < 0 {
		return f.s.Send(ctx, msg)
	}
	var errs []error
	for _, c := range f.order[start:] {
		m := msg
		m.Channel = c
		err := f.s.Send(ctx, m)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", c, err))
		if ctx.Err() != nil || errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrInvalidChannel) {
			break
		}
	}
	return fmt.Errorf("sender: failover: every channel failed: %w", errors.Join(errs...))
}
