package totp_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

// backend is a real Store the Validator scenarios run against.
type backend struct {
	name string
	// new returns an empty Store.
	new func(t *testing.T) store.Store
}

var memBackend = backend{"memstore", func(t *testing.T) store.Store { return newMem(t) }}

// backends are the Stores every scenario runs against. internal/e2e runs
// the Validator against store/redisstore, so that this package's tests do
// not pull go-redis into the go.sum of a module that imports otp/totp.
var backends = []backend{memBackend}

// forEachBackend runs f against every backend as parallel subtests, each
// in a synctest bubble: time.Now there stands still but for time.Sleep,
// which moves it at once, and starts at 2000-01-01 00:00 UTC, the first
// second of a 30 s step.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) { f(t, b) })
		})
	}
}

var testKey = totp.Key{Issuer: "ACME", Account: "jane", Secret: rfcSecret}

// codeAt returns testKey's code steps time steps from now.
func codeAt(t testing.TB, now time.Time, steps int) string {
	t.Helper()
	c, err := testKey.Code(now.Add(time.Duration(steps) * 30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode returns a well-formed code that matches no step within ±3 of
// now.
func wrongCode(t testing.TB, now time.Time) string {
	t.Helper()
	taken := map[string]bool{}
	for d := -3; d <= 3; d++ {
		taken[codeAt(t, now, d)] = true
	}
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		if !taken[c] {
			return c
		}
	}
}

// newMem returns a memstore, closed with the test.
func newMem(t testing.TB) *memstore.Store {
	t.Helper()
	s := memstore.New(memstore.WithSweepInterval(0))
	t.Cleanup(func() { s.Close() })
	return s
}

// newValidator returns a Validator on a new Store of b. Called in a bubble
// (forEachBackend), it moves the clock 10 s into the first step, so that a
// test is not on a step's edge unless it goes there.
func newValidator(t *testing.T, b backend, cfg totp.Config) (*totp.Validator, store.Store) {
	t.Helper()
	st := b.new(t)
	cfg.Store = st
	v, err := totp.NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	return v, st
}

func validate(t *testing.T, v *totp.Validator, account, code string) totp.Result {
	t.Helper()
	res, err := v.Validate(context.Background(), account, testKey, code)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return res
}

func TestValidateApprovesOnceThenRefusesReplay(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		v, _ := newValidator(t, b, totp.Config{})
		code := codeAt(t, time.Now(), 0)
		if res := validate(t, v, "jane", code); res.Status != totp.Approved || res.Drift != 0 {
			t.Fatalf("first use: %+v, want Approved with Drift 0", res)
		}
		// Same code, same step, later in the step.
		time.Sleep(15 * time.Second)
		if res := validate(t, v, "jane", code); res.Status != totp.Replayed || res.Remaining != totp.DefaultMaxFailures-1 {
			t.Errorf("replay: %+v, want Replayed with %d remaining", res, totp.DefaultMaxFailures-1)
		}
		// Another account with the same secret is independent.
		if res := validate(t, v, "john", code); res.Status != totp.Approved {
			t.Errorf("same code for another account: %+v, want Approved", res)
		}
	})
}

func TestValidateReplayRefusedWhileStepInWindow(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		// The code of step now+1 is accepted at the very start of step now,
		// the worst case for the marker's lifetime; it stays acceptable, so
		// must stay refused, until the last second of step now+2.
		v, _ := newValidator(t, b, totp.Config{})
		time.Sleep(20 * time.Second) // the first second of the next step
		first := time.Now()
		code := codeAt(t, first, 1)
		if res := validate(t, v, "jane", code); res.Status != totp.Approved || res.Drift != 1 {
			t.Fatalf("first use: %+v, want Approved with Drift 1", res)
		}
		for _, at := range []time.Duration{29 * time.Second, 59 * time.Second, 89 * time.Second} {
			time.Sleep(at - time.Since(first))
			if res := validate(t, v, "jane", code); res.Status != totp.Replayed {
				t.Errorf("replay %v after first use: %+v, want Replayed", at, res)
			}
		}
		// One step later the code is out of the window: plainly wrong.
		time.Sleep(time.Second)
		if res := validate(t, v, "jane", code); res.Status != totp.Rejected {
			t.Errorf("replay once out of the window: %+v, want Rejected", res)
		}
	})
}

