package main

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otphttp"
	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
)

//go:embed static
var staticFiles embed.FS

// appConfig is what newApp needs; main fills it from the environment and
// tests fill it with a memory store and a sendertest.Recorder.
type appConfig struct {
	Store  store.Store
	Sender sender.Sender
	Secret []byte
	// Policy is the verification policy; the zero value is the default.
	Policy otp.Policy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Mounts are extra handlers by mux pattern, such as Plivo's answer and
	// status callbacks.
	Mounts map[string]http.Handler
	// TrustedHeader, when set, names the proxy header that carries the
	// client's IP (otphttp.WithTrustedHeader).
	TrustedHeader string
	// CheckBudget is the checks one client may make per
	// otphttp.DefaultCheckWindow (otphttp.WithCheckBudget). The default
	// value, 0, is otphttp.DefaultCheckBudget.
	CheckBudget int
	// Logger receives server-side failures; nil discards them.
	Logger *slog.Logger
	// Fallback, when set, falls back from an undelivered SMS to a call
	// with the same code (Policy.Fallback is turned on) and serves GET
	// /api/fallback for the page.
	Fallback *fallbackHub
	// SecureCookie marks the session cookie Secure on every reply, also to
	// requests that reach the app over plain HTTP from a TLS-terminating
	// proxy (main sets it when PUBLIC_URL is https). Requests that came over
	// TLS always get a Secure cookie. The default value is false.
	SecureCookie bool
	// AdminToken, when set (GO2FA_ADMIN_TOKEN, at least 16 bytes), serves
	// the pumping guard's state at GET /api/admin/pumping to requests with
	// "Authorization: Bearer <token>". The default value serves nothing;
	// the guard's decisions are logged either way.
	AdminToken string
}

// sessionCookie names the cookie that binds codes to one browser.
const sessionCookie = "go2fa_session"

// contentSecurityPolicy allows nothing but this origin's own script, style
// and API, and data: images (the TOTP QR code).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// newApp builds the demo's HTTP handler: the page, its assets, the JSON
// API of package otphttp, the TOTP demo API and cfg.Mounts.
func newApp(cfg appConfig) (http.Handler, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	send, policy := cfg.Sender, cfg.Policy
	if cfg.Fallback != nil {
		send, policy.Fallback = cfg.Fallback.wrap(send), true
		if len(policy.FallbackChain) == 0 && slices.Contains(policy.Channels, sender.WhatsApp) {
			// A WhatsApp message that fails falls back to SMS, then to a call.
			policy.FallbackChain = []sender.Channel{sender.WhatsApp, sender.SMS, sender.Call}
		}
	}
	v, err := otp.NewVerifier(otp.Config{
		Store:    cfg.Store,
		Sender:   send,
		Secret:   cfg.Secret,
		Policy:   policy,
		Now:      now,
		Observer: pumpingObserver(log),
	})
	if err != nil {
		return nil, err
	}
	if cfg.Fallback != nil {
		cfg.Fallback.v.Store(v)
	}
	opts := []otphttp.Option{
		otphttp.WithLogger(log),
		otphttp.WithBinding(func(r *http.Request) string {
			if c, err := r.Cookie(sessionCookie); err == nil && len(c.Value) <= 64 {
				return c.Value
			}
			return ""
		}),
	}
	if cfg.TrustedHeader != "" {
		opts = append(opts, otphttp.WithTrustedHeader(cfg.TrustedHeader))
	}
	if cfg.CheckBudget > 0 {
		opts = append(opts, otphttp.WithCheckBudget(cfg.CheckBudget, otphttp.DefaultCheckWindow))
	}
	api, err := otphttp.New(v, opts...)
	if err != nil {
		return nil, err
	}

	tv, err := totp.NewValidator(totp.Config{Store: cfg.Store, Now: now, KeySecret: cfg.Secret})
	if err != nil {
		return nil, err
	}
	td := newTOTPDemo(tv, now, log)
	if td.recovery, err = newRecovery(cfg.Store, cfg.Secret); err != nil {
		return nil, err
	}
	pd := newPaymentsDemo(now)
	pay, err := otphttp.New(v, append(opts, otphttp.WithPrefix("/api/payments"), otphttp.WithTransaction(pd.pending))...)
	if err != nil {
		return nil, err
	}

	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	if cfg.Fallback != nil {
		// The start route sets the session cookie first.
		mux.Handle(api.StartPath(), withSession(api))
		mux.Handle(api.CheckPath(), api)
		mux.HandleFunc("GET /api/fallback", cfg.Fallback.serveNotice)
	} else {
		api.Register(mux)
	}
	mux.Handle("/api/totp/", td)
	pay.Register(mux)
	mux.HandleFunc("/api/payments/new", pd.create)
	channels := v.Policy().Channels
	mux.HandleFunc("/api/config", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"channels":    channels,
			"code_length": v.Policy().CodeLength,
			"ttl":         int(v.Policy().TTL / time.Second),
			"fallback":    cfg.Fallback != nil,
		})
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(sessionCookie); err != nil {
			http.SetCookie(w, &http.Cookie{
				Name: sessionCookie, Value: newSessionID(), Path: "/api/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || cfg.SecureCookie,
			})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(index) // a failed write means the client went away
	})
	if cfg.AdminToken != "" {
		if len(cfg.AdminToken) < minAdminToken {
			return nil, fmt.Errorf("webdemo: GO2FA_ADMIN_TOKEN must be at least %d bytes", minAdminToken)
		}
		mux.Handle("GET /api/admin/pumping", pumpingAdmin(v, cfg.AdminToken))
	}
	for pattern, h := range cfg.Mounts {
		mux.Handle(pattern, h)
	}
	return securityHeaders(mux), nil
}

// securityHeaders sets the headers every reply carries.
func securityHeaders(next http.Handler) http.Handler {
	csp := []string{contentSecurityPolicy}
	nosniff := []string{"nosniff"}
	noRef := []string{"no-referrer"}
	deny := []string{"DENY"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = csp
		h["X-Content-Type-Options"] = nosniff
		h["Referrer-Policy"] = noRef
		h["X-Frame-Options"] = deny
		next.ServeHTTP(w, r)
	})
}

func newSessionID() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent; a failed write means the client went away
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}

// errNoSecret is returned by parseSecret for a value that decodes to too
// few bytes.
var errNoSecret = errors.New("webdemo: GO2FA_SECRET must decode (hex or base64) to at least 32 bytes")
