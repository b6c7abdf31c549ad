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
	// Now is the clock of the pumping guard (Policy.Pumping): it names the
	// time buckets its counts go to in the Store. Set it only to share a
	// fake clock with a store that keeps its own time (a Redis test server);
	// results carry durations and never read it. The default value is
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

// Verifier starts and checks verifications. Create one with NewVerifier:
// the zero value refuses every call with an error wrapping ErrInvalidConfig.
// It is safe for concurrent use.
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
	guard    *guard // nil when Policy.Pumping.Disabled
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
	case !fallbackStoreOK(cfg.Store, cfg.Policy):
		return bad("Policy.Fallback needs a store.FallbackStore, and FallbackAfter a store.FallbackQueue")
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
	}
	if v.gen == nil {
		v.gen = NumericGenerator{}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	v.guard = newGuard(p.Pumping, cfg.Store, cfg.Secret, now, func(ctx context.Context, e Event) { v.observe(ctx, v.begin(), e) })
	return v, nil
}

// errZeroVerifier is returned by the methods of a Verifier that NewVerifier
// did not make.
var errZeroVerifier = fmt.Errorf("%w: zero Verifier: create one with otp.NewVerifier", ErrInvalidConfig)

// Policy returns the Verifier's rules, with defaults filled in (the zero
// Policy for a zero Verifier).
func (v *Verifier) Policy() Policy {
	if v == nil {
		return Policy{}
	}
	return v.policy
}

// Status is the state of a verification. Its values are lowercase words,
// like totp.Status's, and the names the two share mean the same. The
// Store reports its outcome as a store.CheckStatus, which Check maps to a
// Status one for one (store.Approved to Approved, and so on); the zero
// Status is no outcome.
type Status string

// String returns the status's name.
func (s Status) String() string { return string(s) }

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
	// ExpiresIn is how long the code stays valid, from the Store's answer.
	ExpiresIn time.Duration
	// ResendIn is how long until a resend will be accepted (the cooldown).
	ResendIn time.Duration
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

// StartOption modifies one Start call. WithBinding, WithLimitKey and
// WithLocale return one.
type StartOption interface {
	applyStart(*callOptions)
}

// CheckOption modifies one Check call. WithBinding, WithLimitKey and
// WithTransaction return one: the options that shape a send (WithLocale,
// WithTextOptions, WithProof) are StartOptions alone, so passing one to
// Check does not compile.
type CheckOption interface {
	applyCheck(*callOptions)
}

// Option modifies one Start or Check call: it is both a StartOption and a
// CheckOption. WithBinding, WithLimitKey and WithTransaction return one.
type Option func(*callOptions)

func (o Option) applyStart(c *callOptions) { o(c) }
func (o Option) applyCheck(c *callOptions) { o(c) }

// startOnly is an option that only Start accepts.
type startOnly func(*callOptions)

func (o startOnly) applyStart(c *callOptions) { o(c) }

