package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
)

// waitChannel waits for the newest message to to, on channel ch.
func waitChannel(t *testing.T, ctx context.Context, rec *sendertest.Recorder, to string, ch sender.Channel) sender.Message {
	t.Helper()
	for {
		m, err := rec.WaitFor(ctx, to)
		if err != nil {
			t.Fatalf("no %s message: %v", ch, err)
		}
		if m.Channel == ch {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s message", ch)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestBrowserWhatsApp drives the page when WhatsApp is offered: "Send on
// WhatsApp", then "Send an SMS" after the cooldown, then the SMS code
// verifies; with the default policy the WhatsApp button stays hidden.
func TestBrowserWhatsApp(t *testing.T) {
	ctx := newBrowser(t)
	dir := artifactDir(t)
	wait, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	plain, _ := newTestApp(t, otp.Policy{})
	do(t, ctx, "open the page without WhatsApp",
		chromedp.Navigate(plain.URL+"/"),
		until(`document.body.dataset.ready === "true"`),
		until(`Array.isArray(channels) && channels.length === 2`),
		until(`document.getElementById("send-wa").hidden === true`),
	)

	srv, rec := newTestApp(t, otp.Policy{Cooldown: time.Second, Channels: []sender.Channel{sender.SMS, sender.Call, sender.WhatsApp}})
	do(t, ctx, "open the page with WhatsApp",
		chromedp.Navigate(srv.URL+"/"),
		until(`document.body.dataset.ready === "true"`),
		chromedp.WaitVisible(chromedp.CSS(`#send-wa`)),
		shot(dir, "wa-01-phone.png"),
	)
	do(t, ctx, "send on WhatsApp",
		chromedp.SendKeys(chromedp.CSS(`#phone`), "415 555 0100"),
		chromedp.Click(chromedp.CSS(`#send-wa`)),
		waitForText(`#sent-to`, "on WhatsApp"),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	waitChannel(t, wait, rec, testNumber, sender.WhatsApp)
	do(t, ctx, "sms after the cooldown",
		chromedp.WaitVisible(chromedp.CSS(`#sms-me`)),
		shot(dir, "wa-02-code.png"),
		chromedp.Click(chromedp.CSS(`#sms-me`)),
		waitForText(`#sent-to`, "by SMS"),
	)
	sms := waitChannel(t, wait, rec, testNumber, sender.SMS)
	if got := text(t, ctx, `#call-me`); !strings.Contains(got, "Call me") {
		t.Errorf("call link says %q", got)
	}
	do(t, ctx, "verify the SMS code",
		clear(`#code`),
		chromedp.SendKeys(chromedp.CSS(`#code`), sms.Code+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#verified`)),
		shot(dir, "wa-03-verified.png"),
	)
	if n := rec.Len(); n != 2 {
		t.Errorf("%d messages sent, want 2 (whatsapp, sms)", n)
	}
}
