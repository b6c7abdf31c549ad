package plivotest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	plivo "github.com/plivo/plivo-go/v7"
)

// post sends body to the fake's own origin (as Config.APIURL does) and
// returns the status and decoded JSON reply.
func post(t *testing.T, srv *plivotest.Server, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(plivotest.AuthID, plivotest.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// The PHLO run reply is the documented one: 201 {"api_id", "phlo_id",
// "message"}, no phlo_run_id; PHLORunIDs(true) adds it.
func TestPHLOReplyIsDocumented(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	path := "/v1/account/" + plivotest.AuthID + "/phlo/" + plivotest.PHLOID + "/"
	status, reply := post(t, srv, path, map[string]any{"from": plivotest.Number, "to": "+14155550100", "otp": "1234", "mode": "sms"})
	if status != 201 || reply["api_id"] == nil || reply["phlo_id"] != plivotest.PHLOID || reply["message"] == nil {
		t.Errorf("reply %d %v", status, reply)
	}
	if _, has := reply["phlo_run_id"]; has {
		t.Errorf("documented reply has phlo_run_id: %v", reply)
	}
	if run, _ := srv.LastPHLORun("+14155550100"); run.RunID != reply["api_id"] {
		t.Errorf("RunID %q, api_id %v", run.RunID, reply["api_id"])
	}
	srv.PHLORunIDs(true)
	if _, reply := post(t, srv, path, map[string]any{"to": "+14155550100"}); reply["phlo_run_id"] == nil {
		t.Errorf("PHLORunIDs(true): reply %v", reply)
	}
}

// Message create validates the documented parameters and records them.
func TestMessageCreateParams(t *testing.T) {
	t.Parallel()
	srv := plivotest.NewServer()
	t.Cleanup(srv.Close)
	path := "/v1/Account/" + plivotest.AuthID + "/Message/"
	base := func() map[string]any {
		return map[string]any{"src": plivotest.Number, "dst": "+14155550100", "text": "Code 1234"}
	}
	with := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }
	for _, tt := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"plain", base(), 202},
		{"log false", with("log", false), 202},
		{"log number_only", with("log", "number_only"), 202},
		{"log garbage", with("log", "sometimes"), 400},
		{"expiry 5", with("message_expiry", 5), 202},
		{"expiry 10799", with("message_expiry", 10799), 202},
		{"expiry 4", with("message_expiry", 4), 400},
		{"expiry 10800", with("message_expiry", 10800), 400},
		{"src and powerpack", with("powerpack_uuid", "d35f2e82-d387-427f-8594-6fa07613c43a"), 400},
		{"powerpack only", map[string]any{"powerpack_uuid": "d35f2e82-d387-427f-8594-6fa07613c43a", "dst": "+14155550100", "text": "Code 1234"}, 202},
	} {
		if status, reply := post(t, srv, path, tt.body); status != tt.want {
			t.Errorf("%s: status %d (%v), want %d", tt.name, status, reply, tt.want)
		}
	}
	m, _ := srv.LastMessage("+14155550100")
	if m.PowerpackUUID == "" || m.Src != "" {
		t.Errorf("last message %+v", m)
	}
}

// Delivery reports are signed V2 by default, as Plivo's messaging
// documentation says, with plivo-go's ComputeSignatureV2; V3 on request.
func TestStatusRequestSignedV2(t *testing.T) {
	t.Parallel()
	m := plivotest.Message{UUID: "4e2b1a6a-baf3-11ec-bafe-0242ac110003", Src: plivotest.Number, Dst: "+14155550100", URL: "https://example.com/status?app=1", Method: "POST"}
	r, err := plivotest.StatusRequest(m, "failed", "30")
	if err != nil {
		t.Fatal(err)
	}
	nonce := r.Header.Get("X-Plivo-Signature-V2-Nonce")
	if nonce == "" || r.Header.Get("X-Plivo-Signature-V3") != "" {
		t.Fatalf("headers %v", r.Header)
	}
	for _, h := range []string{"X-Plivo-Signature-V2", "X-Plivo-Signature-Ma-V2"} {
		if !plivo.ValidateSignatureV2(m.URL, nonce, r.Header.Get(h), plivotest.AuthToken) {
			t.Errorf("%s does not validate with plivo-go", h)
		}
	}
	r3, err := plivotest.StatusRequestAs(plivotest.V3, m, "failed", "30")
	if err != nil {
		t.Fatal(err)
	}
	if err := r3.ParseForm(); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for k, v := range r3.PostForm {
		params[k] = v[0]
	}
	if !plivo.ValidateSignatureV3(m.URL, r3.Header.Get("X-Plivo-Signature-V3-Nonce"), "POST", r3.Header.Get("X-Plivo-Signature-V3"), plivotest.AuthToken, params) {
		t.Error("V3 status request does not validate with plivo-go")
	}
}

// Serve accepts a status callback's plain 200 (no XML body).
func TestServePlain200(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	r, _ := plivotest.SignedRequest(http.MethodPost, "https://example.com/s", url.Values{"a": {"b"}})
	a, err := plivotest.Serve(h, r)
	if err != nil || a.StatusCode != 200 {
		t.Errorf("Serve(plain 200) = %+v, %v", a, err)
	}
}
