package plivoadapter_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	plivo "github.com/plivo/plivo-go/v7"
)

// wire is one request as it left the client: the URL it addressed (before
// any test re-routing), the headers that matter and the decoded JSON body.
type wire struct {
	Method, URL, Auth, ContentType, UserAgent string
	Body                                      map[string]any
}

// capture is an httptest server that answers Plivo's documented replies,
// with a transport that records every request as addressed and sends it
// to the server.
type capture struct {
	ts   *httptest.Server
	mu   sync.Mutex
	reqs []wire
}

// plivoGo is plivo-go's own REST client with the test account, sending
// through hc: the reference our requests are compared with.
func plivoGo(t *testing.T, hc *http.Client) *plivo.Client {
	t.Helper()
	cl, err := plivo.NewClient(plivotest.AuthID, plivotest.AuthToken, &plivo.ClientOptions{HttpClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func newCapture(t *testing.T) *capture {
	t.Helper()
	c := &capture{}
	c.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/Message/"):
			w.WriteHeader(202)
			_, _ = io.WriteString(w, `{"api_id":"4e1f954c-baf3-11ec-bafe-0242ac110003","message":"message(s) queued","message_uuid":["4e2b1a6a-baf3-11ec-bafe-0242ac110003"]}`)
		case strings.HasSuffix(p, "/Call/"):
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"api_id":"97ceeb52-58b6-11e1-86da-77300b68f8bb","message":"call fired","request_uuid":"9834029e-58b6-11e1-b8b7-a5bd0e4e126f"}`)
		case strings.Contains(p, "/account/") && r.Method == http.MethodPost:
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"phlo_id":"4c1a9f23-7f56-4879-bb80-db856e1e7701","api_id":"7b6f8256-07c7-4d9a-bf2a-a2cd0f05d269","message":"b'Send SMS' - b'Send SMS_1' executed"}`)
		case strings.HasPrefix(p, "/v1/phlo/"):
			_, _ = io.WriteString(w, `{"api_id":"52d7d3d4-9a47-44c9-8c08-436aac427220","phlo_id":"4c1a9f23-7f56-4879-bb80-db856e1e7701","name":"2FA","created_on":"2018-11-20 04:46:20.307414+00:00"}`)
		default:
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"api_id":"52d7d3d4-9a47-44c9-8c08-436aac427220","error":"not found"}`)
		}
	}))
	t.Cleanup(c.ts.Close)
	return c
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	var body map[string]any
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if len(b) > 0 {
			_ = json.Unmarshal(b, &body)
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, wire{r.Method, r.URL.String(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), body})
	c.mu.Unlock()
	u, _ := url.Parse(c.ts.URL)
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = u.Scheme, u.Host, ""
	return http.DefaultTransport.RoundTrip(r2)
}

// take returns the requests recorded so far and forgets them.
func (c *capture) take() []wire {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reqs
	c.reqs = nil
	return r
}

func (c *capture) client() *http.Client { return &http.Client{Transport: c, Timeout: 10 * time.Second} }

// sameWire compares two requests field by field.
func sameWire(t *testing.T, what string, ours, theirs wire) {
	t.Helper()
	if ours.Method != theirs.Method {
		t.Errorf("%s: method %q, plivo-go %q", what, ours.Method, theirs.Method)
	}
	if ours.URL != theirs.URL {
		t.Errorf("%s: URL %q, plivo-go %q", what, ours.URL, theirs.URL)
	}
	if ours.Auth != theirs.Auth || ours.Auth != basicAuth() {
		t.Errorf("%s: Authorization %q, plivo-go %q, want %q", what, ours.Auth, theirs.Auth, basicAuth())
	}
	if ours.ContentType != theirs.ContentType || ours.ContentType != "application/json" {
		t.Errorf("%s: Content-Type %q, plivo-go %q", what, ours.ContentType, theirs.ContentType)
	}
	if ours.UserAgent != theirs.UserAgent {
		t.Errorf("%s: User-Agent %q, plivo-go %q", what, ours.UserAgent, theirs.UserAgent)
	}
	for k := range mergeKeys(ours.Body, theirs.Body) {
		if !reflect.DeepEqual(ours.Body[k], theirs.Body[k]) {
			t.Errorf("%s: body[%q] = %#v, plivo-go %#v", what, k, ours.Body[k], theirs.Body[k])
		}
	}
}

func mergeKeys(a, b map[string]any) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

func one(t *testing.T, what string, reqs []wire) wire {
	t.Helper()
	if len(reqs) != 1 {
		t.Fatalf("%s: %d requests, want 1: %+v", what, len(reqs), reqs)
	}
	return reqs[0]
}

func captureConfig(c *capture) plivoadapter.Config {
	return plivoadapter.Config{AuthID: plivotest.AuthID, AuthToken: plivotest.AuthToken, Number: plivotest.Number, PHLOID: plivotest.PHLOID, HTTPClient: c.client()}
}

// The SMS sender's Message create is byte for byte what plivo-go's
// Messages.Create sends for the same parameters, and those parameters are
// the documented ones: src, dst, text, url, method, log=false,
// message_expiry.
func TestWireMessageCreateMatchesPlivoGo(t *testing.T) {
	t.Parallel()
	c := newCapture(t)
	s, err := plivoadapter.NewSMS(captureConfig(c), plivoadapter.WithStatusURL("https://example.com/plivo/status"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), smsMsg()); err != nil {
		t.Fatal(err)
	}
	ours := one(t, "ours", c.take())

	pc := plivoGo(t, c.client())
	if _, err := pc.Messages.Create(plivo.MessageCreateParams{
		Src: plivotest.Number, Dst: dest, Text: "Your verification code is " + code + ". It expires in 5 minutes.",
		URL: "https://example.com/plivo/status", Method: "POST", Log: false, MessageExpiry: 300,
	}); err != nil {
		t.Fatal(err)
	}
	theirs := one(t, "plivo-go", c.take())
	sameWire(t, "message create", ours, theirs)
	if ours.URL != "https://api.plivo.com/v1/Account/"+plivotest.AuthID+"/Message/" || ours.Method != http.MethodPost {
		t.Errorf("message create: %s %s", ours.Method, ours.URL)
	}
	if ours.Body["log"] != false || ours.Body["message_expiry"] != float64(300) {
		t.Errorf("message create: log %v, message_expiry %v; want false and 300", ours.Body["log"], ours.Body["message_expiry"])
	}
}

// With a Powerpack and India's DLT values, our request is again what
// plivo-go's Messages.Create sends with the same parameters: powerpack_uuid
// instead of src, the three dlt_* fields.
func TestWireMessageCreatePowerpackDLT(t *testing.T) {
	t.Parallel()
	c := newCapture(t)
	const pp = "d35f2e82-d387-427f-8594-6fa07613c43a"
	dlt := plivoadapter.DLT{EntityID: "1201159141994639834", TemplateID: "1207160760347486327", TemplateCategory: "service_implicit"}
	s, err := plivoadapter.NewSMS(captureConfig(c), plivoadapter.WithPowerpack(pp), plivoadapter.WithDLT(dlt))
	if err != nil {
		t.Fatal(err)
	}
	m := smsMsg()
	m.To, m.TTL = "+919812345678", 90*time.Second
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	ours := one(t, "ours", c.take())
	pc := plivoGo(t, c.client())
	if _, err := pc.Messages.Create(plivo.MessageCreateParams{
		PowerpackUUID: pp, Dst: m.To, Text: "Your verification code is " + code + ". It expires in 1 minute.",
		Log: false, MessageExpiry: 90,
		DLTEntityID: dlt.EntityID, DLTTemplateID: dlt.TemplateID, DLTTemplateCategory: dlt.TemplateCategory,
	}); err != nil {
		t.Fatal(err)
	}
	sameWire(t, "message create with powerpack and dlt", ours, one(t, "plivo-go", c.take()))
	if _, has := ours.Body["src"]; has || ours.Body["powerpack_uuid"] != pp || ours.Body["dlt_template_id"] != dlt.TemplateID {
		t.Errorf("body %v", ours.Body)
	}
}

// The voice sender's Call create is what plivo-go's Calls.Create sends
// (host included: plivo-go re-hosts voice requests to api.plivo.com), with
// machine_detection=hangup and a time_limit; and it is one request.
func TestWireCallCreateMatchesPlivoGo(t *testing.T) {
	t.Parallel()
	c := newCapture(t)
	v, err := plivoadapter.NewVoice(captureConfig(c), answerURL, plivoadapter.WithCallerName("Acme"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Send(context.Background(), callMsg()); err != nil {
		t.Fatal(err)
	}
	ours := one(t, "ours", c.take())
	au, _ := ours.Body["answer_url"].(string)

	pc := plivoGo(t, c.client())
	if _, err := pc.Calls.Create(plivo.CallCreateParams{
		From: plivotest.Number, To: dest, AnswerURL: au, AnswerMethod: "POST",
		MachineDetection: "hangup", TimeLimit: 120, CallerName: "Acme",
	}); err != nil {
		t.Fatal(err)
	}
	theirs := one(t, "plivo-go", c.take())
	sameWire(t, "call create", ours, theirs)
	if ours.URL != "https://api.plivo.com/v1/Account/"+plivotest.AuthID+"/Call/" {
		t.Errorf("call create URL %s", ours.URL)
	}
	if !strings.HasPrefix(au, answerURL+"?token=") {
		t.Errorf("answer_url %q", au)
	}
}

// The PHLO sender's run is what plivo-go's Phlo.Run sends for the
// template's payload, and plivo-go's documented reply (no phlo_run_id) is
// a success whose reference is the api_id.
func TestWirePHLORunMatchesPlivoGo(t *testing.T) {
	t.Parallel()
	c := newCapture(t)
	p, err := plivoadapter.NewPHLO(captureConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := p.Run(context.Background(), smsMsg())
	if err != nil {
		t.Fatalf("Run on the documented reply: %v", err)
	}
	if ref != "7b6f8256-07c7-4d9a-bf2a-a2cd0f05d269" {
		t.Errorf("run reference = %q, want the api_id", ref)
	}
	ours := one(t, "ours", c.take())

	pc, err := plivo.NewPhloClient(plivotest.AuthID, plivotest.AuthToken, &plivo.ClientOptions{HttpClient: c.client()})
	if err != nil {
		t.Fatal(err)
	}
	phlo, err := pc.Phlos.Get(plivotest.PHLOID)
	if err != nil {
		t.Fatal(err)
	}
	c.take() // the GET plivo-go needs for a handle; our sender never fetches
	phlo.PhloId = plivotest.PHLOID
	if _, err := phlo.Run(map[string]interface{}{"from": plivotest.Number, "to": dest, "otp": code, "mode": "sms"}); err != nil {
		t.Fatal(err)
	}
	theirs := one(t, "plivo-go", c.take())
	sameWire(t, "phlo run", ours, theirs)
	if want := "https://phlorunner.plivo.com/v1/account/" + plivotest.AuthID + "/phlo/" + plivotest.PHLOID + "/"; ours.URL != want {
		t.Errorf("phlo run URL %s, want %s", ours.URL, want)
	}
}

// Config.APIURL points all three senders at a plain http loopback origin,
// with the paths, auth and bodies unchanged: no re-hosting of voice
// requests to api.plivo.com, no Plivo host at all.
func TestAPIURLOriginForEverySender(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("fake URL %q", srv.URL())
	}
	c := config(srv)
	c.APIURL = srv.URL()
	c.HTTPClient = &http.Client{Timeout: 10 * time.Second} // a plain client: only APIURL leads to the fake
	s, v, p := newSenders(t, c)
	ctx := context.Background()
	if err := s.Send(ctx, smsMsg()); err != nil {
		t.Errorf("sms: %v", err)
	}
	if err := v.Send(ctx, callMsg()); err != nil {
		t.Errorf("voice: %v", err)
	}
	if err := p.Send(ctx, smsMsg()); err != nil {
		t.Errorf("phlo: %v", err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Errorf("phlo ping: %v", err)
	}
	host := strings.TrimPrefix(srv.URL(), "http://")
	wantPaths := []string{
		"/v1/Account/" + plivotest.AuthID + "/Message/",
		"/v1/Account/" + plivotest.AuthID + "/Call/",
		"/v1/account/" + plivotest.AuthID + "/phlo/" + plivotest.PHLOID + "/",
		"/v1/phlo/" + plivotest.PHLOID,
	}
	reqs := srv.Requests()
	if len(reqs) != len(wantPaths) {
		t.Fatalf("requests = %d, want %d", len(reqs), len(wantPaths))
	}
	for i, r := range reqs {
		if r.Host != host || r.Path != wantPaths[i] || r.Header.Get("Authorization") != basicAuth() {
			t.Errorf("request %d: host %q path %q auth %q; want %q %q", i, r.Host, r.Path, r.Header.Get("Authorization"), host, wantPaths[i])
		}
	}
	if len(srv.Messages()) != 1 || len(srv.Calls()) != 1 || len(srv.PHLORuns()) != 1 {
		t.Errorf("fake recorded %d messages, %d calls, %d runs; want 1 each", len(srv.Messages()), len(srv.Calls()), len(srv.PHLORuns()))
	}
}

func TestAPIURLValidation(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://api.example.com", true},
		{"https://api.example.com/", true},
		{"http://[::1]:9000", true},
		{"https://api.example.com/v1", false},
		{"ftp://api.example.com", false},
		{"api.example.com", false},
		{"https://user:pw@api.example.com", false},
		{"https://api.example.com?x=1", false},
		{"https://api.example.com#f", false},
	} {
		c := config(srv)
		c.APIURL = tt.url
		for name, mk := range map[string]func() error{
			"sms": func() error { _, err := plivoadapter.NewSMS(c); return err },
			"voice": func() error {
				_, err := plivoadapter.NewVoice(c, answerURL)
				return err
			},
			"phlo": func() error { _, err := plivoadapter.NewPHLO(c); return err },
		} {
			if err := mk(); (err == nil) != tt.ok {
				t.Errorf("%s with APIURL %q: err = %v, want ok=%v", name, tt.url, err, tt.ok)
			}
		}
	}
}
