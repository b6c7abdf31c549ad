package plivoadapter

import (
	"context"
	"sync"
	"time"

	"github.com/go2fa/go2fa/sender"
)

// Sent is what the SMS sender remembers about a message it sent, so that
// a status callback can be tied to it. It holds no code and no number. It
// is a plain value, safe to copy and share.
type Sent struct {
	// Ref is the sender.Message.Ref the message was sent with.
	Ref string
	// Channel is the channel the message went on.
	Channel sender.Channel
	// Expires is when the message's code stops mattering: the store may
	// forget the message then.
	Expires time.Time
}

// MessageStore remembers sent messages under Plivo's message UUID until
// they expire. The default is an in-memory store (NewMemoryMessages) for
// a single process; instances that share a StatusURL behind a load
// balancer need a shared implementation, because Plivo may call any of
// them: package plivoadapter/plivoredis has one on Redis.
//
// Implementations must be safe for concurrent use.
type MessageStore interface {
	// Put remembers s under uuid until s.Expires.
	Put(ctx context.Context, uuid string, s Sent) error
	// Get returns what Put saved under uuid. An unknown or expired uuid
	// gives found=false and a nil error; errors are for system failures
	// only.
	Get(ctx context.Context, uuid string) (s Sent, found bool, err error)
}

// DefaultMaxMessages bounds the default in-memory MessageStore.
const DefaultMaxMessages = 100_000

// MemoryMessages is the in-memory MessageStore: bounded, with expired
// messages dropped as new ones arrive (no goroutine, nothing to close).
// When it holds its maximum, the oldest messages are forgotten first, even
// before they expire (their reports are then refused as unknown). It is
// safe for concurrent use.
type MemoryMessages struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	m     map[string]Sent
	order []string // insertion order, for eviction
}

// NewMemoryMessages returns an in-memory store holding at most
// DefaultMaxMessages messages (WithCapacity), on time.Now
// (WithStoreClock).
func NewMemoryMessages(opts ...MemoryOption) *MemoryMessages {
	o := memory(DefaultMaxMessages, opts)
	return &MemoryMessages{max: o.max, now: o.now, m: make(map[string]Sent)}
}

// Put implements MessageStore. It never fails.
func (s *MemoryMessages) Put(ctx context.Context, uuid string, v Sent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for len(s.order) > 0 {
		old, ok := s.m[s.order[0]]
		if ok && now.Before(old.Expires) && len(s.m) < s.max {
			break
		}
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
	if _, ok := s.m[uuid]; !ok {
		s.order = append(s.order, uuid)
	}
	s.m[uuid] = v
	return nil
}

// Get implements MessageStore. It never fails.
func (s *MemoryMessages) Get(ctx context.Context, uuid string) (Sent, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[uuid]
	if !ok || !s.now().Before(v.Expires) {
		return Sent{}, false, nil
	}
	return v, true, nil
}

// Len returns the number of messages held, expired ones not yet dropped
// included.
func (s *MemoryMessages) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

var _ MessageStore = (*MemoryMessages)(nil)
