package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/redisstore/redistest"
)

// backendError reports whether err is what a Store returns when the backend
// fails: prefixed, wrapped, and recognisable with errors.Is/As.
func backendError(err error) error {
	if err == nil {
		return errors.New("no error")
	}
	if !strings.HasPrefix(err.Error(), "redisstore: ") {
		return fmt.Errorf("%q lacks the redisstore: prefix", err) //nolint:errorlint // describes a wrong error; wrapping would make it match what it rejects
	}
	var netErr net.Error
	var redisErr redis.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed),
		errors.As(err, &netErr), errors.As(err, &redisErr):
		return nil
	}
	return fmt.Errorf("%q (%T) matches no network, Redis or context error", err, errors.Unwrap(err)) //nolint:errorlint // describes a wrong error; wrapping would make it match what it rejects
}

// TestServerKilledUnderLoad runs Issue/Check load, SIGKILLs redis-server in
// the middle, and restarts it on the same port: errors while it is down
// (wrapped, recognisable), no panic, never an approval of a wrong digest, and
// normal service once it is back.
func TestServerKilledUnderLoad(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, PoolSize: 16})
	t.Cleanup(func() { c.Close() })
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var (
		ops, fails, okAfter atomic.Int64
		restarted           atomic.Bool
		stop                = make(chan struct{})
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		problems            []string
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i%8)
				good := []byte(fmt.Sprintf("good-%d-%d", w, i))
				_, err := s.Issue(ctx, store.IssueRequest{Key: key, Digest: good, TTL: time.Minute})
				if err != nil {
					fails.Add(1)
					if e := backendError(err); e != nil {
						problem("Issue: %v", e)
					}
					continue
				}
				res, err := s.Check(ctx, store.CheckRequest{Key: key, Digest: []byte("wrong"), MaxAttempts: 1000})
				if err == nil && res.Status == store.Approved {
					problem("a wrong digest was approved")
				}
				if err != nil {
					fails.Add(1)
					if e := backendError(err); e != nil {
						problem("Check(wrong): %v", e)
					}
					continue
				}
				res, err = s.Check(ctx, store.CheckRequest{Key: key, Digest: good, MaxAttempts: 1000})
				if err != nil {
					fails.Add(1)
					if e := backendError(err); e != nil {
						problem("Check(right): %v", e)
					}
					continue
				}
				if res.Status == store.Approved && restarted.Load() {
					okAfter.Add(1)
				}
				ops.Add(1)
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("gave up waiting for %s (ops %d, errors %d)", what, ops.Load(), fails.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("load before the kill", func() bool { return ops.Load() >= 200 })
	srv.Kill()
	waitFor("errors while the server is down", func() bool { return fails.Load() >= workers })
	before := ops.Load()
	srv.Restart()
	restarted.Store(true)
	waitFor("service after the restart", func() bool { return okAfter.Load() >= 100 })
	close(stop)
	wg.Wait()

	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d verifications before the kill, %d errors, %d approvals after the restart", before, fails.Load(), okAfter.Load())
	// And a plain round after the load.
	if _, err := s.Issue(ctx, store.IssueRequest{Key: "after", Digest: []byte("d"), TTL: time.Minute}); err != nil {
		t.Fatalf("Issue after restart: %v", err)
	}
	if res, err := s.Check(ctx, store.CheckRequest{Key: "after", Digest: []byte("d"), MaxAttempts: 5}); err != nil || res.Status != store.Approved {
		t.Fatalf("Check after restart = %+v, %v; want Approved", res, err)
	}
}

// allOps calls every Store method once and returns their errors.
func allOps(ctx context.Context, s *Store) map[string]error {
	errs := map[string]error{}
	_, errs["Issue"] = s.Issue(ctx, store.IssueRequest{Key: "k", Digest: []byte("d"), TTL: time.Minute})
	_, errs["IssueWithLimits"] = s.Issue(ctx, store.IssueRequest{Key: "k", Digest: []byte("d"), TTL: time.Minute,
		Limits: []store.Limit{{Key: "ip", Max: 5, Window: time.Minute}}})
	res, err := s.Check(ctx, store.CheckRequest{Key: "k", Digest: []byte("d"), MaxAttempts: 5})
	if err == nil || res.Status != 0 {
		// Not %w: the callers' errors.Is checks must not pass on a Check that
		// returned the right error with a non-zero result (err may also be nil).
		err = fmt.Errorf("Check = %+v, %v; want an error and a zero result", res, err) //nolint:errorlint // see above
	}
	errs["Check"] = err
	errs["Withdraw"] = s.Withdraw(ctx, "k", nil, []byte("d"))
	_, errs["Attempt"] = s.Attempt(ctx, store.AttemptRequest{Key: "k", MaxFailures: 3, FailureWindow: time.Minute})
	return errs
}

