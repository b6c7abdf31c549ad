package totp_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // G505: the floor is HMAC-SHA-1, the RFC default.
	"encoding/binary"
	"testing"
	"time"

	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/store/memstore"
)

var sink string

// BenchmarkHMACSHA1Floor is the floor for BenchmarkCode: one HMAC-SHA-1 of
// an 8-byte counter, keyed anew each time as a one-off code needs.
func BenchmarkHMACSHA1Floor(b *testing.B) {
	var msg [8]byte
	var sum []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint64(msg[:], uint64(i))
		m := hmac.New(sha1.New, rfcSecret)
		m.Write(msg[:])
		sum = m.Sum(sum[:0])
	}
}

// BenchmarkCode generates the TOTP code of a time (what an app does).
func BenchmarkCode(b *testing.B) {
	for _, k := range []totp.Key{
		{Secret: rfcSecret, Algorithm: totp.SHA1},
		{Secret: seed32, Algorithm: totp.SHA256},
		{Secret: seed64, Algorithm: totp.SHA512},
	} {
		b.Run(k.Algorithm.String(), func(b *testing.B) {
			at := time.Unix(1111111109, 0)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c, err := k.Code(at)
				if err != nil {
					b.Fatal(err)
				}
				sink = c
			}
		})
	}
}

var (
	seed32 = []byte("12345678901234567890123456789012")
	seed64 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

// BenchmarkValidate validates a code against memstore with the default
// skew (three HMACs) and one store Attempt: "approved" with a fresh right
// code each time (the clock moves one step per iteration), "rejected" with
// a wrong code and no lockout in reach.
func BenchmarkValidate(b *testing.B) {
	ctx := context.Background()
	// A benchmark cannot run in a synctest bubble: the clock is a variable
	// the loop moves, read by the Validator and the store.
	start := time.Unix(30*50_000_000+10, 0)
	b.Run("approved", func(b *testing.B) {
		now := start
		clock := func() time.Time { return now }
		mem := memstore.New(memstore.WithClock(clock))
		defer mem.Close()
		v, err := totp.NewValidator(totp.Config{Store: mem, Now: clock})
		if err != nil {
			b.Fatal(err)
		}
		codes := make([]string, b.N)
		for i := range codes {
			codes[i] = codeAt(b, start, i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := v.Validate(ctx, "user-42", testKey, codes[i])
			if err != nil || res.Status != totp.Approved {
				b.Fatalf("Validate = %+v, %v", res, err)
			}
			now = now.Add(30 * time.Second)
		}
	})
	b.Run("rejected", func(b *testing.B) {
		mem := memstore.New()
		defer mem.Close()
		v, err := totp.NewValidator(totp.Config{Store: mem, MaxFailures: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		wrong := wrongCode(b, time.Now())
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := v.Validate(ctx, "user-42", testKey, wrong)
			if err != nil || res.Status != totp.Rejected {
				b.Fatalf("Validate = %+v, %v", res, err)
			}
		}
	})
}
