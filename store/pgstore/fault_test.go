package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/pgstore"
)

// holdRow locks the destination row of key from another connection until
// the returned function is called, so the Store's next operation on key
// waits.
func holdRow(t *testing.T, pool *pgxpool.Pool, schema, key string) (release func()) {
	t.Helper()
	tx, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := tx.QueryRow(t.Context(), "SELECT 1 FROM "+schema+".dest WHERE key = $1 FOR UPDATE", []byte(key)).Scan(&one); err != nil {
		t.Fatalf("lock the row: %v", err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback(context.Background()) }) }
	t.Cleanup(release)
	return release
}

// faultOps are the operations that must fail, and change nothing, while the
// destination's row is held: each would change the state if it ran.
func faultOps(s *pgstore.Store, k string, d []byte) []struct {
	name string
	call func(ctx context.Context) (bool, error) // approved?
} {
	chk := func(d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5, MaxFailures: 10, FailureWindow: time.Minute}
	}
	return []struct {
		name string
		call func(ctx context.Context) (bool, error)
	}{
		{"CheckRight", func(ctx context.Context) (bool, error) {
			res, err := s.Check(ctx, chk(d))
			return res.Status == store.Approved, err
		}},
		{"CheckWrong", func(ctx context.Context) (bool, error) {
			res, err := s.Check(ctx, chk(newDigest()))
			return res.Status == store.Approved, err
		}},
		{"Issue", func(ctx context.Context) (bool, error) {
			_, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: newDigest(), TTL: time.Minute})
			return false, err
		}},
		{"Withdraw", func(ctx context.Context) (bool, error) { return false, s.Withdraw(ctx, k, nil, d) }},
		{"Attempt", func(ctx context.Context) (bool, error) {
			res, err := s.Attempt(ctx, store.AttemptRequest{Key: k, Marker: "m", MarkerTTL: time.Minute, MaxFailures: 5, FailureWindow: time.Minute})
			return res.Status == store.Approved, err
		}},
	}
}

// intact checks that k's code d is still pending with no attempt counted
// and approves it: full service after the fault.
func intact(t *testing.T, s *pgstore.Store, k string, d []byte) {
	t.Helper()
	ctx := t.Context()
	if res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: newDigest(), MaxAttempts: 5}); err != nil || res != (store.CheckResult{Status: store.Rejected, Remaining: 4}) {
		t.Fatalf("Check(wrong) after the fault = %+v, %v; want rejected with 4 left (nothing counted during the fault)", res, err)
	}
	if res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5}); err != nil || res.Status != store.Approved {
		t.Fatalf("Check(right) after the fault = %+v, %v; want approved", res, err)
	}
}

// TestStatementTimeout: an operation stopped by statement_timeout, or by
// its context's deadline, while it waits for the row is an error, approves
// nothing and changes nothing.
func TestStatementTimeout(t *testing.T) {
	url := databaseURL(t)
	other := newPool(t, url, nil)
	pool := newPool(t, url, func(c *pgxpool.Config) { c.ConnConfig.RuntimeParams["statement_timeout"] = "200" })
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(0))
	// The state is checked afterwards through a pool without the timeout:
	// a loaded machine must not fail the check itself.
	after, err := pgstore.New(other, pgstore.WithSchema(schema), pgstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range faultOps(s, "", nil) {
		t.Run(o.name, func(t *testing.T) {
			k, d := newKey(), newDigest()
			if _, err := s.Issue(t.Context(), store.IssueRequest{Key: k, Digest: d, TTL: time.Minute}); err != nil {
				t.Fatal(err)
			}
			op := faultOps(s, k, d)
			release := holdRow(t, other, schema, k)
			for _, op := range op {
				if op.name != o.name {
					continue
				}
				approved, err := op.call(t.Context())
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != "57014" || approved {
					t.Fatalf("%s past statement_timeout: approved=%v, err = %v; want SQLSTATE 57014", o.name, approved, err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
				approved, err = op.call(ctx)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) || approved {
					t.Fatalf("%s past its context's deadline: approved=%v, err = %v; want context.DeadlineExceeded", o.name, approved, err)
				}
			}
			release()
			intact(t, after, k, d)
		})
	}
}

// waitBlocked waits until a backend of the application named app waits
// for a lock, and returns its pid.
func waitBlocked(t *testing.T, pool *pgxpool.Pool, app string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var pid int
		err := pool.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock' LIMIT 1`, app).Scan(&pid)
		if err == nil {
			return pid
		}
	}
	t.Fatal("the operation never waited for the row")
	return 0
}

