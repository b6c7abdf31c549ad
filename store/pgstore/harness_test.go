package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store/pgstore"
)

// databaseURL returns DATABASE_URL, or skips the test when it is unset.
func databaseURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Skip("DATABASE_URL not set: skipping the tests against a real PostgreSQL")
	}
	return url
}

// newPool connects to DATABASE_URL with cfg applied to the pool's
// configuration, and closes the pool at the end of the test.
func newPool(t testing.TB, url string, cfg func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	if cfg != nil {
		cfg(pc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// testSchema returns a fresh schema name and drops that schema at the end
// of the test.
func testSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "pgstore_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// newStore migrates a fresh schema on pool and returns a Store on it.
func newStore(t testing.TB, pool *pgxpool.Pool, opts ...pgstore.Option) (*pgstore.Store, string) {
	t.Helper()
	schema := testSchema(t, pool)
	opts = append([]pgstore.Option{pgstore.WithSchema(schema)}, opts...)
	if err := pgstore.Migrate(context.Background(), pool, opts...); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := pgstore.New(pool, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, schema
}
