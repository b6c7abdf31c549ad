package otp_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"sync/atomic"
	"testing"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store/memstore"
)

type fixedGen string

func (g fixedGen) Generate(int) (string, error) { return string(g), nil }

func benchVerifier(b *testing.B, gen otp.Generator) *otp.Verifier {
	b.Helper()
	ms := memstore.New()
	b.Cleanup(func() { ms.Close() })
	v, err := otp.NewVerifier(otp.Config{
		Store:     ms,
		Sender:    sender.Func(func(context.Context, sender.Message) error { return nil }),
		Secret:    testSecret,
		Generator: gen,
		// Millions of unverified sends to consecutive numbers are pumping
		// to the guard; BenchmarkGuard measures it.
		Policy: otp.Policy{Pumping: otp.PumpingPolicy{Disabled: true}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkHMACBare is the floor of Check: one HMAC-SHA256 of the same input
// (destination and code) with a fresh hmac.New, as a straightforward
// implementation would compute it.
func BenchmarkHMACBare(b *testing.B) {
	b.ReportAllocs()
	msg := []byte(alice + "\x00\x00123456")
	for b.Loop() {
		m := hmac.New(sha256.New, testSecret)
		m.Write(msg)
		_ = m.Sum(nil)
	}
}

// BenchmarkHMACReused is one HMAC-SHA256 with the keyed state reused
// (Reset), the cheapest possible HMAC.
func BenchmarkHMACReused(b *testing.B) {
	b.ReportAllocs()
	msg := []byte(alice + "\x00\x00123456")
	m := hmac.New(sha256.New, testSecret)
	var buf [32]byte
	for b.Loop() {
		m.Reset()
		m.Write(msg)
		_ = m.Sum(buf[:0])
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	var g otp.NumericGenerator
	for b.Loop() {
		if _, err := g.Generate(6); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck measures a whole Check with an E.164 input on memstore.
// "expired" checks a number with nothing pending (both HMACs and one store
// lookup); "approve" checks the right code of a pending verification.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	b.Run("expired", func(b *testing.B) {
		v := benchVerifier(b, nil)
		b.ReportAllocs()
		for b.Loop() {
			if res, err := v.Check(ctx, alice, "123456"); err != nil || res.Status != otp.Expired {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("approve", func(b *testing.B) {
		benchApprove(b, otptest.Numbers(20000), func() *otp.Verifier { return benchVerifier(b, fixedGen("123456")) })
	})
	b.Run("expired-parallel", func(b *testing.B) {
		v := benchVerifier(b, nil)
		nums := otptest.Numbers(1024)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			n := nums[next.Add(1)%int64(len(nums))]
			for pb.Next() {
				if res, err := v.Check(ctx, n, "123456"); err != nil || res.Status != otp.Expired {
					b.Fatal(res, err)
				}
			}
		})
	})
}

// BenchmarkStart measures a whole Start (parse, limits, generate, store,
// send to a no-op sender) on memstore, each call to a new number.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	nums := otptest.Numbers(2_000_000)
	b.Run("serial", func(b *testing.B) {
		v := benchVerifier(b, nil)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := v.Start(ctx, nums[i%len(nums)], sender.SMS); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		v := benchVerifier(b, nil)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				if _, err := v.Start(ctx, nums[i%int64(len(nums))], sender.SMS); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// benchApprove times approving Checks of the code "123456": for each batch
// of nums, outside the timer, it makes a Verifier with fresh() (fresh
// limits) and starts the batch's codes with opts; after the timed Checks
// it flushes the pumping guard's counts, outside the timer too.
func benchApprove(b *testing.B, nums []string, fresh func() *otp.Verifier, opts ...otp.StartOption) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(nums) {
		b.StopTimer()
		v := fresh()
		batch := nums[:min(len(nums), b.N-i)]
		for _, n := range batch {
			if _, err := v.Start(ctx, n, sender.SMS, opts...); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for _, n := range batch {
			if res, err := v.Check(ctx, n, "123456"); err != nil || res.Status != otp.Approved {
				b.Fatal(res, err)
			}
		}
		b.StopTimer()
		if err := v.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
