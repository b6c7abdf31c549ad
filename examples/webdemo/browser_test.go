package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/sender"
)

// chromePath returns the browser to drive: $CHROME_PATH, else a Chromium
// or Chrome on PATH, else "".
func chromePath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where screenshots go: $GO2FA_ARTIFACTS/webdemo, else a
// temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GO2FA_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "webdemo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts a headless Chromium for the test, with the flags this
// offline machine needs, and returns its context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromePath()
	if path == "" {
		t.Skip("no Chromium: set CHROME_PATH or put chromium on PATH to run the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(420, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first Do starts the browser and binds it to bctx (no timeout);
	// the steps then run under a derived deadline.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

type step = chromedp.Action[chromedp.Void]

// pageState describes the visible step, the inputs and the messages.
const pageState = `Array.from(document.querySelectorAll(".step:not([hidden]), input, .error, .muted"))
	.map(e => (e.id || e.tagName) + ": " + (e.tagName === "INPUT" ? JSON.stringify(e.value) : e.textContent.trim().replace(/\s+/g, " ")))
	.join("\n")`

// shot saves a PNG screenshot of the viewport as dir/name.
func shot(dir, name string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		buf, err := chromedp.CaptureScreenshot()(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), buf, 0o644)
	})
}

// do runs steps, each within 20 seconds; on failure it saves a screenshot
// and the page's text for the report.
func do(t *testing.T, ctx context.Context, what string, steps ...step) {
	t.Helper()
	for _, s := range steps {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(sctx, s)
		cancel()
		if err != nil {
			dir := artifactDir(t)
			name := "FAILED-" + strings.ReplaceAll(what, " ", "-") + ".png"
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](pageState))
			if serr := chromedp.Do(ctx, shot(dir, name)); serr != nil {
				t.Logf("screenshot %s: %v", name, serr)
			}
			t.Fatalf("%s: %v\npage text:\n%s\n(screenshot %s)", what, err, page, filepath.Join(dir, name))
		}
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// until waits until the JavaScript expression is true.
func until(expr string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))(ctx, t)
		return err
	})
}

// clear empties an input.
func clear(sel string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))(ctx, t)
		return err
	})
}

