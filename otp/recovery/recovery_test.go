package recovery_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp/recovery"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/redisstore"
)

var secret = bytes.Repeat([]byte("s"), 32)

// backend makes a CodeSets store and a function that moves its clock;
// redisstore also returns the miniredis server, for dumps. A bubble
// backend runs in a synctest bubble, where advance sleeps; miniredis is
// reached over TCP, which a bubble cannot wait on, so its clock is set.
type backend struct {
	name   string
	bubble bool
	new    func(t *testing.T) (s store.CodeSets, mr *miniredis.Miniredis, advance func(time.Duration))
}

var backends = []backend{
	{"memstore", true, func(t *testing.T) (store.CodeSets, *miniredis.Miniredis, func(time.Duration)) {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s, nil, time.Sleep
	}},
	{"redisstore", false, func(t *testing.T) (store.CodeSets, *miniredis.Miniredis, func(time.Duration)) {
		m := miniredis.RunT(t)
		now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		m.SetTime(now)
		m.ClockTTL(true)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		s, err := redisstore.New(c)
		if err != nil {
			t.Fatal(err)
		}
		return s, m, func(d time.Duration) { now = now.Add(d); m.SetTime(now) }
	}},
}

type fixture struct {
	m       *recovery.Manager
	s       store.CodeSets
	mr      *miniredis.Miniredis
	advance func(time.Duration) // moves the store's clock
}

func forEach(t *testing.T, cfg recovery.Config, f func(t *testing.T, fx fixture)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			run := func(t *testing.T) {
				s, mr, advance := b.new(t)
				c := cfg
				c.Store, c.Secret = s, secret
				m, err := recovery.New(c)
				if err != nil {
					t.Fatal(err)
				}
				f(t, fixture{m: m, s: s, mr: mr, advance: advance})
			}
			if b.bubble {
				synctest.Test(t, run)
			} else {
				run(t)
			}
		})
	}
}

func generate(t *testing.T, m *recovery.Manager, account string) []string {
	t.Helper()
	codes, err := m.Generate(t.Context(), account)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return codes
}

func redeem(t *testing.T, m *recovery.Manager, account, code string, want recovery.Result) {
	t.Helper()
	got, err := m.Redeem(t.Context(), account, code)
	if err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	if want.Status == recovery.Locked {
		if got.RetryAfter <= 0 {
			t.Fatalf("Redeem locked with RetryAfter %v, want > 0", got.RetryAfter)
		}
		got.RetryAfter = 0
	}
	if got != want {
		t.Fatalf("Redeem = %+v (%v), want %+v (%v)", got, got.Status, want, want.Status)
	}
}

func count(t *testing.T, m *recovery.Manager, account string, want int) {
	t.Helper()
	n, err := m.Count(t.Context(), account)
	if err != nil || n != want {
		t.Fatalf("Count = %d, %v; want %d", n, err, want)
	}
}

var codeForm = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

func TestGenerate(t *testing.T) {
	forEach(t, recovery.Config{}, func(t *testing.T, fx fixture) {
		codes := generate(t, fx.m, "alice")
		if len(codes) != recovery.DefaultCount {
			t.Fatalf("Generate made %d codes, want %d", len(codes), recovery.DefaultCount)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !codeForm.MatchString(c) {
				t.Errorf("code %q is not xxxxx-xxxxx in the alphabet", c)
			}
			if seen[c] {
				t.Errorf("code %q made twice", c)
			}
			seen[c] = true
		}
		count(t, fx.m, "alice", 10)
		count(t, fx.m, "bob", 0)
	})
}

func TestRedeemOnce(t *testing.T) {
	forEach(t, recovery.Config{}, func(t *testing.T, fx fixture) {
		codes := generate(t, fx.m, "alice")
		redeem(t, fx.m, "alice", codes[4], recovery.Result{Status: recovery.Approved, Left: 9})
		redeem(t, fx.m, "alice", codes[4], recovery.Result{Status: recovery.Rejected, Remaining: 4, Left: 9})
		count(t, fx.m, "alice", 9)
		// Another account's code is a wrong code, and counted there.
		bob := generate(t, fx.m, "bob")
		redeem(t, fx.m, "alice", bob[0], recovery.Result{Status: recovery.Rejected, Remaining: 3, Left: 9})
		redeem(t, fx.m, "bob", codes[0], recovery.Result{Status: recovery.Rejected, Remaining: 4, Left: 10})
		redeem(t, fx.m, "bob", bob[0], recovery.Result{Status: recovery.Approved, Left: 9})
	})
}

