package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
)

// BenchmarkCounters measures AddCounts with the pumping guard's shape (four
// fields; 22, 13 and 24 buckets) next to the floor and an Issue, serially,
// on the same client:
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench Counters -benchmem ./store/redisstore
//
// "warm" adds to a prefix whose hold and day rings are full (the hash holds
// every slot the shape allows), the worst case for the reply's size.
func BenchmarkCounters(b *testing.B) {
	name, c := benchBackend(b)
	s, err := New(c, WithPrefix("bench-counters-"+strconv.FormatInt(time.Now().UnixNano(), 36)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	series := []store.Series{{Width: 30 * time.Second, Len: 22}, {Width: 5 * time.Minute, Len: 13}, {Width: time.Hour, Len: 24}}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(key string, at time.Time) error {
		_, err := s.AddCounts(ctx, store.CountRequest{Key: key, Now: at, Add: []int64{1, 0, 1, 1}, Series: series})
		return err
	}
	b.Run(name+"/floor", func(b *testing.B) {
		for b.Loop() {
			if err := floorScript.Run(ctx, c, []string{"k"}).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/issue", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Issue(ctx, store.IssueRequest{Key: "i" + strconv.Itoa(i), Digest: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Minute}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/counts-new", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if err := add("n"+strconv.Itoa(i), base); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/counts-warm", func(b *testing.B) {
		for h := range 24 * 12 * 2 { // fill every slot of every ring
			if err := add("warm", base.Add(time.Duration(h)*30*time.Second*5)); err != nil {
				b.Fatal(err)
			}
		}
		at := base.Add(24 * time.Hour)
		for b.Loop() {
			if err := add("warm", at); err != nil {
				b.Fatal(err)
			}
		}
	})
}
