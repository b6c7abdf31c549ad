// Package storetest is a conformance suite for implementations of
// store.Store. Every driver runs it from its own tests, so every driver is
// held to the same contract (the one documented in package store):
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Harness {
//			clock := newFakeClock()
//			s := mydriver.New(mydriver.WithClock(clock.Now))
//			t.Cleanup(func() { s.Close() })
//			return storetest.Harness{Store: s, Advance: clock.Advance}
//		})
//	}
//
// Run calls newHarness once per subtest and runs the subtests in parallel.
// A harness whose Advance is set must therefore have a clock of its own: one
// subtest moving time must not move it for another (with miniredis, start one
// server per harness and let Advance call its FastForward as well as moving
// the driver's clock).
//
// A harness whose Advance is nil runs on real time: the suite sleeps instead
// of advancing, so it can run against a real, shared Redis. For that the
// suite keeps every duration it waits for short (a few hundred
// milliseconds), overlaps the sleeps of parallel subtests (about a second in
// all), gives every subtest random keys of 16 hex digits, and lets no state
// it leaves behind live longer than a minute.
//
// The concurrency subtests release hundreds of goroutines at once and count
// the outcomes; a backend that needs several round trips per call loses
// those races readily. An in-process store's critical sections are too short
// to lose them reliably, so run its conformance test under -race as well.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
)

// Harness is one store under test.
type Harness struct {
	// Store is the store under test. It may hold state from other subtests
	// (the suite uses fresh random keys) but must not share a fake clock
	// with another Harness.
	Store store.Store
	// Advance moves the store's clock forward by d. nil means the store
	// runs on real time and the suite sleeps instead.
	Advance func(d time.Duration)
}

const (
	// short is the unit of every duration the suite waits out. On a store
	// with a real clock, a step that must land inside a span of short has
	// that much room for the scheduler's delays, so it is large enough for
	// a loaded machine running the race detector.
	short = time.Second
	// long is a lifetime the suite never waits out.
	long = time.Minute
	// slack is added to real-time sleeps: backends round to milliseconds
	// and a timer may fire early relative to the backend's clock.
	slack = 30 * time.Millisecond
)

// Run runs the conformance suite against the stores made by newHarness,
// which is called once for every subtest, from that subtest (so it may use
// t.Cleanup and t.Skip).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if h.Store == nil {
				t.Fatal("storetest: newHarness returned a nil Store")
			}
			tc.fn(&env{t: t, h: h, ctx: t.Context()})
		})
	}
}

// extensionTest is one test of the suite of an optional extension (store.CodeSets,
// store.Counters), on its environment E.
type extensionTest[E any] struct {
	name string
	fn   func(e E)
}

// runExtension runs tests as Run does, each in a parallel subtest with its
// own harness, whose Store must implement the extension X (named name);
// newEnv gives each test its environment.
func runExtension[X, E any](t *testing.T, newHarness func(t *testing.T) Harness, name string,
	tests []extensionTest[E], newEnv func(e env, x X) E) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			x, ok := h.Store.(X)
			if !ok {
				t.Fatalf("storetest: %T does not implement %s", h.Store, name)
			}
			tc.fn(newEnv(env{t: t, h: h, ctx: t.Context()}, x))
		})
	}
}

var tests = []struct {
	name string
	fn   func(e *env)
}{
	{"IssueCheckApprove", testIssueCheckApprove},
	{"SingleUse", testSingleUse},
	{"NeverIssued", testNeverIssued},
	{"Expiry", testExpiry},
	{"WrongDigest", testWrongDigest},
	{"Resend", testResend},
	{"IssueRetryIdempotent", testIssueRetryIdempotent},
	{"KeepPending", testKeepPending},
	{"KeepPendingNothingPending", testKeepPendingNothingPending},
	{"Cooldown", testCooldown},
	{"Window", testWindow},
	{"ExtraLimits", testExtraLimits},
	{"LimitOrder", testLimitOrder},
	{"LimitedChangesNothing", testLimitedChangesNothing},
	{"Scope", testScope},
	{"ScopeKeepPending", testScopeKeepPending},
	{"ScopePending", testScopePending},
	{"ClientSendLimits", testClientSendLimits},
	{"SendCeiling", testSendCeiling},
	{"SendCeilingApproval", testSendCeilingApproval},
	{"SendCeilingWindow", testSendCeilingWindow},
	{"FailureRun", testFailureRun},
	{"FailureRunApproval", testFailureRunApproval},
	{"FailureRunOutlivesClient", testFailureRunOutlivesClient},
	{"FailureCap", testFailureCap},
	{"FailureCapResetOnApproval", testFailureCapReset},
	{"FailureWindow", testFailureWindow},
	{"NoFailureCapCountsNothing", testNoFailureCap},
	{"Withdraw", testWithdraw},
	{"WithdrawnAttemptsExpire", testWithdrawnAttemptsExpire},
	{"WithdrawnAttemptsOutliveLock", testWithdrawnAttemptsOutliveLock},
	{"AttemptApproveReplay", testAttemptApproveReplay},
	{"AttemptFailures", testAttemptFailures},
	{"AttemptResetOnApproval", testAttemptReset},
	{"AttemptReplayLocks", testAttemptReplayLocks},
	{"AttemptMarkerExpiry", testAttemptMarkerExpiry},
	{"AttemptFailureWindow", testAttemptFailureWindow},
	{"SharedFailureCounter", testSharedFailureCounter},
	{"ConcurrentApprove", testConcurrentApprove},
	{"ConcurrentReject", testConcurrentReject},
	{"ConcurrentIssue", testConcurrentIssue},
	{"ConcurrentExtraLimit", testConcurrentExtraLimit},
	{"ConcurrentAttemptMarker", testConcurrentAttemptMarker},
	{"CancelledContext", testCancelledContext},
	{"InvalidRequest", testInvalidRequest},
}

// env is one subtest's view of its harness.
type env struct {
	t   *testing.T
	h   Harness
	ctx context.Context
	// refs are the FallbackQueue entries the subtest scheduled.
	refs []string
}

// fake reports whether the store runs on a clock the suite controls, so
// exact boundaries can be tested.
func (e *env) fake() bool { return e.h.Advance != nil }

// wait lets d (and a little more) pass on the store's clock.
func (e *env) wait(d time.Duration) {
	if e.fake() {
		e.h.Advance(d + time.Millisecond)
		return
	}
	time.Sleep(d + slack)
}

// key returns a fresh random key: 16 hex digits.
func key() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// digest returns a fresh random digest the size of an HMAC-SHA256.
func digest() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func issueReq(key string, d []byte) store.IssueRequest {
	return store.IssueRequest{Key: key, Digest: d, TTL: long}
}

func checkReq(key string, d []byte, maxAttempts int) store.CheckRequest {
	return store.CheckRequest{Key: key, Digest: d, MaxAttempts: maxAttempts}
}

func attemptReq(key, marker string, maxFailures int) store.AttemptRequest {
	r := store.AttemptRequest{Key: key, Marker: marker, MaxFailures: maxFailures, FailureWindow: long}
	if marker != "" {
		r.MarkerTTL = long
	}
	return r
}

func (e *env) issue(req store.IssueRequest) store.IssueResult {
	e.t.Helper()
	res, err := e.h.Store.Issue(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Issue: unexpected error: %v", err)
	}
	return res
}

// issued issues req and fails unless a new code was saved with the given
// carried attempts and a fresh TTL.
func (e *env) issued(req store.IssueRequest, attempts int) {
	e.t.Helper()
	res := e.issue(req)
	if res.Outcome != store.Issued || res.Attempts != attempts || res.ExpiresIn != req.TTL {
		e.t.Fatalf("Issue = {Outcome: %v, Attempts: %d, ExpiresIn: %v, Reason: %v}, want {Outcome: issued, Attempts: %d, ExpiresIn: %v}",
			res.Outcome, res.Attempts, res.ExpiresIn, res.Reason, attempts, req.TTL)
	}
}

