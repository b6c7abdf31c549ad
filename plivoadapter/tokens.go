package plivoadapter

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go2fa/go2fa/sender"
)

// Prompt is what the answer handler speaks for one call: the code, the
// Plivo language and, for a code that confirms a payment, the
// transaction. A TokenStore keeps it under the call's one-time token
// until the call is answered or the token expires. It is a plain value,
// safe to copy and share.
type Prompt struct {
	// Code is the one-time code, digits only. A shared TokenStore must not
	// keep it in clear (plivoadapter/plivoredis seals it).
	Code string
	// Language is the Plivo <Speak> language, for example "en-US".
	Language string
	// Transaction, when not nil, is the payment the code confirms, spoken
	// before the digits. A shared TokenStore must not keep it in clear
	// either.
	Transaction *sender.Transaction
	// Retry is zero until the answer URL is first fetched; then the
	// prompt is kept, under a key for that call only, for Plivo's
	// re-fetches until Retry.
	Retry time.Time
}

// String hides the code and the transaction, so printing a Prompt never
// leaks them.
func (p Prompt) String() string { return "plivoadapter.Prompt{" + p.Language + ", code redacted}" }

// GoString is like String.
func (p Prompt) GoString() string { return p.String() }

// TokenStore keeps the prompts of calls in progress under one-time tokens.
// The default is an in-memory store (NewMemoryTokens) for a single
// process; an application with several instances behind a load balancer
// needs a shared implementation, because Plivo may reach any instance:
// package plivoadapter/plivoredis has one on Redis (SET PX and GETDEL).
//
// Keys are the call's token and, once the answer URL has been fetched,
// the token, ".", and the CallUUID of the call that fetched it (the copy
// kept for Plivo's re-fetches of that call).
//
// Implementations must be safe for concurrent use, and Take must be
// atomic: of any number of concurrent Takes of one key, at most one
// returns found=true.
type TokenStore interface {
	// Put saves p under token until expires. A full store returns an error
	// (ErrTokenStoreFull for the memory store); the call is then not
	// placed.
	Put(ctx context.Context, token string, p Prompt, expires time.Time) error
	// Take returns the prompt saved under token and deletes it. An unknown,
	// already taken or expired token gives found=false and a nil error;
	// errors are for system failures only.
	Take(ctx context.Context, token string) (p Prompt, found bool, err error)
	// Delete forgets token; deleting an unknown token is not an error.
	Delete(ctx context.Context, token string) error
}

// DefaultMaxTokens bounds the in-memory token store.
const DefaultMaxTokens = 10_000

// MemoryTokens is the in-memory TokenStore: bounded, with expired tokens
// swept as new ones arrive (no goroutine, nothing to close). It is safe for
// concurrent use.
type MemoryTokens struct {
	mu        sync.Mutex
	max       int
	now       func() time.Time
	m         map[string]memToken
	lastSweep time.Time
}

type memToken struct {
	p   Prompt
	exp time.Time
}

// NewMemoryTokens returns an in-memory store holding at most
// DefaultMaxTokens live tokens (WithCapacity), on time.Now
// (WithStoreClock).
func NewMemoryTokens(opts ...MemoryOption) *MemoryTokens {
	o := memory(DefaultMaxTokens, opts)
	return &MemoryTokens{max: o.max, now: o.now, m: make(map[string]memToken)}
}

// Put implements TokenStore.
func (s *MemoryTokens) Put(ctx context.Context, token string, p Prompt, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= s.max || now.Sub(s.lastSweep) > time.Minute {
		s.sweep(now)
	}
	if len(s.m) >= s.max {
		return ErrTokenStoreFull
	}
	s.m[token] = memToken{p: p, exp: expires}
	return nil
}

func (s *MemoryTokens) sweep(now time.Time) {
	for k, t := range s.m {
		if !now.Before(t.exp) {
			delete(s.m, k)
		}
	}
	s.lastSweep = now
}

// Take implements TokenStore.
func (s *MemoryTokens) Take(ctx context.Context, token string) (Prompt, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[token]
	if !ok {
		return Prompt{}, false, nil
	}
	delete(s.m, token)
	if !s.now().Before(t.exp) {
		return Prompt{}, false, nil
	}
	return t.p, true, nil
}

// Delete implements TokenStore.
func (s *MemoryTokens) Delete(ctx context.Context, token string) error {
	s.mu.Lock()
	delete(s.m, token)
	s.mu.Unlock()
	return nil
}

// Len returns the number of tokens held, expired ones not yet swept
// included.
func (s *MemoryTokens) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

var _ TokenStore = (*MemoryTokens)(nil)

// newToken returns 32 random bytes from r, base64url without padding.
func newToken(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("plivoadapter: call token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
