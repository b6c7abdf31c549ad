// Package benchfloor runs a benchmark of a store against the floors it is
// measured by (a trivial script or query on the same client), in
// alternating chunks of one run, so a change of load on the machine hits
// both alike. It serves the benchmarks of store/redisstore and
// store/pgstore.
package benchfloor

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Timed runs fn(base) .. fn(base+m-1) from n goroutines and returns the
// wall time it took, and the first error a call returned (the calls stop
// at the first error).
func Timed(n, base, m int, fn func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	for range n {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(m) {
					return
				}
				if err := fn(base + int(i)); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(m))
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

// Floor is one baseline: Run(i) is one call of it.
type Floor struct {
	Name string // names its metrics: "<Name>-ops/s" and "%<Name>"
	Run  func(i int) error
}

// Versus runs lib b.N times and each floor b.N times, from n goroutines
// each, in chunks (one chunk when b.N < chunks*n) that alternate lib first
// and floors first. Each floor is warmed up first (4*n calls, before the
// clock starts), so its connections are open and its statements prepared,
// as the store's are by its setup. It reports lib's throughput ("ops/s"),
// each floor's, and lib's share of each floor's throughput. Only lib's
// time counts as the benchmark's ns/op.
func Versus(b *testing.B, n, chunks int, lib func(i int) error, floors ...Floor) {
	b.Helper()
	if b.N < chunks*n {
		chunks = 1
	}
	per := (b.N + chunks - 1) / chunks
	for _, f := range floors {
		if _, err := Timed(n, 0, 4*n, f.Run); err != nil {
			b.Fatalf("%s warm-up: %v", f.Name, err)
		}
	}
	tFloors := make([]time.Duration, len(floors))
	var tLib time.Duration
	b.ResetTimer()
	b.StopTimer()
	for k, done := 0, 0; done < b.N; k++ {
		m := min(per, b.N-done)
		runFloors := func() {
			for j, f := range floors {
				d, err := Timed(n, done, m, f.Run)
				if err != nil {
					b.Fatalf("%s: %v", f.Name, err)
				}
				tFloors[j] += d
			}
		}
		runLib := func() {
			b.StartTimer()
			d, err := Timed(n, done, m, lib)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			tLib += d
		}
		if k%2 == 0 {
			runFloors()
			runLib()
		} else {
			runLib()
			runFloors()
		}
		done += m
	}
	b.ReportMetric(float64(b.N)/tLib.Seconds(), "ops/s")
	for j, f := range floors {
		b.ReportMetric(float64(b.N)/tFloors[j].Seconds(), f.Name+"-ops/s")
		b.ReportMetric(100*tFloors[j].Seconds()/tLib.Seconds(), "%"+f.Name)
	}
}
