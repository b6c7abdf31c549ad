package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
)

// RunCodeSets runs the conformance suite of store.CodeSets against the
// stores made by newHarness, whose Store must implement store.CodeSets. It
// follows the rules of Run: one harness per subtest, subtests in parallel,
// random keys, short real-time waits when Advance is nil.
func RunCodeSets(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	runExtension(t, newHarness, "store.CodeSets", codeSetTests,
		func(e env, cs store.CodeSets) *csEnv { return &csEnv{env: e, cs: cs} })
}

var codeSetTests = []extensionTest[*csEnv]{
	{"RedeemOnce", testCodesRedeemOnce},
	{"ReplaceDropsOldSet", testCodesReplaceDropsOld},
	{"ReplaceKeepsFailures", testCodesReplaceKeepsFailures},
	{"Lockout", testCodesLockout},
	{"ApprovalResetsFailures", testCodesApprovalResets},
	{"Expiry", testCodesExpiry},
	{"FailureWindow", testCodesFailureWindow},
	{"IndependentKeys", testCodesIndependentKeys},
	{"IndependentOfAttempt", testCodesIndependentOfAttempt},
	{"ConcurrentRedeem", testCodesConcurrentRedeem},
	{"ConcurrentReject", testCodesConcurrentReject},
	{"ReplaceRacingRedeem", testCodesReplaceRacingRedeem},
	{"CancelledContext", testCodesCancelled},
	{"InvalidRequest", testCodesInvalid},
}

type csEnv struct {
	env
	cs store.CodeSets
}

func digests(n int) [][]byte {
	ds := make([][]byte, n)
	for i := range ds {
		ds[i] = digest()
	}
	return ds
}

func (e *csEnv) replace(k string, ds [][]byte, ttl time.Duration) {
	e.t.Helper()
	if err := e.cs.ReplaceCodes(e.ctx, store.ReplaceCodesRequest{Key: k, Digests: ds, TTL: ttl}); err != nil {
		e.t.Fatalf("ReplaceCodes: unexpected error: %v", err)
	}
}

func redeemReq(k string, d []byte, maxFailures int) store.RedeemCodeRequest {
	return store.RedeemCodeRequest{Key: k, Digest: d, MaxFailures: maxFailures, FailureWindow: long}
}

// redeem redeems and fails unless the result has the given status,
// remaining and left; it returns the result.
func (e *csEnv) redeem(req store.RedeemCodeRequest, status store.CheckStatus, remaining, left int) store.RedeemCodeResult {
	e.t.Helper()
	res, err := e.cs.RedeemCode(e.ctx, req)
	if err != nil {
		e.t.Fatalf("RedeemCode: unexpected error: %v", err)
	}
	if res.Status != status || res.Remaining != remaining || res.Left != left {
		e.t.Fatalf("RedeemCode = {Status: %v, Remaining: %d, Left: %d}, want {Status: %v, Remaining: %d, Left: %d}",
			res.Status, res.Remaining, res.Left, status, remaining, left)
	}
	if status == store.Locked && (res.RetryAfter <= 0 || res.RetryAfter > req.FailureWindow) {
		e.t.Fatalf("RedeemCode locked: RetryAfter = %v, want in (0, %v]", res.RetryAfter, req.FailureWindow)
	}
	if status != store.Locked && res.RetryAfter != 0 {
		e.t.Fatalf("RedeemCode %v: RetryAfter = %v, want 0", status, res.RetryAfter)
	}
	return res
}

func (e *csEnv) count(k string, want int) {
	e.t.Helper()
	n, err := e.cs.CountCodes(e.ctx, k)
	if err != nil {
		e.t.Fatalf("CountCodes: unexpected error: %v", err)
	}
	if n != want {
		e.t.Fatalf("CountCodes = %d, want %d", n, want)
	}
}

func testCodesRedeemOnce(e *csEnv) {
	k, ds := key(), digests(3)
	e.count(k, 0)
	e.replace(k, ds, long)
	e.count(k, 3)
	e.redeem(redeemReq(k, ds[1], 5), store.Approved, 0, 2)
	e.count(k, 2)
	// A redeemed code is a wrong code: counted.
	e.redeem(redeemReq(k, ds[1], 5), store.Rejected, 4, 2)
	e.redeem(redeemReq(k, ds[0], 5), store.Approved, 0, 1)
	e.redeem(redeemReq(k, ds[2], 5), store.Approved, 0, 0)
	e.count(k, 0)
	e.redeem(redeemReq(k, ds[2], 5), store.Rejected, 4, 0)
}