func TestConnectionRefused(t *testing.T) {
	addr := redistest.FreeAddr(t)
	clients := map[string]redis.UniversalClient{
		"client":  redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1}),
		"cluster": redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, MaxRetries: 1}),
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			defer c.Close()
			s, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			for op, err := range allOps(context.Background(), s) {
				if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "redisstore: ") {
					t.Errorf("%s: error = %v, want a redisstore: error wrapping ECONNREFUSED", op, err)
				}
			}
			if err := s.Load(context.Background()); err == nil {
				t.Error("Load: nil error, want one")
			}
		})
	}
}

// TestStalledServer: a server that stops answering gives a client timeout,
// a context deadline or a cancellation, each recognisable with errors.Is;
// nothing ran while stalled, and the Store works again afterwards.
func TestStalledServer(t *testing.T) {
	mi := newMini(t)
	p := redistest.NewProxy(t, mi.m.Addr())
	setup := redis.NewClient(&redis.Options{Addr: mi.m.Addr()})
	defer setup.Close()
	ctx := context.Background()

	cases := []struct {
		name string
		opts redis.Options
		ctx  func() (context.Context, context.CancelFunc)
		is   func(error) bool
	}{
		{"ReadTimeout", redis.Options{ReadTimeout: 100 * time.Millisecond},
			func() (context.Context, context.CancelFunc) { return ctx, func() {} },
			func(err error) bool {
				var ne net.Error
				return errors.As(err, &ne) && ne.Timeout()
			}},
		{"ContextDeadline", redis.Options{ContextTimeoutEnabled: true},
			func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 100*time.Millisecond) },
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		// go-redis does not interrupt a read on cancellation: the call ends
		// at the read deadline, and the error still says Canceled.
		{"ContextCancel", redis.Options{ContextTimeoutEnabled: true, ReadTimeout: 500 * time.Millisecond},
			func() (context.Context, context.CancelFunc) {
				c, cancel := context.WithCancel(ctx)
				time.AfterFunc(100*time.Millisecond, cancel)
				return c, cancel
			},
			func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Addr, opts.MaxRetries = p.Addr(), -1
			c := redis.NewClient(&opts)
			t.Cleanup(func() { c.Close() })
			s := newTestStore(t, c)
			key := "k-" + tc.name
			if _, err := s.Issue(ctx, store.IssueRequest{Key: key, Digest: []byte("d"), TTL: time.Minute}); err != nil {
				t.Fatal(err)
			}
			p.Stall()
			cctx, cancel := tc.ctx()
			res, err := s.Check(cctx, store.CheckRequest{Key: key, Digest: []byte("d"), MaxAttempts: 5})
			cancel()
			p.DropConns() // what the proxy holds never reaches Redis
			if err == nil || res.Status == store.Approved || !tc.is(err) || !strings.HasPrefix(err.Error(), "redisstore: check: ") {
				t.Fatalf("Check on a stalled server = %+v, %v; want a redisstore: check: error of the right kind", res, err)
			}
			// The stalled Check never reached Redis: the code is still
			// pending (looked up straight on the server).
			if ok, _ := setup.HExists(ctx, s.destKey(key), "p").Result(); !ok {
				t.Fatalf("pending code gone after a stalled Check")
			}
			if res, err := s.Check(ctx, store.CheckRequest{Key: key, Digest: []byte("d"), MaxAttempts: 5}); err != nil || res.Status != store.Approved {
				t.Fatalf("Check after the stall = %+v, %v; want Approved", res, err)
			}
		})
	}
}

// TestCancelledBeforeCall: a context done before the call sends nothing.
func TestCancelledBeforeCall(t *testing.T) {
	c := miniBackend().client(t)
	s := newTestStore(t, c)
	hook := &counter{}
	c.AddHook(hook)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for op, err := range allOps(ctx, s) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error = %v, want one wrapping context.Canceled", op, err)
		}
	}
	if got := hook.take(); len(got) != 0 {
		t.Errorf("cancelled calls sent %q, want nothing", got)
	}
}

