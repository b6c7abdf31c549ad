package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store/storetest"
)

// TestConformance runs the store conformance suite on miniredis (always, on
// a clock the suite moves), on the redis-server at REDIS_URL and on the
// Redis Cluster at REDIS_CLUSTER_ADDRS (on real time, when those are set).
func TestConformance(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) storetest.Harness {
			mi := newMini(t)
			c := redis.NewClient(&redis.Options{Addr: mi.m.Addr()})
			t.Cleanup(func() { c.Close() })
			return storetest.Harness{Store: newTestStore(t, c), Advance: mi.Advance}
		})
	})
	real := func(t *testing.T, b backend) {
		c := b.client(t)
		s := newTestStore(t, c) // random keys per subtest; one prefix per run
		storetest.Run(t, func(t *testing.T) storetest.Harness { return storetest.Harness{Store: s} })
	}
	t.Run("redis", func(t *testing.T) {
		b, ok := standaloneBackend(t)
		if !ok {
			t.Skip("REDIS_URL not set: skipping the conformance suite on a real redis-server")
		}
		real(t, b)
	})
	t.Run("cluster", func(t *testing.T) {
		b, ok := clusterBackend(t)
		if !ok {
			t.Skip("REDIS_CLUSTER_ADDRS not set: skipping the conformance suite on a Redis Cluster")
		}
		real(t, b)
	})
}
