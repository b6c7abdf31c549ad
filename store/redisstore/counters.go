package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go2fa/go2fa/store"
)

var _ store.Counters = (*Store)(nil)

// countKey is the hash of one counter key: P:n:{K}. The hash tag keeps it in
// one Cluster slot; a counter key is one hash, so AddCounts is one script on
// one node.
func (s *Store) countKey(key string) string {
	return s.prefix + ":n:{" + key + "}"
}

// AddCounts implements store.Counters with one Lua script (one round trip):
// the ring slots of the current buckets are reset if they held an older
// bucket, the deltas are added with HINCRBY (only non-zero ones are
// stored), the hash's lifetime is set to the longest span of the series,
// and the script returns the hash: one field per ring slot, holding the
// slot's bucket number and values.
// A read (every delta zero) writes nothing. It is safe for concurrent use.
func (s *Store) AddCounts(ctx context.Context, req store.CountRequest) (store.Counts, error) {
	const op = "counts"
	if err := begin(ctx, op, req.Validate()); err != nil {
		return store.Counts{}, err
	}
	var span int64
	args := make([]any, 0, 3+2*len(req.Series)+len(req.Add))
	for _, se := range req.Series {
		span = max(span, msec(se.Span()))
	}
	args = append(args, span, len(req.Add), len(req.Series))
	buckets := make([]int64, len(req.Series))
	for i, se := range req.Series {
		b := se.Bucket(req.Now)
		buckets[i] = b
		args = append(args, b, b%int64(se.Len))
	}
	for _, d := range req.Add {
		args = append(args, d)
	}
	v, err := countersScript.Run(ctx, s.client, []string{s.countKey(req.Key)}, args...).Result()
	if err != nil {
		return store.Counts{}, fail(ctx, op, err)
	}
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return store.Counts{}, fmt.Errorf("redisstore: %s: unexpected reply %T", op, v)
	}
	out := store.NewCounts(req)
	for i := 0; i < len(flat); i += 2 {
		name, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		sStr, slotStr, _ := strings.Cut(name, ".")
		se, err1 := strconv.Atoi(sStr)
		slot, err2 := strconv.Atoi(slotStr)
		if err1 != nil || err2 != nil || se < 0 || se >= len(req.Series) || slot < 0 || slot >= req.Series[se].Len {
			continue // another shape's slot: not ours to read
		}
		idStr, rest, _ := strings.Cut(val, ",")
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			return store.Counts{}, fmt.Errorf("redisstore: %s: malformed counter slot", op)
		}
		age := buckets[se] - id
		if age < 0 || age >= int64(req.Series[se].Len) || id%int64(req.Series[se].Len) != int64(slot) {
			continue // a bucket outside the ring's span
		}
		vals := out.Values[se][age]
		for f := 0; f < len(vals) && rest != ""; f++ {
			var num string
			num, rest, _ = strings.Cut(rest, ",")
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return store.Counts{}, fmt.Errorf("redisstore: %s: malformed counter slot", op)
			}
			vals[f] = n
		}
	}
	return out, nil
}