func testCodesReplaceDropsOld(e *csEnv) {
	k, old, fresh := key(), digests(4), digests(2)
	e.replace(k, old, long)
	e.redeem(redeemReq(k, old[0], 100), store.Approved, 0, 3)
	e.replace(k, fresh, long)
	e.count(k, 2)
	for i, d := range old {
		e.redeem(redeemReq(k, d, 100), store.Rejected, 100-1-i, 2)
	}
	e.redeem(redeemReq(k, fresh[1], 100), store.Approved, 0, 1)
}

func testCodesReplaceKeepsFailures(e *csEnv) {
	k, ds := key(), digests(2)
	e.replace(k, ds, long)
	e.redeem(redeemReq(k, digest(), 3), store.Rejected, 2, 2)
	e.redeem(redeemReq(k, digest(), 3), store.Rejected, 1, 2)
	e.replace(k, digests(5), long)
	e.redeem(redeemReq(k, digest(), 3), store.Locked, 0, 5)
}

func testCodesLockout(e *csEnv) {
	k, ds := key(), digests(2)
	e.replace(k, ds, long)
	e.redeem(redeemReq(k, digest(), 3), store.Rejected, 2, 2)
	e.redeem(redeemReq(k, digest(), 3), store.Rejected, 1, 2)
	e.redeem(redeemReq(k, digest(), 3), store.Locked, 0, 2)
	// Locked: even a right code is refused, and is not spent.
	e.redeem(redeemReq(k, ds[0], 3), store.Locked, 0, 2)
	e.count(k, 2)
}

func testCodesApprovalResets(e *csEnv) {
	k, ds := key(), digests(2)
	e.replace(k, ds, long)
	e.redeem(redeemReq(k, digest(), 3), store.Rejected, 2, 2)
	e.redeem(redeemReq(k, digest(), 3), store.Rejected, 1, 2)
	e.redeem(redeemReq(k, ds[0], 3), store.Approved, 0, 1)
	e.redeem(redeemReq(k, digest(), 3), store.Rejected, 2, 1)
}

func testCodesExpiry(e *csEnv) {
	k, ds := key(), digests(2)
	e.replace(k, ds, short)
	e.count(k, 2)
	e.wait(short)
	e.count(k, 0)
	e.redeem(redeemReq(k, ds[0], 5), store.Rejected, 4, 0)
	// A new set lives again.
	e.replace(k, ds, long)
	e.redeem(redeemReq(k, ds[0], 5), store.Approved, 0, 1)
}

func testCodesFailureWindow(e *csEnv) {
	k, ds := key(), digests(1)
	e.replace(k, ds, long)
	req := func(d []byte) store.RedeemCodeRequest {
		return store.RedeemCodeRequest{Key: k, Digest: d, MaxFailures: 2, FailureWindow: short}
	}
	e.redeem(req(digest()), store.Rejected, 1, 1)
	e.redeem(req(digest()), store.Locked, 0, 1)
	e.redeem(req(ds[0]), store.Locked, 0, 1)
	e.wait(short)
	e.redeem(req(ds[0]), store.Approved, 0, 0)
}

func testCodesIndependentKeys(e *csEnv) {
	k1, k2, ds := key(), key(), digests(1)
	e.replace(k1, ds, long)
	e.redeem(redeemReq(k2, ds[0], 1), store.Locked, 0, 0)
	e.redeem(redeemReq(k1, ds[0], 1), store.Approved, 0, 0)
}

func testCodesIndependentOfAttempt(e *csEnv) {
	k, ds := key(), digests(1)
	e.replace(k, ds, long)
	// Failures of Check and Attempt on the same key do not count against
	// the code set, and the other way round.
	e.attempt(attemptReq(k, "", 1), store.Locked, 0)
	e.issued(issueReq(k, digest()), 0)
	e.check(store.CheckRequest{Key: k, Digest: digest(), MaxAttempts: 5, MaxFailures: 1, FailureWindow: long}, store.Locked, 0)
	e.redeem(redeemReq(k, digest(), 2), store.Rejected, 1, 1)
	d := digest()
	e.issued(issueReq(k, d), 0)
	e.check(checkReq(k, d, 5), store.Approved, 0)
	e.redeem(redeemReq(k, ds[0], 2), store.Approved, 0, 0)
}

