package main

import (
	"errors"
	"io"
	"strings"
	"testing"

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
	if !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), "PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN, PLIVO_NUMBER") {
		t.Fatalf("nothing set: err = %v, want ErrInvalidConfig naming the three variables", err)
	}
	err = run(t.Context(), []string{"+14155550100"}, settings("PHLO_ID"), nil, strings.NewReader(""), io.Discard, io.Discard)
	if !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), "PHLO_ID") {
		t.Fatalf("PHLO_ID unset: err = %v, want ErrInvalidConfig naming PHLO_ID", err)
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
