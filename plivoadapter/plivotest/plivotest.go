// Package plivotest is an in-process fake of the Plivo API for tests, so a
// service using go2fa's plivoadapter (or plivo-go directly) can be tested
// end to end without a Plivo account or any network beyond loopback.
//
// NewServer starts the fake; Server.Client returns an *http.Client whose
// transport sends every request for a Plivo host (api.plivo.com,
// phlorunner.plivo.com, and the host plivo-go re-hosts voice requests to)
// to the fake, and refuses any other host. Pass it as the HTTPClient of
// plivoadapter.Config, or in plivo.ClientOptions. The fake also serves
// both APIs at its own origin (Server.URL), for plivoadapter.Config.APIURL
// and PLIVO_API_URL.
//
// The fake answers as Plivo documents, not as go2fa expects: a PHLO run
// gets 201 {"api_id", "phlo_id", "message"} without phlo_run_id, delivery
// reports are signed X-Plivo-Signature-V2 (V3 on request), and so on.
// SHAPES.md, next to this file, lists every shape the fake serves with its
// source.
//
// The fake checks Basic auth against AuthID and AuthToken, decodes the JSON
// bodies as Plivo does, answers with Plivo-shaped JSON (api_id,
// message_uuid, request_uuid, ...), and records every message, call and
// PHLO run, code included, so a test can read the code that was "sent". It
// can sign callbacks exactly as Plivo does (X-Plivo-Signature-V2 and V3
// computed with plivo-go's own ComputeSignatureV2 and ComputeSignatureV3),
// play Plivo against an answer URL
// handler and read back what it speaks, and fail on demand (Fail,
// FailNext).
package plivotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go2fa/go2fa/internal/ascii"
	plivo "github.com/plivo/plivo-go/v7"
)

// Credentials and identifiers the fake accepts.
const (
	// AuthID is the account's Auth ID.
	AuthID = "MAPLIVOTESTFAKE00001"
	// AuthToken is the account's Auth Token; the fake also signs callbacks
	// with it.
	AuthToken = "plivotest-auth-token-not-a-secret"
	// Number is a source number to configure senders with.
	Number = "+14155550000"
	// PHLOID is a PHLO the fake knows (see AddPHLO for more).
	PHLOID = "5f3c0c48-2c1b-4d6e-9a0f-phlotest0001"
)

// Failure is a way the fake can be told to fail (a constant, safe for
// concurrent use).
type Failure int

// The failures the fake can simulate.
const (
	// None answers normally.
	None Failure = iota
	// BadRequest answers 400 with a Plivo error body.
	BadRequest
	// Unauthorized answers 401, as for wrong credentials.
	Unauthorized
	// NotFound answers 404, as for an unknown resource or PHLO.
	NotFound
	// TooManyRequests answers 429, Plivo's rate limit.
	TooManyRequests
	// ServerError answers 500.
	ServerError
	// GarbageJSON answers 200 with a body that is not JSON.
	GarbageJSON
	// Hang never answers: the request waits until the client gives up
	// (its timeout or context) or the server closes.
	Hang
	// EmptyJSON answers 200 with the JSON body {}: valid, but without the
	// message_uuid, request_uuid or api_id that says what Plivo did.
	EmptyJSON
)

var failureStatus = map[Failure]int{
	BadRequest: 400, Unauthorized: 401, NotFound: 404, TooManyRequests: 429, ServerError: 500,
}

// Request is one HTTP request the fake received. Requests, Messages,
// Calls and PHLORuns return copies: a test may use them freely while the
// server keeps running.
type Request struct {
	Method string
	Host   string // the Plivo host the client addressed, e.g. "api.plivo.com"
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	// Status is what the fake answered (0 for Hang).
	Status int
}

