package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store"
)

// DefaultSchema is the schema the Store's tables and functions live in when
// no WithSchema option is given.
const DefaultSchema = "go2fa"

// DefaultSweepInterval is the default interval of the background sweep.
const DefaultSweepInterval = time.Minute

// DefaultSweepBatch is the default number of rows one sweep statement
// deletes.
const DefaultSweepBatch = 500

// schemaName is what WithSchema accepts: a lower-case SQL identifier that
// needs no quoting and fits PostgreSQL's 63-byte limit.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

var _ store.Store = (*Store)(nil)

// Store is a store.Store kept in PostgreSQL. Create one with New, after
// Migrate has created its schema.
//
// A Store is safe for concurrent use by multiple goroutines, and by multiple
// processes sharing one database and one schema. It does not own its pool:
// closing the pool is the caller's job. Close stops the background sweep.
type Store struct {
	pool  *pgxpool.Pool
	batch int

	issueSQL, checkSQL, withdrawSQL, attemptSQL string
	fb                                          fallbackSQLs
	cs                                          codeSetSQLs
	sweepSQL                                    [6]string

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// ErrInvalidOption is wrapped by the error New and Migrate return for an
// option with an invalid value; the message names the option.
var ErrInvalidOption = errors.New("pgstore: invalid option")

// Option configures a Store in New (and the schema in Migrate). An option
// only records its value; New and Migrate check it.
type Option func(*options)

type options struct {
	schema string
	sweep  time.Duration
	batch  int
}

// WithSchema sets the schema that holds the Store's tables and functions,
// so several applications (or tests) can share one database. It must be a
// lower-case identifier: a letter or underscore, then up to 62 letters,
// digits or underscores. The default value is DefaultSchema, "go2fa".
func WithSchema(schema string) Option {
	return func(o *options) { o.schema = schema }
}

// WithSweepInterval sets how often the background sweep deletes dead rows.
// A value <= 0 disables it (dead rows are still ignored, and a row is
// deleted when an operation touches it; call Sweep to remove the rest). The
// default value is DefaultSweepInterval (one minute).
func WithSweepInterval(d time.Duration) Option {
	return func(o *options) { o.sweep = d }
}

// WithSweepBatch sets how many rows one sweep statement deletes at most;
// each statement is its own short transaction, so a sweep never holds many
// locks for long. It must be positive. The default value is
// DefaultSweepBatch (500).
func WithSweepBatch(n int) Option {
	return func(o *options) { o.batch = n }
}

// configure applies opts over the defaults and checks the result.
func configure(opts []Option) (options, error) {
	o := options{schema: DefaultSchema, sweep: DefaultSweepInterval, batch: DefaultSweepBatch}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if !schemaName.MatchString(o.schema) {
		return o, fmt.Errorf("%w: WithSchema: the schema must match [a-z_][a-z0-9_]{0,62}", ErrInvalidOption)
	}
	if o.batch <= 0 {
		return o, fmt.Errorf("%w: WithSweepBatch: the batch must be positive", ErrInvalidOption)
	}
	return o, nil
}

// New returns a Store that keeps its state in the schema (see WithSchema)
// that Migrate created, through pool. It does not contact the database.
// Unless disabled with WithSweepInterval, it starts a background sweep;
// stop it with Close.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	q := quoteIdent(c.schema)
	s := &Store{
		pool:  pool,
		batch: c.batch,
		issueSQL: expand(`SELECT outcome, reason, limit_index, retry_us, attempts, expires_us, sealed
			FROM {S}.issue($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, q),
		checkSQL:   expand(`SELECT status, remaining FROM {S}.check_code($1, $2, $3, $4, $5, $6, $7, $8)`, q),
		attemptSQL: expand(`SELECT status, remaining, retry_us FROM {S}.attempt($1, $2, $3, $4, $5)`, q),
		// Withdraw is one statement: it keeps code_until and attempts, so
		// they carry over to the next code.
		// It locks the destination's row first, as every other operation
		// does, so that it waits for one in progress on the key.
		withdrawSQL: expand(`WITH d AS (SELECT 1 FROM {S}.dest WHERE key = $1 FOR UPDATE)
			UPDATE {S}.dest_code SET digest = NULL, sealed = NULL, taken = NULL
			WHERE key = $1 AND scope = $2 AND digest = $3 AND code_until > clock_timestamp() AND EXISTS (SELECT 1 FROM d)`, q),
		fb:   newFallbackSQLs(q),
		cs:   newCodeSetSQLs(q),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	// Each sweep statement deletes at most $1 dead rows, skipping rows an
	// operation holds (it will rewrite or delete them itself).
	for i, sql := range [...]string{
		`DELETE FROM {S}.dest WHERE key IN (
			SELECT key FROM {S}.dest WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM {S}.dest_code WHERE (key, scope) IN (
			SELECT key, scope FROM {S}.dest_code WHERE code_until <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM {S}.marker WHERE (key, marker) IN (
			SELECT key, marker FROM {S}.marker WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM {S}.limit_counter WHERE key IN (
			SELECT key FROM {S}.limit_counter WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM {S}.code_set WHERE key IN (
			SELECT key FROM {S}.code_set WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM {S}.fallback_queue WHERE ref IN (
			SELECT ref FROM {S}.fallback_queue WHERE forget_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
	} {
		s.sweepSQL[i] = expand(sql, q)
	}
	if c.sweep <= 0 {
		close(s.done)
		return s, nil
	}
	go s.sweepLoop(c.sweep)
	return s, nil
}

// Close stops the background sweep and waits for a sweep in progress to
// end. It is safe to call more than once and from several goroutines; it
// always returns nil. The Store stays usable after Close, without the
// background sweep; the pool is not closed.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *Store) sweepLoop(every time.Duration) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// An error (the database unreachable) is retried at the next
			// tick; dead rows are ignored by every operation meanwhile.
			_, _ = s.Sweep(ctx)
		}
	}
}

// Sweep deletes the rows whose every part has expired, in statements of at
// most the sweep batch size (see WithSweepBatch), and returns how many it
// deleted. Rows an operation holds are skipped. The background sweep calls
// it; tests and operators may too.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var total int64
	for _, q := range s.sweepSQL {
		for {
			tag, err := s.pool.Exec(ctx, q, s.batch)
			if err != nil {
				return total, fmt.Errorf("pgstore: sweep: %w", err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(s.batch) {
				break
			}
		}
	}
	return total, nil
}

// scopeTag is what the database holds of a Scope: its SHA-256, or an
// empty value (never NULL) for no Scope. The Scope itself is not stored.
func scopeTag(scope []byte) []byte {
	if len(scope) == 0 {
		return []byte{}
	}
	h := sha256.Sum256(scope)
	return h[:]
}

// clientTag is what the database holds of a client key: its SHA-256, or
// an empty value (never NULL) for the empty client key.
func clientTag(client string) []byte {
	if client == "" {
		return []byte{}
	}
	h := sha256.Sum256([]byte(client))
	return h[:]
}

// us converts d to whole microseconds, rounding up so that a positive
// duration never becomes zero.
func us(d time.Duration) int64 {
	return int64((d + time.Microsecond - 1) / time.Microsecond)
}

func fromUS(n int64) time.Duration { return time.Duration(n) * time.Microsecond }

func wrap(op string, err error) error { return fmt.Errorf("pgstore: %s: %w", op, err) }

// cancelTimeout bounds the cancel request run sends.
const cancelTimeout = 5 * time.Second

// run runs fn on a connection of the pool. When ctx ends while fn runs, it
// also sends PostgreSQL a cancel request for the statement, and then
// discards the connection. pgx's default reaction to a done context is to
// close the connection, and a backend waiting for a row lock does not notice
// a closed connection: it would carry out the statement once the lock is
// free, after the caller was told it failed. The cancel request makes the
// statement roll back instead, unless it has already committed. The
// connection is not reused, so the cancel cannot hit a later statement.
func (s *Store) run(ctx context.Context, fn func(c *pgxpool.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	if ctx.Done() == nil {
		defer c.Release()
		return fn(c)
	}
	pg := c.Conn().PgConn()
	sendCancel := func() {
		cctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
		defer cancel()
		_ = pg.CancelRequest(cctx) // best effort: the server may be gone
	}
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		sendCancel()
	})
	err = fn(c)
	if stop() {
		if ctx.Err() == nil {
			c.Release()
			return err
		}
		// pgx saw the context end and gave up before the AfterFunc ran:
		// the statement may still be waiting on the server.
		sendCancel()
	} else {
		<-cancelled
	}
	cctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	_ = c.Hijack().Close(cctx)
	return err
}

// limitArrays splits limits into the three arrays the issue and fallback
// functions take: keys, maxes and windows (microseconds).
func limitArrays(limits []store.Limit) (keys [][]byte, maxes, windows []int64) {
	keys, maxes, windows = make([][]byte, len(limits)), make([]int64, len(limits)), make([]int64, len(limits))
	for i, l := range limits {
		keys[i], maxes[i], windows[i] = []byte(l.Key), int64(l.Max), us(l.Window)
	}
	return keys, maxes, windows
}

// Issue implements store.Store: one call of the schema's issue function.
func (s *Store) Issue(ctx context.Context, req store.IssueRequest) (store.IssueResult, error) {
	if err := req.Validate(); err != nil {
		return store.IssueResult{}, wrap("issue", err)
	}
	if err := ctx.Err(); err != nil {
		return store.IssueResult{}, wrap("issue", err)
	}
	keys, maxes, windows := limitArrays(req.Limits)
	var (
		outcome, reason, index, attempts int32
		retry, expires                   int64
		kept                             []byte
	)
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, s.issueSQL,
			[]byte(req.Key), req.Digest, req.Sealed, scopeTag(req.Scope), clientTag(req.Client), req.KeepPending,
			us(req.TTL), us(req.Cooldown), us(req.SendWindow), int64(req.SendsPerWindow), int64(req.MaxFailures), int64(req.FailureCeiling),
			keys, maxes, windows,
		).Scan(&outcome, &reason, &index, &retry, &attempts, &expires, &kept)
	})
	if err != nil {
		return store.IssueResult{}, wrap("issue", err)
	}
	res := store.IssueResult{
		Outcome:    store.IssueOutcome(outcome),
		Reason:     store.LimitReason(reason),
		LimitIndex: int(index),
		RetryAfter: fromUS(retry),
		Attempts:   int(attempts),
		ExpiresIn:  fromUS(expires),
	}
	switch res.Outcome {
	case store.Issued:
		if expires == us(req.TTL) {
			res.ExpiresIn = req.TTL // exact, not rounded to microseconds
		}
	case store.Reused:
		res.Sealed = kept
	case store.Limited:
	default:
		return store.IssueResult{}, fmt.Errorf("pgstore: issue: unexpected outcome %d", outcome)
	}
	return res, nil
}

// Check implements store.Store: one call of the schema's check_code
// function. Digests are compared with bytea equality inside PostgreSQL; a
// digest is an HMAC under a secret the database never sees, so its timing
// cannot guide a guesser.
func (s *Store) Check(ctx context.Context, req store.CheckRequest) (store.CheckResult, error) {
	if err := req.Validate(); err != nil {
		return store.CheckResult{}, wrap("check", err)
	}
	if err := ctx.Err(); err != nil {
		return store.CheckResult{}, wrap("check", err)
	}
	var status, remaining int32
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, s.checkSQL,
			[]byte(req.Key), req.Digest, scopeTag(req.Scope), clientTag(req.Client),
			int64(req.MaxAttempts), int64(req.MaxFailures), int64(req.FailureCeiling), us(req.FailureWindow),
		).Scan(&status, &remaining)
	})
	if err != nil {
		return store.CheckResult{}, wrap("check", err)
	}
	res := store.CheckResult{Status: store.CheckStatus(status), Remaining: int(remaining)}
	switch res.Status {
	case store.Approved, store.Rejected, store.Expired, store.Locked:
		return res, nil
	}
	return store.CheckResult{}, fmt.Errorf("pgstore: check: unexpected status %d", status)
}

