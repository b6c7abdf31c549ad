package pgstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/internal/benchfloor"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/pgstore"
)

// The benchmarks run on the PostgreSQL at DATABASE_URL. Each one measures
// the floor next to the Store, in the same run, on the same pool, at the
// same concurrency: a prepared `SELECT 1`. The pool holds up to 64
// connections unless DATABASE_URL sets pool_max_conns. Run:
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5433/postgres go test -run '^$' -bench . -benchmem ./store/pgstore

func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	url := databaseURL(b)
	return newPool(b, url, func(c *pgxpool.Config) {
		if c.MaxConns < 64 && !hasParam(url, "pool_max_conns") {
			c.MaxConns = 64
		}
	})
}

func hasParam(url, p string) bool {
	for i := 0; i+len(p) <= len(url); i++ {
		if url[i:i+len(p)] == p {
			return true
		}
	}
	return false
}

// The floors: floor is a prepared SELECT 1, the floor the Store is
// measured against; commit is a prepared one-row INSERT into a table
// without indexes, the cheapest write transaction (under
// synchronous_commit it waits for its WAL to reach the disk, as every
// Store operation that changes something does).

// defaultIssue is an Issue with the otp package's default policy.
func defaultIssue(key string, digest []byte) store.IssueRequest {
	return store.IssueRequest{Key: key, Digest: digest, TTL: 5 * time.Minute, Cooldown: 30 * time.Second,
		SendWindow: time.Hour, SendsPerWindow: 5, MaxFailures: 20}
}

var benchRun atomic.Int64

func benchKey(run string, i int) string { return run + "-" + strconv.Itoa(i) }

// benchSetup returns a Store on a fresh schema and the floor on the same
// pool.
func benchSetup(b *testing.B) (*pgxpool.Pool, *pgstore.Store, string, func(int) error, func(int) error) {
	b.Helper()
	pool := benchPool(b)
	s, schema := newStore(b, pool, pgstore.WithSweepInterval(0))
	ctx := context.Background()
	floor := func(int) error {
		var one int
		return pool.QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE "+schema+".bench_commit (i bigint)"); err != nil {
		b.Fatal(err)
	}
	insert := "INSERT INTO " + schema + ".bench_commit VALUES ($1)"
	commit := func(i int) error {
		_, err := pool.Exec(ctx, insert, i)
		return err
	}
	return pool, s, schema, floor, commit
}

// truncate empties the schema's tables between rounds (the timer is
// stopped), so each round starts from the same database.
func truncate(b *testing.B, pool *pgxpool.Pool, schema string) {
	b.Helper()
	b.StopTimer()
	if _, err := pool.Exec(context.Background(), "TRUNCATE "+schema+".dest, "+schema+".dest_code, "+schema+".dest_client, "+schema+".marker, "+schema+".limit_counter, "+schema+".bench_commit"); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCheck(b *testing.B) {
	pool, s, schema, floor, commit := benchSetup(b)
	ctx := context.Background()
	digest := make([]byte, 32)
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			// One pending code per Check, issued before the clock starts;
			// every Check approves (the path that consumes the code).
			run := "c" + strconv.FormatInt(benchRun.Add(1), 10)
			if _, err := benchfloor.Timed(64, 0, b.N, func(i int) error {
				_, err := s.Issue(ctx, defaultIssue(benchKey(run, i), digest))
				return err
			}); err != nil {
				b.Fatal(err)
			}
			benchfloor.Versus(b, n, 20, func(i int) error {
				res, err := s.Check(ctx, store.CheckRequest{Key: benchKey(run, i), Digest: digest,
					MaxAttempts: 5, MaxFailures: 20, FailureWindow: 24 * time.Hour})
				if err == nil && res.Status != store.Approved {
					err = fmt.Errorf("Check = %v, want approved", res.Status)
				}
				return err
			}, benchfloor.Floor{Name: "floor", Run: floor}, benchfloor.Floor{Name: "commit", Run: commit})
			truncate(b, pool, schema)
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	pool, s, schema, floor, commit := benchSetup(b)
	ctx := context.Background()
	digest := make([]byte, 32)
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			run := "i" + strconv.FormatInt(benchRun.Add(1), 10)
			benchfloor.Versus(b, n, 20, func(i int) error {
				res, err := s.Issue(ctx, defaultIssue(benchKey(run, i), digest))
				if err == nil && res.Outcome != store.Issued {
					err = fmt.Errorf("Issue = %v, want issued", res.Outcome)
				}
				return err
			}, benchfloor.Floor{Name: "floor", Run: floor}, benchfloor.Floor{Name: "commit", Run: commit})
			truncate(b, pool, schema)
		})
	}
}

// BenchmarkStorage reports the disk taken by one pending verification
// under the otp package's default policy (a code, its cooldown, its window
// counter, and after one wrong guess its failure counter): the table and
// its indexes (pg_total_relation_size), over 10,000 destinations, after a
// VACUUM so that only live rows count.
func BenchmarkStorage(b *testing.B) {
	pool, s, schema, _, _ := benchSetup(b)
	ctx := context.Background()
	const n = 10000
	for range b.N {
		truncate(b, pool, schema)
		run := "s" + strconv.FormatInt(benchRun.Add(1), 10)
		if _, err := benchfloor.Timed(16, 0, n, func(i int) error {
			k := benchKey(run, i)
			d := make([]byte, 32)
			copy(d, strconv.Itoa(i))
			if _, err := s.Issue(ctx, defaultIssue(k, d)); err != nil {
				return err
			}
			_, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: []byte("wrong"), MaxAttempts: 5, MaxFailures: 20, FailureWindow: 24 * time.Hour})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		// A verification's rows: the destination's, its code's and its
		// client key's.
		var size, live int64
		for _, table := range []string{"dest", "dest_code", "dest_client"} {
			if _, err := pool.Exec(ctx, "VACUUM "+schema+"."+table); err != nil {
				b.Fatal(err)
			}
			var ts int64
			if err := pool.QueryRow(ctx, "SELECT pg_total_relation_size('"+schema+"."+table+"')").Scan(&ts); err != nil {
				b.Fatal(err)
			}
			size += ts
		}
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".dest").Scan(&live); err != nil {
			b.Fatal(err)
		}
		if live != n {
			b.Fatalf("%d rows, want %d", live, n)
		}
		b.ReportMetric(float64(size)/n, "bytes/verification")
	}
}
