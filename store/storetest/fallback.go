package storetest

import (
	"errors"
	"slices"
	"time"

	"github.com/go2fa/go2fa/store"
)

// The Fallback cases run in Run for every store; a store that does not
// implement store.FallbackStore skips them, saying so.
func init() {
	tests = append(tests, []struct {
		name string
		fn   func(e *env)
	}{
		{"FallbackTakesOnce", testFallbackTakesOnce},
		{"FallbackKeepsCode", testFallbackKeepsCode},
		{"FallbackNotPending", testFallbackNotPending},
		{"FallbackNewCode", testFallbackNewCode},
		{"FallbackLimits", testFallbackLimits},
		{"FallbackExpiry", testFallbackExpiry},
		{"FallbackConcurrent", testFallbackConcurrent},
		{"FallbackSteps", testFallbackSteps},
		{"FallbackStepsConcurrent", testFallbackStepsConcurrent},
		{"FallbackInvalidRequest", testFallbackInvalidRequest},
		{"Queue", testQueue},
		{"QueueInvalidRequest", testQueueInvalidRequest},
	}...)
}

// fb returns the store as a FallbackStore, or skips the subtest.
func (e *env) fb() store.FallbackStore {
	e.t.Helper()
	fs, ok := e.h.Store.(store.FallbackStore)
	if !ok {
		e.t.Skipf("storetest: %T does not implement store.FallbackStore", e.h.Store)
	}
	return fs
}

// sealedFor returns a Sealed value that begins with a fresh random tag,
// and the tag.
func sealedFor() (sealed, tag []byte) {
	tag = digest()[:12]
	return append(slices.Clone(tag), "ciphertext"...), tag
}

func (e *env) fallback(req store.FallbackRequest) store.FallbackResult {
	e.t.Helper()
	res, err := e.fb().Fallback(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Fallback: unexpected error: %v", err)
	}
	return res
}

// fellBack asks for a fallback and fails unless the outcome is want.
func (e *env) fellBack(req store.FallbackRequest, want store.FallbackOutcome) store.FallbackResult {
	e.t.Helper()
	res := e.fallback(req)
	if res.Outcome != want {
		e.t.Fatalf("Fallback = {Outcome: %v, Reason: %v}, want %v", res.Outcome, res.Reason, want)
	}
	return res
}

func testFallbackTakesOnce(e *env) {
	e.fb()
	k, d := key(), digest()
	sealed, tag := sealedFor()
	e.issued(store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: long}, 0)
	res := e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackTaken)
	if string(res.Sealed) != string(sealed) || res.Attempts != 0 || res.ExpiresIn <= 0 || res.ExpiresIn > long {
		e.t.Fatalf("Fallback = {Sealed: %q, Attempts: %d, ExpiresIn: %v}, want {Sealed: %q, Attempts: 0, 0 < ExpiresIn <= %v}",
			res.Sealed, res.Attempts, res.ExpiresIn, sealed, long)
	}
	for range 3 {
		e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackSpent)
	}
	// A KeepPending resend keeps the code, and so its mark.
	if r := e.issue(store.IssueRequest{Key: k, Digest: digest(), TTL: long, KeepPending: true}); r.Outcome != store.Reused {
		e.t.Fatalf("Issue(KeepPending) = %v, want reused", r.Outcome)
	}
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackSpent)
	e.check(checkReq(k, d, 5), store.Approved, 0)
}

// testFallbackKeepsCode: the digest, attempts and expiry stay, and the
// cooldown is not checked but restarts.
func testFallbackKeepsCode(e *env) {
	e.fb()
	k, d := key(), digest()
	sealed, tag := sealedFor()
	e.issued(store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: long, Cooldown: long}, 0)
	e.check(checkReq(k, digest(), 5), store.Rejected, 4)
	e.check(checkReq(k, digest(), 5), store.Rejected, 3)
	e.wait(short)
	res := e.fellBack(store.FallbackRequest{Key: k, Tag: tag, Cooldown: long}, store.FallbackTaken)
	if res.Attempts != 2 || res.ExpiresIn <= 0 || res.ExpiresIn > long-short {
		e.t.Fatalf("Fallback = {Attempts: %d, ExpiresIn: %v}, want {Attempts: 2, 0 < ExpiresIn <= %v} (the code's own)", res.Attempts, res.ExpiresIn, long-short)
	}
	e.check(checkReq(k, digest(), 5), store.Rejected, 2) // the count went on
	// The cooldown restarted: a resend is refused for about all of it.
	if retry := e.limited(store.IssueRequest{Key: k, Digest: digest(), TTL: long, Cooldown: long}, store.LimitCooldown, 0, long); retry <= long-short {
		e.t.Fatalf("cooldown after the fallback: RetryAfter = %v, want close to %v", retry, long)
	}
	e.check(checkReq(k, d, 5), store.Approved, 0)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackNotPending)
}

