package main

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/go2fa/go2fa/plivoadapter/plivotest"
)

// TestBrowserFallback drives the page in headless Chromium with plivotest
// as Plivo: the SMS is reported undelivered, the page says it is calling,
// and the code spoken in the call verifies in the same browser session.
func TestBrowserFallback(t *testing.T) {
	ctx := newBrowser(t)
	dir := artifactDir(t)
	d := newFallbackDemo(t, "memory")
	do(t, ctx, "open the page",
		chromedp.Navigate(d.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#send`)),
		until(`document.body.dataset.ready === "true"`),
		chromedp.SendKeys(chromedp.CSS(`#phone`), "415 555 0100\n"),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	sms, err := d.fake.WaitMessage(ctx, testNumber)
	if err != nil {
		t.Fatalf("no SMS sent: %v", err)
	}
	if st := d.report(t, sms, "undelivered"); st != http.StatusOK {
		t.Fatalf("report = %d", st)
	}
	do(t, ctx, "the page says it is calling",
		waitForText(`#sent-to`, "We couldn't deliver the SMS; we're calling you"),
		shot(dir, "08-fallback-calling.png"),
	)
	call, ok := d.fake.LastCall(testNumber)
	if !ok || d.calls(testNumber) != 1 {
		t.Fatalf("%d calls, want 1", d.calls(testNumber))
	}
	ans, err := plivotest.PlayAnswer(d.app, call)
	if err != nil || len(ans.Digits()) == 0 || ans.Digits()[0] != sms.Code {
		t.Fatalf("the call speaks %v (%v), want the SMS's code", ans.Digits(), err)
	}
	do(t, ctx, "verify the spoken code",
		chromedp.SendKeys(chromedp.CSS(`#code`), ans.Digits()[0]+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#verified`)),
		waitForText(`#verified`, "Verified"),
		shot(dir, "09-fallback-verified.png"),
	)
}