// fixedRand yields the same byte forever.
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

// seqRand yields its blocks of 7 bytes in turn, then fails.
type seqRand struct{ blocks [][]byte }

func (s *seqRand) Read(p []byte) (int, error) {
	if len(s.blocks) == 0 {
		return 0, errors.New("out of randomness")
	}
	n := copy(p, s.blocks[0])
	s.blocks = s.blocks[1:]
	return n, nil
}

func TestCodeSpelling(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	tests := []struct {
		rand byte
		want string
	}{
		{0x00, "00000-00000"},
		{0xff, "zzzzz-zzzzz"},
		// 0x55... = 0101 0101 ...: the low 50 of 56 bits are 01010 10101
		// repeated: 10, 21 -> "a", "n".
		{0x55, "anana-nanan"},
	}
	for _, tc := range tests {
		m, err := recovery.New(recovery.Config{Store: s, Secret: secret, Count: 1, Rand: fixedRand(tc.rand)})
		if err != nil {
			t.Fatal(err)
		}
		codes := generate(t, m, "alice")
		if codes[0] != tc.want {
			t.Errorf("code from bytes %#x = %q, want %q", tc.rand, codes[0], tc.want)
		}
	}
	// A repeated draw is drawn again; a failing source is an error.
	a, b := bytes.Repeat([]byte{1}, 7), bytes.Repeat([]byte{2}, 7)
	m, _ := recovery.New(recovery.Config{Store: s, Secret: secret, Count: 2, Rand: &seqRand{[][]byte{a, a, b}}})
	codes := generate(t, m, "alice")
	if codes[0] == codes[1] {
		t.Fatalf("Generate returned a code twice: %q", codes)
	}
	m, _ = recovery.New(recovery.Config{Store: s, Secret: secret, Count: 3, Rand: &seqRand{[][]byte{a, b}}})
	if _, err := m.Generate(t.Context(), "alice"); err == nil || !strings.Contains(err.Error(), "randomness") {
		t.Fatalf("Generate with a failing source: error = %v, want a randomness error", err)
	}
	// The failed Generate left the previous set in place.
	res, err := m.Redeem(t.Context(), "alice", codes[1])
	if err != nil || res.Status != recovery.Approved {
		t.Fatalf("code of the set before a failed Generate = %+v, %v; want approved", res, err)
	}
}

// People type codes in many ways; each is read as the same code.
func TestTypedForms(t *testing.T) {
	forEach(t, recovery.Config{Count: 1, Rand: fixedRand(0x08)}, func(t *testing.T, fx fixture) {
		// 0x08 repeated; the low 50 of 56 bits: 00000 01000 00001 00000
		// 00100 00000 10000 00010 00000 01000.
		code := generate(t, fx.m, "alice")[0]
		if code != "08104-0g208" {
			t.Fatalf("code = %q, want 08104-0g208", code)
		}
		forms := []string{"08104-0g208", "08104 0G208", " O8lO4-oG2O8 ", "o8IO40g2o8", "08i04-0g208"}
		for _, f := range forms {
			generate(t, fx.m, "alice")
			redeem(t, fx.m, "alice", f, recovery.Result{Status: recovery.Approved})
		}
	})
}

func TestMalformedNotCounted(t *testing.T) {
	forEach(t, recovery.Config{MaxFailures: 2}, func(t *testing.T, fx fixture) {
		codes := generate(t, fx.m, "alice")
		bad := []string{"", "abcde", "abcde-fghjk1", "abcde-fghju", "abcde_fghjk", "abcdé-fghjk",
			strings.Repeat(" ", 60) + "abcde-fghjk", codes[0] + "\x00"}
		for _, b := range bad {
			res, err := fx.m.Redeem(t.Context(), "alice", b)
			if !errors.Is(err, recovery.ErrInvalidCode) || res != (recovery.Result{}) {
				t.Errorf("Redeem(%q) = %+v, %v; want the zero Result and ErrInvalidCode", b, res, err)
			}
		}
		// Nothing was counted: two failures are still allowed.
		redeem(t, fx.m, "alice", "zzzzz-zzzzz", recovery.Result{Status: recovery.Rejected, Remaining: 1, Left: 10})
		redeem(t, fx.m, "alice", codes[0], recovery.Result{Status: recovery.Approved, Left: 9})
	})
}

