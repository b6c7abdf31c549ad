package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go2fa/go2fa/otp/recovery"
	"github.com/go2fa/go2fa/store"
)

// Recovery codes in the TOTP tab: the first code an authenticator app gets
// approved completes the enrollment, and the reply carries a fresh set of
// recovery codes, shown once:
//
//	POST /api/totp/verify   ... -> 200 {"status":"approved","recovery_codes":["xxxxx-xxxxx", ...]}
//	POST /api/totp/recover  {"enrollment":"...","code":"xxxxx-xxxxx"}
//	  -> 200 {"status":"approved","left":9} | 422 rejected | 429 locked | 404 unknown
//
// The codes live in the demo's Store (memory or Redis) as HMACs only.

// newRecovery returns a recovery-code manager on st, or nil when st cannot
// keep code sets.
func newRecovery(st store.Store, secret []byte) (*recovery.Manager, error) {
	cs, ok := st.(store.CodeSets)
	if !ok {
		return nil, nil
	}
	return recovery.New(recovery.Config{Store: cs, Secret: secret, Lifetime: enrollTTL})
}

// recoveryAccount is the recovery account of one enrollment.
func recoveryAccount(enrollment string) string { return "demo:" + enrollment }

// issueRecoveryCodes makes the enrollment's recovery codes the first time
// one of its TOTP codes is approved; nil afterwards (they are shown once).
func (d *totpDemo) issueRecoveryCodes(ctx context.Context, enrollment string) []string {
	if d.recovery == nil || !d.confirm(enrollment) {
		return nil
	}
	codes, err := d.recovery.Generate(ctx, recoveryAccount(enrollment))
	if err != nil {
		d.log.Error("webdemo: recovery codes", "error", err)
		return nil
	}
	return codes
}

// confirm marks the enrollment confirmed and reports whether it was not
// before.
func (d *totpDemo) confirm(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.keys[id]
	if !ok || e.confirmed {
		return false
	}
	e.confirmed = true
	d.keys[id] = e
	return true
}

func (d *totpDemo) recover(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enrollment string `json:"enrollment"`
		Code       string `json:"code"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if _, ok := d.get(req.Enrollment); !ok || d.recovery == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"status": "unknown", "error": "no such enrollment; create a new key", "code": "unknown_enrollment"})
		return
	}
	res, err := d.recovery.Redeem(r.Context(), recoveryAccount(req.Enrollment), req.Code)
	switch {
	case errors.Is(err, recovery.ErrInvalidCode):
		writeError(w, http.StatusBadRequest, "invalid_code", "a recovery code is 10 letters and digits, like abcde-12345")
		return
	case err != nil:
		d.log.Error("webdemo: recovery redeem", "error", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "service unavailable; try again later")
		return
	}
	switch res.Status {
	case recovery.Approved:
		writeJSON(w, http.StatusOK, map[string]any{"status": "approved", "left": res.Left})
	case recovery.Rejected:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "rejected", "remaining": res.Remaining})
	default:
		secs := int((res.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "locked"})
	}
}

// The Redis store of the demo splits Check and Attempt off to a pipelined
// client; code sets go to the plain one.

func (s splitStore) ReplaceCodes(ctx context.Context, req store.ReplaceCodesRequest) error {
	return s.Store.ReplaceCodes(ctx, req)
}

func (s splitStore) RedeemCode(ctx context.Context, req store.RedeemCodeRequest) (store.RedeemCodeResult, error) {
	return s.Store.RedeemCode(ctx, req)
}

func (s splitStore) CountCodes(ctx context.Context, key string) (int, error) {
	return s.Store.CountCodes(ctx, key)
}
