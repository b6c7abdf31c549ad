package main

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/store"
)

// pumpingObserver logs the pumping guard's decisions through log: which
// prefix, what rate, what baseline. Other events are not logged.
func pumpingObserver(log *slog.Logger) otp.Observer {
	inner := otp.SlogObserver(log)
	return otp.ObserverFunc(func(ctx context.Context, e otp.Event) {
		switch e.Kind {
		case otp.EventPumpingTripped, otp.EventPumpingThrottled, otp.EventPumpingRecovered:
			inner.Observe(ctx, e)
		}
	})
}

// minAdminToken is the shortest GO2FA_ADMIN_TOKEN accepted.
const minAdminToken = 16

// pumpingAdmin serves the guard's view of the prefixes this instance has
// judged (throttled first) as JSON, to requests bearing token.
func pumpingAdmin(v *otp.Verifier, token string) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="go2fa admin"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "admin token required")
			return
		}
		st := v.PumpingState()
		if st == nil {
			st = []otp.PrefixState{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"guard": !v.Policy().Pumping.Disabled, "prefixes": st})
	})
}

// AddCounts keeps the pumping guard's counters in the plain store, shared
// by every instance.
func (s splitStore) AddCounts(ctx context.Context, req store.CountRequest) (store.Counts, error) {
	return s.Store.AddCounts(ctx, req)
}