func TestLockout(t *testing.T) {
	forEach(t, recovery.Config{MaxFailures: 3, Lockout: 10 * time.Minute}, func(t *testing.T, fx fixture) {
		codes := generate(t, fx.m, "alice")
		redeem(t, fx.m, "alice", "zzzzz-zzzzz", recovery.Result{Status: recovery.Rejected, Remaining: 2, Left: 10})
		redeem(t, fx.m, "alice", "zzzzz-zzzzy", recovery.Result{Status: recovery.Rejected, Remaining: 1, Left: 10})
		redeem(t, fx.m, "alice", "zzzzz-zzzzx", recovery.Result{Status: recovery.Locked, Left: 10})
		// Locked: a right code is refused and not used up.
		redeem(t, fx.m, "alice", codes[0], recovery.Result{Status: recovery.Locked, Left: 10})
		// A new set does not lift the lock.
		codes = generate(t, fx.m, "alice")
		redeem(t, fx.m, "alice", codes[0], recovery.Result{Status: recovery.Locked, Left: 10})
		// Another account is not affected.
		bob := generate(t, fx.m, "bob")
		redeem(t, fx.m, "bob", bob[0], recovery.Result{Status: recovery.Approved, Left: 9})
		fx.advance(10*time.Minute + time.Second)
		redeem(t, fx.m, "alice", codes[0], recovery.Result{Status: recovery.Approved, Left: 9})
		redeem(t, fx.m, "alice", "zzzzz-zzzzz", recovery.Result{Status: recovery.Rejected, Remaining: 2, Left: 9})
	})
}

func TestExpiry(t *testing.T) {
	forEach(t, recovery.Config{Lifetime: 24 * time.Hour}, func(t *testing.T, fx fixture) {
		codes := generate(t, fx.m, "alice")
		fx.advance(24*time.Hour + time.Second)
		count(t, fx.m, "alice", 0)
		redeem(t, fx.m, "alice", codes[0], recovery.Result{Status: recovery.Rejected, Remaining: 4})
	})
}

// Two concurrent redemptions of one code approve once; so do a hundred.
func TestConcurrentRedeem(t *testing.T) {
	forEach(t, recovery.Config{MaxFailures: 1000}, func(t *testing.T, fx fixture) {
		codes := generate(t, fx.m, "alice")
		const n = 100
		var approved, rejected, other int
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				res, err := fx.m.Redeem(context.Background(), "alice", codes[7])
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Error(err)
				case res.Status == recovery.Approved:
					approved++
				case res.Status == recovery.Rejected:
					rejected++
				default:
					other++
				}
			})
		}
		close(start)
		wg.Wait()
		if approved != 1 || rejected != n-1 || other != 0 {
			t.Fatalf("%d concurrent redemptions of one code: approved %d, rejected %d, other %d; want 1, %d, 0",
				n, approved, rejected, other, n-1)
		}
		count(t, fx.m, "alice", 9)
	})
}

// A regeneration racing redemptions of the old codes: whichever wins, no
// old code approves once Generate has returned, the new set is whole, and
// an old code approved during the race was approved at most once.
func TestGenerateRacingRedeem(t *testing.T) {
	forEach(t, recovery.Config{MaxFailures: 1000}, func(t *testing.T, fx fixture) {
		for range 30 {
			old := generate(t, fx.m, "alice")
			var fresh []string
			var approved [4]int
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				codes, err := fx.m.Generate(context.Background(), "alice")
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				fresh = codes
				mu.Unlock()
			})
			for i := range 8 {
				wg.Go(func() {
					<-start
					res, err := fx.m.Redeem(context.Background(), "alice", old[i%4])
					if err != nil {
						t.Error(err)
					}
					if res.Status == recovery.Approved {
						mu.Lock()
						approved[i%4]++
						mu.Unlock()
					}
				})
			}
			close(start)
			wg.Wait()
			for i, n := range approved {
				if n > 1 {
					t.Fatalf("old code %d approved %d times", i, n)
				}
			}
			count(t, fx.m, "alice", 10)
			for _, c := range old {
				res, err := fx.m.Redeem(t.Context(), "alice", c)
				if err != nil || res.Status != recovery.Rejected || res.Left != 10 {
					t.Fatalf("old code after Generate returned: Redeem = %+v, %v; want rejected with 10 left", res, err)
				}
			}
			redeem(t, fx.m, "alice", fresh[0], recovery.Result{Status: recovery.Approved, Left: 9})
		}
	})
}

