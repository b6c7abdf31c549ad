package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

func TestPHLORequest(t *testing.T) {
	t.Parallel()
	for _, ch := range []sender.Channel{sender.SMS, sender.Call} {
		srv := fake(t)
		p, err := plivoadapter.NewPHLO(config(srv))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Send(context.Background(), sender.Message{To: dest, Channel: ch, Code: code}); err != nil {
			t.Fatalf("%s: Send: %v", ch, err)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: requests = %d, want 1", ch, len(reqs))
		}
		r := reqs[0]
		wantPath := "/v1/account/" + plivotest.AuthID + "/phlo/" + plivotest.PHLOID + "/"
		if r.Method != http.MethodPost || r.Host != "phlorunner.plivo.com" || r.Path != wantPath {
			t.Errorf("%s: request = %s %s%s, want POST phlorunner.plivo.com%s", ch, r.Method, r.Host, r.Path, wantPath)
		}
		if got := r.Header.Get("Authorization"); got != basicAuth() {
			t.Errorf("%s: Authorization = %q", ch, got)
		}
		want := map[string]any{"from": plivotest.Number, "to": dest, "otp": code, "mode": string(ch)}
		if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: body = %v, want %v", ch, got, want)
		}
		run, ok := srv.LastPHLORun(dest)
		if !ok || run.OTP != code || run.Mode != string(ch) || run.PHLOID != plivotest.PHLOID {
			t.Errorf("%s: LastPHLORun = %+v, %v", ch, run, ok)
		}
	}
}

// TestPHLOOneRequestPerSend proves the PHLO is never fetched per send:
// every send, first included, is exactly one POST (no GET at all).
func TestPHLOOneRequestPerSend(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	p, err := plivoadapter.NewPHLO(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := p.Send(context.Background(), sender.Message{To: dest, Channel: sender.SMS, Code: code}); err != nil {
			t.Fatal(err)
		}
		if n := srv.RequestCount(); n != i {
			t.Fatalf("after %d sends: requests = %d, want %d", i, n, i)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Send(context.Background(), sender.Message{To: dest, Channel: sender.Call, Code: code}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range srv.Requests() {
		if r.Method != http.MethodPost {
			t.Errorf("request %s %s: a send fetched something", r.Method, r.Path)
		}
	}
	if n := srv.RequestCount(); n != 15 {
		t.Errorf("requests = %d, want 15 for 15 sends", n)
	}
	if n := len(srv.PHLORuns()); n != 15 {
		t.Errorf("runs = %d, want 15", n)
	}
}

func TestPHLOPing(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	p, err := plivoadapter.NewPHLO(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	r := srv.Requests()[0]
	if r.Method != http.MethodGet || r.Host != "phlorunner.plivo.com" || r.Path != "/v1/phlo/"+plivotest.PHLOID {
		t.Errorf("request = %s %s%s", r.Method, r.Host, r.Path)
	}
	c := config(srv)
	c.PHLOID = "unknown-phlo"
	p, _ = plivoadapter.NewPHLO(c)
	err = p.Ping(context.Background())
	if pe := plivoError(t, err); pe.StatusCode != 404 || !errors.Is(err, plivoadapter.ErrPermanent) {
		t.Errorf("unknown PHLO: err = %v, want 404 permanent", err)
	}
	if err := p.Send(context.Background(), sender.Message{To: dest, Channel: sender.SMS, Code: code}); plivoError(t, err).StatusCode != 404 {
		t.Errorf("send to unknown PHLO: err = %v, want 404", err)
	}
}

func TestPHLOConfig(t *testing.T) {
	t.Parallel()
	c := config(fake(t))
	c.PHLOID = ""
	_, err := plivoadapter.NewPHLO(c)
	if !errors.Is(err, plivoadapter.ErrInvalidConfig) || !containsAll(err.Error(), "PHLO_ID") {
		t.Errorf("err = %v, want ErrInvalidConfig naming PHLO_ID", err)
	}
}
