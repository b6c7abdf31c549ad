package otp_test

import (
	"context"
	"testing"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store/memstore"
)

func guardBenchVerifier(b *testing.B, on bool) *otp.Verifier {
	b.Helper()
	ms := memstore.New()
	b.Cleanup(func() { ms.Close() })
	// RequireProof with WithProof: the guard counts and judges every send
	// but lets the benchmark's pumping-shaped traffic through.
	p := otp.Policy{Pumping: otp.PumpingPolicy{Disabled: !on, RequireProof: true}}
	v, err := otp.NewVerifier(otp.Config{
		Store:     ms,
		Sender:    sender.Func(func(context.Context, sender.Message) error { return nil }),
		Secret:    testSecret,
		Generator: fixedGen("123456"),
		Policy:    p,
	})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkGuard compares Start and an approving Check with the pumping
// guard off and on, on memstore, in the same run:
//
//	go test ./otp -run '^$' -bench 'BenchmarkGuard|BenchmarkHMACBare' -benchmem
//
// Start pays one counter call (one lock, one ring update); Check pays a
// map increment under a lock, the counter write happening in the
// background.
func BenchmarkGuard(b *testing.B) {
	ctx := context.Background()
	starts, checks := otptest.Numbers(2_000_000), otptest.Numbers(20000)
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run("start-"+name, func(b *testing.B) {
			v := guardBenchVerifier(b, on)
			nums := starts
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := v.Start(ctx, nums[i%len(nums)], sender.SMS, otp.WithProof()); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("check-approve-"+name, func(b *testing.B) {
			benchApprove(b, checks, func() *otp.Verifier { return guardBenchVerifier(b, on) }, otp.WithProof())
		})
	}
}
