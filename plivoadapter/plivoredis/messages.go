package plivoredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/sender"
	"github.com/redis/go-redis/v9"
)

// Messages is a plivoadapter.MessageStore in Redis: one key per sent
// message, named by the HMAC of its message UUID, holding the sealed Sent
// value, with a TTL that ends at Sent.Expires. Put is one SET PX (a DEL
// for a Sent already expired), Get one GET. It is safe for concurrent use
// and holds nothing to close (the Client belongs to the caller).
type Messages struct{ k *core }

// NewMessages returns a MessageStore on c.Client; it fails with ErrConfig
// for a Config without Client or with a short Secret.
func NewMessages(c Config) (*Messages, error) {
	k, err := newCore(c)
	if err != nil {
		return nil, err
	}
	return &Messages{k: k}, nil
}

type sealedSent struct {
	Ref     string `json:"r"`
	Channel string `json:"c"`
	Expires int64  `json:"e"`
}

// Put implements plivoadapter.MessageStore.
func (m *Messages) Put(ctx context.Context, uuid string, s plivoadapter.Sent) error {
	key := m.k.key("m", uuid)
	plain, err := json.Marshal(sealedSent{Ref: s.Ref, Channel: string(s.Channel), Expires: unixNano(s.Expires)})
	if err != nil {
		return fmt.Errorf("plivoredis: put message: %w", err)
	}
	v, err := m.k.seal(key, plain)
	if err != nil {
		return err
	}
	if err := m.k.set(ctx, key, v, s.Expires); err != nil {
		return fmt.Errorf("plivoredis: put message: %w", err)
	}
	return nil
}

// Get implements plivoadapter.MessageStore. A value that does not open is
// ErrSealed.
func (m *Messages) Get(ctx context.Context, uuid string) (plivoadapter.Sent, bool, error) {
	key := m.k.key("m", uuid)
	b, err := m.k.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return plivoadapter.Sent{}, false, nil
	}
	if err != nil {
		return plivoadapter.Sent{}, false, fmt.Errorf("plivoredis: get message: %w", err)
	}
	plain, err := m.k.open(key, b)
	if err != nil {
		return plivoadapter.Sent{}, false, err
	}
	var v sealedSent
	if err := json.Unmarshal(plain, &v); err != nil {
		return plivoadapter.Sent{}, false, ErrSealed
	}
	s := plivoadapter.Sent{Ref: v.Ref, Channel: sender.Channel(v.Channel), Expires: fromUnixNano(v.Expires)}
	if !m.k.now().Before(s.Expires) {
		return plivoadapter.Sent{}, false, nil
	}
	return s, true, nil
}

var _ plivoadapter.MessageStore = (*Messages)(nil)
