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

// Option configures a Store in New. Every value is valid, so New cannot
// fail.
type Option func(*options)

type options struct {
	clock func() time.Time
	sweep time.Duration
}

// WithClock makes the Store read the current time from now instead of the
// system clock, so tests can move time forward without sleeping. now must be
// safe for concurrent use and never go backwards. The default value (also
// used for a nil now) is the system's monotonic clock, as time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.clock = now }
}

// WithSweepInterval sets how often the background sweeper removes expired
// entries. A value <= 0 disables the sweeper (expired state is still
// ignored; call Sweep to reclaim its memory). The default value is
// DefaultSweepInterval (one minute).
func WithSweepInterval(d time.Duration) Option {
	return func(o *options) { o.sweep = d }
}

// New returns an empty Store configured by opts. Unless disabled with
// WithSweepInterval, it starts a background sweeper; stop it with Close.
func New(opts ...Option) *Store {
	c := options{sweep: DefaultSweepInterval}
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
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
	// The sweeper runs on a copy that shares s's state, not on s, so a Store
	// dropped without Close is collected and its cleanup stops the sweeper
	// (TestUnreachableStoreStopsSweeper).
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
}

type limitShard struct {
	mu   sync.Mutex
	m    map[string]*counter
	high int
}

type counter struct {
	n   int64
	exp int64
}

// Code states.
const (
	noCode    = iota
	pending   // can be checked
	withdrawn // unusable, but its attempts carry over until exp
)

// code is the pending (or withdrawn) code of one Scope.
type code struct {
	digest   []byte
	sealed   []byte
	taken    []byte // Tag of the code a Fallback took, then its Step; see fallback.go
	exp      int64
	attempts int32
	state    uint8
}

// client is what one client key has done to one key.
type client struct {
	coolExp  int64
	winExp   int64
	unappr   int64 // sendExp of the key-wide window of its latest send, until an approval
	epoch    int64 // the key-wide failure run its failures belong to
	winCount int32
	failures int32
}

// entry is everything the Store keeps for one key. Times are nanoseconds
// since Store.base; a zero or past expiry means "absent".
type entry struct {
	codes   map[string]*code   // by Scope
	clients map[string]*client // by client key
	markers *[]marker          // TOTP markers; nil for most entries

	failExp  int64 // the key-wide failure counter
	epoch    int64 // when its run started, plus one; stale once failExp passes
	sendExp  int64 // the key-wide send window
	failures int32
	sends    int32
}

type marker struct {
	m   string
	exp int64
}

// deadline is the time after which nothing in e is alive.
func (e *entry) deadline() int64 {
	d := max(e.failExp, e.sendExp)
	for _, c := range e.codes {
		if c.state != noCode {
			d = max(d, c.exp)
		}
	}
	for _, c := range e.clients {
		d = max(d, c.coolExp, c.winExp, c.unappr)
	}
	if e.markers != nil {
		for _, m := range *e.markers {
			d = max(d, m.exp)
		}
	}
	return d
}

// code returns the code of scope at now, forgetting an expired one; nil
// when there is none.
func (e *entry) code(scope []byte, now int64) *code {
	c := e.codes[string(scope)]
	if c != nil && c.state != noCode && c.exp <= now {
		c.clear()
	}
	if c == nil || c.state == noCode {
		return nil
	}
	return c
}

// clear forgets c's code but keeps the allocation for the scope's next one.
func (c *code) clear() {
	c.state, c.attempts, c.sealed = noCode, 0, nil
	c.digest = c.digest[:0]
}

// client returns the live state of client key k, creating it when create.
func (e *entry) client(k string, now int64, create bool) *client {
	c := e.clients[k]
	if c != nil && max(c.coolExp, c.winExp, c.unappr) <= now && e.clientFails(c, now) == 0 {
		*c = client{}
	}
	if c == nil && create {
		if e.clients == nil {
			e.clients = make(map[string]*client)
		}
		c = &client{}
		e.clients[strings.Clone(k)] = c
	}
	return c
}

