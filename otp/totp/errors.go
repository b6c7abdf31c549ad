package totp

import "errors"

// Errors returned (wrapped) by this package. Match them with errors.Is; the
// wrapped message says what was wrong, but never contains a code or a secret.
var (
	// ErrInvalidAlgorithm reports an Algorithm other than SHA1, SHA256 or
	// SHA512.
	ErrInvalidAlgorithm = errors.New("totp: invalid algorithm")
	// ErrInvalidDigits reports a number of digits outside 6–8.
	ErrInvalidDigits = errors.New("totp: invalid number of digits")
	// ErrInvalidPeriod reports a period that is not a whole number of
	// seconds between 1 s and 24 h.
	ErrInvalidPeriod = errors.New("totp: invalid period")
	// ErrInvalidSecret reports a secret that is missing, too short, too
	// long or not valid base32.
	ErrInvalidSecret = errors.New("totp: invalid secret")
	// ErrInvalidLabel reports an issuer or account name that is empty or
	// contains a colon (the otpauth label separator).
	ErrInvalidLabel = errors.New("totp: invalid issuer or account name")
	// ErrInvalidURI reports an otpauth URI that cannot be parsed.
	ErrInvalidURI = errors.New("totp: invalid otpauth uri")
	// ErrInvalidTime reports a time before the Unix epoch (T0).
	ErrInvalidTime = errors.New("totp: time before the unix epoch")
	// ErrInvalidCode reports a code that is not made of exactly as many
	// ASCII digits as the key's Digits. Validate returns it before touching
	// the store, so a malformed code is not counted as an attempt.
	ErrInvalidCode = errors.New("totp: malformed code")
	// ErrInvalidAccount reports an empty account key passed to Validate.
	ErrInvalidAccount = errors.New("totp: empty account key")
	// ErrInvalidConfig reports a Config that NewValidator refuses.
	ErrInvalidConfig = errors.New("totp: invalid config")
	// ErrQRTooSmall reports a QR image size too small to hold the code and
	// its quiet zone.
	ErrQRTooSmall = errors.New("totp: qr image too small")
	// ErrStoreUnavailable reports a store failure during Validate. The
	// store's own error is wrapped as well, so errors.Is matches both
	// ErrStoreUnavailable and, for example, context.DeadlineExceeded. Validate fails closed: the Result
	// returned with it is never Approved.
	ErrStoreUnavailable = errors.New("totp: store unavailable")
)
