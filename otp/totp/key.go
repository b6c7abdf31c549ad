package totp

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Key is a TOTP shared secret with the parameters an authenticator app needs.
// Zero parameter fields mean the defaults (SHA1, 6 digits, 30 s), so
// Key{Secret: s} is a valid default key for Code and Validate.
//
// A Key holds its secret in clear: store it encrypted at rest, and show it
// (URI, Base32, QRPNG) only to the user enrolling. Its String, GoString and
// LogValue methods redact the secret, so printing or logging a Key does not
// leak it. A Key is a plain value, safe for concurrent use as long as nobody
// modifies it.
type Key struct {
	// Issuer names the service (shown by the app above the code). Required
	// for URI and QRPNG; it must not contain a colon.
	Issuer string
	// Account names the user within the issuer, usually an e-mail address or
	// a user name. Required for URI and QRPNG; it must not contain a colon.
	Account string
	// Secret is the shared HMAC key, at least MinSecretSize bytes.
	Secret []byte
	// Algorithm is the HMAC hash. The default value is SHA1.
	Algorithm Algorithm
	// Digits is the code length, 6 to 8. The default value is 6.
	Digits int
	// Period is the time step, whole seconds from 1 s to 24 h. The default
	// value is 30 s.
	Period time.Duration
}

// KeyConfig is what NewKey needs to make a Key. Issuer and Account are
// required; every other zero field means its default.
type KeyConfig struct {
	// Issuer names the service. Required; no colon.
	Issuer string
	// Account names the user. Required; no colon.
	Account string
	// SecretSize is the secret's length in bytes, DefaultSecretSize (20,
	// 160 bits) to MaxSecretSize (64). The default value is 20.
	SecretSize int
	// Algorithm is the HMAC hash. The default value is SHA1. Many apps
	// silently ignore other algorithms and then show wrong codes: keep SHA1
	// unless you know your users' apps.
	Algorithm Algorithm
	// Digits is the code length, 6 to 8. The default value is 6.
	Digits int
	// Period is the time step. The default value is 30 s.
	Period time.Duration
	// Rand is the source of the secret. The default value is crypto/rand's
	// Reader.
	Rand io.Reader
}

// Generate returns a new Key for account at issuer, with a random 160-bit
// secret and the default parameters (SHA1, 6 digits, 30 s). It is
// NewKey(KeyConfig{Issuer: issuer, Account: account}).
func Generate(issuer, account string) (Key, error) {
	return NewKey(KeyConfig{Issuer: issuer, Account: account})
}

// NewKey returns a new Key with a random secret of cfg.SecretSize bytes
// read from cfg.Rand, for enrolling a user's authenticator app.
func NewKey(cfg KeyConfig) (Key, error) {
	size := cfg.SecretSize
	if size == 0 {
		size = DefaultSecretSize
	}
	if size < DefaultSecretSize || size > MaxSecretSize {
		return Key{}, fmt.Errorf("%w: SecretSize %d (want %d to %d bytes)", ErrInvalidSecret, cfg.SecretSize, DefaultSecretSize, MaxSecretSize)
	}
	k := Key{
		Issuer:    cfg.Issuer,
		Account:   cfg.Account,
		Secret:    make([]byte, size),
		Algorithm: cfg.Algorithm,
		Digits:    cfg.Digits,
		Period:    cfg.Period,
	}
	if err := k.checkLabel(); err != nil {
		return Key{}, err
	}
	if _, err := k.params(); err != nil {
		return Key{}, err
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, k.Secret); err != nil {
		return Key{}, fmt.Errorf("totp: reading random secret: %w", err)
	}
	return k, nil
}

func (k Key) checkLabel() error {
	switch {
	case k.Issuer == "" || k.Account == "":
		return fmt.Errorf("%w: issuer and account are required", ErrInvalidLabel)
	case strings.Contains(k.Issuer, ":") || strings.Contains(k.Account, ":"):
		return fmt.Errorf("%w: issuer and account must not contain a colon", ErrInvalidLabel)
	case strings.HasPrefix(k.Account, " "):
		// Apps (and ParseURI) drop spaces after the label's colon.
		return fmt.Errorf("%w: account must not start with a space", ErrInvalidLabel)
	}
	return nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Base32 returns the secret in unpadded upper-case base32 (RFC 4648), the
// form authenticator apps accept for manual entry and otpauth URIs carry.
func (k Key) Base32() string { return b32.EncodeToString(k.Secret) }

// DecodeSecret decodes a base32 secret as users type it or URIs carry it:
// case-insensitive, with or without "=" padding, spaces and hyphens ignored.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '=', '\t':
			return -1
		}
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
	b, err := b32.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: not base32", ErrInvalidSecret)
	}
	return b, nil
}

