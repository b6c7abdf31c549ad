package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store"
)

var _ store.CodeSets = (*Store)(nil)

// codeSetSQLs are the statements of the store.CodeSets methods, for the
// schema q.
type codeSetSQLs struct {
	replace, redeem, count string
}

func newCodeSetSQLs(q string) codeSetSQLs {
	return codeSetSQLs{
		replace: expand(`SELECT {S}.replace_codes($1, $2, $3)`, q),
		redeem:  expand(`SELECT status, remaining, left_, retry_us FROM {S}.redeem_code($1, $2, $3, $4)`, q),
		count: expand(`SELECT coalesce((SELECT cardinality(digests) FROM {S}.code_set
			WHERE key = $1 AND set_until > clock_timestamp()), 0)`, q),
	}
}

// ReplaceCodes implements store.CodeSets: one call of the schema's
// replace_codes function, which writes the whole set in one row.
func (s *Store) ReplaceCodes(ctx context.Context, req store.ReplaceCodesRequest) error {
	if err := req.Validate(); err != nil {
		return wrap("replace codes", err)
	}
	if err := ctx.Err(); err != nil {
		return wrap("replace codes", err)
	}
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		_, err := c.Exec(ctx, s.cs.replace, []byte(req.Key), req.Digests, us(req.TTL))
		return err
	})
	if err != nil {
		return wrap("replace codes", err)
	}
	return nil
}

// RedeemCode implements store.CodeSets: one call of the schema's
// redeem_code function. The candidate is compared with bytea equality
// inside PostgreSQL; a digest is a keyed hash under a secret the database
// never sees, so its timing cannot guide a guesser.
func (s *Store) RedeemCode(ctx context.Context, req store.RedeemCodeRequest) (store.RedeemCodeResult, error) {
	if err := req.Validate(); err != nil {
		return store.RedeemCodeResult{}, wrap("redeem code", err)
	}
	if err := ctx.Err(); err != nil {
		return store.RedeemCodeResult{}, wrap("redeem code", err)
	}
	var status, remaining, left int32
	var retry int64
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, s.cs.redeem, []byte(req.Key), req.Digest, int64(req.MaxFailures), us(req.FailureWindow)).
			Scan(&status, &remaining, &left, &retry)
	})
	if err != nil {
		return store.RedeemCodeResult{}, wrap("redeem code", err)
	}
	res := store.RedeemCodeResult{Status: store.CheckStatus(status), Remaining: int(remaining), Left: int(left)}
	switch res.Status {
	case store.Approved, store.Rejected:
	case store.Locked:
		res.RetryAfter = fromUS(retry)
	default:
		return store.RedeemCodeResult{}, fmt.Errorf("pgstore: redeem code: unexpected status %d", status)
	}
	return res, nil
}

// CountCodes implements store.CodeSets: one SELECT.
func (s *Store) CountCodes(ctx context.Context, key string) (int, error) {
	if key == "" {
		return 0, wrap("count codes", fmt.Errorf("%w: empty key", store.ErrInvalidRequest))
	}
	if err := ctx.Err(); err != nil {
		return 0, wrap("count codes", err)
	}
	var n int32
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, s.cs.count, []byte(key)).Scan(&n)
	})
	if err != nil {
		return 0, wrap("count codes", err)
	}
	return int(n), nil
}
