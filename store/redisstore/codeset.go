package redisstore

import (
	"context"
	"fmt"

	"github.com/go2fa/go2fa/store"
)

// Code sets (store.CodeSets) use two keys per owner K, beside the
// destination's keys and in the same hash slot:
//
//	P:{K}:r   set: the fingerprints of the unredeemed codes (16 bytes of
//	          the SHA-256 of each digest); expires with the set
//	P:{K}:rf  string: the failure counter; expires FailureWindow after its
//	          first increment
//
// ReplaceCodes and RedeemCode are one script each, CountCodes one SCARD.

var _ store.CodeSets = (*Store)(nil)

// codeKeys returns the set and failure-counter keys of owner key.
func (s *Store) codeKeys(key string) (set, failures string) {
	failures = s.prefix + ":{" + key + "}:rf"
	return failures[:len(failures)-1], failures
}

// ReplaceCodes implements store.CodeSets with one EVALSHA.
func (s *Store) ReplaceCodes(ctx context.Context, req store.ReplaceCodesRequest) error {
	const op = "replace codes"
	if err := begin(ctx, op, req.Validate()); err != nil {
		return err
	}
	set, _ := s.codeKeys(req.Key)
	args := make([]any, 0, 1+len(req.Digests))
	args = append(args, msec(req.TTL))
	seen := make(map[string]bool, len(req.Digests))
	for _, d := range req.Digests {
		fp := fingerprint(d)
		if seen[string(fp)] {
			// Distinct digests, equal fingerprints: a SHA-256 collision
			// on 128 bits. Refuse rather than keep a smaller set.
			return fmt.Errorf("redisstore: %s: %w: digests share a fingerprint", op, store.ErrInvalidRequest)
		}
		seen[string(fp)] = true
		args = append(args, fp)
	}
	if err := replaceCodesScript.Run(ctx, s.client, []string{set}, args...).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// RedeemCode implements store.CodeSets with one EVALSHA. The candidate's
// fingerprint is looked up in a Redis set (a hash lookup, not a
// constant-time comparison); the fingerprint is a hash of an HMAC under a
// secret Redis never sees, so the lookup's timing tells a guesser nothing
// about any code.
func (s *Store) RedeemCode(ctx context.Context, req store.RedeemCodeRequest) (store.RedeemCodeResult, error) {
	const op = "redeem code"
	if err := begin(ctx, op, req.Validate()); err != nil {
		return store.RedeemCodeResult{}, err
	}
	set, failures := s.codeKeys(req.Key)
	v, err := redeemCodeScript.Run(ctx, s.client, []string{set, failures},
		fingerprint(req.Digest), req.MaxFailures, msec(req.FailureWindow)).Result()
	if err != nil {
		return store.RedeemCodeResult{}, fail(ctx, op, err)
	}
	n, _, err := reply(v, 4, false)
	if err != nil {
		return store.RedeemCodeResult{}, fail(ctx, op, err)
	}
	res := store.RedeemCodeResult{Status: store.CheckStatus(n[0]), Remaining: int(n[1]), Left: int(n[2]), RetryAfter: dur(n[3])}
	switch res.Status {
	case store.Approved, store.Rejected, store.Locked:
	default:
		return store.RedeemCodeResult{}, fail(ctx, op, errReply)
	}
	return res, nil
}

// CountCodes implements store.CodeSets with one SCARD.
func (s *Store) CountCodes(ctx context.Context, key string) (int, error) {
	const op = "count codes"
	if key == "" {
		return 0, fmt.Errorf("redisstore: %s: %w: empty key", op, store.ErrInvalidRequest)
	}
	if err := ctx.Err(); err != nil {
		return 0, fail(ctx, op, err)
	}
	set, _ := s.codeKeys(key)
	n, err := s.client.SCard(ctx, set).Result()
	if err != nil {
		return 0, fail(ctx, op, err)
	}
	return int(n), nil
}