// retried repeats an Issue whose code is pending and fails unless it is
// Issued again with the pending code's attempts and remaining lifetime.
func (e *env) retried(req store.IssueRequest, attempts int) {
	e.t.Helper()
	res := e.issue(req)
	if res.Outcome != store.Issued || res.Attempts != attempts || res.ExpiresIn <= 0 || res.ExpiresIn > req.TTL {
		e.t.Fatalf("repeated Issue = {Outcome: %v, Attempts: %d, ExpiresIn: %v, Reason: %v}, want {Outcome: issued, Attempts: %d, 0 < ExpiresIn <= %v}",
			res.Outcome, res.Attempts, res.ExpiresIn, res.Reason, attempts, req.TTL)
	}
}

// limited issues req, fails unless the given limit refuses it with
// 0 < RetryAfter <= maxRetry, and returns RetryAfter.
func (e *env) limited(req store.IssueRequest, reason store.LimitReason, index int, maxRetry time.Duration) time.Duration {
	e.t.Helper()
	res := e.issue(req)
	if res.Outcome != store.Limited || res.Reason != reason || (reason == store.LimitExtra && res.LimitIndex != index) {
		e.t.Fatalf("Issue = {Outcome: %v, Reason: %v, LimitIndex: %d}, want {Outcome: limited, Reason: %v, LimitIndex: %d}",
			res.Outcome, res.Reason, res.LimitIndex, reason, index)
	}
	if res.RetryAfter <= 0 || res.RetryAfter > maxRetry {
		e.t.Fatalf("Issue limited by %v: RetryAfter = %v, want in (0, %v]", reason, res.RetryAfter, maxRetry)
	}
	return res.RetryAfter
}

// check checks req and fails unless the result is {status, remaining}.
func (e *env) check(req store.CheckRequest, status store.CheckStatus, remaining int) {
	e.t.Helper()
	res, err := e.h.Store.Check(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Check: unexpected error: %v", err)
	}
	if want := (store.CheckResult{Status: status, Remaining: remaining}); res != want {
		e.t.Fatalf("Check = %+v (%v), want %+v (%v)", res, res.Status, want, want.Status)
	}
}

// attempt records req and fails unless the result has the given status and
// remaining; it returns the result.
func (e *env) attempt(req store.AttemptRequest, status store.CheckStatus, remaining int) store.AttemptResult {
	e.t.Helper()
	res, err := e.h.Store.Attempt(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Attempt: unexpected error: %v", err)
	}
	if res.Status != status || res.Remaining != remaining {
		e.t.Fatalf("Attempt = {Status: %v, Remaining: %d}, want {Status: %v, Remaining: %d}",
			res.Status, res.Remaining, status, remaining)
	}
	if status == store.Locked && (res.RetryAfter <= 0 || res.RetryAfter > req.FailureWindow) {
		e.t.Fatalf("Attempt locked: RetryAfter = %v, want in (0, %v]", res.RetryAfter, req.FailureWindow)
	}
	return res
}

func (e *env) withdraw(key string, d []byte) {
	e.t.Helper()
	if err := e.h.Store.Withdraw(e.ctx, key, nil, d); err != nil {
		e.t.Fatalf("Withdraw: unexpected error: %v", err)
	}
}

// concurrently runs fn(0..n-1) in n goroutines released together.
func concurrently(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// tally counts values and reports them as "name=count, ..." in sorted order.
type tally[T comparable] map[T]int

func (c tally[T]) String() string {
	var s []string
	for k, n := range c {
		s = append(s, fmt.Sprintf("%v=%d", k, n))
	}
	slices.Sort(s)
	return fmt.Sprint(s)
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// --- one-time codes ---

func testIssueCheckApprove(e *env) {
	k, d := key(), digest()
	e.issued(issueReq(k, d), 0)
	e.check(checkReq(k, d, 5), store.Approved, 0)
}

func testSingleUse(e *env) {
	k, d := key(), digest()
	e.issued(issueReq(k, d), 0)
	e.check(checkReq(k, d, 5), store.Approved, 0)
	e.check(checkReq(k, d, 5), store.Expired, 0)
}

func testNeverIssued(e *env) {
	k := key()
	// A Check of nothing counts nothing: the failure cap of 1 would lock.
	req := store.CheckRequest{Key: k, Digest: digest(), MaxAttempts: 1, MaxFailures: 1, FailureWindow: long}
	e.check(req, store.Expired, 0)
	e.check(req, store.Expired, 0)
	e.issued(store.IssueRequest{Key: k, Digest: digest(), TTL: long, MaxFailures: 1}, 0)
}

func testExpiry(e *env) {
	before, after := key(), key()
	d := digest()
	req := issueReq(before, d)
	req.TTL = short
	e.issued(req, 0)
	req.Key = after
	e.issued(req, 0)
	if e.fake() {
		e.h.Advance(short - time.Millisecond)
		e.check(checkReq(before, d, 5), store.Approved, 0)
	}
	e.wait(short)
	e.check(checkReq(after, d, 5), store.Expired, 0)
	// The expired code's attempts are gone with it.
	e.issued(issueReq(after, digest()), 0)
}

func testWrongDigest(e *env) {
	for _, maxAttempts := range []int{1, 2, 5} {
		e.t.Run(fmt.Sprintf("MaxAttempts=%d", maxAttempts), func(t *testing.T) {
			e := &env{t: t, h: e.h, ctx: t.Context()}
			k, d := key(), digest()
			e.issued(issueReq(k, d), 0)
			for remaining := maxAttempts - 1; remaining > 0; remaining-- {
				e.check(checkReq(k, digest(), maxAttempts), store.Rejected, remaining)
			}
			e.check(checkReq(k, digest(), maxAttempts), store.Locked, 0)
			// The code is gone: even the right digest finds nothing.
			e.check(checkReq(k, d, maxAttempts), store.Expired, 0)
			e.check(checkReq(k, digest(), maxAttempts), store.Expired, 0)
		})
	}
}

func testResend(e *env) {
	k, d1, d2 := key(), digest(), digest()
	req := issueReq(k, d1)
	req.TTL = 2 * short
	e.issued(req, 0)
	e.check(checkReq(k, digest(), 5), store.Rejected, 4)
	e.check(checkReq(k, digest(), 5), store.Rejected, 3)
	e.wait(short)
	// The resend replaces the digest, gets a fresh TTL and carries the
	// two attempts.
	req.Digest = d2
	e.issued(req, 2)
	e.wait(short)
	e.check(checkReq(k, d1, 5), store.Rejected, 2) // the old code no longer works
	e.check(checkReq(k, d2, 5), store.Approved, 0) // the new one outlives the old TTL
}

func testKeepPending(e *env) {
	k, d1, d2 := key(), digest(), digest()
	sealed := []byte("sealed code 1")
	req := store.IssueRequest{Key: k, Digest: d1, Sealed: slices.Clone(sealed), TTL: 3 * short}
	e.issued(req, 0)
	e.check(checkReq(k, digest(), 5), store.Rejected, 4)
	e.wait(short)

	req = store.IssueRequest{Key: k, Digest: d2, Sealed: []byte("sealed code 2"), TTL: 3 * short, KeepPending: true}
	res := e.issue(req)
	if res.Outcome != store.Reused || res.Attempts != 1 || string(res.Sealed) != string(sealed) {
		e.t.Fatalf("Issue(KeepPending) = {Outcome: %v, Attempts: %d, Sealed: %q}, want {Outcome: reused, Attempts: 1, Sealed: %q}",
			res.Outcome, res.Attempts, res.Sealed, sealed)
	}
	// The kept code keeps its expiry: at most 3*short - short is left.
	if res.ExpiresIn <= 0 || res.ExpiresIn > 2*short {
		e.t.Fatalf("Issue(KeepPending): ExpiresIn = %v, want in (0, %v]", res.ExpiresIn, 2*short)
	}
	e.check(checkReq(k, d2, 5), store.Rejected, 3) // the request's digest was discarded
	e.check(checkReq(k, d1, 5), store.Approved, 0)

	// And the kept expiry is the real one.
	k = key()
	e.issued(store.IssueRequest{Key: k, Digest: d1, TTL: 2 * short}, 0)
	e.wait(short)
	if res := e.issue(store.IssueRequest{Key: k, Digest: d2, TTL: 2 * short, KeepPending: true}); res.Outcome != store.Reused {
		e.t.Fatalf("Issue(KeepPending) = %v, want reused", res.Outcome)
	}
	e.wait(short)
	e.check(checkReq(k, d1, 5), store.Expired, 0)
}

func testKeepPendingNothingPending(e *env) {
	k, d := key(), digest()
	req := issueReq(k, d)
	req.KeepPending = true
	e.issued(req, 0)
	e.check(checkReq(k, d, 5), store.Approved, 0)
	e.issued(req, 0) // consumed: nothing pending again
	e.check(checkReq(k, d, 5), store.Approved, 0)
}

func testCooldown(e *env) {
	k, d1, d2 := key(), digest(), digest()
	req := issueReq(k, d1)
	req.Cooldown = short
	e.issued(req, 0)
	req.Digest = d2
	retry := e.limited(req, store.LimitCooldown, 0, short)
	if e.fake() {
		if retry != short {
			e.t.Fatalf("RetryAfter = %v, want the full Cooldown %v (no time has passed)", retry, short)
		}
		e.h.Advance(short - time.Millisecond)
		e.limited(req, store.LimitCooldown, 0, time.Millisecond)
		retry = time.Millisecond
	}
	e.wait(retry)
	e.issued(req, 0)
	req.Digest = digest()                         // the same digest would be an idempotent retry
	e.limited(req, store.LimitCooldown, 0, short) // the cooldown starts again
	e.check(checkReq(k, d2, 5), store.Approved, 0)
}

func testWindow(e *env) {
	k := key()
	// Each Issue is a new code: the same digest would be an idempotent retry.
	fresh := func() store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: digest(), TTL: long, SendWindow: 2 * short, SendsPerWindow: 3}
	}
	e.issued(fresh(), 0)
	e.wait(short)
	e.issued(fresh(), 0)
	e.issued(fresh(), 0)
	// The window is fixed from the first Issue: it ends short from now.
	retry := e.limited(fresh(), store.LimitWindow, 0, short)
	if e.fake() {
		e.h.Advance(retry - time.Millisecond)
		e.limited(fresh(), store.LimitWindow, 0, time.Millisecond)
		retry = time.Millisecond
	}
	e.wait(retry)
	// A new window: the whole budget is back (a sliding window would
	// allow only one).
	for range 3 {
		e.issued(fresh(), 0)
	}
	e.limited(fresh(), store.LimitWindow, 0, 2*short)
}

