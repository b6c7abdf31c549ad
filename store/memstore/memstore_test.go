package memstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/storetest"
)

// fakeClock is a clock that moves only when told; safe for concurrent use.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func newFakeClock() *fakeClock {
	return &fakeClock{base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// newHarness returns a Store on a clock the suite moves.
func newHarness(t *testing.T) storetest.Harness {
	clock := newFakeClock()
	s := memstore.New(memstore.WithClock(clock.Now))
	t.Cleanup(func() { s.Close() })
	return storetest.Harness{Store: s, Advance: clock.Advance}
}

// newRealTimeHarness returns a Store on the system clock; the suite
// sleeps. It skips the test in -short mode.
func newRealTimeHarness(t *testing.T) storetest.Harness {
	if testing.Short() {
		t.Skip("real-time conformance sleeps; skipped in -short mode")
	}
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return storetest.Harness{Store: s}
}

func TestConformance(t *testing.T) { storetest.Run(t, newHarness) }

func TestConformanceRealTime(t *testing.T) {
	storetest.Run(t, newRealTimeHarness)
}

func digest() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func keys(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = fmt.Sprintf("k%015x", i)
	}
	return k
}

func mustIssue(t testing.TB, s *memstore.Store, req store.IssueRequest) store.IssueResult {
	t.Helper()
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return res
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapDelta returns to-from as a signed byte count. Heap sizes are far
// below 1<<63 on every platform; the check makes the conversion provably
// safe rather than assumed.
func heapDelta(from, to uint64) int64 {
	if from > math.MaxInt64 || to > math.MaxInt64 {
		panic("memstore_test: heap size does not fit in an int64")
	}
	return int64(to) - int64(from)
}

// TestMemoryReturnsToBaseline issues a burst of codes with every kind of
// state, lets it all expire, and checks the heap shrinks back.
func TestMemoryReturnsToBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a burst of 100,000 codes; skipped in -short mode")
	}
	const n = 100_000
	clock := newFakeClock()
	s := memstore.New(memstore.WithClock(clock.Now), memstore.WithSweepInterval(0))
	defer s.Close()
	ks := keys(n)
	d := digest()
	ctx := context.Background()

	before := heapAlloc()
	for i, k := range ks {
		mustIssue(t, s, store.IssueRequest{Key: k, Digest: d, Sealed: d, TTL: 5 * time.Minute,
			Cooldown: 30 * time.Second, SendWindow: time.Hour, SendsPerWindow: 5,
			Limits: []store.Limit{{Key: ks[i/10], Max: 100, Window: time.Hour}}})
		if i%2 == 0 {
			if _, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: digest(), MaxAttempts: 5, MaxFailures: 10, FailureWindow: time.Hour}); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if _, err := s.Attempt(ctx, store.AttemptRequest{Key: k, Marker: "m", MarkerTTL: time.Minute, MaxFailures: 5, FailureWindow: time.Hour}); err != nil {
				t.Fatalf("Attempt: %v", err)
			}
		}
	}
	if got, want := s.Len(), n+n/10; got != want {
		t.Fatalf("Len() after the burst = %d, want %d", got, want)
	}
	peak := heapAlloc()

	clock.Advance(time.Hour + time.Second)
	s.Sweep()
	if got := s.Len(); got != 0 {
		t.Fatalf("Len() after Sweep = %d, want 0", got)
	}
	after := heapAlloc()
	runtime.KeepAlive(ks)
	grown := heapDelta(before, peak)
	left := heapDelta(before, after)
	t.Logf("heap: baseline %d B, peak +%d B, after sweep %+d B", before, grown, left)
	// Generous: a tenth of the burst may stay (allocator and GC noise).
	if left > grown/10 {
		t.Fatalf("heap after sweep = baseline %+d B, want at most %d B (a tenth of the burst's %d B)", left, grown/10, grown)
	}
}

func TestCloseTwice(t *testing.T) {
	s := memstore.New(memstore.WithSweepInterval(time.Millisecond))
	if err := s.Close(); err != nil {
		t.Fatalf("first Close() = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
	// Concurrent Closes, on a sweeper-less store too.
	for _, s := range []*memstore.Store{memstore.New(), memstore.New(memstore.WithSweepInterval(0))} {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { s.Close() })
		}
		wg.Wait()
	}
	// Still usable after Close.
	res := mustIssue(t, s, store.IssueRequest{Key: "k", Digest: []byte("d"), TTL: time.Minute})
	if res.Outcome != store.Issued {
		t.Fatalf("Issue after Close = %v, want issued", res.Outcome)
	}
}

