// Package store defines the Store interface that keeps go2fa's pending
// verifications, send limits and failure counters, and the contract every
// implementation must honour.
//
// A Store never sees a code or a phone number. The otp package hands it
// opaque keys (derived from an HMAC of the destination) and digests
// (HMAC-SHA256 of destination and code); the Store only compares, counts and
// expires them. Drivers live in their own packages: store/memstore keeps
// everything in process memory, store/redisstore keeps it in Redis. The
// conformance suite in store/storetest checks a driver against this contract.
//
// # The contract
//
// Every method is atomic with respect to every other method on the same key:
// an implementation must never let two concurrent calls both observe the
// same state and both act on it. In Redis that means one Lua script per
// call; in memory, one lock.
//
// Every piece of state has a lifetime. Nothing a Store writes lives forever:
// a pending code lives for its TTL, a cooldown for its Cooldown, a window
// counter for its SendWindow, a failure counter for its FailureWindow, a marker
// for its MarkerTTL.
//
// "Not found" is not an error. Errors are for system failures only (a backend
// that cannot be reached, a cancelled context, a malformed request); the
// outcome of a well-formed request is reported in the result.
//
// Implementations honour context cancellation: a call whose context is done
// returns an error wrapping ctx.Err() and changes nothing it has not already
// committed.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidRequest is returned (wrapped) by a Store for a request that
// breaks the contract: an empty key, an empty digest, a non-positive TTL or
// MaxAttempts. Such a request changes nothing.
var ErrInvalidRequest = errors.New("store: invalid request")

// MaxScopeLen is the longest IssueRequest.Scope or CheckRequest.Scope, in
// bytes.
const MaxScopeLen = 64

