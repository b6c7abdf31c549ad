package sender_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

func TestCarriesTransaction(t *testing.T) {
	t.Parallel()
	plain := &sendertest.Recorder{}
	voice := &sendertest.Carrier{Shows: []sender.Channel{sender.Call}}
	mute := &sendertest.Carrier{}
	router := sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: plain, sender.Call: voice, sender.WhatsApp: mute})
	chain, err := sender.FailoverChannels(router, sender.SMS, sender.Call)
	if err != nil {
		t.Fatal(err)
	}
	waChain, err := sender.FailoverChannels(router, sender.WhatsApp, sender.SMS)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		s    sender.Sender
		ch   sender.Channel
		want bool
	}{
		// A sender that does not say: SMS (Message.Text) only.
		{"undeclared sms", plain, sender.SMS, true},
		{"undeclared call", plain, sender.Call, false},
		{"undeclared whatsapp", plain, sender.WhatsApp, false},
		{"declared call", voice, sender.Call, true},
		{"router sms", router, sender.SMS, true},
		{"router call", router, sender.Call, true},
		{"router whatsapp", router, sender.WhatsApp, false},
		{"router without route", sender.ByChannel(nil), sender.SMS, false},
		{"failover all carry", sender.Failover(voice, voice), sender.Call, true},
		{"failover one mute", sender.Failover(voice, &sendertest.Carrier{}), sender.Call, false},
		{"channel chain sms then call", chain, sender.SMS, true},
		{"chain whatsapp first", waChain, sender.WhatsApp, false},
		{"chain from a later channel", waChain, sender.SMS, true},
	}
	for _, c := range cases {
		if got := sender.CarriesTransaction(c.s, c.ch); got != c.want {
			t.Errorf("%s: CarriesTransaction(%s) = %v, want %v", c.name, c.ch, got, c.want)
		}
	}
}

func TestMessageTransactionValidate(t *testing.T) {
	t.Parallel()
	good := sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}
	m := sender.Message{To: "+14155550100", Channel: sender.Call, Code: "123456", Transaction: &good}
	if err := m.Validate(); err != nil {
		t.Fatalf("valid transaction: %v", err)
	}
	bidi := "Zebulon\u202eQuartermaine"
	bad := map[string]sender.Transaction{
		"lower-case currency": {Amount: "1", Currency: "eur", Payee: "x"},
		"long currency":       {Amount: "1", Currency: "EURO", Payee: "x"},
		"grouped amount":      {Amount: "1,250.00", Currency: "EUR", Payee: "x"},
		"negative amount":     {Amount: "-1", Currency: "EUR", Payee: "x"},
		"empty amount":        {Amount: "", Currency: "EUR", Payee: "x"},
		"two dots":            {Amount: "1.2.3", Currency: "EUR", Payee: "x"},
		"empty payee":         {Amount: "1", Currency: "EUR", Payee: ""},
		"long payee":          {Amount: "1", Currency: "EUR", Payee: strings.Repeat("x", sender.MaxPayeeLen+1)},
		"line break":          {Amount: "1", Currency: "EUR", Payee: "A\nB"},
		"bidi override":       {Amount: "1", Currency: "EUR", Payee: bidi},
		"untrimmed":           {Amount: "1", Currency: "EUR", Payee: " x"},
	}
	for name, tr := range bad {
		m.Transaction = &tr
		err := m.Validate()
		if !errors.Is(err, sender.ErrInvalidMessage) {
			t.Errorf("%s: Validate = %v, want ErrInvalidMessage", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "Zebulon") {
			t.Errorf("%s: error quotes the payee: %v", name, err)
		}
	}
}

// TestMessageLogsNoTransaction: printing or logging a Message shows
// neither the amount nor the payee.
func TestMessageLogsNoTransaction(t *testing.T) {
	t.Parallel()
	tr := sender.Transaction{Amount: "4321.98", Currency: "EUR", Payee: "Zebulon Quartermaine"}
	m := sender.Message{To: "+14155550100", Channel: sender.Call, Code: "123456", Transaction: &tr}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("send", "m", m)
	fmt.Fprintf(&b, "%v %+v %#v %s", m, m, m, m)
	if out := b.String(); strings.Contains(out, "4321") || strings.Contains(out, "Zebulon") || strings.Contains(out, "123456") {
		t.Fatalf("printed message holds the transaction or code: %s", out)
	}
}
