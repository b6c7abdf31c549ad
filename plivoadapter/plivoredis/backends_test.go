package plivoredis_test

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
	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter/plivoredis"
	"github.com/redis/go-redis/v9"
)

// secret is the test stores' Config.Secret.
var secret = []byte("0123456789abcdef0123456789abcdef")

// redisEnv is one Redis the tests run against: a client, a key prefix of
// the test's own, and, on miniredis, a way to move Redis's clock.
type redisEnv struct {
	rdb    redis.UniversalClient
	prefix string
	// ff moves Redis's clock (TTLs) forward; nil on a real server.
	ff func(time.Duration)
	mr *miniredis.Miniredis
	// another opens another client of the same Redis, as a second
	// instance of the application would.
	another func(t *testing.T) redis.UniversalClient
}

// config returns a Config for e's client and prefix with clock clk.
func (e *redisEnv) config(clk *testclock.Clock) plivoredis.Config {
	c := plivoredis.Config{Client: e.rdb, Prefix: e.prefix, Secret: secret}
	if clk != nil {
		c.Now = clk.Now
	}
	return c
}

// dump returns every key under e's prefix with its value, on every
// master of a Cluster.
func (e *redisEnv) dump(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var mu sync.Mutex
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, e.prefix+"*", 100).Iterator()
		for it.Next(ctx) {
			v, err := c.Get(ctx, it.Val()).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			out[it.Val()] = v
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	switch c := e.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		t.Fatalf("dump: unexpected client %T", e.rdb)
	}
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return out
}

// pttl returns key's remaining TTL.
func (e *redisEnv) pttl(t *testing.T, key string) time.Duration {
	t.Helper()
	d, err := e.rdb.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// envs returns the Redis servers to test against: miniredis always, the
// server at REDIS_URL and the Cluster at REDIS_CLUSTER_ADDRS when set
// (their subtests skip, naming the variable, when unset).
func envs() []struct {
	name string
	env  string
	new  func(t *testing.T) *redisEnv
} {
	return []struct {
		name string
		env  string
		new  func(t *testing.T) *redisEnv
	}{
		{"miniredis", "", newMiniredis},
		{"redis", "REDIS_URL", newRealRedis},
		{"cluster", "REDIS_CLUSTER_ADDRS", newCluster},
	}
}

// eachRedis runs f once per Redis from envs, in parallel subtests.
func eachRedis(t *testing.T, f func(t *testing.T, e *redisEnv)) {
	t.Helper()
	for _, b := range envs() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			if b.env != "" && os.Getenv(b.env) == "" {
				t.Skipf("%s is not set", b.env)
			}
			f(t, b.new(t))
		})
	}
}

func newMiniredis(t *testing.T) *redisEnv {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	another := func(t *testing.T) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { c.Close() })
		return c
	}
	return &redisEnv{rdb: rdb, prefix: "test:", ff: mr.FastForward, mr: mr, another: another}
}

// testPrefix is a key prefix no other test uses, so tests can share a
// real server.
func testPrefix(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	return "go2fa-test:plivoredis:" + hex.EncodeToString(b[:]) + ":"
}

func newRealRedis(t *testing.T) *redisEnv {
	t.Helper()
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	another := func(t *testing.T) redis.UniversalClient {
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		return c
	}
	e := &redisEnv{rdb: rdb, prefix: testPrefix(t), another: another}
	t.Cleanup(func() { cleanup(t, e); rdb.Close() })
	return e
}

func newCluster(t *testing.T) *redisEnv {
	t.Helper()
	opt := &redis.ClusterOptions{Addrs: strings.Split(os.Getenv("REDIS_CLUSTER_ADDRS"), ",")}
	rdb := redis.NewClusterClient(opt)
	another := func(t *testing.T) redis.UniversalClient {
		c := redis.NewClusterClient(opt)
		t.Cleanup(func() { c.Close() })
		return c
	}
	e := &redisEnv{rdb: rdb, prefix: testPrefix(t), another: another}
	t.Cleanup(func() { cleanup(t, e); rdb.Close() })
	return e
}

// cleanup deletes the keys a test left under its prefix.
func cleanup(t *testing.T, e *redisEnv) {
	for k := range e.dump(t) {
		e.rdb.Del(context.Background(), k)
	}
}