func TestSweeperRuns(t *testing.T) {
	clock := newFakeClock()
	s := memstore.New(memstore.WithClock(clock.Now), memstore.WithSweepInterval(time.Millisecond))
	defer s.Close()
	for _, k := range keys(100) {
		mustIssue(t, s, store.IssueRequest{Key: k, Digest: []byte("d"), TTL: time.Minute,
			Limits: []store.Limit{{Key: "ip", Max: 1000, Window: time.Minute}}})
	}
	if got := s.Len(); got != 101 {
		t.Fatalf("Len() = %d, want 101", got)
	}
	clock.Advance(time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Len() = %d 10s after everything expired, want 0: the sweeper does not run", s.Len())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNoSweeperKeepsExpiredEntries(t *testing.T) {
	clock := newFakeClock()
	s := memstore.New(memstore.WithClock(clock.Now), memstore.WithSweepInterval(0))
	mustIssue(t, s, store.IssueRequest{Key: "k", Digest: []byte("d"), TTL: time.Minute})
	clock.Advance(time.Hour)
	if got := s.Len(); got != 1 {
		t.Fatalf("Len() without sweeper = %d, want 1 until Sweep", got)
	}
	s.Sweep()
	if got := s.Len(); got != 0 {
		t.Fatalf("Len() after Sweep = %d, want 0", got)
	}
}

// TestSweepKeepsLiveState checks that Sweep removes only what has expired.
func TestSweepKeepsLiveState(t *testing.T) {
	clock := newFakeClock()
	s := memstore.New(memstore.WithClock(clock.Now), memstore.WithSweepInterval(0))
	ctx := context.Background()
	d := []byte("digest")
	// The code expires first; the cooldown outlives it.
	mustIssue(t, s, store.IssueRequest{Key: "k", Digest: d, TTL: time.Second, Cooldown: time.Minute})
	clock.Advance(2 * time.Second)
	s.Sweep()
	res := mustIssue(t, s, store.IssueRequest{Key: "k", Digest: d, TTL: time.Second})
	if res.Outcome != store.Limited || res.Reason != store.LimitCooldown {
		t.Fatalf("Issue after Sweep = %v/%v, want limited/cooldown: Sweep removed a live cooldown", res.Outcome, res.Reason)
	}
	if res, _ := s.Check(ctx, store.CheckRequest{Key: "k", Digest: d, MaxAttempts: 5}); res.Status != store.Expired {
		t.Fatalf("Check of an expired code = %v, want expired", res.Status)
	}
}

// TestCopiesCallerSlices checks that the Store keeps no reference to the
// request's slices, and hands out none of its own.
func TestCopiesCallerSlices(t *testing.T) {
	s := memstore.New(memstore.WithSweepInterval(0))
	ctx := context.Background()
	for _, size := range []int{32, 64} { // inline and heap digests
		k, d, sealed := fmt.Sprint("k", size), make([]byte, size), []byte("sealed")
		rand.Read(d)
		want := string(d)
		mustIssue(t, s, store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: time.Minute})
		d[0]++
		sealed[0] = 'X'
		res := mustIssue(t, s, store.IssueRequest{Key: k, Digest: d, TTL: time.Minute, KeepPending: true})
		if string(res.Sealed) != "sealed" {
			t.Fatalf("Sealed = %q, want %q: the Store kept the caller's slice", res.Sealed, "sealed")
		}
		res.Sealed[0] = 'Y'
		res = mustIssue(t, s, store.IssueRequest{Key: k, Digest: d, TTL: time.Minute, KeepPending: true})
		if string(res.Sealed) != "sealed" {
			t.Fatalf("Sealed = %q, want %q: the Store handed out its own slice", res.Sealed, "sealed")
		}
		got, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: []byte(want), MaxAttempts: 5})
		if err != nil || got.Status != store.Approved {
			t.Fatalf("Check(original digest) = %v, %v; want approved, nil", got.Status, err)
		}
	}
}

