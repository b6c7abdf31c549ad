// Package memstore is an in-memory implementation of store.Store, go2fa's
// zero-configuration default.
//
// A Store keeps every pending code, send counter, failure counter and TOTP
// marker in the memory of one process, so it serves a single instance of a
// service: two processes with their own memstore do not share limits or
// codes (use store/redisstore for that), and a restart forgets everything,
// which fails closed (pending codes are lost, limits start over).
//
// State is split over 64 shards by a hash of the key, each with its own
// mutex, so Checks on different keys run in parallel. Every entry expires:
// expired state is ignored at once and its memory is reclaimed by a
// background sweeper (see WithSweepInterval) or an explicit Sweep. Call Close
// to stop the sweeper when the Store is no longer needed; a Store that
// becomes unreachable stops its sweeper by itself.
//
//	s := memstore.New()
//	defer s.Close()
package memstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go2fa/go2fa/store"
)

const (
	shardCount = 64 // a power of two, at most 256 (lockLimits uses uint8 indexes)
	// inlineDigest is the size of the digest kept inside an entry without a
	// separate allocation (an HMAC-SHA256).
	inlineDigest = 32
	// shrinkMin is the high-water mark above which a shard's map is rebuilt
	// once it has emptied to a quarter of it (Go maps never shrink).
	shrinkMin = 256
)

// A shard index must fit in a uint8: this fails to compile if shardCount
// grows past 256.
const _ = uint8(shardCount - 1)

// DefaultSweepInterval is the default interval of the background sweeper.
const DefaultSweepInterval = time.Minute

var _ store.Store = (*Store)(nil)

// Store is an in-memory store.Store. Create one with New: the zero value
// holds nothing and refuses every Issue, Check, Withdraw and Attempt with an
// error naming memstore.New. It is safe for concurrent use by multiple
// goroutines.
type Store struct {
	keys   *[shardCount]keyShard
	limits *[shardCount]limitShard
	codes  *codeSets
	seed   maphash.Seed
	clock  func() time.Time // nil: real (monotonic) time since base
	base   time.Time
	counts countTable // store.Counters state (counters.go)

	stop *stopper

	queue dueQueue // see queue.go
}

// Option configures a Store in New.
type Option func(*config)

type config struct {
	clock func() time.Time
	sweep time.Duration
}

// WithClock makes the Store read the current time from now instead of the
// system clock, so tests can move time forward without sleeping. now must be
// safe for concurrent use and never go backwards. The default value (also
// used for a nil now) is the system's monotonic clock, as time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithSweepInterval sets how often the background sweeper removes expired
// entries. A value <= 0 disables the sweeper (expired state is still
// ignored; call Sweep to reclaim its memory). The default value is
// DefaultSweepInterval (one minute).
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) { c.sweep = d }
}

// New returns an empty Store configured by opts. Unless disabled with
// WithSweepInterval, it starts a background sweeper; stop it with Close.
func New(opts ...Option) *Store {
	c := config{sweep: DefaultSweepInterval}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	s := &Store{
		keys:   new([shardCount]keyShard),
		limits: new([shardCount]limitShard),
		codes:  newCodeSets(),
		seed:   maphash.MakeSeed(),
		clock:  c.clock,
		stop:   &stopper{stop: make(chan struct{}), done: make(chan struct{})},
	}
	if s.clock == nil {
		s.base = time.Now()
	} else {
		s.base = s.clock()
	}
	for i := range s.keys {
		s.keys[i].m = make(map[string]*entry)
		s.limits[i].m = make(map[string]*counter)
	}
	if c.sweep <= 0 {
		close(s.stop.done)
		return s
	}
	// The sweeper holds the shards, not s, so an unreachable Store can be
	// collected; its cleanup then stops the sweeper.
	sw := &Store{keys: s.keys, limits: s.limits, codes: s.codes, clock: s.clock, base: s.base}
	go sw.sweepLoop(c.sweep, s.stop)
	runtime.AddCleanup(s, func(st *stopper) { st.signal() }, s.stop)
	return s
}

// Close stops the background sweeper and waits for it to exit. It is safe to
// call more than once and from several goroutines; it always returns nil.
// The Store stays usable after Close, without background sweeping.
func (s *Store) Close() error {
	if s == nil || s.stop == nil {
		return nil
	}
	s.stop.signal()
	<-s.stop.done
	return nil
}

