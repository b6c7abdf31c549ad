package sendertest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

var msg = sender.Message{To: "+14155550100", Channel: sender.SMS, Code: "123456", TTL: 5 * time.Minute, Ref: "abc"}

func TestRecorder(t *testing.T) {
	t.Parallel()
	var r sendertest.Recorder
	ctx := context.Background()
	done := make(chan sender.Message)
	go func() {
		m, err := r.WaitFor(ctx, msg.To)
		if err != nil {
			t.Error(err)
		}
		done <- m
	}()
	if err := r.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got.Code != msg.Code {
		t.Errorf("WaitFor = %v, want the sent message", got)
	}
	other := msg
	other.To, other.Code = "+14155550101", "654321"
	if err := r.Send(ctx, other); err != nil {
		t.Fatal(err)
	}
	if m, ok := r.Last(msg.To); !ok || m.Code != "123456" {
		t.Errorf("Last = %v, %v", m, ok)
	}
	if r.Len() != 2 || len(r.Messages()) != 2 {
		t.Errorf("Len = %d, want 2", r.Len())
	}
	boom := errors.New("boom")
	r.FailWith(boom)
	if err := r.Send(ctx, msg); !errors.Is(err, boom) || r.Len() != 2 {
		t.Errorf("Send after FailWith = %v (len %d), want boom and nothing recorded", err, r.Len())
	}
	r.Reset()
	if r.Len() != 0 {
		t.Errorf("Len after Reset = %d", r.Len())
	}
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.WaitFor(wctx, "+14155550199"); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor(cancelled) = %v, want context.Canceled", err)
	}
}

func TestCarrier(t *testing.T) {
	t.Parallel()
	voice := &sendertest.Carrier{Shows: []sender.Channel{sender.Call}}
	for ch, want := range map[sender.Channel]bool{sender.Call: true, sender.SMS: false, sender.WhatsApp: false} {
		if got := sender.CarriesTransaction(voice, ch); got != want {
			t.Errorf("CarriesTransaction(%s) = %v, want %v", ch, got, want)
		}
	}
	if sender.CarriesTransaction(&sendertest.Recorder{}, sender.Call) {
		t.Error("a plain Recorder carries a transaction on calls")
	}
	if err := voice.Send(context.Background(), msg); err != nil || voice.Len() != 1 {
		t.Errorf("Send = %v, %d recorded; want it recorded", err, voice.Len())
	}
}
