package memstore

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go2fa/go2fa/store"
)

var _ store.CodeSets = (*Store)(nil)

// codeSets holds every code set of a Store under one lock: code sets are
// redeemed rarely (a user who lost a phone), so one lock costs nothing
// against the sharded hot path of Check.
type codeSets struct {
	mu sync.Mutex
	m  map[string]*codeSet
}

// get returns key's set, creating an empty one. The caller holds cs.mu.
func (cs *codeSets) get(key string) *codeSet {
	c := cs.m[key]
	if c == nil {
		c = &codeSet{}
		cs.m[strings.Clone(key)] = c
	}
	return c
}

// codeSet is one key's set and its failure counter. Times are nanoseconds
// since Store.base; a zero or past expiry means "absent".
type codeSet struct {
	digests  [][]byte
	exp      int64
	failures int32
	failExp  int64
}

func newCodeSets() *codeSets { return &codeSets{m: make(map[string]*codeSet)} }

// deadline is the time after which nothing in c is alive.
func (c *codeSet) deadline() int64 {
	if len(c.digests) == 0 {
		return c.failExp
	}
	return max(c.exp, c.failExp)
}

// live returns the unexpired digests of c at now, forgetting expired ones.
func (c *codeSet) live(now int64) [][]byte {
	if c.exp <= now {
		c.digests = nil
	}
	return c.digests
}

func (c *codeSet) failCount(now int64) int64 {
	if c.failExp <= now {
		return 0
	}
	return int64(c.failures)
}

// ReplaceCodes implements store.CodeSets.
func (s *Store) ReplaceCodes(ctx context.Context, req store.ReplaceCodesRequest) error {
	if err := s.begin(ctx, req.Validate()); err != nil {
		return err
	}
	ds := make([][]byte, len(req.Digests))
	for i, d := range req.Digests {
		ds[i] = append([]byte(nil), d...)
	}
	cs := s.codes
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := s.now()
	c := cs.get(req.Key)
	c.digests, c.exp = ds, now+int64(req.TTL)
	return nil
}

// RedeemCode implements store.CodeSets. Every digest of the set is
// compared, in constant time, whatever the outcome.
func (s *Store) RedeemCode(ctx context.Context, req store.RedeemCodeRequest) (store.RedeemCodeResult, error) {
	if err := s.begin(ctx, req.Validate()); err != nil {
		return store.RedeemCodeResult{}, err
	}
	cs := s.codes
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := s.now()
	c := cs.get(req.Key)
	ds := c.live(now)
	limit := int64(req.MaxFailures)
	if c.failCount(now) >= limit {
		return store.RedeemCodeResult{Status: store.Locked, Left: len(ds), RetryAfter: time.Duration(c.failExp - now)}, nil
	}
	found := -1
	for i, d := range ds {
		if subtle.ConstantTimeCompare(d, req.Digest) == 1 {
			found = i
		}
	}
	if found >= 0 {
		last := len(ds) - 1
		ds[found] = ds[last]
		ds[last] = nil
		c.digests = ds[:last]
		c.failures, c.failExp = 0, 0
		return store.RedeemCodeResult{Status: store.Approved, Left: len(c.digests)}, nil
	}
	if c.failExp <= now {
		c.failures, c.failExp = 0, now+int64(req.FailureWindow)
	}
	inc(&c.failures)
	if f := int64(c.failures); f < limit {
		return store.RedeemCodeResult{Status: store.Rejected, Remaining: int(limit - f), Left: len(ds)}, nil
	}
	return store.RedeemCodeResult{Status: store.Locked, Left: len(ds), RetryAfter: time.Duration(c.failExp - now)}, nil
}

// CountCodes implements store.CodeSets.
func (s *Store) CountCodes(ctx context.Context, key string) (int, error) {
	var invalid error
	if key == "" {
		invalid = fmt.Errorf("%w: empty key", store.ErrInvalidRequest)
	}
	if err := s.begin(ctx, invalid); err != nil {
		return 0, err
	}
	cs := s.codes
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.m[key]
	if c == nil {
		return 0, nil
	}
	return len(c.live(s.now())), nil
}

// sweepCodes removes the code sets with nothing alive at now.
func (s *Store) sweepCodes() {
	cs := s.codes
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := s.now()
	for k, c := range cs.m {
		if c.deadline() <= now {
			delete(cs.m, k)
		}
	}
}

// CodeSetLen reports the number of keys with a code set or a code-set
// failure counter the Store holds, including expired ones the sweeper has
// not removed yet. It is meant for tests and metrics.
func (s *Store) CodeSetLen() int {
	cs := s.codes
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.m)
}
