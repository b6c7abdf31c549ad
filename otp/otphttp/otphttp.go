// Package otphttp serves a small JSON API over an otp.Verifier, for any
// service to mount on its own mux:
//
//	h, err := otphttp.New(v) // v is an *otp.Verifier
//	if err != nil {
//		return err // a bad option value (ErrInvalidConfig)
//	}
//	h.Register(mux) // or mux.Handle each of h.StartPath(), h.CheckPath() to h
//
// It answers two routes (the prefix "/api" can be changed with WithPrefix):
//
//	POST /api/verifications        {"to":"+14155550100","channel":"sms"}
//	  202 {"status":"pending","to":...,"channel":...,"expires_at":...,
//	       "expires_in":300,"resend_at":...,"resend_in":30,"remaining":5}
//	POST /api/verifications/check  {"to":"+14155550100","code":"123456"}
//	  200 {"status":"approved"}
//	  422 {"status":"rejected","remaining":4}
//	  404 {"status":"expired"}
//	  429 {"status":"locked"}
//
// Every error is a JSON object {"error":"...","code":"..."} whose code is a
// stable machine-readable name (see the Code constants): 400 for malformed
// input, 403 for a country, channel or costly number type that the policy
// refuses or a vetoed send, 404 for another path (ServeHTTP only; on a
// caller's mux other paths are the mux's), 405 (with Allow: POST) for a
// method other than POST, 415 for a body that is not application/json, 429
// (with Retry-After, in whole seconds rounded up) for a refused send, 502
// when the message could not be sent and 503 when the store is
// unavailable. A 5xx never describes the failure beyond its code;
// WithLogger receives the detail.
//
// The handler changes no state over GET, never puts a code in a URL or a
// reply, and marks every reply Cache-Control: no-store. Request bodies are
// limited (4 KiB by default) and unknown fields are refused.
//
// The caller's IP address is passed to Start and Check as
// otp.WithLimitKey, so one client can neither spend the whole send budget
// nor fill a number's failure cap for others; by default it is read from
// r.RemoteAddr, and a proxy header is trusted only when WithTrustedHeader
// names it (see ClientKey). IPv6 clients are keyed by their /64 network.
// WithClientKey replaces the key. A request for which no key can be derived
// (a unix-socket listener without a key function) is refused with 500
// client_key_unavailable, never served without the per-client budget.
// Checks are held to a per-client budget as well (WithCheckBudget,
// WithCheckLimiter; 429 rate_limited when spent), so one client cannot
// spray guesses across every number with a code pending. WithBinding binds
// codes to a session; a client outside a code's session then gets the same
// 404 whether or not a code is pending, and its checks cost the code
// nothing.
package otphttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
)

// DefaultMaxBodyBytes is the default limit on a request body.
const DefaultMaxBodyBytes = 4 << 10

// Machine-readable error codes, the "code" member of an error reply.
const (
	CodeInvalidJSON       = "invalid_json"            // malformed JSON, a wrong type or trailing data
	CodeUnknownField      = "unknown_field"           // a member the route does not take
	CodeBodyTooLarge      = "body_too_large"          // more than the body limit
	CodeUnsupportedMedia  = "unsupported_media_type"  // Content-Type is not application/json
	CodeMethodNotAllowed  = "method_not_allowed"      // not POST
	CodeNotFound          = "not_found"               // no such route
	CodeInvalidNumber     = "invalid_number"          // "to" is not a valid phone number
	CodeInvalidChannel    = "invalid_channel"         // "channel" is not "sms", "call" or "whatsapp"
	CodeInvalidCode       = "invalid_code"            // "code" is not digits of the configured length
	CodeInvalidRequest    = "invalid_request"         // another malformed request (an over-long binding)
	CodeCountryNotAllowed = "country_not_allowed"     // the policy refuses the number's country
	CodeChannelNotAllowed = "channel_not_allowed"     // the policy refuses the channel
	CodeNumberType        = "number_type_not_allowed" // a premium-rate, shared-cost, UAN, personal or pager number (otp.Policy.AllowNumberTypes)
	CodeVetoed            = "vetoed"                  // otp.Config.BeforeSend refused the send
	CodeRateLimited       = "rate_limited"            // a send limit; see Retry-After
	CodeSendFailed        = "send_failed"             // the message could not be sent
	CodeUnavailable       = "unavailable"             // the store is unavailable
	CodeNoClientKey       = "client_key_unavailable"  // no per-client limit key for the request: a configuration error (see ErrNoClientKey)
	CodeInternal          = "internal"                // anything else
	CodeRequestCancelled  = "request_cancelled"       // the client went away (status 499, never read)
)

