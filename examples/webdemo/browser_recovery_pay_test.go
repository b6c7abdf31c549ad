package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/go2fa/go2fa/otp"
)

// TestBrowserRecoveryAndPayment drives the page in headless Chromium: the
// recovery codes shown after TOTP enrollment and one of them redeemed, then
// the "Confirm a payment" tab from the payment form to approval.
func TestBrowserRecoveryAndPayment(t *testing.T) {
	ctx := newBrowser(t)
	dir := artifactDir(t)
	srv, rec := newTestApp(t, otp.Policy{})
	wait, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	do(t, ctx, "open the page and enroll",
		chromedp.Navigate(srv.URL+"/"),
		until(`document.body.dataset.ready === "true"`),
		chromedp.Click(chromedp.CSS(`#tab-totp`)),
		chromedp.Click(chromedp.CSS(`#enroll`)),
		chromedp.WaitVisible(chromedp.CSS(`#totp-secret`)),
	)
	code := pageTOTPCode(t, ctx)
	do(t, ctx, "totp verify shows recovery codes",
		chromedp.SendKeys(chromedp.CSS(`#totp-code`), code+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
		until(`document.querySelectorAll("#recovery-codes li").length === 10`),
		shot(dir, "08-recovery-codes.png"),
	)
	first := text(t, ctx, `#recovery-codes li`)
	if len(first) != 11 || first[5] != '-' {
		t.Fatalf("first recovery code on the page = %q, want xxxxx-xxxxx", first)
	}
	do(t, ctx, "redeem a recovery code",
		chromedp.SendKeys(chromedp.CSS(`#recover-code`), strings.ToUpper(first)+"\n"),
		waitForText(`#recover-result`, "9 codes left"),
	)
	do(t, ctx, "redeem it again",
		chromedp.SendKeys(chromedp.CSS(`#recover-code`), first+"\n"),
		waitForText(`#recover-result`, "not valid"),
	)

	do(t, ctx, "describe a payment",
		chromedp.Click(chromedp.CSS(`#tab-pay`)),
		chromedp.WaitVisible(chromedp.CSS(`#pay-form`)),
		clear(`#pay-amount`),
		chromedp.SendKeys(chromedp.CSS(`#pay-amount`), "12.5"),
		chromedp.SendKeys(chromedp.CSS(`#pay-phone`), testNumber),
		shot(dir, "09-payment.png"),
		chromedp.Click(chromedp.CSS(`#pay-send`)),
		chromedp.WaitVisible(chromedp.CSS(`#pay-code-form`)),
		waitForText(`#pay-amount-shown`, "EUR 12.50"),
		waitForText(`#pay-payee-shown`, "ACME Ltd"),
		shot(dir, "10-payment-code.png"),
	)
	msg, err := rec.WaitFor(wait, testNumber)
	if err != nil {
		t.Fatalf("no SMS recorded: %v", err)
	}
	if !strings.Contains(msg.Text, "to pay EUR 12.50 to ACME Ltd") {
		t.Fatalf("SMS text = %q", msg.Text)
	}
	do(t, ctx, "a wrong code",
		chromedp.SendKeys(chromedp.CSS(`#pay-code`), wrongCode(msg.Code)+"\n"),
		waitForText(`#pay-code-error`, "attempts left"),
	)
	do(t, ctx, "approve",
		clear(`#pay-code`),
		chromedp.SendKeys(chromedp.CSS(`#pay-code`), msg.Code+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#pay-done`)),
		waitForText(`#pay-done-text`, "EUR 12.50 to ACME Ltd"),
		shot(dir, "11-payment-approved.png"),
	)
	t.Logf("screenshots in %s", dir)
}