// Store keeps pending verifications. Implementations must be safe for
// concurrent use by multiple goroutines and, where the backend is shared
// (Redis), by multiple processes.
type Store interface {
	// Issue atomically applies the send limits of one destination and, if
	// they allow it, saves a new pending code. It is one step: either every
	// limit counter is charged and the code is saved, or nothing changes
	// and the result says why (Limited).
	//
	// Every pending code belongs to one Scope (see IssueRequest.Scope; an
	// empty Scope is a Scope too): a Key holds at most one pending code per
	// Scope, and an Issue reads and writes only its own Scope's code.
	//
	// Order of checks: the failure caps (MaxFailures, FailureCeiling; see
	// Check: Issue refuses exactly when Check would refuse the request's
	// Client), the cooldown, the window budget (SendsPerWindow), the send
	// ceiling, then each extra Limit in order. The cooldown and the window
	// budget are kept per (Key, Client): one client's sends never refuse
	// another's. The send ceiling counts the Key's sends from every client
	// in a fixed window of SendWindow that starts with the first of them; once
	// it holds SendsPerWindow, a Client that has sent in it and has had no
	// Check approved since is refused (LimitWindow) until the window ends,
	// while a Client that has not sent in it, or whose Check was approved
	// after its send, is not. So k clients send at most SendsPerWindow + k
	// times in one such window (more only through approvals). On success
	// the Client's cooldown starts, every counter is incremented, the
	// Client's send is unapproved in the Key's window, and, in the
	// request's Scope:
	//
	//   - with no code pending, the new Digest (and Sealed) is saved with a
	//     fresh TTL and zero attempts (Outcome Issued);
	//   - with a code pending and KeepPending false, the new Digest replaces
	//     the old one with a fresh TTL, and the attempts already used on the
	//     old code carry over (Outcome Issued, Attempts > 0);
	//   - with a code pending and KeepPending true, the pending code, its
	//     Sealed value, its expiry and its attempts are kept and returned
	//     (Outcome Reused); the request's Digest and Sealed are discarded.
	//
	// Codes of other Scopes are neither replaced, kept nor changed. A
	// withdrawn code (see Withdraw) is not pending, but its attempts still
	// carry over to the next code of its Scope issued before it would
	// have expired.
	//
	// Issue is idempotent: when the pending code's digest already equals
	// the request's Digest (a digest is the HMAC of a fresh random code, so
	// only a retry of the same request can match), nothing is charged or
	// changed and the result is Issued with the pending code's attempts and
	// remaining lifetime. A client that resends a request whose reply was
	// lost therefore learns that the code was saved.
	Issue(ctx context.Context, req IssueRequest) (IssueResult, error)

	// Check atomically compares a candidate digest with the pending code of
	// the request's Scope and consumes, counts or locks.
	//
	// Failures (with MaxFailures > 0) are counted in runs. The Key's
	// failure counter F lives FailureWindow from its latest increment; a
	// run is the time from the increment that finds F absent to F's
	// expiry. Each Client's count f of failures belongs to one run and
	// counts (is non-zero) only while that run lives, however long ago the
	// Client's own latest failure was. The caps refuse a Client when
	//
	//   - f >= MaxFailures (its own cap), or
	//   - F >= MaxFailures and f > 0 (the Key's cap is spent: only clients
	//     that have not failed in the run are still compared), or
	//   - FailureCeiling > 0 and F >= FailureCeiling (every client).
	//
	// A Client with f = 0 is therefore compared until the ceiling, and
	// each Client is new to a run at most once: with k clients a run holds
	// at most MaxFailures + k failures, and never more than FailureCeiling
	// that no approval forgave. Then:
	//
	//   - the caps refuse the Client: Locked, and the Scope's pending
	//     code, if any, is deleted; nothing is compared;
	//   - no pending code in the Scope (never issued, expired, consumed,
	//     withdrawn, or pending in another Scope only): Expired; nothing
	//     changes;
	//   - digest equal: the code is deleted, the Client's failures in
	//     the run are forgiven (subtracted from F, f reset) and its sends
	//     count as approved for the send ceiling (see Issue); other
	//     Clients' failures stay. Approved. Of any number of concurrent
	//     equal Checks exactly one is Approved; the others see Expired;
	//   - digest different: the code's attempts are incremented and (when
	//     MaxFailures > 0) F and f are incremented (F re-anchored; a new
	//     run when F was absent). If attempts reach MaxAttempts or the
	//     caps now refuse the Client, the code is deleted and the result
	//     is Locked; otherwise Rejected with Remaining = the smallest of
	//     MaxAttempts - attempts, MaxFailures - f and MaxFailures - F. Under
	//     any concurrency no more than MaxAttempts mismatches are ever
	//     counted against one code.
	//
	// A Check in another Scope than a code's can neither spend the code's
	// attempts nor tell the code from no code at all.
	//
	// Digests are compared in constant time where the backend allows it.
	// (A digest is an HMAC under a secret the Store never sees, so its
	// timing cannot guide a guesser either way.)
	Check(ctx context.Context, req CheckRequest) (CheckResult, error)

	// Withdraw makes the pending code of key in scope unusable if, and
	// only if, its digest equals digest (so a concurrent newer code is not
	// touched). The attempts it used stay counted for the next code of the
	// scope. Withdrawing a code that is not pending is not an error. Limit
	// counters are not refunded.
	Withdraw(ctx context.Context, key string, scope, digest []byte) error

	// Attempt records one verification attempt against a long-lived secret
	// (an authenticator app's TOTP), atomically:
	//
	//   - failure counter of Key at or above MaxFailures: Locked, nothing
	//     else changes;
	//   - Marker empty (the caller found the code wrong): the failure
	//     counter is incremented (living FailureWindow from this, its
	//     latest, failure), and counted for the empty Client in the run
	//     (see Check); Locked if it reaches MaxFailures, else Rejected
	//     with Remaining;
	//   - Marker set (the code was right for that time step): if Marker was
	//     already recorded for Key, Replayed (a failure, counted as above);
	//     otherwise the marker is recorded for MarkerTTL, the failure counter
	//     is reset, and the result is Approved.
	Attempt(ctx context.Context, req AttemptRequest) (AttemptResult, error)
}

// IssueRequest asks a Store to save a new pending code for one destination.
type IssueRequest struct {
	// Key identifies the destination. It is opaque (derived by the caller
	// from an HMAC) and safe to use as part of a Redis key; drivers may
	// wrap it in a hash tag. Required.
	Key string
	// Digest is the value a correct Check will present. Required.
	Digest []byte
	// Sealed is an optional opaque blob kept with the code (the code
	// encrypted by the caller, for re-sending the same code).
	Sealed []byte
	// KeepPending keeps a pending code instead of replacing it.
	KeepPending bool
	// Scope, optional, says who may check the code: an opaque tag of at
	// most MaxScopeLen bytes that the caller derives from what the code is
	// bound to (a session). Each Scope has its own pending code; a Check
	// with another Scope finds nothing pending (see Store.Check).
	Scope []byte
	// Client, optional, is the opaque key of the client that asks (an
	// address, an account), at most MaxScopeLen bytes; empty is a client
	// too. The cooldown, the window budget and the failure caps are kept
	// per (Key, Client).
	Client string
	// TTL is the lifetime of a newly saved code. Required, > 0.
	TTL time.Duration
	// Cooldown is the minimum time between two successful Issues for Key
	// from Client. Zero disables it.
	Cooldown time.Duration
	// SendWindow and SendsPerWindow bound the number of successful Issues for Key
	// from Client in a fixed window that starts with the first of them,
	// and set the Key's send ceiling (see Store.Issue). SendsPerWindow zero
	// disables both.
	SendWindow     time.Duration
	SendsPerWindow int
	// MaxFailures and FailureCeiling refuse to issue while the failure
	// caps refuse Client (see Store.Check). Zero disables them.
	MaxFailures    int
	FailureCeiling int
	// Limits are extra budgets charged with the same Issue (a client IP, an
	// account, a global budget). Their keys are opaque, independent of Key,
	// and distinct from each other.
	Limits []Limit
}