// ErrInvalidConfig reports a Handler that New refuses: a nil Verifier or
// an option with a bad value. The error names the option.
var ErrInvalidConfig = errors.New("otphttp: invalid config")

// Option configures a Handler built by New. Options only record values;
// New checks them.
type Option func(*options)

// options holds what the Options recorded, before New checks it.
type options struct {
	prefix       string
	maxBody      int64
	trusted      string
	keyFunc      func(*http.Request) (string, error)
	checkN       int
	checkWindow  time.Duration
	budgetSet    bool
	checkLimiter CheckLimiter
	binding      func(*http.Request) string
	txn          func(*http.Request) (otp.Transaction, error)
	log          *slog.Logger
	nilArgs      []string // the options given a nil value
}

// nilArg records that the option named name was given a nil value.
func (o *options) nilArg(name string, isNil bool) {
	if isNil {
		o.nilArgs = append(o.nilArgs, name)
	}
}

// WithPrefix sets the path prefix of the routes: "/" and a path without a
// trailing slash ("/v1/otp"), or "/" alone for the routes /verifications
// and /verifications/check. A trailing slash is dropped. New refuses a
// prefix that does not start with "/", is not a clean path or holds a
// character the mux gives a meaning ("{", "}") or a URL would escape. The
// default value is "/api", giving /api/verifications and
// /api/verifications/check.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithMaxBodyBytes sets the largest accepted request body; New refuses
// n <= 0. The default value is DefaultMaxBodyBytes (4 KiB).
func WithMaxBodyBytes(n int64) Option {
	return func(o *options) { o.maxBody = n }
}

// WithTrustedHeader makes the handler read the client's IP address from
// the named request header ("X-Forwarded-For", "X-Real-IP" or the RFC 7239
// "Forwarded"): only the entry appended by the nearest proxy, as ClientKey
// describes. Use it only behind a proxy you control that sets or appends
// the header, or any client can choose its own limit key. Requests without
// an address in that entry fall back to r.RemoteAddr. New refuses an empty
// name.
func WithTrustedHeader(name string) Option {
	return func(o *options) {
		o.trusted = http.CanonicalHeaderKey(name)
		o.nilArg("WithTrustedHeader", name == "")
	}
}

// WithClientKey makes the handler take each request's per-client limit key
// from f (an account id, an API key, an address your proxy vouches for)
// instead of ClientKey. An error or an empty key refuses the request (500,
// client_key_unavailable); it is never served without a per-client budget.
// f must be safe for concurrent use; New refuses a nil f. The default value
// is ClientKey with the WithTrustedHeader header.
func WithClientKey(f func(*http.Request) (string, error)) Option {
	return func(o *options) {
		o.keyFunc = f
		o.nilArg("WithClientKey", f == nil)
	}
}

// WithBinding binds every code to the value f returns for the request,
// typically a session id (see otp.WithBinding): a code then checks only in
// the session that asked for it. An empty value means no binding. New
// refuses a nil f.
func WithBinding(f func(*http.Request) string) Option {
	return func(o *options) {
		o.binding = f
		o.nilArg("WithBinding", f == nil)
	}
}

// WithLogger logs the detail of every 5xx reply (a send or store failure)
// to l; the reply itself carries only the error code. New refuses a nil l.
// The default value logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		o.log = l
		o.nilArg("WithLogger", l == nil)
	}
}

