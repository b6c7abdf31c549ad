package store

import (
	"context"
	"time"
)

// Counters is an optional extension of Store: time-bucketed counters that
// every instance sharing the backend sees, such as the sends and approvals
// per destination prefix that otp's pumping guard compares. A Store that
// implements it is used for those figures; otherwise each process keeps its
// own.
//
// A counter key holds, for each Series of its requests, a ring of Len
// buckets of Width each; every bucket holds len(Add) integer fields.
// AddCounts is one atomic step per key: it adds Add to the bucket of every
// series that holds Now (starting the bucket from zero if it last held an
// older time), and returns the values of every series' last Len buckets
// after the addition. With every Add zero it only reads.
//
// The caller's clock (Now) picks the bucket, so that instances agree on
// bucket boundaries to within their clock skew and tests can simulate time.
// A bucket is never moved backwards: an addition for a bucket older than the
// one its ring slot already holds is dropped (and its values are reported
// as of that older bucket's absence, that is zero).
//
// A key's state lives for the longest Width × Len of its series after its
// last addition. Callers use one shape (the same Series and number of
// fields) for one key; a request with another shape may lose earlier counts
// of that key but never invents any.
type Counters interface {
	// AddCounts adds req.Add to the current buckets of req.Key and
	// returns every bucket, in one atomic step. A malformed request
	// returns an error wrapping ErrInvalidRequest and changes nothing.
	AddCounts(ctx context.Context, req CountRequest) (Counts, error)
}

// Bounds of a CountRequest.
const (
	MaxCountFields = 8
	MaxSeries      = 4
	MaxSeriesLen   = 1440
)

// Series is a ring of Len buckets of Width each.
type Series struct {
	// Width is the span of one bucket: at least one second, a whole
	// number of milliseconds.
	Width time.Duration
	// Len is the number of buckets kept, 1 to MaxSeriesLen.
	Len int
}

// Bucket returns the number of the bucket of s that holds t: the
// milliseconds since the Unix epoch divided by Width.
func (s Series) Bucket(t time.Time) int64 { return t.UnixMilli() / s.Width.Milliseconds() }

// Span returns Width × Len.
func (s Series) Span() time.Duration { return s.Width * time.Duration(s.Len) }

// CountRequest adds to and reads one counter key.
type CountRequest struct {
	// Key identifies the counters. It is opaque (derived by the caller
	// from an HMAC) and distinct from every key of the Store methods.
	// Required.
	Key string
	// Now picks the current bucket of every series. Required, after the
	// Unix epoch.
	Now time.Time
	// Add holds one delta per field, 1 to MaxCountFields fields.
	Add []int64
	// Series are the rings kept for the key, 1 to MaxSeries.
	Series []Series
}

// Counts is the answer of AddCounts.
type Counts struct {
	// Values[s][age][field] is the value of a field in series s, in the
	// bucket age buckets before the one holding Now (age 0 holds Now).
	// Every series has Len ages and every age len(Add) fields; a bucket
	// never written, or overwritten since, reads as zeros.
	Values [][][]int64
}

// NewCounts returns zeroed Counts shaped for req.
func NewCounts(req CountRequest) Counts {
	c := Counts{Values: make([][][]int64, len(req.Series))}
	for i, s := range req.Series {
		flat := make([]int64, s.Len*len(req.Add))
		ages := make([][]int64, s.Len)
		for a := range ages {
			ages[a] = flat[a*len(req.Add) : (a+1)*len(req.Add) : (a+1)*len(req.Add)]
		}
		c.Values[i] = ages
	}
	return c
}

// Validate reports whether r is well formed, wrapping ErrInvalidRequest.
func (r CountRequest) Validate() error {
	switch {
	case r.Key == "":
		return invalid("empty key")
	case r.Now.UnixMilli() <= 0:
		return invalid("Now must be after the Unix epoch")
	case len(r.Add) == 0 || len(r.Add) > MaxCountFields:
		return invalid("Add needs 1 to 8 fields")
	case len(r.Series) == 0 || len(r.Series) > MaxSeries:
		return invalid("Series needs 1 to 4 entries")
	}
	for _, s := range r.Series {
		if s.Width < time.Second || s.Width%time.Millisecond != 0 || s.Len < 1 || s.Len > MaxSeriesLen {
			return invalid("a Series needs a Width of whole milliseconds, at least 1s, and a Len of 1 to 1440")
		}
	}
	return nil
}

// Ring is the reference implementation of one counter key's state, for
// drivers that keep counters in process memory. The zero Ring is empty. A
// Ring is not safe for concurrent use: the driver serialises access.
type Ring struct {
	shape  []Series
	fields int
	ids    [][]int64 // [series][slot] bucket number held by the slot
	vals   [][]int64 // [series][slot*fields+field]
}

// Apply adds req.Add to the ring and returns the counts after the
// addition, as AddCounts specifies. req must be valid.
func (g *Ring) Apply(req CountRequest) Counts {
	if !g.fits(req) {
		g.shape = append(g.shape[:0], req.Series...)
		g.fields = len(req.Add)
		g.ids = make([][]int64, len(req.Series))
		g.vals = make([][]int64, len(req.Series))
		for i, s := range req.Series {
			g.ids[i] = make([]int64, s.Len)
			for j := range g.ids[i] {
				g.ids[i][j] = -1
			}
			g.vals[i] = make([]int64, s.Len*g.fields)
		}
	}
	write := false
	for _, d := range req.Add {
		write = write || d != 0
	}
	out := NewCounts(req)
	for i, s := range req.Series {
		b := s.Bucket(req.Now)
		if write {
			slot := int(b % int64(s.Len))
			switch held := g.ids[i][slot]; {
			case held < b:
				g.ids[i][slot] = b
				clear(g.vals[i][slot*g.fields : (slot+1)*g.fields])
				fallthrough
			case held == b:
				for f, d := range req.Add {
					g.vals[i][slot*g.fields+f] += d
				}
			}
		}
		for age := 0; age < s.Len && b-int64(age) >= 0; age++ {
			want := b - int64(age)
			slot := int(want % int64(s.Len))
			if g.ids[i][slot] == want {
				copy(out.Values[i][age], g.vals[i][slot*g.fields:(slot+1)*g.fields])
			}
		}
	}
	return out
}

func (g *Ring) fits(req CountRequest) bool {
	if g.fields != len(req.Add) || len(g.shape) != len(req.Series) {
		return false
	}
	for i, s := range req.Series {
		if g.shape[i] != s {
			return false
		}
	}
	return true
}
