package pgstore_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store/pgstore"
	"github.com/go2fa/go2fa/store/storetest"
)

// TestConformance runs the store conformance suite on the PostgreSQL at
// DATABASE_URL, on real time (the store reads the database's clock), under
// the default READ COMMITTED isolation.
//
// Every subtest gets a pool of its own on one migrated schema, so the
// subtests that release hundreds of goroutines at once do not queue the
// others' calls behind theirs for longer than the suite's shortest
// lifetimes. Those concurrency subtests get their connections opened
// before they start: a pool that dials as the goroutines arrive spreads
// the first calls out in time, and the race the subtest sets up (a handful
// of wrong guesses against one code) is over before it begins.
func TestConformance(t *testing.T) {
	url := databaseURL(t)
	_, schema := newStore(t, newPool(t, url, nil))
	const conns = 16
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		pool := newPool(t, url, func(c *pgxpool.Config) { c.MaxConns = conns })
		if strings.Contains(t.Name(), "/Concurrent") {
			warm(t, pool, conns)
		}
		s, err := pgstore.New(pool, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Harness{Store: s}
	})
}

// warm opens n connections of pool and puts them back idle.
func warm(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	conns := make([]*pgxpool.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = pool.Acquire(t.Context()) })
	}
	wg.Wait()
	for i, c := range conns {
		if errs[i] != nil {
			t.Fatalf("open a connection: %v", errs[i])
		}
		c.Release()
	}
}
