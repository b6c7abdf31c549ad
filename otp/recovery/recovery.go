package recovery

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go2fa/go2fa/store"
)

// Defaults and limits.
const (
	// DefaultCount is the number of codes Generate makes when Config.Count
	// is zero.
	DefaultCount = 10
	// MaxCount is the largest Config.Count.
	MaxCount = store.MaxCodeSetLen
	// DefaultMaxFailures is Config.MaxFailures's default.
	DefaultMaxFailures = 5
	// DefaultLockout is Config.Lockout's default.
	DefaultLockout = 15 * time.Minute
	// DefaultLifetime is Config.Lifetime's default: about five years.
	DefaultLifetime = 5 * 365 * 24 * time.Hour
	// MinSecretLen is the shortest Config.Secret, in bytes.
	MinSecretLen = 32
	// MaxAccountLen is the longest account key, in bytes.
	MaxAccountLen = 256
	// CodeLen is the number of characters of a code, without its hyphen.
	CodeLen = 10
	// Bits is the entropy of one code.
	Bits = 5 * CodeLen
)

// Alphabet is the character set of codes: Crockford's base32, lower case.
const Alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// maxInput bounds what Redeem reads of a typed code.
const maxInput = 64

// Errors returned (wrapped) by this package. Match them with errors.Is; no
// message ever contains a code or an account.
var (
	// ErrInvalidConfig reports a Config that New refuses.
	ErrInvalidConfig = errors.New("recovery: invalid config")
	// ErrInvalidAccount reports an account key that is empty or longer than
	// MaxAccountLen.
	ErrInvalidAccount = errors.New("recovery: invalid account key")
	// ErrInvalidCode reports a typed code that is not ten characters of the
	// alphabet once hyphens and spaces are removed. Redeem returns it before
	// touching the store, so it is not counted as a failure.
	ErrInvalidCode = errors.New("recovery: malformed code")
	// ErrStoreUnavailable reports a store failure. The store's error is
	// wrapped too. Nothing is approved with it.
	ErrStoreUnavailable = errors.New("recovery: store unavailable")
)

// Config configures a Manager. Store and Secret are required; every other
// zero field means its default.
type Config struct {
	// Store keeps the code sets: store/memstore for one process,
	// store/redisstore for several. Required.
	Store store.CodeSets
	// Secret keys the HMACs of accounts and codes: at least 32 bytes from a
	// cryptographic source, stable across restarts and identical across
	// instances. It may be the secret of the otp.Verifier: the keys derived
	// here are separate from its keys. Required.
	Secret []byte
	// Count is the number of codes in a set, 1 to MaxCount. The default
	// value is DefaultCount (10).
	Count int
	// MaxFailures is the number of wrong codes that lock an account's
	// recovery codes. The default value is DefaultMaxFailures (5).
	MaxFailures int
	// Lockout is how long failures are remembered, from the first one, and
	// so how long a lock lasts at most. The default value is
	// DefaultLockout (15 minutes).
	Lockout time.Duration
	// Lifetime is how long a set lives after Generate: every piece of
	// go2fa's state expires. The default value is DefaultLifetime (about
	// five years); Count tells the application when to offer a new set.
	Lifetime time.Duration
	// Rand is the source of the codes. The default value is crypto/rand's
	// Reader; tests may pass a deterministic one.
	Rand io.Reader
}

// Manager generates and redeems recovery codes. Build one with New. It is
// safe for concurrent use by multiple goroutines, and several processes
// that share its Store and Secret share its codes and its limits.
type Manager struct {
	store       store.CodeSets
	accountKey  []byte
	codeKey     []byte
	count       int
	maxFailures int
	lockout     time.Duration
	lifetime    time.Duration
	rand        io.Reader
}