// Message is one SMS accepted by the fake (POST .../Message/); a plain
// value, safe to share.
type Message struct {
	UUID   string
	Src    string
	Dst    string
	Text   string
	Type   string
	URL    string // status-callback URL
	Method string // status-callback method
	// Log is the log parameter as sent (nil when absent: Plivo's default,
	// true), for example false.
	Log any
	// Expiry is message_expiry in seconds (0 when absent).
	Expiry int
	// PowerpackUUID is powerpack_uuid (then Src is empty).
	PowerpackUUID string
	// DLTEntityID, DLTTemplateID and DLTTemplateCategory are India's DLT
	// parameters.
	DLTEntityID, DLTTemplateID, DLTTemplateCategory string
	// Code is the first run of 4 to 10 digits in Text: the code, for the
	// usual templates.
	Code string
}

// Call is one call placed through the fake (POST .../Call/); a plain
// value, safe to share.
type Call struct {
	RequestUUID  string
	CallUUID     string
	From         string
	To           string
	AnswerURL    string
	AnswerMethod string
	// MachineDetection, TimeLimit and CallerName are machine_detection,
	// time_limit (seconds) and caller_name as sent ("" and 0 when absent).
	MachineDetection string
	TimeLimit        int64
	CallerName       string
}

// PHLORun is one PHLO run (POST phlorunner .../phlo/{id}/); a plain value,
// safe to share (do not modify Payload if several goroutines read it).
type PHLORun struct {
	// RunID identifies the run: the api_id of the fake's reply (and its
	// phlo_run_id when PHLORunIDs is on).
	RunID  string
	PHLOID string
	// From, To, OTP and Mode are the payload keys of the Two-Factor
	// Authentication template.
	From, To, OTP, Mode string
	// Payload is the whole JSON payload.
	Payload map[string]any
}

// Server is the fake Plivo API. It is safe for concurrent use.
type Server struct {
	ts      *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu        sync.Mutex
	runIDs    bool
	fail      Failure
	failNext  []Failure
	phlos     map[string]bool
	requests  []Request
	messages  []Message
	calls     []Call
	runs      []PHLORun
	listeners []chan struct{}
	wa        whatsappState
}

// NewServer starts a fake Plivo API on loopback. Close it when done (for
// example with t.Cleanup(srv.Close)).
func NewServer() *Server {
	s := &Server{closing: make(chan struct{}), phlos: map[string]bool{PHLOID: true}}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server; hung requests are released first. It is safe to
// call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.ts.Close()
	})
}

// URL is the loopback address of the fake.
func (s *Server) URL() string { return s.ts.URL }

// Client returns a new *http.Client (Timeout 10 s; change it freely) whose
// transport sends requests for Plivo hosts to the fake and refuses all
// others.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &transport{s: s, base: s.ts.Client().Transport}, Timeout: 10 * time.Second}
}

type transport struct {
	s    *Server
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Hostname()
	if host != "plivo.com" && !strings.HasSuffix(host, ".plivo.com") {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("plivotest: refusing request to non-Plivo host %q", host)
	}
	u, _ := url.Parse(t.s.ts.URL)
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = u.Scheme
	r2.URL.Host = u.Host
	r2.Host = host
	return t.base.RoundTrip(r2)
}

// Fail makes every later request fail with f, until Fail(None).
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

// FailNext makes the next n requests fail with f, before any Fail setting.
func (s *Server) FailNext(f Failure, n int) {
	s.mu.Lock()
	for i := 0; i < n; i++ {
		s.failNext = append(s.failNext, f)
	}
	s.mu.Unlock()
}

// PHLORunIDs makes PHLO runs answer with a phlo_run_id too, as
// plivo-go's fixture and other SDKs show (on), or with the documented
// {"api_id", "phlo_id", "message"} only (off, the default).
func (s *Server) PHLORunIDs(on bool) {
	s.mu.Lock()
	s.runIDs = on
	s.mu.Unlock()
}

// AddPHLO makes the fake know one more PHLO ID.
func (s *Server) AddPHLO(id string) {
	s.mu.Lock()
	s.phlos[id] = true
	s.mu.Unlock()
}

