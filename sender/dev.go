package sender

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// WriterSender is the development sender: it writes one line per message
// (channel, destination, text with the code) to a writer, so a developer
// sees the code on the terminal. It is the zero-configuration default of
// the examples. Never use it in production: its whole purpose is to print
// codes. It is safe for concurrent use.
type WriterSender struct {
	mu sync.Mutex
	w  io.Writer
}

// Writer returns a development sender that writes to w, for example
// os.Stderr.
func Writer(w io.Writer) *WriterSender { return &WriterSender{w: w} }

// Send writes "go2fa[dev] sms to +14155550100: Your verification code is …".
func (s *WriterSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.w, "go2fa[dev] %s to %s: %s\n", m.Channel, m.To, DefaultText(m)); err != nil {
		return fmt.Errorf("sender: dev write: %w", err)
	}
	return nil
}

var _ Sender = (*WriterSender)(nil)
