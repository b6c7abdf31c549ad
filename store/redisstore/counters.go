package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
)

//go:embed counters.lua
var countersLua string

var countersScript = redis.NewScript(countersLua)

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
// and the whole hash is returned (a few hundred fields at most). A read
// (every delta zero) writes nothing. It is safe for concurrent use.
func (s *Store) AddCounts(ctx context.Context, req store.CountRequest) (store.Counts, error) {
	const op = "counts"
	if err := req.Validate(); err != nil {
		return store.Counts{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return store.Counts{}, fail(ctx, op, err)
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
	type slotKey struct{ s, slot int }
	ids := make(map[slotKey]int64)
	vals := make(map[slotKey][]int64)
	for i := 0; i < len(flat); i += 2 {
		name, _ := flat[i].(string)
		str, _ := flat[i+1].(string)
		n, err := strconv.ParseInt(str, 10, 64)
		parts := strings.Split(name, ".")
		if err != nil || len(parts) < 2 || len(parts) > 3 {
			return store.Counts{}, fmt.Errorf("redisstore: %s: malformed counter field", op)
		}
		se, err1 := strconv.Atoi(parts[0])
		slot, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || se < 0 || se >= len(req.Series) || slot < 0 || slot >= req.Series[se].Len {
			continue // another shape's field: not ours to read
		}
		k := slotKey{se, slot}
		if len(parts) == 2 {
			ids[k] = n
			continue
		}
		f, err := strconv.Atoi(parts[2])
		if err != nil || f < 0 || f >= len(req.Add) {
			continue
		}
		if vals[k] == nil {
			vals[k] = make([]int64, len(req.Add))
		}
		vals[k][f] = n
	}
	out := store.NewCounts(req)
	for i, se := range req.Series {
		for age := 0; age < se.Len && buckets[i]-int64(age) >= 0; age++ {
			want := buckets[i] - int64(age)
			k := slotKey{i, int(want % int64(se.Len))}
			if id, ok := ids[k]; ok && id == want && vals[k] != nil {
				copy(out.Values[i][age], vals[k])
			}
		}
	}
	return out, nil
}