type callOptions struct {
	binding  string
	txn      *Transaction
	limitKey string
	locale   string
	text     sender.TextOptions
	proof    bool
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
// Policy.MaxFailures), and a Check that approves makes the key known for
// the number to the SMS-pumping guard (see PumpingPolicy.KnownFor). Calls
// without one share the empty client key. The key is stored only as an
// HMAC.
func WithLimitKey(key string) Option {
	return func(o *callOptions) {
		if key == "" || len(key) > MaxLimitKeyLen {
			o.err = fmt.Errorf("%w: limit key must be 1–%d bytes", ErrInvalidOption, MaxLimitKeyLen)
			return
		}
		o.limitKey = key
	}
}

// WithLocale sets the language of the message, SMS and voice alike, as a
// BCP 47 tag ("en-US", "fr", "pt-BR"); the Sender picks its nearest text.
func WithLocale(tag string) StartOption {
	return startOnly(func(o *callOptions) {
		if len(tag) > 35 || strings.ContainsFunc(tag, func(r rune) bool {
			return r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
		}) {
			o.err = fmt.Errorf("%w: locale is not a BCP 47 tag", ErrInvalidOption)
			return
		}
		o.locale = tag
	})
}

// WithTextOptions adjusts the text of this Start's message over the
// Sender's own settings: a brand, the WebOTP line "@domain #code", an
// Android app hash (see sender.TextOptions).
func WithTextOptions(t sender.TextOptions) StartOption {
	return startOnly(func(o *callOptions) {
		if err := t.Validate(); err != nil {
			o.err = fmt.Errorf("%w: %w", ErrInvalidOption, err)
			return
		}
		o.text = t
	})
}

func collectStart(opts []StartOption) (callOptions, error) {
	var o callOptions
	for _, f := range opts {
		if f != nil {
			f.applyStart(&o)
		}
	}
	return o, o.err
}

func collectCheck(opts []CheckOption) (callOptions, error) {
	var o callOptions
	for _, f := range opts {
		if f != nil {
			f.applyCheck(&o)
		}
	}
	return o, o.err
}

// observe reports e, with the time elapsed since begin, the start of the
// call (zero when there is no observer).
func (v *Verifier) observe(ctx context.Context, begin time.Time, e Event) {
	if v.observer != nil {
		e.Elapsed = time.Since(begin)
		v.observer.Observe(ctx, e)
	}
}

// begin returns the start time of a call for its events, or the zero Time
// when nothing observes them.
func (v *Verifier) begin() time.Time {
	if v.observer == nil {
		return time.Time{}
	}
	return time.Now()
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
func (v *Verifier) Start(ctx context.Context, to string, ch sender.Channel, opts ...StartOption) (StartResult, error) {
	if v == nil || v.keys == nil {
		return StartResult{}, errZeroVerifier
	}
	begin := v.begin()
	o, err := collectStart(opts)
	if err != nil {
		return StartResult{}, err
	}
	if !ch.Valid() {
		return StartResult{}, fmt.Errorf("%w: %q (want %q, %q or %q)", ErrInvalidChannel, limitText(string(ch)), sender.SMS, sender.Call, sender.WhatsApp)
	}
	if !v.policy.allowsChannel(ch) {
		return StartResult{}, fmt.Errorf("%w: %s", ErrChannelNotAllowed, ch)
	}
	if err := v.checkTransaction(&o, ch); err != nil {
		return StartResult{}, err
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
	// binding or a transaction, a resend makes a new code (attempts still
	// carry over).
	req := store.IssueRequest{Key: key, TTL: p.TTL, KeepPending: p.KeepCode && !isTest && o.digestBinding() == ""}
	var extra []LimitReason
	if !isTest {
		if p.Cooldown > 0 {
			req.Cooldown = p.Cooldown
		}
		req.SendWindow, req.SendsPerWindow = p.SendWindow, p.SendsPerWindow
		req.MaxFailures, req.FailureCeiling = p.MaxFailures, p.FailureCeiling
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
	req.Digest = v.keys.digest(make([]byte, 0, 32), num.E164, o.digestBinding(), code)
	req.Scope = v.keys.scope(num.E164, o.binding)
	if o.limitKey != "" {
		req.Client = v.keys.limitKey(o.limitKey)
	}
	// With a fallback, the seal keeps the transaction too, so that the
	// re-send states the payment the code confirms.
	if req.KeepPending || (p.Fallback && !isTest) {
		if req.Sealed, err = v.keys.seal(v.sealedPayload(code, num.E164, ch, o.locale, o.txn), key); err != nil {
			return StartResult{}, err
		}
	}

	if err := ctx.Err(); err != nil {
		// Nothing has been written yet: no withdrawal needed.
		kind, err := storeFailure(ctx, err)
		ev.Kind, ev.Err = kind, err
		v.observe(ctx, begin, ev)
		return StartResult{}, err
	}
	res, err := v.store.Issue(ctx, req)
	if err != nil {
		// The store may still have saved the code (a timeout on the way
		// back, a request executed late): make sure the unsent code cannot
		// be approved.
		kind, err := storeFailure(ctx, v.withdraw(ctx, key, req.Scope, req.Digest, err))
		ev.Kind, ev.Err = kind, err
		v.observe(ctx, begin, ev)
		return StartResult{}, err
	}
	switch res.Outcome {
	case store.Limited:
		rl := &RateLimitError{Reason: reasonOf(res, extra), RetryAfter: res.RetryAfter}
		ev.Kind, ev.Limit, ev.RetryAfter = EventRateLimited, rl.Reason, rl.RetryAfter
		v.observe(ctx, begin, ev)
		return StartResult{}, rl
	case store.Reused:
		plain, err := v.keys.open(res.Sealed, key)
		if code = sealedCode(plain); err != nil || !validCode(code, p.CodeLength) {
			return StartResult{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, errSealed)
		}
	case store.Issued:
	default:
		return StartResult{}, fmt.Errorf("%w: unknown issue outcome %d", ErrStoreUnavailable, res.Outcome)
	}
	var counted ticket
	if !isTest {
		// After the limits, so that sends they refuse do not weigh on a
		// prefix's conversion.
		if counted, err = v.guard.admit(ctx, num, req.Client, o.proof, ev); err != nil {
			if res.Outcome == store.Issued {
				err = v.withdraw(ctx, key, req.Scope, req.Digest, err)
			}
			return StartResult{}, err
		}
	}
	if v.before != nil && !isTest {
		// After the limits, so they bound the hook's (often paid) lookups
		// too; before any message is sent.
		if err := v.before(ctx, SendRequest{Number: num, Channel: ch, LimitKey: o.limitKey}); err != nil {
			if res.Outcome == store.Issued {
				err = v.withdraw(ctx, key, req.Scope, req.Digest, err)
			}
			counted.undo(ctx)
			ev.Kind, ev.Err = EventVetoed, err
			v.observe(ctx, begin, ev)
			return StartResult{}, fmt.Errorf("%w: %w", ErrVetoed, err)
		}
	}
	ev.Kind, ev.Test = EventIssued, isTest
	v.observe(ctx, begin, ev)

	result := StartResult{
		Status:    Pending,
		To:        num.E164,
		Region:    num.Region,
		Channel:   ch,
		ExpiresIn: res.ExpiresIn,
		ResendIn:  req.Cooldown,
		Remaining: max(p.MaxAttempts-res.Attempts, 0),
		Reused:    res.Outcome == store.Reused,
	}
	if isTest {
		return result, nil
	}
	msg := sender.Message{
		To:          num.E164,
		Channel:     ch,
		Code:        code,
		Locale:      o.locale,
		TextOptions: o.text,
		TTL:         res.ExpiresIn,
		Ref:         ev.Fingerprint,
	}
	transactionMessage(&msg, o.txn)
	if p.Fallback {
		msg.Ref = v.keys.makeRef(refParts{key: key, tag: fallbackTag(req.Sealed, res), ch: ch, scope: req.Scope, client: req.Client})
	}
	sendBegin := v.begin()
	err = v.send.Send(ctx, msg)
	if v.observer != nil {
		ev.SendTime = time.Since(sendBegin)
	}
	if err != nil {
		ev.Kind, ev.Err = EventSendFailed, err
		counted.undo(ctx)
		if res.Outcome == store.Issued {
			// The new code never reached the user: make it unusable.
			err = v.withdraw(ctx, key, req.Scope, req.Digest, err)
		}
		v.observe(ctx, begin, ev)
		return StartResult{}, fmt.Errorf("%w: %w", ErrSendFailed, err)
	}
	ev.Kind = EventSent
	v.observe(ctx, begin, ev)
	v.scheduleFallback(ctx, msg, ev)
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
func (v *Verifier) Check(ctx context.Context, to, code string, opts ...CheckOption) (CheckResult, error) {
	if v == nil || v.keys == nil {
		return CheckResult{}, errZeroVerifier
	}
	begin := v.begin()
	o, err := collectCheck(opts)
	if err != nil {
		return CheckResult{}, err
	}
	if !validCode(code, v.policy.CodeLength) {
		return CheckResult{}, fmt.Errorf("%w: want %d digits", ErrInvalidCode, v.policy.CodeLength)
	}
	if err := v.checkTransaction(&o, ""); err != nil {
		return CheckResult{}, err
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
		Key:            v.keys.storeKey(e164),
		Digest:         v.keys.digest(buf[:0], e164, o.digestBinding(), code),
		Scope:          v.keys.scope(e164, o.binding),
		Client:         client,
		MaxAttempts:    v.policy.MaxAttempts,
		MaxFailures:    v.policy.MaxFailures,
		FailureCeiling: v.policy.FailureCeiling,
		FailureWindow:  v.policy.FailureWindow,
	})
	if err != nil {
		kind, err := storeFailure(ctx, err)
		v.observeCheck(ctx, begin, e164, kind, 0, err)
		return CheckResult{}, err
	}
	out := CheckResult{To: e164}
	switch res.Status {
	case store.Approved:
		out.Status = Approved
		if _, test := v.tests[e164]; !test {
			v.guard.approved(e164, client)
		}
		v.observeCheck(ctx, begin, e164, EventApproved, 0, nil)
	case store.Rejected:
		out.Status, out.Remaining = Rejected, res.Remaining
		v.observeCheck(ctx, begin, e164, EventRejected, res.Remaining, nil)
	case store.Expired:
		out.Status = Expired
		v.observeCheck(ctx, begin, e164, EventExpired, 0, nil)
	case store.Locked:
		out.Status = Locked
		v.observeCheck(ctx, begin, e164, EventLocked, 0, nil)
	default:
		// Fail closed on anything the contract does not name.
		return CheckResult{}, fmt.Errorf("%w: unknown check status %d", ErrStoreUnavailable, res.Status)
	}
	return out, nil
}

func (v *Verifier) observeCheck(ctx context.Context, begin time.Time, e164 string, kind EventKind, remaining int, err error) {
	if v.observer == nil {
		return
	}
	_, test := v.tests[e164]
	v.observer.Observe(ctx, Event{
		Elapsed:     time.Since(begin),
		Kind:        kind,
		Fingerprint: v.keys.fingerprint(e164),
		Region:      regionOf(e164),
		Remaining:   remaining,
		Test:        test,
		Err:         err,
	})
}

// storeFailure wraps err, the failure of a store call made under ctx, and
// names the event to report. A call whose context was cancelled fails with
// an error that wraps context.Canceled and not ErrStoreUnavailable: the
// caller gave up, the store did not fail. A call whose deadline passed wraps
// both context.DeadlineExceeded and ErrStoreUnavailable: the store did not
// answer within the time the caller gave it. Any other failure wraps
// ErrStoreUnavailable.
func storeFailure(ctx context.Context, err error) (EventKind, error) {
	cerr := ctx.Err()
	switch {
	case errors.Is(cerr, context.Canceled):
		if errors.Is(err, context.Canceled) {
			return EventCanceled, fmt.Errorf("otp: call cancelled: %w", err)
		}
		return EventCanceled, fmt.Errorf("otp: call cancelled: %w (store: %w)", cerr, err)
	case errors.Is(cerr, context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded):
		return EventStoreError, fmt.Errorf("%w: %w (store: %w)", ErrStoreUnavailable, cerr, err)
	}
	return EventStoreError, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// limitText shortens user input quoted in an error.
func limitText(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
