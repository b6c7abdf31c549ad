package store

import (
	"bytes"
	"context"
	"time"
)

// MaxCodeSetLen is the largest number of digests one code set may hold.
const MaxCodeSetLen = 100

// CodeSets is an optional extension of Store for sets of long-lived,
// single-use codes, such as recovery codes: a user holds a handful of them,
// each approves once, and a new set replaces the old one as a whole.
// store/memstore and store/redisstore implement it; check for it with a
// type assertion (s.(store.CodeSets)).
//
// As with Store, the caller hands over opaque keys and digests (keyed
// hashes of the codes), never a code; every method is atomic with respect
// to every other method on the same key; "not found" is not an error; a
// request that breaks the contract (see the Validate methods) changes
// nothing and returns an error wrapping ErrInvalidRequest; a call whose
// context is done returns an error wrapping ctx.Err() and changes nothing.
//
// The code set of a key and its failure counter are independent of the
// pending code, counters and markers that Store's methods keep under the
// same key.
//
// Implementations must be safe for concurrent use by multiple goroutines
// and, where the backend is shared, by multiple processes.
type CodeSets interface {
	// ReplaceCodes atomically makes the code set of req.Key exactly
	// req.Digests, living req.TTL from now. Every code of the previous set,
	// redeemed or not, stops approving at once: a concurrent RedeemCode
	// sees either the whole old set or the whole new one. The failure
	// counter of the key is not changed.
	ReplaceCodes(ctx context.Context, req ReplaceCodesRequest) error

	// RedeemCode atomically compares a candidate digest with the code set
	// of req.Key:
	//
	//   - failure counter at or above MaxFailures: Locked with RetryAfter,
	//     the time until the counter expires; nothing is compared;
	//   - digest in the set: it is removed from the set, the failure
	//     counter is reset, and the result is Approved with Left, the
	//     number of codes still in the set. Of any number of concurrent
	//     RedeemCode calls with one digest, exactly one is Approved;
	//   - digest not in the set (never issued, redeemed already, replaced,
	//     expired, or no set at all): the failure counter is incremented
	//     (it lives FailureWindow from its first increment); Locked if it
	//     reaches MaxFailures, else Rejected with Remaining = MaxFailures -
	//     failures. Under any concurrency at most MaxFailures - 1 wrong
	//     candidates are answered Rejected before the lock.
	//
	// Left is reported with every status. Digests are compared in constant
	// time where the backend allows it; a digest is a keyed hash under a
	// secret the Store never sees, so a lookup's timing cannot guide a
	// guesser.
	RedeemCode(ctx context.Context, req RedeemCodeRequest) (RedeemCodeResult, error)

	// CountCodes returns the number of unredeemed codes in the set of key:
	// zero when there is none or it has expired.
	CountCodes(ctx context.Context, key string) (int, error)
}

// ReplaceCodesRequest asks a CodeSets to replace the code set of one key.
type ReplaceCodesRequest struct {
	// Key identifies the owner of the set (opaque, as in IssueRequest).
	// Required.
	Key string
	// Digests are the codes of the new set: 1 to MaxCodeSetLen distinct,
	// non-empty values. Required.
	Digests [][]byte
	// TTL is the lifetime of the new set. Required, > 0.
	TTL time.Duration
}

// RedeemCodeRequest asks a CodeSets to redeem one code of a set.
type RedeemCodeRequest struct {
	// Key identifies the owner of the set. Required.
	Key string
	// Digest is the candidate. Required.
	Digest []byte
	// MaxFailures is the number of failures that lock the set. Required, > 0.
	MaxFailures int
	// FailureWindow is how long the failure counter lives after its first
	// increment. Required, > 0.
	FailureWindow time.Duration
}

// RedeemCodeResult reports the outcome of RedeemCode.
type RedeemCodeResult struct {
	// Status is Approved, Rejected or Locked.
	Status CheckStatus
	// Remaining is the number of failures still allowed (Rejected).
	Remaining int
	// Left is the number of codes left in the set.
	Left int
	// RetryAfter is, for Locked, how long until the failure counter
	// expires.
	RetryAfter time.Duration
}

// Validate reports whether r is well formed, wrapping ErrInvalidRequest.
func (r ReplaceCodesRequest) Validate() error {
	switch {
	case r.Key == "":
		return invalid("empty key")
	case len(r.Digests) == 0:
		return invalid("empty code set")
	case len(r.Digests) > MaxCodeSetLen:
		return invalid("code set larger than MaxCodeSetLen")
	case r.TTL <= 0:
		return invalid("TTL must be positive")
	}
	for i, d := range r.Digests {
		if len(d) == 0 {
			return invalid("empty digest")
		}
		for _, o := range r.Digests[:i] {
			if bytes.Equal(o, d) {
				return invalid("digest named twice")
			}
		}
	}
	return nil
}

// Validate reports whether r is well formed, wrapping ErrInvalidRequest.
func (r RedeemCodeRequest) Validate() error {
	switch {
	case r.Key == "":
		return invalid("empty key")
	case len(r.Digest) == 0:
		return invalid("empty digest")
	case r.MaxFailures <= 0:
		return invalid("MaxFailures must be positive")
	case r.FailureWindow <= 0:
		return invalid("FailureWindow must be positive")
	}
	return nil
}
