package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go2fa/go2fa/otp/recovery"
	"github.com/go2fa/go2fa/otp/totp"
)

// The TOTP tab's API, kept in the demo because enrollment belongs to an
// application's user records, not to a library:
//
//	POST /api/totp/enroll  {}                                  -> 201 {"enrollment","account","uri","secret","qr"}
//	POST /api/totp/verify  {"enrollment":"...","code":"123456"} -> 200 approved | 422 rejected | 409 replayed | 429 locked | 404 unknown
//
// Enrolled keys live in memory for enrollTTL; a real application keeps them
// encrypted with its user records.
const (
	enrollTTL        = 15 * time.Minute
	maxEnrollments   = 10_000
	totpIssuer       = "go2fa demo"
	totpMaxBodyBytes = 1 << 10
	qrSize           = 240
)

type enrollment struct {
	key       totp.Key
	expires   time.Time
	confirmed bool // a code was approved; recovery codes were issued
}

type totpDemo struct {
	v        *totp.Validator
	recovery *recovery.Manager // nil: no recovery codes
	now      func() time.Time
	log      *slog.Logger

	mu   sync.Mutex
	keys map[string]enrollment
}

func newTOTPDemo(v *totp.Validator, now func() time.Time, log *slog.Logger) *totpDemo {
	return &totpDemo{v: v, now: now, log: log, keys: make(map[string]enrollment)}
}

func (d *totpDemo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var f func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case "/api/totp/enroll":
		f = d.enroll
	case "/api/totp/verify":
		f = d.verify
	case "/api/totp/recover":
		f = d.recover
	default:
		writeError(w, http.StatusNotFound, "not_found", "no such route")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
		return
	}
	f(w, r)
}

func (d *totpDemo) enroll(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !decodeJSON(w, r, &req) {
		return
	}
	id := newSessionID()
	key, err := totp.Generate(totpIssuer, "demo-"+id[:6]+"@example.com")
	var png []byte
	if err == nil {
		png, err = key.QRPNG(qrSize)
	}
	if err == nil {
		d.put(id, key)
	}
	if err != nil {
		d.log.Error("webdemo: totp enroll", "error", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "could not create a key; try again")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{
		"enrollment": id,
		"account":    key.Account,
		"uri":        key.URI(),
		"secret":     key.Base32(),
		"qr":         "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
	})
}

func (d *totpDemo) put(id string, k totp.Key) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.keys) >= maxEnrollments {
		for id, e := range d.keys {
			if now.After(e.expires) {
				delete(d.keys, id)
			}
		}
		// Still full: forget one enrollment at random (map order), so a
		// flood of enrollments evicts instead of refusing everyone.
		for id := range d.keys {
			if len(d.keys) < maxEnrollments {
				break
			}
			delete(d.keys, id)
		}
	}
	d.keys[id] = enrollment{key: k, expires: now.Add(enrollTTL)}
}

func (d *totpDemo) get(id string) (totp.Key, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.keys[id]
	if !ok || d.now().After(e.expires) {
		return totp.Key{}, false
	}
	return e.key, true
}

func (d *totpDemo) verify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enrollment string `json:"enrollment"`
		Code       string `json:"code"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	key, ok := d.get(req.Enrollment)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"status": "unknown", "error": "no such enrollment; create a new key", "code": "unknown_enrollment"})
		return
	}
	res, err := d.v.Validate(r.Context(), "demo:"+req.Enrollment, key, req.Code)
	switch {
	case errors.Is(err, totp.ErrInvalidCode):
		writeError(w, http.StatusBadRequest, "invalid_code", "the code must be 6 digits")
		return
	case err != nil:
		d.log.Error("webdemo: totp verify", "error", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "service unavailable; try again later")
		return
	}
	switch res.Status {
	case totp.Approved:
		reply := map[string]any{"status": "approved"}
		if codes := d.issueRecoveryCodes(r.Context(), req.Enrollment); codes != nil {
			reply["recovery_codes"] = codes
		}
		writeJSON(w, http.StatusOK, reply)
	case totp.Rejected:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "rejected", "remaining": res.Remaining})
	case totp.Replayed:
		writeJSON(w, http.StatusConflict, map[string]any{"status": "replayed", "remaining": res.Remaining})
	default:
		secs := int((res.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "locked"})
	}
}

// decodeJSON reads exactly one JSON object with no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, totpMaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			writeError(w, http.StatusBadRequest, "body_too_large", "request body too large")
		} else {
			writeError(w, http.StatusBadRequest, "invalid_json", "malformed JSON")
		}
		return false
	}
	return true
}