// New validates cfg and returns a Manager, or an error wrapping
// ErrInvalidConfig.
func New(cfg Config) (*Manager, error) {
	bad := func(why string) (*Manager, error) { return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, why) }
	switch {
	case cfg.Store == nil:
		return bad("Store is required")
	case len(cfg.Secret) < MinSecretLen:
		return bad(fmt.Sprintf("Secret must be at least %d bytes", MinSecretLen))
	case cfg.Count < 0 || cfg.Count > MaxCount:
		return bad(fmt.Sprintf("Count must be 0 to %d", MaxCount))
	case cfg.MaxFailures < 0:
		return bad("negative MaxFailures")
	case cfg.Lockout < 0:
		return bad("negative Lockout")
	case cfg.Lifetime < 0:
		return bad("negative Lifetime")
	}
	m := &Manager{
		store:       cfg.Store,
		accountKey:  derive(cfg.Secret, "account"),
		codeKey:     derive(cfg.Secret, "code"),
		count:       orDefault(cfg.Count, DefaultCount),
		maxFailures: orDefault(cfg.MaxFailures, DefaultMaxFailures),
		lockout:     orDefault(cfg.Lockout, DefaultLockout),
		lifetime:    orDefault(cfg.Lifetime, DefaultLifetime),
		rand:        cfg.Rand,
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	return m, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func derive(secret []byte, label string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("go2fa/recovery/v1/" + label))
	return h.Sum(nil)
}

func checkAccount(account string) error {
	if account == "" || len(account) > MaxAccountLen {
		return fmt.Errorf("%w: want 1 to %d bytes", ErrInvalidAccount, MaxAccountLen)
	}
	return nil
}

