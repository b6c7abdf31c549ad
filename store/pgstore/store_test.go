package pgstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/pgstore"
)

func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return string(b[:]) // raw bytes: keys are opaque
}

func newDigest() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func TestNewValidates(t *testing.T) {
	bad := []string{"", "Go2fa", "a-b", "1abc", `x"; DROP TABLE y; --`, "a b", strings.Repeat("a", 64), "é"}
	for _, schema := range bad {
		if _, err := pgstore.New(&pgxpool.Pool{}, pgstore.WithSchema(schema)); !errors.Is(err, pgstore.ErrInvalidOption) || !strings.Contains(err.Error(), "WithSchema") {
			t.Errorf("New(WithSchema(%q)) error = %v, want ErrInvalidOption naming WithSchema", schema, err)
		}
		if err := pgstore.Migrate(t.Context(), &pgxpool.Pool{}, pgstore.WithSchema(schema)); !errors.Is(err, pgstore.ErrInvalidOption) {
			t.Errorf("Migrate(WithSchema(%q)) error = %v, want ErrInvalidOption", schema, err)
		}
	}
	for _, n := range []int{0, -1} {
		if _, err := pgstore.New(&pgxpool.Pool{}, pgstore.WithSweepBatch(n)); !errors.Is(err, pgstore.ErrInvalidOption) || !strings.Contains(err.Error(), "WithSweepBatch") {
			t.Errorf("New(WithSweepBatch(%d)) error = %v, want ErrInvalidOption naming WithSweepBatch", n, err)
		}
	}
	for _, schema := range []string{"go2fa", "_x", "a1_b2", strings.Repeat("a", 63)} {
		s, err := pgstore.New(&pgxpool.Pool{}, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0))
		if err != nil {
			t.Errorf("New(WithSchema(%q)): %v", schema, err)
			continue
		}
		s.Close()
	}
	if _, err := pgstore.New(nil); err == nil {
		t.Error("New(nil): no error")
	}
	if err := pgstore.Migrate(t.Context(), nil); err == nil {
		t.Error("Migrate(nil): no error")
	}
	if _, err := pgstore.New(&pgxpool.Pool{}, pgstore.WithSweepBatch(0)); err == nil {
		t.Error("New(WithSweepBatch(0)): no error")
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := pgstore.New(&pgxpool.Pool{}, pgstore.WithSweepInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { s.Close() })
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("third Close: %v", err)
	}
}

// TestMigrateConcurrent: instances that start at once all migrate without
// error, and the schema then works.
func TestMigrateConcurrent(t *testing.T) {
	pool := newPool(t, databaseURL(t), func(c *pgxpool.Config) { c.MaxConns = 16 })
	for round := range 3 {
		schema := testSchema(t, pool)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = pgstore.Migrate(t.Context(), pool, pgstore.WithSchema(schema))
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Migrate #%d of %d at once: %v", round, i, n, err)
			}
		}
		s, err := pgstore.New(pool, pgstore.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		k, d := newKey(), newDigest()
		if res, err := s.Issue(t.Context(), store.IssueRequest{Key: k, Digest: d, TTL: time.Minute}); err != nil || res.Outcome != store.Issued {
			t.Fatalf("Issue = %+v, %v", res, err)
		}
	}
}

// TestMigrateKeepsState: a second Migrate (a restart, a new version of the
// functions) keeps pending codes and counters.
func TestMigrateKeepsState(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, schema := newStore(t, pool)
	ctx := t.Context()
	k, d := newKey(), newDigest()
	if _, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: d, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: newDigest(), MaxAttempts: 5}); err != nil || res.Status != store.Rejected {
		t.Fatalf("Check(wrong) = %+v, %v", res, err)
	}
	if err := pgstore.Migrate(ctx, pool, pgstore.WithSchema(schema)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: newDigest(), MaxAttempts: 5}); err != nil || res != (store.CheckResult{Status: store.Rejected, Remaining: 3}) {
		t.Fatalf("Check(wrong) after Migrate = %+v, %v; want rejected, 3 left", res, err)
	}
	if res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5}); err != nil || res.Status != store.Approved {
		t.Fatalf("Check(right) after Migrate = %+v, %v", res, err)
	}
}