// failCount returns the live key-wide failure counter.
func (e *entry) failCount(now int64) int64 {
	if e.failExp <= now {
		return 0
	}
	return int64(e.failures)
}

// clientFails returns c's failures in the key's live failure run: a
// client's failures count as long as the key-wide counter does, so a
// client is new to a run at most once.
func (e *entry) clientFails(c *client, now int64) int64 {
	if c == nil || e.failExp <= now || c.epoch != e.epoch {
		return 0
	}
	return int64(c.failures)
}

// fail increments a failure counter, which lives window from its latest
// increment: no stretch of window then holds more failures than the cap.
func fail(n *int32, exp *int64, now int64, window time.Duration) int64 {
	if *exp <= now {
		*n = 0
	}
	*exp = now + int64(window)
	inc(n)
	return int64(*n)
}

// failClient counts one failure of c: the key-wide counter (starting a new
// run when it has lapsed) and c's count in the run. It returns both.
func (e *entry) failClient(c *client, now int64, window time.Duration) (int64, int64) {
	if e.failExp <= now {
		e.epoch = now + 1
	}
	cf := e.clientFails(c, now)
	f := fail(&e.failures, &e.failExp, now, window)
	c.epoch, c.failures = e.epoch, int32(min(cf+1, math.MaxInt32)) //nolint:gosec // at most MaxInt32 by the min
	return f, int64(c.failures)
}

// refused reports whether the failure caps refuse client c of e (see
// store.Store.Check): its own counter at the cap, the key's counter at the
// cap and c has failed too, or the key's counter at the ceiling.
func (e *entry) refused(c *client, now int64, capN, ceiling int) (bool, int64) {
	if capN <= 0 {
		return false, 0
	}
	f, cf := e.failCount(now), e.clientFails(c, now)
	switch {
	case cf >= int64(capN), f >= int64(capN) && cf > 0, ceiling > 0 && f >= int64(ceiling):
		return true, e.failExp - now
	}
	return false, 0
}

// windowRefuses reports whether the window budget refuses client c (nil:
// it never sent), and for how long: c's own window holds max sends, or the
// key's send ceiling refuses it.
func (e *entry) windowRefuses(c *client, now int64, max int) (bool, int64) {
	if c != nil && max > 0 && c.winExp > now && int64(c.winCount) >= int64(max) {
		return true, c.winExp - now
	}
	return e.ceiling(c, now, max)
}

// ceiling reports whether the key-wide send count refuses client c (see
// store.IssueRequest.SendsPerWindow): the key's window holds max sends, and c
// has sent in it without an approval since.
func (e *entry) ceiling(c *client, now int64, max int) (bool, int64) {
	if max <= 0 || e.sendExp <= now || int64(e.sends) < int64(max) {
		return false, 0
	}
	if c == nil || c.unappr != e.sendExp {
		return false, 0
	}
	return true, e.sendExp - now
}

// send charges one send from client c (created) to the key: c's cooldown
// and window, and the key-wide window, in which c's send is unapproved
// until c has a code approved.
func (e *entry) send(c *client, now int64, cooldown, window time.Duration, max int) {
	if cooldown > 0 {
		c.coolExp = now + int64(cooldown)
	}
	if max > 0 {
		if c.winExp <= now {
			c.winCount, c.winExp = 0, now+int64(window)
		}
		inc(&c.winCount)
		if e.sendExp <= now {
			e.sends, e.sendExp = 0, now+int64(window)
		}
		inc(&e.sends)
		c.unappr = e.sendExp
	}
}

// inc increments a counter, saturating instead of wrapping around.
func inc(n *int32) {
	if *n < math.MaxInt32 {
		*n++
	}
}

func wrap(err error) error { return fmt.Errorf("memstore: %w", err) }

// errZero is returned by the methods of a Store that New did not make.
var errZero = errors.New("memstore: zero Store: create one with memstore.New")