// storeKey is the opaque store key of an account: "rc-" and 128 bits of
// HMAC, base64url.
func (m *Manager) storeKey(account string) string {
	h := hmac.New(sha256.New, m.accountKey)
	h.Write([]byte(account))
	return "rc-" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// digest is HMAC-SHA256(code key, account || 0 || canonical code).
func (m *Manager) digest(account string, code []byte) []byte {
	h := hmac.New(sha256.New, m.codeKey)
	h.Write([]byte(account))
	h.Write([]byte{0})
	h.Write(code)
	return h.Sum(nil)
}

// Generate makes a new set of codes for account, replaces the account's
// set with it in one atomic store call, and returns the codes, formatted
// "xxxxx-xxxxx", to be shown to the user once. Every code of the previous
// set stops working. The account's failure count is left as it is.
//
// account identifies the user (a user ID); it is hashed before it reaches
// the store.
func (m *Manager) Generate(ctx context.Context, account string) ([]string, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	codes := make([]string, 0, m.count)
	digests := make([][]byte, 0, m.count)
	seen := make(map[string]bool, m.count)
	for len(codes) < m.count {
		raw, err := newCode(m.rand)
		if err != nil {
			return nil, err
		}
		if seen[string(raw[:])] {
			continue // one chance in 2^50 per pair: draw again
		}
		seen[string(raw[:])] = true
		codes = append(codes, string(raw[:5])+"-"+string(raw[5:]))
		digests = append(digests, m.digest(account, raw[:]))
	}
	err := m.store.ReplaceCodes(ctx, store.ReplaceCodesRequest{Key: m.storeKey(account), Digests: digests, TTL: m.lifetime})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return codes, nil
}

// newCode reads 7 bytes from r and spells their low 50 bits in the
// alphabet, five bits a character, so every code is equally likely.
func newCode(r io.Reader) ([CodeLen]byte, error) {
	var b [8]byte
	var out [CodeLen]byte
	if _, err := io.ReadFull(r, b[1:]); err != nil {
		return out, fmt.Errorf("recovery: reading randomness: %w", err)
	}
	v := uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	for i := CodeLen - 1; i >= 0; i-- {
		out[i] = Alphabet[v&31]
		v >>= 5
	}
	return out, nil
}

// Status is the outcome of Redeem.
type Status int

const (
	// Approved: the code was one of the account's unused codes; it is now
	// used up, and the failure count is reset.
	Approved Status = iota + 1
	// Rejected: the code is not one of the account's unused codes (wrong,
	// used before, or from a replaced set). Result.Remaining failures are
	// left before the lock.
	Rejected
	// Locked: too many failures; every code, even a right one, is refused
	// (and not used up) for Result.RetryAfter.
	Locked
)

// String returns the status's name.
func (s Status) String() string {
	switch s {
	case Approved:
		return "approved"
	case Rejected:
		return "rejected"
	case Locked:
		return "locked"
	}
	return "unknown"
}

// Result reports the outcome of Redeem. Only Status == Approved lets a user
// in; the zero Result, returned with every error, does not.
type Result struct {
	Status Status
	// Remaining is the number of failures still allowed (Rejected).
	Remaining int
	// Left is the number of unused codes the account still has: offer a
	// new set when it runs low.
	Left int
	// RetryAfter is, for Locked, how long until the lock lifts.
	RetryAfter time.Duration
}

// Redeem uses up code, typed by the user behind account, if it is one of
// the account's unused codes. A malformed code returns ErrInvalidCode
// without touching the store; everything else is one atomic store call
// that refuses a locked account, approves and removes a matching code, or
// counts a failure. A store failure returns the zero Result and an error
// wrapping ErrStoreUnavailable: fail closed.
func (m *Manager) Redeem(ctx context.Context, account, code string) (Result, error) {
	if err := checkAccount(account); err != nil {
		return Result{}, err
	}
	canon, ok := Canonical(code)
	if !ok {
		return Result{}, fmt.Errorf("%w: want %d characters of the alphabet", ErrInvalidCode, CodeLen)
	}
	res, err := m.store.RedeemCode(ctx, store.RedeemCodeRequest{
		Key:           m.storeKey(account),
		Digest:        m.digest(account, canon[:]),
		MaxFailures:   m.maxFailures,
		FailureWindow: m.lockout,
	})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	out := Result{Remaining: res.Remaining, Left: res.Left}
	switch res.Status {
	case store.Approved:
		out.Status, out.Remaining = Approved, 0
	case store.Rejected:
		out.Status = Rejected
	case store.Locked:
		out.Status, out.Remaining, out.RetryAfter = Locked, 0, res.RetryAfter
	default:
		return Result{}, fmt.Errorf("%w: unexpected status %v", ErrStoreUnavailable, res.Status)
	}
	return out, nil
}

// Count returns the number of unused codes of account (zero when it has
// none, or its set has expired).
func (m *Manager) Count(ctx context.Context, account string) (int, error) {
	if err := checkAccount(account); err != nil {
		return 0, err
	}
	n, err := m.store.CountCodes(ctx, m.storeKey(account))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return n, nil
}

// Canonical returns the ten alphabet characters of a typed code: case is
// ignored, hyphens and spaces are dropped, o reads as 0 and i or l as 1.
// ok is false for anything else. It runs in time that depends only on the
// input's length.
func Canonical(typed string) (code [CodeLen]byte, ok bool) {
	if len(typed) > maxInput {
		return code, false
	}
	n, bad := 0, 0
	for i := 0; i < len(typed); i++ {
		c := typed[i]
		if c == '-' || c == ' ' {
			continue
		}
		c = decode[c]
		if c == 0 {
			bad = 1
		}
		if n < CodeLen {
			code[n] = c
		}
		n++
	}
	return code, bad == 0 && n == CodeLen
}

// decode maps each accepted input byte to its alphabet character; 0 means
// refused.
var decode = func() (t [256]byte) {
	for i := 0; i < len(Alphabet); i++ {
		c := Alphabet[i]
		t[c] = c
		if c >= 'a' && c <= 'z' {
			t[c-'a'+'A'] = c
		}
	}
	t['o'], t['O'] = '0', '0'
	t['i'], t['I'], t['l'], t['L'] = '1', '1', '1', '1'
	return t
}()
