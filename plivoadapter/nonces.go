package plivoadapter

import (
	"context"
	"time"
)

// NonceStore remembers, for a while, what the callback handlers have
// already accepted, so that a captured callback replayed later is refused.
// Keys are opaque ASCII strings built by this package: "nonce:v3:" or
// "nonce:v2:" and the X-Plivo-Signature-V3-Nonce or -V2-Nonce of a
// callback whose signature checked out, and "failed:" and the MessageUUID
// of a failed SMS (so that WithOnFailure's function runs once per message).
//
// The default is an in-memory store (NewMemoryNonces): it is right for a
// single process, but it forgets everything on restart and is not shared,
// so a captured signed callback can be replayed after a restart or against
// another instance within the nonce window. An application with several
// instances behind a load balancer, or that must survive restarts, should
// give every instance one shared store: package plivoadapter/plivoredis
// has one on Redis (SET NX PX, where a nil reply means seen).
//
// Implementations must be safe for concurrent use, and Seen must be
// atomic: of any number of concurrent Seens of one key within ttl, at most
// one returns seen=false.
type NonceStore interface {
	// Seen records key for ttl and reports whether it was already recorded
	// and not expired. An error means the store could not tell; the
	// callback is then refused and nothing happens.
	Seen(ctx context.Context, key string, ttl time.Duration) (seen bool, err error)
}

// MemoryNonces is the in-memory NonceStore: bounded, with expired keys
// dropped as new ones arrive (no goroutine, nothing to close). When it
// holds its maximum, the oldest keys are forgotten first, even before they
// expire. It is safe for concurrent use.
type MemoryNonces struct {
	set *seenSet
}

// NewMemoryNonces returns an in-memory store holding at most
// DefaultMaxNonces keys (WithCapacity), on time.Now (WithStoreClock).
func NewMemoryNonces(opts ...MemoryOption) *MemoryNonces {
	o := memory(DefaultMaxNonces, opts)
	return &MemoryNonces{set: newSeenSet(DefaultNonceWindow, o.max, o.now)}
}

// Seen implements NonceStore. A ttl <= 0 means DefaultNonceWindow. It
// never fails.
func (m *MemoryNonces) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return !m.set.addFor(key, ttl), nil
}

var _ NonceStore = (*MemoryNonces)(nil)
