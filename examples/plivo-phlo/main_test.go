package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
)

func settings(skip string) func(string) string {
	m := map[string]string{
		"PLIVO_AUTH_ID": plivotest.AuthID, "PLIVO_AUTH_TOKEN": plivotest.AuthToken,
		"PLIVO_NUMBER": plivotest.Number, "PHLO_ID": plivotest.PHLOID,
	}
	delete(m, skip)
	return func(k string) string { return m[k] }
}

// typeBack answers the prompt with the code the fake PHLO received.
type typeBack struct {
	fake *plivotest.Server
	to   string
	sent bool
}

func (r *typeBack) Read(p []byte) (int, error) {
	if r.sent {
		return 0, io.EOF
	}
	run, ok := r.fake.LastPHLORun(r.to)
	if !ok {
		return 0, errors.New("no PHLO run before the prompt")
	}
	r.sent = true
	return copy(p, run.OTP+"\n"), nil
}

func TestSendsThroughPHLO(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"sms", "call"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			fake := plivotest.NewServer()
			t.Cleanup(fake.Close)
			var out strings.Builder
			err := run(t.Context(), []string{"-channel", mode, "+14155550100"}, settings(""), fake.Client(),
				&typeBack{fake: fake, to: "+14155550100"}, &out, io.Discard)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			runs := fake.PHLORuns()
			if len(runs) != 1 {
				t.Fatalf("%d PHLO runs, want 1", len(runs))
			}
			r := runs[0]
			if r.Mode != mode || r.From != plivotest.Number || r.PHLOID != plivotest.PHLOID || len(r.OTP) != 6 {
				t.Errorf("run = %+v", r)
			}
			if !strings.Contains(out.String(), "Approved") || strings.Contains(out.String(), r.OTP) {
				t.Errorf("output:\n%s", out.String())
			}
		})
	}
}

func TestMissingSettings(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"+14155550100"}, func(string) string { return "" }, nil, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN, PLIVO_NUMBER, PHLO_ID") {
		t.Fatalf("err = %v", err)
	}
	err = run(t.Context(), []string{"+14155550100"}, settings("PHLO_ID"), nil, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "missing settings: PHLO_ID") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlivoFailure(t *testing.T) {
	t.Parallel()
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	fake.Fail(plivotest.Unauthorized)
	err := run(t.Context(), []string{"+14155550100"}, settings(""), fake.Client(), strings.NewReader(""), io.Discard, io.Discard)
	if !errors.Is(err, plivoadapter.ErrPermanent) || strings.Contains(err.Error(), plivotest.AuthToken) {
		t.Fatalf("err = %v, want a permanent Plivo error without the token", err)
	}
	if len(fake.PHLORuns()) != 0 {
		t.Errorf("a PHLO ran despite the failed check")
	}
}

// TestInterruptAtPrompt cancels the context (what Ctrl-C does through
// signal.NotifyContext) while run waits at the prompt on a stdin that never
// ends: run must stop waiting and report the cancellation.
func TestInterruptAtPrompt(t *testing.T) {
	t.Parallel()
	fake := plivotest.NewServer()
	t.Cleanup(fake.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	inR, inW := io.Pipe() // never written to: the user types nothing
	t.Cleanup(func() { inW.Close() })
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"+14155550100"}, settings(""), fake.Client(), inR, outW, io.Discard)
		outW.Close()
		done <- err
	}()
	waitForPrompt(t, outR)
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run = %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(time.Minute): // a hang guard, not a timing assertion
		t.Fatal("run still waits at the prompt after the context was cancelled")
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
