package store

import (
	"context"
	"crypto/subtle"
	"time"
)

// FallbackStore is a Store that can hand a pending code out once per step
// of a chain for a re-send on another channel (otp.Verifier.Fallback: an SMS that was not
// delivered is followed by a voice call speaking the same code). A Store
// that implements it must honour the package contract for Fallback too.
type FallbackStore interface {
	Store

	// Fallback atomically takes the pending code of a destination in the
	// request's Scope for one re-send on another channel. The code itself
	// does not change: its digest, expiry and attempts stay as they are,
	// so a Check made with the code (and binding) the user already has
	// still succeeds, and the wrong guesses already made still count. In
	// order:
	//
	//   - the failure caps refuse the request's Client (MaxFailures,
	//     FailureCeiling; see Store.Check): FallbackLimited, Reason
	//     LimitFailures; nothing changes;
	//   - no pending code in the Scope (never issued, expired, approved,
	//     locked, withdrawn), or the pending code's Sealed value does not
	//     begin with Tag (a newer code replaced the one the request
	//     names): FallbackNotPending; nothing changes;
	//   - the pending code has already been taken by a Fallback with the
	//     same Tag and a Step at or above this request's (Step 0 counts
	//     as 1): FallbackSpent; nothing changes. Of any number of
	//     concurrent Fallbacks for one code and one Step, exactly one is
	//     FallbackTaken, and none once a later Step has been taken;
	//   - the Client's window budget for the destination (SendsPerWindow) is
	//     spent, or the send ceiling refuses the Client (see
	//     Store.Issue): FallbackLimited, Reason LimitWindow; then each extra
	//     Limit in order: FallbackLimited, Reason LimitExtra, LimitIndex;
	//     nothing changes;
	//   - otherwise the code is marked as taken up to Step for the rest
	//     of its lifetime (the mark remembers the furthest Step taken),
	//     the Client's window counter, the send ceiling's count and every
	//     extra Limit are charged as Issue charges them, the Client's cooldown restarts when
	//     Cooldown > 0 (it is not checked: the fallback is exempt from
	//     it), and the result is FallbackTaken with the code's Sealed
	//     value, its Attempts and its remaining lifetime (ExpiresIn).
	//
	// The mark belongs to the code: a new code (Issue without KeepPending)
	// can be taken again from Step 1; a code kept by Issue with
	// KeepPending keeps its mark. Codes of other Scopes are untouched.
	// Tag is compared in constant time where the backend allows it.
	Fallback(ctx context.Context, req FallbackRequest) (FallbackResult, error)
}

// FallbackRequest asks a FallbackStore to take a pending code for one
// re-send.
type FallbackRequest struct {
	// Key identifies the destination, as in IssueRequest. Required.
	Key string
	// Scope is the Scope the code was issued in (see IssueRequest.Scope).
	Scope []byte
	// Client is the client key the code was issued for (see
	// IssueRequest.Client): its cooldown and window budget are the ones
	// charged, and its failure caps the ones checked.
	Client string
	// Tag names one code: a prefix of the Sealed value it was issued with
	// (the caller puts a random nonce there). Required, 1–64 bytes.
	Tag []byte
	// Step is the position of the re-send in a chain of fallbacks (1 for
	// the first fallback of a code, 2 for the next, ...), 0–MaxStep; 0
	// counts as 1. A code is taken at most once per Step, and a Step is
	// refused once a later one has been taken.
	Step int
	// Cooldown restarts the destination's cooldown, as in IssueRequest,
	// without being checked. Zero leaves the cooldown alone.
	Cooldown time.Duration
	// SendWindow, SendsPerWindow, MaxFailures, FailureCeiling and Limits are as in
	// IssueRequest.
	SendWindow     time.Duration
	SendsPerWindow int
	MaxFailures    int
	FailureCeiling int
	Limits         []Limit
}

// MaxTagLen is the longest FallbackRequest.Tag, in bytes.
const MaxTagLen = 64

// MaxStep is the largest FallbackRequest.Step.
const MaxStep = 16

// FallbackOutcome says what Fallback did.
type FallbackOutcome int

const (
	// FallbackTaken means the code was handed out for a re-send.
	FallbackTaken FallbackOutcome = iota + 1
	// FallbackNotPending means the code the request names is not pending.
	FallbackNotPending
	// FallbackSpent means the code was already taken at this step or a
	// later one.
	FallbackSpent
	// FallbackLimited means a limit refused the request.
	FallbackLimited
)

