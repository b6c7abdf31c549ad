package plivoredis

import (
	"context"
	"fmt"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
)

// Nonces is a plivoadapter.NonceStore in Redis: Seen is one
// SET <key> 1 NX PX <ttl>, where the key is named by the HMAC of
// plivoadapter's key, so of any number of concurrent Seens of one key,
// on any number of instances, exactly one reports seen=false until the
// TTL ends. It is safe for concurrent use and holds nothing to close.
type Nonces struct{ k *core }

// NewNonces returns a NonceStore on c.Client; it fails with ErrConfig for
// a Config without Client or with a short Secret. Config.Now is not used:
// nonces expire by Redis's clock alone.
func NewNonces(c Config) (*Nonces, error) {
	k, err := newCore(c)
	if err != nil {
		return nil, err
	}
	return &Nonces{k: k}, nil
}

// Seen implements plivoadapter.NonceStore. A ttl <= 0 means
// plivoadapter.DefaultNonceWindow; a ttl is rounded up to Redis's
// millisecond.
func (n *Nonces) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		ttl = plivoadapter.DefaultNonceWindow
	}
	if r := ttl % time.Millisecond; r != 0 {
		ttl += time.Millisecond - r
	}
	fresh, err := n.k.rdb.SetNX(ctx, n.k.key("n", key), "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("plivoredis: nonce: %w", err)
	}
	return !fresh, nil
}

var _ plivoadapter.NonceStore = (*Nonces)(nil)
