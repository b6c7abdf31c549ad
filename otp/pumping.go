package otp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go2fa/go2fa/store"
	"github.com/nyaruka/phonenumbers"
)

// PumpingPolicy configures the SMS-pumping guard, which compares each
// destination prefix's recent conversion (approved codes per code sent) with
// its own baseline and throttles a prefix whose conversion has collapsed.
// Every field's zero value takes the default named in its comment, so the
// guard is on in DefaultPolicy; set Disabled to turn it off.
//
// A prefix is the country calling code and the first Depth digits of the
// national number ("+44 7700"). The counts live in the Store when it
// implements store.Counters (memstore and redisstore do), so every
// instance sees the same figures; with any other Store each process counts
// on its own.
//
// The decision, taken for every send that passed the other limits:
//
//   - a prefix throttled less than Hold ago stays throttled;
//   - the recent rate is approvals per send over Window, the sends lagged
//     by one minute so that codes just sent are not yet counted as
//     unconverted; the baseline is the prefix's conversion over the last 24
//     hours, smoothed towards Prior as if 20 sends had converted at Prior;
//   - with at least MinSends recent sends, a rate below Drop × baseline
//     throttles the prefix for Hold;
//   - a prefix throttled in the last 24 hours is on probation: MinSends/4
//     (at least 3) recent sends suffice, and its 24-hour conversion below
//     Drop × Prior throttles it again at once;
//   - with at least DaySends sends in 24 hours, a 24-hour conversion below
//     Drop × Prior throttles it too (a slow attack under MinSends per
//     Window).
//
// A throttled send returns a *ThrottleError (errors.Is ErrThrottled and
// ErrRateLimited) and is withdrawn like a vetoed one.
type PumpingPolicy struct {
	// Disabled turns the guard off.
	Disabled bool
	// Depth is the number of national digits in a prefix, 1–6. The
	// default value is 4.
	Depth int
	// Window is the span of the recent rate, a whole number of 30-second
	// buckets, 2–60 minutes. The default value is 10 minutes.
	Window time.Duration
	// MinSends is the number of recent sends a prefix needs before its
	// rate is judged, 4–100000. The default value is 20.
	MinSends int
	// DaySends is the number of sends in 24 hours a prefix needs before
	// its 24-hour conversion is judged against Prior, 4–1000000. The
	// default value is 60.
	DaySends int
	// Drop is the fraction of the baseline below which the rate throttles
	// the prefix, in (0, 1). The default value is 0.5.
	Drop float64
	// Prior is the conversion assumed of a prefix with little history, in
	// (0, 1]. The default value is 0.5.
	Prior float64
	// Hold is how long a throttle lasts before the prefix is judged again
	// (counted from the start of the 5-minute bucket of the throttle, so
	// up to 5 minutes longer), a multiple of 5 minutes, 5 minutes to 12
	// hours. The default value is 1 hour.
	Hold time.Duration
	// FailOpen lets sends through when the Store fails inside the guard
	// (an EventStoreError is still observed). The default value, false,
	// refuses them with ErrStoreUnavailable.
	FailOpen bool
	// RequireProof lets a throttled prefix receive codes when the caller
	// passes WithProof (after a CAPTCHA, say); the ThrottleError then has
	// ProofAccepted set. The default value, false, refuses every send to a
	// throttled prefix.
	RequireProof bool
	// KnownFor is how long a client key that had a code approved for a
	// number stays known for that number: while its prefix is throttled, a
	// Start for that number with that client key (otp.WithLimitKey on
	// Start and on the approving Check) is let through, so that an attack
	// that trips the prefix does not keep the number's owner out. A whole
	// number of days, 1 to 365; the default value is 30 days. A client key
	// is known only for the number it approved a code for.
	KnownFor time.Duration
	// NoKnownClients refuses known client keys too while their prefix is
	// throttled. The default value, false, lets them through.
	NoKnownClients bool
}