func testExtraLimits(e *env) {
	ip, global := key(), key()
	limits := []store.Limit{
		{Key: global, Max: 100, Window: long},
		{Key: ip, Max: 3, Window: short},
	}
	for range 3 {
		e.issued(store.IssueRequest{Key: key(), Digest: digest(), TTL: long, Limits: limits}, 0)
	}
	k, d := key(), digest()
	req := store.IssueRequest{Key: k, Digest: d, TTL: long, Limits: limits}
	retry := e.limited(req, store.LimitExtra, 1, short)
	e.check(checkReq(k, d, 5), store.Expired, 0) // nothing was saved
	// A different IP is not limited.
	e.issued(store.IssueRequest{Key: key(), Digest: digest(), TTL: long,
		Limits: []store.Limit{limits[0], {Key: key(), Max: 3, Window: short}}}, 0)
	e.wait(retry)
	e.issued(req, 0)
	e.check(checkReq(k, d, 5), store.Approved, 0)
}

func testLimitOrder(e *env) {
	// Each case exhausts two limits; the first in contract order reports.
	cases := []struct {
		name   string
		reason store.LimitReason
		index  int
	}{
		{"FailuresBeforeCooldown", store.LimitFailures, 0},
		{"CooldownBeforeWindow", store.LimitCooldown, 0},
		{"WindowBeforeExtra", store.LimitWindow, 0},
		{"ExtraInOrder", store.LimitExtra, 1},
	}
	for _, c := range cases {
		e.t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, h: e.h, ctx: t.Context()}
			k, d := key(), digest()
			spare, spent1, spent2 := key(), key(), key()
			// Spend two extra limits from another destination.
			e.issued(store.IssueRequest{Key: key(), Digest: digest(), TTL: long,
				Limits: []store.Limit{{Key: spent1, Max: 1, Window: long}, {Key: spent2, Max: 1, Window: long}}}, 0)
			req := store.IssueRequest{Key: k, Digest: d, TTL: long}
			switch c.reason {
			case store.LimitFailures:
				// A cooldown running and the failure cap reached.
				req.Cooldown, req.MaxFailures = long, 1
				e.issued(req, 0)
				e.check(store.CheckRequest{Key: k, Digest: digest(), MaxAttempts: 5, MaxFailures: 1, FailureWindow: long}, store.Locked, 0)
			case store.LimitCooldown:
				req.Cooldown, req.SendWindow, req.SendsPerWindow = long, long, 1
				e.issued(req, 0)
			case store.LimitWindow:
				req.SendWindow, req.SendsPerWindow = long, 1
				e.issued(req, 0)
				req.Limits = []store.Limit{{Key: spent1, Max: 1, Window: long}}
			case store.LimitExtra:
				req.Limits = []store.Limit{{Key: spare, Max: 5, Window: long},
					{Key: spent1, Max: 1, Window: long}, {Key: spent2, Max: 1, Window: long}}
			}
			req.Digest = digest() // the same digest would be an idempotent retry
			e.limited(req, c.reason, c.index, long)
		})
	}
}

func testLimitedChangesNothing(e *env) {
	cases := []struct {
		name   string
		reason store.LimitReason
	}{
		{"Cooldown", store.LimitCooldown},
		{"Window", store.LimitWindow},
		{"Extra", store.LimitExtra},
		{"Failures", store.LimitFailures},
	}
	for _, c := range cases {
		e.t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, h: e.h, ctx: t.Context()}
			k, d1, d2 := key(), digest(), digest()
			shared, spent := key(), key()
			base := store.IssueRequest{Key: k, Digest: d1, TTL: long, SendWindow: long, SendsPerWindow: 2,
				Limits: []store.Limit{{Key: shared, Max: 2, Window: long}}}
			e.issued(base, 0)
			e.check(store.CheckRequest{Key: k, Digest: digest(), MaxAttempts: 5, MaxFailures: 3, FailureWindow: long}, store.Rejected, 2)

			bad := base
			bad.Digest = d2
			bad.Sealed = []byte("sealed")
			switch c.reason {
			case store.LimitCooldown:
				// A cooldown from an Issue that does not charge the window
				// or the shared limit.
				other := key()
				e.issued(store.IssueRequest{Key: other, Digest: digest(), TTL: long, Cooldown: long}, 0)
				bad.Key = other
			case store.LimitWindow:
				bad.SendsPerWindow = 1
			case store.LimitExtra:
				e.issued(store.IssueRequest{Key: key(), Digest: digest(), TTL: long,
					Limits: []store.Limit{{Key: spent, Max: 1, Window: long}}}, 0)
				bad.Limits = append(slices.Clone(bad.Limits), store.Limit{Key: spent, Max: 1, Window: long})
			case store.LimitFailures:
				bad.MaxFailures = 1
			}
			e.limited(bad, c.reason, 1, long)

			// The pending code is untouched: d2 was not saved, the attempt
			// count is still 1 (and the failure counter 1, below 3).
			e.check(store.CheckRequest{Key: k, Digest: d2, MaxAttempts: 5, MaxFailures: 3, FailureWindow: long}, store.Rejected, 1)
			e.check(checkReq(k, d1, 5), store.Approved, 0)
			// No counter was charged: the window and the shared limit each
			// have one Issue left.
			e.issued(base, 0)
			if c.reason == store.LimitCooldown {
				// And the refused Issue did not replace that key's code.
				e.check(checkReq(bad.Key, d2, 5), store.Rejected, 4)
			}
		})
	}
}

