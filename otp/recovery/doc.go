// Package recovery gives users single-use recovery codes (backup codes) for
// the day they lose the phone or the authenticator app that holds their
// second factor.
//
// A Manager makes a set of codes for an account, shows them once (Generate
// returns them; nothing can show them again), and redeems them one at a
// time. The codes never reach the store: it keeps only an HMAC of each,
// keyed with the application's secret, under a key that is itself an HMAC
// of the account, so a dump of the store reveals neither the codes nor the
// accounts, and cannot be brute-forced without the secret. Every instance of
// a service that shares the store and the secret shares the codes.
//
//	m, err := recovery.New(recovery.Config{Store: s, Secret: secret})
//	codes, err := m.Generate(ctx, userID) // show these once
//	res, err := m.Redeem(ctx, userID, typed)
//	if err == nil && res.Status == recovery.Approved { ... }
//
// # Codes
//
// A code is ten characters of Crockford's base32 alphabet
// ("0123456789abcdefghjkmnpqrstvwxyz": no i, l, o or u), 50 bits from
// crypto/rand, shown in two groups of five: "7h3kq-0zx2m". Redeem accepts
// what people type: upper or lower case, with or without the hyphen or
// spaces, and the look-alikes o for 0 and i or l for 1.
//
// # Guarantees
//
// These hold on every store/CodeSets implementation (store/memstore,
// store/redisstore), and the tests of this package attack each through the
// public API:
//
//   - a code approves once: of any number of concurrent redemptions of one
//     code, exactly one is Approved; a redeemed code is a wrong code;
//   - Generate replaces the whole set atomically: no code of an older set
//     approves once it returns, even against a racing redemption;
//   - wrong codes are counted per account: after Config.MaxFailures of them
//     within Config.Lockout every code, even a right one, is refused
//     (Locked) until the lock lifts; a right code resets the count;
//   - nothing of a code is stored, logged or put in an error in clear.
//
// The store compares digests (in constant time in memory; in Redis by a
// set lookup of a hash of the digest, which a guesser without the secret
// cannot steer); a malformed code is refused before the store is touched
// and is not counted.
package recovery
