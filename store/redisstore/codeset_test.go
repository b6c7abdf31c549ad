package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
)

// commandLog records the commands a client sends, one entry per round
// trip (a pipeline is one entry).
type commandLog struct {
	mu   sync.Mutex
	trip [][]string
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.mu.Lock()
		l.trip = append(l.trip, []string{cmd.Name()})
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var names []string
		for _, c := range cmds {
			names = append(names, c.Name())
		}
		l.mu.Lock()
		l.trip = append(l.trip, names)
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (l *commandLog) take() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.trip
	l.trip = nil
	return t
}

// Each code-set operation is one round trip once the scripts are loaded,
// and every key it writes shares the owner's hash tag, carries a TTL, and
// holds no digest: only fingerprints.
func TestCodeSetRoundTripsAndLayout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		c := b.client(t)
		log := &commandLog{}
		c.AddHook(log)
		s := newTestStore(t, c)
		ctx := t.Context()
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
		log.take()
		ds := make([][]byte, 10)
		for i := range ds {
			ds[i] = make([]byte, 32)
			rand.Read(ds[i])
		}
		const owner = "owner-key"
		ops := []struct {
			name string
			want string
			call func() error
		}{
			{"ReplaceCodes", "evalsha", func() error {
				return s.ReplaceCodes(ctx, store.ReplaceCodesRequest{Key: owner, Digests: ds, TTL: time.Hour})
			}},
			{"RedeemCode right", "evalsha", func() error {
				_, err := s.RedeemCode(ctx, store.RedeemCodeRequest{Key: owner, Digest: ds[0], MaxFailures: 5, FailureWindow: time.Minute})
				return err
			}},
			{"RedeemCode wrong", "evalsha", func() error {
				_, err := s.RedeemCode(ctx, store.RedeemCodeRequest{Key: owner, Digest: []byte("wrong"), MaxFailures: 5, FailureWindow: time.Minute})
				return err
			}},
			{"CountCodes", "scard", func() error {
				_, err := s.CountCodes(ctx, owner)
				return err
			}},
		}
		for _, o := range ops {
			if err := o.call(); err != nil {
				t.Fatalf("%s: %v", o.name, err)
			}
			if got := log.take(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != o.want {
				t.Errorf("%s sent %v, want one round trip: [[%s]]", o.name, got, o.want)
			}
		}
		keys := scanKeys(t, c, s)
		if len(keys) != 2 {
			t.Fatalf("keys after Replace and a failed Redeem: %q, want the set and its failure counter", keys)
		}
		for _, k := range keys {
			if !strings.Contains(k, "{"+owner+"}") {
				t.Errorf("key %q lacks the owner's hash tag", k)
			}
			ttl, err := c.PTTL(ctx, k).Result()
			if err != nil || ttl <= 0 {
				t.Errorf("key %q: PTTL = %v, %v; want a positive TTL", k, ttl, err)
			}
		}
		set, _ := s.codeKeys(owner)
		members, err := c.SMembers(ctx, set).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 9 {
			t.Fatalf("set holds %d members, want 9", len(members))
		}
		for _, m := range members {
			for _, d := range ds {
				if bytes.Contains([]byte(m), d[:8]) {
					t.Fatalf("a set member contains part of a digest")
				}
			}
		}
	})
}