// testIssueRetryIdempotent: an Issue repeated with the pending code's own
// digest (a client resending a request whose reply was lost) is Issued
// again and charges nothing, even under a running cooldown and a spent
// window.
func testIssueRetryIdempotent(e *env) {
	k, d, shared := key(), digest(), key()
	req := store.IssueRequest{Key: k, Digest: d, TTL: long, Cooldown: long, SendWindow: long, SendsPerWindow: 1,
		Limits: []store.Limit{{Key: shared, Max: 2, Window: long}}}
	e.issued(req, 0)
	e.retried(req, 0)
	e.check(checkReq(k, digest(), 5), store.Rejected, 4)
	e.retried(req, 1) // the attempt stays counted
	// The shared limit was charged once: another destination still fits.
	e.issued(store.IssueRequest{Key: key(), Digest: digest(), TTL: long, Limits: req.Limits}, 0)
	e.check(checkReq(k, d, 5), store.Approved, 0)
	// Once the code is used, the same digest is a new Issue: refused by
	// the cooldown.
	e.limited(req, store.LimitCooldown, 0, long)
}

// testNoFailureCap: with MaxFailures 0 mismatches count no failures, so a
// later Issue with a cap is not refused because of them.
// testScope: a Check with another Scope than the pending code's finds
// nothing pending and changes nothing: not the code's attempts, not the
// failure counter, even with the right digest.
func testScope(e *env) {
	k, d := key(), digest()
	a, b := []byte("scope-a"), []byte("scope-b")
	chk := func(d, scope []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, Scope: scope, MaxAttempts: 3, MaxFailures: 2, FailureWindow: long}
	}
	e.issued(store.IssueRequest{Key: k, Digest: d, Scope: a, TTL: long, MaxFailures: 2}, 0)
	for range 5 {
		e.check(chk(digest(), b), store.Expired, 0)
		e.check(chk(digest(), nil), store.Expired, 0)
	}
	e.check(chk(d, b), store.Expired, 0)
	e.check(chk(d, nil), store.Expired, 0)
	// The code kept its 3 attempts and the counter its 2 failures.
	e.check(chk(digest(), a), store.Rejected, 1)
	e.check(chk(d, a), store.Approved, 0)
	// A code without a Scope is checked only without one.
	d2 := digest()
	e.issued(issueReq(k, d2), 0)
	e.check(chk(d2, a), store.Expired, 0)
	e.check(chk(d2, nil), store.Approved, 0)
}

// testScopeKeepPending: KeepPending keeps only a code of the same Scope;
// another Scope's Issue saves its own code beside it.
func testScopeKeepPending(e *env) {
	k, d1, d2 := key(), digest(), digest()
	a, b := []byte("scope-a"), []byte("scope-b")
	e.issued(store.IssueRequest{Key: k, Digest: d1, Scope: a, Sealed: []byte("sealed-a"), TTL: long}, 0)
	res := e.issue(store.IssueRequest{Key: k, Digest: digest(), Scope: a, KeepPending: true, TTL: long})
	if res.Outcome != store.Reused || string(res.Sealed) != "sealed-a" {
		e.t.Fatalf("KeepPending in the same scope = %+v, want Reused with the kept Sealed", res)
	}
	e.issued(store.IssueRequest{Key: k, Digest: d2, Scope: b, Sealed: []byte("sealed-b"), KeepPending: true, TTL: long}, 0)
	e.check(checkReq(k, d1, 5), store.Expired, 0)
	e.check(store.CheckRequest{Key: k, Digest: d2, Scope: b, MaxAttempts: 5}, store.Approved, 0)
	e.check(store.CheckRequest{Key: k, Digest: d1, Scope: a, MaxAttempts: 5}, store.Approved, 0)
}

// testScopePending: each Scope has its own pending code. An Issue in one
// Scope neither replaces nor withdraws another's, and wrong guesses in one
// Scope spend only that Scope's attempts, which carry over to its next
// code.
func testScopePending(e *env) {
	k, da, db := key(), digest(), digest()
	a, b := []byte("scope-a"), []byte("scope-b")
	chk := func(d, scope []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, Scope: scope, MaxAttempts: 3}
	}
	e.issued(store.IssueRequest{Key: k, Digest: da, Scope: a, TTL: long}, 0)
	for range 3 {
		e.issued(store.IssueRequest{Key: k, Digest: digest(), Scope: b, TTL: long}, 0)
		e.withdraw(k, digest())
	}
	e.issued(store.IssueRequest{Key: k, Digest: db, Scope: b, TTL: long}, 0)
	e.check(chk(digest(), b), store.Rejected, 2)
	e.check(chk(digest(), b), store.Rejected, 1)
	if err := e.h.Store.Withdraw(e.ctx, k, b, da); err != nil {
		e.t.Fatal(err)
	}
	// Scope b's new code carries b's 2 attempts; a's code has all 3.
	db2 := digest()
	e.issued(store.IssueRequest{Key: k, Digest: db2, Scope: b, TTL: long}, 2)
	e.check(chk(db, b), store.Locked, 0)
	e.check(chk(da, a), store.Approved, 0)
	// A withdrawn code is withdrawn in its own Scope only.
	da2 := digest()
	e.issued(store.IssueRequest{Key: k, Digest: da2, Scope: a, TTL: long}, 0)
	if err := e.h.Store.Withdraw(e.ctx, k, a, da2); err != nil {
		e.t.Fatal(err)
	}
	e.check(chk(da2, a), store.Expired, 0)
}

// testClientSendLimits: the cooldown and the window budget are kept per
// (Key, Client): one client's sends never refuse another's.
func testClientSendLimits(e *env) {
	k := key()
	iss := func(client string) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: digest(), Client: client, TTL: long, Cooldown: long, SendWindow: long, SendsPerWindow: 2}
	}
	win := func(client string) store.IssueRequest {
		r := iss(client)
		r.Cooldown = 0
		return r
	}
	e.issued(win("client-c"), 0)
	e.issued(win("client-c"), 0)
	e.limited(win("client-c"), store.LimitWindow, 0, long)
	// The Key's send ceiling (2) is reached: clients that have not sent
	// are still served, once each (see testSendCeiling).
	e.issued(win("client-d"), 0)
	e.issued(iss("client-a"), 0)
	e.limited(iss("client-a"), store.LimitCooldown, 0, long)
	e.issued(iss("client-b"), 0)
	e.issued(iss(""), 0)
	e.limited(iss(""), store.LimitCooldown, 0, long)
}

