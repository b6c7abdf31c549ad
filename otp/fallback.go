package otp

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
)

// Errors of Verifier.Fallback.
var (
	// ErrInvalidRef reports a reference that this Verifier did not make
	// (forged, altered, truncated, or made under another secret).
	ErrInvalidRef = errors.New("otp: invalid reference")
	// ErrNoSender reports a channel the Verifier's Sender does not serve
	// (see sender.Server).
	ErrNoSender = errors.New("otp: no sender for channel")
)

// EventFallback reports a code re-sent by Verifier.Fallback; the Event's
// Channel is the new channel.
const EventFallback EventKind = "fallback"

// FallbackStatus is the outcome of Verifier.Fallback.
type FallbackStatus string

// The outcomes of Verifier.Fallback.
const (
	// FallbackSent: the pending code was re-sent on the new channel.
	FallbackSent FallbackStatus = "sent"
	// FallbackNotPending: the code the reference names is no longer
	// pending (approved, expired, locked, withdrawn, or replaced by a newer
	// code). Nothing was sent.
	FallbackNotPending FallbackStatus = "not_pending"
	// FallbackSpent: the code already fell back once. Nothing was sent.
	FallbackSpent FallbackStatus = "spent"
)

// FallbackResult reports a Fallback.
type FallbackResult struct {
	Status FallbackStatus
	// Channel is the channel the code was re-sent on (FallbackSent).
	Channel sender.Channel
	// ExpiresIn is how long the code stays valid: the code's own expiry,
	// unchanged by the fallback (FallbackSent).
	ExpiresIn time.Duration
	// Remaining is the number of wrong guesses still allowed on the code
	// (FallbackSent); the fallback does not reset it.
	Remaining int
}

