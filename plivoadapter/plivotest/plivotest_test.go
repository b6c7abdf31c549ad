package plivotest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	plivo "github.com/plivo/plivo-go/v7"
)

func newClient(t *testing.T, srv *plivotest.Server, token string) *plivo.Client {
	t.Helper()
	c, err := plivo.NewClient(plivotest.AuthID, token, &plivo.ClientOptions{HttpClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The fake serves plain plivo-go, not only plivoadapter.
func TestPlainPlivoGo(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv, plivotest.AuthToken)
	resp, err := c.Messages.Create(plivo.MessageCreateParams{Src: plivotest.Number, Dst: "+14155550100", Text: "Your code is 7788"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.MessageUUID) != 1 || resp.ApiID == "" || resp.Message != "message(s) queued" {
		t.Errorf("response = %+v", resp)
	}
	m, ok := srv.LastMessage("14155550100")
	if !ok || m.UUID != resp.MessageUUID[0] || m.Code != "7788" || m.Type != "sms" {
		t.Errorf("LastMessage = %+v, %v", m, ok)
	}
	call, err := c.Calls.Create(plivo.CallCreateParams{From: plivotest.Number, To: "+14155550100", AnswerURL: "https://example.com/a"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.LastCall("+14155550100"); call.RequestUUID != got.RequestUUID || got.AnswerMethod != "POST" {
		t.Errorf("call %+v recorded as %+v", call, got)
	}
	pc, err := plivo.NewPhloClient(plivotest.AuthID, plivotest.AuthToken, &plivo.ClientOptions{HttpClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	phlo, err := pc.Phlos.Get(plivotest.PHLOID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phlo.Run(map[string]interface{}{"from": plivotest.Number, "to": "+14155550100", "otp": "1234", "mode": "sms"}); err != nil {
		t.Fatal(err)
	}
	if r, ok := srv.LastPHLORun("+14155550100"); !ok || r.OTP != "1234" || r.Mode != "sms" {
		t.Errorf("run = %+v, %v", r, ok)
	}
	if n := srv.RequestCount(); n != 4 {
		t.Errorf("RequestCount = %d, want 4", n)
	}
}

func TestBasicAuthChecked(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	_, err := newClient(t, srv, "wrong").Messages.Create(plivo.MessageCreateParams{Src: plivotest.Number, Dst: "+14155550100", Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("err = %v, want authentication failure", err)
	}
	if len(srv.Messages()) != 0 {
		t.Error("message recorded despite bad credentials")
	}
	if r := srv.Requests(); len(r) != 1 || r[0].Status != http.StatusUnauthorized {
		t.Errorf("requests = %+v", r)
	}
}

func TestFailNextThenFail(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv, plivotest.AuthToken)
	srv.Fail(plivotest.TooManyRequests)
	srv.FailNext(plivotest.BadRequest, 1)
	send := func() {
		_, _ = c.Messages.Create(plivo.MessageCreateParams{Src: plivotest.Number, Dst: "+14155550100", Text: "x"})
	}
	send()
	send()
	srv.Fail(plivotest.None)
	send()
	var got []int
	for _, r := range srv.Requests() {
		got = append(got, r.Status)
	}
	if want := []int{400, 429, 202}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}

func TestSignedGetCarriesParamsInQuery(t *testing.T) {
	t.Parallel()
	r, err := plivotest.SignedRequest(http.MethodGet, "https://example.com/s?a=1", map[string][]string{"Status": {"failed"}})
	if err != nil {
		t.Fatal(err)
	}
	if q := r.URL.Query(); q.Get("a") != "1" || q.Get("Status") != "failed" {
		t.Errorf("query = %v", q)
	}
	want := plivotest.Sign(plivotest.AuthToken, http.MethodGet, r.URL.String(), r.Header.Get("X-Plivo-Signature-V3-Nonce"), nil)
	if got := r.Header.Get("X-Plivo-Signature-V3"); got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
	if _, err := plivotest.SignedRequest(http.MethodPost, "/relative", nil); err == nil {
		t.Error("relative URL accepted")
	}
}

func TestNonce(t *testing.T) {
	t.Parallel()
	a, b := plivotest.Nonce(), plivotest.Nonce()
	if len(a) != 20 || strings.Trim(a, "0123456789") != "" || a == b {
		t.Errorf("nonces %q, %q", a, b)
	}
}

func TestWaitMessage(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv, plivotest.AuthToken)
	go func() {
		_, _ = c.Messages.Create(plivo.MessageCreateParams{Src: plivotest.Number, Dst: "+14155550100", Text: "code 5555"})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := srv.WaitMessage(ctx, "+14155550100")
	if err != nil || m.Code != "5555" {
		t.Errorf("WaitMessage = %+v, %v", m, err)
	}
}

func TestAnswerDigits(t *testing.T) {
	t.Parallel()
	a := plivotest.Answer{Speak: []string{"Your code is", "1, 2, 3.", "Again", "1, 2, 3."}}
	if got := a.Digits(); len(got) != 2 || got[0] != "123" || got[1] != "123" {
		t.Errorf("Digits = %q", got)
	}
}

func TestEmptyJSON(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv, plivotest.AuthToken)
	srv.FailNext(plivotest.EmptyJSON, 1)
	resp, err := c.Messages.Create(plivo.MessageCreateParams{Src: plivotest.Number, Dst: "+14155550100", Text: "x"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if len(resp.MessageUUID) != 0 || resp.ApiID != "" {
		t.Errorf("response = %+v, want empty", resp)
	}
	if r := srv.Requests(); len(r) != 1 || r[0].Status != 200 {
		t.Errorf("requests = %+v, want one answered 200", r)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("messages = %d, want 0 (nothing was accepted)", n)
	}
}
