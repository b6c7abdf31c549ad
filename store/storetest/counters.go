package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
)

// RunCounters runs the conformance suite of the optional store.Counters
// extension against the stores made by newHarness, whose Store must
// implement it. Call it next to Run; it follows the same rules (a subtest
// per call of newHarness, in parallel, fresh random keys, real time when
// Advance is nil).
func RunCounters(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	runExtension(t, newHarness, "store.Counters", counterTests,
		func(e env, c store.Counters) *counterEnv { return &counterEnv{env: e, c: c} })
}

var counterTests = []extensionTest[*counterEnv]{
	{"AddAndRead", testCountAddAndRead},
	{"ReadOnlyUnknownKey", testCountReadOnly},
	{"BucketsRoll", testCountBucketsRoll},
	{"LateAddition", testCountLateAddition},
	{"StaleAdditionDropped", testCountStaleDropped},
	{"SeriesIndependent", testCountSeriesIndependent},
	{"KeysIndependent", testCountKeysIndependent},
	{"NegativeDelta", testCountNegativeDelta},
	{"Expiry", testCountExpiry},
	{"ConcurrentAdd", testCountConcurrent},
	{"CancelledContext", testCountCancelled},
	{"InvalidRequest", testCountInvalid},
}

type counterEnv struct {
	env
	c store.Counters
}

// base is a fixed instant on a minute boundary, so bucket arithmetic in the
// cases is exact.
var base = time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)

var minuteSeries = []store.Series{{Width: time.Minute, Len: 5}}

func (e *counterEnv) add(k string, now time.Time, series []store.Series, add ...int64) store.Counts {
	e.t.Helper()
	c, err := e.c.AddCounts(e.ctx, store.CountRequest{Key: k, Now: now, Add: add, Series: series})
	if err != nil {
		e.t.Fatalf("AddCounts: %v", err)
	}
	if len(c.Values) != len(series) {
		e.t.Fatalf("AddCounts returned %d series, want %d", len(c.Values), len(series))
	}
	for i, s := range series {
		if len(c.Values[i]) != s.Len {
			e.t.Fatalf("series %d: %d ages, want %d", i, len(c.Values[i]), s.Len)
		}
		for a, v := range c.Values[i] {
			if len(v) != len(add) {
				e.t.Fatalf("series %d age %d: %d fields, want %d", i, a, len(v), len(add))
			}
		}
	}
	return c
}

// want compares the ages of one series with want (missing ages are zero).
func (e *counterEnv) want(c store.Counts, series int, want ...[]int64) {
	e.t.Helper()
	got := c.Values[series]
	for age := range got {
		w := make([]int64, len(got[age]))
		if age < len(want) {
			w = want[age]
		}
		if !slices.Equal(got[age], w) {
			e.t.Errorf("series %d age %d = %v, want %v", series, age, got[age], w)
		}
	}
}

func testCountAddAndRead(e *counterEnv) {
	k := key()
	e.want(e.add(k, base, minuteSeries, 1, 0, 2), 0, []int64{1, 0, 2})
	e.want(e.add(k, base.Add(59*time.Second), minuteSeries, 1, 3, 2), 0, []int64{2, 3, 4})
	e.want(e.add(k, base.Add(30*time.Second), minuteSeries, 0, 0, 0), 0, []int64{2, 3, 4})
}

func testCountReadOnly(e *counterEnv) {
	k := key()
	e.want(e.add(k, base, minuteSeries, 0, 0), 0)
	// Reading wrote nothing that a later addition would see.
	e.want(e.add(k, base, minuteSeries, 1, 0), 0, []int64{1, 0})
}

func testCountBucketsRoll(e *counterEnv) {
	k := key()
	e.add(k, base, minuteSeries, 1)
	e.add(k, base.Add(time.Minute), minuteSeries, 2)
	e.want(e.add(k, base.Add(3*time.Minute), minuteSeries, 4), 0, []int64{4}, []int64{0}, []int64{2}, []int64{1})
	// Five minutes after base the ring has wrapped: base's slot now holds
	// the new bucket, and base's count is gone.
	e.want(e.add(k, base.Add(5*time.Minute), minuteSeries, 8), 0, []int64{8}, []int64{0}, []int64{4}, []int64{0}, []int64{2})
	// A read long after every bucket has passed sees nothing.
	e.want(e.add(k, base.Add(20*time.Minute), minuteSeries, 0), 0)
}

func testCountLateAddition(e *counterEnv) {
	k := key()
	e.add(k, base.Add(time.Minute), minuteSeries, 1)
	// An instance whose clock is a little behind still counts, in the
	// bucket its clock names.
	c := e.add(k, base.Add(50*time.Second), minuteSeries, 5)
	e.want(c, 0, []int64{5})
	e.want(e.add(k, base.Add(time.Minute), minuteSeries, 0), 0, []int64{1}, []int64{5})
}

