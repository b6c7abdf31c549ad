package plivoredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/sender"
	"github.com/redis/go-redis/v9"
)

// Tokens is a plivoadapter.TokenStore in Redis: one key per token (and
// per token and CallUUID for the copy kept for Plivo's re-fetches), named
// by the HMAC of the token, holding the sealed Prompt (code, language,
// transaction and Retry), with a TTL that ends when the prompt expires. Put is one SET PX
// (a DEL for an expiry already past), Take one GETDEL (Redis 6.2 or
// later), so of any number of concurrent Takes of one token, on any number
// of instances, at most one finds it; Delete is one DEL. Take refuses a
// prompt whose expiry has passed by Config.Now, as the memory store does,
// even if Redis has not dropped it yet. It is safe for concurrent use and
// holds nothing to close. There is no bound on the number of tokens other
// than Redis's memory: Put never returns plivoadapter.ErrTokenStoreFull.
type Tokens struct{ k *core }

// NewTokens returns a TokenStore on c.Client; it fails with ErrConfig for
// a Config without Client or with a short Secret.
func NewTokens(c Config) (*Tokens, error) {
	k, err := newCore(c)
	if err != nil {
		return nil, err
	}
	return &Tokens{k: k}, nil
}

type sealedPrompt struct {
	Code        string              `json:"c"`
	Language    string              `json:"l"`
	Transaction *sender.Transaction `json:"t,omitempty"`
	Retry       int64               `json:"r"`
	Expires     int64               `json:"e"`
}

// Put implements plivoadapter.TokenStore.
func (t *Tokens) Put(ctx context.Context, token string, p plivoadapter.Prompt, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := t.k.key("t", token)
	plain, err := json.Marshal(sealedPrompt{Code: p.Code, Language: p.Language, Transaction: p.Transaction, Retry: unixNano(p.Retry), Expires: unixNano(expires)})
	if err != nil {
		return fmt.Errorf("plivoredis: put token: %w", err)
	}
	v, err := t.k.seal(key, plain)
	if err != nil {
		return err
	}
	if err := t.k.set(ctx, key, v, expires); err != nil {
		return fmt.Errorf("plivoredis: put token: %w", err)
	}
	return nil
}

// Take implements plivoadapter.TokenStore. A value that does not open is
// ErrSealed (and is gone: GETDEL removed it).
func (t *Tokens) Take(ctx context.Context, token string) (plivoadapter.Prompt, bool, error) {
	key := t.k.key("t", token)
	b, err := t.k.rdb.GetDel(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return plivoadapter.Prompt{}, false, nil
	}
	if err != nil {
		return plivoadapter.Prompt{}, false, fmt.Errorf("plivoredis: take token: %w", err)
	}
	plain, err := t.k.open(key, b)
	if err != nil {
		return plivoadapter.Prompt{}, false, err
	}
	var v sealedPrompt
	if err := json.Unmarshal(plain, &v); err != nil {
		return plivoadapter.Prompt{}, false, ErrSealed
	}
	if !t.k.now().Before(fromUnixNano(v.Expires)) {
		return plivoadapter.Prompt{}, false, nil
	}
	return plivoadapter.Prompt{Code: v.Code, Language: v.Language, Transaction: v.Transaction, Retry: fromUnixNano(v.Retry)}, true, nil
}

// Delete implements plivoadapter.TokenStore.
func (t *Tokens) Delete(ctx context.Context, token string) error {
	if err := t.k.rdb.Del(ctx, t.k.key("t", token)).Err(); err != nil {
		return fmt.Errorf("plivoredis: delete token: %w", err)
	}
	return nil
}

var _ plivoadapter.TokenStore = (*Tokens)(nil)
