package memstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

const benchKeys = 1 << 14

// BenchmarkIssue measures resends to a set of pending keys (the entries
// exist; the steady state of a busy store).
func BenchmarkIssue(b *testing.B) {
	s := memstore.New(memstore.WithSweepInterval(0))
	ks, d := keys(benchKeys), digest()
	ctx := context.Background()
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Issue(ctx, store.IssueRequest{Key: ks[i%benchKeys], Digest: d, TTL: time.Hour}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1) << 10)
			for pb.Next() {
				if _, err := s.Issue(ctx, store.IssueRequest{Key: ks[i%benchKeys], Digest: d, TTL: time.Hour}); err != nil {
					b.Error(err) // not b.Fatal: this runs on a RunParallel goroutine
					return
				}
				i++
			}
		})
	})
	// A new key each time: the cost of a first send (entry allocation).
	b.Run("NewKey", func(b *testing.B) {
		b.ReportAllocs()
		ks := keys(b.N)
		s := memstore.New(memstore.WithSweepInterval(0))
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Issue(ctx, store.IssueRequest{Key: ks[i], Digest: d, TTL: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheck measures Check on the reject path (a wrong digest against
// a pending code) and the approve path (which consumes the code, so each
// approval is preceded by an untimed batch of Issues).
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	d, wrong := digest(), digest()
	ks := keys(benchKeys)
	s := memstore.New(memstore.WithSweepInterval(0))
	for _, k := range ks {
		mustIssue(b, s, store.IssueRequest{Key: k, Digest: d, TTL: time.Hour})
	}
	reject := func(k string) store.CheckRequest {
		return store.CheckRequest{Key: k, Digest: wrong, MaxAttempts: 1 << 62, MaxFailures: 1 << 62, FailureWindow: time.Hour}
	}
	b.Run("Reject/Serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Check(ctx, reject(ks[i%benchKeys])); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Reject/Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1) << 10)
			for pb.Next() {
				if _, err := s.Check(ctx, reject(ks[i%benchKeys])); err != nil {
					b.Error(err) // not b.Fatal: this runs on a RunParallel goroutine
					return
				}
				i++
			}
		})
	})
	b.Run("Approve/Serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if i%benchKeys == 0 {
				b.StopTimer()
				for _, k := range ks {
					if _, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: d, TTL: time.Hour}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			if res, _ := s.Check(ctx, store.CheckRequest{Key: ks[i%benchKeys], Digest: d, MaxAttempts: 5}); res.Status != store.Approved {
				b.Fatalf("Check = %v, want approved", res.Status)
			}
		}
	})
	b.Run("Approve/Parallel", func(b *testing.B) {
		// Each goroutine approves its own keys and re-issues them when it
		// has used them all (the timer cannot stop per goroutine), so an op
		// here is one Check plus, amortised, one resend Issue.
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			own := keys(1024)
			p := next.Add(1)
			for j := range own {
				own[j] = fmt.Sprintf("p%d-%s", p, own[j])
			}
			i := 0
			for pb.Next() {
				k := own[i%len(own)]
				if i%len(own) == 0 {
					for _, k := range own {
						if _, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: d, TTL: time.Hour}); err != nil {
							b.Error(err) // not b.Fatal: this runs on a RunParallel goroutine
							return
						}
					}
				}
				if _, err := s.Check(ctx, store.CheckRequest{Key: k, Digest: d, MaxAttempts: 5}); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkMemoryPerPending reports the heap held per pending verification
// (a code with a cooldown and a window counter), with no Sealed value and
// with a 40-byte one (a sealed six-digit code).
func BenchmarkMemoryPerPending(b *testing.B) {
	const n = 100_000
	ks, d := keys(n), digest()
	ctx := context.Background()
	for _, sealed := range []int{0, 40} {
		b.Run(fmt.Sprintf("Sealed=%d", sealed), func(b *testing.B) {
			var seal []byte
			if sealed > 0 {
				seal = make([]byte, sealed)
			}
			var total float64
			for b.Loop() {
				s := memstore.New(memstore.WithSweepInterval(0))
				before := heapAlloc()
				for _, k := range ks {
					if _, err := s.Issue(ctx, store.IssueRequest{Key: k, Digest: d, Sealed: seal, TTL: 5 * time.Minute,
						Cooldown: 30 * time.Second, SendWindow: time.Hour, SendsPerWindow: 5}); err != nil {
						b.Fatal(err)
					}
				}
				after := heapAlloc()
				runtime.KeepAlive(s)
				total += float64(after-before) / n
			}
			b.ReportMetric(total/float64(b.N), "B/pending")
		})
	}
}