// Reset forgets every recorded request, message, call and run, and every
// failure setting.
func (s *Server) Reset() {
	s.mu.Lock()
	s.requests, s.messages, s.calls, s.runs = nil, nil, nil, nil
	s.fail, s.failNext = None, nil
	s.wa.messages = nil
	s.mu.Unlock()
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestCount returns the number of requests received so far.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Messages returns every accepted SMS, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// LastMessage returns the newest SMS to the number to ("+" optional).
func (s *Server) LastMessage(to string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		if sameNumber(s.messages[i].Dst, to) {
			return s.messages[i], true
		}
	}
	return Message{}, false
}

// Calls returns every placed call, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// LastCall returns the newest call to the number to ("+" optional).
func (s *Server) LastCall(to string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if sameNumber(s.calls[i].To, to) {
			return s.calls[i], true
		}
	}
	return Call{}, false
}

// PHLORuns returns every PHLO run, oldest first.
func (s *Server) PHLORuns() []PHLORun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]PHLORun(nil), s.runs...)
}

// LastPHLORun returns the newest PHLO run to the number to ("+" optional).
func (s *Server) LastPHLORun(to string) (PHLORun, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.runs) - 1; i >= 0; i-- {
		if sameNumber(s.runs[i].To, to) {
			return s.runs[i], true
		}
	}
	return PHLORun{}, false
}