// TestDroppedConnection: an operation whose connection is terminated
// (pg_terminate_backend) while it waits is an error and changes nothing;
// so is one on a connection that died while idle in the pool. The Store
// serves fully afterwards.
func TestDroppedConnection(t *testing.T) {
	url := databaseURL(t)
	other := newPool(t, url, nil)
	var b [6]byte
	rand.Read(b[:])
	app := "pgstore-fault-" + hex.EncodeToString(b[:])
	pool := newPool(t, url, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
		c.MaxConns = 4
	})
	s, schema := newStore(t, pool, pgstore.WithSweepInterval(0))
	for _, o := range faultOps(s, "", nil) {
		t.Run(o.name, func(t *testing.T) {
			k, d := newKey(), newDigest()
			if _, err := s.Issue(t.Context(), store.IssueRequest{Key: k, Digest: d, TTL: time.Minute}); err != nil {
				t.Fatal(err)
			}
			var op func(context.Context) (bool, error)
			for _, x := range faultOps(s, k, d) {
				if x.name == o.name {
					op = x.call
				}
			}
			release := holdRow(t, other, schema, k)
			type result struct {
				approved bool
				err      error
			}
			done := make(chan result, 1)
			go func() {
				approved, err := op(t.Context())
				done <- result{approved, err}
			}()
			pid := waitBlocked(t, other, app)
			if _, err := other.Exec(t.Context(), "SELECT pg_terminate_backend($1)", pid); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err == nil || r.approved {
				t.Fatalf("%s on a terminated connection: approved=%v, err = %v; want an error", o.name, r.approved, r.err)
			}
			release()
			// Kill every idle connection of the pool too: the next calls
			// may fail, but must not approve, and service must come back.
			if _, err := other.Exec(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				res, err := s.Check(t.Context(), store.CheckRequest{Key: newKey(), Digest: newDigest(), MaxAttempts: 5})
				if err == nil {
					if res.Status != store.Expired {
						t.Fatalf("Check of nothing = %v", res.Status)
					}
					break
				}
				if i == 10 {
					t.Fatalf("no service after the connections were dropped: %v", err)
				}
			}
			intact(t, s, k, d)
		})
	}
}

// cluster is a PostgreSQL server of the test's own, which it can crash.
type cluster struct {
	bin, dir, url string
	port          int
	runAs         string // run the server's programs as this user ("" = as us)
}

// newCluster initialises and starts a throwaway PostgreSQL from the
// programs in PG_BIN_DIR, on a free loopback port. As root, it runs them as
// the user "postgres" (PostgreSQL refuses to run as root).
func newCluster(t *testing.T) *cluster {
	t.Helper()
	bin := os.Getenv("PG_BIN_DIR")
	if bin == "" {
		t.Skip("PG_BIN_DIR not set (the directory of initdb and pg_ctl): skipping the test that kills and restarts PostgreSQL")
	}
	c := &cluster{bin: bin}
	dir, err := os.MkdirTemp("", "pgstore-fault-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and no user 'postgres' to run PostgreSQL as: skipping")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.runAs = "postgres"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", c.port)
	if err := c.run(t, "initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	t.Cleanup(func() { _ = c.pgctl(t, "stop", "-m", "immediate") })
	return c
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *cluster) run(t *testing.T, prog string, args ...string) error {
	t.Helper()
	name := filepath.Join(c.bin, prog)
	if c.runAs != "" {
		args = append([]string{"-u", c.runAs, "--", name}, args...)
		name = "runuser"
	}
	out, err := exec.Command(name, args...).CombinedOutput() //nolint:gosec // PostgreSQL's own programs, from PG_BIN_DIR
	if err != nil {
		err = fmt.Errorf("%s: %w\n%s", prog, err, out)
	}
	return err
}

func (c *cluster) pgctl(t *testing.T, args ...string) error {
	t.Helper()
	return c.run(t, "pg_ctl", append([]string{"-D", c.data(), "-w"}, args...)...)
}

func (c *cluster) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, c.dir)
	if err := c.pgctl(t, "start", "-l", filepath.Join(c.dir, "log"), "-o", opts); err != nil {
		t.Fatal(err)
	}
}