// Limit is a budget of Max successful Issues per fixed Window, shared by
// every Issue that names the same Key.
type Limit struct {
	Key    string
	Max    int
	Window time.Duration
}

// IssueOutcome says what Issue did.
type IssueOutcome int

const (
	// Issued means a new code was saved.
	Issued IssueOutcome = iota + 1
	// Reused means a pending code was kept (IssueRequest.KeepPending).
	Reused
	// Limited means a limit refused the request; nothing changed.
	Limited
)

// String returns the outcome's name.
func (o IssueOutcome) String() string {
	switch o {
	case Issued:
		return "issued"
	case Reused:
		return "reused"
	case Limited:
		return "limited"
	}
	return "unknown"
}

// LimitReason says which limit refused an Issue.
type LimitReason int

const (
	// NoLimit is the zero value: no limit applied.
	NoLimit LimitReason = iota
	// LimitFailures: the destination's failure cap is reached.
	LimitFailures
	// LimitCooldown: the previous send was too recent.
	LimitCooldown
	// LimitWindow: the destination's window budget is spent.
	LimitWindow
	// LimitExtra: one of IssueRequest.Limits is spent (see LimitIndex).
	LimitExtra
)

// String returns the reason's name.
func (r LimitReason) String() string {
	switch r {
	case NoLimit:
		return "none"
	case LimitFailures:
		return "failures"
	case LimitCooldown:
		return "cooldown"
	case LimitWindow:
		return "window"
	case LimitExtra:
		return "extra"
	}
	return "unknown"
}

// IssueResult reports the outcome of Issue.
type IssueResult struct {
	Outcome IssueOutcome
	// Reason and LimitIndex (an index into IssueRequest.Limits, for
	// LimitExtra) say which limit refused a Limited request.
	Reason     LimitReason
	LimitIndex int
	// RetryAfter is, for Limited, how long until that limit lets a request
	// through.
	RetryAfter time.Duration
	// Attempts is the number of wrong guesses already counted against the
	// pending code (carried over, or kept).
	Attempts int
	// ExpiresIn is the remaining lifetime of the pending code (TTL for a
	// new code).
	ExpiresIn time.Duration
	// Sealed is, for Reused, the Sealed value saved with the kept code.
	Sealed []byte
}

// CheckRequest asks a Store to compare a candidate with a pending code.
type CheckRequest struct {
	// Key identifies the destination, as in IssueRequest. Required.
	Key string
	// Digest is the candidate. Required.
	Digest []byte
	// Scope is compared with the pending code's Scope (see
	// IssueRequest.Scope); empty matches only a code saved without one.
	Scope []byte
	// Client is the opaque key of the client that asks, as in
	// IssueRequest.
	Client string
	// MaxAttempts is the number of mismatches that lock a code. Required, > 0.
	MaxAttempts int
	// MaxFailures caps the mismatches counted for Key and for Client in a
	// run (see Store.Check). Zero disables the caps.
	MaxFailures int
	// FailureCeiling, when > 0 (and >= MaxFailures), refuses every client
	// once Key's failure counter reaches it.
	FailureCeiling int
	// FailureWindow is how long a failure counter lives after its latest
	// increment. Required when MaxFailures > 0.
	FailureWindow time.Duration
}

// CheckStatus is the outcome of Check or Attempt.
type CheckStatus int

