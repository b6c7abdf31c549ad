package totp

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // G505: HMAC-SHA-1 is RFC 4226/6238's default and every app's; HMAC does not rely on SHA-1's collision resistance.
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"time"
)

// Algorithm is the HMAC hash function of a key. The zero value is SHA1, the
// default of RFC 6238 and the only one every authenticator app supports.
type Algorithm int

const (
	// SHA1 is HMAC-SHA-1 (RFC 4226, RFC 6238). The default.
	SHA1 Algorithm = iota
	// SHA256 is HMAC-SHA-256 (RFC 6238).
	SHA256
	// SHA512 is HMAC-SHA-512 (RFC 6238).
	SHA512
)

// String returns the algorithm's name as written in otpauth URIs: "SHA1",
// "SHA256" or "SHA512".
func (a Algorithm) String() string {
	switch a {
	case SHA1:
		return "SHA1"
	case SHA256:
		return "SHA256"
	case SHA512:
		return "SHA512"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

func parseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToUpper(s) {
	case "", "SHA1":
		return SHA1, nil
	case "SHA256":
		return SHA256, nil
	case "SHA512":
		return SHA512, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrInvalidAlgorithm, s)
}

// Defaults and limits.
const (
	// DefaultDigits is the code length used when Key.Digits is zero.
	DefaultDigits = 6
	// DefaultPeriod is the time step used when Key.Period is zero.
	DefaultPeriod = 30 * time.Second
	// MinSecretSize is the shortest secret, in bytes, that Code and Validate
	// accept: 128 bits, the minimum of RFC 4226 section 4 (R6).
	MinSecretSize = 16
	// DefaultSecretSize is the size, in bytes, of a secret made by NewKey:
	// 160 bits, as RFC 4226 recommends. It is also the smallest NewKey
	// accepts.
	DefaultSecretSize = 20
	// MaxSecretSize is the largest secret, in bytes, that NewKey makes.
	MaxSecretSize = 64

	minDigits = 6
	maxDigits = 8
	maxPeriod = 24 * time.Hour
)

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// params are a Key's resolved, checked parameters.
type params struct {
	alg    Algorithm
	digits int
	period int64 // seconds
}

// params resolves k's defaults and checks every parameter and the secret.
func (k Key) params() (params, error) {
	p := params{alg: k.Algorithm, digits: k.Digits, period: int64(DefaultPeriod / time.Second)}
	if p.alg.hash() == nil {
		return params{}, fmt.Errorf("%w: %v", ErrInvalidAlgorithm, p.alg)
	}
	if p.digits == 0 {
		p.digits = DefaultDigits
	}
	if p.digits < minDigits || p.digits > maxDigits {
		return params{}, fmt.Errorf("%w: %d (want %d to %d)", ErrInvalidDigits, k.Digits, minDigits, maxDigits)
	}
	if k.Period != 0 {
		if k.Period < time.Second || k.Period > maxPeriod || k.Period%time.Second != 0 {
			return params{}, fmt.Errorf("%w: %v (want whole seconds from 1s to %v)", ErrInvalidPeriod, k.Period, maxPeriod)
		}
		p.period = int64(k.Period / time.Second)
	}
	if len(k.Secret) < MinSecretSize {
		return params{}, fmt.Errorf("%w: %d bytes (want at least %d)", ErrInvalidSecret, len(k.Secret), MinSecretSize)
	}
	return p, nil
}

// step returns the RFC 6238 time step T = floor((unix(t) - T0) / period),
// with T0 = 0.
func (p params) step(t time.Time) (uint64, error) {
	u := t.Unix()
	if u < 0 {
		return 0, ErrInvalidTime
	}
	return uint64(u / p.period), nil //nolint:gosec // G115: u >= 0 was checked above.
}

// hotp computes the RFC 4226 value of counter with mac (an HMAC keyed with
// the secret, new or Reset), before reduction to digits: the dynamically
// truncated 31-bit number (the "Snum" of RFC 4226 section 5.3).
func hotp(mac hash.Hash, counter uint64) uint32 {
	// One buffer for the message and the sum: it escapes to the heap
	// through the hash.Hash interface, so one allocation instead of two.
	var buf [8 + sha512.Size]byte
	binary.BigEndian.PutUint64(buf[:8], counter)
	mac.Write(buf[:8])
	return truncate(mac.Sum(buf[8:8]))
}

// truncate is RFC 4226's DT: the low four bits of the last byte select an
// offset, and the 31 low bits of the four bytes there are the result.
func truncate(sum []byte) uint32 {
	off := sum[len(sum)-1] & 0x0f
	return binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
}

// format writes v mod 10^digits into dst as exactly digits decimal digits.
func format(dst *[maxDigits]byte, v uint32, digits int) []byte {
	v %= pow10[digits]
	for i := digits - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
	return dst[:digits]
}

// HOTP returns the RFC 4226 HOTP value of k for counter: Digits decimal
// digits, with leading zeros. Only k's Secret, Algorithm and Digits are
// used.
func (k Key) HOTP(counter uint64) (string, error) {
	p, err := k.params()
	if err != nil {
		return "", err
	}
	var buf [maxDigits]byte
	return string(format(&buf, hotp(hmac.New(p.alg.hash(), k.Secret), counter), p.digits)), nil
}

// Code returns the RFC 6238 TOTP code of k at time t: the HOTP value of the
// time step floor(unix(t) / Period). It is what an authenticator app shows
// at t. To check a code a user typed, use a Validator, which also refuses
// replays and limits guesses.
func (k Key) Code(t time.Time) (string, error) {
	p, err := k.params()
	if err != nil {
		return "", err
	}
	s, err := p.step(t)
	if err != nil {
		return "", err
	}
	var buf [maxDigits]byte
	return string(format(&buf, hotp(hmac.New(p.alg.hash(), k.Secret), s), p.digits)), nil
}