func TestValidateSkew(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range []struct {
			skew   int
			accept []int
			refuse []int
		}{
			{0, []int{-1, 0, 1}, []int{-2, 2, -3, 3}}, // default: ±1
			{1, []int{-1, 0, 1}, []int{-2, 2}},
			{totp.NoSkew, []int{0}, []int{-1, 1}},
			{2, []int{-2, -1, 0, 1, 2}, []int{-3, 3}},
		} {
			for _, d := range append(append([]int{}, tc.accept...), tc.refuse...) {
				want := totp.Rejected
				for _, a := range tc.accept {
					if a == d {
						want = totp.Approved
					}
				}
				v, _ := newValidator(t, b, totp.Config{Skew: tc.skew})
				res := validate(t, v, "jane", codeAt(t, time.Now(), d))
				if res.Status != want {
					t.Errorf("skew %d, code of step %+d: %+v, want %v", tc.skew, d, res, want)
				}
				if want == totp.Approved && res.Drift != d {
					t.Errorf("skew %d, code of step %+d: Drift = %d, want %d", tc.skew, d, res.Drift, d)
				}
			}
		}
	})
}

func TestValidateLockout(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		v, _ := newValidator(t, b, totp.Config{MaxFailures: 3, Lockout: 10 * time.Minute})
		wrong := wrongCode(t, time.Now())
		for want := 2; want >= 1; want-- {
			if res := validate(t, v, "jane", wrong); res.Status != totp.Rejected || res.Remaining != want {
				t.Fatalf("wrong code: %+v, want Rejected with %d remaining", res, want)
			}
			time.Sleep(time.Minute)
		}
		res := validate(t, v, "jane", wrong)
		if res.Status != totp.Locked || res.RetryAfter <= 0 || res.RetryAfter > 10*time.Minute {
			t.Fatalf("third wrong code: %+v, want Locked with 0 < RetryAfter <= 10m", res)
		}
		// Locked: even the right code is refused, and does not consume its step.
		time.Sleep(time.Minute)
		right := codeAt(t, time.Now(), 0)
		if res := validate(t, v, "jane", right); res.Status != totp.Locked {
			t.Fatalf("right code while locked: %+v, want Locked", res)
		}
		// Another account is not locked.
		if res := validate(t, v, "john", right); res.Status != totp.Approved {
			t.Errorf("other account: %+v, want Approved", res)
		}
		// Still locked just before the failures expire (10 min after the
		// latest, the third, 1 min ago).
		time.Sleep(10*time.Minute - time.Minute - time.Second)
		if res := validate(t, v, "jane", codeAt(t, time.Now(), 0)); res.Status != totp.Locked {
			t.Fatalf("right code 1 s before the lockout ends: %+v, want Locked", res)
		}
		time.Sleep(time.Second)
		if res := validate(t, v, "jane", codeAt(t, time.Now(), 0)); res.Status != totp.Approved {
			t.Fatalf("right code once the lockout ended: %+v, want Approved", res)
		}
	})
}

func TestValidateApprovalResetsFailures(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		v, _ := newValidator(t, b, totp.Config{})
		wrong := wrongCode(t, time.Now())
		for range totp.DefaultMaxFailures - 1 {
			if res := validate(t, v, "jane", wrong); res.Status != totp.Rejected {
				t.Fatalf("wrong code: %+v, want Rejected", res)
			}
		}
		if res := validate(t, v, "jane", codeAt(t, time.Now(), 0)); res.Status != totp.Approved {
			t.Fatalf("right code: %+v, want Approved", res)
		}
		for want := totp.DefaultMaxFailures - 1; want >= 1; want-- {
			if res := validate(t, v, "jane", wrong); res.Status != totp.Rejected || res.Remaining != want {
				t.Fatalf("wrong code after approval: %+v, want Rejected with %d remaining", res, want)
			}
		}
	})
}

func TestValidateReplaysLock(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		v, _ := newValidator(t, b, totp.Config{MaxFailures: 2})
		code := codeAt(t, time.Now(), 0)
		if res := validate(t, v, "jane", code); res.Status != totp.Approved {
			t.Fatalf("first use: %+v, want Approved", res)
		}
		if res := validate(t, v, "jane", code); res.Status != totp.Replayed || res.Remaining != 1 {
			t.Fatalf("replay: %+v, want Replayed with 1 remaining", res)
		}
		if res := validate(t, v, "jane", code); res.Status != totp.Locked {
			t.Fatalf("second replay: %+v, want Locked", res)
		}
	})
}

func TestValidateConcurrentSameCodeApprovedOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		v, _ := newValidator(t, b, totp.Config{MaxFailures: 100})
		code := codeAt(t, time.Now(), 0)
		const n = 32
		var wg sync.WaitGroup
		results := make(chan totp.Result, n)
		for range n {
			wg.Go(func() {
				res, err := v.Validate(context.Background(), "jane", testKey, code)
				if err != nil {
					t.Error(err)
				}
				results <- res
			})
		}
		wg.Wait()
		close(results)
		count := map[totp.Status]int{}
		for r := range results {
			count[r.Status]++
		}
		if count[totp.Approved] != 1 || count[totp.Replayed] != n-1 {
			t.Errorf("of %d concurrent uses of one code: %v, want 1 approved and %d replayed", n, count, n-1)
		}
	})
}

// spy records the requests a Validator makes and forwards them.
type spy struct {
	store.Store
	mu   sync.Mutex
	reqs []store.AttemptRequest
	res  *store.AttemptResult // when set, returned instead of forwarding
	err  error
}

func (s *spy) Attempt(ctx context.Context, req store.AttemptRequest) (store.AttemptResult, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	res, err := s.res, s.err
	s.mu.Unlock()
	if res != nil || err != nil {
		var r store.AttemptResult
		if res != nil {
			r = *res
		}
		return r, err
	}
	return s.Store.Attempt(ctx, req)
}

func (s *spy) requests() []store.AttemptRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.AttemptRequest(nil), s.reqs...)
}