const (
	pumpBucket      = 30 * time.Second
	pumpHoldBucket  = 5 * time.Minute
	pumpGrace       = 2 // buckets: codes younger than this are not judged yet
	pumpDayBucket   = time.Hour
	pumpDayBuckets  = 24
	pumpPriorWeight = 20
	knownBucket     = 24 * time.Hour
)

// Counter fields of a prefix.
const (
	fAttempts  = iota // sends that reached the guard
	fUnsent           // of those, not sent (throttled, vetoed, send failed)
	fApprovals        // approved checks
	fTrips            // throttles started
	pumpFields
)

func (p PumpingPolicy) withDefaults() PumpingPolicy {
	if p.Depth == 0 {
		p.Depth = 4
	}
	if p.Window == 0 {
		p.Window = 10 * time.Minute
	}
	if p.MinSends == 0 {
		p.MinSends = 20
	}
	if p.DaySends == 0 {
		p.DaySends = 60
	}
	if p.Drop == 0 {
		p.Drop = 0.5
	}
	if p.Prior == 0 {
		p.Prior = 0.5
	}
	if p.Hold == 0 {
		p.Hold = time.Hour
	}
	if p.KnownFor == 0 {
		p.KnownFor = 30 * knownBucket
	}
	return p
}

func (p PumpingPolicy) validate() error {
	if p.Disabled {
		return nil
	}
	switch {
	case p.Depth < 1 || p.Depth > 6:
		return fmt.Errorf("Pumping.Depth %d not in 1–6", p.Depth)
	case p.Window < 2*time.Minute || p.Window > time.Hour || p.Window%pumpBucket != 0:
		return fmt.Errorf("Pumping.Window %s not a multiple of 30s in 2m–1h", p.Window)
	case p.MinSends < 4 || p.MinSends > 100000:
		return fmt.Errorf("Pumping.MinSends %d not in 4–100000", p.MinSends)
	case p.DaySends < 4 || p.DaySends > 1000000:
		return fmt.Errorf("Pumping.DaySends %d not in 4–1000000", p.DaySends)
	case !(p.Drop > 0 && p.Drop < 1):
		return fmt.Errorf("Pumping.Drop %v not in (0, 1)", p.Drop)
	case !(p.Prior > 0 && p.Prior <= 1):
		return fmt.Errorf("Pumping.Prior %v not in (0, 1]", p.Prior)
	case p.Hold < pumpHoldBucket || p.Hold > 12*time.Hour || p.Hold%pumpHoldBucket != 0:
		return fmt.Errorf("Pumping.Hold %s not a multiple of 5m in 5m–12h", p.Hold)
	case p.KnownFor < knownBucket || p.KnownFor > 365*knownBucket || p.KnownFor%knownBucket != 0:
		return fmt.Errorf("Pumping.KnownFor %s not a whole number of days in 1–365", p.KnownFor)
	}
	return nil
}

// ErrThrottled reports a send refused by the pumping guard; the error is a
// *ThrottleError.
var ErrThrottled = errors.New("otp: destination prefix throttled")

// LimitPumping is the LimitReason of the *RateLimitError a *ThrottleError
// unwraps to.
const LimitPumping LimitReason = "pumping"

// Events of the pumping guard. Event.Pumping holds the figures.
const (
	// EventPumpingTripped: a prefix's conversion collapsed; it is
	// throttled for PumpingPolicy.Hold.
	EventPumpingTripped EventKind = "pumping_tripped"
	// EventPumpingThrottled: a send to a throttled prefix was refused (or
	// let through: with WithProof, or from a known client key, see
	// PumpingPolicy.KnownFor).
	EventPumpingThrottled EventKind = "pumping_throttled"
	// EventPumpingRecovered: a prefix this process saw throttled was
	// judged healthy again.
	EventPumpingRecovered EventKind = "pumping_recovered"
)