// testSendCeiling: once the Key's window holds SendsPerWindow sends from all
// clients, a client that has sent in it without an approval since is
// refused, even with its own window budget left; a client that has not
// sent yet gets one send. k clients get at most SendsPerWindow + k sends.
func testSendCeiling(e *env) {
	k := key()
	iss := func(client string) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: digest(), Client: client, Scope: []byte(client), TTL: long, SendWindow: long, SendsPerWindow: 3}
	}
	chk := func(client string) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: digest(), Client: client, Scope: []byte(client), MaxAttempts: 5,
			MaxFailures: 20, FailureWindow: long}
	}
	e.issued(iss("a"), 0)
	e.issued(iss("a"), 0)
	e.issued(iss("b"), 0) // the Key's third send: the ceiling
	// a has window budget left (2 of 3) but sent without an approval, and
	// its wrong guesses change nothing.
	e.check(chk("a"), store.Rejected, 4)
	e.limited(iss("a"), store.LimitWindow, 0, long)
	e.limited(iss("b"), store.LimitWindow, 0, long)
	// A client that has not sent yet gets one send, then it is refused too.
	e.issued(iss("fresh"), 0)
	e.limited(iss("fresh"), store.LimitWindow, 0, long)
	sent := 4
	for i := range 5 {
		c := fmt.Sprintf("client-%d", i)
		for range 3 {
			if res := e.issue(iss(c)); res.Outcome == store.Issued {
				sent++
			}
		}
	}
	if limit := 3 + 8; sent > limit {
		e.t.Errorf("8 clients sent %d times in one window, want at most SendsPerWindow + 8 = %d", sent, limit)
	}
	if sent != 9 {
		e.t.Errorf("8 clients sent %d times, want 9 (3 before the ceiling, then one for each new client)", sent)
	}
}

// testSendCeilingApproval: a client whose Check was approved after its
// send is served again at the ceiling; a send without approval refuses
// its client until it is approved; an approval frees no other client.
func testSendCeilingApproval(e *env) {
	k := key()
	iss := func(client string, d []byte) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: d, Client: client, Scope: []byte(client), TTL: long, SendWindow: long, SendsPerWindow: 3}
	}
	chk := func(client string, d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, Client: client, Scope: []byte(client), MaxAttempts: 5}
	}
	for range 3 {
		e.issued(iss("attacker", digest()), 0) // the third reaches the ceiling
	}
	for range 2 {
		d := digest()
		e.issued(iss("owner", d), 0)
		e.check(chk("owner", d), store.Approved, 0)
	}
	e.limited(iss("attacker", digest()), store.LimitWindow, 0, long)
	d := digest()
	e.issued(iss("other", d), 0)
	e.limited(iss("other", digest()), store.LimitWindow, 0, long)
	e.check(chk("other", d), store.Approved, 0)
	e.issued(iss("other", digest()), 0)
	e.limited(iss("attacker", digest()), store.LimitWindow, 0, long)
}

// testSendCeilingWindow: the ceiling's count ends with its window; a
// client refused by it is served again in the next one.
func testSendCeilingWindow(e *env) {
	k := key()
	iss := func(client string) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: digest(), Client: client, Scope: []byte(client), TTL: long, SendWindow: short, SendsPerWindow: 2}
	}
	e.issued(iss("a"), 0)
	e.issued(iss("a"), 0)
	e.issued(iss("b"), 0)
	e.limited(iss("b"), store.LimitWindow, 0, short)
	e.wait(short)
	e.issued(iss("b"), 0)
	e.issued(iss("a"), 0)
}

// testFailureRun: failures count for their client and for the Key. Once
// the Key's count reaches MaxFailures, only clients that have not failed in
// the run are compared (one failure each); at FailureCeiling every client
// is refused. Sends follow the same rule.
func testFailureRun(e *env) {
	k := key()
	const fmax, ceiling = 3, 6
	iss := func(client string, d []byte) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: d, Client: client, Scope: []byte(client), TTL: long, MaxFailures: fmax, FailureCeiling: ceiling}
	}
	chk := func(client string, d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, Client: client, Scope: []byte(client), MaxAttempts: 10,
			MaxFailures: fmax, FailureCeiling: ceiling, FailureWindow: long}
	}
	e.issued(iss("a", digest()), 0)
	e.check(chk("a", digest()), store.Rejected, 2)
	e.check(chk("a", digest()), store.Rejected, 1)
	e.check(chk("a", digest()), store.Locked, 0) // a's own cap, and the Key's
	e.limited(iss("a", digest()), store.LimitFailures, 0, long)
	// The owner, who has not failed, is still served and approved.
	d := digest()
	e.issued(iss("owner", d), 0)
	e.check(chk("owner", d), store.Approved, 0)
	// A new client gets one compared guess; then it is refused too.
	db := digest()
	e.issued(iss("b", db), 0)
	e.check(chk("b", digest()), store.Locked, 0) // 4 failures
	e.check(chk("b", db), store.Locked, 0)
	e.limited(iss("b", digest()), store.LimitFailures, 0, long)
	for _, c := range []string{"c", "d"} {
		e.issued(iss(c, digest()), 0)
		e.check(chk(c, digest()), store.Locked, 0) // 5, then 6 failures
	}
	// At the ceiling no client is compared or served, the owner included.
	e.limited(iss("owner", digest()), store.LimitFailures, 0, long)
	e.check(chk("owner", d), store.Locked, 0)
}

// testFailureRunApproval: an approval forgives only its own client's
// failures; other clients' stay counted.
func testFailureRunApproval(e *env) {
	k := key()
	chk := func(client string, d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, Client: client, Scope: []byte(client), MaxAttempts: 10, MaxFailures: 3, FailureWindow: long}
	}
	da := digest()
	e.issued(store.IssueRequest{Key: k, Digest: da, Client: "a", Scope: []byte("a"), TTL: long}, 0)
	e.issued(store.IssueRequest{Key: k, Digest: digest(), Client: "b", Scope: []byte("b"), TTL: long}, 0)
	e.check(chk("a", digest()), store.Rejected, 2)
	e.check(chk("b", digest()), store.Rejected, 1)
	e.check(chk("a", da), store.Approved, 0) // the Key keeps b's failure
	e.check(chk("b", digest()), store.Rejected, 1)
	e.check(chk("b", digest()), store.Locked, 0)
}

// testFailureRunOutlivesClient: a client's failures count for as long as
// the Key's counter lives, which any client's failure re-anchors; so a
// client is new to a run at most once. When the counter lapses (a whole
// FailureWindow without failures) every client is new again.
func testFailureRunOutlivesClient(e *env) {
	k := key()
	chk := func(client string, d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, Client: client, Scope: []byte(client), MaxAttempts: 10, MaxFailures: 2, FailureWindow: 3 * short}
	}
	iss := func(client string, d []byte) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: d, Client: client, Scope: []byte(client), TTL: long}
	}
	da := digest()
	e.issued(iss("a", da), 0)
	e.check(chk("a", digest()), store.Rejected, 1)
	e.check(chk("a", digest()), store.Locked, 0) // the cap: a is refused
	e.wait(2 * short)
	e.issued(iss("b", digest()), 0)
	e.check(chk("b", digest()), store.Locked, 0) // re-anchors the run
	e.wait(2 * short)
	// 4 shorts after a's latest failure, the run still holds it.
	e.issued(iss("a", da), 0)
	e.check(chk("a", da), store.Locked, 0)
	e.wait(3 * short)
	// A whole window without failures: the run is over.
	e.issued(iss("a", da), 0)
	e.check(chk("a", da), store.Approved, 0)
}

