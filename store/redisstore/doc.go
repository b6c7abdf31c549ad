// Package redisstore is a store.Store kept in Redis, on
// github.com/redis/go-redis/v9. It takes a redis.UniversalClient, so one code
// path serves a single server, Sentinel (redis.NewFailoverClient) and Redis
// Cluster.
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}})
//	st, err := redisstore.New(rdb, redisstore.WithPrefix("myapp-2fa"))
//
// # One round trip
//
// Issue, Check, Withdraw and Attempt are each one Lua script, sent with
// EVALSHA; go-redis falls back to EVAL (which caches the script) only when a
// node answers NOSCRIPT, so after the first call on each node every operation
// is one command and one round trip. There is no read-then-write and no
// WATCH: the script is the atomic step the store.Store contract asks for. The
// scripts read the clock with redis.call('TIME') on the node that owns the
// key, so application servers with skewed clocks agree on every cooldown,
// window and expiry.
//
// Check, the hot path, is built to cost Redis little more than a trivial
// script: a right code, on a destination with no failure ever counted in its
// hash, is the clock, one read of the code with the failure fields, and one
// delete inside the script. Every other Check (wrong code, no code, a
// failure counted) adds the writes it needs.
//
// # Keys and memory
//
// One destination has a hash, P:{K}; P is the prefix, K the opaque store
// key. One field per Scope with a pending code, p (no Scope) or p:S (S
// from the Scope's SHA-256), holds the code: a 16-byte fingerprint of the
// digest (its SHA-256, truncated), the same of the optional Scope, the
// optional Sealed value, the code's attempts and expiry; a code whose
// expiry has passed counts as absent. The rest of the hash holds what
// outlives a code: per client key (a 96-bit tag of
// store.IssueRequest.Client) the cooldown, the send window, its failures
// in the current run and its unapproved send; the destination's failure
// counter and run and its send ceiling's count; accepted Attempt markers.
// Each part of the hash carries its own end time; a part whose time has
// passed counts as absent. The scripts only ever extend the hash's expiry,
// to the latest end they write, so every key has a TTL and none outlives
// the longest lifetime it was given.
//
// One pending verification under the otp package's default policy, from
// one client key (code, cooldown, window counter, and after a wrong guess
// the failure counters), is held by TestMemoryPerVerification to a budget
// of MEMORY USAGE bytes, a larger one with Policy.KeepCode's sealed code;
// docs/redis.md has the figures. Each further client key that sends or
// fails adds its fields to the hash.
// An extra limit (store.IssueRequest.Limits) is one more small hash,
// P:l:{L}, shared by every Issue that names it.
//
// Redis holds no code and no phone number: keys are built from the opaque
// keys the caller derives with an HMAC, and values are fingerprints of the
// caller's digests (HMACs), its sealed blob, and integers.
//
// # Redis Cluster
//
// Every key of a destination carries the destination's key as its hash tag,
// and every destination script touches only that destination's keys, so
// the scripts are legal on a Cluster. Extra limits are the exception: their keys are
// independent of the destination and so live in other slots. With a
// *redis.Client (a single server, or Sentinel) the Issue script charges them
// in the same atomic step. With any other client (a *redis.ClusterClient, a
// *redis.Ring) an Issue with n extra limits costs n+1 round trips:
//
//  1. each limit, in order, is checked and charged by its own script (one
//     EVALSHA per limit, on the node that owns it), stopping at the first
//     one that is spent;
//  2. the destination's script then checks the failure cap, the cooldown and
//     the window, in the contract's order, and issues only if they and every
//     limit allowed it;
//  3. if the Issue ends Limited, the limits charged in step 1 are refunded,
//     each to the same window it was charged in (one more EVALSHA each).
//
// The outcome is the one the single script would give, with two
// differences, both on the side of refusing: between steps 1 and 3 a
// concurrent Issue may see a limit charged that is then refunded, and be
// refused; and when step 2 fails (an error, a timeout) the charges stand, so
// a limit may count a send that did not happen. An Issue without extra
// limits is one round trip on every client.
//
// # Failures
//
// Every error is wrapped ("redisstore: check: ...") and keeps the go-redis
// error, and a done context, visible to errors.Is: a refused connection, a
// timeout, context.Canceled or context.DeadlineExceeded, a script error.
// Nothing is ever approved on an error, and a reply that is not one this
// package's scripts write is an error too. With go-redis's default retries
// a script may run twice when a connection breaks after Redis ran it; each
// repetition errs on the safe side (a Check that already approved sees
// Expired, a wrong guess is counted twice, a send is charged twice).
//
// go-redis applies a context's deadline to a call in flight only when the
// client has ContextTimeoutEnabled set; otherwise the client's ReadTimeout
// and WriteTimeout bound each call.
//
// Requires Redis 6.2 or later (SET with PXAT, scripts replicated by
// effects). On Redis 7.0 and later an Issue for a new destination sets the
// hash's expiry with PEXPIREAT ... NX, one command less than on 6.2. A code
// is accepted until the millisecond its expiry names, by the clock of the
// node that holds it. Fingerprints are compared with Lua's string equality inside
// Redis; a digest is an HMAC under a secret Redis never sees, so its timing
// cannot guide a guesser.
package redisstore