// TestScriptError: a script that fails (here: the destination's keys hold
// the wrong types, so HMGET and GET fail with WRONGTYPE) is an error, never
// an approval.
func TestScriptError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		c := b.client(t)
		s := newTestStore(t, c)
		ctx := context.Background()
		if err := c.Set(ctx, s.destKey("k"), "not a hash", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		for op, err := range allOps(ctx, s) {
			var re redis.Error
			if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), "redisstore: ") {
				t.Errorf("%s on a wrong-type key: error = %v, want a wrapped redis.Error", op, err)
			}
		}
	})
}

// TestReplyParsing: replies of the wrong shape are errors.
func TestReplyParsing(t *testing.T) {
	for _, v := range []any{nil, "x", int64(1), []any{}, []any{int64(1)}, []any{"1", int64(0)}, []any{int64(1), int64(0), int64(0)}} {
		if _, _, err := reply(v, 2, false); !errors.Is(err, errReply) {
			t.Errorf("reply(%#v, 2) error = %v, want errReply", v, err)
		}
	}
	if _, _, err := reply([]any{int64(1), int64(2)}, 1, true); !errors.Is(err, errReply) {
		t.Errorf("reply without its string: error = %v, want errReply", err)
	}
	n, str, err := reply([]any{int64(2), int64(7), "s"}, 2, true)
	if err != nil || n[0] != 2 || n[1] != 7 || str != "s" {
		t.Errorf("reply = %v %q %v, want [2 7] \"s\" nil", n, str, err)
	}
}

// forger is a go-redis hook that replaces the reply of every EVALSHA and
// EVAL with a fixed value: a script, a proxy or a server answering what
// the Store's scripts never write.
type forger struct{ val any }

func (f forger) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f forger) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.Cmd); ok && (cmd.Name() == "evalsha" || cmd.Name() == "eval") {
			c.SetErr(nil)
			c.SetVal(f.val)
			return nil
		}
		return err
	}
}

func (f forger) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestCheckUnexpectedReplies: Check approves only on exactly the script's
// approval reply. Every other pair (an unknown status; an approval, expiry
// or lock with a remaining count; a rejection with nothing remaining or
// more than MaxAttempts) and every other shape is an error with a zero
// result.
func TestCheckUnexpectedReplies(t *testing.T) {
	pair := func(status store.CheckStatus, remaining int64) []any { return []any{int64(status), remaining} }
	replies := []any{pair(0, 0), pair(-1, 0), pair(store.Replayed, 0), pair(store.Replayed+1, 0),
		pair(store.Approved, 1), pair(store.Approved, -1), pair(store.Expired, 2), pair(store.Locked, 1),
		pair(store.Rejected, 0), pair(store.Rejected, -1), pair(store.Rejected, 6),
		int64(store.Approved), "1", []any{int64(store.Approved)}, []any{"1", int64(0)},
		[]any{int64(store.Approved), int64(0), int64(0)}, nil}
	for _, v := range replies {
		t.Run(fmt.Sprintf("%#v", v), func(t *testing.T) {
			c := miniBackend().client(t)
			s := newTestStore(t, c)
			c.AddHook(forger{val: v})
			res, err := s.Check(context.Background(), store.CheckRequest{Key: "k", Digest: []byte("d"), MaxAttempts: 5})
			if !errors.Is(err, errReply) || res != (store.CheckResult{}) {
				t.Errorf("Check with reply %#v = %+v, %v; want a zero result and an error wrapping errReply", v, res, err)
			}
		})
	}
	// The replies the script does write still read as they should.
	valid := []store.CheckResult{
		{Status: store.Approved},
		{Status: store.Expired},
		{Status: store.Locked},
		{Status: store.Rejected, Remaining: 1},
		{Status: store.Rejected, Remaining: 5},
	}
	for _, want := range valid {
		c := miniBackend().client(t)
		s := newTestStore(t, c)
		v := pair(want.Status, int64(want.Remaining))
		c.AddHook(forger{val: v})
		res, err := s.Check(context.Background(), store.CheckRequest{Key: "k", Digest: []byte("d"), MaxAttempts: 5})
		if err != nil || res != want {
			t.Errorf("Check with reply %v = %+v, %v; want %+v", v, res, err, want)
		}
	}
}
