package sender_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

// picky serves one channel and refuses the others the way the Plivo
// senders do (ErrUnsupportedChannel), without declaring it through
// sender.Server.
type picky struct {
	ch  sender.Channel
	rec sendertest.Recorder
	err error
}

func (p *picky) Send(ctx context.Context, m sender.Message) error {
	if m.Channel != p.ch {
		return fmt.Errorf("picky: %w: %s", sender.ErrUnsupportedChannel, m.Channel)
	}
	if p.err != nil {
		return p.err
	}
	return p.rec.Send(ctx, m)
}

func TestRouterServes(t *testing.T) {
	t.Parallel()
	sms, call := &picky{ch: sender.SMS}, &picky{ch: sender.Call}
	r := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: sms, sender.Call: call, "fax": sms})
	if got := r.Channels(); !slices.Equal(got, []sender.Channel{sender.Call, sender.SMS}) {
		t.Errorf("Channels() = %v, want [call sms] (fax is not a channel)", got)
	}
	onlySMS := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: sms})
	if onlySMS.Serves(sender.Call) || !onlySMS.Serves(sender.SMS) {
		t.Errorf("Serves: call %v sms %v, want false and true", onlySMS.Serves(sender.Call), onlySMS.Serves(sender.SMS))
	}
	// A Router nested in a Router keeps only what the inner one serves.
	nested := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: onlySMS, sender.Call: onlySMS})
	if nested.Serves(sender.Call) {
		t.Error("a route to a Router that does not serve call was kept")
	}
	if !sender.Serves(sms, sender.Call) {
		t.Error("Serves on a sender that does not say = false, want true (trusted)")
	}
}

// TestFailoverSkipsSendersThatDoNotServe is the composition that failed:
// Failover of an SMS and a voice sender sent the SMS message to the voice
// sender too. With Routers, a sender that does not serve the channel is
// never called, and a channel no sender serves is a clear error.
func TestFailoverSkipsSendersThatDoNotServe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vendorA := &picky{ch: sender.SMS, err: errors.New("vendor A down")}
	vendorB := &picky{ch: sender.SMS}
	voice := &picky{ch: sender.Call}
	a := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: vendorA})
	b := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: vendorB})
	v := sender.ByChannel(map[sender.Channel]sender.Sender{sender.Call: voice})
	f := sender.Failover(v, a, b)
	if err := f.Send(ctx, msg); err != nil {
		t.Fatalf("Failover(voice, A down, B) on SMS: %v", err)
	}
	if vendorB.rec.Len() != 1 || voice.rec.Len() != 0 {
		t.Errorf("B got %d, voice got %d; want 1 and 0", vendorB.rec.Len(), voice.rec.Len())
	}
	// Nothing serves fax-less "call" among the SMS-only senders.
	call := msg
	call.Channel = sender.Call
	if err := sender.Failover(a, b).Send(ctx, call); !errors.Is(err, sender.ErrUnsupportedChannel) {
		t.Errorf("call through SMS-only failover: %v, want ErrUnsupportedChannel", err)
	}
	if vendorB.rec.Len() != 1 {
		t.Errorf("an SMS sender was handed a call message")
	}
	if sv, ok := f.(sender.Server); !ok || !sv.Serves(sender.Call) || sender.Failover(a, b).(sender.Server).Serves(sender.Call) {
		t.Error("Failover must serve the union of its senders' channels")
	}
}

func TestFailoverChannels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sms := &picky{ch: sender.SMS, err: errors.New("plivo: 500")}
	voice := &picky{ch: sender.Call}
	r := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: sms, sender.Call: voice})
	f, err := sender.FailoverChannels(r, sender.SMS, sender.Call)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Send(ctx, msg); err != nil {
		t.Fatalf("SMS failing, call working: %v", err)
	}
	got, ok := voice.rec.Last(msg.To)
	if !ok || got.Channel != sender.Call || got.Code != msg.Code {
		t.Errorf("voice got %v %v; want the same code re-addressed to call", got, ok)
	}
	// A call message starts at call: the SMS sender is not tried.
	voice.err = errors.New("voice down")
	call := msg
	call.Channel = sender.Call
	if err := f.Send(ctx, call); err == nil || errors.Is(err, sender.ErrUnsupportedChannel) {
		t.Errorf("call failing: %v, want the voice error only", err)
	}
	// Both failing: both causes.
	voice.err = errors.New("voice down")
	if err := f.Send(ctx, msg); !errors.Is(err, sms.err) || !errors.Is(err, voice.err) {
		t.Errorf("both failing: %v, want both causes", err)
	}
	// An invalid message is not re-addressed.
	bad := msg
	bad.Code = ""
	voice.err = nil
	n := voice.rec.Len()
	sms.err = fmt.Errorf("%w: no code", sender.ErrInvalidMessage)
	if err := f.Send(ctx, bad); !errors.Is(err, sender.ErrInvalidMessage) || voice.rec.Len() != n {
		t.Errorf("invalid message: %v, voice calls %d -> %d; want no failover", err, n, voice.rec.Len())
	}
}

func TestFailoverChannelsRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	smsOnly := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: &picky{ch: sender.SMS}})
	for name, tc := range map[string]struct {
		s     sender.Sender
		order []sender.Channel
		want  error
	}{
		"no voice route": {smsOnly, []sender.Channel{sender.SMS, sender.Call}, sender.ErrUnsupportedChannel},
		"nil sender":     {nil, []sender.Channel{sender.SMS, sender.Call}, sender.ErrUnsupportedChannel},
		"one channel":    {smsOnly, []sender.Channel{sender.SMS}, sender.ErrInvalidChannel},
		"repeated":       {smsOnly, []sender.Channel{sender.SMS, sender.SMS}, sender.ErrInvalidChannel},
		"unknown":        {smsOnly, []sender.Channel{sender.SMS, "fax"}, sender.ErrInvalidChannel},
	} {
		if f, err := sender.FailoverChannels(tc.s, tc.order...); !errors.Is(err, tc.want) || f != nil {
			t.Errorf("%s: FailoverChannels = %v, %v; want nil, %v", name, f, err, tc.want)
		}
	}
}
