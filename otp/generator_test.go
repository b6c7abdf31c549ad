package otp

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// TestGeneratorUniform draws many 4-digit codes and applies a chi-square
// test over all 10,000 values: uniform over the whole range (SECURITY.md,
// "predictable codes").
func TestGeneratorUniform(t *testing.T) {
	t.Parallel()
	const digits, perBucket = 4, 50
	const buckets = 10000
	const draws = buckets * perBucket
	counts := make([]int, buckets)
	var g NumericGenerator
	for range draws {
		c, err := g.Generate(digits)
		if err != nil {
			t.Fatal(err)
		}
		if !validCode(c, digits) {
			t.Fatalf("Generate(%d) = %q, not %d digits", digits, c, digits)
		}
		n := 0
		for i := 0; i < len(c); i++ {
			n = n*10 + int(c[i]-'0')
		}
		counts[n]++
	}
	var chi2 float64
	for _, c := range counts {
		d := float64(c - perBucket)
		chi2 += d * d / perBucket
	}
	// 9,999 degrees of freedom: mean 9,999, sd sqrt(2*9,999) ≈ 141.4. A
	// bound of mean ± 6 sd fails a fair generator with odds below 1e-8 and
	// catches modulo bias or a missing range of values.
	df := float64(buckets - 1)
	if sd := math.Sqrt(2 * df); math.Abs(chi2-df) > 6*sd {
		t.Errorf("chi-square = %.0f, want %.0f ± %.0f: codes are not uniform", chi2, df, 6*sd)
	}
	for v, c := range counts {
		if c == 0 {
			t.Errorf("value %04d never drawn in %d draws", v, draws)
			break
		}
	}
}

// TestGeneratorLeadingZeros checks that 6-digit codes keep leading zeros
// and come out at the expected rate (1 in 10 starts with 0).
func TestGeneratorLeadingZeros(t *testing.T) {
	t.Parallel()
	var g NumericGenerator
	const n = 20000
	zeros := 0
	for range n {
		c, err := g.Generate(6)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 6 {
			t.Fatalf("len(%q) = %d, want 6", c, len(c))
		}
		if c[0] == '0' {
			zeros++
		}
	}
	// Expected 2,000, sd ≈ 42: allow ± 8 sd.
	if zeros < 1660 || zeros > 2340 {
		t.Errorf("%d of %d codes start with 0, want about %d", zeros, n, n/10)
	}
}

// TestGeneratorRejectsBiasedDraws feeds values at the top of the 64-bit
// range, which must be drawn again, not folded into low residues.
func TestGeneratorRejectsBiasedDraws(t *testing.T) {
	t.Parallel()
	top := bytes.Repeat([]byte{0xff}, 8)    // 2^64-1: above the limit, rejected
	seven := []byte{7, 0, 0, 0, 0, 0, 0, 0} // 7: accepted
	src := bytes.NewReader(append(append([]byte{}, top...), seven...))
	c, err := NumericGenerator{Rand: src}.Generate(6)
	if err != nil {
		t.Fatal(err)
	}
	if c != "000007" {
		t.Errorf("Generate = %q, want %q (the out-of-range draw must be rejected)", c, "000007")
	}
	// A source that only returns rejected values is reported, not looped on.
	_, err = NumericGenerator{Rand: bytes.NewReader(bytes.Repeat(top, 100))}.Generate(6)
	if err == nil || !strings.Contains(err.Error(), "randomness") {
		t.Errorf("Generate with a stuck source: err = %v, want a randomness error", err)
	}
}

func TestGeneratorLengths(t *testing.T) {
	t.Parallel()
	var g NumericGenerator
	for n := MinCodeLength; n <= MaxCodeLength; n++ {
		c, err := g.Generate(n)
		if err != nil || !validCode(c, n) {
			t.Errorf("Generate(%d) = %q, %v; want %d digits", n, c, err, n)
		}
	}
	for _, n := range []int{-1, 0, 3, 11, 100} {
		if _, err := g.Generate(n); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Generate(%d) err = %v, want ErrInvalidConfig", n, err)
		}
	}
	if _, err := (NumericGenerator{Rand: bytes.NewReader(nil)}).Generate(6); err == nil {
		t.Error("Generate with an empty source: want an error")
	}
}