// Handler serves the JSON API of a Verifier. Create it with New; it is safe
// for concurrent use.
type Handler struct {
	v       *otp.Verifier
	maxBody int64
	trusted string
	keyFunc func(*http.Request) (string, error)

	checkLimiter CheckLimiter
	binding      func(*http.Request) string
	txn          func(*http.Request) (otp.Transaction, error)
	log          *slog.Logger
	codeLen      int
	startURL     string
	checkURL     string
	mux          *http.ServeMux // the routes and a JSON 404 for any other path
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler serving v. It returns an error wrapping
// ErrInvalidConfig, naming the option, when v is nil or an option has a
// bad value.
func New(v *otp.Verifier, opts ...Option) (*Handler, error) {
	o := options{prefix: "/api", maxBody: DefaultMaxBodyBytes, checkN: DefaultCheckBudget, checkWindow: DefaultCheckWindow}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	bad := func(format string, a ...any) (*Handler, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	prefix, prefixOK := cleanPrefix(o.prefix)
	switch {
	case v == nil:
		return bad("nil Verifier")
	case len(o.nilArgs) > 0:
		return bad("%s: nil or empty value", o.nilArgs[0])
	case !prefixOK:
		return bad("WithPrefix: %q is not \"/\" or a clean path starting with / (letters, digits and -._~!$&'()*+,;=:@/ only)", o.prefix)
	case o.maxBody <= 0:
		return bad("WithMaxBodyBytes: %d is not positive", o.maxBody)
	case o.checkN <= 0 || o.checkWindow <= 0:
		return bad("WithCheckBudget: %d per %v is not a positive budget", o.checkN, o.checkWindow)
	case o.budgetSet && o.checkLimiter != nil:
		return bad("WithCheckBudget has no effect with WithCheckLimiter; give one of them")
	}
	h := &Handler{
		v:            v,
		maxBody:      o.maxBody,
		trusted:      o.trusted,
		keyFunc:      o.keyFunc,
		checkLimiter: o.checkLimiter,
		binding:      o.binding,
		txn:          o.txn,
		log:          o.log,
		codeLen:      v.Policy().CodeLength,
		startURL:     prefix + "/verifications",
		checkURL:     prefix + "/verifications/check",
		mux:          http.NewServeMux(),
	}
	if h.checkLimiter == nil {
		h.checkLimiter = newMemLimiter(o.checkN, o.checkWindow, time.Now)
	}
	h.Register(h.mux)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such route")
	})
	return h, nil
}

// cleanPrefix returns the WithPrefix value p without its trailing slash
// ("" for the root, "/") and whether it is valid: a clean absolute path
// of characters a URL path carries unescaped, other than the mux's
// wildcard braces.
func cleanPrefix(p string) (string, bool) {
	if p == "/" {
		return "", true
	}
	p = strings.TrimSuffix(p, "/")
	if p == "" || p == "/" || p[0] != '/' || path.Clean(p) != p {
		return "", false
	}
	for _, c := range []byte(p) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		default:
			return "", false
		}
	}
	return p, true
}

// StartPath returns the path of the start route ("/api/verifications").
func (h *Handler) StartPath() string { return h.startURL }

// CheckPath returns the path of the check route
// ("/api/verifications/check").
func (h *Handler) CheckPath() string { return h.checkURL }

// Register adds the handler's two routes to mux, by Go 1.22 method
// patterns: "POST " and each path for the route itself, and the bare path
// for every other method, which gets a JSON 405 with "Allow: POST". Other
// paths stay the mux's own (its plain-text 404 unless the caller
// registered something there). mux panics, as ServeMux.Handle does, if
// another handler already holds one of the patterns.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, route := range []struct {
		path string
		f    func(http.ResponseWriter, *http.Request)
	}{{h.startURL, h.start}, {h.checkURL, h.check}} {
		mux.HandleFunc(http.MethodPost+" "+route.path, func(w http.ResponseWriter, r *http.Request) {
			if !isJSON(r.Header.Get("Content-Type")) {
				writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send Content-Type: application/json")
				return
			}
			route.f(w, r)
		})
		mux.HandleFunc(route.path, methodNotAllowed)
	}
}