// URI returns the otpauth URI of k, the text of the QR code an app scans
// (the Key Uri Format of Google Authenticator):
//
//	otpauth://totp/Issuer:Account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&period=30
//
// Issuer and Account are percent-encoded (every byte but A–Z a–z 0–9 - . _ ~
// and, in the label, @), spaces as %20, never "+", which some apps show
// literally. The issuer appears both as the label prefix and as a
// parameter, as the format recommends (an empty Issuer is left out of
// both). Parameters are always written, with
// their defaults, so every app reads the same thing. URI does not check k;
// QRPNG does.
func (k Key) URI() string {
	digits := k.Digits
	if digits == 0 {
		digits = DefaultDigits
	}
	period := k.Period
	if period == 0 {
		period = DefaultPeriod
	}
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if k.Issuer != "" {
		b.WriteString(escape(k.Issuer, true))
		b.WriteByte(':')
	}
	b.WriteString(escape(k.Account, true))
	b.WriteString("?secret=")
	b.WriteString(k.Base32())
	if k.Issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(k.Issuer, false))
	}
	b.WriteString("&algorithm=")
	b.WriteString(k.Algorithm.String())
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(digits))
	b.WriteString("&period=")
	b.WriteString(strconv.FormatInt(int64(period/time.Second), 10))
	return b.String()
}

// escape percent-encodes every byte of s except RFC 3986's unreserved
// characters and, when label is set, "@" (legal in a path, and kept by
// every example of the format).
func escape(s string, label bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', label && c == '@':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0f])
		}
	}
	return b.String()
}

// ParseURI parses an otpauth://totp/ URI, as made by URI or by another
// service, back into a Key. Missing algorithm, digits and period parameters
// mean the defaults, which the Key then holds explicitly (Digits 6, Period
// 30 s). The label's issuer prefix and the issuer parameter, when both are
// present, must agree; either alone sets Issuer. Spaces before the account
// name are dropped. The secret must be at least MinSecretSize bytes. Errors wrap ErrInvalidURI or the
// sentinel of the offending parameter.
func ParseURI(uri string) (Key, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return Key{}, fmt.Errorf("%w: malformed url", ErrInvalidURI)
	}
	if !strings.EqualFold(u.Scheme, "otpauth") {
		return Key{}, fmt.Errorf("%w: scheme is not otpauth", ErrInvalidURI)
	}
	if !strings.EqualFold(u.Host, "totp") {
		return Key{}, fmt.Errorf("%w: type is not totp", ErrInvalidURI)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Key{}, fmt.Errorf("%w: malformed query", ErrInvalidURI)
	}
	k := Key{Digits: DefaultDigits, Period: DefaultPeriod}
	label := strings.TrimPrefix(u.Path, "/")
	if issuer, account, ok := strings.Cut(label, ":"); ok {
		k.Issuer, k.Account = issuer, account
	} else {
		k.Account = label
	}
	k.Account = strings.TrimLeft(k.Account, " ")
	if qi := q.Get("issuer"); qi != "" {
		if k.Issuer != "" && k.Issuer != qi {
			return Key{}, fmt.Errorf("%w: label issuer and issuer parameter differ", ErrInvalidURI)
		}
		k.Issuer = qi
	}
	if k.Account == "" {
		return Key{}, fmt.Errorf("%w: no account name", ErrInvalidURI)
	}
	if strings.Contains(k.Issuer, ":") || strings.Contains(k.Account, ":") {
		return Key{}, fmt.Errorf("%w: issuer and account must not contain a colon", ErrInvalidLabel)
	}
	if k.Secret, err = DecodeSecret(q.Get("secret")); err != nil {
		return Key{}, err
	}
	if k.Algorithm, err = parseAlgorithm(q.Get("algorithm")); err != nil {
		return Key{}, err
	}
	if s := q.Get("digits"); s != "" {
		if k.Digits, err = strconv.Atoi(s); err != nil || k.Digits == 0 {
			return Key{}, fmt.Errorf("%w: %q", ErrInvalidDigits, s)
		}
	}
	if s := q.Get("period"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n <= 0 {
			return Key{}, fmt.Errorf("%w: %q", ErrInvalidPeriod, s)
		}
		k.Period = time.Duration(n) * time.Second
	}
	if _, err := k.params(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// String describes k without its secret.
func (k Key) String() string {
	return fmt.Sprintf("totp.Key{Issuer: %q, Account: %q, Algorithm: %v, Digits: %d, Period: %v, Secret: [redacted %d bytes]}",
		k.Issuer, k.Account, k.Algorithm, k.Digits, k.Period, len(k.Secret))
}

// GoString describes k without its secret, for the %#v verb.
func (k Key) GoString() string { return k.String() }

// LogValue describes k without its secret, for log/slog.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", k.Issuer),
		slog.String("account", k.Account),
		slog.String("algorithm", k.Algorithm.String()),
		slog.Int("digits", k.Digits),
		slog.Duration("period", k.Period),
		slog.String("secret", "[redacted]"),
	)
}
