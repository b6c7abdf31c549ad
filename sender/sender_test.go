package sender_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

var msg = sender.Message{To: "+14155550100", Channel: sender.SMS, Code: "123456", TTL: 5 * time.Minute, Ref: "abc"}

func TestParseChannel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]sender.Channel{"sms": sender.SMS, " SMS ": sender.SMS, "call": sender.Call, "Call": sender.Call} {
		if got, err := sender.ParseChannel(in); err != nil || got != want {
			t.Errorf("ParseChannel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fax", "voice", strings.Repeat("x", 100)} {
		if _, err := sender.ParseChannel(in); !errors.Is(err, sender.ErrInvalidChannel) {
			t.Errorf("ParseChannel(%q) err = %v, want ErrInvalidChannel", in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	bad := map[string]func(*sender.Message){
		"channel":      func(m *sender.Message) { m.Channel = "fax" },
		"no +":         func(m *sender.Message) { m.To = "14155550100" },
		"letters":      func(m *sender.Message) { m.To = "+1415abc0100" },
		"too long":     func(m *sender.Message) { m.To = "+1234567890123456" },
		"no code":      func(m *sender.Message) { m.Code = "" },
		"code letters": func(m *sender.Message) { m.Code = "12a456" },
		"long text":    func(m *sender.Message) { m.Text = strings.Repeat("é", sender.MaxTextLen+1) },
	}
	if err := msg.Validate(); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	for name, mutate := range bad {
		m := msg
		mutate(&m)
		err := m.Validate()
		if !errors.Is(err, sender.ErrInvalidMessage) && !errors.Is(err, sender.ErrInvalidChannel) {
			t.Errorf("%s: Validate = %v, want ErrInvalidMessage or ErrInvalidChannel", name, err)
		}
		if err != nil && strings.Contains(err.Error(), m.Code) && m.Code != "" {
			t.Errorf("%s: error %q holds the code", name, err)
		}
	}
}

func TestDefaultText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ttl  time.Duration
		want string
	}{
		{5 * time.Minute, "Your verification code is 123456. It expires in 5 minutes."},
		{time.Minute, "Your verification code is 123456. It expires in 1 minute."},
		{30 * time.Second, "Your verification code is 123456. It expires in 30 seconds."},
		{time.Second, "Your verification code is 123456. It expires in 1 second."},
		{300 * time.Millisecond, "Your verification code is 123456. It expires in 1 second."},
		{0, "Your verification code is 123456."},
	}
	for _, c := range cases {
		m := msg
		m.TTL = c.ttl
		if got := sender.DefaultText(m); got != c.want {
			t.Errorf("DefaultText(TTL %v) = %q, want %q", c.ttl, got, c.want)
		}
	}
	m := msg
	m.Text = "custom"
	if got := sender.DefaultText(m); got != "custom" {
		t.Errorf("DefaultText with Text = %q, want the Text", got)
	}
}

// TestMessageRedacted: printing or logging a Message never shows the code
// or the whole number.
func TestMessageRedacted(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s\n", msg, msg, msg, msg)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("send", "m", msg)
	slog.New(slog.NewTextHandler(&out, nil)).Info("send", "m", msg)
	for _, secret := range []string{msg.Code, msg.To, "4155550100"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("%q appears in:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "+14*******00") {
		t.Errorf("masked number missing from:\n%s", out.String())
	}
}

func TestWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := sender.Writer(&buf)
	if err := w.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	want := "go2fa[dev] sms to +14155550100: Your verification code is 123456. It expires in 5 minutes.\n"
	if buf.String() != want {
		t.Errorf("Writer wrote %q, want %q", buf.String(), want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Send(ctx, msg); !errors.Is(err, context.Canceled) {
		t.Errorf("Send(cancelled) = %v, want context.Canceled", err)
	}
	bad := msg
	bad.Code = ""
	if err := w.Send(context.Background(), bad); !errors.Is(err, sender.ErrInvalidMessage) {
		t.Errorf("Send(invalid) = %v, want ErrInvalidMessage", err)
	}
	if buf.String() != want {
		t.Errorf("failed sends wrote output: %q", buf.String())
	}
}

func TestByChannel(t *testing.T) {
	t.Parallel()
	var sms, call sendertest.Recorder
	s := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: &sms, sender.Call: &call, "fax": nil})
	ctx := context.Background()
	voice := msg
	voice.Channel = sender.Call
	if err := s.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, voice); err != nil {
		t.Fatal(err)
	}
	if sms.Len() != 1 || call.Len() != 1 {
		t.Errorf("routed %d sms, %d calls; want 1 and 1", sms.Len(), call.Len())
	}
	only := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: &sms})
	if err := only.Send(ctx, voice); !errors.Is(err, sender.ErrUnsupportedChannel) {
		t.Errorf("unrouted channel: %v, want ErrUnsupportedChannel", err)
	}
	bad := msg
	bad.Channel = "fax"
	if err := only.Send(ctx, bad); !errors.Is(err, sender.ErrInvalidChannel) {
		t.Errorf("invalid channel: %v, want ErrInvalidChannel", err)
	}
}

// failing fails with err and counts its calls.
type failing struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (f *failing) Send(context.Context, sender.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.err
}

func TestFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errA, errB := errors.New("vendor A down"), errors.New("vendor B down")

	a, b := &failing{err: errA}, &failing{err: errB}
	var c sendertest.Recorder
	if err := sender.Failover(a, nil, b, &c).Send(ctx, msg); err != nil {
		t.Fatalf("Failover with a working third sender: %v", err)
	}
	if m, ok := c.Last(msg.To); !ok || m.Code != msg.Code || a.calls != 1 || b.calls != 1 {
		t.Errorf("calls a=%d b=%d, third got %v %v; want each tried once in order and the same code delivered", a.calls, b.calls, m, ok)
	}

	err := sender.Failover(&failing{err: errA}, &failing{err: errB}).Send(ctx, msg)
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Errorf("all failing: err = %v, want both causes", err)
	}

	// An invalid message or a done context stops at the first sender.
	first, second := &failing{err: sender.ErrInvalidMessage}, &failing{}
	if err := sender.Failover(first, second).Send(ctx, msg); !errors.Is(err, sender.ErrInvalidMessage) || second.calls != 0 {
		t.Errorf("invalid message: err = %v, second called %d times; want no failover", err, second.calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	first, second = &failing{err: context.Canceled}, &failing{}
	if err := sender.Failover(first, second).Send(cctx, msg); !errors.Is(err, context.Canceled) || second.calls != 0 {
		t.Errorf("cancelled: err = %v, second called %d times; want no failover", err, second.calls)
	}

	if err := sender.Failover().Send(ctx, msg); !errors.Is(err, sender.ErrUnsupportedChannel) {
		t.Errorf("no senders: %v, want ErrUnsupportedChannel", err)
	}
}
