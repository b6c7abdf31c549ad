package totp

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // G505: RFC 4226 is HMAC-SHA-1.
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"
	"time"
)

// RFC 4226 Appendix D: secret "12345678901234567890", counts 0–9, with the
// printed HMAC-SHA-1 values, truncated decimals and 6-digit HOTP values.
var rfc4226 = []struct {
	count     uint64
	hmac      string
	truncated uint32
	hotp      string
}{
	{0, "cc93cf18508d94934c64b65d8ba7667fb7cde4b0", 1284755224, "755224"},
	{1, "75a48a19d4cbe100644e8ac1397eea747a2d33ab", 1094287082, "287082"},
	{2, "0bacb7fa082fef30782211938bc1c5e70416ff44", 137359152, "359152"},
	{3, "66c28227d03a2d5529262ff016a1e6ef76557ece", 1726969429, "969429"},
	{4, "a904c900a64b35909874b33e61c5938a8e15ed1c", 1640338314, "338314"},
	{5, "a37e783d7b7233c083d4f62926c7a25f238d0316", 868254676, "254676"},
	{6, "bc9cd28561042c83f219324d3c607256c03272ae", 1918287922, "287922"},
	{7, "a4fb960c0bc06e1eabb804e5b397cdc4b45596fa", 82162583, "162583"},
	{8, "1b3c89f65e6c9e883012052823443f048b4332db", 673399871, "399871"},
	{9, "1637409809a679dc698207310c8c7fc07290d9e5", 645520489, "520489"},
}

func TestRFC4226Vectors(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	k := Key{Secret: secret}
	for _, tc := range rfc4226 {
		t.Run(fmt.Sprint(tc.count), func(t *testing.T) {
			t.Parallel()
			mac := hmac.New(sha1.New, secret)
			var msg [8]byte
			binary.BigEndian.PutUint64(msg[:], tc.count)
			mac.Write(msg[:])
			sum := mac.Sum(nil)
			if got := hex.EncodeToString(sum); got != tc.hmac {
				t.Errorf("HMAC-SHA-1(count %d) = %s, want %s", tc.count, got, tc.hmac)
			}
			if got := truncate(sum); got != tc.truncated {
				t.Errorf("truncate(HMAC(count %d)) = %d, want %d", tc.count, got, tc.truncated)
			}
			if got := hotp(hmac.New(sha1.New, secret), tc.count); got != tc.truncated {
				t.Errorf("hotp(count %d) = %d, want %d", tc.count, got, tc.truncated)
			}
			got, err := k.HOTP(tc.count)
			if err != nil {
				t.Fatalf("HOTP(%d): %v", tc.count, err)
			}
			if got != tc.hotp {
				t.Errorf("HOTP(%d) = %s, want %s", tc.count, got, tc.hotp)
			}
		})
	}
}

// RFC 6238 Appendix B, with the seeds of its reference implementation: the
// 20-byte ASCII seed for SHA-1, 32 bytes for SHA-256, 64 for SHA-512.
var (
	seedSHA1   = []byte("12345678901234567890")
	seedSHA256 = []byte("12345678901234567890123456789012")
	seedSHA512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

var rfc6238 = []struct {
	unix int64
	utc  string
	step uint64 // the table's "Value of T (hex)"
	code map[Algorithm]string
}{
	{59, "1970-01-01 00:00:59", 0x0000000000000001,
		map[Algorithm]string{SHA1: "94287082", SHA256: "46119246", SHA512: "90693936"}},
	{1111111109, "2005-03-18 01:58:29", 0x00000000023523EC,
		map[Algorithm]string{SHA1: "07081804", SHA256: "68084774", SHA512: "25091201"}},
	{1111111111, "2005-03-18 01:58:31", 0x00000000023523ED,
		map[Algorithm]string{SHA1: "14050471", SHA256: "67062674", SHA512: "99943326"}},
	{1234567890, "2009-02-13 23:31:30", 0x000000000273EF07,
		map[Algorithm]string{SHA1: "89005924", SHA256: "91819424", SHA512: "93441116"}},
	{2000000000, "2033-05-18 03:33:20", 0x0000000003F940AA,
		map[Algorithm]string{SHA1: "69279037", SHA256: "90698825", SHA512: "38618901"}},
	{20000000000, "2603-10-11 11:33:20", 0x0000000027BC86AA,
		map[Algorithm]string{SHA1: "65353130", SHA256: "77737706", SHA512: "47863826"}},
}

func TestRFC6238Vectors(t *testing.T) {
	t.Parallel()
	seeds := map[Algorithm][]byte{SHA1: seedSHA1, SHA256: seedSHA256, SHA512: seedSHA512}
	n := 0
	for _, tc := range rfc6238 {
		at := time.Unix(tc.unix, 0)
		if got := at.UTC().Format(time.DateTime); got != tc.utc {
			t.Errorf("time %d is %s, the RFC prints %s", tc.unix, got, tc.utc)
		}
		for _, alg := range []Algorithm{SHA1, SHA256, SHA512} {
			n++
			t.Run(fmt.Sprintf("%d/%v", tc.unix, alg), func(t *testing.T) {
				t.Parallel()
				k := Key{Secret: seeds[alg], Algorithm: alg, Digits: 8}
				p, err := k.params()
				if err != nil {
					t.Fatal(err)
				}
				if s, err := p.step(at); err != nil || s != tc.step {
					t.Errorf("step(%d) = %#x, %v; want %#x", tc.unix, s, err, tc.step)
				}
				got, err := k.Code(at)
				if err != nil {
					t.Fatalf("Code: %v", err)
				}
				if got != tc.code[alg] {
					t.Errorf("Code(%d) with %v = %s, want %s", tc.unix, alg, got, tc.code[alg])
				}
				// The same value through HOTP with the step as counter.
				if h, err := k.HOTP(tc.step); err != nil || h != got {
					t.Errorf("HOTP(%#x) = %s, %v; want %s", tc.step, h, err, got)
				}
			})
		}
	}
	if n != 18 {
		t.Errorf("checked %d vectors, the RFC prints 18", n)
	}
}

func TestFormatLeadingZeros(t *testing.T) {
	t.Parallel()
	var buf [maxDigits]byte
	for _, tc := range []struct {
		v      uint32
		digits int
		want   string
	}{
		{7081804, 8, "07081804"},
		{1, 6, "000001"},
		{0, 7, "0000000"},
		{2147483647, 6, "483647"},
		{2147483647, 8, "47483647"},
	} {
		if got := string(format(&buf, tc.v, tc.digits)); got != tc.want {
			t.Errorf("format(%d, %d) = %s, want %s", tc.v, tc.digits, got, tc.want)
		}
	}
}