// Fallback re-sends the code pending for the verification that ref names
// on channel next: the same code, so the user's screen, the binding given
// to Start (WithBinding) and the code's expiry and wrong-guess count all
// stay as they are. ref is the Message.Ref the Sender was given for the
// code (a Plivo delivery report carries it back); Fallback needs neither the
// number nor the user's session, and ref reveals neither.
//
// A code falls back at most once per channel of Policy.FallbackChain,
// moving only forward along it, however many times and however
// concurrently Fallback is called for it (duplicate, replayed or
// concurrent delivery reports): for each channel one call is FallbackSent,
// the others FallbackSpent, and once the code has been re-sent on a
// channel, a fallback to that channel or an earlier one of the chain is
// FallbackSpent. A channel outside the chain counts as after its end. The
// re-sent message's Ref names the same code and the new channel, so that
// FallbackNext on its own report continues along the chain. The fallback
// is exempt from the cooldown (it restarts it), but it counts against the
// send window and failure caps of the client key the code was asked for
// with (WithLimitKey), the destination's send ceiling and the global
// budget like any send, and a refused fallback returns a *RateLimitError. Config.BeforeSend is consulted with the new channel.
// A failed send returns ErrSendFailed; the code stays valid (it was sent
// once already) and its fallback is spent.
//
// A transaction code (WithTransaction) is re-sent with its transaction:
// the SMS text or the call states the payment, as at Start. When the
// Sender cannot show the transaction on next (sender.CarriesTransaction),
// Fallback returns ErrTransactionUnsupported and sends nothing; the
// store has then already spent that channel's step.
//
// Errors: Policy.Fallback off (ErrInvalidConfig); a reference this
// Verifier did not make (ErrInvalidRef); a channel that is invalid, the
// channel the code was sent on (ErrInvalidChannel), not allowed by the
// Policy (ErrChannelNotAllowed) or not served by the Sender (ErrNoSender).
// Each is returned before the store is touched and nothing is sent.
func (v *Verifier) Fallback(ctx context.Context, ref string, next sender.Channel) (FallbackResult, error) {
	begin := v.begin()
	if !v.policy.Fallback {
		return FallbackResult{}, fmt.Errorf("%w: Policy.Fallback is off", ErrInvalidConfig)
	}
	r, ok := v.keys.parseRef(ref)
	if !ok {
		return FallbackResult{}, ErrInvalidRef
	}
	key, tag, from := r.key, r.tag, r.ch
	switch {
	case !next.Valid():
		return FallbackResult{}, fmt.Errorf("%w: %q (want %q, %q or %q)", ErrInvalidChannel, limitText(string(next)), sender.SMS, sender.Call, sender.WhatsApp)
	case next == from:
		return FallbackResult{}, fmt.Errorf("%w: the code was sent on %s already", ErrInvalidChannel, next)
	case !v.policy.allowsChannel(next):
		return FallbackResult{}, fmt.Errorf("%w: %s", ErrChannelNotAllowed, next)
	case !sender.Serves(v.send, next):
		return FallbackResult{}, fmt.Errorf("%w: %s", ErrNoSender, next)
	}
	p := v.policy
	req := store.FallbackRequest{
		Key: key, Scope: r.scope, Client: r.client, Tag: tag, Step: p.fallbackStep(next),
		SendWindow: p.SendWindow, SendsPerWindow: p.SendsPerWindow,
		MaxFailures: p.MaxFailures, FailureCeiling: p.FailureCeiling,
	}
	if p.Cooldown > 0 {
		req.Cooldown = p.Cooldown
	}
	var extra []LimitReason
	if p.GlobalSends > 0 {
		req.Limits = append(req.Limits, store.Limit{Key: "global", Max: p.GlobalSends, Window: p.GlobalWindow})
		extra = append(extra, LimitGlobal)
	}
	ev := Event{Channel: next}
	res, err := v.store.(store.FallbackStore).Fallback(ctx, req)
	if err != nil {
		ev.Kind, ev.Err = EventStoreError, err
		v.observe(ctx, begin, ev)
		return FallbackResult{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	switch res.Outcome {
	case store.FallbackNotPending:
		return FallbackResult{Status: FallbackNotPending}, nil
	case store.FallbackSpent:
		return FallbackResult{Status: FallbackSpent}, nil
	case store.FallbackLimited:
		rl := &RateLimitError{
			Reason:     reasonOf(store.IssueResult{Reason: res.Reason, LimitIndex: res.LimitIndex}, extra),
			RetryAfter: res.RetryAfter,
		}
		ev.Kind, ev.Limit, ev.RetryAfter = EventRateLimited, rl.Reason, rl.RetryAfter
		v.observe(ctx, begin, ev)
		return FallbackResult{}, rl
	case store.FallbackTaken:
	default:
		return FallbackResult{}, fmt.Errorf("%w: unknown fallback outcome %d", ErrStoreUnavailable, res.Outcome)
	}
	plain, err := v.keys.open(res.Sealed, key)
	sealed, okp := unpackSealed(plain)
	code, e164 := sealed.code, sealed.e164
	if err != nil || !okp || !validCode(code, p.CodeLength) ||
		subtle.ConstantTimeCompare([]byte(v.keys.storeKey(e164)), []byte(key)) != 1 {
		return FallbackResult{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, errSealed)
	}
	ev.Fingerprint, ev.Region = v.keys.fingerprint(e164), regionOf(e164)
	if sealed.txn != nil && !sender.CarriesTransaction(v.send, next) {
		// Start checked the first channel; a later one may not show the
		// payment, and the code is not sent without it.
		return FallbackResult{}, fmt.Errorf("%w: %s", ErrTransactionUnsupported, next)
	}
	if v.before != nil {
		num, err := ParseNumber(e164, "")
		if err == nil {
			err = v.before(ctx, SendRequest{Number: num, Channel: next})
		}
		if err != nil {
			ev.Kind, ev.Err = EventVetoed, err
			v.observe(ctx, begin, ev)
			return FallbackResult{}, fmt.Errorf("%w: %w", ErrVetoed, err)
		}
	}
	// The re-sent message names its own channel, so that a report that it
	// was not delivered either moves the code one step further along the
	// chain (FallbackNext).
	msg := sender.Message{To: e164, Channel: next, Code: code, Locale: sealed.locale, TTL: res.ExpiresIn, Ref: v.keys.makeRef(refParts{key: key, tag: tag, ch: next, scope: r.scope, client: r.client})}
	transactionMessage(&msg, sealed.txn)
	if err := v.send.Send(ctx, msg); err != nil {
		ev.Kind, ev.Err = EventSendFailed, err
		v.observe(ctx, begin, ev)
		return FallbackResult{}, fmt.Errorf("%w: %w", ErrSendFailed, err)
	}
	ev.Kind = EventFallback
	v.observe(ctx, begin, ev)
	return FallbackResult{
		Status:    FallbackSent,
		Channel:   next,
		ExpiresIn: res.ExpiresIn,
		Remaining: max(p.MaxAttempts-res.Attempts, 0),
	}, nil
}

// fallbackStoreOK reports whether s can do what p asks of it.
func fallbackStoreOK(s store.Store, p Policy) bool {
	if !p.Fallback {
		return true
	}
	if _, ok := s.(store.FallbackStore); !ok {
		return false
	}
	_, ok := s.(store.FallbackQueue)
	return ok || p.FallbackAfter <= 0
}

// The sealed payload: the code alone for KeepCode; with Policy.Fallback
// the code, number, channel and locale, and for a transaction code its
// amount, currency and payee, separated by 0 bytes (none of them can hold
// one: digits, E.164, a channel name, a BCP 47 tag, a normalized
// Transaction).
func (v *Verifier) sealedPayload(code, e164 string, ch sender.Channel, locale string, t *Transaction) string {
	if !v.policy.Fallback {
		return code
	}
	s := code + "\x00" + e164 + "\x00" + string(ch) + "\x00" + locale
	if t != nil {
		s += "\x00" + t.Amount + "\x00" + t.Currency + "\x00" + t.Payee
	}
	return s
}

// sealedCode returns the code of a sealed payload of either form.
func sealedCode(plain string) string {
	code, _, _ := strings.Cut(plain, "\x00")
	return code
}

// sealedFallback is what a fallback payload holds.
type sealedFallback struct {
	code, e164 string
	locale     string
	txn        *Transaction
}

func unpackSealed(plain string) (sealedFallback, bool) {
	parts := strings.Split(plain, "\x00")
	if len(parts) != 4 && len(parts) != 7 {
		return sealedFallback{}, false
	}
	e164, ok := canonical(parts[1])
	f := sealedFallback{code: parts[0], e164: e164, locale: parts[3]}
	if len(parts) == 7 {
		f.txn = &Transaction{Amount: parts[4], Currency: parts[5], Payee: parts[6]}
	}
	return f, ok
}

// fallbackTag is the tag of the code Start sends: the nonce that begins
// its Sealed value (the kept code's, when the store reused one).
func fallbackTag(sealed []byte, res store.IssueResult) []byte {
	if res.Outcome == store.Reused {
		sealed = res.Sealed
	}
	return sealed[:min(len(sealed), tagLen)]
}

// Reference layout: store key (16 bytes), tag (the 12-byte AES-GCM nonce
// of the code's seal, random per code), channel (1 byte); when the code
// has a Scope or a client key, a flags byte (bit 0: a 16-byte Scope
// follows, bit 1: the 16 bytes of a client key follow) and those parts;
// then the first 16 bytes of HMAC-SHA256(ref key, all the bytes before).
// Base64url: 60 characters, 62 with flags, plus 22 per part.
const (
	keyLen  = 16
	tagLen  = 12
	macLen  = 16
	partLen = 16
	refLen  = keyLen + tagLen + 1 + macLen
)

var channelByte = map[sender.Channel]byte{sender.SMS: 's', sender.Call: 'c', sender.WhatsApp: 'w'}

// fallbackStep is the store's Step for a fallback to next: its position in
// FallbackChain, from 1; a channel outside the chain comes after its end.
func (p Policy) fallbackStep(next sender.Channel) int {
	i := slices.Index(p.FallbackChain, next)
	if i < 0 {
		i = len(p.FallbackChain)
	}
	return min(i+1, store.MaxStep)
}

// refParts is what a reference names: the code (store key, scope, tag), the
// client key it was issued for and the channel it went on.
type refParts struct {
	key    string
	tag    []byte
	ch     sender.Channel
	scope  []byte // nil or partLen bytes
	client string // "" or a limitKey
}

const clientPrefix = "k-"

func (k *keyring) makeRef(r refParts) string {
	raw, err := base64.RawURLEncoding.DecodeString(r.key)
	if err != nil || len(raw) != keyLen || len(r.tag) != tagLen || (r.scope != nil && len(r.scope) != partLen) {
		return ""
	}
	var client []byte
	if r.client != "" {
		client, err = base64.RawURLEncoding.DecodeString(strings.TrimPrefix(r.client, clientPrefix))
		if err != nil || len(client) != partLen {
			return ""
		}
	}
	b := make([]byte, 0, refLen+1+2*partLen)
	b = append(b, raw...)
	b = append(b, r.tag...)
	b = append(b, channelByte[r.ch])
	if r.scope != nil || client != nil {
		var flags byte
		if r.scope != nil {
			flags |= 1
		}
		if client != nil {
			flags |= 2
		}
		b = append(b, flags)
		b = append(b, r.scope...)
		b = append(b, client...)
	}
	b = k.ref.sum(b, string(b))[:len(b)+macLen]
	return base64.RawURLEncoding.EncodeToString(b)
}

func (k *keyring) parseRef(s string) (r refParts, ok bool) {
	if len(s) > base64.RawURLEncoding.EncodedLen(refLen+1+2*partLen) {
		return refParts{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < refLen {
		return refParts{}, false
	}
	body, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	var buf [32]byte
	if !hmac.Equal(k.ref.sum(buf[:0], string(body))[:macLen], mac) {
		return refParts{}, false
	}
	for c, x := range channelByte {
		if body[keyLen+tagLen] == x {
			r.ch = c
		}
	}
	r.key = base64.RawURLEncoding.EncodeToString(body[:keyLen])
	r.tag = body[keyLen : keyLen+tagLen]
	rest := body[keyLen+tagLen+1:]
	if len(rest) == 0 {
		return r, true
	}
	flags, rest := rest[0], rest[1:]
	if flags&1 != 0 && len(rest) >= partLen {
		r.scope, rest = rest[:partLen], rest[partLen:]
	}
	if flags&2 != 0 && len(rest) >= partLen {
		r.client, rest = clientPrefix+base64.RawURLEncoding.EncodeToString(rest[:partLen]), rest[partLen:]
	}
	if flags&^3 != 0 || flags == 0 || len(rest) != 0 || (flags&1 != 0) != (r.scope != nil) || (flags&2 != 0) != (r.client != "") {
		return refParts{}, false
	}
	return r, true
}