type stopper struct {
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

func (st *stopper) signal() { st.once.Do(func() { close(st.stop) }) }

func (s *Store) sweepLoop(every time.Duration, st *stopper) {
	defer close(st.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep removes every expired entry now and releases memory held by maps
// that have shrunk. The background sweeper calls it; tests may too.
func (s *Store) Sweep() {
	if s == nil || s.keys == nil {
		return
	}
	for i := range s.keys {
		sh := &s.keys[i]
		sh.mu.Lock()
		now := s.now() // read under the lock: no operation on sh can interleave
		for k, e := range sh.m {
			if e.deadline() <= now {
				delete(sh.m, k)
			}
		}
		sh.m, sh.high = shrink(sh.m, sh.high)
		sh.mu.Unlock()
	}
	for i := range s.limits {
		sh := &s.limits[i]
		sh.mu.Lock()
		now := s.now()
		for k, c := range sh.m {
			if c.exp <= now {
				delete(sh.m, k)
			}
		}
		sh.m, sh.high = shrink(sh.m, sh.high)
		sh.mu.Unlock()
	}
	s.sweepCodes()
}

// shrink rebuilds m when it holds less than a quarter of its high-water
// mark, because a Go map keeps the memory of its largest size.
func shrink[V any](m map[string]V, high int) (map[string]V, int) {
	n := len(m)
	if high < shrinkMin || n >= high/4 {
		return m, high
	}
	fresh := make(map[string]V, n)
	for k, v := range m {
		fresh[k] = v
	}
	return fresh, n
}

// Len reports the number of entries (destination keys and extra-limit keys)
// the Store holds, including expired ones the sweeper has not removed yet.
// It is meant for tests and metrics.
func (s *Store) Len() int {
	if s == nil || s.keys == nil {
		return 0
	}
	n := 0
	for i := range s.keys {
		sh := &s.keys[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	for i := range s.limits {
		sh := &s.limits[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// now returns the current time as nanoseconds since s.base.
func (s *Store) now() int64 {
	if s.clock == nil {
		return int64(time.Since(s.base)) // monotonic, no wall-clock read
	}
	return int64(s.clock().Sub(s.base))
}

func (s *Store) shard(key string) uint64 {
	return maphash.String(s.seed, key) & (shardCount - 1)
}

type keyShard struct {
	mu   sync.Mutex
	m    map[string]*entry
	high int // largest len(m) since the map was last rebuilt
	_    [40]byte
}

type limitShard struct {
	mu   sync.Mutex
	m    map[string]*counter
	high int
	_    [40]byte
}

type counter struct {
	n   int64
	exp int64
}

// Code states.
const (
	noCode    = iota
	pending   // can be checked
	withdrawn // unusable, but its attempts carry over until codeExp
)

// entry is everything the Store keeps for one key. Times are nanoseconds
// since Store.base; a zero or past expiry means "absent".
type entry struct {
	digest  []byte // points into inline when it fits
	sealed  []byte
	scope   []byte    // IssueRequest.Scope of the pending code
	markers *[]marker // TOTP markers; nil for most entries
	taken   []byte    // Tag of the code a Fallback took; see fallback.go

	codeExp  int64
	coolExp  int64
	winExp   int64
	failExp  int64
	attempts int32
	winCount int32
	failures int32
	state    uint8

	inline [inlineDigest]byte
}

type marker struct {
	m   string
	exp int64
}

// deadline is the time after which nothing in e is alive.
func (e *entry) deadline() int64 {
	d := max(e.coolExp, e.winExp, e.failExp)
	if e.state != noCode {
		d = max(d, e.codeExp)
	}
	if e.markers != nil {
		for _, m := range *e.markers {
			d = max(d, m.exp)
		}
	}
	return d
}

// code returns the state of e's code at now, forgetting an expired one.
func (e *entry) code(now int64) uint8 {
	if e.state != noCode && e.codeExp <= now {
		e.dropCode()
	}
	return e.state
}

func (e *entry) dropCode() {
	e.state = noCode
	e.attempts = 0
	e.sealed = nil
	e.scope = nil
	clear(e.inline[:])
	e.digest = nil
}

// failCount returns the live failure counter.
func (e *entry) failCount(now int64) int64 {
	if e.failExp <= now {
		return 0
	}
	return int64(e.failures)
}

// fail increments the failure counter, which lives window from its latest
// increment: no stretch of window then holds more failures than the cap.
func (e *entry) fail(now int64, window time.Duration) int64 {
	if e.failExp <= now {
		e.failures = 0
	}
	e.failExp = now + int64(window)
	inc(&e.failures)
	return int64(e.failures)
}

func (e *entry) resetFailures() { e.failures, e.failExp = 0, 0 }

// inc increments a counter, saturating instead of wrapping around.
func inc(n *int32) {
	if *n < math.MaxInt32 {
		*n++
	}
}

func wrap(err error) error { return fmt.Errorf("memstore: %w", err) }

// errZero is returned by the methods of a Store that New did not make.
var errZero = errors.New("memstore: zero Store: create one with memstore.New")

// Issue implements store.Store.
func (s *Store) Issue(ctx context.Context, req store.IssueRequest) (store.IssueResult, error) {
	if s == nil || s.keys == nil {
		return store.IssueResult{}, errZero
	}
	if err := req.Validate(); err != nil {
		return store.IssueResult{}, wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return store.IssueResult{}, wrap(err)
	}
	sh := &s.keys[s.shard(req.Key)]
	sh.mu.Lock()
	// Lock order: the key's shard, then limit shards in ascending order.
	var buf [8]uint8
	lim := s.lockLimits(req.Limits, buf[:0])
	res := s.issueLocked(sh, req)
	for _, i := range lim {
		s.limits[i].mu.Unlock()
	}
	sh.mu.Unlock()
	return res, nil
}

// lockLimits locks the distinct limit shards of ls in ascending order and
// returns their indexes.
func (s *Store) lockLimits(ls []store.Limit, idx []uint8) []uint8 {
	for _, l := range ls {
		// shard is already below shardCount, which fits in a uint8 (asserted
		// at compile time above); the mask makes that visible here.
		i := uint8(s.shard(l.Key) & (shardCount - 1))
		if !slices.Contains(idx, i) {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	for _, i := range idx {
		s.limits[i].mu.Lock()
	}
	return idx
}

func (s *Store) issueLocked(sh *keyShard, req store.IssueRequest) store.IssueResult {
	now := s.now()
	e := sh.m[req.Key]
	if e != nil && e.deadline() <= now {
		*e = entry{} // dead: reuse the allocation
	}
	if e != nil && e.code(now) == pending && subtle.ConstantTimeCompare(e.digest, req.Digest) == 1 {
		// A retry of an Issue that already saved this code: idempotent.
		return store.IssueResult{Outcome: store.Issued, Attempts: int(e.attempts), ExpiresIn: time.Duration(e.codeExp - now)}
	}

	// Limits, in the contract's order; nothing changes until all pass.
	if e != nil {
		if req.FailureMax > 0 && e.failCount(now) >= int64(req.FailureMax) {
			return limited(store.LimitFailures, 0, e.failExp-now)
		}
		if e.coolExp > now {
			return limited(store.LimitCooldown, 0, e.coolExp-now)
		}
		if req.WindowMax > 0 && e.winExp > now && int64(e.winCount) >= int64(req.WindowMax) {
			return limited(store.LimitWindow, 0, e.winExp-now)
		}
	}
	for i, l := range req.Limits {
		var n, exp int64
		if c := s.limits[s.shard(l.Key)].m[l.Key]; c != nil && c.exp > now {
			n, exp = c.n, c.exp
		}
		if n >= int64(l.Max) {
			return limited(store.LimitExtra, i, exp-now)
		}
	}

	// Charge every limit.
	for _, l := range req.Limits {
		ls := &s.limits[s.shard(l.Key)]
		c := ls.m[l.Key]
		if c == nil {
			c = &counter{}
			ls.m[strings.Clone(l.Key)] = c
			ls.high = max(ls.high, len(ls.m))
		}
		if c.exp <= now {
			c.n, c.exp = 0, now+int64(l.Window)
		}
		c.n++
	}
	if e == nil {
		e = &entry{}
		sh.m[strings.Clone(req.Key)] = e
		sh.high = max(sh.high, len(sh.m))
	}
	if req.Cooldown > 0 {
		e.coolExp = now + int64(req.Cooldown)
	}
	if req.WindowMax > 0 {
		if e.winExp <= now {
			e.winCount, e.winExp = 0, now+int64(req.Window)
		}
		inc(&e.winCount)
	}

	switch e.code(now) {
	case pending:
		if req.KeepPending && sameScope(e.scope, req.Scope) {
			return store.IssueResult{
				Outcome:   store.Reused,
				Attempts:  int(e.attempts),
				ExpiresIn: time.Duration(e.codeExp - now),
				Sealed:    slices.Clone(e.sealed), // the caller may modify it
			}
		}
	case noCode:
		e.attempts = 0
	}
	// New code; a pending or withdrawn code's attempts carry over.
	e.state = pending
	e.codeExp = now + int64(req.TTL)
	if len(req.Digest) <= inlineDigest {
		e.digest = e.inline[:len(req.Digest)]
		copy(e.digest, req.Digest)
	} else {
		e.digest = slices.Clone(req.Digest)
	}
	// A fresh slice, never reused in place: a Reused result returned a copy,
	// but keep the stored value immutable anyway.
	e.sealed = slices.Clone(req.Sealed)
	e.scope = slices.Clone(req.Scope)
	return store.IssueResult{
		Outcome:   store.Issued,
		Attempts:  int(e.attempts),
		ExpiresIn: req.TTL,
	}
}

// sameScope reports whether two scopes are equal (nil and empty are).
func sameScope(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

func limited(why store.LimitReason, idx int, retry int64) store.IssueResult {
	return store.IssueResult{
		Outcome:    store.Limited,
		Reason:     why,
		LimitIndex: idx,
		RetryAfter: time.Duration(retry),
	}
}

// Check implements store.Store. It does not allocate.
func (s *Store) Check(ctx context.Context, req store.CheckRequest) (store.CheckResult, error) {
	if s == nil || s.keys == nil {
		return store.CheckResult{}, errZero
	}
	if err := req.Validate(); err != nil {
		return store.CheckResult{}, wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return store.CheckResult{}, wrap(err)
	}
	sh := &s.keys[s.shard(req.Key)]
	sh.mu.Lock()
	res := s.checkLocked(sh, req)
	sh.mu.Unlock()
	return res, nil
}

func (s *Store) checkLocked(sh *keyShard, req store.CheckRequest) store.CheckResult {
	e := sh.m[req.Key]
	if e == nil {
		return store.CheckResult{Status: store.Expired}
	}
	now := s.now()
	if req.FailureMax > 0 && e.failCount(now) >= int64(req.FailureMax) {
		// The pending code goes; a withdrawn one is not pending, and its
		// attempts stay until its expiry.
		if e.code(now) == pending {
			e.dropCode()
		}
		return store.CheckResult{Status: store.Locked}
	}
	if e.code(now) != pending || !sameScope(e.scope, req.Scope) {
		return store.CheckResult{Status: store.Expired}
	}
	if subtle.ConstantTimeCompare(e.digest, req.Digest) == 1 {
		e.dropCode()
		e.resetFailures()
		return store.CheckResult{Status: store.Approved}
	}
	inc(&e.attempts)
	if req.FailureMax > 0 {
		e.fail(now, req.FailureWindow)
	}
	remaining := int64(req.MaxAttempts) - int64(e.attempts)
	if req.FailureMax > 0 {
		remaining = min(remaining, int64(req.FailureMax)-e.failCount(now))
	}
	if remaining <= 0 {
		e.dropCode()
		return store.CheckResult{Status: store.Locked}
	}
	return store.CheckResult{Status: store.Rejected, Remaining: int(remaining)}
}

// Withdraw implements store.Store.
func (s *Store) Withdraw(ctx context.Context, key string, digest []byte) error {
	if s == nil || s.keys == nil {
		return errZero
	}
	switch {
	case key == "":
		return fmt.Errorf("memstore: %w: empty key", store.ErrInvalidRequest)
	case len(digest) == 0:
		return fmt.Errorf("memstore: %w: empty digest", store.ErrInvalidRequest)
	}
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	sh := &s.keys[s.shard(key)]
	sh.mu.Lock()
	if e := sh.m[key]; e != nil && e.code(s.now()) == pending &&
		subtle.ConstantTimeCompare(e.digest, digest) == 1 {
		e.state = withdrawn
		e.sealed = nil
	}
	sh.mu.Unlock()
	return nil
}

// Attempt implements store.Store.
func (s *Store) Attempt(ctx context.Context, req store.AttemptRequest) (store.AttemptResult, error) {
	if s == nil || s.keys == nil {
		return store.AttemptResult{}, errZero
	}
	if err := req.Validate(); err != nil {
		return store.AttemptResult{}, wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return store.AttemptResult{}, wrap(err)
	}
	sh := &s.keys[s.shard(req.Key)]
	sh.mu.Lock()
	res := s.attemptLocked(sh, req)
	sh.mu.Unlock()
	return res, nil
}

func (s *Store) attemptLocked(sh *keyShard, req store.AttemptRequest) store.AttemptResult {
	now := s.now()
	e := sh.m[req.Key]
	if e != nil && e.deadline() <= now {
		*e = entry{}
	}
	if e == nil {
		e = &entry{}
		sh.m[strings.Clone(req.Key)] = e
		sh.high = max(sh.high, len(sh.m))
	}
	limit := int64(req.MaxFailures)
	if e.failCount(now) >= limit {
		return store.AttemptResult{Status: store.Locked, RetryAfter: time.Duration(e.failExp - now)}
	}
	if e.markers != nil {
		*e.markers = slices.DeleteFunc(*e.markers, func(m marker) bool { return m.exp <= now })
	} else if req.Marker != "" {
		e.markers = new([]marker)
	}
	status := store.Rejected
	if req.Marker != "" {
		if !slices.ContainsFunc(*e.markers, func(m marker) bool { return m.m == req.Marker }) {
			*e.markers = append(*e.markers, marker{m: strings.Clone(req.Marker), exp: now + int64(req.MarkerTTL)})
			e.resetFailures()
			return store.AttemptResult{Status: store.Approved}
		}
		status = store.Replayed
	}
	if n := e.fail(now, req.FailureWindow); n < limit {
		return store.AttemptResult{Status: status, Remaining: int(limit - n)}
	}
	return store.AttemptResult{Status: store.Locked, RetryAfter: time.Duration(e.failExp - now)}
}
