// Package plivoredis keeps plivoadapter's callback state in Redis, so that
// several instances behind one callback URL, and an instance after a
// restart, share it: the sent messages that delivery reports are tied to
// (Messages, a plivoadapter.MessageStore), the callbacks already accepted
// (Nonces, a plivoadapter.NonceStore) and the prompts of calls in progress
// (Tokens, a plivoadapter.TokenStore).
//
// Every store takes a redis.UniversalClient, so one code path serves a
// single server, Sentinel and Cluster; every operation is one command on
// one key (SET PX, GET, GETDEL, SET NX PX, DEL), so it is one round trip
// and atomic on its own, and needs no hash tags on a Cluster.
//
// Nothing is kept in clear. A key is the prefix, a kind ("m", "n" or "t")
// and the HMAC-SHA256 of what plivoadapter names the entry by (a message
// UUID, a nonce, a call token), under a key derived from Config.Secret:
// Redis never sees a token that could be replayed to the answer URL.
// Values (a message's Ref, a call's code and language) are sealed with
// AES-256-GCM under a second key derived from the secret, bound to their
// Redis key, so a value copied to another key, or changed, fails to open;
// that is an error, not a miss. Every entry carries a Redis TTL, so Redis
// drops it when it expires.
//
// Redis errors are returned as errors, never as "not found": plivoadapter's
// handlers then refuse the callback (fail closed).
package plivoredis

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "go2fa:plivo:"

// MinSecretLen is the shortest Config.Secret accepted, in bytes.
const MinSecretLen = 32

var (
	// ErrConfig reports an unusable Config.
	ErrConfig = errors.New("plivoredis: bad config")
	// ErrSealed reports a value in Redis that does not open under the
	// configured secret: changed, moved to another key, or written with
	// another secret. The callback that needed it is refused.
	ErrSealed = errors.New("plivoredis: stored value does not open")
)

// Config configures the stores. Every instance that serves the same
// callback URLs must use the same Client (or clients of the same Redis),
// Prefix and Secret.
type Config struct {
	// Client is the Redis client: a *redis.Client (standalone, or from
	// redis.NewFailoverClient for Sentinel) or a *redis.ClusterClient, as
	// redis.NewUniversalClient returns them. Required.
	Client redis.UniversalClient
	// Prefix starts every key. The default value is DefaultPrefix.
	Prefix string
	// Secret derives the key that names entries and the key that seals
	// their values: at least MinSecretLen random bytes, kept out of Redis.
	// Changing it forgets every entry. Required.
	Secret []byte
	// Now is the clock; the default value is time.Now. Entries expire by
	// it (and by Redis TTLs computed from it).
	Now func() time.Time
	// Rand supplies the sealing nonces; the default value is crypto/rand.
	Rand io.Reader
}

// core holds what the three stores share.
type core struct {
	rdb    redis.UniversalClient
	prefix string
	name   []byte
	aead   cipher.AEAD
	now    func() time.Time
	rand   io.Reader
}

func newCore(c Config) (*core, error) {
	if c.Client == nil {
		return nil, fmt.Errorf("%w: Client is nil", ErrConfig)
	}
	if len(c.Secret) < MinSecretLen {
		return nil, fmt.Errorf("%w: Secret is shorter than %d bytes", ErrConfig, MinSecretLen)
	}
	name, err := hkdf.Key(sha256.New, c.Secret, nil, "go2fa plivoredis key names v1", 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	sealKey, err := hkdf.Key(sha256.New, c.Secret, nil, "go2fa plivoredis sealed values v1", 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	k := &core{rdb: c.Client, prefix: c.Prefix, name: name, aead: aead, now: c.Now, rand: c.Rand}
	if k.prefix == "" {
		k.prefix = DefaultPrefix
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	return k, nil
}

// key returns the Redis key of entry id of the given kind.
func (k *core) key(kind, id string) string {
	m := hmac.New(sha256.New, k.name)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return k.prefix + kind + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// seal encrypts plain for key: the GCM nonce followed by the ciphertext,
// with key as additional data.
func (k *core) seal(key string, plain []byte) ([]byte, error) {
	out := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := io.ReadFull(k.rand, out); err != nil {
		return nil, fmt.Errorf("plivoredis: seal: %w", err)
	}
	return k.aead.Seal(out, out, plain, []byte(key)), nil
}

// open reverses seal; anything that does not open is ErrSealed.
func (k *core) open(key string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrSealed
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(key))
	if err != nil {
		return nil, ErrSealed
	}
	return plain, nil
}

// set stores value under key until expires, or deletes key when expires
// is not after now (as a memory store overwrites the entry with one that
// is already dead).
func (k *core) set(ctx context.Context, key string, value []byte, expires time.Time) error {
	ttl := expires.Sub(k.now())
	if ttl <= 0 {
		return k.rdb.Del(ctx, key).Err()
	}
	// Round up to Redis's millisecond, so Redis never drops an entry
	// before it expires by Now.
	if r := ttl % time.Millisecond; r != 0 {
		ttl += time.Millisecond - r
	}
	return k.rdb.Set(ctx, key, value, ttl).Err()
}

// unixNano and fromUnixNano carry a time through a sealed value; the zero
// time stays zero.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