// methodNotAllowed answers a route's path requested with a method other
// than POST.
func methodNotAllowed(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use POST")
}

// ServeHTTP serves the two routes, as Register puts them on a mux, and a
// JSON 404 for any other path. The mux beneath it answers a path that is
// not clean ("/api//verifications", "/api/./verifications") with a
// redirect to the clean one and an empty body, as http.ServeMux does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func isJSON(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// StartRequest is the body of POST /api/verifications.
type StartRequest struct {
	// To is the phone number in international form ("+14155550100").
	To string `json:"to"`
	// Channel is "sms", "call" or "whatsapp" (when the Verifier's policy
	// allows it). The default value is "sms".
	Channel string `json:"channel,omitempty"`
}

// StartResponse is the 202 reply of POST /api/verifications.
type StartResponse struct {
	// Status is always "pending".
	Status otp.Status `json:"status"`
	// To is the number in E.164 form; send it back with the check.
	To string `json:"to"`
	// Channel is "sms", "call" or "whatsapp".
	Channel string `json:"channel"`
	// ExpiresAt is when the code stops being valid (RFC 3339, UTC, by the
	// server's clock, rounded down to the second).
	ExpiresAt time.Time `json:"expires_at"`
	// ExpiresIn is the code's lifetime left, in seconds (for clients whose
	// clock differs from the server's).
	ExpiresIn int `json:"expires_in"`
	// ResendAt is the earliest time a resend (or a switch to a call) is
	// accepted.
	ResendAt time.Time `json:"resend_at"`
	// ResendIn is the wait before a resend is accepted, in seconds.
	ResendIn int `json:"resend_in"`
	// Remaining is the number of wrong guesses the code still allows.
	Remaining int `json:"remaining"`
	// Transaction is the payment the code confirms (WithTransaction only).
	Transaction *TransactionInfo `json:"transaction,omitempty"`
}

// CheckRequest is the body of POST /api/verifications/check.
type CheckRequest struct {
	// To is the number the code was sent to.
	To string `json:"to"`
	// Code is the code the user typed.
	Code string `json:"code"`
}

// CheckResponse is the reply of POST /api/verifications/check.
type CheckResponse struct {
	// Status is "approved", "rejected", "expired" or "locked".
	Status otp.Status `json:"status"`
	// Remaining is the number of wrong guesses left, for "rejected" only.
	Remaining *int `json:"remaining,omitempty"`
}

// Error is the body of every error reply.
type Error struct {
	// Message says what was wrong, for people.
	Message string `json:"error"`
	// Code is one of the Code constants, for programs.
	Code string `json:"code"`
	// RetryAfter is the wait in seconds of a rate_limited reply.
	RetryAfter int `json:"retry_after,omitempty"`
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if !h.decode(w, r, &req) {
		return
	}
	ch := sender.SMS
	if req.Channel != "" {
		c, err := sender.ParseChannel(req.Channel)
		if err != nil {
			writeError(w, http.StatusBadRequest, CodeInvalidChannel, `channel must be "sms", "call" or "whatsapp"`)
			return
		}
		ch = c
	}
	key, err := h.clientKey(r)
	if err != nil {
		h.commonError(w, r, err)
		return
	}
	opts := make([]otp.StartOption, 0, 2)
	opts = append(opts, otp.WithLimitKey(key))
	if h.binding != nil {
		if b := h.binding(r); b != "" {
			opts = append(opts, otp.WithBinding(b))
		}
	}
	var txn *TransactionInfo
	if h.txn != nil {
		o, info, ok := h.transaction(w, r)
		if !ok {
			return
		}
		opts, txn = append(opts, o), info
	}
	res, err := h.v.Start(r.Context(), req.To, ch, opts...)
	if err != nil {
		h.startError(w, r, err)
		return
	}
	now := time.Now().UTC()
	out := StartResponse{
		Status:    res.Status,
		To:        res.To,
		Channel:   string(res.Channel),
		ExpiresAt: now.Add(res.ExpiresIn).Truncate(time.Second),
		ExpiresIn: ceilSeconds(res.ExpiresIn),
		ResendAt:  now.Add(res.ResendIn).Truncate(time.Second),
		ResendIn:  ceilSeconds(res.ResendIn),
		Remaining: res.Remaining,
	}
	out.Transaction = txn
	writeJSON(w, http.StatusAccepted, out)
}

