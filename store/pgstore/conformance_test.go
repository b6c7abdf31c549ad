package pgstore_test

import (
	"testing"

	"github.com/go2fa/go2fa/store/storetest"
)

// TestConformance runs the store conformance suite on the PostgreSQL at
// DATABASE_URL, on real time (the store reads the database's clock), under
// the default READ COMMITTED isolation.
func TestConformance(t *testing.T) {
	url := databaseURL(t)
	pool := newPool(t, url, nil)
	s, _ := newStore(t, pool)
	storetest.Run(t, func(t *testing.T) storetest.Harness { return storetest.Harness{Store: s} })
}
