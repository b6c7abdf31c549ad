package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/sender"
)

// fallbackHub turns Plivo's "undelivered" reports into a voice call that
// speaks the same code (otp.Verifier.FallbackNext), and tells the browser
// that asked for the SMS (GET /api/fallback) that it is being called. It
// is safe for concurrent use.
//
// What it keeps, in this process's memory only, for at most a code's
// lifetime: for each SMS sent, its reference (opaque: no number, no code)
// and the session id of the browser that asked for it. The code itself is
// kept sealed by the Verifier's store (Policy.Fallback), not here.
type fallbackHub struct {
	v   atomic.Pointer[otp.Verifier]
	log *slog.Logger

	mu       sync.Mutex
	refs     map[string]*smsNote // reference -> note
	sessions map[string]string   // session -> reference of its latest SMS
}

type smsNote struct {
	session string
	calling bool
	exp     time.Time
}

// maxNotes bounds the notes the hub keeps; beyond it an SMS is sent
// without a note (its fallback then waits for Delivery.Ref).
const maxNotes = 100_000

func newFallbackHub(log *slog.Logger) *fallbackHub {
	return &fallbackHub{log: log, refs: map[string]*smsNote{}, sessions: map[string]string{}}
}

// sessionKey carries the browser's session id to the Sender in the
// context of the API request that started the verification.
type sessionKey struct{}

// withSession puts the session cookie's value in the request's context.
func withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil && len(c.Value) <= 64 {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, c.Value))
		}
		next.ServeHTTP(w, r)
	})
}

// wrap returns s, noting every SMS it sends.
func (h *fallbackHub) wrap(s sender.Sender) sender.Sender {
	return noteSender{s: s, h: h}
}

type noteSender struct {
	s sender.Sender
	h *fallbackHub
}

func (n noteSender) Serves(c sender.Channel) bool { return sender.Serves(n.s, c) }

func (n noteSender) Send(ctx context.Context, m sender.Message) error {
	if err := n.s.Send(ctx, m); err != nil {
		return err
	}
	if m.Channel == sender.SMS && m.Ref != "" {
		session, _ := ctx.Value(sessionKey{}).(string)
		n.h.note(m.Ref, session, m.TTL)
	}
	return nil
}

func (h *fallbackHub) note(ref, session string, ttl time.Duration) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.refs) >= maxNotes {
		for r, n := range h.refs {
			if now.After(n.exp) {
				h.forget(r, n)
			}
		}
		if len(h.refs) >= maxNotes {
			return
		}
	}
	if old, ok := h.refs[ref]; ok {
		h.forget(ref, old)
	}
	h.refs[ref] = &smsNote{session: session, exp: now.Add(ttl)}
	if session != "" {
		h.sessions[session] = ref
	}
}

func (h *fallbackHub) forget(ref string, n *smsNote) {
	delete(h.refs, ref)
	if h.sessions[n.session] == ref {
		delete(h.sessions, n.session)
	}
}

// undelivered is the SMS sender's OnFailure: it falls back to a call with
// the same code. The Verifier makes it happen at most once per code,
// whatever the number of reports; a code already approved, expired or
// locked is not called.
func (h *fallbackHub) undelivered(ctx context.Context, d plivoadapter.Delivery) {
	v := h.v.Load()
	ref := d.Ref
	if v == nil || ref == "" {
		h.log.Warn("webdemo: sms not delivered; no verification to fall back from", "delivery", d)
		return
	}
	res, err := v.FallbackNext(context.WithoutCancel(ctx), ref)
	if err != nil {
		h.log.Warn("webdemo: fallback failed", "delivery", d, "err", err)
		return
	}
	h.log.Info("webdemo: sms not delivered", "delivery", d, "fallback", res.Status)
	if res.Status == otp.FallbackSent {
		h.mu.Lock()
		if n, ok := h.refs[ref]; ok {
			n.calling = true
		}
		h.mu.Unlock()
	}
}

// serveNotice answers GET /api/fallback with the fallback of the session's
// latest SMS: {"fallback":"call"} once it is being called, else
// {"fallback":""}.
func (h *fallbackHub) serveNotice(w http.ResponseWriter, r *http.Request) {
	out := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.mu.Lock()
		if n, ok := h.refs[h.sessions[c.Value]]; ok && n.calling && time.Now().Before(n.exp) {
			out = string(sender.Call)
		}
		h.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]string{"fallback": out})
}