// TestMigrateSchemaOwner: a role that owns the schema but may not create
// schemas in the database migrates it and uses the Store.
func TestMigrateSchemaOwner(t *testing.T) {
	admin := newPool(t, databaseURL(t), nil)
	var super bool
	if err := admin.QueryRow(t.Context(), "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Skip("DATABASE_URL's role is not a superuser: cannot create a role to test with")
	}
	schema := testSchema(t, admin)
	role := schema + "_owner"
	if _, err := admin.Exec(t.Context(), "CREATE ROLE "+role+" NOLOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	var canCreate bool
	if err := admin.QueryRow(t.Context(), "SELECT has_database_privilege($1, current_database(), 'CREATE')", role).Scan(&canCreate); err != nil {
		t.Fatal(err)
	}
	if canCreate {
		t.Skip("new roles may create schemas in this database: nothing to test")
	}
	if _, err := admin.Exec(t.Context(), "CREATE SCHEMA "+schema+" AUTHORIZATION "+role); err != nil {
		t.Fatal(err)
	}
	pool := newPool(t, databaseURL(t), func(c *pgxpool.Config) {
		c.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "SET ROLE "+role)
			return err
		}
	})
	if err := pgstore.Migrate(t.Context(), pool, pgstore.WithSchema(schema)); err != nil {
		t.Fatalf("Migrate as the schema's owner: %v", err)
	}
	s, err := pgstore.New(pool, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	k, d := newKey(), newDigest()
	if _, err := s.Issue(t.Context(), store.IssueRequest{Key: k, Digest: d, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Check(t.Context(), store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5}); err != nil || res.Status != store.Approved {
		t.Fatalf("Check = %+v, %v", res, err)
	}
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
}

// TestMigrateRefusesNewer: a schema migrated by a newer version of the
// package is not touched.
func TestMigrateRefusesNewer(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	_, schema := newStore(t, pool)
	if _, err := pool.Exec(t.Context(), "UPDATE "+schema+".schema_version SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	err := pgstore.Migrate(t.Context(), pool, pgstore.WithSchema(schema))
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Migrate over a newer schema: err = %v, want a refusal", err)
	}
}

// TestNotMigrated: a Store on a schema that does not exist errs, and
// approves nothing.
func TestNotMigrated(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, err := pgstore.New(pool, pgstore.WithSchema(testSchema(t, pool)), pgstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Check(t.Context(), store.CheckRequest{Key: newKey(), Digest: newDigest(), MaxAttempts: 5})
	if err == nil || res.Status == store.Approved {
		t.Fatalf("Check on a schema never migrated = %+v, %v; want an error", res, err)
	}
}

// counter is a pgx.QueryTracer that counts the statements sent.
type counter struct {
	mu   sync.Mutex
	sqls []string
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.sqls = append(c.sqls, d.SQL)
	c.mu.Unlock()
	return ctx
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sqls
	c.sqls = nil
	return s
}

// TestOneStatement: every operation is one statement on the wire (no
// BEGIN, no read before the write), whatever its outcome.
func TestOneStatement(t *testing.T) {
	tr := &counter{}
	pool := newPool(t, databaseURL(t), func(c *pgxpool.Config) { c.ConnConfig.Tracer = tr })
	s, _ := newStore(t, pool, pgstore.WithSweepInterval(0))
	ctx := t.Context()
	k, d, lim := newKey(), newDigest(), newKey()
	iss := store.IssueRequest{Key: k, Digest: d, TTL: time.Minute, Cooldown: time.Minute, SendWindow: time.Hour, SendsPerWindow: 5,
		MaxFailures: 10, Limits: []store.Limit{{Key: lim, Max: 3, Window: time.Hour}, {Key: newKey(), Max: 3, Window: time.Hour}}}
	chk := func(d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5, MaxFailures: 10, FailureWindow: time.Hour}
	}
	k2, tag, ref := newKey(), newDigest()[:12], "ref-"+newKey()
	sealedIss := store.IssueRequest{Key: k2, Digest: newDigest(), Sealed: append(tag[:12:12], "ct"...), TTL: time.Minute}
	fb := store.FallbackRequest{Key: k2, Tag: tag, Cooldown: time.Minute, SendWindow: time.Hour, SendsPerWindow: 5, MaxFailures: 10}
	fellBack := func(r store.FallbackRequest, want store.FallbackOutcome) error {
		res, err := s.Fallback(ctx, r)
		if err == nil && res.Outcome != want {
			err = fmt.Errorf("outcome %v, want %v", res.Outcome, want)
		}
		return err
	}
	code := newDigest()
	redeemed := func(d []byte, want store.CheckStatus) error {
		res, err := s.RedeemCode(ctx, store.RedeemCodeRequest{Key: k2, Digest: d, MaxFailures: 2, FailureWindow: time.Hour})
		if err == nil && res.Status != want {
			err = fmt.Errorf("status %v, want %v", res.Status, want)
		}
		return err
	}
	ops := []struct {
		name string
		call func() error
	}{
		{"Issue", func() error { _, err := s.Issue(ctx, iss); return err }},
		{"IssueRetry", func() error { _, err := s.Issue(ctx, iss); return err }},
		{"IssueLimited", func() error { r := iss; r.Digest = newDigest(); _, err := s.Issue(ctx, r); return err }},
		{"CheckWrong", func() error { _, err := s.Check(ctx, chk(newDigest())); return err }},
		{"CheckOtherScope", func() error { r := chk(d); r.Scope = []byte("other"); _, err := s.Check(ctx, r); return err }},
		{"CheckRight", func() error { _, err := s.Check(ctx, chk(d)); return err }},
		{"CheckNothing", func() error { _, err := s.Check(ctx, chk(d)); return err }},
		{"Withdraw", func() error { return s.Withdraw(ctx, k, nil, d) }},
		{"AttemptWrong", func() error {
			_, err := s.Attempt(ctx, store.AttemptRequest{Key: k, MaxFailures: 9, FailureWindow: time.Hour})
			return err
		}},
		{"AttemptRight", func() error {
			_, err := s.Attempt(ctx, store.AttemptRequest{Key: k, Marker: "m", MarkerTTL: time.Hour, MaxFailures: 9, FailureWindow: time.Hour})
			return err
		}},
		{"IssueSealed", func() error { _, err := s.Issue(ctx, sealedIss); return err }},
		{"FallbackLimited", func() error {
			r := fb
			r.Limits = []store.Limit{{Key: lim, Max: 1, Window: time.Hour}}
			return fellBack(r, store.FallbackLimited)
		}},
		{"FallbackTaken", func() error { return fellBack(fb, store.FallbackTaken) }},
		{"FallbackSpent", func() error { return fellBack(fb, store.FallbackSpent) }},
		{"FallbackNotPending", func() error { r := fb; r.Key = newKey(); return fellBack(r, store.FallbackNotPending) }},
		{"Schedule", func() error { return s.Schedule(ctx, ref, 0) }},
		{"Claim", func() error {
			refs, err := s.Claim(ctx, 10, time.Minute)
			if err == nil && (len(refs) != 1 || refs[0] != ref) {
				err = fmt.Errorf("claimed %q, want [%q]", refs, ref)
			}
			return err
		}},
		{"Cancel", func() error { return s.Cancel(ctx, ref) }},
		{"ReplaceCodes", func() error {
			return s.ReplaceCodes(ctx, store.ReplaceCodesRequest{Key: k2, Digests: [][]byte{code, newDigest()}, TTL: time.Hour})
		}},
		{"RedeemRight", func() error { return redeemed(code, store.Approved) }},
		{"RedeemWrong", func() error { return redeemed(newDigest(), store.Rejected) }},
		{"RedeemLocked", func() error { return redeemed(newDigest(), store.Locked) }},
		{"CountCodes", func() error {
			n, err := s.CountCodes(ctx, k2)
			if err == nil && n != 1 {
				err = fmt.Errorf("%d codes, want 1", n)
			}
			return err
		}},
	}
	tr.take()
	for _, o := range ops {
		if err := o.call(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if got := tr.take(); len(got) != 1 {
			t.Errorf("%s sent %d statements, want 1: %q", o.name, len(got), got)
		}
	}
}

// rows counts the rows of table in schema.
func rows(t *testing.T, pool *pgxpool.Pool, schema, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+schema+"."+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRemovedOnTouch: a Check that finds only dead state deletes its row.
func TestRemovedOnTouch(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(0))
	ctx := t.Context()
	k, d := newKey(), newDigest()
	if _, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: d, TTL: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if n := rows(t, pool, schema, "dest"); n != 1 {
		t.Fatalf("%d rows after Issue, want 1", n)
	}
	time.Sleep(100 * time.Millisecond)
	if res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5}); err != nil || res.Status != store.Expired {
		t.Fatalf("Check after the TTL = %+v, %v; want expired", res, err)
	}
	if n := rows(t, pool, schema, "dest"); n != 0 {
		t.Fatalf("%d rows after a Check of an expired code, want 0", n)
	}
	// An approval that leaves nothing alive deletes the row too.
	if _, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: d, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5}); err != nil || res.Status != store.Approved {
		t.Fatalf("Check = %+v, %v; want approved", res, err)
	}
	if n := rows(t, pool, schema, "dest"); n != 0 {
		t.Fatalf("%d rows after an approval with no limit running, want 0", n)
	}
}

