package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
)

// DefaultPrefix is the key prefix used when no WithPrefix option is given.
const DefaultPrefix = "go2fa"

// MaxPrefixLen is the longest prefix WithPrefix accepts, in bytes.
const MaxPrefixLen = 64

// Store is a store.Store kept in Redis. Each operation is one Lua script run
// with EVALSHA (EVAL once per node, when the script is not cached yet).
//
// A Store is safe for concurrent use by multiple goroutines, and by multiple
// processes sharing one Redis deployment and one prefix. It does not own its
// client: closing the client is the caller's job, and a Store needs no
// closing of its own.
type Store struct {
	client redis.UniversalClient
	prefix string
	// split charges extra limits with one script per limit key instead of
	// inside the destination's script (any client but a *redis.Client: a
	// Cluster or a Ring spreads keys over nodes).
	split bool
	// limits caches the last Check limits argument, boxed: applications
	// send the same policy on every Check, so it is formatted once.
	limits atomic.Pointer[checkLimits]
}

// checkLimits is the Check script's second argument for one policy:
// "max attempts:failure max:failure ceiling:failure window ms".
type checkLimits struct {
	maxAttempts, failureMax, failureCeiling int
	failureWindow                           int64
	arg                                     any
}

// limitsArg returns the Check limits argument for req, from the cache when
// the policy is the last one seen.
func (s *Store) limitsArg(req store.CheckRequest) any {
	fw := msec(req.FailureWindow)
	if c := s.limits.Load(); c != nil && c.maxAttempts == req.MaxAttempts && c.failureMax == req.MaxFailures &&
		c.failureCeiling == req.FailureCeiling && c.failureWindow == fw {
		return c.arg
	}
	arg := packInts(int64(req.MaxAttempts), int64(req.MaxFailures), int64(req.FailureCeiling), fw)
	c := &checkLimits{maxAttempts: req.MaxAttempts, failureMax: req.MaxFailures, failureCeiling: req.FailureCeiling, failureWindow: fw, arg: arg}
	s.limits.Store(c)
	return c.arg
}

