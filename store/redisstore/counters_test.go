package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store/storetest"
)

// TestCounterConformance runs the store.Counters suite on miniredis and,
// when REDIS_URL / REDIS_CLUSTER_ADDRS are set, on a real redis-server and
// a Redis Cluster.
func TestCounterConformance(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		storetest.RunCounters(t, func(t *testing.T) storetest.Harness {
			mi := newMini(t)
			c := redis.NewClient(&redis.Options{Addr: mi.m.Addr()})
			t.Cleanup(func() { c.Close() })
			return storetest.Harness{Store: newTestStore(t, c), Advance: mi.Advance}
		})
	})
	real := func(t *testing.T, b backend) {
		s := newTestStore(t, b.client(t))
		storetest.RunCounters(t, func(t *testing.T) storetest.Harness { return storetest.Harness{Store: s} })
	}
	t.Run("redis", func(t *testing.T) {
		b, ok := standaloneBackend(t)
		if !ok {
			t.Skip("REDIS_URL not set: skipping the counter suite on a real redis-server")
		}
		real(t, b)
	})
	t.Run("cluster", func(t *testing.T) {
		b, ok := clusterBackend(t)
		if !ok {
			t.Skip("REDIS_CLUSTER_ADDRS not set: skipping the counter suite on a Redis Cluster")
		}
		real(t, b)
	})
}
