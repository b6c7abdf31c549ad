package otp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
	"github.com/nyaruka/phonenumbers"
)

// Config configures a Verifier. Store, Sender and Secret are required; every
// other field has a safe default.
type Config struct {
	// Store keeps pending codes and counters. Required.
	Store store.Store
	// Sender delivers codes. Required.
	Sender sender.Sender
	// Secret keys every HMAC and the encryption of kept codes. At least 32
	// bytes from a cryptographic source; keep it stable across restarts and
	// identical across instances sharing a Store. Required.
	Secret []byte
	// Policy holds the rules. The default value is DefaultPolicy().
	Policy Policy
	// Generator makes codes. The default value is NumericGenerator{}
	// (crypto/rand).
	Generator Generator
	// DefaultRegion is the ISO 3166-1 alpha-2 region used to read numbers
	// written without a leading "+". The default value, empty, refuses them.
	DefaultRegion string
	// BeforeSend, if set, is called once the number, channel and limits
	// have let a send through and before any message is sent; a non-nil
	// error vetoes the send (Start returns it wrapped in ErrVetoed) and the
	// new code is withdrawn. The send still counts against the limits, so
	// the limits also bound the hook's calls. Use it to refuse VoIP or
	// landline numbers for SMS, or to run a SIM-swap check. Test numbers
	// skip it.
	BeforeSend func(ctx context.Context, r SendRequest) error
	// Observer receives every outcome. The default value observes nothing.
	Observer Observer
	// TestNumbers maps E.164 numbers to fixed codes for end-to-end tests of
	// an application: Start sends nothing and charges no limit for them;
	// Check treats them like any other. Refused unless AllowTestNumbers is
	// set. The default value is none.
	TestNumbers map[string]string
	// AllowTestNumbers must be true for TestNumbers to be accepted, so test
	// numbers cannot reach production by accident.
	AllowTestNumbers bool
	// Now is the clock used for the times in results. The default value is
	// time.Now.
	Now func() time.Time
}

// SendRequest describes a send for Config.BeforeSend.
type SendRequest struct {
	Number  Number
	Channel sender.Channel
	// LimitKey is the per-call limit key given with WithLimitKey, if any.
	LimitKey string
}

// Verifier starts and checks verifications. It is safe for concurrent use.
type Verifier struct {
	store    store.Store
	send     sender.Sender
	gen      Generator
	keys     *keyring
	policy   Policy
	region   string
	before   func(context.Context, SendRequest) error
	observer Observer
	tests    map[string]string
	now      func() time.Time
}

