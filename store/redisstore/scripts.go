package redisstore

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
)

// Key layout (P is the prefix, K an IssueRequest.Key, S the hex of the
// first 16 bytes of a Scope's SHA-256, C the tag of a client key (see
// clientTag), L a Limit.Key):
//
//	P:{K}      hash: the pending codes and what outlives a code
//	  p    the pending code without a Scope, its attempts and expiry
//	  p:S  the same for Scope S
//	  c:C  end of client C's cooldown, unix ms
//	  w:C  client C's sends in its window; x:C its end, unix ms
//	  f    the key's failure counter; g its end, unix ms; E its run
//	  f:C  client C's failures in run e:C (they count while e:C = E
//	       and g has not passed)
//	  n    sends to the key from every client in the window ending at y,
//	       unix ms (the send ceiling)
//	  u:C  the y of the window in which client C sent without an
//	       approval since (deleted by its approval)
//	  m:<marker>  end of an accepted Attempt marker, unix ms
//	  M  latest end of any marker
//	P:{K}:b    string: the fallback mark of the code of field p (P:{K}:b:S
//	P:{K}:b:S  of p:S); see fallback.go
//	P:l:{L}  hash: one extra limit
//	  n  sends in the window; t its end, unix ms
//
// The pending value is binary, 25 bytes plus the optional Sealed value:
//
//	byte  1     flags: bit 2 when the code has a Scope (other bits are
//	            ignored)
//	bytes 2-3   wrong guesses against the code, big-endian
//	bytes 4-9   expiry of the code, unix ms, big-endian
//	bytes 10-25 fingerprint of the digest: the first 16 bytes of its SHA-256
//	bytes 26-41 (with a Scope) the first 16 bytes of the Scope's SHA-256
//	then        Sealed
//
// A withdrawn code keeps bytes 1-9 only: its attempts live on until its
// expiry and carry over to the next code of its Scope. A code whose expiry
// has passed counts as absent.
//
// A hash field whose time has passed counts as absent; a later write
// overwrites it, and it goes at the latest with the hash. The scripts only
// ever extend the hash's expiry (PEXPIREAT), to the latest end they write,
// the code's expiry among them, so every key has a TTL and none outlives
// the longest lifetime it was given. The hash holds a few fields per client key that sent or failed
// while it lived. Times come from redis.call('TIME') on the node that owns
// the key, so application servers with skewed clocks agree.
//
// An Issue for a new destination is TIME, one HMGET (the code's field with
// the send limits), one HSET and one PEXPIREAT. A Check with the right
// code, when no failure was ever counted in the hash, is TIME, one HMGET
// (the code's field with the failure fields) and one HDEL. Other calls add
// the reads and writes they need.

// Each script is a .lua file, run after the constants below and the
// helper files it names: lib_clock.lua (now_ms), lib_args.lua (int_arg,
// want_args, packed_ints), lib_pending.lua (the pending value's head,
// extend_expiry, failures_refuse) and lib_send.lua (the send limits of
// Issue and Fallback). Each file starts with its keys, arguments and reply,
// field by field.
var (
	//go:embed lib_clock.lua
	libClock string
	//go:embed lib_args.lua
	libArgs string
	//go:embed lib_pending.lua
	libPending string
	//go:embed lib_send.lua
	libSend string

	//go:embed issue.lua
	issueLua string
	//go:embed check.lua
	checkLua string
	//go:embed attempt.lua
	attemptLua string
	//go:embed withdraw.lua
	withdrawLua string
	//go:embed charge.lua
	chargeLua string
	//go:embed refund.lua
	refundLua string
	//go:embed fallback.lua
	fallbackLua string
	//go:embed codeset_replace.lua
	replaceCodesLua string
	//go:embed codeset_redeem.lua
	redeemCodeLua string
	//go:embed counters.lua
	countersLua string
	//go:embed schedule.lua
	scheduleLua string
	//go:embed claim.lua
	claimLua string
)

// reasonRetry is the reason the issue script gives an Issued reply when the
// request repeated one that had already saved its code. It is negative, so
// it is no store.LimitReason.
const reasonRetry = -1

// Replies of the charge script.
const (
	notCharged = 0
	charged    = 1
)

// luaConstant is one Go constant a script replies with, under its Lua name.
type luaConstant struct {
	name  string
	value int
}

// luaConstants are declared as Lua locals at the top of every script, with
// the values of the Go constants the replies are read with: a script
// returns LOCKED and Go compares with store.Locked, so renumbering the Go
// constants renumbers the scripts' replies too.
var luaConstants = []luaConstant{
	{"ISSUED", int(store.Issued)},
	{"REUSED", int(store.Reused)},
	{"LIMITED", int(store.Limited)},
	{"NO_LIMIT", int(store.NoLimit)},
	{"LIMIT_FAILURES", int(store.LimitFailures)},
	{"LIMIT_COOLDOWN", int(store.LimitCooldown)},
	{"LIMIT_WINDOW", int(store.LimitWindow)},
	{"LIMIT_EXTRA", int(store.LimitExtra)},
	{"REASON_RETRY", reasonRetry},
	{"APPROVED", int(store.Approved)},
	{"REJECTED", int(store.Rejected)},
	{"EXPIRED", int(store.Expired)},
	{"LOCKED", int(store.Locked)},
	{"REPLAYED", int(store.Replayed)},
	{"FALLBACK_TAKEN", int(store.FallbackTaken)},
	{"FALLBACK_NOT_PENDING", int(store.FallbackNotPending)},
	{"FALLBACK_SPENT", int(store.FallbackSpent)},
	{"FALLBACK_LIMITED", int(store.FallbackLimited)},
	{"CHARGED", charged},
	{"NOT_CHARGED", notCharged},
}

// luaPrelude declares luaConstants in Lua.
var luaPrelude = func() string {
	var b strings.Builder
	b.WriteString("-- Constants generated from Go (scripts.go).\n")
	for _, c := range luaConstants {
		fmt.Fprintf(&b, "local %s = %d\n", c.name, c.value)
	}
	return b.String()
}()

// newScript joins the prelude and parts (helpers first, the script last).
func newScript(parts ...string) *redis.Script {
	return redis.NewScript(luaPrelude + strings.Join(parts, "\n"))
}

var (
	issueScript        = newScript(libClock, libArgs, libPending, libSend, issueLua)
	checkScript        = newScript(libClock, libArgs, libPending, checkLua)
	attemptScript      = newScript(libClock, libPending, attemptLua)
	withdrawScript     = newScript(withdrawLua)
	chargeScript       = newScript(libClock, chargeLua)
	refundScript       = newScript(refundLua)
	fallbackScript     = newScript(libClock, libArgs, libPending, libSend, fallbackLua)
	replaceCodesScript = newScript(replaceCodesLua)
	redeemCodeScript   = newScript(redeemCodeLua)
	countersScript     = newScript(countersLua)
	scheduleScript     = newScript(libClock, scheduleLua)
	claimScript        = newScript(libClock, claimLua)
)

// allScripts are the scripts Load caches.
var allScripts = []*redis.Script{issueScript, checkScript, attemptScript, withdrawScript, chargeScript,
	refundScript, fallbackScript, replaceCodesScript, redeemCodeScript, countersScript, scheduleScript, claimScript}
