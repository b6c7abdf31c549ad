package pgstore_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store/pgstore"
	"github.com/go2fa/go2fa/store/storetest"
)

// TestCodeSetsConformance runs the store.CodeSets conformance suite on the
// PostgreSQL at DATABASE_URL, as TestConformance runs the Store's.
func TestCodeSetsConformance(t *testing.T) {
	url := databaseURL(t)
	_, schema := newStore(t, newPool(t, url, nil))
	const conns = 16
	storetest.RunCodeSets(t, func(t *testing.T) storetest.Harness {
		pool := newPool(t, url, func(c *pgxpool.Config) { c.MaxConns = conns })
		if strings.Contains(t.Name(), "/Concurrent") || strings.Contains(t.Name(), "/ReplaceRacing") {
			warm(t, pool, conns)
		}
		s, err := pgstore.New(pool, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Harness{Store: s}
	})
}
