package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store"
)

var (
	_ store.FallbackStore = (*Store)(nil)
	_ store.FallbackQueue = (*Store)(nil)
)

// fallbackSQLs are the statements of Fallback and of the FallbackQueue
// methods, for the schema q.
type fallbackSQLs struct {
	fallback, schedule, cancel, claim string
}

func newFallbackSQLs(q string) fallbackSQLs {
	return fallbackSQLs{
		fallback: expand(`SELECT outcome, reason, limit_index, retry_us, attempts, expires_us, sealed
			FROM {S}.fallback($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, q),
		// $2: delay, $3: store.QueueTTL, both in microseconds.
		schedule: expand(`INSERT INTO {S}.fallback_queue AS f (ref, due_at, forget_at)
			VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond', clock_timestamp() + $3 * interval '1 microsecond')
			ON CONFLICT (ref) DO UPDATE SET due_at = excluded.due_at, forget_at = excluded.forget_at`, q),
		cancel: expand(`DELETE FROM {S}.fallback_queue WHERE ref = $1`, q),
		// Claim locks up to $1 due refs, skipping those a concurrent Claim
		// holds; a ref another Claim leased after this statement began is
		// re-checked once its lock is granted (READ COMMITTED re-evaluates
		// a locked row's condition on its newest version) and left out.
		// $2: lease, $3: store.QueueTTL, both in microseconds.
		claim: expand(`WITH due AS (
				SELECT ref, due_at FROM {S}.fallback_queue
				WHERE due_at <= clock_timestamp() AND forget_at > clock_timestamp()
				ORDER BY due_at, ref LIMIT $1 FOR UPDATE SKIP LOCKED
			), leased AS (
				UPDATE {S}.fallback_queue f SET
					due_at = clock_timestamp() + $2 * interval '1 microsecond',
					forget_at = clock_timestamp() + $3 * interval '1 microsecond'
				FROM due WHERE f.ref = due.ref
				RETURNING f.ref, due.due_at
			)
			SELECT ref FROM leased ORDER BY due_at, ref`, q),
	}
}

// Fallback implements store.FallbackStore: one call of the schema's
// fallback function. The mark of a taken code is the request's Tag and the
// furthest Step taken, kept in the code's row and cleared with the code.
// The Tag is compared with bytea equality inside PostgreSQL.
func (s *Store) Fallback(ctx context.Context, req store.FallbackRequest) (store.FallbackResult, error) {
	if err := req.Validate(); err != nil {
		return store.FallbackResult{}, wrap("fallback", err)
	}
	if err := ctx.Err(); err != nil {
		return store.FallbackResult{}, wrap("fallback", err)
	}
	keys, maxes, windows := limitArrays(req.Limits)
	var (
		outcome, reason, index, attempts int32
		retry, expires                   int64
		sealed                           []byte
	)
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, s.fb.fallback,
			[]byte(req.Key), scopeTag(req.Scope), clientTag(req.Client), req.Tag,
			us(req.Cooldown), us(req.SendWindow), int64(req.SendsPerWindow), int64(req.MaxFailures), int64(req.FailureCeiling),
			keys, maxes, windows, int32(min(max(req.Step, 0), store.MaxStep)), //nolint:gosec // 0..MaxStep, Validate refused the rest
		).Scan(&outcome, &reason, &index, &retry, &attempts, &expires, &sealed)
	})
	if err != nil {
		return store.FallbackResult{}, wrap("fallback", err)
	}
	res := store.FallbackResult{Outcome: store.FallbackOutcome(outcome)}
	switch res.Outcome {
	case store.FallbackTaken:
		if len(sealed) == 0 {
			return store.FallbackResult{}, fmt.Errorf("pgstore: fallback: taken without a sealed value")
		}
		res.Sealed, res.Attempts, res.ExpiresIn = sealed, int(attempts), fromUS(expires)
	case store.FallbackLimited:
		res.Reason, res.LimitIndex, res.RetryAfter = store.LimitReason(reason), int(index), fromUS(retry)
	case store.FallbackNotPending, store.FallbackSpent:
	default:
		return store.FallbackResult{}, fmt.Errorf("pgstore: fallback: unexpected outcome %d", outcome)
	}
	return res, nil
}

// Schedule implements store.FallbackQueue: one INSERT ... ON CONFLICT DO
// UPDATE, so scheduling a queued ref moves its due time.
func (s *Store) Schedule(ctx context.Context, ref string, delay time.Duration) error {
	if err := store.ValidateRef(ref); err != nil {
		return wrap("schedule", err)
	}
	if delay < 0 {
		return wrap("schedule", fmt.Errorf("%w: negative delay", store.ErrInvalidRequest))
	}
	if err := ctx.Err(); err != nil {
		return wrap("schedule", err)
	}
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		_, err := c.Exec(ctx, s.fb.schedule, []byte(ref), us(delay), us(store.QueueTTL))
		return err
	})
	if err != nil {
		return wrap("schedule", err)
	}
	return nil
}

// Cancel implements store.FallbackQueue: one DELETE.
func (s *Store) Cancel(ctx context.Context, ref string) error {
	if err := store.ValidateRef(ref); err != nil {
		return wrap("cancel", err)
	}
	if err := ctx.Err(); err != nil {
		return wrap("cancel", err)
	}
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		_, err := c.Exec(ctx, s.fb.cancel, []byte(ref))
		return err
	})
	if err != nil {
		return wrap("cancel", err)
	}
	return nil
}

// Claim implements store.FallbackQueue: one statement that leases up to
// max due refs, earliest first. Concurrent Claims skip each other's refs
// (FOR UPDATE SKIP LOCKED), so no two return one ref within a lease.
func (s *Store) Claim(ctx context.Context, max int, lease time.Duration) ([]string, error) {
	if err := store.ValidateClaim(max, lease); err != nil {
		return nil, wrap("claim", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("claim", err)
	}
	var refs []string
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		rows, err := c.Query(ctx, s.fb.claim, int64(max), us(lease), us(store.QueueTTL))
		if err != nil {
			return err
		}
		defer rows.Close()
		refs = refs[:0]
		for rows.Next() {
			var ref []byte
			if err := rows.Scan(&ref); err != nil {
				return err
			}
			refs = append(refs, string(ref))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap("claim", err)
	}
	return refs, nil
}