// A dump of the store reveals no code and no account: every key and value
// in Redis is searched for every code (as shown, without its hyphen, and
// each half) and for the account.
func TestNothingInClear(t *testing.T) {
	for _, b := range backends[1:] {
		t.Run(b.name, func(t *testing.T) {
			s, mr, _ := b.new(t)
			m, err := recovery.New(recovery.Config{Store: s, Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			const account = "alice@example.com"
			codes := generate(t, m, account)
			if _, err := m.Redeem(t.Context(), account, codes[0]); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Redeem(t.Context(), account, "zzzzz-zzzzz"); err != nil {
				t.Fatal(err)
			}
			dump := dumpRedis(t, mr)
			if len(dump) == 0 {
				t.Fatal("empty dump: the test would prove nothing")
			}
			secrets := []string{account, "alice", "zzzzzzzzzz", "zzzzz-zzzzz"}
			for _, c := range codes {
				secrets = append(secrets, c, strings.ReplaceAll(c, "-", ""), c[:5], c[6:])
			}
			for _, sec := range secrets {
				if bytes.Contains(bytes.ToLower(dump), []byte(sec)) {
					t.Errorf("the Redis dump contains %q", sec)
				}
			}
		})
	}
}

// dumpRedis returns every key and every value of mr, concatenated.
func dumpRedis(t *testing.T, mr *miniredis.Miniredis) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, k := range mr.Keys() {
		out.WriteString(k + "\n")
		switch typ := mr.Type(k); typ {
		case "string":
			v, _ := mr.Get(k)
			out.WriteString(v + "\n")
		case "set":
			ms, _ := mr.Members(k)
			for _, v := range ms {
				out.WriteString(v + "\n")
			}
		case "hash":
			fs, _ := mr.HKeys(k)
			for _, f := range fs {
				out.WriteString(f + "=" + mr.HGet(k, f) + "\n")
			}
		default:
			t.Fatalf("key of type %s: extend the dump", typ)
		}
	}
	return out.Bytes()
}

// failingStore fails every call, as a store that is down.
type failingStore struct{}

var errDown = errors.New("backend down")

func (failingStore) ReplaceCodes(context.Context, store.ReplaceCodesRequest) error { return errDown }
func (failingStore) RedeemCode(context.Context, store.RedeemCodeRequest) (store.RedeemCodeResult, error) {
	return store.RedeemCodeResult{Status: store.Approved}, errDown
}
func (failingStore) CountCodes(context.Context, string) (int, error) { return 3, errDown }

// brokenStore answers a status the contract does not name.
type brokenStore struct{ failingStore }

func (brokenStore) RedeemCode(context.Context, store.RedeemCodeRequest) (store.RedeemCodeResult, error) {
	return store.RedeemCodeResult{Status: store.Expired}, nil
}

func TestStoreFailureFailsClosed(t *testing.T) {
	t.Parallel()
	m, err := recovery.New(recovery.Config{Store: failingStore{}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if codes, err := m.Generate(ctx, "alice"); !errors.Is(err, recovery.ErrStoreUnavailable) || !errors.Is(err, errDown) || codes != nil {
		t.Errorf("Generate = %q, %v; want no codes and ErrStoreUnavailable wrapping the store's error", codes, err)
	}
	if res, err := m.Redeem(ctx, "alice", "abcde-fghjk"); !errors.Is(err, recovery.ErrStoreUnavailable) || res != (recovery.Result{}) {
		t.Errorf("Redeem = %+v, %v; want the zero Result and ErrStoreUnavailable", res, err)
	}
	if n, err := m.Count(ctx, "alice"); !errors.Is(err, recovery.ErrStoreUnavailable) || n != 0 {
		t.Errorf("Count = %d, %v; want 0 and ErrStoreUnavailable", n, err)
	}
	m, _ = recovery.New(recovery.Config{Store: brokenStore{}, Secret: secret})
	if res, err := m.Redeem(ctx, "alice", "abcde-fghjk"); !errors.Is(err, recovery.ErrStoreUnavailable) || res.Status == recovery.Approved {
		t.Errorf("Redeem on a store answering Expired = %+v, %v; want ErrStoreUnavailable", res, err)
	}
}

func TestErrorsHoldNoCodeOrAccount(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	m, _ := recovery.New(recovery.Config{Store: s, Secret: secret})
	fm, _ := recovery.New(recovery.Config{Store: failingStore{}, Secret: secret})
	ctx := t.Context()
	const account, code = "alice@example.com", "abcde-fghju"
	var errs []error
	_, err := m.Redeem(ctx, account, code)
	errs = append(errs, err)
	_, err = m.Redeem(ctx, strings.Repeat("a", 300), "abcde-fghjk")
	errs = append(errs, err)
	_, err = fm.Redeem(ctx, account, "abcde-fghjk")
	errs = append(errs, err)
	_, err = fm.Generate(ctx, account)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("want an error")
		}
		for _, s := range []string{account, "alice", "abcde", "fghj", "aaaa"} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains %q", err, s)
			}
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	bad := map[string]recovery.Config{
		"no store":          {Secret: secret},
		"short secret":      {Store: s, Secret: secret[:31]},
		"negative count":    {Store: s, Secret: secret, Count: -1},
		"count too large":   {Store: s, Secret: secret, Count: recovery.MaxCount + 1},
		"negative failures": {Store: s, Secret: secret, MaxFailures: -1},
		"negative lockout":  {Store: s, Secret: secret, Lockout: -time.Second},
		"negative lifetime": {Store: s, Secret: secret, Lifetime: -time.Second},
	}
	for name, cfg := range bad {
		if _, err := recovery.New(cfg); !errors.Is(err, recovery.ErrInvalidConfig) {
			t.Errorf("%s: error = %v, want ErrInvalidConfig", name, err)
		}
	}
	m, err := recovery.New(recovery.Config{Store: s, Secret: secret, Count: recovery.MaxCount})
	if err != nil {
		t.Fatal(err)
	}
	if codes := generate(t, m, "alice"); len(codes) != recovery.MaxCount {
		t.Errorf("Count %d made %d codes", recovery.MaxCount, len(codes))
	}
	for _, acct := range []string{"", strings.Repeat("a", recovery.MaxAccountLen+1)} {
		if _, err := m.Generate(t.Context(), acct); !errors.Is(err, recovery.ErrInvalidAccount) {
			t.Errorf("Generate(account of %d bytes): error = %v, want ErrInvalidAccount", len(acct), err)
		}
		if _, err := m.Redeem(t.Context(), acct, "abcde-fghjk"); !errors.Is(err, recovery.ErrInvalidAccount) {
			t.Errorf("Redeem(account of %d bytes): error = %v, want ErrInvalidAccount", len(acct), err)
		}
		if _, err := m.Count(t.Context(), acct); !errors.Is(err, recovery.ErrInvalidAccount) {
			t.Errorf("Count(account of %d bytes): error = %v, want ErrInvalidAccount", len(acct), err)
		}
	}
}

// Two Managers with the same Secret share codes (two instances of a
// service); with another Secret they do not.
func TestSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	a, _ := recovery.New(recovery.Config{Store: s, Secret: secret})
	b, _ := recovery.New(recovery.Config{Store: s, Secret: secret})
	other, _ := recovery.New(recovery.Config{Store: s, Secret: bytes.Repeat([]byte("t"), 32)})
	codes := generate(t, a, "alice")
	redeem(t, other, "alice", codes[0], recovery.Result{Status: recovery.Rejected, Remaining: 4})
	redeem(t, b, "alice", codes[0], recovery.Result{Status: recovery.Approved, Left: 9})
}

// Codes are uniform over the alphabet in every position: a chi-square
// test over 20 000 codes from a seeded generator, so the test is
// repeatable (a bias in the spelling, not in the source, is what it
// catches).
func TestUniform(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	m, _ := recovery.New(recovery.Config{Store: s, Secret: secret, Count: recovery.MaxCount,
		Rand: rand.NewChaCha8([32]byte{1})})
	var counts [recovery.CodeLen][32]int
	const rounds = 200
	for range rounds {
		for _, c := range generate(t, m, "alice") {
			c = strings.ReplaceAll(c, "-", "")
			for i := range recovery.CodeLen {
				counts[i][strings.IndexByte(recovery.Alphabet, c[i])]++
			}
		}
	}
	const n = rounds * recovery.MaxCount
	for i := range counts {
		chi := 0.0
		for _, o := range counts[i] {
			d := float64(o) - n/32.0
			chi += d * d / (n / 32.0)
		}
		// 31 degrees of freedom: p = 0.0001 at about 66.
		if chi > 66 {
			t.Errorf("position %d: chi-square %.1f over 31 degrees of freedom", i, chi)
		}
	}
}
