// Package otp issues and checks one-time codes sent by SMS or voice call:
// the heart of go2fa.
//
// A Verifier ties together a store.Store (where pending codes and counters
// live), a sender.Sender (how codes travel), a secret, and a Policy:
//
//	v, err := otp.NewVerifier(otp.Config{
//		Store:  memstore.New(),           // or redisstore.New(rdb)
//		Sender: sender.Writer(os.Stderr), // or a plivoadapter sender
//		Secret: secret,                   // >= 32 random bytes
//	})
//	res, err := v.Start(ctx, "+14155550100", sender.SMS)
//	...
//	chk, err := v.Check(ctx, res.To, "123456")
//	if chk.Status == otp.Approved { ... }
//
// # What Start does
//
// Start normalises the number to E.164 (github.com/nyaruka/phonenumbers),
// checks the channel and the allowed regions, draws a code from crypto/rand
// without modulo bias, and asks the Store, in one atomic step, to apply the
// limits (cooldown, budget per destination, per-call limit key, global
// budget, failure cap) and save the code. Config.BeforeSend may then veto
// the send. Only then is the code sent. If the hook vetoes or the send
// fails, the code is withdrawn, so no code the user never received stays
// valid.
//
// # What Check does
//
// Check refuses a code of the wrong form before touching the store, then
// asks the Store, in one atomic step, to compare and consume: a correct code
// is Approved exactly once, however many concurrent checks present it; a
// wrong one is Rejected with the guesses left, and the guess that uses up
// Policy.MaxAttempts returns Locked and deletes the code. A resend keeps the
// count, so guessing across resends gains nothing.
//
// # What is stored
//
// Neither codes nor numbers. The store key of a destination is 128 bits of
// HMAC-SHA256 of the number, and a code is kept as HMAC-SHA256 of number,
// binding and code, each under its own key derived from Config.Secret.
// With Policy.KeepCode the code is also kept encrypted (AES-256-GCM), so it
// can be sent again. A dump of the store reveals no code and no number and
// cannot be brute-forced without the secret.
//
// # Errors
//
// Every error is matched with errors.Is against a sentinel of this package
// (ErrInvalidNumber, ErrInvalidCode, ErrRateLimited, ErrSendFailed,
// ErrStoreUnavailable, ...). A refused send is a *RateLimitError carrying
// RetryAfter. No error holds a code, a secret or a full number.
//
// A call whose context was cancelled fails with an error wrapping
// context.Canceled, not ErrStoreUnavailable: the caller went away, the store
// did not fail. A passed deadline wraps both context.DeadlineExceeded and
// ErrStoreUnavailable. Test the context errors first.
//
// # Options
//
// Start takes StartOptions (WithBinding, WithLimitKey, WithLocale,
// WithTextOptions), Check takes CheckOptions (WithBinding, WithLimitKey):
// an option that only shapes a send cannot be passed to Check.
//
// # Observing
//
// Config.Observer receives every outcome as an Event that names the
// destination only by a fingerprint and its region; SlogObserver logs them,
// and the module github.com/go2fa/go2fa/otp/otelobserver records them as
// OpenTelemetry metrics and spans.
package otp