func (h *Handler) startError(w http.ResponseWriter, r *http.Request, err error) {
	var rl *otp.RateLimitError
	switch {
	case errors.As(err, &rl):
		secs := max(ceilSeconds(rl.RetryAfter), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSONError(w, http.StatusTooManyRequests, Error{
			Message:    "too many codes requested; try again later",
			Code:       CodeRateLimited,
			RetryAfter: secs,
		})
	case errors.Is(err, otp.ErrInvalidNumber):
		writeError(w, http.StatusBadRequest, CodeInvalidNumber, "not a valid phone number; use the international form, e.g. +14155550100")
	case errors.Is(err, otp.ErrInvalidChannel):
		writeError(w, http.StatusBadRequest, CodeInvalidChannel, `channel must be "sms", "call" or "whatsapp"`)
	case errors.Is(err, otp.ErrCountryNotAllowed):
		writeError(w, http.StatusForbidden, CodeCountryNotAllowed, "codes cannot be sent to this country")
	case errors.Is(err, otp.ErrChannelNotAllowed):
		writeError(w, http.StatusForbidden, CodeChannelNotAllowed, "this channel is not available")
	case errors.Is(err, otp.ErrNumberTypeNotAllowed):
		writeError(w, http.StatusForbidden, CodeNumberType, "codes cannot be sent to premium-rate, shared-cost or other costly numbers; use a mobile number")
	case errors.Is(err, otp.ErrVetoed):
		writeError(w, http.StatusForbidden, CodeVetoed, "codes cannot be sent to this number")
	default:
		h.commonError(w, r, err)
	}
}

func (h *Handler) check(w http.ResponseWriter, r *http.Request) {
	var req CheckRequest
	if !h.decode(w, r, &req) {
		return
	}
	key, err := h.clientKey(r)
	if err != nil {
		h.commonError(w, r, err)
		return
	}
	ok, retry, err := h.checkLimiter.Allow(r.Context(), key)
	if err != nil {
		h.commonError(w, r, fmt.Errorf("%w: check limiter: %w", otp.ErrStoreUnavailable, err))
		return
	}
	if !ok {
		secs := max(ceilSeconds(retry), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSONError(w, http.StatusTooManyRequests, Error{
			Message:    "too many checks; try again later",
			Code:       CodeRateLimited,
			RetryAfter: secs,
		})
		return
	}
	// The client key goes with the check too: the failure caps are kept
	// per client key, so other clients' wrong guesses do not refuse this one.
	opts := []otp.CheckOption{otp.WithLimitKey(key)}
	if h.binding != nil {
		if b := h.binding(r); b != "" {
			opts = append(opts, otp.WithBinding(b))
		}
	}
	if h.txn != nil {
		o, _, ok := h.transaction(w, r)
		if !ok {
			return
		}
		opts = append(opts, o)
	}
	res, err := h.v.Check(r.Context(), req.To, req.Code, opts...)
	if err != nil {
		switch {
		case errors.Is(err, otp.ErrInvalidCode):
			writeError(w, http.StatusBadRequest, CodeInvalidCode, fmt.Sprintf("the code must be %d digits", h.codeLen))
		case errors.Is(err, otp.ErrInvalidNumber):
			writeError(w, http.StatusBadRequest, CodeInvalidNumber, "not a valid phone number; use the international form, e.g. +14155550100")
		default:
			h.commonError(w, r, err)
		}
		return
	}
	switch res.Status {
	case otp.Approved:
		writeBody(w, http.StatusOK, bodyApproved)
	case otp.Rejected:
		n := res.Remaining
		writeJSON(w, http.StatusUnprocessableEntity, CheckResponse{Status: otp.Rejected, Remaining: &n})
	case otp.Expired:
		writeBody(w, http.StatusNotFound, bodyExpired)
	case otp.Locked:
		writeBody(w, http.StatusTooManyRequests, bodyLocked)
	default:
		h.commonError(w, r, fmt.Errorf("otphttp: unexpected status %q", res.Status))
	}
}

// commonError answers the errors both routes share. Failures of the server
// side are logged, not described.
func (h *Handler) commonError(w http.ResponseWriter, r *http.Request, err error) {
	if transactionError(w, err) {
		return
	}
	switch {
	case errors.Is(err, otp.ErrInvalidOption):
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "invalid request")
		return
	case r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// The client went away; nobody reads this reply, and it is not a
		// server fault.
		writeError(w, 499, CodeRequestCancelled, "request cancelled")
		return
	}
	status, code, msg := http.StatusInternalServerError, CodeInternal, "internal error"
	switch {
	case errors.Is(err, otp.ErrSendFailed):
		status, code, msg = http.StatusBadGateway, CodeSendFailed, "the code could not be sent; try again or use another channel"
	case errors.Is(err, otp.ErrStoreUnavailable):
		status, code, msg = http.StatusServiceUnavailable, CodeUnavailable, "service unavailable; try again later"
	case errors.Is(err, ErrNoClientKey):
		code, msg = CodeNoClientKey, "the server cannot identify clients; it is misconfigured"
	}
	if h.log != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "otphttp: request failed",
			slog.String("path", r.URL.Path), slog.Int("status", status), slog.String("error", err.Error()))
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, status, code, msg)
}