func testFallbackNotPending(e *env) {
	e.fb()
	_, tag := sealedFor()
	e.fellBack(store.FallbackRequest{Key: key(), Tag: tag}, store.FallbackNotPending) // never issued

	for name, end := range map[string]func(k string, d []byte){
		"approved":  func(k string, d []byte) { e.check(checkReq(k, d, 5), store.Approved, 0) },
		"locked":    func(k string, d []byte) { e.check(checkReq(k, digest(), 1), store.Locked, 0) },
		"withdrawn": func(k string, d []byte) { e.withdraw(k, d) },
	} {
		k, d := key(), digest()
		sealed, tag := sealedFor()
		e.issued(store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: long}, 0)
		end(k, d)
		if res := e.fallback(store.FallbackRequest{Key: k, Tag: tag}); res.Outcome != store.FallbackNotPending {
			e.t.Fatalf("Fallback after the code was %s = %v, want not pending", name, res.Outcome)
		}
	}
	// A code issued without a Sealed value, or with another, is not named.
	k := key()
	e.issued(store.IssueRequest{Key: k, Digest: digest(), TTL: long}, 0)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackNotPending)
	sealed, _ := sealedFor()
	k = key()
	e.issued(store.IssueRequest{Key: k, Digest: digest(), Sealed: sealed, TTL: long}, 0)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackNotPending)
	e.fellBack(store.FallbackRequest{Key: k, Tag: sealed[:len(sealed)-1]}, store.FallbackTaken) // any prefix names it
}

// testFallbackNewCode: a new code replaces the old one's tag, and can be
// taken once in its turn; the old tag names nothing.
func testFallbackNewCode(e *env) {
	e.fb()
	k := key()
	s1, t1 := sealedFor()
	e.issued(store.IssueRequest{Key: k, Digest: digest(), Sealed: s1, TTL: long}, 0)
	e.fellBack(store.FallbackRequest{Key: k, Tag: t1}, store.FallbackTaken)
	s2, t2 := sealedFor()
	d2 := digest()
	e.issued(store.IssueRequest{Key: k, Digest: d2, Sealed: s2, TTL: long}, 0)
	e.fellBack(store.FallbackRequest{Key: k, Tag: t1}, store.FallbackNotPending)
	e.fellBack(store.FallbackRequest{Key: k, Tag: t2}, store.FallbackTaken)
	e.fellBack(store.FallbackRequest{Key: k, Tag: t2}, store.FallbackSpent)
	e.check(checkReq(k, d2, 5), store.Approved, 0)
}