// WaitMessage blocks until an SMS to the number to has been accepted and
// returns the newest, or returns ctx's error.
func (s *Server) WaitMessage(ctx context.Context, to string) (Message, error) {
	for {
		s.mu.Lock()
		for i := len(s.messages) - 1; i >= 0; i-- {
			if sameNumber(s.messages[i].Dst, to) {
				m := s.messages[i]
				s.mu.Unlock()
				return m, nil
			}
		}
		ch := make(chan struct{})
		s.listeners = append(s.listeners, ch)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

func sameNumber(a, b string) bool { return strings.TrimPrefix(a, "+") == strings.TrimPrefix(b, "+") }

// serve is the fake API.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	f := s.fail
	if len(s.failNext) > 0 {
		f, s.failNext = s.failNext[0], s.failNext[1:]
	}
	idx := len(s.requests)
	s.requests = append(s.requests, rec)
	s.mu.Unlock()

	status, answer := s.answer(f, r, body)
	if f == Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	s.mu.Lock()
	s.requests[idx].Status = status
	s.mu.Unlock()
	if f == GarbageJSON {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"api_id": "`+newUUID()+`", "message_uuid": [`) // the client may hang up; nothing to do
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer)
}

func apiError(status int, msg string) (int, any) {
	return status, map[string]any{"api_id": newUUID(), "error": msg}
}

// answer decides the status and JSON body of a request, recording what it
// accepts.
func (s *Server) answer(f Failure, r *http.Request, body []byte) (int, any) {
	if st, ok := failureStatus[f]; ok {
		msg := map[int]string{400: "invalid request", 401: "authentication failed", 404: "resource not found", 429: "too many requests", 500: "internal server error"}[st]
		return apiError(st, msg)
	}
	if f == Hang || f == GarbageJSON || f == EmptyJSON {
		return 200, map[string]any{}
	}
	id, token, ok := r.BasicAuth()
	if !ok || id != AuthID || token != AuthToken {
		return apiError(401, "authentication failed")
	}
	if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return apiError(400, "content type must be application/json")
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// A Plivo host serves its own API only; the fake's own origin serves
	// both (their paths differ: /v1/Account/ and /v1/account/, /v1/phlo/).
	plivoHost := r.Host == "plivo.com" || strings.HasSuffix(r.Host, ".plivo.com")
	api := r.Host == "api.plivo.com" || !plivoHost
	phlo := r.Host == "phlorunner.plivo.com" || !plivoHost
	switch {
	case api && len(parts) >= 2 && parts[0] == "v1" && parts[1] == "Account":
		// /v1/Account/{auth_id}/{Resource}/
		if len(parts) != 4 || !strings.HasSuffix(r.URL.Path, "/") {
			return apiError(404, "resource not found")
		}
		if parts[2] != AuthID {
			return apiError(401, "authentication failed")
		}
		switch {
		case parts[3] == "Message" && r.Method == http.MethodPost:
			return s.message(body)
		case parts[3] == "Call" && r.Method == http.MethodPost:
			return s.call(body)
		}
	case (r.Host == "lookup.plivo.com" || !plivoHost) && len(parts) >= 2 && parts[0] == "v1" && parts[1] == "Number":
		// GET /v1/Number/{number}?type=carrier (the Lookup API)
		return s.lookup(r, parts)
	case phlo && len(parts) == 3 && parts[0] == "v1" && parts[1] == "phlo" && r.Method == http.MethodGet:
		// GET /v1/phlo/{phlo_id}
		if !s.knowsPHLO(parts[2]) {
			return apiError(404, "phlo not found")
		}
		return 200, map[string]any{"api_id": newUUID(), "phlo_id": parts[2], "name": "Two-Factor Authentication", "created_on": "2026-01-01 00:00:00.000000+00:00"}
	case phlo && len(parts) == 5 && parts[0] == "v1" && parts[1] == "account" && parts[3] == "phlo" && r.Method == http.MethodPost:
		// POST /v1/account/{auth_id}/phlo/{phlo_id}/
		if parts[2] != AuthID {
			return apiError(401, "authentication failed")
		}
		if !s.knowsPHLO(parts[4]) {
			return apiError(404, "phlo not found")
		}
		return s.run(parts[4], body)
	}
	return apiError(404, "resource not found")
}

func (s *Server) knowsPHLO(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phlos[id]
}

func validNumber(n string) bool {
	n = strings.TrimPrefix(n, "+")
	return len(n) >= 7 && len(n) <= 15 && ascii.Digits(n)
}

func (s *Server) message(body []byte) (int, any) {
	var p plivo.MessageCreateParams
	if err := json.Unmarshal(body, &p); err != nil {
		return apiError(400, "malformed JSON body")
	}
	if p.Type == whatsappType {
		return s.whatsapp(body)
	}
	switch {
	case p.Src == "" && p.PowerpackUUID == "":
		return apiError(400, "src parameter is required")
	case p.Src != "" && p.PowerpackUUID != "":
		return apiError(400, "both src and powerpack_uuid cannot be specified")
	case p.Dst == "" || !validNumber(p.Dst):
		return apiError(400, "invalid dst parameter")
	case p.Text == "":
		return apiError(400, "text parameter is required")
	case len([]rune(p.Text)) > 1600:
		return apiError(400, "text is too long")
	case p.URL != "" && !absURL(p.URL):
		return apiError(400, "invalid url parameter")
	case p.Method != "" && p.Method != "GET" && p.Method != "POST":
		return apiError(400, "invalid method parameter")
	case p.MessageExpiry != 0 && (p.MessageExpiry < 5 || p.MessageExpiry > 10799):
		return apiError(400, "message_expiry must be between 5 and 10799 seconds")
	case !validLog(p.Log):
		return apiError(400, "invalid log parameter")
	}
	m := Message{UUID: newUUID(), Src: p.Src, Dst: p.Dst, Text: p.Text, Type: p.Type, URL: p.URL, Method: p.Method, Code: findCode(p.Text),
		Log: p.Log, Expiry: p.MessageExpiry, PowerpackUUID: p.PowerpackUUID,
		DLTEntityID: p.DLTEntityID, DLTTemplateID: p.DLTTemplateID, DLTTemplateCategory: p.DLTTemplateCategory}
	if m.Type == "" {
		m.Type = "sms"
	}
	if m.URL != "" && m.Method == "" {
		m.Method = "POST"
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.notify()
	s.mu.Unlock()
	return 202, map[string]any{"api_id": newUUID(), "message": "message(s) queued", "message_uuid": []string{m.UUID}}
}

// validLog accepts Plivo's documented log values: true, false,
// "number_only", "content_only" (and the booleans as strings).
func validLog(v any) bool {
	switch l := v.(type) {
	case nil, bool:
		return true
	case string:
		switch l {
		case "true", "false", "number_only", "content_only":
			return true
		}
	}
	return false
}

// notify wakes WaitMessage callers; s.mu is held.
func (s *Server) notify() {
	for _, ch := range s.listeners {
		close(ch)
	}
	s.listeners = nil
}

func (s *Server) call(body []byte) (int, any) {
	var p plivo.CallCreateParams
	if err := json.Unmarshal(body, &p); err != nil {
		return apiError(400, "malformed JSON body")
	}
	switch {
	case !validNumber(p.From):
		return apiError(400, "invalid from parameter")
	case !validNumber(p.To):
		return apiError(400, "invalid to parameter")
	case !absURL(p.AnswerURL):
		return apiError(400, "invalid answer_url parameter")
	case p.AnswerMethod != "" && p.AnswerMethod != "GET" && p.AnswerMethod != "POST":
		return apiError(400, "invalid answer_method parameter")
	case p.MachineDetection != "" && p.MachineDetection != "true" && p.MachineDetection != "hangup":
		return apiError(400, "invalid machine_detection parameter")
	case p.TimeLimit < 0:
		return apiError(400, "invalid time_limit parameter")
	case len([]rune(p.CallerName)) > 50:
		return apiError(400, "caller_name is too long")
	}
	c := Call{RequestUUID: newUUID(), CallUUID: newUUID(), From: p.From, To: p.To, AnswerURL: p.AnswerURL, AnswerMethod: p.AnswerMethod,
		MachineDetection: p.MachineDetection, TimeLimit: p.TimeLimit, CallerName: p.CallerName}
	if c.AnswerMethod == "" {
		c.AnswerMethod = "POST"
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return 201, map[string]any{"api_id": newUUID(), "message": "call fired", "request_uuid": c.RequestUUID}
}

func (s *Server) run(phloID string, body []byte) (int, any) {
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		return apiError(400, "malformed JSON body")
	}
	str := func(k string) string { v, _ := p[k].(string); return v }
	run := PHLORun{RunID: newUUID(), PHLOID: phloID, From: str("from"), To: str("to"), OTP: str("otp"), Mode: str("mode"), Payload: p}
	s.mu.Lock()
	s.runs = append(s.runs, run)
	ids := s.runIDs
	s.mu.Unlock()
	// The documented reply: the api_id identifies the run.
	reply := map[string]any{"api_id": run.RunID, "phlo_id": phloID,
		"message": "b'Start' - b'Send SMS_1' with phlo_run_uuid: " + run.RunID + " executed with response: {'message': 'message(s) queued'}"}
	if ids {
		reply["phlo_run_id"] = run.RunID
	}
	return 201, reply
}

func absURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// findCode returns the first run of 4 to 10 digits in s.
func findCode(s string) string {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if n := j - i; n >= 4 && n <= 10 {
			return s[i:j]
		}
		if j == i {
			j++
		}
		i = j
	}
	return ""
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Nonce returns a random nonce like Plivo's (20 decimal digits).
func Nonce() string {
	n, _ := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
	return fmt.Sprintf("%020s", n.String())
}

// Signature is a family of Plivo's callback signature headers.
type Signature int

const (
	// V2 is X-Plivo-Signature-V2 and X-Plivo-Signature-Ma-V2 with
	// X-Plivo-Signature-V2-Nonce: what Plivo's messaging documentation
	// says message status callbacks carry.
	V2 Signature = iota + 1
	// V3 is X-Plivo-Signature-V3 and X-Plivo-Signature-Ma-V3 with
	// X-Plivo-Signature-V3-Nonce: voice callbacks (and messaging on some
	// accounts).
	V3
)

// Sign computes X-Plivo-Signature-V3 with plivo-go's own
// ComputeSignatureV3: uri is the full URL Plivo calls (query included),
// params the POST form (nil for GET).
func Sign(authToken, method, uri, nonce string, params map[string]string) string {
	if params == nil {
		params = map[string]string{}
	}
	return plivo.ComputeSignatureV3(authToken, uri, method, nonce, params)
}

// SignV2 computes X-Plivo-Signature-V2 with plivo-go's own
// ComputeSignatureV2: it covers the URL's scheme, host and path and the
// nonce, not the query or the body.
func SignV2(authToken, uri, nonce string) string {
	return plivo.ComputeSignatureV2(authToken, uri, nonce)
}

// SignedRequest builds a callback as Plivo sends it: to the absolute URL
// uri, with params as a form body (POST) or added to the query (GET), and
// X-Plivo-Signature-V3, X-Plivo-Signature-Ma-V3 and
// X-Plivo-Signature-V3-Nonce computed with AuthToken and a fresh nonce.
// Serve it to a handler with ServeHTTP, or send it with an http.Client
// after clearing RequestURI.
func SignedRequest(method, uri string, params url.Values) (*http.Request, error) {
	return SignedRequestWith(AuthToken, Nonce(), method, uri, params)
}

// SignedRequestWith is SignedRequest with a chosen auth token and nonce,
// for forged and replayed callbacks.
func SignedRequestWith(authToken, nonce, method, uri string, params url.Values) (*http.Request, error) {
	return SignedRequestAs(V3, authToken, authToken, nonce, method, uri, params)
}

// SignedRequestAs builds a callback signed with the headers of family sig:
// the plain header with authToken, the Ma header with mainToken (the main
// account's token; the same as authToken for a main account), and nonce.
func SignedRequestAs(sig Signature, authToken, mainToken, nonce, method, uri string, params url.Values) (*http.Request, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("plivotest: callback URL %q is not absolute http(s)", uri)
	}
	var body io.Reader
	flat := map[string]string{}
	switch method {
	case http.MethodGet:
		q := u.Query()
		for k, vs := range params {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	case http.MethodPost:
		for k, vs := range params {
			if len(vs) > 0 {
				flat[k] = vs[0]
			}
		}
		body = strings.NewReader(params.Encode())
	default:
		return nil, fmt.Errorf("plivotest: callback method %q is neither GET nor POST", method)
	}
	r, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("plivotest: callback request: %w", err)
	}
	r.RemoteAddr = "192.0.2.1:1234" // as httptest.NewRequest, without its panics
	r.RequestURI = u.RequestURI()
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch sig {
	case V2:
		r.Header.Set("X-Plivo-Signature-V2", SignV2(authToken, u.String(), nonce))
		r.Header.Set("X-Plivo-Signature-Ma-V2", SignV2(mainToken, u.String(), nonce))
		r.Header.Set("X-Plivo-Signature-V2-Nonce", nonce)
	case V3:
		r.Header.Set("X-Plivo-Signature-V3", Sign(authToken, method, u.String(), nonce, flat))
		r.Header.Set("X-Plivo-Signature-Ma-V3", Sign(mainToken, method, u.String(), nonce, flat))
		r.Header.Set("X-Plivo-Signature-V3-Nonce", nonce)
	default:
		return nil, fmt.Errorf("plivotest: unknown signature family %d", sig)
	}
	r.Header.Set("User-Agent", "PlivoHTTP/1.0 (plivotest)")
	return r, nil
}

// AnswerParams returns the parameters Plivo posts to a call's answer URL.
func AnswerParams(c Call) url.Values {
	return url.Values{
		"CallUUID":        {c.CallUUID},
		"RequestUUID":     {c.RequestUUID},
		"ALegUUID":        {c.CallUUID},
		"ALegRequestUUID": {c.RequestUUID},
		"From":            {strings.TrimPrefix(c.From, "+")},
		"To":              {strings.TrimPrefix(c.To, "+")},
		"Direction":       {"outbound"},
		"CallStatus":      {"in-progress"},
		"Event":           {"StartApp"},
		"CallerName":      {"+" + strings.TrimPrefix(c.From, "+")},
		"SessionStart":    {time.Now().UTC().Format("2006-01-02 15:04:05.000000")},
	}
}

// AnswerRequest builds the signed request Plivo sends to c's answer URL
// when the callee picks up.
func AnswerRequest(c Call) (*http.Request, error) {
	return SignedRequest(c.AnswerMethod, c.AnswerURL, AnswerParams(c))
}

// StatusParams returns the parameters Plivo sends to a message's status
// URL for status ("queued", "sent", "delivered", "undelivered", "failed")
// and errorCode ("" for none).
func StatusParams(m Message, status, errorCode string) url.Values {
	v := url.Values{
		"MessageUUID":       {m.UUID},
		"ParentMessageUUID": {m.UUID},
		"To":                {strings.TrimPrefix(m.Dst, "+")},
		"From":              {strings.TrimPrefix(m.Src, "+")},
		"Type":              {"sms"},
		"Status":            {status},
		"Units":             {"1"},
		"TotalRate":         {"0.00500"},
		"TotalAmount":       {"0.00500"},
		"MCC":               {"310"},
		"MNC":               {"410"},
		"PartInfo":          {"1 of 1"},
		"Sequence":          {"1"},
		"MessageTime":       {time.Now().UTC().Format("2006-01-02 15:04:05.000000")},
	}
	if errorCode != "" {
		v.Set("ErrorCode", errorCode)
	}
	return v
}

// StatusRequest builds the status callback Plivo sends for m, signed as
// Plivo's messaging documentation says: X-Plivo-Signature-V2,
// X-Plivo-Signature-Ma-V2 and X-Plivo-Signature-V2-Nonce (AuthToken, a
// fresh nonce).
func StatusRequest(m Message, status, errorCode string) (*http.Request, error) {
	return StatusRequestAs(V2, m, status, errorCode)
}

// StatusRequestAs is StatusRequest signed with the headers of family sig.
func StatusRequestAs(sig Signature, m Message, status, errorCode string) (*http.Request, error) {
	if m.URL == "" {
		return nil, errors.New("plivotest: message has no status-callback URL")
	}
	return statusRequest(sig, m.Method, m.URL, StatusParams(m, status, errorCode))
}

// statusRequest signs a status callback to uri with a fresh nonce, by
// method (POST when empty).
func statusRequest(sig Signature, method, uri string, params url.Values) (*http.Request, error) {
	if method == "" {
		method = http.MethodPost
	}
	return SignedRequestAs(sig, AuthToken, AuthToken, Nonce(), method, uri, params)
}

// Answer is what an answer URL served; a plain value, safe to share.
type Answer struct {
	StatusCode int
	Body       string
	// Speak holds the text of each <Speak> element, in order.
	Speak []string
}

// Digits returns, for each <Speak> element made only of digits, spaces and
// punctuation, its digits: "1, 2, 3, 4, 5, 6." gives "123456".
func (a Answer) Digits() []string {
	var out []string
	for _, t := range a.Speak {
		var b strings.Builder
		only := true
		for _, r := range t {
			switch {
			case r >= '0' && r <= '9':
				b.WriteRune(r)
			case r == ' ' || r == ',' || r == '.' || r == '\n' || r == '\t':
			default:
				only = false
			}
		}
		if only && b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	return out
}

// PlayAnswer plays Plivo: it sends c's signed answer request to h (in
// process, no network) and returns what h served, with the <Speak> texts
// parsed out of a 200 answer.
func PlayAnswer(h http.Handler, c Call) (Answer, error) {
	r, err := AnswerRequest(c)
	if err != nil {
		return Answer{}, err
	}
	return Serve(h, r)
}

// Serve sends r to h in process and returns what h served, with the
// <Speak> texts parsed out of a 200 answer that has a body (a status
// callback's plain 200 is fine).
func Serve(h http.Handler, r *http.Request) (Answer, error) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := Answer{StatusCode: w.Code, Body: w.Body.String()}
	if w.Code != http.StatusOK || strings.TrimSpace(a.Body) == "" {
		return a, nil
	}
	var doc struct {
		XMLName xml.Name `xml:"Response"`
		Speak   []string `xml:"Speak"`
	}
	if err := xml.NewDecoder(bytes.NewReader(w.Body.Bytes())).Decode(&doc); err != nil {
		return a, fmt.Errorf("plivotest: answer is not Plivo XML: %w", err)
	}
	a.Speak = doc.Speak
	return a, nil
}
