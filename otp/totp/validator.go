package totp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/go2fa/go2fa/store"
)

// Validator defaults and limits.
const (
	// DefaultSkew is the number of time steps accepted on either side of
	// the current one when Config.Skew is zero.
	DefaultSkew = 1
	// NoSkew, as Config.Skew, accepts the current time step only.
	NoSkew = -1
	// MaxSkew is the largest Config.Skew NewValidator accepts.
	MaxSkew = 10
	// DefaultMaxFailures is the number of failures that lock an account
	// when Config.MaxFailures is zero.
	DefaultMaxFailures = 5
	// DefaultLockout is Config.Lockout's default.
	DefaultLockout = 5 * time.Minute
)

// keyDomain separates the store keys of this package from any other user of
// the same Store, and from other uses of the same HMAC key.
const keyDomain = "go2fa/totp/v1\x00"

// Config configures a Validator. Only Store is required; every other zero
// field means its default.
type Config struct {
	// Store records failures and accepted time steps. Required. Use
	// store/memstore for one process, store/redisstore for several.
	Store store.Store
	// Skew is the number of time steps accepted on either side of the
	// current one, for clock drift between the server and the user's phone
	// and for the time it takes to type a code. The default value is 1
	// (±30 s with the default period); NoSkew accepts the current step
	// only; at most MaxSkew.
	Skew int
	// MaxFailures is the number of failures (wrong or replayed codes) that
	// lock an account. The default value is 5.
	MaxFailures int
	// Lockout is how long failures are remembered, counted from the latest
	// one, and so how long a lock lasts. The default value is 5 minutes.
	Lockout time.Duration
	// Now returns the current time, which picks the time step. Set it only
	// to share a fake clock with a store that keeps its own time (a Redis
	// test server); a test on memstore runs in a testing/synctest bubble
	// instead. The default value is time.Now.
	Now func() time.Time
	// KeySecret, when set, is an HMAC key (at least 32 bytes) for deriving
	// store keys from account keys, so that a dump of the store cannot be
	// matched against a list of account names. The default value is nil:
	// store keys are then an unkeyed SHA-256, which hides names from a
	// casual look but not from a dictionary.
	KeySecret []byte
}

// Validator checks codes typed by users against their keys, refusing
// replays and limiting guesses through a store.Store. Build one with
// NewValidator: the zero value refuses every Validate with an error wrapping
// ErrInvalidConfig. A Validator is safe for concurrent use by multiple
// goroutines; several processes sharing a Redis store share its limits and
// its replay protection.
//
// # Store keys
//
// The account key given to Validate never reaches the store: the store key
// is "totp:" followed by the unpadded base64url form of
// SHA-256("go2fa/totp/v1\x00" + accountKey), or of HMAC-SHA-256 keyed with
// Config.KeySecret when it is set. The marker of an accepted code is its
// time step in decimal, which says nothing about the code or the secret.
//
// # Odds
//
// Each guess matches with probability (2·Skew+1)/10^Digits (3 in a million
// with the defaults). A guesser gets MaxFailures guesses per Lockout, about
// 1 440 a day with the defaults, for odds of about 0.4 % a day against one
// account: alert on repeated lockouts.
type Validator struct {
	store       store.Store
	skew        int
	maxFailures int
	lockout     time.Duration
	now         func() time.Time
	keySecret   []byte
}

// NewValidator returns a Validator for cfg, or an error wrapping
// ErrInvalidConfig.
func NewValidator(cfg Config) (*Validator, error) {
	v := &Validator{
		store:       cfg.Store,
		skew:        cfg.Skew,
		maxFailures: cfg.MaxFailures,
		lockout:     cfg.Lockout,
		now:         cfg.Now,
	}
	switch {
	case v.store == nil:
		return nil, fmt.Errorf("%w: Store is required", ErrInvalidConfig)
	case v.skew == 0:
		v.skew = DefaultSkew
	case v.skew == NoSkew:
		v.skew = 0
	case v.skew < 0 || v.skew > MaxSkew:
		return nil, fmt.Errorf("%w: Skew %d (want NoSkew or 0 to %d)", ErrInvalidConfig, cfg.Skew, MaxSkew)
	}
	switch {
	case v.maxFailures == 0:
		v.maxFailures = DefaultMaxFailures
	case v.maxFailures < 0:
		return nil, fmt.Errorf("%w: negative MaxFailures", ErrInvalidConfig)
	}
	switch {
	case v.lockout == 0:
		v.lockout = DefaultLockout
	case v.lockout < 0:
		return nil, fmt.Errorf("%w: negative Lockout", ErrInvalidConfig)
	}
	if v.now == nil {
		v.now = time.Now
	}
	if cfg.KeySecret != nil {
		if len(cfg.KeySecret) < 32 {
			return nil, fmt.Errorf("%w: KeySecret shorter than 32 bytes", ErrInvalidConfig)
		}
		v.keySecret = append([]byte(nil), cfg.KeySecret...)
	}
	return v, nil
}

// Status is the outcome of Validate. Its values are lowercase words, like
// otp.Status's, and the names the two share mean the same; the zero Status
// is no outcome.
type Status string

const (
	// Approved: the code is right for a time step within the skew window,
	// and that step had not been accepted before for this account. The
	// account's failure count is reset.
	Approved Status = "approved"
	// Rejected: the code is wrong. Result.Remaining failures are left
	// before the account locks.
	Rejected Status = "rejected"
	// Replayed: the code is right but its time step was already accepted
	// for this account (someone reused a code). It counts as a failure.
	Replayed Status = "replayed"
	// Locked: too many failures; every code, even a right one, is refused
	// for Result.RetryAfter.
	Locked Status = "locked"
)