func TestValidateMalformedInputLeavesStoreUntouched(t *testing.T) {
	t.Parallel()
	mem := newMem(t)
	sp := &spy{Store: mem}
	v, err := totp.NewValidator(totp.Config{Store: sp})
	if err != nil {
		t.Fatal(err)
	}
	right := codeAt(t, time.Now(), 0)
	for _, tc := range []struct {
		name    string
		account string
		key     totp.Key
		code    string
		want    error
	}{
		{"empty", "jane", testKey, "", totp.ErrInvalidCode},
		{"too short", "jane", testKey, right[:5], totp.ErrInvalidCode},
		{"too long", "jane", testKey, right + "0", totp.ErrInvalidCode},
		{"8 digits for a 6-digit key", "jane", testKey, "12345678", totp.ErrInvalidCode},
		{"letters", "jane", testKey, "12345a", totp.ErrInvalidCode},
		{"spaces", "jane", testKey, "123 45", totp.ErrInvalidCode},
		{"sign", "jane", testKey, "+12345", totp.ErrInvalidCode},
		{"non-ASCII digits", "jane", testKey, "١٢٣", totp.ErrInvalidCode},
		{"empty account", "", testKey, right, totp.ErrInvalidAccount},
		{"no secret", "jane", totp.Key{}, right, totp.ErrInvalidSecret},
		{"bad digits", "jane", totp.Key{Secret: rfcSecret, Digits: 9}, right, totp.ErrInvalidDigits},
		{"bad algorithm", "jane", totp.Key{Secret: rfcSecret, Algorithm: 7}, right, totp.ErrInvalidAlgorithm},
		{"bad period", "jane", totp.Key{Secret: rfcSecret, Period: -time.Second}, right, totp.ErrInvalidPeriod},
	} {
		res, err := v.Validate(context.Background(), tc.account, tc.key, tc.code)
		if !errors.Is(err, tc.want) || res != (totp.Result{}) {
			t.Errorf("%s: Validate = %+v, %v; want zero Result, %v", tc.name, res, err, tc.want)
		}
		if err != nil && tc.code != "" && strings.Contains(err.Error(), tc.code) {
			t.Errorf("%s: error %q contains the code", tc.name, err)
		}
	}
	if n := len(sp.requests()); n != 0 || mem.Len() != 0 {
		t.Errorf("malformed input reached the store: %d requests, %d entries", n, mem.Len())
	}
	// A clock before T0 is refused before the store too.
	v0, err := totp.NewValidator(totp.Config{Store: sp, Now: func() time.Time { return time.Unix(-60, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v0.Validate(context.Background(), "jane", testKey, right); !errors.Is(err, totp.ErrInvalidTime) {
		t.Errorf("clock before 1970: error = %v, want %v", err, totp.ErrInvalidTime)
	}
	if n := len(sp.requests()); n != 0 {
		t.Errorf("a clock before T0 reached the store: %d requests", n)
	}
}

func TestValidateStoreRequests(t *testing.T) {
	t.Parallel()
	// In a bubble, so that the step cannot change between two calls.
	synctest.Test(t, func(t *testing.T) {
		sp := &spy{Store: newMem(t)}
		v, err := totp.NewValidator(totp.Config{Store: sp, Skew: 2, MaxFailures: 7, Lockout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		account := "jane.doe@example.com"
		validate(t, v, account, codeAt(t, time.Now(), -1))
		validate(t, v, account, wrongCode(t, time.Now()))
		validate(t, v, "john", wrongCode(t, time.Now()))
		reqs := sp.requests()
		if len(reqs) != 3 {
			t.Fatalf("%d store requests for 3 validations, want 3 (one each)", len(reqs))
		}
		right, wrong, other := reqs[0], reqs[1], reqs[2]
		if want := strconv.FormatInt(time.Now().Unix()/30-1, 10); right.Marker != want {
			t.Errorf("Marker = %q, want the matched step %s", right.Marker, want)
		}
		if want := 6 * 30 * time.Second; right.MarkerTTL != want {
			t.Errorf("MarkerTTL = %v, want (2·skew+2)·period = %v", right.MarkerTTL, want)
		}
		if wrong.Marker != "" {
			t.Errorf("wrong code: Marker = %q, want empty", wrong.Marker)
		}
		for _, r := range reqs {
			if r.MaxFailures != 7 || r.FailureWindow != time.Hour {
				t.Errorf("MaxFailures, FailureWindow = %d, %v; want 7, 1h", r.MaxFailures, r.FailureWindow)
			}
		}
		if right.Key != wrong.Key {
			t.Errorf("one account, two store keys: %q and %q", right.Key, wrong.Key)
		}
		if right.Key == other.Key {
			t.Errorf("two accounts share store key %q", right.Key)
		}
		if !strings.HasPrefix(right.Key, "totp:") || strings.Contains(right.Key, "jane") || strings.Contains(right.Key, "example") {
			t.Errorf("store key %q: want a totp: prefix and no account name", right.Key)
		}

		// With a KeySecret the store key changes (HMAC instead of SHA-256).
		sp2 := &spy{Store: newMem(t)}
		v2, err := totp.NewValidator(totp.Config{Store: sp2, KeySecret: []byte(strings.Repeat("k", 32))})
		if err != nil {
			t.Fatal(err)
		}
		validate(t, v2, account, wrongCode(t, time.Now()))
		if k := sp2.requests()[0].Key; k == right.Key || !strings.HasPrefix(k, "totp:") || strings.Contains(k, "jane") {
			t.Errorf("store key with KeySecret = %q (without: %q): want a different totp: key without the account", k, right.Key)
		}
	})
}

func TestValidateStoreFailureFailsClosed(t *testing.T) {
	t.Parallel()
	right := codeAt(t, time.Now(), 0)
	boom := errors.New("backend down")
	for _, tc := range []struct {
		name string
		spy  *spy
		also error
	}{
		{"error", &spy{err: boom}, boom},
		{"approves a wrong code", &spy{res: &store.AttemptResult{Status: store.Approved}}, nil},
		{"unknown status", &spy{res: &store.AttemptResult{Status: store.Expired}}, nil},
		{"zero status", &spy{res: &store.AttemptResult{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := totp.NewValidator(totp.Config{Store: tc.spy})
			if err != nil {
				t.Fatal(err)
			}
			code := right
			if tc.name == "approves a wrong code" {
				code = wrongCode(t, time.Now())
			}
			res, err := v.Validate(context.Background(), "jane", testKey, code)
			if !errors.Is(err, totp.ErrStoreUnavailable) || res.Status == totp.Approved || res != (totp.Result{}) {
				t.Errorf("Validate = %+v, %v; want zero Result and an error wrapping %v", res, err, totp.ErrStoreUnavailable)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("error %v does not wrap %v", err, tc.also)
			}
		})
	}
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, b backend) {
			v, _ := newValidator(t, b, totp.Config{})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code := codeAt(t, time.Now(), 0)
			res, err := v.Validate(ctx, "jane", testKey, code)
			if !errors.Is(err, totp.ErrStoreUnavailable) || !errors.Is(err, context.Canceled) || res != (totp.Result{}) {
				t.Errorf("Validate = %+v, %v; want zero Result and an error wrapping %v and %v", res, err, totp.ErrStoreUnavailable, context.Canceled)
			}
			// The cancelled call recorded nothing: the code is still fresh.
			if res := validate(t, v, "jane", code); res.Status != totp.Approved {
				t.Errorf("after a cancelled Validate: %+v, want Approved", res)
			}
		})
	})
}

func TestNewValidatorConfig(t *testing.T) {
	t.Parallel()
	mem := newMem(t)
	for _, tc := range []struct {
		name string
		cfg  totp.Config
		ok   bool
	}{
		{"defaults", totp.Config{Store: mem}, true},
		{"no store", totp.Config{}, false},
		{"skew max", totp.Config{Store: mem, Skew: totp.MaxSkew}, true},
		{"skew over max", totp.Config{Store: mem, Skew: totp.MaxSkew + 1}, false},
		{"skew -2", totp.Config{Store: mem, Skew: -2}, false},
		{"negative failures", totp.Config{Store: mem, MaxFailures: -1}, false},
		{"negative lockout", totp.Config{Store: mem, Lockout: -time.Second}, false},
		{"short key secret", totp.Config{Store: mem, KeySecret: make([]byte, 31)}, false},
		{"empty key secret", totp.Config{Store: mem, KeySecret: []byte{}}, false},
		{"key secret", totp.Config{Store: mem, KeySecret: make([]byte, 32)}, true},
	} {
		v, err := totp.NewValidator(tc.cfg)
		switch {
		case tc.ok && (err != nil || v == nil):
			t.Errorf("%s: NewValidator = %v, %v; want a Validator", tc.name, v, err)
		case !tc.ok && (!errors.Is(err, totp.ErrInvalidConfig) || v != nil):
			t.Errorf("%s: NewValidator = %v, %v; want nil, %v", tc.name, v, err, totp.ErrInvalidConfig)
		}
	}
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	for s, want := range map[totp.Status]string{totp.Approved: "approved", totp.Rejected: "rejected", totp.Replayed: "replayed", totp.Locked: "locked", "": ""} {
		if got := s.String(); got != want {
			t.Errorf("Status(%q).String() = %q, want %q", string(s), got, want)
		}
	}
}

func TestValidateAdjacentStepsWithTheSameCode(t *testing.T) {
	t.Parallel()
	// With rfcSecret, steps 50 424 280 and 50 424 281 share the code
	// 070562 (found by search). The user types it in the first step, then
	// again, legitimately, in the second: the first use must record its
	// own step, not the next one, or the second would look like a replay.
	const s, shared = 50_424_280, "070562"
	for _, step := range []int64{s, s + 1} {
		if c, _ := testKey.Code(time.Unix(step*30, 0)); c != shared {
			t.Fatalf("code of step %d = %s, want %s", step, c, shared)
		}
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		v, _ := newValidator(t, b, totp.Config{})
		time.Sleep(time.Until(time.Unix(s*30+5, 0)))
		if res := validate(t, v, "jane", shared); res.Status != totp.Approved || res.Drift != 0 {
			t.Fatalf("in step %d: %+v, want Approved with Drift 0", s, res)
		}
		time.Sleep(30 * time.Second)
		if res := validate(t, v, "jane", shared); res.Status != totp.Approved || res.Drift != 0 {
			t.Fatalf("in step %d: %+v, want Approved with Drift 0", s+1, res)
		}
		if res := validate(t, v, "jane", shared); res.Status != totp.Replayed {
			t.Fatalf("again in step %d: %+v, want Replayed", s+1, res)
		}
	})
}

// A Validator not made by NewValidator refuses Validate with an error
// naming the constructor, instead of dereferencing a nil store.
func TestZeroValidator(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]*totp.Validator{"zero": {}, "nil": nil} {
		res, err := v.Validate(context.Background(), "jane", testKey, "123456")
		if !errors.Is(err, totp.ErrInvalidConfig) || !strings.Contains(err.Error(), "totp.NewValidator") || res.Status == totp.Approved {
			t.Errorf("%s Validator: Validate = %+v, %v; want ErrInvalidConfig naming totp.NewValidator", name, res, err)
		}
	}
}