// crash stops the server at once, as a crash would: every server process
// is killed, and the next start runs crash recovery.
func (c *cluster) crash(t *testing.T) {
	t.Helper()
	if err := c.pgctl(t, "stop", "-m", "immediate"); err != nil {
		t.Fatal(err)
	}
}

// TestDatabaseRestart kills PostgreSQL under load and starts it again.
// While it is down every operation errs; no code is ever approved twice or
// with a wrong digest; every code whose Issue succeeded before the crash and
// was never checked still approves after it (committed means durable); and
// the Store serves fully after the restart.
func TestDatabaseRestart(t *testing.T) {
	c := newCluster(t)
	pool := newPool(t, c.url, func(pc *pgxpool.Config) { pc.MaxConns = 8 })
	s, _ := newStore(t, pool, pgstore.WithSweepInterval(0))

	type code struct {
		key    string
		digest []byte
	}
	var (
		mu        sync.Mutex
		approvals = map[string]int{} // key -> approvals of its code
		codes     []code             // every code an Issue was sent for
		parked    []code             // issued before the crash, never checked
		phase     atomic.Int32       // 0 before the crash, 1 down, 2 restarted
		okAfter   atomic.Int32       // approvals after the restart
		errs      atomic.Int32
		stop      atomic.Bool
	)
	op := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 5*time.Second)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k, d := newKey(), newDigest()
				mu.Lock()
				codes = append(codes, code{k, d})
				mu.Unlock()
				ctx, cancel := op()
				p := phase.Load()
				_, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: d, TTL: time.Hour})
				cancel()
				if err != nil {
					errs.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if p == 0 && (w+i)%4 == 0 {
					mu.Lock()
					parked = append(parked, code{k, d})
					mu.Unlock()
					continue
				}
				// Two right Checks and one wrong one at once.
				var inner sync.WaitGroup
				for j := range 3 {
					inner.Go(func() {
						cd := d
						if j == 2 {
							cd = newDigest()
						}
						ctx, cancel := op()
						res, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: cd, MaxAttempts: 5})
						cancel()
						if err != nil {
							errs.Add(1)
							return
						}
						if res.Status == store.Approved {
							if j == 2 {
								t.Errorf("a wrong digest was approved")
							}
							mu.Lock()
							approvals[k]++
							mu.Unlock()
							if phase.Load() == 2 {
								okAfter.Add(1)
							}
						}
					})
				}
				inner.Wait()
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("load before the crash", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(approvals) >= 50 && len(parked) >= 10
	})
	phase.Store(1)
	before := errs.Load()
	c.crash(t)
	waitFor("errors while the database is down", func() bool { return errs.Load() > before+10 })
	c.start(t)
	phase.Store(2)
	waitFor("full service after the restart", func() bool { return okAfter.Load() >= 50 })
	stop.Store(true)
	wg.Wait()

	ctx := t.Context()
	for _, p := range parked {
		res, err := s.Check(ctx, store.CheckRequest{Key: p.key, Digest: p.digest, MaxAttempts: 5})
		if err != nil || res.Status != store.Approved {
			t.Fatalf("a code issued before the crash and never checked: Check = %+v, %v; want approved", res, err)
		}
		approvals[p.key]++
	}
	// Every code (including those whose Issue or Check erred: they may
	// have committed) approves at most once, all told.
	for _, cd := range codes {
		res, err := s.Check(ctx, store.CheckRequest{Key: cd.key, Digest: cd.digest, MaxAttempts: 5})
		if err != nil {
			t.Fatalf("Check after the restart: %v", err)
		}
		if res.Status == store.Approved {
			approvals[cd.key]++
		}
		if approvals[cd.key] > 1 {
			t.Fatalf("a code was approved %d times", approvals[cd.key])
		}
	}
	t.Logf("%d codes, %d parked across the crash, %d errors", len(codes), len(parked), errs.Load())
}