// packInts joins integers with ':' into one script argument, which
// packed_ints (lib_args.lua) splits with an anchored string.match (a
// malformed argument fails the script). Only Check's policy travels so:
// its approving path never reads it, and every argument costs Redis an
// object and Lua a string on every call, so one cached argument beats four
// (docs/redis.md).
func packInts(ns ...int64) string {
	b := make([]byte, 0, 64)
	for i, n := range ns {
		if i > 0 {
			b = append(b, ':')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return string(b)
}

var _ store.Store = (*Store)(nil)

// ErrInvalidOption is wrapped by the error New returns for an option with
// an invalid value; the message names the option.
var ErrInvalidOption = errors.New("redisstore: invalid option")

// Option configures a Store in New. An option only records its value; New
// checks it.
type Option func(*options)

type options struct {
	prefix string
}

// WithPrefix sets the prefix of every key the Store writes, so several
// applications (or tests) can share one Redis. It must be 1 to MaxPrefixLen
// bytes of printable ASCII, without spaces or braces (braces would break the
// hash tags that keep a destination's keys in one Cluster slot). The default
// value is DefaultPrefix, "go2fa".
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// validPrefix reports whether prefix is what WithPrefix accepts.
func validPrefix(prefix string) bool {
	if prefix == "" || len(prefix) > MaxPrefixLen {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if b := prefix[i]; b <= ' ' || b > '~' || b == '{' || b == '}' {
			return false
		}
	}
	return true
}

// New returns a Store that keeps its state in Redis through client: a
// *redis.Client (a single server, or Sentinel through redis.NewFailoverClient),
// a *redis.ClusterClient, or whatever redis.NewUniversalClient returns.
//
// With a *redis.Client every operation, extra limits included, is one
// script. With any other client (Cluster, Ring) an Issue that carries extra
// limits (store.IssueRequest.Limits) charges each of them with its own script
// first, because their keys live in other hash slots; see the package
// documentation for what that changes.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	nilClient := client == nil
	switch c := client.(type) {
	case *redis.Client:
		nilClient = c == nil
	case *redis.ClusterClient:
		nilClient = c == nil
	case *redis.Ring:
		nilClient = c == nil
	}
	if nilClient {
		return nil, errors.New("redisstore: nil client")
	}
	o := options{prefix: DefaultPrefix}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if !validPrefix(o.prefix) {
		return nil, fmt.Errorf("%w: WithPrefix: the prefix must be 1-%d bytes of printable ASCII without spaces or braces",
			ErrInvalidOption, MaxPrefixLen)
	}
	_, single := client.(*redis.Client)
	return &Store{client: client, prefix: o.prefix, split: !single}, nil
}

// destKey is the hash of one destination, P:{K}. The opaque key is the
// hash tag, so the hash and the destination's fallback marks live in one
// slot.
func (s *Store) destKey(key string) string {
	return s.prefix + ":{" + key + "}"
}

// pendingField is the field of the destination hash that holds the pending
// code of a Scope: p without a Scope, p:S with one (S: the hex of the first
// 16 bytes of its SHA-256).
func pendingField(scope []byte) string {
	if len(scope) == 0 {
		return "p"
	}
	h := sha256.Sum256(scope)
	return "p:" + hex.EncodeToString(h[:fingerprintLen])
}

// fingerprintLen is how many bytes of a digest's SHA-256 Redis keeps.
const fingerprintLen = 16

// fingerprint is what Redis keeps of a digest: the first 16 bytes of its
// SHA-256, so a pending value has a fixed, small size whatever the caller's
// digest length. Two digests with the same fingerprint are a SHA-256
// collision on 128 bits.
func fingerprint(digest []byte) []byte {
	h := sha256.Sum256(digest)
	return h[:fingerprintLen]
}

// codeArg is the scripts' first argument: the digest's fingerprint, then,
// for a request with a Scope, the Scope's.
func codeArg(digest, scope []byte) []byte {
	h := sha256.Sum256(digest)
	if len(scope) == 0 {
		return h[:fingerprintLen]
	}
	s := sha256.Sum256(scope)
	return append(h[:fingerprintLen:fingerprintLen], s[:fingerprintLen]...)
}

// clientTag is what the hash's field names carry of a client key: 96 bits
// of its SHA-256, base64url (12 bytes), so the five fields a client can
// leave stay small whatever the key's length. Empty stays empty.
func clientTag(client string) string {
	if client == "" {
		return ""
	}
	h := sha256.Sum256([]byte(client))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

// limitKey is the hash of one extra limit.
func (s *Store) limitKey(key string) string {
	return s.prefix + ":l:{" + key + "}"
}

// msec converts d to whole milliseconds, rounding up, so that a positive
// duration never becomes zero.
func msec(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func dur(ms int64) time.Duration {
	if ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// begin starts an operation: an invalid request (invalid is what its
// validation returned) and a done context are errors.
func begin(ctx context.Context, op string, invalid error) error {
	if invalid != nil {
		return fmt.Errorf("redisstore: %s: %w", op, invalid)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// fail wraps a backend error for op, and makes sure a done context is
// visible to errors.Is even when go-redis reported something else.
func fail(ctx context.Context, op string, err error) error {
	cerr := ctx.Err()
	if cerr == nil {
		// go-redis turns a context deadline into a socket deadline, which
		// may fire a moment before the context's own timer.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// errReply is wrapped when a script answers something this package did not
// write: never read as an approval.
var errReply = errors.New("unexpected script reply")

// reply reads a script's reply: n integers, then optionally one string.
func reply(v any, n int, withString bool) ([]int64, string, error) {
	arr, ok := v.([]any)
	want := n
	if withString {
		want++
	}
	if !ok || len(arr) != want {
		return nil, "", errReply
	}
	ints := make([]int64, n)
	for i := 0; i < n; i++ {
		x, ok := arr[i].(int64)
		if !ok {
			return nil, "", errReply
		}
		ints[i] = x
	}
	var str string
	if withString {
		if str, ok = arr[n].(string); !ok {
			return nil, "", errReply
		}
	}
	return ints, str, nil
}

// Issue implements store.Store. It is one EVALSHA, except on a Cluster or
// Ring client with extra limits (see the package documentation).
func (s *Store) Issue(ctx context.Context, req store.IssueRequest) (store.IssueResult, error) {
	const op = "issue"
	if err := begin(ctx, op, req.Validate()); err != nil {
		return store.IssueResult{}, err
	}
	if s.split && len(req.Limits) > 0 {
		return s.issueSplit(ctx, req)
	}
	keys := make([]string, 1, 1+len(req.Limits))
	keys[0] = s.destKey(req.Key)
	args := issueArgs(req, -1, 0)
	for _, l := range req.Limits {
		keys = append(keys, s.limitKey(l.Key))
		args = append(args, l.Max, msec(l.Window))
	}
	res, _, err := s.runIssue(ctx, keys, args)
	return res, err
}

func issueArgs(req store.IssueRequest, refused int, retry int64) []any {
	keep := int64(0)
	if req.KeepPending {
		keep = 1
	}
	args := make([]any, 0, 13+2*len(req.Limits))
	args = append(args, codeArg(req.Digest, req.Scope), req.Sealed, clientTag(req.Client), pendingField(req.Scope))
	return appendInts(args, keep, msec(req.TTL), msec(req.Cooldown), msec(req.SendWindow),
		int64(req.SendsPerWindow), int64(req.MaxFailures), int64(req.FailureCeiling), int64(refused), retry)
}

// appendInts appends ns to args, one script argument each: Issue and
// Fallback read all their integers on every call, and Lua reads separate
// arguments (int_arg, lib_args.lua) faster than it splits a packed one
// (docs/redis.md). They go in as pointers into one copy of ns: one
// allocation, where boxing each would make one per value outside 0-255.
func appendInts(args []any, ns ...int64) []any {
	boxed := append([]int64(nil), ns...)
	for i := range boxed {
		args = append(args, &boxed[i])
	}
	return args
}

// runIssue runs the destination's issue script. retried reports that the
// request repeated one that had already saved its code.
func (s *Store) runIssue(ctx context.Context, keys []string, args []any) (res store.IssueResult, retried bool, err error) {
	const op = "issue"
	r, err := runSend(ctx, issueScript, s.client, keys, args)
	if err != nil {
		return store.IssueResult{}, false, fail(ctx, op, err)
	}
	if retried = r.outcome == int64(store.Issued) && r.reason == reasonRetry; retried {
		r.reason = int64(store.NoLimit)
	}
	res = store.IssueResult{
		Outcome:    store.IssueOutcome(r.outcome),
		Reason:     store.LimitReason(r.reason),
		LimitIndex: r.limitIndex,
		RetryAfter: r.retryAfter,
		Attempts:   r.attempts,
		ExpiresIn:  r.expiresIn,
	}
	switch res.Outcome {
	case store.Issued, store.Limited:
	case store.Reused:
		if r.sealed != "" {
			res.Sealed = []byte(r.sealed)
		}
	default:
		return store.IssueResult{}, false, fail(ctx, op, errReply)
	}
	return res, retried, nil
}

// sendReply is the reply of the issue and fallback scripts, whose layout
// issue.lua and fallback.lua document.
type sendReply struct {
	outcome, reason       int64
	limitIndex, attempts  int
	retryAfter, expiresIn time.Duration
	sealed                string
}

// runSend runs the issue or fallback script and reads its reply.
func runSend(ctx context.Context, script *redis.Script, c redis.Scripter, keys []string, args []any) (sendReply, error) {
	v, err := script.Run(ctx, c, keys, args...).Result()
	if err != nil {
		return sendReply{}, err
	}
	n, sealed, err := reply(v, 6, true)
	if err != nil {
		return sendReply{}, err
	}
	return sendReply{outcome: n[0], reason: n[1], limitIndex: int(n[2]), retryAfter: dur(n[3]),
		attempts: int(n[4]), expiresIn: dur(n[5]), sealed: sealed}, nil
}

// refundTimeout bounds the refunds of a Limited split Issue.
const refundTimeout = 2 * time.Second

// issueSplit charges each extra limit with its own script (its key may be in
// any slot), then runs the destination's script with the verdict. Charges are
// refunded when the Issue ends Limited or repeats one that already saved
// its code; after an error they stand.
func (s *Store) issueSplit(ctx context.Context, req store.IssueRequest) (store.IssueResult, error) {
	const op = "issue"
	charges, err := s.chargeLimits(ctx, req.Limits)
	if err != nil {
		return store.IssueResult{}, fail(ctx, op, err)
	}
	res, retried, err := s.runIssue(ctx, []string{s.destKey(req.Key)}, issueArgs(req, charges.refused, charges.retry))
	if err != nil {
		return res, err
	}
	if res.Outcome == store.Limited || retried {
		s.refund(ctx, charges)
	}
	return res, nil
}

// splitCharges is what chargeLimits did: the limits it charged, with the
// window end each charge counted in, and the first limit that refused.
type splitCharges struct {
	keys    []string
	ends    []int64
	refused int   // index of the limit that refused, -1 when none did
	retry   int64 // ms until that limit's window ends
}

// chargeLimits charges one send to each limit, in order, with one charge
// script each, and stops at the first one that refuses.
func (s *Store) chargeLimits(ctx context.Context, limits []store.Limit) (splitCharges, error) {
	c := splitCharges{keys: make([]string, 0, len(limits)), ends: make([]int64, 0, len(limits)), refused: -1}
	for i, l := range limits {
		key := s.limitKey(l.Key)
		v, err := chargeScript.Run(ctx, s.client, []string{key}, l.Max, msec(l.Window)).Result()
		if err != nil {
			return c, err
		}
		n, _, err := reply(v, 3, false)
		if err != nil {
			return c, err
		}
		switch n[0] {
		case charged:
			c.keys = append(c.keys, key)
			c.ends = append(c.ends, n[1])
		case notCharged:
			c.refused, c.retry = i, n[2]
			return c, nil
		default:
			return c, errReply
		}
	}
	return c, nil
}

// refund gives back the sends chargeLimits charged. Refunds outlive a
// cancelled request, so a client that hangs up cannot spend a shared
// budget without a send. A refund that still fails leaves the limit
// over-counted by one: the safe side.
func (s *Store) refund(ctx context.Context, c splitCharges) {
	if len(c.keys) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refundTimeout)
	defer cancel()
	for i, key := range c.keys {
		_ = refundScript.Run(rctx, s.client, []string{key}, c.ends[i]).Err()
	}
}

// MaxAttempts is the largest store.CheckRequest.MaxAttempts a Store
// accepts: Redis keeps a code's attempt count in two bytes.
const MaxAttempts = 65535

// Check implements store.Store with one EVALSHA. A MaxAttempts above
// MaxAttempts is invalid (store.ErrInvalidRequest).
func (s *Store) Check(ctx context.Context, req store.CheckRequest) (store.CheckResult, error) {
	const op = "check"
	if err := req.Validate(); err != nil {
		return store.CheckResult{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if req.MaxAttempts > MaxAttempts {
		return store.CheckResult{}, fmt.Errorf("redisstore: %s: %w: MaxAttempts above %d", op, store.ErrInvalidRequest, MaxAttempts)
	}
	if err := ctx.Err(); err != nil {
		return store.CheckResult{}, fail(ctx, op, err)
	}
	v, err := checkScript.Run(ctx, s.client, []string{s.destKey(req.Key)},
		codeArg(req.Digest, req.Scope), s.limitsArg(req), clientTag(req.Client), pendingField(req.Scope)).Result()
	if err != nil {
		return store.CheckResult{}, fail(ctx, op, err)
	}
	res, ok := checkReply(v, req.MaxAttempts)
	if !ok {
		return store.CheckResult{}, fail(ctx, op, errReply)
	}
	return res, nil
}

// checkReply reads the check script's reply, {status, remaining}: a plain
// pair, because packing it into one integer showed no throughput gain in
// the Check benchmark (docs/redis.md). Only the
// pairs the script writes are accepted: Approved, Expired or Locked with 0,
// and Rejected with 1 <= remaining <= maxAttempts. Anything else is not a
// result.
func checkReply(v any, maxAttempts int) (store.CheckResult, bool) {
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return store.CheckResult{}, false
	}
	code, ok1 := pair[0].(int64)
	remaining, ok2 := pair[1].(int64)
	if !ok1 || !ok2 {
		return store.CheckResult{}, false
	}
	status := store.CheckStatus(code)
	switch status {
	case store.Approved, store.Expired, store.Locked:
		if remaining != 0 {
			return store.CheckResult{}, false
		}
	case store.Rejected:
		if remaining < 1 || remaining > int64(maxAttempts) {
			return store.CheckResult{}, false
		}
	default:
		return store.CheckResult{}, false
	}
	return store.CheckResult{Status: status, Remaining: int(remaining)}, true
}

// Withdraw implements store.Store with one EVALSHA.
func (s *Store) Withdraw(ctx context.Context, key string, scope, digest []byte) error {
	const op = "withdraw"
	switch {
	case key == "":
		return fmt.Errorf("redisstore: %s: %w: empty key", op, store.ErrInvalidRequest)
	case len(digest) == 0:
		return fmt.Errorf("redisstore: %s: %w: empty digest", op, store.ErrInvalidRequest)
	case len(scope) > store.MaxScopeLen:
		return fmt.Errorf("redisstore: %s: %w: Scope too long", op, store.ErrInvalidRequest)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	if err := withdrawScript.Run(ctx, s.client, []string{s.destKey(key)}, fingerprint(digest), pendingField(scope)).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// Attempt implements store.Store with one EVALSHA.
func (s *Store) Attempt(ctx context.Context, req store.AttemptRequest) (store.AttemptResult, error) {
	const op = "attempt"
	if err := begin(ctx, op, req.Validate()); err != nil {
		return store.AttemptResult{}, err
	}
	v, err := attemptScript.Run(ctx, s.client, []string{s.destKey(req.Key)},
		req.Marker, msec(req.MarkerTTL), req.MaxFailures, msec(req.FailureWindow)).Result()
	if err != nil {
		return store.AttemptResult{}, fail(ctx, op, err)
	}
	n, _, err := reply(v, 3, false)
	if err != nil {
		return store.AttemptResult{}, fail(ctx, op, err)
	}
	res := store.AttemptResult{Status: store.CheckStatus(n[0]), Remaining: int(n[1]), RetryAfter: dur(n[2])}
	switch res.Status {
	case store.Approved, store.Rejected, store.Locked, store.Replayed:
	default:
		return store.AttemptResult{}, fail(ctx, op, errReply)
	}
	return res, nil
}

// Load caches the Store's scripts on every node (every master of a Cluster,
// every shard of a Ring), so that even the first call on a node is one
// EVALSHA. Calling it is optional: without it each node answers the first
// EVALSHA of each script with NOSCRIPT, and go-redis sends that one call
// again as EVAL.
func (s *Store) Load(ctx context.Context) error {
	load := func(ctx context.Context, c redis.Scripter) error {
		for _, sc := range allScripts {
			if err := sc.Load(ctx, c).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return load(ctx, n) })
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return load(ctx, n) })
	default:
		err = load(ctx, s.client)
	}
	if err != nil {
		return fail(ctx, "load", err)
	}
	return nil
}
