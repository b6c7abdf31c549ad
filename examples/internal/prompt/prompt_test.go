package prompt_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/examples/internal/prompt"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// verifier starts a verification and returns the number and the code sent.
func verifier(t *testing.T) (v *otp.Verifier, to, code string) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	rec := &sendertest.Recorder{}
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: rec, Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Start(t.Context(), "+14155550100", sender.SMS)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := rec.Last(res.To)
	return v, res.To, m.Code
}

// TestInterruptAtPrompt cancels the context (what Ctrl-C does through
// signal.NotifyContext in both examples) while Code waits at the prompt on
// a stdin that never ends: Code must stop waiting and report the
// cancellation.
func TestInterruptAtPrompt(t *testing.T) {
	t.Parallel()
	v, to, _ := verifier(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	inR, inW := io.Pipe() // never written to: the user types nothing
	t.Cleanup(func() { inW.Close() })
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := prompt.Code(ctx, v, to, inR, outW)
		outW.Close()
		done <- err
	}()
	waitForPrompt(t, outR)
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Code = %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(time.Minute): // a hang guard, not a timing assertion
		t.Fatal("Code still waits at the prompt after the context was cancelled")
	}
}

// TestEndsWithoutApproval: the ways the prompt ends, and a malformed code
// that costs no guess.
func TestEndsWithoutApproval(t *testing.T) {
	t.Parallel()
	v, to, code := verifier(t)
	var out strings.Builder
	if err := prompt.Code(t.Context(), v, to, strings.NewReader(""), &out); !errors.Is(err, prompt.ErrNoInput) {
		t.Errorf("empty input: %v, want ErrNoInput", err)
	}
	typed := "12ab\n"
	for shift := byte(1); shift <= 5; shift++ { // five distinct wrong codes
		b := []byte(code)
		for i := range b {
			b[i] = '0' + (b[i]-'0'+shift)%10
		}
		typed += string(b) + "\n"
	}
	if err := prompt.Code(t.Context(), v, to, strings.NewReader(typed), &out); !errors.Is(err, prompt.ErrLocked) {
		t.Errorf("five wrong codes: %v, want ErrLocked", err)
	}
	if !strings.Contains(out.String(), "A code is 6 digits") || !strings.Contains(out.String(), "1 attempts left") {
		t.Errorf("output:\n%s", out.String())
	}
	if err := prompt.Code(t.Context(), v, to, strings.NewReader(code+"\n"), &out); !errors.Is(err, prompt.ErrExpired) {
		t.Errorf("right code after the lock: %v, want ErrExpired", err)
	}
}

// waitForPrompt reads r until the "Code: " prompt.
func waitForPrompt(t *testing.T, r io.Reader) {
	t.Helper()
	var seen []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(seen), "Code: ") {
		n, err := r.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("no prompt (%v); output:\n%s", err, seen)
		}
	}
}
