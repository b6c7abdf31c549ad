// Package sendertest provides a test double for sender.Sender: Recorder keeps
// every message so a test can read the code that was "sent". It belongs in
// tests and examples, never in a production wiring.
package sendertest

import (
	"context"
	"slices"
	"sync"

	"github.com/go2fa/go2fa/sender"
)

// Recorder is a sender.Sender for tests: it keeps every message it is given so a
// test can read the code that was "sent". FailWith makes every Send fail
// (the message is then not recorded). The zero value is ready to use; it is
// safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	msgs []sender.Message
	err  error
	wait chan struct{}
}

// Send records m, or returns the error set with FailWith.
func (r *Recorder) Send(ctx context.Context, m sender.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	if r.wait != nil {
		close(r.wait)
		r.wait = nil
	}
	return nil
}

// FailWith makes every later Send return err (nil restores success).
func (r *Recorder) FailWith(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// Messages returns a copy of the messages recorded so far, oldest first.
func (r *Recorder) Messages() []sender.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sender.Message(nil), r.msgs...)
}

// Len returns the number of messages recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Last returns the newest message sent to the E.164 number to.
func (r *Recorder) Last(to string) (sender.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.msgs) - 1; i >= 0; i-- {
		if r.msgs[i].To == to {
			return r.msgs[i], true
		}
	}
	return sender.Message{}, false
}

// WaitFor blocks until a message to the number to has been recorded and
// returns the newest one, or returns ctx's error.
func (r *Recorder) WaitFor(ctx context.Context, to string) (sender.Message, error) {
	for {
		r.mu.Lock()
		for i := len(r.msgs) - 1; i >= 0; i-- {
			if r.msgs[i].To == to {
				m := r.msgs[i]
				r.mu.Unlock()
				return m, nil
			}
		}
		if r.wait == nil {
			r.wait = make(chan struct{})
		}
		w := r.wait
		r.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return sender.Message{}, ctx.Err()
		}
	}
}

// Reset forgets every recorded message.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.msgs = nil
	r.mu.Unlock()
}

var _ sender.Sender = (*Recorder)(nil)

// Carrier is a Recorder that shows a Message.Transaction on exactly the
// channels in Shows: it implements sender.TransactionCarrier, so
// sender.CarriesTransaction asks it rather than assuming SMS. Set Shows
// before the first use and leave it alone afterwards; the rest is safe for
// concurrent use, as Recorder is.
type Carrier struct {
	Recorder
	Shows []sender.Channel
}

// CarriesTransaction reports whether c is in Shows.
func (r *Carrier) CarriesTransaction(c sender.Channel) bool { return slices.Contains(r.Shows, c) }

var _ sender.TransactionCarrier = (*Carrier)(nil)
