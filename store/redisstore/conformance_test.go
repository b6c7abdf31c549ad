package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store/storetest"
)

// suite is one of storetest's suites.
type suite func(t *testing.T, newHarness func(t *testing.T) storetest.Harness)

// runSuite runs run on miniredis (always: one server per subtest, on a
// clock the suite moves), and on the redis-server at REDIS_URL and the
// Redis Cluster at REDIS_CLUSTER_ADDRS (on real time, one Store whose
// prefix is unique to the run, when those are set).
func runSuite(t *testing.T, name string, run suite) {
	t.Run("miniredis", func(t *testing.T) {
		run(t, func(t *testing.T) storetest.Harness {
			mi := newMini(t)
			c := redis.NewClient(&redis.Options{Addr: mi.m.Addr()})
			t.Cleanup(func() { c.Close() })
			return storetest.Harness{Store: newTestStore(t, c), Advance: mi.Advance}
		})
	})
	real := func(t *testing.T, b backend) {
		s := newTestStore(t, b.client(t)) // the suites use random keys
		run(t, func(t *testing.T) storetest.Harness { return storetest.Harness{Store: s} })
	}
	t.Run("redis", func(t *testing.T) {
		b, ok := standaloneBackend(t)
		if !ok {
			t.Skipf("REDIS_URL not set: skipping the %s suite on a real redis-server", name)
		}
		real(t, b)
	})
	t.Run("cluster", func(t *testing.T) {
		b, ok := clusterBackend(t)
		if !ok {
			t.Skipf("REDIS_CLUSTER_ADDRS not set: skipping the %s suite on a Redis Cluster", name)
		}
		real(t, b)
	})
}

// TestConformance runs the store conformance suite.
func TestConformance(t *testing.T) { runSuite(t, "conformance", storetest.Run) }

// TestCodeSetConformance runs the store.CodeSets suite.
func TestCodeSetConformance(t *testing.T) { runSuite(t, "code-set", storetest.RunCodeSets) }

// TestCounterConformance runs the store.Counters suite.
func TestCounterConformance(t *testing.T) { runSuite(t, "counter", storetest.RunCounters) }