// testFallbackLimits: the window, the extra limits and the failure cap
// apply and are charged; a refused fallback changes nothing.
func testFallbackLimits(e *env) {
	e.fb()
	k, global := key(), key()
	sealed, tag := sealedFor()
	win := store.IssueRequest{Key: k, Digest: digest(), Sealed: sealed, TTL: long, SendWindow: long, SendsPerWindow: 2}
	e.issued(win, 0)
	req := store.FallbackRequest{Key: k, Tag: tag, SendWindow: long, SendsPerWindow: 1}
	res := e.fellBack(req, store.FallbackLimited)
	if res.Reason != store.LimitWindow || res.RetryAfter <= 0 || res.RetryAfter > long {
		e.t.Fatalf("Fallback over the window = {Reason: %v, RetryAfter: %v}, want window, (0, %v]", res.Reason, res.RetryAfter, long)
	}
	req.SendsPerWindow = 2
	req.Limits = []store.Limit{{Key: global, Max: 1, Window: long}}
	e.fellBack(req, store.FallbackTaken) // window 2/2, global 1/1
	// The window was charged: a new Issue is refused by it.
	win.Digest, win.Sealed = digest(), nil
	e.limited(win, store.LimitWindow, 0, long)

	// The extra limit was charged, and refuses the next fallback.
	k2 := key()
	s2, t2 := sealedFor()
	e.issued(store.IssueRequest{Key: k2, Digest: digest(), Sealed: s2, TTL: long}, 0)
	res = e.fellBack(store.FallbackRequest{Key: k2, Tag: t2, Limits: []store.Limit{{Key: key(), Max: 5, Window: long}, {Key: global, Max: 1, Window: long}}}, store.FallbackLimited)
	if res.Reason != store.LimitExtra || res.LimitIndex != 1 {
		e.t.Fatalf("Fallback over an extra limit = {Reason: %v, LimitIndex: %d}, want extra, 1", res.Reason, res.LimitIndex)
	}
	// Refused changed nothing: the code can still be taken.
	e.fellBack(store.FallbackRequest{Key: k2, Tag: t2}, store.FallbackTaken)

	// The failure cap refuses.
	k3, d3 := key(), digest()
	s3, t3 := sealedFor()
	e.issued(store.IssueRequest{Key: k3, Digest: d3, Sealed: s3, TTL: long}, 0)
	fc := store.CheckRequest{Key: k3, Digest: digest(), MaxAttempts: 5, MaxFailures: 3, FailureWindow: long}
	e.check(fc, store.Rejected, 2)
	e.check(fc, store.Rejected, 1)
	res = e.fellBack(store.FallbackRequest{Key: k3, Tag: t3, MaxFailures: 2}, store.FallbackLimited)
	if res.Reason != store.LimitFailures {
		e.t.Fatalf("Fallback at the failure cap: Reason = %v, want failures", res.Reason)
	}
	e.fellBack(store.FallbackRequest{Key: k3, Tag: t3, MaxFailures: 3}, store.FallbackTaken)
}

// testFallbackExpiry: the mark does not outlive the code, and an expired
// code is not pending.
func testFallbackExpiry(e *env) {
	e.fb()
	k := key()
	sealed, tag := sealedFor()
	e.issued(store.IssueRequest{Key: k, Digest: digest(), Sealed: sealed, TTL: short}, 0)
	e.wait(short)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackNotPending)
	// The same Sealed value on a new code (a caller would never reuse it):
	// the old mark is gone with the old code.
	e.issued(store.IssueRequest{Key: k, Digest: digest(), Sealed: sealed, TTL: long}, 0)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackTaken)
}

func testFallbackConcurrent(e *env) {
	e.fb()
	const rounds, n = 10, 50
	for range rounds {
		k, d := key(), digest()
		sealed, tag := sealedFor()
		e.issued(store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: long}, 0)
		got := make([]store.FallbackOutcome, n)
		errs := make([]error, n)
		concurrently(n, func(i int) {
			res, err := e.fb().Fallback(e.ctx, store.FallbackRequest{Key: k, Tag: tag, SendWindow: long, SendsPerWindow: 100})
			got[i], errs[i] = res.Outcome, err
		})
		if err := firstErr(errs); err != nil {
			e.t.Fatalf("Fallback: unexpected error: %v", err)
		}
		c := tally[store.FallbackOutcome]{}
		for _, o := range got {
			c[o]++
		}
		if c[store.FallbackTaken] != 1 || c[store.FallbackSpent] != n-1 {
			e.t.Fatalf("%d concurrent Fallbacks: got %v, want taken=1, spent=%d", n, c, n-1)
		}
		e.check(checkReq(k, d, 5), store.Approved, 0)
	}
}

func testFallbackInvalidRequest(e *env) {
	fs := e.fb()
	k, d := key(), digest()
	sealed, tag := sealedFor()
	e.issued(store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: long}, 0)
	for name, req := range map[string]store.FallbackRequest{
		"empty key":     {Tag: tag},
		"empty tag":     {Key: k},
		"long tag":      {Key: k, Tag: make([]byte, store.MaxTagLen+1)},
		"negative step": {Key: k, Tag: tag, Step: -1},
		"step too far":  {Key: k, Tag: tag, Step: store.MaxStep + 1},
		"negative":      {Key: k, Tag: tag, Cooldown: -time.Second},
		"window":        {Key: k, Tag: tag, SendsPerWindow: 1},
		"limit no key":  {Key: k, Tag: tag, Limits: []store.Limit{{Max: 1, Window: long}}},
		"limit twice":   {Key: k, Tag: tag, Limits: []store.Limit{{Key: "a", Max: 1, Window: long}, {Key: "a", Max: 1, Window: long}}},
		"limit no max":  {Key: k, Tag: tag, Limits: []store.Limit{{Key: "a", Window: long}}},
		"limit no span": {Key: k, Tag: tag, Limits: []store.Limit{{Key: "a", Max: 1}}},
	} {
		if _, err := fs.Fallback(e.ctx, req); !errors.Is(err, store.ErrInvalidRequest) {
			e.t.Errorf("%s: Fallback err = %v, want ErrInvalidRequest", name, err)
		}
	}
	// Nothing changed: the code can still be taken, once.
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackTaken)
	e.check(checkReq(k, d, 5), store.Approved, 0)
}