// Withdraw implements store.Store: one UPDATE statement.
func (s *Store) Withdraw(ctx context.Context, key string, scope, digest []byte) error {
	switch {
	case key == "":
		return wrap("withdraw", fmt.Errorf("%w: empty key", store.ErrInvalidRequest))
	case len(digest) == 0:
		return wrap("withdraw", fmt.Errorf("%w: empty digest", store.ErrInvalidRequest))
	}
	if err := ctx.Err(); err != nil {
		return wrap("withdraw", err)
	}
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		_, err := c.Exec(ctx, s.withdrawSQL, []byte(key), scopeTag(scope), digest)
		return err
	})
	if err != nil {
		return wrap("withdraw", err)
	}
	return nil
}

// Attempt implements store.Store: one call of the schema's attempt
// function.
func (s *Store) Attempt(ctx context.Context, req store.AttemptRequest) (store.AttemptResult, error) {
	if err := req.Validate(); err != nil {
		return store.AttemptResult{}, wrap("attempt", err)
	}
	if err := ctx.Err(); err != nil {
		return store.AttemptResult{}, wrap("attempt", err)
	}
	var marker []byte // NULL: a wrong code
	if req.Marker != "" {
		marker = []byte(req.Marker)
	}
	var status, remaining int32
	var retry int64
	err := s.run(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, s.attemptSQL,
			[]byte(req.Key), marker, us(req.MarkerTTL), int64(req.MaxFailures), us(req.FailureWindow),
		).Scan(&status, &remaining, &retry)
	})
	if err != nil {
		return store.AttemptResult{}, wrap("attempt", err)
	}
	res := store.AttemptResult{Status: store.CheckStatus(status), Remaining: int(remaining), RetryAfter: fromUS(retry)}
	switch res.Status {
	case store.Approved, store.Rejected, store.Locked, store.Replayed:
		return res, nil
	}
	return store.AttemptResult{}, fmt.Errorf("pgstore: attempt: unexpected status %d", status)
}