// TestSweep: Sweep deletes every dead row of every table in batches, and
// nothing alive.
func TestSweep(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(0), pgstore.WithSweepBatch(3))
	ctx := t.Context()
	const dead, alive = 10, 4
	short, long := 50*time.Millisecond, time.Minute
	for i := range dead + alive {
		ttl := short
		if i >= dead {
			ttl = long
		}
		k := newKey()
		if _, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: newDigest(), TTL: ttl, Cooldown: ttl,
			Limits: []store.Limit{{Key: newKey(), Max: 5, Window: ttl}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Attempt(ctx, store.AttemptRequest{Key: k, Marker: "m", MarkerTTL: ttl, MaxFailures: 5, FailureWindow: ttl}); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"dest", "marker", "limit_counter"} {
		if n := rows(t, pool, schema, table); n != dead+alive {
			t.Fatalf("%s: %d rows before the sweep, want %d", table, n, dead+alive)
		}
	}
	time.Sleep(2 * short)
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if n != 3*dead {
		t.Errorf("Sweep deleted %d rows, want %d", n, 3*dead)
	}
	for _, table := range []string{"dest", "marker", "limit_counter"} {
		if n := rows(t, pool, schema, table); n != alive {
			t.Errorf("%s: %d rows after the sweep, want %d", table, n, alive)
		}
	}
}