const (
	// Approved: the candidate matched; the code is consumed.
	Approved CheckStatus = iota + 1
	// Rejected: the candidate did not match; Remaining attempts are left.
	Rejected
	// Expired: nothing is pending for the key.
	Expired
	// Locked: the attempts (or the failure cap) are used up.
	Locked
	// Replayed: (Attempt only) a code already accepted was presented again.
	Replayed
)

// String returns the status's name.
func (s CheckStatus) String() string {
	switch s {
	case Approved:
		return "approved"
	case Rejected:
		return "rejected"
	case Expired:
		return "expired"
	case Locked:
		return "locked"
	case Replayed:
		return "replayed"
	}
	return "unknown"
}

// CheckResult reports the outcome of Check.
type CheckResult struct {
	Status CheckStatus
	// Remaining is the number of wrong guesses still allowed (Rejected).
	Remaining int
}

// AttemptRequest records one attempt against a long-lived secret.
type AttemptRequest struct {
	// Key identifies the secret's owner (opaque). Required.
	Key string
	// Marker identifies the accepted time step; empty for a wrong code.
	Marker string
	// MarkerTTL is how long an accepted marker is remembered. Required when
	// Marker is set.
	MarkerTTL time.Duration
	// MaxFailures locks Key once that many failures are counted. Required, > 0.
	MaxFailures int
	// FailureWindow is how long the failure counter lives after its latest
	// increment. Required, > 0.
	FailureWindow time.Duration
}

// AttemptResult reports the outcome of Attempt.
type AttemptResult struct {
	Status CheckStatus
	// Remaining is the number of failures still allowed (Rejected, Replayed).
	Remaining int
	// RetryAfter is, for Locked, how long until the failure counter expires.
	RetryAfter time.Duration
}

func invalid(why string) error { return fmt.Errorf("%w: %s", ErrInvalidRequest, why) }

// Validate reports whether r is well formed, wrapping ErrInvalidRequest.
func (r IssueRequest) Validate() error {
	switch {
	case r.Key == "":
		return invalid("empty key")
	case len(r.Digest) == 0:
		return invalid("empty digest")
	case r.TTL <= 0:
		return invalid("TTL must be positive")
	case len(r.Scope) > MaxScopeLen:
		return invalid("Scope too long")
	case len(r.Client) > MaxScopeLen:
		return invalid("Client too long")
	case r.FailureCeiling < 0, r.FailureCeiling > 0 && r.FailureCeiling < r.MaxFailures:
		return invalid("FailureCeiling must be 0 or at least MaxFailures")
	case r.Cooldown < 0, r.SendWindow < 0, r.SendsPerWindow < 0, r.MaxFailures < 0:
		return invalid("negative limit")
	case r.SendsPerWindow > 0 && r.SendWindow <= 0:
		return invalid("SendsPerWindow needs a positive SendWindow")
	}
	for i, l := range r.Limits {
		if l.Key == "" || l.Max <= 0 || l.Window <= 0 {
			return invalid("limit needs a key, a positive Max and a positive Window")
		}
		for _, o := range r.Limits[:i] {
			if o.Key == l.Key {
				return invalid("limit key named twice")
			}
		}
	}
	return nil
}

// Validate reports whether r is well formed, wrapping ErrInvalidRequest.
func (r CheckRequest) Validate() error {
	switch {
	case r.Key == "":
		return invalid("empty key")
	case len(r.Digest) == 0:
		return invalid("empty digest")
	case r.MaxAttempts <= 0:
		return invalid("MaxAttempts must be positive")
	case len(r.Scope) > MaxScopeLen:
		return invalid("Scope too long")
	case len(r.Client) > MaxScopeLen:
		return invalid("Client too long")
	case r.FailureCeiling < 0, r.FailureCeiling > 0 && r.FailureCeiling < r.MaxFailures:
		return invalid("FailureCeiling must be 0 or at least MaxFailures")
	case r.MaxFailures < 0:
		return invalid("negative MaxFailures")
	case r.MaxFailures > 0 && r.FailureWindow <= 0:
		return invalid("MaxFailures needs a positive FailureWindow")
	}
	return nil
}

// Validate reports whether r is well formed, wrapping ErrInvalidRequest.
func (r AttemptRequest) Validate() error {
	switch {
	case r.Key == "":
		return invalid("empty key")
	case r.MaxFailures <= 0:
		return invalid("MaxFailures must be positive")
	case r.FailureWindow <= 0:
		return invalid("FailureWindow must be positive")
	case r.Marker != "" && r.MarkerTTL <= 0:
		return invalid("a Marker needs a positive MarkerTTL")
	}
	return nil
}