func testCodesConcurrentRedeem(e *csEnv) {
	k, ds := key(), digests(10)
	e.replace(k, ds, long)
	const n = 200
	results := make([]store.RedeemCodeResult, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		results[i], errs[i] = e.cs.RedeemCode(e.ctx, redeemReq(k, ds[3], 1000))
	})
	if err := firstErr(errs); err != nil {
		e.t.Fatalf("RedeemCode: %v", err)
	}
	got := tally[store.CheckStatus]{}
	for _, r := range results {
		got[r.Status]++
	}
	if got[store.Approved] != 1 || got[store.Rejected] != n-1 {
		e.t.Fatalf("%d concurrent RedeemCode of one code: %v, want approved=1, rejected=%d", n, got, n-1)
	}
	e.count(k, 9)
}

func testCodesConcurrentReject(e *csEnv) {
	k, ds := key(), digests(2)
	e.replace(k, ds, long)
	const n, maxFailures = 200, 5
	results := make([]store.RedeemCodeResult, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		results[i], errs[i] = e.cs.RedeemCode(e.ctx, redeemReq(k, digest(), maxFailures))
	})
	if err := firstErr(errs); err != nil {
		e.t.Fatalf("RedeemCode: %v", err)
	}
	got := tally[store.CheckStatus]{}
	for _, r := range results {
		got[r.Status]++
	}
	if got[store.Rejected] != maxFailures-1 || got[store.Locked] != n-maxFailures+1 {
		e.t.Fatalf("%d concurrent wrong RedeemCode, MaxFailures %d: %v, want rejected=%d, locked=%d",
			n, maxFailures, got, maxFailures-1, n-maxFailures+1)
	}
	e.redeem(redeemReq(k, ds[0], maxFailures), store.Locked, 0, 2)
}

// testCodesReplaceRacingRedeem races a replacement against redemptions of
// codes of both the old and the new set. Whatever the order, no old code
// approves after the replacement, every new code approves once, and a
// redemption sees one whole set: an approved old code leaves Left counted
// in the old set, an approved new one in the new set.
func testCodesReplaceRacingRedeem(e *csEnv) {
	const rounds = 20
	for range rounds {
		k, old, fresh := key(), digests(6), digests(3)
		e.replace(k, old, long)
		const n = 13 // one replacement, six old codes, six tries of new ones
		results := make([]store.RedeemCodeResult, n)
		errs := make([]error, n)
		concurrently(n, func(i int) {
			switch {
			case i == 0:
				errs[i] = e.cs.ReplaceCodes(e.ctx, store.ReplaceCodesRequest{Key: k, Digests: fresh, TTL: long})
			case i <= 6:
				results[i], errs[i] = e.cs.RedeemCode(e.ctx, redeemReq(k, old[i-1], 1000))
			default:
				results[i], errs[i] = e.cs.RedeemCode(e.ctx, redeemReq(k, fresh[(i-7)%3], 1000))
			}
		})
		if err := firstErr(errs); err != nil {
			e.t.Fatalf("race: %v", err)
		}
		newApproved := 0
		for i := 1; i < n; i++ {
			r := results[i]
			if r.Status != store.Approved {
				continue
			}
			if i <= 6 && r.Left > 5 {
				e.t.Fatalf("old code approved with Left %d, want at most 5 (a set of 6)", r.Left)
			}
			if i > 6 {
				newApproved++
				if r.Left > 2 {
					e.t.Fatalf("new code approved with Left %d, want at most 2 (a set of 3)", r.Left)
				}
			}
		}
		if newApproved > 3 {
			e.t.Fatalf("%d approvals of the 3 new codes, want at most 3", newApproved)
		}
		e.count(k, 3-newApproved)
		for _, d := range old {
			if res, err := e.cs.RedeemCode(e.ctx, redeemReq(k, d, 1000)); err != nil || res.Status == store.Approved {
				e.t.Fatalf("old code after the replacement: RedeemCode = %+v, %v; want not approved", res, err)
			}
		}
	}
}

