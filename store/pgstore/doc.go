// Package pgstore is a store.Store kept in PostgreSQL, on
// github.com/jackc/pgx/v5 (a *pgxpool.Pool), for services that run on
// PostgreSQL and have no Redis. A Store is also a store.FallbackStore, a
// store.FallbackQueue and a store.CodeSets.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	if err := pgstore.Migrate(ctx, pool); err != nil { ... }
//	st, err := pgstore.New(pool)
//	...
//	defer st.Close()
//
// # Schema
//
// Migrate creates a schema (DefaultSchema, "go2fa", or the one WithSchema
// names) holding seven tables and the functions that operate on them:
// dest, one row per destination (its failure counter and run, its send
// count, each with its own end time); dest_code, one row per destination
// and Scope with a code (digest, Sealed value, Scope hash, fallback mark,
// expiry, attempts); dest_client, one row per destination and client key
// (the client key's hash, its cooldown, send window and failures in the
// run); marker, the accepted Attempt markers; limit_counter, the extra
// limits; fallback_queue, the FallbackQueue's refs; and code_set, one row
// per owner of a code set (its digests and its own failure counter). A
// destination's code and client rows go with its dest row (ON DELETE
// CASCADE). Migrate is idempotent and safe to run from several instances
// at once: it takes a transaction-level advisory lock on the schema's
// name, creates what is missing and replaces the functions. Run it at
// every start, or once per deployment. Once the schema exists, its owner
// can migrate it without the right to create schemas in the database.
// Migrate upgrades a schema an earlier version created, keeping its state
// (a schema of versions 1 to 3 kept one code per destination in dest: it
// moves to dest_code, and the send limits and failures to the empty client
// key's dest_client row), and drops the functions whose signatures
// changed: after it runs, instances of the earlier version get errors from
// Issue and Check until they are restarted on this one.
//
// The database holds no code and no phone number: keys are the opaque
// keys the caller derives with an HMAC, digests are the caller's HMACs, and
// the Sealed value is the caller's encrypted blob, all stored as bytea, the
// same values the other stores keep. A code's Scope and a client key are
// stored only as their SHA-256.
//
// # One round trip, one transaction
//
// Issue, Check, Attempt, Fallback, ReplaceCodes and RedeemCode are each one
// call of a PL/pgSQL function the schema holds (SELECT ... FROM
// go2fa.check_code($1, ...)); Withdraw, Schedule, Cancel, Claim and
// CountCodes are one SQL statement each. Each runs as one statement in its
// own implicit transaction: no
// transaction is held open across round trips, and nothing is read by the
// application and written back. pgx prepares each statement once per
// connection, so after the first call on a connection every operation is one
// round trip.
//
// Every function first locks the destination's row if there is one
// (SELECT ... FOR UPDATE; Withdraw's statement does the same); a call
// that finds none and must write one inserts it, and a concurrent insert of
// the same key waits for it and then judges again against that row (an
// Attempt's marker is likewise one row under a unique key). So calls on one
// key run one after another under PostgreSQL's default READ COMMITTED
// isolation: of any
// number of concurrent right Checks exactly one approves, and no more than
// MaxAttempts wrong guesses are ever counted against one code. Locks are
// taken in one order (a destination row, then its code and client rows,
// then its markers or the extra limits in key order), so calls never
// deadlock. Time comes from the
// database's clock (clock_timestamp(), read once the row is locked), so
// application servers with skewed clocks agree.
//
// # Expiry and the sweep
//
// Every part of a row carries its end time, and a part whose time has
// passed counts as absent. A call that touches a row with nothing alive
// left in it deletes the row. The rest are deleted by a sweep that New
// starts (every DefaultSweepInterval; see WithSweepInterval): each sweep
// statement deletes at most WithSweepBatch rows whose expires_at has passed,
// skipping rows another call holds (FOR UPDATE SKIP LOCKED), so it never
// holds many locks or holds them long. Close stops it.
//
// # Failures
//
// Every error is wrapped ("pgstore: check: ...") and keeps pgx's error (a
// *pgconn.PgError with its SQLSTATE, a network error, context.Canceled or
// context.DeadlineExceeded) visible to errors.Is and errors.As. A statement
// that fails rolls back whole: nothing is approved, counted or charged.
// When a call's context ends while its statement runs (for instance while
// it waits for a row another call holds), the Store sends PostgreSQL a
// cancel request and discards the connection, so the statement rolls back
// instead of running after the caller has been told it failed; only a
// statement that had already committed when the context ended keeps its
// effect (its reply is lost). The durability of a change is the server's:
// with synchronous_commit on (PostgreSQL's default), an approval, a counted
// guess or a charged send that was reported survives a crash of the
// database. Turning synchronous_commit off for the Store's connections
// speeds writes up, but a crash may then forget the last approvals, and a
// code it forgets having consumed could be used again.
//
// Digests, Scopes and fallback Tags are compared with bytea equality inside
// PostgreSQL. A digest is an HMAC under a secret the database never sees,
// so its timing cannot guide a guesser; a Scope is compared as a hash; a
// Tag is a random prefix of a Sealed value the caller already holds.
//
// Tested with PostgreSQL 15.
package pgstore