func testNoFailureCap(e *env) {
	k, d := key(), digest()
	e.issued(issueReq(k, d), 0)
	for want := 4; want >= 2; want-- {
		e.check(store.CheckRequest{Key: k, Digest: digest(), MaxAttempts: 5, FailureWindow: long}, store.Rejected, want)
	}
	e.issued(store.IssueRequest{Key: k, Digest: digest(), TTL: long, MaxFailures: 2}, 3)
}

func testFailureCap(e *env) {
	k, d1, d2 := key(), digest(), digest()
	iss := func(d []byte) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: d, TTL: long, MaxFailures: 3}
	}
	chk := func(d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, MaxAttempts: 2, MaxFailures: 3, FailureWindow: 2 * short}
	}
	e.issued(iss(d1), 0)
	e.check(chk(digest()), store.Rejected, 1)
	e.check(chk(digest()), store.Locked, 0) // the code is gone; 2 failures
	e.issued(iss(d2), 0)                    // a fresh code, fresh attempts
	// The 3rd failure reaches the cap: Locked, and the code is deleted.
	e.check(chk(digest()), store.Locked, 0)
	// From now on the cap locks before comparing, even the right digest.
	e.check(chk(d2), store.Locked, 0)
	e.limited(iss(digest()), store.LimitFailures, 0, 2*short)
	// Without a MaxFailures the cap is not applied, but the code is gone.
	e.check(checkReq(k, d2, 2), store.Expired, 0)
	// The counter lives FailureWindow from its latest failure.
	e.wait(2 * short)
	e.issued(iss(d1), 0)
	e.check(chk(d1), store.Approved, 0)
}

func testFailureCapReset(e *env) {
	k, d1, d2 := key(), digest(), digest()
	chk := func(d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5, MaxFailures: 3, FailureWindow: long}
	}
	e.issued(issueReq(k, d1), 0)
	// Remaining is the smaller of the code's attempts and the cap's.
	e.check(chk(digest()), store.Rejected, 2)
	e.check(chk(digest()), store.Rejected, 1)
	e.check(chk(d1), store.Approved, 0) // resets the failure counter
	e.issued(issueReq(k, d2), 0)
	e.check(chk(digest()), store.Rejected, 2)
	e.check(chk(digest()), store.Rejected, 1)
	// Four failures in all, but only two since the approval.
	e.check(chk(d2), store.Approved, 0)
	e.issued(store.IssueRequest{Key: k, Digest: d1, TTL: long, MaxFailures: 3}, 0)
}

func testFailureWindow(e *env) {
	// The failure counter lives FailureWindow from its latest increment, so
	// no stretch of FailureWindow holds more than MaxFailures failures (a
	// counter that expired FailureWindow after its first failure would let
	// almost twice as many through around its end). The waits leave a
	// margin of a short on either side of every boundary.
	k, d := key(), digest()
	chk := func(d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, MaxAttempts: 10, MaxFailures: 3, FailureWindow: 3 * short}
	}
	capped := func(max int) store.IssueRequest {
		return store.IssueRequest{Key: k, Digest: digest(), TTL: long, MaxFailures: max}
	}
	e.issued(issueReq(k, d), 0)
	e.check(chk(digest()), store.Rejected, 2)
	e.wait(2 * short)
	e.check(chk(digest()), store.Rejected, 1) // 2 failures
	e.wait(short)
	// 3*short after the first failure the counter still holds both: a cap
	// of 2 refuses until 3*short after the second.
	e.limited(capped(2), store.LimitFailures, 0, 2*short)
	// The third failure reaches the cap of 3: Locked, the code is gone.
	e.check(chk(digest()), store.Locked, 0)
	e.wait(short)
	e.check(chk(d), store.Locked, 0)
	e.limited(capped(3), store.LimitFailures, 0, 2*short)
	e.wait(2 * short)
	// 3*short after the latest failure the counter is gone.
	d2 := digest()
	e.issued(store.IssueRequest{Key: k, Digest: d2, TTL: long, MaxFailures: 3}, 0)
	e.check(chk(digest()), store.Rejected, 2)
	e.check(chk(d2), store.Approved, 0)
}

func testWithdraw(e *env) {
	k, d1, d2 := key(), digest(), digest()
	e.issued(issueReq(k, d1), 0)
	e.check(checkReq(k, digest(), 5), store.Rejected, 4)
	e.withdraw(k, d2) // not the pending digest: nothing happens
	e.withdraw(k, d1)
	e.check(checkReq(k, d1, 5), store.Expired, 0)
	e.withdraw(k, d1)      // withdrawing what is not pending is no error
	e.withdraw(key(), d1)  // nor is withdrawing from a key never used
	req := issueReq(k, d2) // a withdrawn code is not pending:
	req.KeepPending = true // KeepPending saves the new code,
	e.issued(req, 1)       // and the withdrawn code's attempt carries over
	e.check(checkReq(k, d1, 5), store.Rejected, 3)
	e.check(checkReq(k, d2, 5), store.Approved, 0)

	// A mismatched digest leaves the pending code alone.
	k = key()
	e.issued(issueReq(k, d1), 0)
	e.withdraw(k, d2)
	e.check(checkReq(k, d1, 5), store.Approved, 0)
}

func testWithdrawnAttemptsExpire(e *env) {
	k, d := key(), digest()
	req := issueReq(k, d)
	req.TTL = short
	e.issued(req, 0)
	e.check(checkReq(k, digest(), 5), store.Rejected, 4)
	e.withdraw(k, d)
	e.wait(short)
	// The withdrawn code would have expired: its attempts go with it.
	e.issued(issueReq(k, digest()), 0)
}

// testWithdrawnAttemptsOutliveLock: a Check refused by the failure cap
// deletes the pending code, but a withdrawn code is not pending: the
// attempts it used still carry over to the next code once the lock is over.
func testWithdrawnAttemptsOutliveLock(e *env) {
	k, d := key(), digest()
	chk := func(d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5, MaxFailures: 2, FailureWindow: short}
	}
	e.issued(issueReq(k, d), 0)
	e.check(chk(digest()), store.Rejected, 1) // attempt 1, failure 1
	e.withdraw(k, d)
	e.attempt(store.AttemptRequest{Key: k, MaxFailures: 2, FailureWindow: short}, store.Locked, 0)
	e.check(chk(d), store.Locked, 0)
	e.wait(short)
	e.issued(issueReq(k, digest()), 1)
}

// --- Attempt (authenticator apps) ---

func testAttemptApproveReplay(e *env) {
	k := key()
	e.attempt(attemptReq(k, "step-1", 3), store.Approved, 0)
	e.attempt(attemptReq(k, "step-1", 3), store.Replayed, 2)
	e.attempt(attemptReq(k, "step-2", 3), store.Approved, 0)
	// Markers are per key.
	e.attempt(attemptReq(key(), "step-1", 3), store.Approved, 0)
}

func testAttemptFailures(e *env) {
	k := key()
	req := attemptReq(k, "", 3)
	req.FailureWindow = short
	e.attempt(req, store.Rejected, 2)
	e.attempt(req, store.Rejected, 1)
	res := e.attempt(req, store.Locked, 0)
	// Locked: a right code is refused and not recorded.
	good := attemptReq(k, "step-1", 3)
	good.FailureWindow = short
	e.attempt(good, store.Locked, 0)
	e.attempt(req, store.Locked, 0)
	e.wait(res.RetryAfter)
	e.attempt(good, store.Approved, 0)
}

