package pgstore_test

import (
	"crypto/sha256"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/pgstore"
)

// TestMigrateFromV1: Migrate upgrades a schema that version 1 created
// (testdata/schema_v1.sql, its tables and functions as they were), keeping
// its state: codes issued and failures counted by the old functions are
// seen by the new Store, an old code counts as saved without a Scope and
// can be taken by a Fallback, the queue and code sets work, and the old
// functions are gone, so a Store of version 1 would fail rather than run
// against the new tables.
func TestMigrateFromV1(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	ctx := t.Context()
	schema := testSchema(t, pool)
	v1, err := os.ReadFile("testdata/schema_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema+";"+strings.ReplaceAll(string(v1), "{S}", schema)); err != nil {
		t.Fatalf("create the version 1 schema: %v", err)
	}
	// State written by version 1: two codes, one wrong guess on the first
	// (counted against the code and the failure cap).
	k1, d1, k2, d2 := newKey(), newDigest(), newKey(), newDigest()
	v1Issue := func(k string, d, sealed []byte) {
		t.Helper()
		var outcome int32
		err := pool.QueryRow(ctx, "SELECT outcome FROM "+schema+".issue($1, $2, $3, false, $4, 0, 0, 0, 5, '{}', '{}', '{}')",
			[]byte(k), d, sealed, time.Minute.Microseconds()).Scan(&outcome)
		if err != nil || outcome != int32(store.Issued) {
			t.Fatalf("version 1 issue = %d, %v", outcome, err)
		}
	}
	v1Issue(k1, d1, nil)
	v1Issue(k2, d2, []byte("sealed-2"))
	var status, remaining int32
	err = pool.QueryRow(ctx, "SELECT status, remaining FROM "+schema+".check_code($1, $2, 5, 5, $3)",
		[]byte(k1), newDigest(), time.Hour.Microseconds()).Scan(&status, &remaining)
	if err != nil || status != int32(store.Rejected) || remaining != 4 {
		t.Fatalf("version 1 check_code = %d, %d, %v", status, remaining, err)
	}

	if err := pgstore.Migrate(ctx, pool, pgstore.WithSchema(schema)); err != nil {
		t.Fatalf("Migrate over version 1: %v", err)
	}
	var version int
	if err := pool.QueryRow(ctx, "SELECT version FROM "+schema+".schema_version").Scan(&version); err != nil || version != 4 {
		t.Fatalf("schema version after Migrate = %d, %v; want 4", version, err)
	}
	var fns int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = $1 AND p.proname IN ('issue', 'check_code', 'fallback')`, schema).Scan(&fns)
	if err != nil || fns != 3 {
		t.Fatalf("issue, check_code and fallback functions after Migrate = %d, %v; want one of each", fns, err)
	}

	s, err := pgstore.New(pool, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	chk := func(d, scope []byte) store.CheckRequest {
		return store.CheckRequest{Key: k1, Digest: d, Scope: scope, MaxAttempts: 5, MaxFailures: 5, FailureWindow: time.Hour}
	}
	for _, c := range []struct {
		name string
		req  store.CheckRequest
		want store.CheckResult
	}{
		{"scoped", chk(d1, []byte("scope")), store.CheckResult{Status: store.Expired}},
		{"wrong", chk(newDigest(), nil), store.CheckResult{Status: store.Rejected, Remaining: 3}},
		{"right", chk(d1, nil), store.CheckResult{Status: store.Approved}},
	} {
		if res, err := s.Check(ctx, c.req); err != nil || res != c.want {
			t.Fatalf("Check(%s) of a version 1 code = %+v, %v; want %+v", c.name, res, err, c.want)
		}
	}
	res, err := s.Issue(ctx, store.IssueRequest{Key: k2, Digest: newDigest(), KeepPending: true, TTL: time.Minute})
	if err != nil || res.Outcome != store.Reused || string(res.Sealed) != "sealed-2" {
		t.Fatalf("Issue(KeepPending) over a version 1 code = %+v, %v; want Reused with its Sealed", res, err)
	}
	// The tables and functions later versions added work on the upgraded schema.
	if fb, err := s.Fallback(ctx, store.FallbackRequest{Key: k2, Tag: []byte("sealed-")}); err != nil || fb.Outcome != store.FallbackTaken {
		t.Fatalf("Fallback over a version 1 code = %+v, %v; want taken", fb, err)
	}
	ref := "ref-" + newKey()
	if err := s.Schedule(ctx, ref, 0); err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	if refs, err := s.Claim(ctx, 1, time.Minute); err != nil || len(refs) != 1 || refs[0] != ref {
		t.Fatalf("Claim = %q, %v; want [%q]", refs, err, ref)
	}
	code := newDigest()
	if err := s.ReplaceCodes(ctx, store.ReplaceCodesRequest{Key: k1, Digests: [][]byte{code}, TTL: time.Minute}); err != nil {
		t.Fatalf("ReplaceCodes: %v", err)
	}
	if res, err := s.RedeemCode(ctx, store.RedeemCodeRequest{Key: k1, Digest: code, MaxFailures: 3, FailureWindow: time.Minute}); err != nil || res.Status != store.Approved {
		t.Fatalf("RedeemCode = %+v, %v; want approved", res, err)
	}
	// A second Migrate finds nothing to do.
	if err := pgstore.Migrate(ctx, pool, pgstore.WithSchema(schema)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if res, err := s.Check(ctx, store.CheckRequest{Key: k2, Digest: d2, MaxAttempts: 5}); err != nil || res.Status != store.Approved {
		t.Fatalf("Check after a second Migrate = %+v, %v", res, err)
	}
}

// TestMigrateFromV3: Migrate upgrades a schema that version 3 created
// (testdata/schema_v3.sql), from several instances at once, keeping its
// state: a scoped code, its wrong guess, its fallback mark and the
// destination's cooldown, written by version 3's functions, are seen by
// the new Store (the code in its Scope, the limits as the empty client
// key's), and dest's old columns are gone.
func TestMigrateFromV3(t *testing.T) {
	pool := newPool(t, databaseURL(t), nil)
	ctx := t.Context()
	schema := testSchema(t, pool)
	v3, err := os.ReadFile("testdata/schema_v3.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema+";"+strings.ReplaceAll(string(v3), "{S}", schema)); err != nil {
		t.Fatalf("create the version 3 schema: %v", err)
	}
	k, d, scope := newKey(), newDigest(), []byte("session")
	tag := sha256.Sum256(scope)
	var outcome, status, remaining int32
	err = pool.QueryRow(ctx, "SELECT outcome FROM "+schema+".issue($1, $2, $3, $4, false, $5, $5, $6, 5, 20, '{}', '{}', '{}')",
		[]byte(k), d, []byte("sealed-3"), tag[:], time.Minute.Microseconds(), time.Hour.Microseconds()).Scan(&outcome)
	if err != nil || outcome != int32(store.Issued) {
		t.Fatalf("version 3 issue = %d, %v", outcome, err)
	}
	err = pool.QueryRow(ctx, "SELECT status, remaining FROM "+schema+".check_code($1, $2, $3, 5, 20, $4)",
		[]byte(k), newDigest(), tag[:], time.Hour.Microseconds()).Scan(&status, &remaining)
	if err != nil || status != int32(store.Rejected) || remaining != 4 {
		t.Fatalf("version 3 check_code = %d, %d, %v", status, remaining, err)
	}
	err = pool.QueryRow(ctx, "SELECT outcome FROM "+schema+".fallback($1, 'sealed-', 0, 0, 0, 0, '{}', '{}', '{}', 1)",
		[]byte(k)).Scan(&outcome)
	if err != nil || outcome != int32(store.FallbackTaken) {
		t.Fatalf("version 3 fallback = %d, %v", outcome, err)
	}

	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { errs <- pgstore.Migrate(ctx, pool, pgstore.WithSchema(schema)) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatalf("Migrate over version 3, four at once: %v", err)
		}
	}
	var version, old int
	if err := pool.QueryRow(ctx, "SELECT version FROM "+schema+".schema_version").Scan(&version); err != nil || version != 4 {
		t.Fatalf("schema version after Migrate = %d, %v; want 4", version, err)
	}
	err = pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = 'dest' AND column_name IN ('digest', 'cool_until', 'win_count')`, schema).Scan(&old)
	if err != nil || old != 0 {
		t.Fatalf("dest keeps %d of its old columns, %v; want none", old, err)
	}

	s, err := pgstore.New(pool, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if res, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: newDigest(), Scope: []byte("other"), TTL: time.Minute,
		Cooldown: time.Minute}); err != nil || res.Outcome != store.Limited || res.Reason != store.LimitCooldown {
		t.Fatalf("Issue over a version 3 cooldown = %+v, %v; want limited by the cooldown", res, err)
	}
	if res, err := s.Fallback(ctx, store.FallbackRequest{Key: k, Scope: scope, Tag: []byte("sealed-"), Step: 1}); err != nil || res.Outcome != store.FallbackSpent {
		t.Fatalf("Fallback of a version 3 code it took = %+v, %v; want spent", res, err)
	}
	chk := func(d, scope []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, Scope: scope, MaxAttempts: 5, MaxFailures: 20, FailureWindow: time.Hour}
	}
	for _, c := range []struct {
		name string
		req  store.CheckRequest
		want store.CheckResult
	}{
		{"unscoped", chk(d, nil), store.CheckResult{Status: store.Expired}},
		{"wrong", chk(newDigest(), scope), store.CheckResult{Status: store.Rejected, Remaining: 3}},
		{"right", chk(d, scope), store.CheckResult{Status: store.Approved}},
	} {
		if res, err := s.Check(ctx, c.req); err != nil || res != c.want {
			t.Fatalf("Check(%s) of a version 3 code = %+v, %v; want %+v", c.name, res, err, c.want)
		}
	}
}