// decode reads one JSON object into dst, answering 400 itself on failure.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		// Exactly one value: anything but white space after it is an error.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailing
		}
	}
	if err == nil {
		return true
	}
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		writeError(w, http.StatusBadRequest, CodeBodyTooLarge, fmt.Sprintf("request body larger than %d bytes", h.maxBody))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		writeError(w, http.StatusBadRequest, CodeUnknownField, "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, errTrailing):
		writeError(w, http.StatusBadRequest, CodeInvalidJSON, "the body must hold exactly one JSON object")
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, CodeInvalidJSON, "empty body; send a JSON object")
	default:
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			writeError(w, http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("%q must be a string", typeErr.Field))
			return false
		}
		writeError(w, http.StatusBadRequest, CodeInvalidJSON, "malformed JSON")
	}
	return false
}

var errTrailing = errors.New("otphttp: trailing data after the JSON object")

// clientKey returns the limit key of the request's client, from the key
// function if one is set.
func (h *Handler) clientKey(r *http.Request) (string, error) {
	if h.keyFunc != nil {
		k, err := h.keyFunc(r)
		if err == nil && k == "" {
			err = ErrNoClientKey
		}
		if err != nil {
			return "", fmt.Errorf("%w: key function: %w", ErrNoClientKey, err)
		}
		return k, nil
	}
	return ClientKey(r, h.trusted)
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	s := math.Ceil(d.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

// Header values shared by every reply; the keys are already canonical, so
// they are assigned without Header.Set's canonicalisation.
var (
	hdrJSON    = []string{"application/json; charset=utf-8"}
	hdrNoStore = []string{"no-store"}
	hdrNosniff = []string{"nosniff"}
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // not reachable with this package's types
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error","code":"internal"}`)
	}
	writeBody(w, status, append(b, '\n'))
}

// writeBody writes a complete JSON reply; body ends with a newline.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["Cache-Control"] = hdrNoStore
	hd["X-Content-Type-Options"] = hdrNosniff
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body) // the status is sent; a failed write means the client went away
}

// The check replies without variable parts, rendered once.
var (
	bodyApproved = []byte(`{"status":"approved"}` + "\n")
	bodyExpired  = []byte(`{"status":"expired"}` + "\n")
	bodyLocked   = []byte(`{"status":"locked"}` + "\n")
)

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSONError(w, status, Error{Message: msg, Code: code})
}

func writeJSONError(w http.ResponseWriter, status int, e Error) {
	writeJSON(w, status, e)
}