// testSharedFailureCounter: Check and Attempt on one Key count failures in
// the same counter, so failures counted by Attempt while a code is pending
// lock that code, and a right code resets what Attempt counted.
func testSharedFailureCounter(e *env) {
	k, d := key(), digest()
	chk := func(d []byte) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5, MaxFailures: 2, FailureWindow: long}
	}
	e.issued(issueReq(k, d), 0)
	e.attempt(attemptReq(k, "", 2), store.Rejected, 1)
	e.check(chk(d), store.Approved, 0) // resets the counter
	e.attempt(attemptReq(k, "", 2), store.Rejected, 1)
	e.issued(issueReq(k, d), 0)
	e.attempt(attemptReq(k, "", 2), store.Locked, 0)
	// The cap locks before comparing, even the right digest.
	e.check(chk(d), store.Locked, 0)
}

func testAttemptReset(e *env) {
	k := key()
	e.attempt(attemptReq(k, "", 3), store.Rejected, 2)
	e.attempt(attemptReq(k, "", 3), store.Rejected, 1)
	e.attempt(attemptReq(k, "step-1", 3), store.Approved, 0)
	e.attempt(attemptReq(k, "", 3), store.Rejected, 2)
}

func testAttemptReplayLocks(e *env) {
	k := key()
	e.attempt(attemptReq(k, "step-1", 2), store.Approved, 0)
	e.attempt(attemptReq(k, "step-1", 2), store.Replayed, 1)
	e.attempt(attemptReq(k, "step-1", 2), store.Locked, 0)
	e.attempt(attemptReq(k, "step-2", 2), store.Locked, 0)
}

func testAttemptMarkerExpiry(e *env) {
	k := key()
	req := attemptReq(k, "step-1", 5)
	req.MarkerTTL = short
	e.attempt(req, store.Approved, 0)
	e.attempt(req, store.Replayed, 4)
	e.wait(short)
	e.attempt(req, store.Approved, 0)
}

func testAttemptFailureWindow(e *env) {
	k := key()
	req := attemptReq(k, "", 3)
	req.FailureWindow = 2 * short
	e.attempt(req, store.Rejected, 2)
	e.wait(short)
	e.attempt(req, store.Rejected, 1) // the counter now lives 2*short from here
	e.wait(short)
	e.attempt(req, store.Locked, 0) // a third failure within 2*short of the second
	e.wait(short)
	e.attempt(req, store.Locked, 0)
	e.wait(short)
	e.attempt(req, store.Rejected, 2)
}

// --- concurrency ---

func testConcurrentApprove(e *env) {
	// Several rounds: a race that loses only now and then still shows.
	const rounds, n = 20, 100
	for range rounds {
		k, d := key(), digest()
		e.issued(issueReq(k, d), 0)
		got := make([]store.CheckStatus, n)
		errs := make([]error, n)
		concurrently(n, func(i int) {
			res, err := e.h.Store.Check(e.ctx, checkReq(k, d, 5))
			got[i], errs[i] = res.Status, err
		})
		if err := firstErr(errs); err != nil {
			e.t.Fatalf("Check: unexpected error: %v", err)
		}
		c := tally[store.CheckStatus]{}
		for _, s := range got {
			c[s]++
		}
		if c[store.Approved] != 1 || c[store.Expired] != n-1 {
			e.t.Fatalf("%d concurrent correct Checks: got %v, want approved=1, expired=%d", n, c, n-1)
		}
	}
}

func testConcurrentReject(e *env) {
	k, d := key(), digest()
	e.issued(issueReq(k, d), 0)
	const n, maxAttempts = 1000, 5
	got := make([]store.CheckResult, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], errs[i] = e.h.Store.Check(e.ctx, checkReq(k, digest(), maxAttempts))
	})
	if err := firstErr(errs); err != nil {
		e.t.Fatalf("Check: unexpected error: %v", err)
	}
	c := tally[store.CheckStatus]{}
	var remaining []int
	for _, r := range got {
		c[r.Status]++
		if r.Status == store.Rejected {
			remaining = append(remaining, r.Remaining)
		}
	}
	if c[store.Rejected] != maxAttempts-1 || c[store.Locked] != 1 || c[store.Expired] != n-maxAttempts {
		e.t.Fatalf("%d concurrent wrong Checks, MaxAttempts %d: got %v, want rejected=%d, locked=1, expired=%d",
			n, maxAttempts, c, maxAttempts-1, n-maxAttempts)
	}
	slices.Sort(remaining)
	if want := []int{1, 2, 3, 4}; !slices.Equal(remaining, want) {
		e.t.Fatalf("Remaining of the rejected Checks = %v, want %v", remaining, want)
	}
	e.check(checkReq(k, d, maxAttempts), store.Expired, 0)
}

func testConcurrentIssue(e *env) {
	k := key()
	const n, budget = 200, 5
	digests := make([][]byte, n)
	for i := range digests {
		digests[i] = digest()
	}
	got := make([]store.IssueResult, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], errs[i] = e.h.Store.Issue(e.ctx, store.IssueRequest{
			Key: k, Digest: digests[i], TTL: long, SendWindow: long, SendsPerWindow: budget})
	})
	if err := firstErr(errs); err != nil {
		e.t.Fatalf("Issue: unexpected error: %v", err)
	}
	c := tally[string]{}
	var issued [][]byte
	for i, r := range got {
		c[r.Outcome.String()+"/"+r.Reason.String()]++
		if r.Outcome == store.Issued {
			issued = append(issued, digests[i])
		}
	}
	if c["issued/none"] != budget || c["limited/window"] != n-budget {
		e.t.Fatalf("%d concurrent Issues, SendsPerWindow %d: got %v, want issued/none=%d, limited/window=%d",
			n, budget, c, budget, n-budget)
	}
	// Exactly one of the issued digests is the pending one.
	ok := 0
	for _, d := range issued {
		res, err := e.h.Store.Check(e.ctx, checkReq(k, d, 100))
		if err != nil {
			e.t.Fatalf("Check: unexpected error: %v", err)
		}
		if res.Status == store.Approved {
			ok++
		}
	}
	if ok != 1 {
		e.t.Fatalf("of the %d issued digests %d approve, want 1", budget, ok)
	}
}

func testConcurrentExtraLimit(e *env) {
	shared := key()
	const n, budget = 60, 7
	got := make([]store.IssueResult, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], errs[i] = e.h.Store.Issue(e.ctx, store.IssueRequest{Key: key(), Digest: digest(), TTL: long,
			Limits: []store.Limit{{Key: shared, Max: budget, Window: long}}})
	})
	if err := firstErr(errs); err != nil {
		e.t.Fatalf("Issue: unexpected error: %v", err)
	}
	c := tally[string]{}
	for _, r := range got {
		c[fmt.Sprintf("%v/%v/%d", r.Outcome, r.Reason, r.LimitIndex)]++
	}
	if c["issued/none/0"] != budget || c["limited/extra/0"] != n-budget {
		e.t.Fatalf("%d concurrent Issues sharing a limit of %d: got %v, want issued/none/0=%d, limited/extra/0=%d",
			n, budget, c, budget, n-budget)
	}
}

func testConcurrentAttemptMarker(e *env) {
	k := key()
	const n = 50
	got := make([]store.CheckStatus, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		res, err := e.h.Store.Attempt(e.ctx, attemptReq(k, "step-1", 1000))
		got[i], errs[i] = res.Status, err
	})
	if err := firstErr(errs); err != nil {
		e.t.Fatalf("Attempt: unexpected error: %v", err)
	}
	c := tally[store.CheckStatus]{}
	for _, s := range got {
		c[s]++
	}
	if c[store.Approved] != 1 || c[store.Replayed] != n-1 {
		e.t.Fatalf("%d concurrent Attempts with one marker: got %v, want approved=1, replayed=%d", n, c, n-1)
	}
}

// --- errors ---