// TestConcurrentSweeps: sweeps from several instances at once share the
// dead rows between them and never fail.
func TestConcurrentSweeps(t *testing.T) {
	pool := newPool(t, databaseURL(t), func(c *pgxpool.Config) { c.MaxConns = 8 })
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(0), pgstore.WithSweepBatch(2))
	others := make([]*pgstore.Store, 3)
	for i := range others {
		o, err := pgstore.New(pool, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0), pgstore.WithSweepBatch(2))
		if err != nil {
			t.Fatal(err)
		}
		others[i] = o
	}
	const dead = 40
	for range dead {
		if _, err := s.Issue(t.Context(), store.IssueRequest{Key: newKey(), Digest: newDigest(), TTL: 10 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	var total atomic.Int64
	var wg sync.WaitGroup
	for _, o := range append(others, s) {
		wg.Go(func() {
			n, err := o.Sweep(t.Context())
			if err != nil {
				t.Errorf("Sweep: %v", err)
			}
			total.Add(n)
		})
	}
	wg.Wait()
	// Each destination has two dead rows, its dest row and its code's row.
	// A sweep that deletes the dest row takes the code's with it (ON DELETE
	// CASCADE, not counted); a concurrent sweep may reach the code's row
	// first and count it. So the sweeps together count every dest row once
	// and some code rows, and nothing is counted twice.
	if got := total.Load(); got < dead || got > 2*dead {
		t.Errorf("concurrent sweeps deleted %d rows in all, want %d to %d", got, dead, 2*dead)
	}
	for _, table := range []string{"dest", "dest_code"} {
		if n := rows(t, pool, schema, table); n != 0 {
			t.Errorf("%d %s rows left", n, table)
		}
	}
}

// TestBackgroundSweep: the sweep runs by itself, and stops with Close.
func TestBackgroundSweep(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(20*time.Millisecond))
	if _, err := s.Issue(t.Context(), store.IssueRequest{Key: newKey(), Digest: newDigest(), TTL: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); rows(t, pool, schema, "dest") != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not delete a dead row")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Close()
	if _, err := s.Issue(t.Context(), store.IssueRequest{Key: newKey(), Digest: newDigest(), TTL: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := rows(t, pool, schema, "dest"); n != 1 {
		t.Fatalf("%d rows after Close, want 1 (no sweep)", n)
	}
}

// TestStoredValues: the database holds the caller's opaque key and digest
// and its sealed blob, hashes of the Scope and the client key, nothing else
// derived from a code, a number or a client.
func TestStoredValues(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(0))
	k, d, sealed, scope := newKey(), newDigest(), []byte("sealed by the caller"), []byte("session binding")
	const client = "ip:203.0.113.7"
	if _, err := s.Issue(t.Context(), store.IssueRequest{Key: k, Digest: d, Sealed: sealed, Scope: scope, Client: client,
		TTL: time.Minute, Cooldown: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var gc []byte
	if err := pool.QueryRow(t.Context(), "SELECT client FROM "+schema+".dest_client").Scan(&gc); err != nil {
		t.Fatal(err)
	}
	if len(gc) != 32 || bytes.Contains(gc, []byte(client)) {
		t.Fatalf("stored client is %d bytes, want a 32-byte hash, not the client key", len(gc))
	}
	var gk, gd, gs, gsc []byte
	if err := pool.QueryRow(t.Context(), "SELECT key, digest, sealed, scope FROM "+schema+".dest_code").Scan(&gk, &gd, &gs, &gsc); err != nil {
		t.Fatal(err)
	}
	if string(gk) != k || string(gd) != string(d) || string(gs) != string(sealed) {
		t.Fatalf("stored (key, digest, sealed) differ from what Issue was given")
	}
	if len(gsc) != 32 || bytes.Contains(gsc, scope) {
		t.Fatalf("stored scope is %d bytes, want a 32-byte hash, not the Scope", len(gsc))
	}
	if err := s.Withdraw(t.Context(), k, scope, d); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(t.Context(), "SELECT digest, sealed FROM "+schema+".dest_code").Scan(&gd, &gs); err != nil {
		t.Fatal(err)
	}
	if gd != nil || gs != nil {
		t.Fatalf("a withdrawn code keeps its digest or sealed value")
	}
}