func TestDefaultClock(t *testing.T) {
	// Without WithClock the Store runs on real time; a code with a long
	// TTL is pending, one with a 1ns TTL has expired by the time it is
	// checked (no sleep needed: time moves on by itself).
	s := memstore.New()
	defer s.Close()
	ctx := context.Background()
	mustIssue(t, s, store.IssueRequest{Key: "long", Digest: []byte("d"), TTL: time.Hour})
	mustIssue(t, s, store.IssueRequest{Key: "short", Digest: []byte("d"), TTL: time.Nanosecond})
	for key, want := range map[string]store.CheckStatus{"long": store.Approved, "short": store.Expired} {
		res, err := s.Check(ctx, store.CheckRequest{Key: key, Digest: []byte("d"), MaxAttempts: 1})
		if err != nil || res.Status != want {
			t.Fatalf("Check(%s) = %v, %v; want %v, nil", key, res.Status, err, want)
		}
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under -cover or -race")
	}
	s := memstore.New(memstore.WithSweepInterval(0))
	ctx := context.Background()
	d := digest()
	mustIssue(t, s, store.IssueRequest{Key: "k", Digest: d, TTL: time.Hour})
	wrong := store.CheckRequest{Key: "k", Digest: digest(), MaxAttempts: 1 << 30, MaxFailures: 1 << 30, FailureWindow: time.Hour}
	n := testing.AllocsPerRun(1000, func() {
		if _, err := s.Check(ctx, wrong); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	if n != 0 {
		t.Errorf("Check (rejected) allocates %v times, want 0", n)
	}
	right := store.CheckRequest{Key: "k", Digest: d, MaxAttempts: 5}
	issue := store.IssueRequest{Key: "k", Digest: d, TTL: time.Hour}
	n = testing.AllocsPerRun(1000, func() {
		// A resend reuses the entry: no allocation either.
		if _, err := s.Issue(ctx, issue); err != nil {
			t.Fatalf("Issue: %v", err)
		}
		if _, err := s.Check(ctx, right); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	if n != 0 {
		t.Errorf("Issue (resend) + Check (approved) allocate %v times, want 0", n)
	}
}

// TestUnreachableStoreStopsSweeper checks that a Store dropped without Close
// does not leak its sweeper goroutine. It counts sweeper goroutines by their
// stacks, not all goroutines, so goroutines that other tests left behind and
// that end meanwhile do not disturb it.
func TestUnreachableStoreStopsSweeper(t *testing.T) {
	// Let the sweepers of stores that earlier tests dropped be collected.
	before := sweepers()
	for range 100 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		n := sweepers()
		if n == before {
			break
		}
		before = n
	}
	stores := make([]*memstore.Store, 0, 10)
	for range 10 {
		s := memstore.New(memstore.WithSweepInterval(time.Hour))
		mustIssue(t, s, store.IssueRequest{Key: "k", Digest: []byte("d"), TTL: time.Minute})
		stores = append(stores, s)
	}
	// A goroutine shows in the stacks once it has run: wait for all ten.
	deadline := time.Now().Add(10 * time.Second)
	for n := sweepers(); n < before+10; n = sweepers() {
		if time.Now().After(deadline) {
			t.Fatalf("%d sweeper goroutines 10s after starting 10 sweepers, want at least %d", n, before+10)
		}
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(stores)
	clear(stores) // now unreachable, without Close
	deadline = time.Now().Add(10 * time.Second)
	for sweepers() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d sweeper goroutines 10s after the stores became unreachable, want %d", sweepers(), before)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// sweepers counts the goroutines running a memstore sweeper.
func sweepers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "memstore.(*Store).sweepLoop(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// A Store not made by New refuses every call with an error naming New,
// instead of panicking inside its hash; Close, Sweep and Len are harmless.
func TestZeroStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, s := range map[string]*memstore.Store{"zero": {}, "nil": nil} {
		errs := map[string]error{}
		_, errs["Issue"] = s.Issue(ctx, store.IssueRequest{Key: "k", Digest: []byte("d"), TTL: time.Minute})
		_, errs["Check"] = s.Check(ctx, store.CheckRequest{Key: "k", Digest: []byte("d"), MaxAttempts: 3})
		errs["Withdraw"] = s.Withdraw(ctx, "k", nil, []byte("d"))
		_, errs["Attempt"] = s.Attempt(ctx, store.AttemptRequest{Key: "k", MaxFailures: 3, FailureWindow: time.Minute})
		_, errs["Fallback"] = s.Fallback(ctx, store.FallbackRequest{Key: "k", Tag: []byte("t")})
		errs["ReplaceCodes"] = s.ReplaceCodes(ctx, store.ReplaceCodesRequest{Key: "k", Digests: [][]byte{[]byte("d")}, TTL: time.Minute})
		_, errs["RedeemCode"] = s.RedeemCode(ctx, store.RedeemCodeRequest{Key: "k", Digest: []byte("d"), MaxFailures: 3, FailureWindow: time.Minute})
		_, errs["CountCodes"] = s.CountCodes(ctx, "k")
		_, errs["AddCounts"] = s.AddCounts(ctx, store.CountRequest{Key: "k", Now: time.Unix(0, 0),
			Series: []store.Series{{Width: time.Minute, Len: 2}}, Add: []int64{1}})
		errs["Schedule"] = s.Schedule(ctx, "ref", time.Second)
		errs["Cancel"] = s.Cancel(ctx, "ref")
		_, errs["Claim"] = s.Claim(ctx, 1, time.Second)
		for call, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "memstore.New") {
				t.Errorf("%s Store: %s err = %v, want an error naming memstore.New", name, call, err)
			}
		}
		s.Sweep()
		if n := s.Len(); n != 0 {
			t.Errorf("%s Store: Len = %d, want 0", name, n)
		}
		if err := s.Close(); err != nil {
			t.Errorf("%s Store: Close = %v", name, err)
		}
	}
}