// stateCheck sets up one key with a pending code, a window budget and a
// shared limit with one Issue left each, and verifies afterwards that none of
// them changed. Between the two, an operation that must be refused runs.
type stateCheck struct {
	key, limit, marker string
	digest             []byte
}

func (sc stateCheck) issueReq(d []byte, keep bool) store.IssueRequest {
	return store.IssueRequest{Key: sc.key, Digest: d, TTL: long, KeepPending: keep, SendWindow: long, SendsPerWindow: 2,
		Limits: []store.Limit{{Key: sc.limit, Max: 2, Window: long}}}
}

func newStateCheck(e *env) stateCheck {
	e.t.Helper()
	sc := stateCheck{key: key(), limit: key(), marker: "step-" + key(), digest: digest()}
	e.issued(sc.issueReq(sc.digest, false), 0)
	return sc
}

func (sc stateCheck) verify(e *env) {
	e.t.Helper()
	// Window and limit: one Issue left; the pending code is kept.
	res := e.issue(sc.issueReq(digest(), true))
	if res.Outcome != store.Reused || res.Attempts != 0 {
		e.t.Fatalf("Issue(KeepPending) after the refused call = {Outcome: %v, Reason: %v, Attempts: %d}, want {Outcome: reused, Attempts: 0}",
			res.Outcome, res.Reason, res.Attempts)
	}
	// No failure counted, no marker recorded.
	e.attempt(attemptReq(sc.key, "", 2), store.Rejected, 1)
	e.attempt(attemptReq(sc.key, sc.marker, 2), store.Approved, 0)
	// No attempt counted; the code is still there.
	e.check(checkReq(sc.key, digest(), 3), store.Rejected, 2)
	e.check(checkReq(sc.key, sc.digest, 3), store.Approved, 0)
}

type op struct {
	name string
	call func(ctx context.Context, s store.Store, sc stateCheck) error
}

func issueOp(name string, mod func(r *store.IssueRequest)) op {
	return op{name, func(ctx context.Context, s store.Store, sc stateCheck) error {
		r := sc.issueReq(digest(), false)
		mod(&r)
		_, err := s.Issue(ctx, r)
		return err
	}}
}

func checkOp(name string, mod func(r *store.CheckRequest)) op {
	return op{name, func(ctx context.Context, s store.Store, sc stateCheck) error {
		r := checkReq(sc.key, sc.digest, 3)
		mod(&r)
		_, err := s.Check(ctx, r)
		return err
	}}
}

func attemptOp(name string, mod func(r *store.AttemptRequest)) op {
	return op{name, func(ctx context.Context, s store.Store, sc stateCheck) error {
		r := attemptReq(sc.key, sc.marker, 2)
		mod(&r)
		_, err := s.Attempt(ctx, r)
		return err
	}}
}

func withdrawOp(name string, key func(sc stateCheck) string, d func(sc stateCheck) []byte) op {
	return op{name, func(ctx context.Context, s store.Store, sc stateCheck) error {
		return s.Withdraw(ctx, key(sc), nil, d(sc))
	}}
}

func testCancelledContext(e *env) {
	// Each call would change the state if it ran.
	ops := []op{
		issueOp("Issue", func(r *store.IssueRequest) {}),
		checkOp("CheckRight", func(r *store.CheckRequest) {}),
		checkOp("CheckWrong", func(r *store.CheckRequest) { r.Digest = digest() }),
		withdrawOp("Withdraw", func(sc stateCheck) string { return sc.key }, func(sc stateCheck) []byte { return sc.digest }),
		attemptOp("AttemptRight", func(r *store.AttemptRequest) {}),
		attemptOp("AttemptWrong", func(r *store.AttemptRequest) { r.Marker = "" }),
	}
	for _, o := range ops {
		e.t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			e := &env{t: t, h: e.h, ctx: t.Context()}
			sc := newStateCheck(e)
			ctx, cancel := context.WithCancel(e.ctx)
			cancel()
			err := o.call(ctx, e.h.Store, sc)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a cancelled context: error = %v, want one wrapping context.Canceled", o.name, err)
			}
			sc.verify(e)
		})
	}
}

func testInvalidRequest(e *env) {
	badLimit := func(l store.Limit) func(r *store.IssueRequest) {
		return func(r *store.IssueRequest) { r.Limits = append(r.Limits, l) }
	}
	ops := []op{
		issueOp("IssueEmptyKey", func(r *store.IssueRequest) { r.Key = "" }),
		issueOp("IssueEmptyDigest", func(r *store.IssueRequest) { r.Digest = nil }),
		issueOp("IssueZeroTTL", func(r *store.IssueRequest) { r.TTL = 0 }),
		issueOp("IssueNegativeTTL", func(r *store.IssueRequest) { r.TTL = -time.Second }),
		issueOp("IssueNegativeCooldown", func(r *store.IssueRequest) { r.Cooldown = -time.Second }),
		issueOp("IssueNegativeWindowMax", func(r *store.IssueRequest) { r.SendsPerWindow = -1 }),
		issueOp("IssueWindowMaxWithoutWindow", func(r *store.IssueRequest) { r.SendWindow = 0 }),
		issueOp("IssueNegativeFailureMax", func(r *store.IssueRequest) { r.MaxFailures = -1 }),
		issueOp("IssueLimitEmptyKey", badLimit(store.Limit{Max: 1, Window: long})),
		issueOp("IssueLimitZeroMax", badLimit(store.Limit{Key: key(), Window: long})),
		issueOp("IssueLimitZeroWindow", badLimit(store.Limit{Key: key(), Max: 1})),
		issueOp("IssueLimitTwice", func(r *store.IssueRequest) {
			k := key()
			r.Limits = append(r.Limits, store.Limit{Key: k, Max: 5, Window: long}, store.Limit{Key: k, Max: 5, Window: long})
		}),
		checkOp("CheckEmptyKey", func(r *store.CheckRequest) { r.Key = "" }),
		checkOp("CheckEmptyDigest", func(r *store.CheckRequest) { r.Digest = nil }),
		checkOp("CheckZeroMaxAttempts", func(r *store.CheckRequest) { r.MaxAttempts = 0 }),
		checkOp("CheckNegativeMaxAttempts", func(r *store.CheckRequest) { r.MaxAttempts, r.Digest = -1, digest() }),
		checkOp("CheckNegativeFailureMax", func(r *store.CheckRequest) { r.MaxFailures = -1 }),
		checkOp("CheckFailureMaxWithoutWindow", func(r *store.CheckRequest) { r.MaxFailures = 1 }),
		withdrawOp("WithdrawEmptyKey", func(stateCheck) string { return "" }, func(sc stateCheck) []byte { return sc.digest }),
		withdrawOp("WithdrawEmptyDigest", func(sc stateCheck) string { return sc.key }, func(stateCheck) []byte { return nil }),
		attemptOp("AttemptEmptyKey", func(r *store.AttemptRequest) { r.Key = "" }),
		attemptOp("AttemptZeroMaxFailures", func(r *store.AttemptRequest) { r.MaxFailures = 0 }),
		attemptOp("AttemptZeroFailureWindow", func(r *store.AttemptRequest) { r.Marker, r.FailureWindow = "", 0 }),
		attemptOp("AttemptMarkerWithoutTTL", func(r *store.AttemptRequest) { r.MarkerTTL = 0 }),
	}
	for _, o := range ops {
		e.t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			e := &env{t: t, h: e.h, ctx: t.Context()}
			sc := newStateCheck(e)
			err := o.call(e.ctx, e.h.Store, sc)
			if !errors.Is(err, store.ErrInvalidRequest) {
				t.Fatalf("%s: error = %v, want one wrapping store.ErrInvalidRequest", o.name, err)
			}
			sc.verify(e)
		})
	}
}
