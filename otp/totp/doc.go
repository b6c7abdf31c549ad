// Package totp adds authenticator apps (Google Authenticator, 1Password,
// Authy, ...) to go2fa as a second factor beside SMS and voice codes: HOTP
// (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA-1, -SHA-256 and -SHA-512, 6
// to 8 digits and a 30-second step by default (T0 = 0), enrollment with an
// otpauth URI and a QR code, and a Validator that refuses replayed codes and
// limits guesses through a store.Store (store/memstore or store/redisstore).
//
// The package imports the standard library, package store and, for the QR
// code, github.com/boombuler/barcode; not package otp, go-redis or plivo-go.
//
// # Enroll
//
// Make a key for the user and show it to them once, as a QR code for the
// app to scan and as base32 text for typing in by hand:
//
//	key, err := totp.Generate("ACME", "jane@example.com") // 160-bit random secret
//	png, err := key.QRPNG(256)                             // serve as image/png, Cache-Control: no-store
//	text := key.Base32()                                   // "GEZDGNBV..." for manual entry
//
// Keep key.URI() (or key.Secret and the parameters), encrypted, with the
// user's account; ParseURI reads it back. Ask the user for one code before
// turning the factor on, so a mis-scanned key does not lock them out.
// NewKey takes KeyConfig for a longer secret, another algorithm, 7 or 8
// digits, another period, or an injected random source.
//
// # Validate
//
// Build one Validator for the process, on the store the rest of go2fa uses:
//
//	v, err := totp.NewValidator(totp.Config{Store: memstore.New()})
//	res, err := v.Validate(ctx, userID, key, typedCode)
//	switch {
//	case err != nil:                  // malformed code (ErrInvalidCode), bad key, or store failure (ErrStoreUnavailable): refuse
//	case res.Status == totp.Approved: // let the user in
//	case res.Status == totp.Locked:   // too many failures; try again after res.RetryAfter
//	default:                          // Rejected or Replayed; res.Remaining tries left
//	}
//
// Validate accepts the codes of the current time step and of Config.Skew
// steps (default 1) on either side, compared in constant time. Each
// accepted step is recorded in the store, so a code works once: a second
// use, even within the same 30 seconds, is Replayed. Wrong and replayed
// codes count as failures; Config.MaxFailures of them (default 5) lock the
// account until Config.Lockout (default 5 minutes) has passed since the
// first; an approval resets the count. A malformed code is refused before
// the store is touched and costs no attempt. The account key is hashed
// before it reaches the store (see Validator).
//
// Replay protection is per time step: after the code of step t is accepted,
// the code of step t-1, if still in the window and never used, is still
// accepted once. Stricter schemes (refusing every step up to the last one
// accepted) need a store operation that go2fa's Store does not have.
//
// # Generate and check codes directly
//
// Key.Code(t) returns the code an app shows at t, and Key.HOTP(counter) the
// RFC 4226 value of a counter; both reproduce every test vector printed in
// RFC 4226 Appendix D and RFC 6238 Appendix B. To check a code a user typed,
// always use a Validator: comparing with Key.Code yourself has no replay
// protection and no attempt limit.
package totp