// Reasons a prefix is throttled (PrefixState.Reason).
const (
	PumpingConversion = "conversion" // recent rate below Drop × baseline
	PumpingProbation  = "probation"  // the same, with the lower volume of a prefix throttled in the last 24 hours
	PumpingSlow       = "slow"       // 24-hour conversion below Drop × Prior
)

// PrefixState is the pumping guard's view of one destination prefix at its
// last judgement by this process.
type PrefixState struct {
	// Prefix is the country calling code and the leading national digits,
	// "+44 7700". It never holds a whole number: at least the last three
	// digits are left out.
	Prefix string `json:"prefix"`
	// Sends and Approvals are the recent figures (PumpingPolicy.Window,
	// sends lagged by one minute); Rate is Approvals/Sends (1 with no
	// sends).
	Sends     int64   `json:"sends"`
	Approvals int64   `json:"approvals"`
	Rate      float64 `json:"rate"`
	// DaySends and DayApprovals cover the last 24 hours; Baseline is their
	// ratio smoothed towards PumpingPolicy.Prior.
	DaySends     int64   `json:"day_sends"`
	DayApprovals int64   `json:"day_approvals"`
	Baseline     float64 `json:"baseline"`
	// Threshold is the rate below which the prefix is throttled:
	// PumpingPolicy.Drop × Baseline.
	Threshold float64 `json:"threshold"`
	// Throttled is true until Until; Reason says why (PumpingConversion,
	// PumpingProbation or PumpingSlow).
	Throttled bool      `json:"throttled"`
	Until     time.Time `json:"until,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	// Refused counts the sends this process refused since the throttle.
	Refused int64     `json:"refused"`
	Judged  time.Time `json:"judged"`
}

// ThrottleError is returned by Start when the pumping guard refuses a send.
// errors.Is(err, ErrThrottled) and errors.Is(err, ErrRateLimited) are true
// for it, and errors.As finds a *RateLimitError (Reason LimitPumping) in it.
type ThrottleError struct {
	// State explains the decision: prefix, rate, baseline.
	State PrefixState
	// RetryAfter is how long until the prefix is judged again.
	RetryAfter time.Duration
	// ProofAccepted is true when a retry with WithProof would be let
	// through (PumpingPolicy.RequireProof).
	ProofAccepted bool
}

// Error implements error.
func (e *ThrottleError) Error() string {
	s := e.State
	return fmt.Sprintf("otp: destination prefix %s throttled (%s: conversion %.2f over %d recent sends, %.2f over %d in 24h, baseline %.2f), retry after %s",
		s.Prefix, s.Reason, s.Rate, s.Sends, ratio(s.DayApprovals, s.DaySends), s.DaySends, s.Baseline, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) and errors.Is(err, ErrRateLimited)
// true.
func (e *ThrottleError) Is(target error) bool {
	return target == ErrThrottled || target == ErrRateLimited
}

// Unwrap returns the equivalent *RateLimitError, for callers that handle
// every refused send alike.
func (e *ThrottleError) Unwrap() error {
	return &RateLimitError{Reason: LimitPumping, RetryAfter: e.RetryAfter}
}

// WithProof tells Start that the caller has obtained an extra proof that a
// person is asking (a solved CAPTCHA), which lets a send through a
// throttled prefix when PumpingPolicy.RequireProof is set.
func WithProof() StartOption {
	return startOnly(func(o *callOptions) { o.proof = true })
}

// guard is the pumping guard of one Verifier. Safe for concurrent use.
type guard struct {
	p       PumpingPolicy
	c       store.Counters
	keys    macPool
	known   macPool // derives the key of a (number, client key) pair
	kseries []store.Series
	now     func() time.Time
	series  []store.Series
	window  int // buckets
	observe func(context.Context, Event)

	mu       sync.Mutex
	pending  map[string]int64 // approvals not yet written, per prefix
	pknown   map[string]bool  // known-client marks not yet written
	flushing bool
	flushMu  sync.Mutex // serialises flushes, so Flush returns after one in flight

	stateMu sync.Mutex
	state   map[string]*PrefixState
}

// maxStates bounds the prefixes remembered for PumpingState.
const maxStates = 4096

func newGuard(p PumpingPolicy, st store.Store, secret []byte, now func() time.Time, observe func(context.Context, Event)) *guard {
	if p.Disabled {
		return nil
	}
	c, ok := st.(store.Counters)
	if !ok {
		c = &localCounters{m: make(map[string]*localCount)}
	}
	w, h := int(p.Window/pumpBucket), int(p.Hold/pumpHoldBucket)
	return &guard{
		p:      p,
		c:      c,
		keys:   newMacPool(secret, "pumping-prefix"),
		known:  newMacPool(secret, "pumping-known"),
		now:    now,
		window: w,
		series: []store.Series{
			{Width: pumpBucket, Len: w + pumpGrace},
			{Width: pumpHoldBucket, Len: h + 1},
			{Width: pumpDayBucket, Len: pumpDayBuckets},
		},
		kseries: []store.Series{{Width: knownBucket, Len: int(p.KnownFor / knownBucket)}},
		observe: observe,
		pending: make(map[string]int64),
		pknown:  make(map[string]bool),
		state:   make(map[string]*PrefixState),
	}
}

// prefixOf returns the prefix label of an E.164 number: "+", the country
// calling code, a space and up to depth national digits, never the last
// three.
func prefixOf(e164 string, depth int) string {
	cc := ccLen(e164)
	if cc == 0 {
		return ""
	}
	// At least the last three digits stay out, so a prefix names a range
	// of a thousand numbers or more even in a country with short numbers.
	end := max(min(1+cc+depth, len(e164)-3), 1+cc)
	return e164[:1+cc] + " " + e164[1+cc:end]
}

// ccLen returns the number of digits of the country calling code of an
// E.164 number (country calling codes are prefix-free), or 0.
func ccLen(e164 string) int {
	if len(e164) < 2 || e164[1] == '0' {
		return 0
	}
	for n, cc := 1, 0; n <= 3 && n < len(e164); n++ {
		cc = cc*10 + int(e164[n]-'0')
		if r := phonenumbers.GetRegionCodeForCountryCode(cc); r != "" && r != "ZZ" {
			return n
		}
	}
	return 0
}

// key derives the opaque counter key of a prefix, so the Store holds no
// part of a number in clear.
func (g *guard) key(prefix string) string {
	var buf [sha256.Size]byte
	return "p" + base64.RawURLEncoding.EncodeToString(g.keys.sum(buf[:0], prefix)[:16])
}

// knownKey derives the opaque counter key of a client key's approvals for
// one number.
func (g *guard) knownKey(e164, client string) string {
	var buf [sha256.Size]byte
	return "k" + base64.RawURLEncoding.EncodeToString(g.known.sum(buf[:0], e164+"\x00"+client)[:16])
}

// isKnown reports whether client had a code for e164 approved within
// KnownFor.
func (g *guard) isKnown(ctx context.Context, e164, client string, now time.Time) (bool, error) {
	c, err := g.c.AddCounts(ctx, store.CountRequest{Key: g.knownKey(e164, client), Now: now, Add: []int64{0}, Series: g.kseries})
	if err != nil {
		return false, err
	}
	for _, b := range c.Values[0] {
		if b[0] > 0 {
			return true, nil
		}
	}
	return false, nil
}

func (g *guard) add(ctx context.Context, prefix string, now time.Time, f int, n int64) (store.Counts, error) {
	add := make([]int64, pumpFields)
	add[f] = n
	return g.c.AddCounts(ctx, store.CountRequest{Key: g.key(prefix), Now: now, Add: add, Series: g.series})
}

// ticket is a send counted by the guard; undo marks it unsent.
type ticket struct {
	g      *guard
	prefix string
}

// undo records that the counted send did not go out (vetoed, failed), so it
// does not weigh on the prefix's conversion. Best effort: a send left
// counted only makes the prefix look worse.
func (t ticket) undo(ctx context.Context) {
	if t.g == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), withdrawTimeout)
	defer cancel()
	t.g.add(ctx, t.prefix, t.g.now(), fUnsent, 1) //nolint:errcheck // see above
}

// admit counts a send to num from client (the store's opaque client key,
// empty without WithLimitKey) and decides whether it may go out.
func (g *guard) admit(ctx context.Context, num Number, client string, proof bool, ev Event) (ticket, error) {
	if g == nil {
		return ticket{}, nil
	}
	prefix := prefixOf(num.E164, g.p.Depth)
	if prefix == "" {
		return ticket{}, nil
	}
	now := g.now()
	counts, err := g.add(ctx, prefix, now, fAttempts, 1)
	if err != nil {
		err = fmt.Errorf("%w: pumping guard: %w", ErrStoreUnavailable, err)
		ev.Kind, ev.Err = EventStoreError, err
		g.observe(ctx, ev)
		if g.p.FailOpen {
			return ticket{}, nil
		}
		return ticket{}, err
	}
	t := ticket{g: g, prefix: prefix}
	s, trip := g.judge(prefix, counts, now)
	if !s.Throttled && !trip {
		if g.remember(s) {
			ev.Kind, ev.Pumping = EventPumpingRecovered, &s
			g.observe(ctx, ev)
		}
		return t, nil
	}
	if trip {
		s.Throttled, s.Until = true, now.Add(g.p.Hold)
		ev.Kind, ev.Pumping = EventPumpingTripped, &s
		g.observe(ctx, ev)
	}
	let := proof && g.p.RequireProof
	if !let && client != "" && !g.p.NoKnownClients {
		// The number's owner, recognised by a client key that had a code
		// for this number approved before, is not held to its prefix's
		// throttle: an attack on the prefix must not lock it out.
		known, err := g.isKnown(ctx, num.E164, client, now)
		if err != nil {
			e := ev
			e.Kind, e.Err = EventStoreError, fmt.Errorf("%w: pumping guard: %w", ErrStoreUnavailable, err)
			g.observe(ctx, e)
		}
		let = known
	}
	var add []int64
	switch {
	case trip && let:
		add = []int64{0, 0, 0, 1}
	case trip:
		add = []int64{0, 1, 0, 1} // the throttle, and this send unsent
	case !let:
		add = []int64{0, 1, 0, 0}
	}
	if add != nil {
		if _, err := g.c.AddCounts(ctx, store.CountRequest{Key: g.key(prefix), Now: now, Add: add, Series: g.series}); err != nil {
			// This process still refuses; other instances may not know
			// of the throttle until they judge the prefix themselves.
			e := ev
			e.Kind, e.Err = EventStoreError, fmt.Errorf("%w: pumping guard: %w", ErrStoreUnavailable, err)
			g.observe(ctx, e)
		}
	}
	if let {
		g.remember(s)
	} else {
		s.Refused = g.refused(s)
	}
	ev.Kind, ev.Pumping = EventPumpingThrottled, &s
	g.observe(ctx, ev)
	if let {
		return t, nil
	}
	return ticket{}, &ThrottleError{State: s, RetryAfter: s.Until.Sub(now), ProofAccepted: g.p.RequireProof}
}

// judge computes a prefix's figures from its counts and says whether it is
// held (s.Throttled) or must be throttled now (trip).
func (g *guard) judge(prefix string, c store.Counts, now time.Time) (s PrefixState, trip bool) {
	fine, held, day := c.Values[0], c.Values[1], c.Values[2]
	s = PrefixState{Prefix: prefix, Judged: now}
	b := g.series[1].Bucket(now)
	for age := range held {
		if held[age][fTrips] > 0 {
			start := time.UnixMilli((b - int64(age)) * pumpHoldBucket.Milliseconds())
			if until := start.Add(g.p.Hold + pumpHoldBucket); until.After(now) {
				s.Throttled, s.Until = true, until
			}
			break
		}
	}
	for age := pumpGrace; age < len(fine); age++ {
		s.Sends += fine[age][fAttempts] - fine[age][fUnsent]
	}
	for age := 0; age < g.window; age++ {
		s.Approvals += fine[age][fApprovals]
	}
	var dayTrips int64
	for _, v := range day {
		s.DaySends += v[fAttempts] - v[fUnsent]
		s.DayApprovals += v[fApprovals]
		dayTrips += v[fTrips]
	}
	s.Sends, s.DaySends = max(s.Sends, 0), max(s.DaySends, 0)
	s.Rate = ratio(s.Approvals, s.Sends)
	s.Baseline = min((float64(s.DayApprovals)+g.p.Prior*pumpPriorWeight)/(float64(s.DaySends)+pumpPriorWeight), 1)
	s.Threshold = g.p.Drop * s.Baseline
	if s.Throttled {
		s.Reason = g.lastReason(prefix)
		return s, false
	}
	minSends, reason := int64(g.p.MinSends), PumpingConversion
	if dayTrips > 0 {
		minSends, reason = int64(max(g.p.MinSends/4, 3)), PumpingProbation
		if s.DaySends >= minSends && ratio(s.DayApprovals, s.DaySends) < g.p.Drop*g.p.Prior {
			// Still no better than when it was throttled: the sends
			// that tripped it have not been outweighed by approvals.
			s.Reason = PumpingProbation
			return s, true
		}
	}
	switch {
	case s.Sends >= minSends && s.Rate < s.Threshold:
		s.Reason = reason
		return s, true
	case s.DaySends >= int64(g.p.DaySends) && ratio(s.DayApprovals, s.DaySends) < g.p.Drop*g.p.Prior:
		s.Reason = PumpingSlow
		return s, true
	}
	return s, false
}

func ratio(a, n int64) float64 {
	if n <= 0 {
		return 1
	}
	return min(float64(a)/float64(n), 1)
}

// remember records s for PumpingState and reports whether the prefix was
// throttled at its previous judgement by this process and is not now.
func (g *guard) remember(s PrefixState) (recovered bool) {
	g.stateMu.Lock()
	defer g.stateMu.Unlock()
	old := g.state[s.Prefix]
	if old == nil {
		if len(g.state) >= maxStates {
			g.evictLocked()
		}
		old = new(PrefixState)
		g.state[s.Prefix] = old
	}
	recovered = old.Throttled && !s.Throttled
	refused := old.Refused
	if !s.Throttled {
		refused = 0
	}
	if s.Throttled && s.Reason == "" {
		s.Reason = old.Reason
	}
	*old = s
	old.Refused = refused
	return recovered
}

// refused records s, counts one refused send and returns the count.
func (g *guard) refused(s PrefixState) int64 {
	g.remember(s)
	g.stateMu.Lock()
	defer g.stateMu.Unlock()
	st := g.state[s.Prefix]
	st.Refused++
	return st.Refused
}

func (g *guard) lastReason(prefix string) string {
	g.stateMu.Lock()
	defer g.stateMu.Unlock()
	if st := g.state[prefix]; st != nil && st.Reason != "" {
		return st.Reason
	}
	return "held"
}

// evictLocked drops the oldest judged prefix, preferring one not throttled.
func (g *guard) evictLocked() {
	var victim string
	var at time.Time
	for p, st := range g.state {
		if st.Throttled {
			continue
		}
		if victim == "" || st.Judged.Before(at) {
			victim, at = p, st.Judged
		}
	}
	if victim == "" {
		for p := range g.state {
			victim = p
			break
		}
	}
	delete(g.state, victim)
}

// approved counts an approval for the prefix of e164 and, with a client
// key, marks that key known for e164. The writes happen in the background,
// batched with concurrent approvals, so Check waits for no extra round
// trip.
func (g *guard) approved(e164, client string) {
	if g == nil {
		return
	}
	prefix := prefixOf(e164, g.p.Depth)
	if prefix == "" {
		return
	}
	known := ""
	if client != "" && !g.p.NoKnownClients {
		known = g.knownKey(e164, client) // an HMAC: computed outside the lock
	}
	g.mu.Lock()
	g.pending[prefix]++
	if known != "" {
		g.pknown[known] = true
	}
	start := !g.flushing
	g.flushing = true
	g.mu.Unlock()
	if start {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), withdrawTimeout)
			defer cancel()
			g.flush(ctx) //nolint:errcheck // kept for the next flush
		}()
	}
}

// flush writes the pending approvals. Approvals whose write fails are kept
// for the next flush.
func (g *guard) flush(ctx context.Context) error {
	if g == nil {
		return nil
	}
	g.flushMu.Lock()
	defer g.flushMu.Unlock()
	g.mu.Lock()
	batch, known := g.pending, g.pknown
	g.pending = make(map[string]int64, len(batch))
	g.pknown = make(map[string]bool, len(known))
	g.flushing = false
	g.mu.Unlock()
	now := g.now()
	var errs []error
	for prefix, n := range batch {
		if _, err := g.add(ctx, prefix, now, fApprovals, n); err != nil {
			errs = append(errs, err)
			g.mu.Lock()
			g.pending[prefix] += n
			g.mu.Unlock()
		}
	}
	for k := range known {
		if _, err := g.c.AddCounts(ctx, store.CountRequest{Key: k, Now: now, Add: []int64{1}, Series: g.kseries}); err != nil {
			errs = append(errs, err)
			g.mu.Lock()
			g.pknown[k] = true
			g.mu.Unlock()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: pumping guard: %w", ErrStoreUnavailable, errors.Join(errs...))
	}
	return nil
}

func (g *guard) snapshot() []PrefixState {
	if g == nil {
		return nil
	}
	g.stateMu.Lock()
	out := make([]PrefixState, 0, len(g.state))
	for _, st := range g.state {
		out = append(out, *st)
	}
	g.stateMu.Unlock()
	slices.SortFunc(out, func(a, b PrefixState) int {
		switch {
		case a.Throttled != b.Throttled:
			if a.Throttled {
				return -1
			}
			return 1
		case a.Sends != b.Sends:
			if a.Sends > b.Sends {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Prefix, b.Prefix)
	})
	return out
}

// Flush writes to the Store the approvals that Check has counted for the
// pumping guard and not written yet (Check writes them in the background,
// batched). Call it before shutting down, or in a simulation before moving
// its clock. It is safe for concurrent use.
func (v *Verifier) Flush(ctx context.Context) error { return v.guard.flush(ctx) }

// PumpingState returns the pumping guard's view of the prefixes this
// process has judged recently (up to 4096), throttled ones first, then by
// recent sends. It is nil when the guard is disabled. It is safe for
// concurrent use.
func (v *Verifier) PumpingState() []PrefixState { return v.guard.snapshot() }

// localCounters keeps counters in process memory for a Store that does not
// implement store.Counters. Safe for concurrent use.
type localCounters struct {
	mu    sync.Mutex
	m     map[string]*localCount
	calls int
}

type localCount struct {
	ring store.Ring
	exp  time.Time
}

func (l *localCounters) AddCounts(ctx context.Context, req store.CountRequest) (store.Counts, error) {
	if err := req.Validate(); err != nil {
		return store.Counts{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.Counts{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls++; l.calls%1024 == 0 {
		for k, e := range l.m {
			if !e.exp.After(req.Now) {
				delete(l.m, k)
			}
		}
	}
	e := l.m[req.Key]
	if e == nil {
		e = new(localCount)
		l.m[req.Key] = e
	}
	var span time.Duration
	for _, s := range req.Series {
		span = max(span, s.Span())
	}
	e.exp = req.Now.Add(span)
	return e.ring.Apply(req), nil
}
