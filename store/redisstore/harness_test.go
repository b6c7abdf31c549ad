package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// backend is one Redis deployment the tests run against.
type backend struct {
	name string
	// client returns a client for one test; it is closed by t.Cleanup.
	client func(t *testing.T) redis.UniversalClient
	// advance moves the backend's clock; nil means real time (sleep).
	advance func(t *testing.T, d time.Duration)
}

// mini starts one miniredis per test, with a clock the test moves: TIME,
// (P)EXPIREAT and TTLs all follow SetTime (ClockTTL).
type mini struct {
	mu  sync.Mutex
	m   *miniredis.Miniredis
	now time.Time
}

func newMini(t *testing.T) *mini {
	t.Helper()
	m := miniredis.RunT(t)
	mi := &mini{m: m, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m.SetTime(mi.now)
	m.ClockTTL(true)
	return mi
}

func (mi *mini) Advance(d time.Duration) {
	mi.mu.Lock()
	defer mi.mu.Unlock()
	mi.now = mi.now.Add(d)
	mi.m.SetTime(mi.now)
}

func miniBackend() backend {
	var mu sync.Mutex
	minis := map[*testing.T]*mini{}
	return backend{
		name: "miniredis",
		client: func(t *testing.T) redis.UniversalClient {
			mi := newMini(t)
			mu.Lock()
			minis[t] = mi
			mu.Unlock()
			t.Cleanup(func() { mu.Lock(); delete(minis, t); mu.Unlock() })
			c := redis.NewClient(&redis.Options{Addr: mi.m.Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		},
		advance: func(t *testing.T, d time.Duration) {
			mu.Lock()
			mi := minis[t]
			mu.Unlock()
			mi.Advance(d)
		},
	}
}

// standaloneBackend is the redis-server named by REDIS_URL.
func standaloneBackend(t *testing.T) (backend, bool) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		return backend{}, false
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	return backend{name: "redis", client: func(t *testing.T) redis.UniversalClient {
		c := redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs: []string{opt.Addr}, DB: opt.DB, Username: opt.Username, Password: opt.Password,
		})
		t.Cleanup(func() { c.Close() })
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("REDIS_URL is set but redis does not answer: %v", err)
		}
		return c
	}}, true
}

// clusterBackend is the Redis Cluster named by REDIS_CLUSTER_ADDRS.
func clusterBackend(t *testing.T) (backend, bool) {
	addrs := os.Getenv("REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		return backend{}, false
	}
	return backend{name: "cluster", client: func(t *testing.T) redis.UniversalClient {
		c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: strings.Split(addrs, ","), IsClusterMode: true})
		t.Cleanup(func() { c.Close() })
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("REDIS_CLUSTER_ADDRS is set but the cluster does not answer: %v", err)
		}
		return c
	}}, true
}

// forEachBackend runs f on miniredis, and on real Redis and a real Cluster
// when their variables are set (saying so when they are not).
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) { f(t, miniBackend()) })
	t.Run("redis", func(t *testing.T) {
		b, ok := standaloneBackend(t)
		if !ok {
			t.Skip("REDIS_URL not set: skipping the real redis-server run")
		}
		f(t, b)
	})
	t.Run("cluster", func(t *testing.T) {
		b, ok := clusterBackend(t)
		if !ok {
			t.Skip("REDIS_CLUSTER_ADDRS not set: skipping the Redis Cluster run")
		}
		f(t, b)
	})
}

// testPrefix is unique per call, so runs on a shared server never collide.
func testPrefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "go2fatest-" + hex.EncodeToString(b[:])
}

// newTestStore returns a Store with a unique prefix on c, and deletes every
// key under that prefix when the test ends.
func newTestStore(t testing.TB, c redis.UniversalClient) *Store {
	t.Helper()
	s, err := New(c, WithPrefix(testPrefix(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(t, c, s) })
	return s
}

// deleteKeys deletes every key of s, in pipelined batches.
func deleteKeys(t testing.TB, c redis.UniversalClient, s *Store) {
	t.Helper()
	ctx := context.Background()
	keys := scanKeys(t, c, s)
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[:n] {
				p.Unlink(ctx, k)
			}
			return nil
		}); err != nil {
			t.Logf("deleting keys: %v", err)
			return
		}
		keys = keys[n:]
	}
}

// scanKeys lists every key of s, on every master of a Cluster.
func scanKeys(t testing.TB, c redis.UniversalClient, s *Store) []string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, s.keyPattern(), 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(ctx, c)
	}
	if err != nil {
		t.Logf("scanning keys: %v", err)
	}
	return keys
}

// keyPattern is a SCAN pattern matching every key of the Store (tests,
// maintenance): the prefix with glob characters escaped.
func (s *Store) keyPattern() string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s.prefix) + ":*"
}