func testCodesCancelled(e *csEnv) {
	k, ds := key(), digests(2)
	e.replace(k, ds, long)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if err := e.cs.ReplaceCodes(ctx, store.ReplaceCodesRequest{Key: k, Digests: digests(1), TTL: long}); !errors.Is(err, context.Canceled) {
		e.t.Fatalf("ReplaceCodes with a cancelled context: error = %v, want one wrapping context.Canceled", err)
	}
	if _, err := e.cs.RedeemCode(ctx, redeemReq(k, ds[0], 5)); !errors.Is(err, context.Canceled) {
		e.t.Fatalf("RedeemCode with a cancelled context: error = %v, want one wrapping context.Canceled", err)
	}
	if _, err := e.cs.RedeemCode(ctx, redeemReq(k, digest(), 1)); !errors.Is(err, context.Canceled) {
		e.t.Fatalf("RedeemCode with a cancelled context: error = %v, want one wrapping context.Canceled", err)
	}
	if _, err := e.cs.CountCodes(ctx, k); !errors.Is(err, context.Canceled) {
		e.t.Fatalf("CountCodes with a cancelled context: error = %v, want one wrapping context.Canceled", err)
	}
	// Nothing changed: the set is whole and no failure was counted.
	e.count(k, 2)
	e.redeem(redeemReq(k, digest(), 5), store.Rejected, 4, 2)
	e.redeem(redeemReq(k, ds[0], 5), store.Approved, 0, 1)
}

func testCodesInvalid(e *csEnv) {
	k, ds := key(), digests(2)
	e.replace(k, ds, long)
	d := digest()
	tooMany := digests(store.MaxCodeSetLen + 1)
	replaces := map[string]store.ReplaceCodesRequest{
		"ReplaceEmptyKey":     {Digests: digests(1), TTL: long},
		"ReplaceNoDigests":    {Key: k, TTL: long},
		"ReplaceTooMany":      {Key: k, Digests: tooMany, TTL: long},
		"ReplaceEmptyDigest":  {Key: k, Digests: [][]byte{digest(), {}}, TTL: long},
		"ReplaceDuplicate":    {Key: k, Digests: [][]byte{d, digest(), d}, TTL: long},
		"ReplaceZeroTTL":      {Key: k, Digests: digests(1)},
		"ReplaceNegativeTTL":  {Key: k, Digests: digests(1), TTL: -time.Second},
		"ReplaceDuplicateLen": {Key: k, Digests: [][]byte{append([]byte(nil), d...), d}, TTL: long},
	}
	for name, req := range replaces {
		if err := e.cs.ReplaceCodes(e.ctx, req); !errors.Is(err, store.ErrInvalidRequest) {
			e.t.Errorf("%s: error = %v, want one wrapping store.ErrInvalidRequest", name, err)
		}
	}
	redeems := map[string]store.RedeemCodeRequest{
		"RedeemEmptyKey":          {Digest: ds[0], MaxFailures: 5, FailureWindow: long},
		"RedeemEmptyDigest":       {Key: k, MaxFailures: 5, FailureWindow: long},
		"RedeemZeroMaxFailures":   {Key: k, Digest: ds[0], FailureWindow: long},
		"RedeemZeroFailureWindow": {Key: k, Digest: ds[0], MaxFailures: 5},
	}
	for name, req := range redeems {
		if _, err := e.cs.RedeemCode(e.ctx, req); !errors.Is(err, store.ErrInvalidRequest) {
			e.t.Errorf("%s: error = %v, want one wrapping store.ErrInvalidRequest", name, err)
		}
	}
	if _, err := e.cs.CountCodes(e.ctx, ""); !errors.Is(err, store.ErrInvalidRequest) {
		e.t.Errorf("CountCodes with an empty key: error = %v, want one wrapping store.ErrInvalidRequest", err)
	}
	// Nothing changed.
	e.count(k, 2)
	e.redeem(redeemReq(k, digest(), 5), store.Rejected, 4, 2)
	e.redeem(redeemReq(k, ds[1], 5), store.Approved, 0, 1)
}