// String returns the status's name.
func (s Status) String() string { return string(s) }

// Result reports the outcome of Validate. Only Status == Approved lets a
// user in; the zero Result, returned with every error, does not.
type Result struct {
	// Status says what happened; see the constants.
	Status Status
	// Remaining is the number of failures still allowed before the
	// account locks (Rejected, Replayed).
	Remaining int
	// RetryAfter is, for Locked, how long until the lock lifts.
	RetryAfter time.Duration
	// Drift is, for Approved, the offset of the matched time step from the
	// current one (-Skew to +Skew): a user whose codes keep matching at a
	// non-zero Drift has a phone clock that is off.
	Drift int
}

// Validate checks code, typed by the user behind accountKey, against key,
// and records the attempt in the store.
//
// Validate first checks key and the code's form (exactly key.Digits ASCII
// digits); a malformed code gets an error wrapping ErrInvalidCode and the
// store is not touched, so it costs no attempt. It then computes the codes
// of every time step from now-Skew to now+Skew, comparing each with code in
// constant time and without stopping at a match, and makes one atomic store
// call (store.Store.Attempt) that refuses a locked account, counts a wrong
// code, refuses a time step already accepted (Replayed), or records the
// step for (2·Skew+2)·Period (the longest it could be accepted again, plus
// one period for clock differences between servers) and resets the failure
// count (Approved).
//
// accountKey identifies whose failures and accepted steps these are (a
// user ID): it is hashed before it reaches the store (see Validator). Give
// each enrolled key its own accountKey.
//
// A store failure returns a zero Result and an error wrapping both
// ErrStoreUnavailable and the store's error: fail closed.
func (v *Validator) Validate(ctx context.Context, accountKey string, key Key, code string) (Result, error) {
	if v == nil || v.store == nil {
		return Result{}, errZeroValidator
	}
	p, err := key.params()
	if err != nil {
		return Result{}, err
	}
	if accountKey == "" {
		return Result{}, ErrInvalidAccount
	}
	if len(code) != p.digits {
		return Result{}, fmt.Errorf("%w: want %d digits, got %d characters", ErrInvalidCode, p.digits, len(code))
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return Result{}, fmt.Errorf("%w: not all digits", ErrInvalidCode)
		}
	}
	now, err := p.step(v.now())
	if err != nil {
		return Result{}, err
	}

	// Every candidate is computed and compared; the matched step is chosen
	// with constant-time selects, so timing says nothing of which step, if
	// any, matched. Candidates run from the farthest steps to the current
	// one, the later match winning: when two steps share a code (one
	// chance in a million per pair) the nearest is recorded, so the user's
	// next code is not mistaken for a replay.
	mac := hmac.New(p.alg.hash(), key.Secret)
	var buf [maxDigits]byte
	matched, drift := 0, 0
	for i := 2 * v.skew; i >= 0; i-- {
		d := (i + 1) / 2 // order: +skew, -skew, ..., +1, -1, 0
		if i%2 == 0 {
			d = -d
		}
		if d < 0 && now < uint64(-d) { //nolint:gosec // G115: -d > 0.
			continue // before T0: no such step
		}
		if i < 2*v.skew {
			mac.Reset()
		}
		s := now + uint64(int64(d)) //nolint:gosec // G115: two's complement; now+d >= 0 was checked above.
		eq := subtle.ConstantTimeCompare(format(&buf, hotp(mac, s), p.digits), []byte(code))
		matched |= eq
		drift = subtle.ConstantTimeSelect(eq, d, drift)
	}

	req := store.AttemptRequest{
		Key:           v.storeKey(accountKey),
		MaxFailures:   v.maxFailures,
		FailureWindow: v.lockout,
	}
	if matched == 1 {
		req.Marker = strconv.FormatUint(now+uint64(int64(drift)), 10) //nolint:gosec // G115: as in the loop above.
		req.MarkerTTL = time.Duration(2*v.skew+2) * time.Duration(p.period) * time.Second
	}
	res, err := v.store.Attempt(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	switch res.Status {
	case store.Approved:
		if req.Marker == "" {
			// A store that approves a wrong code is broken: fail closed.
			return Result{}, fmt.Errorf("%w: store approved an attempt without a marker", ErrStoreUnavailable)
		}
		return Result{Status: Approved, Drift: drift}, nil
	case store.Rejected:
		return Result{Status: Rejected, Remaining: res.Remaining}, nil
	case store.Replayed:
		return Result{Status: Replayed, Remaining: res.Remaining}, nil
	case store.Locked:
		return Result{Status: Locked, RetryAfter: res.RetryAfter}, nil
	}
	return Result{}, fmt.Errorf("%w: unexpected status %v", ErrStoreUnavailable, res.Status)
}

// errZeroValidator is returned by Validate on a Validator that NewValidator
// did not make.
var errZeroValidator = fmt.Errorf("%w: zero Validator: create one with totp.NewValidator", ErrInvalidConfig)

// storeKey derives the store key of accountKey (see Validator).
func (v *Validator) storeKey(accountKey string) string {
	var sum []byte
	if v.keySecret != nil {
		m := hmac.New(sha256.New, v.keySecret)
		m.Write([]byte(keyDomain))
		m.Write([]byte(accountKey))
		sum = m.Sum(nil)
	} else {
		s := sha256.Sum256([]byte(keyDomain + accountKey))
		sum = s[:]
	}
	return "totp:" + base64.RawURLEncoding.EncodeToString(sum)
}