// waitForText waits until the element's text contains want.
func waitForText(sel, want string) step {
	return until(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent?.includes(%q) === true`, sel, want))
}

// TestBrowser drives the page in headless Chromium: SMS code, a wrong code,
// "Call me", verified, start again, and the authenticator-app tab.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t)
	dir := artifactDir(t)
	// A one-second cooldown so the "Call me" link appears quickly.
	srv, rec := newTestApp(t, otp.Policy{Cooldown: time.Second})
	wait, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	do(t, ctx, "open the page",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#send`)),
		until(`document.body.dataset.ready === "true"`),
		shot(dir, "01-phone.png"),
	)
	if got := text(t, ctx, `#dial`); got != "+1" {
		t.Errorf("default dialling code = %q, want +1 (United States)", got)
	}

	// An invalid number shows an error and sends nothing.
	do(t, ctx, "send to an invalid number",
		chromedp.SendKeys(chromedp.CSS(`#phone`), "12"),
		chromedp.Click(chromedp.CSS(`#send`)),
		waitForText(`#phone-error`, "valid phone number"),
	)
	if rec.Len() != 0 {
		t.Fatalf("an invalid number sent %d messages", rec.Len())
	}

	// Type a number and press Enter (the keyboard path).
	do(t, ctx, "send the code",
		clear(`#phone`),
		chromedp.SendKeys(chromedp.CSS(`#phone`), "415 555 0100"+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		waitForText(`#countdown`, "Code expires in"),
	)
	msg, err := rec.WaitFor(wait, testNumber)
	if err != nil {
		t.Fatalf("no SMS recorded: %v", err)
	}
	if msg.Channel != sender.SMS {
		t.Fatalf("first message channel = %s, want sms", msg.Channel)
	}
	if got := text(t, ctx, `#sent-to`); !strings.Contains(got, testNumber) {
		t.Errorf("code screen says %q", got)
	}
	do(t, ctx, "code screen", shot(dir, "02-code.png"))

	// A wrong code shows the attempts left.
	do(t, ctx, "wrong code",
		chromedp.SendKeys(chromedp.CSS(`#code`), wrongCode(msg.Code)),
		chromedp.Click(chromedp.CSS(`#verify`)),
		waitForText(`#code-error`, "4 attempts left"),
		chromedp.WaitVisible(chromedp.CSS(`#call-me`)),
		shot(dir, "03-wrong-code.png"),
	)

	// "Call me" after the cooldown delivers the code by voice.
	if got := text(t, ctx, `#call-me`); got != "Didn't receive the SMS? Call me" {
		t.Errorf("call link says %q", got)
	}
	do(t, ctx, "call me",
		chromedp.Click(chromedp.CSS(`#call-me`)),
		waitForText(`#sent-to`, "We are calling"),
	)
	var call sender.Message
	for call.Channel != sender.Call {
		if call, err = rec.WaitFor(wait, testNumber); err != nil {
			t.Fatalf("no call recorded: %v", err)
		}
		if call.Channel != sender.Call {
			select {
			case <-wait.Done():
				t.Fatal("no call recorded")
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	do(t, ctx, "call screen", shot(dir, "04-call.png"))

	// The code from the call verifies.
	do(t, ctx, "verify",
		clear(`#code`),
		chromedp.SendKeys(chromedp.CSS(`#code`), call.Code+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#verified`)),
		waitForText(`#verified`, "Verified"),
		shot(dir, "05-verified.png"),
	)
	if got := text(t, ctx, `#verified-text`); !strings.Contains(got, testNumber+" is verified") {
		t.Errorf("verified screen says %q", got)
	}
	if n := rec.Len(); n != 2 {
		t.Errorf("%d messages sent, want 2 (sms, call)", n)
	}
	for _, m := range rec.Messages() {
		if m.To != testNumber {
			t.Errorf("message to %s, want %s", m.To, testNumber)
		}
	}

	do(t, ctx, "start again",
		chromedp.Click(chromedp.CSS(`#verified button.restart`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone-form`)),
	)

	// Another country, typed in its national format.
	do(t, ctx, "send to the United Kingdom",
		chromedp.Focus(chromedp.CSS(`#country`)),
		chromedp.SendKeys(chromedp.CSS(`#country`), "United K"),
		waitForText(`#dial`, "+44"),
		clear(`#phone`),
		chromedp.SendKeys(chromedp.CSS(`#phone`), "07400 123456\n"),
		waitForText(`#sent-to`, "+447400123456"),
	)
	if m, err := rec.WaitFor(wait, "+447400123456"); err != nil || m.Channel != sender.SMS {
		t.Fatalf("UK message = %v, %v", m, err)
	}
	do(t, ctx, "start again", chromedp.Click(chromedp.CSS(`#code-form button.restart`)), chromedp.WaitVisible(chromedp.CSS(`#phone-form`)))

	// The authenticator-app tab.
	do(t, ctx, "enroll",
		chromedp.Click(chromedp.CSS(`#tab-totp`)),
		chromedp.WaitVisible(chromedp.CSS(`#enroll`)),
		chromedp.Click(chromedp.CSS(`#enroll`)),
		chromedp.WaitVisible(chromedp.CSS(`#qr`)),
		until(`document.querySelector("#qr").complete && document.querySelector("#qr").naturalWidth > 0`),
		shot(dir, "06-totp-enroll.png"),
	)
	code := pageTOTPCode(t, ctx)
	do(t, ctx, "totp wrong code",
		chromedp.SendKeys(chromedp.CSS(`#totp-code`), wrongCode(code)),
		chromedp.Click(chromedp.CSS(`#totp-verify`)),
		waitForText(`#totp-error`, "attempts left"),
	)
	do(t, ctx, "totp verify",
		clear(`#totp-code`),
		chromedp.SendKeys(chromedp.CSS(`#totp-code`), code+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#totp-verified`)),
		waitForText(`#totp-verified`, "Verified"),
		shot(dir, "07-totp-verified.png"),
	)
	t.Logf("screenshots in %s", dir)
}

// wrongCode returns a code of the same length that differs in every digit.
func wrongCode(code string) string {
	b := []byte(code)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+5)%10
	}
	return string(b)
}

// pageTOTPCode is the current TOTP code of the secret the page shows in
// #totp-secret after enrolment.
func pageTOTPCode(t *testing.T, ctx context.Context) string {
	t.Helper()
	secret, err := totp.DecodeSecret(text(t, ctx, `#totp-secret`))
	if err != nil {
		t.Fatalf("secret on the page: %v", err)
	}
	code, err := totp.Key{Secret: secret}.Code(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}