// begin starts every operation: a Store that New did not make, an invalid
// request (invalid is what its validation returned) and a done context
// are errors.
func (s *Store) begin(ctx context.Context, invalid error) error {
	switch {
	case s == nil || s.keys == nil:
		return errZero
	case invalid != nil:
		return wrap(invalid)
	}
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	return nil
}

// lockSend locks key's shard, then the distinct shards of limits in
// ascending order: the one lock order, so Issue and Fallback never
// deadlock. buf is scratch space for the limit shards' indexes. Unlock
// with unlockSend.
func (s *Store) lockSend(key string, limits []store.Limit, buf []uint8) (*keyShard, []uint8) {
	sh := &s.keys[s.shard(key)]
	sh.mu.Lock()
	return sh, s.lockLimits(limits, buf)
}

// fullLimit returns the index of the first of limits with no send left at
// now, and the time until its window ends; -1 when each has one left. The
// caller holds the limits' shards (lockSend).
func (s *Store) fullLimit(limits []store.Limit, now int64) (int, int64) {
	for i, l := range limits {
		if c := s.limits[s.shard(l.Key)].m[l.Key]; c != nil && c.exp > now && c.n >= int64(l.Max) {
			return i, c.exp - now
		}
	}
	return -1, 0
}

// chargeLimits counts one send against each of limits, starting a window
// where the last one has ended. The caller holds the limits' shards.
func (s *Store) chargeLimits(limits []store.Limit, now int64) {
	for _, l := range limits {
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
}

// unlockSend releases what lockSend locked.
func (s *Store) unlockSend(sh *keyShard, limitShards []uint8) {
	for _, i := range limitShards {
		s.limits[i].mu.Unlock()
	}
	sh.mu.Unlock()
}

// Issue implements store.Store.
func (s *Store) Issue(ctx context.Context, req store.IssueRequest) (store.IssueResult, error) {
	if err := s.begin(ctx, req.Validate()); err != nil {
		return store.IssueResult{}, err
	}
	var buf [8]uint8
	sh, lim := s.lockSend(req.Key, req.Limits, buf[:0])
	defer s.unlockSend(sh, lim)
	return s.issueLocked(sh, req), nil
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
	if e != nil {
		if c := e.code(req.Scope, now); c != nil && c.state == pending && subtle.ConstantTimeCompare(c.digest, req.Digest) == 1 {
			// A retry of an Issue that already saved this code: idempotent.
			return store.IssueResult{Outcome: store.Issued, Attempts: int(c.attempts), ExpiresIn: time.Duration(c.exp - now)}
		}
	}

	// Limits, in the contract's order; nothing changes until all pass.
	if e != nil {
		cl := e.client(req.Client, now, false)
		if no, retry := e.refused(cl, now, req.MaxFailures, req.FailureCeiling); no {
			return limited(store.LimitFailures, 0, retry)
		}
		if cl != nil && cl.coolExp > now {
			return limited(store.LimitCooldown, 0, cl.coolExp-now)
		}
		if no, retry := e.windowRefuses(cl, now, req.SendsPerWindow); no {
			return limited(store.LimitWindow, 0, retry)
		}
	}
	if i, retry := s.fullLimit(req.Limits, now); i >= 0 {
		return limited(store.LimitExtra, i, retry)
	}
	s.chargeLimits(req.Limits, now)
	if e == nil {
		e = &entry{}
		sh.m[strings.Clone(req.Key)] = e
		sh.high = max(sh.high, len(sh.m))
	}
	if req.Cooldown > 0 || req.SendsPerWindow > 0 {
		e.send(e.client(req.Client, now, true), now, req.Cooldown, req.SendWindow, req.SendsPerWindow)
	}

	c := e.code(req.Scope, now)
	if c != nil && c.state == pending && req.KeepPending {
		return store.IssueResult{
			Outcome:   store.Reused,
			Attempts:  int(c.attempts),
			ExpiresIn: time.Duration(c.exp - now),
			Sealed:    slices.Clone(c.sealed), // the caller may modify it
		}
	}
	if c == nil {
		if c = e.codes[string(req.Scope)]; c == nil {
			if e.codes == nil {
				e.codes = make(map[string]*code)
			}
			c = &code{}
			e.codes[string(req.Scope)] = c
		}
	}
	// New code; a pending or withdrawn code's attempts carry over.
	c.state = pending
	c.exp = now + int64(req.TTL)
	c.digest = append(c.digest[:0], req.Digest...)
	c.sealed = slices.Clone(req.Sealed)
	return store.IssueResult{
		Outcome:   store.Issued,
		Attempts:  int(c.attempts),
		ExpiresIn: req.TTL,
	}
}

func limited(why store.LimitReason, idx int, retry int64) store.IssueResult {
	return store.IssueResult{
		Outcome:    store.Limited,
		Reason:     why,
		LimitIndex: idx,
		RetryAfter: time.Duration(retry),
	}
}

// Check implements store.Store.
func (s *Store) Check(ctx context.Context, req store.CheckRequest) (store.CheckResult, error) {
	if err := s.begin(ctx, req.Validate()); err != nil {
		return store.CheckResult{}, err
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
	c := e.code(req.Scope, now)
	cl := e.client(req.Client, now, false)
	if no, _ := e.refused(cl, now, req.MaxFailures, req.FailureCeiling); no {
		// The scope's pending code goes; a withdrawn one is not pending,
		// and its attempts stay until its expiry.
		if c != nil && c.state == pending {
			c.clear()
		}
		return store.CheckResult{Status: store.Locked}
	}
	if c == nil || c.state != pending {
		return store.CheckResult{Status: store.Expired}
	}
	if subtle.ConstantTimeCompare(c.digest, req.Digest) == 1 {
		c.clear()
		// The client's own failures in the run are forgiven; other
		// clients' stay counted.
		if cf := e.clientFails(cl, now); cf > 0 {
			e.failures -= int32(cf) //nolint:gosec // cf is c.failures, an int32
			cl.failures = 0
		}
		if cl != nil {
			cl.unappr = 0
		}
		return store.CheckResult{Status: store.Approved}
	}
	inc(&c.attempts)
	remaining := int64(req.MaxAttempts) - int64(c.attempts)
	if req.MaxFailures > 0 {
		cl = e.client(req.Client, now, true)
		f, cf := e.failClient(cl, now, req.FailureWindow)
		switch {
		case req.FailureCeiling > 0 && f >= int64(req.FailureCeiling):
			remaining = 0
		case f >= int64(req.MaxFailures):
			// The key's cap is spent: only clients that have not failed
			// are compared, so this client is done.
			remaining = 0
		default:
			remaining = min(remaining, int64(req.MaxFailures)-cf, int64(req.MaxFailures)-f)
		}
	}
	if remaining <= 0 {
		c.clear()
		return store.CheckResult{Status: store.Locked}
	}
	return store.CheckResult{Status: store.Rejected, Remaining: int(remaining)}
}

// Withdraw implements store.Store.
func (s *Store) Withdraw(ctx context.Context, key string, scope, digest []byte) error {
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
	if e := sh.m[key]; e != nil {
		if c := e.code(scope, s.now()); c != nil && c.state == pending && subtle.ConstantTimeCompare(c.digest, digest) == 1 {
			c.state = withdrawn
			c.sealed = nil
		}
	}
	sh.mu.Unlock()
	return nil
}

// Attempt implements store.Store.
func (s *Store) Attempt(ctx context.Context, req store.AttemptRequest) (store.AttemptResult, error) {
	if err := s.begin(ctx, req.Validate()); err != nil {
		return store.AttemptResult{}, err
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
			e.failures, e.failExp = 0, 0
			return store.AttemptResult{Status: store.Approved}
		}
		status = store.Replayed
	}
	// A failure here counts for the empty client key, as a Check's without
	// a Client would.
	if n, _ := e.failClient(e.client("", now, true), now, req.FailureWindow); n < limit {
		return store.AttemptResult{Status: status, Remaining: int(limit - n)}
	}
	return store.AttemptResult{Status: store.Locked, RetryAfter: time.Duration(e.failExp - now)}
}