// NewVerifier validates cfg and returns a Verifier. Errors wrap
// ErrInvalidConfig.
func NewVerifier(cfg Config) (*Verifier, error) {
	bad := func(format string, a ...any) (*Verifier, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	switch {
	case cfg.Store == nil:
		return bad("Store is required")
	case cfg.Sender == nil:
		return bad("Sender is required")
	case len(cfg.Secret) < MinSecretLen:
		return bad("Secret must be at least %d bytes, got %d", MinSecretLen, len(cfg.Secret))
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	p := cfg.Policy.withDefaults()
	region := strings.ToUpper(cfg.DefaultRegion)
	if region != "" {
		if !phonenumbers.GetSupportedRegions()[region] {
			return bad("unknown DefaultRegion %q", limitText(cfg.DefaultRegion))
		}
	}
	if len(cfg.TestNumbers) > 0 && !cfg.AllowTestNumbers {
		return bad("TestNumbers are set but AllowTestNumbers is false")
	}
	tests := make(map[string]string, len(cfg.TestNumbers))
	for n, code := range cfg.TestNumbers {
		num, err := ParseNumber(n, region)
		if err != nil {
			return bad("test number: %v", err)
		}
		if !validCode(code, p.CodeLength) {
			return bad("test number %s: code must be %d digits", sender.MaskNumber(num.E164), p.CodeLength)
		}
		tests[num.E164] = code
	}
	keys, err := newKeyring(cfg.Secret)
	if err != nil {
		return bad("secret: %v", err)
	}
	v := &Verifier{
		store:    cfg.Store,
		send:     cfg.Sender,
		gen:      cfg.Generator,
		keys:     keys,
		policy:   p,
		region:   region,
		before:   cfg.BeforeSend,
		observer: cfg.Observer,
		tests:    tests,
		now:      cfg.Now,
	}
	if v.gen == nil {
		v.gen = NumericGenerator{}
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Policy returns the Verifier's rules, with defaults filled in.
func (v *Verifier) Policy() Policy { return v.policy }

// Status is the state of a verification.
type Status string

// The states of a verification.
const (
	Pending  Status = "pending"  // a code was sent and awaits checking
	Approved Status = "approved" // the code was correct; it is consumed
	Rejected Status = "rejected" // the code was wrong; guesses remain
	Expired  Status = "expired"  // no code is pending (never sent, expired, used or withdrawn)
	Locked   Status = "locked"   // the guesses are used up; the code is gone
)

// StartResult reports a started verification.
type StartResult struct {
	Status Status // Pending
	// To is the destination in E.164 form; pass it to Check.
	To      string
	Region  string
	Channel sender.Channel
	// ExpiresAt is when the code stops being valid.
	ExpiresAt time.Time
	// ResendAt is the earliest time a resend will be accepted (the cooldown).
	ResendAt time.Time
	// Remaining is the number of wrong guesses still allowed on the code
	// (fewer than MaxAttempts after a resend). It does not count the
	// destination's failure cap (Policy.MaxFailures), which a Check's
	// Remaining does.
	Remaining int
	// Reused is true when Policy.KeepCode re-sent the pending code.
	Reused bool
}

// CheckResult reports a checked code.
type CheckResult struct {
	// Status is Approved, Rejected, Expired or Locked.
	Status Status
	// To is the destination in E.164 form.
	To string
	// Remaining is the number of wrong guesses still allowed (Rejected).
	Remaining int
}

// Option modifies one Start or Check call.
type Option func(*callOptions)

type callOptions struct {
	binding  string
	limitKey string
	locale   string
	err      error
}

// Longest accepted option values, in bytes.
const (
	MaxBindingLen  = 256
	MaxLimitKeyLen = 256
)

// WithBinding binds the code to a value (a session id): it enters the
// HMAC, so a Check succeeds only with the same binding the Start had (ASVS
// 6.6.2). A Check with another binding (or none) finds no code pending
// (Expired): it cannot spend the code's attempts, count against the
// destination's failure cap, or tell whether a code is pending.
func WithBinding(b string) Option {
	return func(o *callOptions) {
		if len(b) > MaxBindingLen {
			o.err = fmt.Errorf("%w: binding longer than %d bytes", ErrInvalidOption, MaxBindingLen)
			return
		}
		o.binding = b
	}
}

// WithLimitKey names the client that calls, such as its IP address or
// account id. Start charges the send to the key's budget (Policy.KeySends
// per Policy.KeyWindow), and keeps the destination's cooldown and send
// budget per client key; Check counts failures per client key (see
// Policy.MaxFailures). Calls without one share the empty client key. The
// key is stored only as an HMAC.
func WithLimitKey(key string) Option {
	return func(o *callOptions) {
		if key == "" || len(key) > MaxLimitKeyLen {
			o.err = fmt.Errorf("%w: limit key must be 1–%d bytes", ErrInvalidOption, MaxLimitKeyLen)
			return
		}
		o.limitKey = key
	}
}

// WithLocale sets the message language as a BCP 47 tag ("en-US", "fr").
// Start only.
func WithLocale(tag string) Option {
	return func(o *callOptions) {
		if len(tag) > 35 || strings.ContainsFunc(tag, func(r rune) bool {
			return r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
		}) {
			o.err = fmt.Errorf("%w: locale is not a BCP 47 tag", ErrInvalidOption)
			return
		}
		o.locale = tag
	}
}

func collect(opts []Option) (callOptions, error) {
	if len(opts) == 0 {
		return callOptions{}, nil
	}
	var o callOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o, o.err
}

func (v *Verifier) observe(ctx context.Context, e Event) {
	if v.observer != nil {
		v.observer.Observe(ctx, e)
	}
}

// withdrawTimeout bounds the cleanup after a failed send, which runs even
// when the caller's context is done.
const withdrawTimeout = 2 * time.Second

// withdraw makes the unsent code with digest unusable after cause, and
// returns cause joined with the withdrawal's own failure, if any. The
// cleanup outlives a cancelled request.
func (v *Verifier) withdraw(ctx context.Context, key string, scope, digest []byte, cause error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), withdrawTimeout)
	defer cancel()
	if werr := v.store.Withdraw(wctx, key, scope, digest); werr != nil {
		return errors.Join(cause, fmt.Errorf("%w: withdrawing the unsent code: %w", ErrStoreUnavailable, werr))
	}
	return cause
}

// Start validates the number and channel, refuses costly number types
// (see Policy.AllowNumberTypes), applies the policy's limits, saves a new
// code and sends it. On success the result is Pending. A
// refused send returns a *RateLimitError (ErrRateLimited); a failed send
// returns ErrSendFailed and a new code is withdrawn, so no code the user
// never received stays valid (a kept code re-sent with Policy.KeepCode was
// sent before and stays). A failed store call returns
// ErrStoreUnavailable; the code the store may have saved anyway (a reply
// that timed out after the write) is withdrawn too, as long as the store
// answers within a few seconds.
func (v *Verifier) Start(ctx context.Context, to string, ch sender.Channel, opts ...Option) (StartResult, error) {
	o, err := collect(opts)
	if err != nil {
		return StartResult{}, err
	}
	if !ch.Valid() {
		return StartResult{}, fmt.Errorf("%w: %q (want %q or %q)", ErrInvalidChannel, limitText(string(ch)), sender.SMS, sender.Call)
	}
	if !v.policy.allowsChannel(ch) {
		return StartResult{}, fmt.Errorf("%w: %s", ErrChannelNotAllowed, ch)
	}
	num, err := ParseNumber(to, v.region)
	if err != nil {
		return StartResult{}, err
	}
	if !v.policy.allowsRegion(num.Region) {
		return StartResult{}, fmt.Errorf("%w: %s", ErrCountryNotAllowed, num.Region)
	}
	if !v.policy.allowsType(num.Type) {
		return StartResult{}, &NumberTypeError{Type: num.Type}
	}
	ev := Event{Fingerprint: v.keys.fingerprint(num.E164), Region: num.Region, Channel: ch}
	p := v.policy
	key := v.keys.storeKey(num.E164)

	testCode, isTest := v.tests[num.E164]
	// A kept code is only re-sent to the binding it was made for: with a
	// binding, a resend makes a new code (attempts still carry over).
	req := store.IssueRequest{Key: key, TTL: p.TTL, KeepPending: p.KeepCode && !isTest && o.binding == ""}
	var extra []LimitReason
	if !isTest {
		if p.Cooldown > 0 {
			req.Cooldown = p.Cooldown
		}
		req.Window, req.WindowMax = p.SendWindow, p.SendsPerWindow
		req.FailureMax, req.FailureCeiling = p.MaxFailures, p.FailureCeiling
		if o.limitKey != "" {
			req.Limits = append(req.Limits, store.Limit{Key: v.keys.limitKey(o.limitKey), Max: p.KeySends, Window: p.KeyWindow})
			extra = append(extra, LimitKey)
		}
		if p.GlobalSends > 0 {
			req.Limits = append(req.Limits, store.Limit{Key: "global", Max: p.GlobalSends, Window: p.GlobalWindow})
			extra = append(extra, LimitGlobal)
		}
	}

	code := testCode
	if !isTest {
		if code, err = v.gen.Generate(p.CodeLength); err != nil {
			return StartResult{}, err
		}
		if !validCode(code, p.CodeLength) {
			return StartResult{}, fmt.Errorf("otp: generator returned a code of the wrong form")
		}
	}
	req.Digest = v.keys.digest(make([]byte, 0, 32), num.E164, o.binding, code)
	req.Scope = v.keys.scope(num.E164, o.binding)
	if o.limitKey != "" {
		req.Client = v.keys.limitKey(o.limitKey)
	}
	if req.KeepPending {
		if req.Sealed, err = v.keys.seal(code, key); err != nil {
			return StartResult{}, err
		}
	}

	if err := ctx.Err(); err != nil {
		// Nothing has been written yet: no withdrawal needed.
		return StartResult{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	res, err := v.store.Issue(ctx, req)
	if err != nil {
		// The store may still have saved the code (a timeout on the way
		// back, a request executed late): make sure the unsent code cannot
		// be approved.
		err = v.withdraw(ctx, key, req.Scope, req.Digest, err)
		ev.Kind, ev.Err = EventStoreError, err
		v.observe(ctx, ev)
		return StartResult{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	switch res.Outcome {
	case store.Limited:
		rl := &RateLimitError{Reason: reasonOf(res, extra), RetryAfter: res.RetryAfter}
		ev.Kind, ev.Limit, ev.RetryAfter = EventRateLimited, rl.Reason, rl.RetryAfter
		v.observe(ctx, ev)
		return StartResult{}, rl
	case store.Reused:
		if code, err = v.keys.open(res.Sealed, key); err != nil || !validCode(code, p.CodeLength) {
			return StartResult{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, errSealed)
		}
	case store.Issued:
	default:
		return StartResult{}, fmt.Errorf("%w: unknown issue outcome %d", ErrStoreUnavailable, res.Outcome)
	}
	if v.before != nil && !isTest {
		// After the limits, so they bound the hook's (often paid) lookups
		// too; before any message is sent.
		if err := v.before(ctx, SendRequest{Number: num, Channel: ch, LimitKey: o.limitKey}); err != nil {
			if res.Outcome == store.Issued {
				err = v.withdraw(ctx, key, req.Scope, req.Digest, err)
			}
			ev.Kind, ev.Err = EventVetoed, err
			v.observe(ctx, ev)
			return StartResult{}, fmt.Errorf("%w: %w", ErrVetoed, err)
		}
	}
	ev.Kind, ev.Test = EventIssued, isTest
	v.observe(ctx, ev)

	now := v.now()
	result := StartResult{
		Status:    Pending,
		To:        num.E164,
		Region:    num.Region,
		Channel:   ch,
		ExpiresAt: now.Add(res.ExpiresIn),
		ResendAt:  now.Add(req.Cooldown),
		Remaining: max(p.MaxAttempts-res.Attempts, 0),
		Reused:    res.Outcome == store.Reused,
	}
	if isTest {
		return result, nil
	}
	msg := sender.Message{
		To:      num.E164,
		Channel: ch,
		Code:    code,
		Locale:  o.locale,
		TTL:     res.ExpiresIn,
		Ref:     ev.Fingerprint,
	}
	if err := v.send.Send(ctx, msg); err != nil {
		ev.Kind, ev.Err = EventSendFailed, err
		if res.Outcome == store.Issued {
			// The new code never reached the user: make it unusable.
			err = v.withdraw(ctx, key, req.Scope, req.Digest, err)
		}
		v.observe(ctx, ev)
		return StartResult{}, fmt.Errorf("%w: %w", ErrSendFailed, err)
	}
	ev.Kind = EventSent
	v.observe(ctx, ev)
	return result, nil
}

// Check compares code with the code pending for the number to. The code's
// form (Policy.CodeLength digits) is checked before any store access. The
// result's Status is Approved (the code is consumed), Rejected (with
// Remaining guesses), Expired (nothing pending) or Locked (the guesses or
// the destination's failure cap are used up; the code is gone).
//
// Pass the number as Start returned it (StartResult.To) for the fastest
// path; other spellings are parsed in full.
func (v *Verifier) Check(ctx context.Context, to, code string, opts ...Option) (CheckResult, error) {
	o, err := collect(opts)
	if err != nil {
		return CheckResult{}, err
	}
	if !validCode(code, v.policy.CodeLength) {
		return CheckResult{}, fmt.Errorf("%w: want %d digits", ErrInvalidCode, v.policy.CodeLength)
	}
	e164, ok := canonical(to)
	if !ok {
		num, err := ParseNumber(to, v.region)
		if err != nil {
			return CheckResult{}, err
		}
		e164 = num.E164
	}
	var buf [32]byte
	var client string
	if o.limitKey != "" {
		client = v.keys.limitKey(o.limitKey)
	}
	res, err := v.store.Check(ctx, store.CheckRequest{
		Client:         client,
		FailureCeiling: v.policy.FailureCeiling,
		Key:            v.keys.storeKey(e164),
		Digest:         v.keys.digest(buf[:0], e164, o.binding, code),
		Scope:          v.keys.scope(e164, o.binding),
		MaxAttempts:    v.policy.MaxAttempts,
		FailureMax:     v.policy.MaxFailures,
		FailureWindow:  v.policy.FailureWindow,
	})
	if err != nil {
		v.observeCheck(ctx, e164, EventStoreError, 0, err)
		return CheckResult{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	out := CheckResult{To: e164}
	switch res.Status {
	case store.Approved:
		out.Status = Approved
		v.observeCheck(ctx, e164, EventApproved, 0, nil)
	case store.Rejected:
		out.Status, out.Remaining = Rejected, res.Remaining
		v.observeCheck(ctx, e164, EventRejected, res.Remaining, nil)
	case store.Expired:
		out.Status = Expired
		v.observeCheck(ctx, e164, EventExpired, 0, nil)
	case store.Locked:
		out.Status = Locked
		v.observeCheck(ctx, e164, EventLocked, 0, nil)
	default:
		// Fail closed on anything the contract does not name.
		return CheckResult{}, fmt.Errorf("%w: unknown check status %d", ErrStoreUnavailable, res.Status)
	}
	return out, nil
}

func (v *Verifier) observeCheck(ctx context.Context, e164 string, kind EventKind, remaining int, err error) {
	if v.observer == nil {
		return
	}
	_, test := v.tests[e164]
	v.observer.Observe(ctx, Event{
		Kind:        kind,
		Fingerprint: v.keys.fingerprint(e164),
		Region:      regionOf(e164),
		Remaining:   remaining,
		Test:        test,
		Err:         err,
	})
}

// limitText shortens user input quoted in an error.
func limitText(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