func testCountStaleDropped(e *counterEnv) {
	k := key()
	e.add(k, base.Add(5*time.Minute), minuteSeries, 7)
	// base maps to the same slot as base+5m and is older: dropped, and
	// the newer bucket keeps its count.
	e.add(k, base, minuteSeries, 100)
	e.want(e.add(k, base.Add(5*time.Minute), minuteSeries, 0), 0, []int64{7})
}

func testCountSeriesIndependent(e *counterEnv) {
	k := key()
	series := []store.Series{{Width: time.Minute, Len: 3}, {Width: time.Hour, Len: 2}}
	e.add(k, base, series, 1, 1)
	e.add(k, base.Add(2*time.Minute), series, 2, 0)
	c := e.add(k, base.Add(61*time.Minute), series, 0, 3)
	e.want(c, 0, []int64{0, 3})
	e.want(c, 1, []int64{0, 3}, []int64{3, 1})
}

func testCountKeysIndependent(e *counterEnv) {
	a, b := key(), key()
	e.add(a, base, minuteSeries, 1)
	e.want(e.add(b, base, minuteSeries, 2), 0, []int64{2})
	e.want(e.add(a, base, minuteSeries, 0), 0, []int64{1})
}

func testCountNegativeDelta(e *counterEnv) {
	k := key()
	e.add(k, base, minuteSeries, 3, 0)
	e.want(e.add(k, base, minuteSeries, -1, 1), 0, []int64{2, 1})
}

func testCountExpiry(e *counterEnv) {
	k := key()
	series := []store.Series{{Width: time.Second, Len: 1}}
	e.add(k, base, series, 1)
	// Same bucket (the caller's clock stands still), but the store's
	// clock passes the key's lifetime: the state is gone.
	e.wait(time.Second)
	e.want(e.add(k, base, series, 0), 0)
	// A key kept alive by additions does not expire.
	long := []store.Series{{Width: time.Minute, Len: 2}}
	k2 := key()
	e.add(k2, base, long, 1)
	e.wait(short)
	e.want(e.add(k2, base, long, 1), 0, []int64{2})
}

func testCountConcurrent(e *counterEnv) {
	k := key()
	const n = 200
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen []int64
		fail error
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			c, err := e.c.AddCounts(e.ctx, store.CountRequest{Key: k, Now: base, Add: []int64{1, 2}, Series: minuteSeries})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fail = err
				return
			}
			seen = append(seen, c.Values[0][0][0])
		})
	}
	close(start)
	wg.Wait()
	if fail != nil {
		e.t.Fatalf("AddCounts: %v", fail)
	}
	// Increment-and-read is atomic: every caller saw a distinct total.
	slices.Sort(seen)
	for i, v := range seen {
		if v != int64(i+1) {
			e.t.Fatalf("concurrent totals %v…: want each of 1..%d once", seen[:min(len(seen), 10)], n)
		}
	}
	e.want(e.add(k, base, minuteSeries, 0, 0), 0, []int64{n, 2 * n})
}

func testCountCancelled(e *counterEnv) {
	k := key()
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.c.AddCounts(ctx, store.CountRequest{Key: k, Now: base, Add: []int64{1}, Series: minuteSeries}); !errors.Is(err, context.Canceled) {
		e.t.Fatalf("AddCounts with a cancelled context: %v, want context.Canceled", err)
	}
	e.want(e.add(k, base, minuteSeries, 0), 0)
}

func testCountInvalid(e *counterEnv) {
	good := store.CountRequest{Key: key(), Now: base, Add: []int64{1}, Series: minuteSeries}
	for _, tc := range []struct {
		name string
		mod  func(r *store.CountRequest)
	}{
		{"empty key", func(r *store.CountRequest) { r.Key = "" }},
		{"zero time", func(r *store.CountRequest) { r.Now = time.Time{} }},
		{"no fields", func(r *store.CountRequest) { r.Add = nil }},
		{"too many fields", func(r *store.CountRequest) { r.Add = make([]int64, store.MaxCountFields+1) }},
		{"no series", func(r *store.CountRequest) { r.Series = nil }},
		{"too many series", func(r *store.CountRequest) { r.Series = make([]store.Series, store.MaxSeries+1) }},
		{"short width", func(r *store.CountRequest) { r.Series = []store.Series{{Width: time.Millisecond, Len: 2}} }},
		{"fractional width", func(r *store.CountRequest) {
			r.Series = []store.Series{{Width: time.Second + time.Microsecond, Len: 2}}
		}},
		{"zero len", func(r *store.CountRequest) { r.Series = []store.Series{{Width: time.Minute}} }},
		{"long series", func(r *store.CountRequest) {
			r.Series = []store.Series{{Width: time.Minute, Len: store.MaxSeriesLen + 1}}
		}},
	} {
		r := good
		tc.mod(&r)
		if _, err := e.c.AddCounts(e.ctx, r); !errors.Is(err, store.ErrInvalidRequest) {
			e.t.Errorf("%s: %v, want ErrInvalidRequest", tc.name, err)
		}
	}
	// Nothing was counted by the refused requests.
	e.want(e.add(good.Key, base, minuteSeries, 0), 0)
}