// testFallbackSteps: one code is taken once per Step, each Step only while
// no later one has been taken; Step 0 is Step 1; code, attempts and expiry
// stay, and a new code starts again from Step 1.
func testFallbackSteps(e *env) {
	e.fb()
	k, d := key(), digest()
	sealed, tag := sealedFor()
	e.issued(store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: long, MaxFailures: 5}, 0)
	e.check(checkReq(k, digest(), 5), store.Rejected, 4)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag}, store.FallbackTaken)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag, Step: 1}, store.FallbackSpent)
	res := e.fellBack(store.FallbackRequest{Key: k, Tag: tag, Step: 2}, store.FallbackTaken)
	if string(res.Sealed) != string(sealed) || res.Attempts != 1 || res.ExpiresIn <= 0 || res.ExpiresIn > long {
		e.t.Fatalf("step 2 = {Sealed: %q, Attempts: %d, ExpiresIn: %v}, want the same code with 1 attempt", res.Sealed, res.Attempts, res.ExpiresIn)
	}
	for _, step := range []int{0, 1, 2} {
		e.fellBack(store.FallbackRequest{Key: k, Tag: tag, Step: step}, store.FallbackSpent)
	}
	// Skipping ahead is allowed; going back after it is not.
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag, Step: 4}, store.FallbackTaken)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag, Step: 3}, store.FallbackSpent)
	e.fellBack(store.FallbackRequest{Key: k, Tag: tag, Step: 4}, store.FallbackSpent)
	e.check(checkReq(k, d, 5), store.Approved, 0)

	// A new code: its steps start again.
	k2 := key()
	s1, t1 := sealedFor()
	e.issued(store.IssueRequest{Key: k2, Digest: digest(), Sealed: s1, TTL: long}, 0)
	e.fellBack(store.FallbackRequest{Key: k2, Tag: t1, Step: 2}, store.FallbackTaken)
	s2, t2 := sealedFor()
	e.issued(store.IssueRequest{Key: k2, Digest: digest(), Sealed: s2, TTL: long}, 0)
	e.fellBack(store.FallbackRequest{Key: k2, Tag: t1, Step: 3}, store.FallbackNotPending)
	e.fellBack(store.FallbackRequest{Key: k2, Tag: t2, Step: 1}, store.FallbackTaken)
}

// testFallbackStepsConcurrent: of concurrent Fallbacks for Steps 1 and 2
// of one code, at most one per Step is taken, and exactly one of Step 2.
func testFallbackStepsConcurrent(e *env) {
	e.fb()
	const rounds, n = 10, 40
	for range rounds {
		k, d := key(), digest()
		sealed, tag := sealedFor()
		e.issued(store.IssueRequest{Key: k, Digest: d, Sealed: sealed, TTL: long}, 0)
		got := make([]store.FallbackOutcome, n)
		errs := make([]error, n)
		concurrently(n, func(i int) {
			res, err := e.fb().Fallback(e.ctx, store.FallbackRequest{Key: k, Tag: tag, Step: 1 + i%2})
			got[i], errs[i] = res.Outcome, err
		})
		if err := firstErr(errs); err != nil {
			e.t.Fatalf("Fallback: unexpected error: %v", err)
		}
		taken := [3]int{}
		for i, o := range got {
			if o == store.FallbackTaken {
				taken[1+i%2]++
			} else if o != store.FallbackSpent {
				e.t.Fatalf("Fallback = %v, want taken or spent", o)
			}
		}
		if taken[1] > 1 || taken[2] != 1 {
			e.t.Fatalf("%d concurrent Fallbacks: taken %d at step 1, %d at step 2; want at most 1, exactly 1", n, taken[1], taken[2])
		}
		e.check(checkReq(k, d, 5), store.Approved, 0)
	}
}

