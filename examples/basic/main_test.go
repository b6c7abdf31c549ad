package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/examples/internal/prompt"
)

var devLine = regexp.MustCompile(`^go2fa\[dev\] sms to \+14155550100: Your verification code is (\d{6})\.`)

// session runs the program with piped stdin and stderr, and returns the code
// it printed, a writer for typed lines, its standard output (read it only
// after done) and the channel of run's result.
func session(t *testing.T) (code string, typed io.WriteCloser, stdout *strings.Builder, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	inR, inW := io.Pipe()
	errR, errW := io.Pipe()
	out := &strings.Builder{}
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"+1 415 555 0100"}, inR, out, errW)
		errW.Close()
		inR.Close()
		errc <- err
	}()
	lines := bufio.NewScanner(errR)
	if !lines.Scan() {
		t.Fatalf("no development line printed: %v", <-errc)
	}
	m := devLine.FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("dev line = %q", lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, errR) }() // drain stderr; ends when run closes errW
	return m[1], inW, out, errc
}

func TestApprovedAfterWrongAndMalformed(t *testing.T) {
	t.Parallel()
	code, typed, out, done := session(t)
	for _, line := range []string{"12ab\n", wrong(code) + "\n", " " + code + " \n"} {
		// A failed write means run stopped reading early; done says why.
		if _, err := io.WriteString(typed, line); err != nil {
			t.Errorf("typing %q: %v", line, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("run = %v, want approved", err)
	}
	got := out.String()
	for _, want := range []string{"Sent a code to +14155550100.", "A code is 6 digits.", "Wrong code. 4 attempts left.", "Approved"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, code) {
		t.Errorf("stdout shows the code:\n%s", got)
	}
}

func TestLocked(t *testing.T) {
	t.Parallel()
	code, typed, out, done := session(t)
	go func() {
		for range 5 {
			if _, err := io.WriteString(typed, wrong(code)+"\n"); err != nil {
				return
			}
		}
	}()
	if err := <-done; !errors.Is(err, prompt.ErrLocked) {
		t.Fatalf("run = %v, want prompt.ErrLocked\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 attempts left") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestNoInput(t *testing.T) {
	t.Parallel()
	_, typed, _, done := session(t)
	typed.Close()
	if err := <-done; !errors.Is(err, prompt.ErrNoInput) {
		t.Fatalf("run = %v, want prompt.ErrNoInput", err)
	}
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	if err := run(t.Context(), nil, strings.NewReader(""), io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("no argument: %v", err)
	}
	if err := run(t.Context(), []string{"4155550100"}, strings.NewReader(""), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "invalid phone number") {
		t.Errorf("national number: %v", err)
	}
}

func wrong(code string) string {
	b := []byte(code)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+1)%10
	}
	return string(b)
}
