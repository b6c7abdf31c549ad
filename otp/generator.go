package otp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/go2fa/go2fa/internal/ascii"
)

// Code lengths accepted by the numeric generator and by Policy.CodeLength.
const (
	MinCodeLength     = 4
	MaxCodeLength     = 10
	DefaultCodeLength = 6
)

// Generator makes one-time codes.
type Generator interface {
	// Generate returns a code of exactly digits decimal digits.
	Generate(digits int) (string, error)
}

// NumericGenerator draws codes uniformly from 0 to 10^digits-1 (leading
// zeros kept) by rejection sampling over 64-bit values, so there is no
// modulo bias and every value is possible. The zero value reads from
// crypto/rand; it is safe for concurrent use if Rand is.
type NumericGenerator struct {
	// Rand is the source of randomness. The default value is crypto/rand.Reader.
	Rand io.Reader
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// Generate returns a uniformly random code of the given length (4–10).
func (g NumericGenerator) Generate(digits int) (string, error) {
	if digits < MinCodeLength || digits > MaxCodeLength {
		return "", fmt.Errorf("%w: code length %d not in %d–%d", ErrInvalidConfig, digits, MinCodeLength, MaxCodeLength)
	}
	r := g.Rand
	if r == nil {
		r = rand.Reader
	}
	n := pow10[digits]
	// The largest multiple of n that fits in 2^64; values at or above it
	// would make the low residues more likely, so they are drawn again.
	limit := (^uint64(0) / n) * n
	var buf [8]byte
	for range 64 {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("otp: reading randomness: %w", err)
		}
		if x := binary.LittleEndian.Uint64(buf[:]); x < limit {
			return formatDigits(x%n, digits), nil
		}
	}
	// Each draw is rejected with probability < 2^-30; 64 rejections in a
	// row mean the source is broken.
	return "", fmt.Errorf("otp: randomness source keeps returning out-of-range values")
}

func formatDigits(x uint64, digits int) string {
	var b [MaxCodeLength]byte
	for i := digits - 1; i >= 0; i-- {
		b[i] = byte('0' + x%10)
		x /= 10
	}
	return string(b[:digits])
}

// validCode reports whether code is exactly n ASCII digits.
func validCode(code string, n int) bool {
	return len(code) == n && ascii.Digits(code)
}