// String returns the outcome's name.
func (o FallbackOutcome) String() string {
	switch o {
	case FallbackTaken:
		return "taken"
	case FallbackNotPending:
		return "not pending"
	case FallbackSpent:
		return "spent"
	case FallbackLimited:
		return "limited"
	}
	return "unknown"
}

// FallbackResult reports the outcome of Fallback.
type FallbackResult struct {
	Outcome FallbackOutcome
	// Reason, LimitIndex and RetryAfter describe a FallbackLimited result,
	// as in IssueResult.
	Reason     LimitReason
	LimitIndex int
	RetryAfter time.Duration
	// Sealed, Attempts and ExpiresIn describe the code of a FallbackTaken
	// result: the Sealed value it was issued with, the wrong guesses
	// counted against it, its remaining lifetime.
	Sealed    []byte
	Attempts  int
	ExpiresIn time.Duration
}

// Validate reports whether r is well formed, wrapping ErrInvalidRequest.
func (r FallbackRequest) Validate() error {
	switch {
	case r.Key == "":
		return invalid("empty key")
	case len(r.Tag) == 0 || len(r.Tag) > MaxTagLen:
		return invalid("tag must be 1-64 bytes")
	case r.Step < 0 || r.Step > MaxStep:
		return invalid("step must be 0-16")
	}
	// The limits follow IssueRequest's rules; borrow its validation with a
	// placeholder digest and TTL.
	return IssueRequest{
		Key: r.Key, Digest: r.Tag, TTL: time.Second, Scope: r.Scope, Client: r.Client,
		Cooldown: r.Cooldown, SendWindow: r.SendWindow, SendsPerWindow: r.SendsPerWindow,
		MaxFailures: r.MaxFailures, FailureCeiling: r.FailureCeiling, Limits: r.Limits,
	}.Validate()
}

// HasTag reports, in time independent of the bytes compared, whether
// sealed begins with tag. Drivers may use it.
func HasTag(sealed, tag []byte) bool {
	if len(tag) == 0 || len(sealed) < len(tag) {
		return false
	}
	return subtle.ConstantTimeCompare(sealed[:len(tag)], tag) == 1
}

// FallbackQueue keeps the fallbacks that fall due when no delivery report
// arrives in time (otp.Policy.FallbackAfter), until a worker takes them.
// It survives a process restart where its backend does (Redis), so a
// pending fallback is not lost with the process that scheduled it.
// Entries are opaque references (otp's Message.Ref: no number, no code).
//
// Every method is atomic, and times are read on the store's clock. No
// entry lives forever: an entry that is neither claimed nor cancelled is
// forgotten QueueTTL after it was last scheduled or claimed.
type FallbackQueue interface {
	// Schedule makes ref due after delay (>= 0). Scheduling a ref that is
	// already queued moves its due time.
	Schedule(ctx context.Context, ref string, delay time.Duration) error
	// Cancel removes ref (a delivery report arrived, or a worker has
	// handled it). Cancelling a ref that is not queued is not an error.
	Cancel(ctx context.Context, ref string) error
	// Claim returns up to max refs that are due, earliest first, and
	// leases each for lease (> 0): until the lease runs out no Claim, from
	// this process or another, returns it again. A worker cancels each ref
	// it has handled; a ref whose worker died before that falls due again
	// when its lease ends. Of concurrent Claims, at most one returns a
	// given ref within one lease.
	Claim(ctx context.Context, max int, lease time.Duration) ([]string, error)
}

// QueueTTL is how long a FallbackQueue keeps an entry that nobody claims
// or cancels.
const QueueTTL = 24 * time.Hour

// MaxRefLen is the longest reference a FallbackQueue accepts, in bytes.
const MaxRefLen = 256

// ValidateRef reports whether ref can be queued, wrapping ErrInvalidRequest.
func ValidateRef(ref string) error {
	if ref == "" || len(ref) > MaxRefLen {
		return invalid("ref must be 1-256 bytes")
	}
	return nil
}

// ValidateClaim reports whether a Claim's arguments are valid, wrapping
// ErrInvalidRequest.
func ValidateClaim(max int, lease time.Duration) error {
	if max <= 0 || lease <= 0 {
		return invalid("Claim needs a positive max and lease")
	}
	return nil
}
