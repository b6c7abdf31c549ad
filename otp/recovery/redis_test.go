package recovery_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp/recovery"
	"github.com/go2fa/go2fa/store/redisstore"
)

// TestRealRedis attacks recovery codes on the redis-server at REDIS_URL:
// two hundred concurrent redemptions of one code over a pool of
// connections, and a dump of every key and value the run wrote (DUMP, the
// serialized form Redis would write to disk).
func TestRealRedis(t *testing.T) {
	u := os.Getenv("REDIS_URL")
	if u == "" {
		t.Skip("REDIS_URL not set: skipping recovery codes on a real redis-server (.ci/run sets it)")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	opt.PoolSize = 64
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	var b [6]byte
	rand.Read(b[:])
	prefix := "recovery-" + hex.EncodeToString(b[:])
	s, err := redisstore.New(rdb, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := func() []string {
		ks, err := rdb.Keys(ctx, prefix+":*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	t.Cleanup(func() {
		for _, k := range keys() {
			rdb.Del(ctx, k)
		}
	})
	m, err := recovery.New(recovery.Config{Store: s, Secret: secret, MaxFailures: 1000})
	if err != nil {
		t.Fatal(err)
	}
	const account = "alice@example.com"
	codes, err := m.Generate(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var mu sync.Mutex
	got := map[recovery.Status]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			res, err := m.Redeem(ctx, account, codes[2])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			got[res.Status]++
		})
	}
	close(start)
	wg.Wait()
	if got[recovery.Approved] != 1 || got[recovery.Rejected] != n-1 {
		t.Fatalf("%d concurrent redemptions of one code: %v, want 1 approved, %d rejected", n, got, n-1)
	}

	var dump bytes.Buffer
	ks := keys()
	if len(ks) != 2 {
		t.Fatalf("keys written: %q, want the set and the failure counter", ks)
	}
	for _, k := range ks {
		v, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		dump.WriteString(k + "\n" + v + "\n")
	}
	for _, sec := range append([]string{account, "alice"}, codes...) {
		if bytes.Contains(dump.Bytes(), []byte(sec)) || bytes.Contains(dump.Bytes(), []byte(strings.ReplaceAll(sec, "-", ""))) {
			t.Errorf("the Redis dump contains %q", sec)
		}
	}
}