// q returns the store as a FallbackQueue, or skips the subtest.
func (e *env) q() store.FallbackQueue {
	e.t.Helper()
	q, ok := e.h.Store.(store.FallbackQueue)
	if !ok {
		e.t.Skipf("storetest: %T does not implement store.FallbackQueue", e.h.Store)
	}
	return q
}

func (e *env) claim(n int, lease time.Duration, want ...string) {
	e.t.Helper()
	got, err := e.q().Claim(e.ctx, n, lease)
	if err != nil {
		e.t.Fatalf("Claim: unexpected error: %v", err)
	}
	// Other subtests may share the queue (a real Redis): keep our refs.
	var mine []string
	for _, r := range got {
		if slices.Contains(e.refs, r) {
			mine = append(mine, r)
		}
	}
	if !slices.Equal(mine, want) {
		e.t.Fatalf("Claim(%d, %v) = %q, want %q", n, lease, mine, want)
	}
}

func (e *env) schedule(ref string, delay time.Duration) {
	e.t.Helper()
	e.refs = append(e.refs, ref)
	if err := e.q().Schedule(e.ctx, ref, delay); err != nil {
		e.t.Fatalf("Schedule: unexpected error: %v", err)
	}
}

// testQueue runs the queue cases one after the other: a store shared by
// parallel subtests (a real Redis) has one queue, and a Claim takes
// whatever is due in it.
func testQueue(e *env) {
	testQueueScheduleClaim(e)
	testQueueConcurrentClaim(e)
}

func testQueueScheduleClaim(e *env) {
	q := e.q()
	r1, r2, r3, r4 := "r1-"+key(), "r2-"+key(), "r3-"+key(), "r4-"+key()
	e.schedule(r1, 2*short)
	e.schedule(r2, 0)
	e.schedule(r3, long)
	e.claim(100, long, r2) // r1 and r3 are not due yet
	e.claim(100, long)     // r2 is leased
	e.wait(2 * short)
	e.claim(100, short, r1)
	if err := q.Cancel(e.ctx, r1); err != nil {
		e.t.Fatalf("Cancel: %v", err)
	}
	if err := q.Cancel(e.ctx, "never-"+key()); err != nil {
		e.t.Fatalf("Cancel of a ref never queued: %v", err)
	}
	e.wait(short)
	e.claim(100, long) // r1's lease ended, but it was cancelled
	// A ref whose lease ends without a Cancel (its worker died) is due
	// again.
	e.schedule(r4, 0)
	e.claim(100, short, r4)
	e.wait(short)
	e.claim(100, long, r4)
	// Rescheduling moves the due time.
	e.schedule(r3, 0)
	e.claim(100, long, r3)
}

func testQueueConcurrentClaim(e *env) {
	e.q()
	const refs, workers = 30, 10
	for range refs {
		e.schedule(key(), 0)
	}
	got := make([][]string, workers)
	errs := make([]error, workers)
	concurrently(workers, func(i int) {
		got[i], errs[i] = e.q().Claim(e.ctx, 5, long)
	})
	if err := firstErr(errs); err != nil {
		e.t.Fatalf("Claim: unexpected error: %v", err)
	}
	seen := tally[string]{}
	for _, g := range got {
		for _, r := range g {
			if slices.Contains(e.refs, r) {
				seen[r]++
			}
		}
	}
	for r, n := range seen {
		if n != 1 {
			e.t.Fatalf("ref %s claimed %d times by concurrent Claims, want once", r, n)
		}
	}
	if len(seen) != refs {
		e.t.Fatalf("%d concurrent Claims of 5 took %d of %d due refs, want all", workers, len(seen), refs)
	}
}

func testQueueInvalidRequest(e *env) {
	q := e.q()
	long256 := string(make([]byte, store.MaxRefLen+1))
	for name, err := range map[string]error{
		"schedule empty":    q.Schedule(e.ctx, "", 0),
		"schedule long":     q.Schedule(e.ctx, long256, 0),
		"schedule negative": q.Schedule(e.ctx, "r-"+key(), -time.Second),
		"cancel empty":      q.Cancel(e.ctx, ""),
		"claim zero":        func() error { _, err := q.Claim(e.ctx, 0, long); return err }(),
		"claim no lease":    func() error { _, err := q.Claim(e.ctx, 1, 0); return err }(),
	} {
		if !errors.Is(err, store.ErrInvalidRequest) {
			e.t.Errorf("%s: err = %v, want ErrInvalidRequest", name, err)
		}
	}
}
