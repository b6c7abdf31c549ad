package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaVersion is the version of the tables Migrate creates. Migrate
// records it in the schema's version table; a database that holds a newer
// version is refused rather than downgraded.
const schemaVersion = 4

// migrateLockClass is the first key of the transaction-level advisory lock
// Migrate holds (the second is a hash of the schema name), so two instances
// that start at once migrate one after the other.
const migrateLockClass = 0x67326661 // "g2fa"

// tablesSQL creates the tables ({S} is the quoted schema). Every time is a
// timestamptz read from the database's clock; a NULL time means "not set".
//
// dest holds one row per destination (store.IssueRequest.Key), what is
// kept for the destination as a whole:
//
//	fail_count        the destination's failure counter (Check and
//	                  Attempt), ends at fail_until
//	run               the number of the current failure run: a failure
//	                  that finds fail_count lapsed starts a new one
//	send_count        sends to the destination from every client in the
//	                  window that ends at send_until
//	expires_at        at least the latest of every time of the destination,
//	                  its codes' and its clients': the row, and with it
//	                  (ON DELETE CASCADE) every dest_code and dest_client
//	                  row of the key, is dead after it
//
// dest_code holds one row per (destination, Scope) with a code:
//
//	scope             SHA-256 of store.IssueRequest.Scope, empty for none
//	digest, sealed    the pending code; digest NULL: withdrawn
//	code_until        the code's expiry; its attempts live until then, so
//	                  a withdrawn code passes them on to the next
//	attempts          wrong guesses against the code
//	taken, taken_step the store.FallbackRequest.Tag that took the code for
//	                  a re-send, and the furthest Step taken with it
//
// dest_client holds one row per (destination, client key) that sent or
// failed, until the destination's row goes:
//
//	client            SHA-256 of store.IssueRequest.Client, empty for none
//	cool_until        end of the client's cooldown
//	win_count         the client's sends in the window that ends at
//	                  win_until
//	fail_count        the client's failures in run fail_run (they count
//	                  while fail_run = dest.run and dest.fail_until has not
//	                  passed)
//	unapproved_until  end of the destination's send window in which the
//	                  client sent a code it has not had approved since
//	expires_at        the latest of its times
//
// marker holds the accepted Attempt markers, limit_counter the extra limits
// (store.Limit), each row with its own expires_at. The expires_at indexes
// let the sweep find dead rows without scanning. fallback_queue is the
// store.FallbackQueue: a ref is due at due_at (a lease moves it), and is
// forgotten at forget_at (store.QueueTTL after it was last scheduled or
// claimed). code_set holds the store.CodeSets: one row per owner, with
// the digests of the unredeemed codes (set_until: the set's end) and the
// code sets' own failure counter (fail_count, ending at fail_until).
//
// Schemas of versions 1 to 3 kept one code and the send limits in dest
// itself; legacySQL moves that state to dest_code and dest_client.
const tablesSQL = `
CREATE TABLE IF NOT EXISTS {S}.dest (
	key        bytea       PRIMARY KEY,
	fail_count integer     NOT NULL DEFAULT 0,
	fail_until timestamptz,
	expires_at timestamptz NOT NULL
) WITH (fillfactor = 80);
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS run bigint NOT NULL DEFAULT 0;
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS send_count integer NOT NULL DEFAULT 0;
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS send_until timestamptz;
CREATE INDEX IF NOT EXISTS dest_expires_at ON {S}.dest (expires_at);

CREATE TABLE IF NOT EXISTS {S}.dest_code (
	key        bytea       NOT NULL REFERENCES {S}.dest ON DELETE CASCADE,
	scope      bytea       NOT NULL,
	digest     bytea,
	sealed     bytea,
	code_until timestamptz NOT NULL,
	attempts   integer     NOT NULL DEFAULT 0,
	taken      bytea,
	taken_step integer     NOT NULL DEFAULT 0,
	PRIMARY KEY (key, scope)
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS dest_code_code_until ON {S}.dest_code (code_until);

CREATE TABLE IF NOT EXISTS {S}.dest_client (
	key              bytea       NOT NULL REFERENCES {S}.dest ON DELETE CASCADE,
	client           bytea       NOT NULL,
	cool_until       timestamptz,
	win_count        integer     NOT NULL DEFAULT 0,
	win_until        timestamptz,
	fail_count       integer     NOT NULL DEFAULT 0,
	fail_run         bigint      NOT NULL DEFAULT 0,
	unapproved_until timestamptz,
	expires_at       timestamptz NOT NULL,
	PRIMARY KEY (key, client)
) WITH (fillfactor = 80);

CREATE TABLE IF NOT EXISTS {S}.marker (
	key        bytea       NOT NULL,
	marker     bytea       NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (key, marker)
);
CREATE INDEX IF NOT EXISTS marker_expires_at ON {S}.marker (expires_at);

CREATE TABLE IF NOT EXISTS {S}.limit_counter (
	key        bytea       PRIMARY KEY,
	n          integer     NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS limit_counter_expires_at ON {S}.limit_counter (expires_at);

CREATE TABLE IF NOT EXISTS {S}.fallback_queue (
	ref       bytea       PRIMARY KEY,
	due_at    timestamptz NOT NULL,
	forget_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS fallback_queue_due_at ON {S}.fallback_queue (due_at);
CREATE INDEX IF NOT EXISTS fallback_queue_forget_at ON {S}.fallback_queue (forget_at);

CREATE TABLE IF NOT EXISTS {S}.code_set (
	key        bytea       PRIMARY KEY,
	digests    bytea[]     NOT NULL DEFAULT '{}',
	set_until  timestamptz,
	fail_count integer     NOT NULL DEFAULT 0,
	fail_until timestamptz,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS code_set_expires_at ON {S}.code_set (expires_at);
`

// legacySQL moves the state a schema of versions 1 to 3 kept in dest's own
// columns (a code without a client, the cooldown and send window of the
// empty client key) into dest_code and dest_client, makes the failures
// counted so far a run of the empty client key, and drops those columns.
// Migrate runs it when dest still has its digest column.
const legacySQL = `
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS scope bytea NOT NULL DEFAULT '';
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS taken bytea;
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS taken_step integer NOT NULL DEFAULT 0;
INSERT INTO {S}.dest_code (key, scope, digest, sealed, code_until, attempts, taken, taken_step)
	SELECT key, scope, digest, sealed, code_until, attempts, taken, taken_step
	FROM {S}.dest WHERE code_until > now()
	ON CONFLICT (key, scope) DO NOTHING;
INSERT INTO {S}.dest_client (key, client, cool_until, win_count, win_until, fail_count, fail_run, expires_at)
	SELECT key, '', CASE WHEN cool_until > now() THEN cool_until END,
		CASE WHEN win_until > now() THEN win_count ELSE 0 END, CASE WHEN win_until > now() THEN win_until END,
		CASE WHEN fail_until > now() THEN fail_count ELSE 0 END, 1,
		greatest(cool_until, win_until, fail_until)
	FROM {S}.dest WHERE greatest(cool_until, win_until, fail_until) > now()
	ON CONFLICT (key, client) DO NOTHING;
UPDATE {S}.dest SET run = 1 WHERE fail_until > now();
ALTER TABLE {S}.dest
	DROP COLUMN digest, DROP COLUMN sealed, DROP COLUMN scope, DROP COLUMN taken, DROP COLUMN taken_step,
	DROP COLUMN code_until, DROP COLUMN attempts, DROP COLUMN cool_until, DROP COLUMN win_count, DROP COLUMN win_until;
`

// functionsSQL (re)creates the functions that carry out Issue, Check,
// Attempt and Fallback, each in one call. Each one starts by locking the
// destination's row (SELECT ... FOR UPDATE, in lock_dest), so calls on one
// key run one after another under READ COMMITTED, and reads the clock once
// the lock is granted, so a call that waited judges expiry at the time it
// acts. A call that finds no row and must write one INSERTs it, before it
// takes any other lock; when a concurrent call inserted it first (ON
// CONFLICT DO NOTHING finds nothing to do), the call judges again from the
// start, against that row. Locks are always taken in one order: a
// destination row, then its code and client rows, then markers or extra
// limits (those in key order), so calls never wait for each other in a
// cycle. (Withdraw, one UPDATE, locks a code row alone.)
//
// Every part of a row whose time has passed counts as absent; a row whose
// every part has passed is deleted by the call that touches it (or by the
// sweep). Durations arrive as bigint microseconds, remaining times leave as
// bigint microseconds. Status, outcome and reason numbers are the values of
// store.CheckStatus, store.IssueOutcome and store.LimitReason.
const functionsSQL = `
CREATE OR REPLACE FUNCTION {S}.us(i interval) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (extract(epoch FROM i) * 1000000)::bigint $$;

-- take_limits locks the extra limits' rows, creating missing ones, in key
-- order (so two calls never wait for each other in a cycle; every call
-- locks a destination row before limit rows), then judges them in the
-- request's order: refused is the 0-based index of the first spent one,
-- or -1. The loop covers a row the sweep deletes between the INSERT and
-- the lock. A refusal drops the rows it inserted and the dead ones it
-- touched.
CREATE OR REPLACE FUNCTION {S}.take_limits(limit_keys bytea[], limit_max bigint[], now_ timestamptz,
	OUT refused integer, OUT retry_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
	locked integer;
	used   integer;
	lexp   timestamptz;
BEGIN
	refused := -1; retry_us := 0;
	IF coalesce(cardinality(limit_keys), 0) = 0 THEN
		RETURN;
	END IF;
	LOOP
		INSERT INTO {S}.limit_counter (key, n, expires_at)
			SELECT k, 0, '-infinity' FROM unnest(limit_keys) k ORDER BY k
			ON CONFLICT (key) DO NOTHING;
		WITH l AS (SELECT 1 FROM {S}.limit_counter WHERE key = ANY (limit_keys) ORDER BY key FOR UPDATE)
			SELECT count(*) INTO locked FROM l;
		EXIT WHEN locked = cardinality(limit_keys);
	END LOOP;
	FOR i IN 1 .. cardinality(limit_keys) LOOP
		SELECT c.n, c.expires_at INTO used, lexp FROM {S}.limit_counter c WHERE c.key = limit_keys[i];
		IF lexp > now_ AND used >= limit_max[i] THEN
			refused := i - 1; retry_us := {S}.us(lexp - now_);
			DELETE FROM {S}.limit_counter WHERE key = ANY (limit_keys) AND expires_at <= now_;
			RETURN;
		END IF;
	END LOOP;
END $$;

-- charge_limits charges the extra limits take_limits locked.
CREATE OR REPLACE FUNCTION {S}.charge_limits(limit_keys bytea[], limit_window_us bigint[], now_ timestamptz)
RETURNS void
LANGUAGE sql AS $$
	UPDATE {S}.limit_counter c SET
		n = CASE WHEN c.expires_at > now_ THEN c.n + 1 ELSE 1 END,
		expires_at = CASE WHEN c.expires_at > now_ THEN c.expires_at ELSE now_ + u.w * interval '1 microsecond' END
	FROM unnest(limit_keys, limit_window_us) AS u(k, w)
	WHERE c.key = u.k
$$;

-- caps_refuse reports whether the failure caps refuse a client with cf
-- failures in the run when the destination has f (see store.Store.Check).
CREATE OR REPLACE FUNCTION {S}.caps_refuse(f bigint, cf bigint, failure_max bigint, failure_ceiling bigint)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT failure_max > 0 AND (cf >= failure_max OR (f >= failure_max AND cf > 0)
		OR (failure_ceiling > 0 AND f >= failure_ceiling))
$$;

-- lock_dest locks the destination's row and returns it with what has
-- expired forgotten, and the time the lock was granted; fresh when there
-- is no row (or, with purge, only a dead one, which it deletes, and with
-- it the key's codes and clients).
CREATE OR REPLACE FUNCTION {S}.lock_dest(key_ bytea, purge boolean, OUT d {S}.dest, OUT fresh boolean, OUT now_ timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT * INTO d FROM {S}.dest WHERE key = key_ FOR UPDATE;
	fresh := NOT FOUND;
	now_ := clock_timestamp();
	IF purge AND NOT fresh AND d.expires_at <= now_ THEN
		DELETE FROM {S}.dest WHERE key = key_;
		fresh := true;
	END IF;
	IF fresh THEN
		d := NULL;
		d.key := key_; d.fail_count := 0; d.run := 0; d.send_count := 0;
	END IF;
	IF d.fail_until <= now_ THEN d.fail_count := 0; d.fail_until := NULL; END IF;
	IF d.send_until <= now_ THEN d.send_count := 0; d.send_until := NULL; END IF;
END $$;

-- lock_client locks a client's row of a destination row the caller holds
-- and returns it with what has expired forgotten (a new, unsaved one when
-- there is none), and its failures in the destination's current run. With
-- fresh (the caller holds no destination row) it looks for no row: rows a
-- concurrent call commits meanwhile must not be locked without the
-- destination's.
CREATE OR REPLACE FUNCTION {S}.lock_client(d {S}.dest, fresh boolean, client_ bytea, now_ timestamptz,
	OUT cl {S}.dest_client, OUT cf integer)
LANGUAGE plpgsql AS $$
BEGIN
	cl := NULL;
	IF NOT fresh THEN
		SELECT * INTO cl FROM {S}.dest_client WHERE key = d.key AND client = client_ FOR UPDATE;
	END IF;
	IF cl.key IS NULL THEN
		cl := NULL;
		cl.key := d.key; cl.client := client_; cl.win_count := 0; cl.fail_count := 0; cl.fail_run := 0;
	END IF;
	IF cl.cool_until <= now_ THEN cl.cool_until := NULL; END IF;
	IF cl.win_until <= now_ THEN cl.win_count := 0; cl.win_until := NULL; END IF;
	IF cl.unapproved_until <= now_ THEN cl.unapproved_until := NULL; END IF;
	cf := CASE WHEN d.fail_until IS NOT NULL AND cl.fail_run = d.run THEN cl.fail_count ELSE 0 END;
	IF cf = 0 THEN cl.fail_count := 0; END IF;
END $$;

-- ceiling_refuses reports whether the destination's send ceiling refuses
-- a client (see store.Store.Issue): the destination's window holds
-- window_max sends, and the client sent in it without an approval since.
CREATE OR REPLACE FUNCTION {S}.ceiling_refuses(d {S}.dest, cl {S}.dest_client, window_max bigint)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT window_max > 0 AND d.send_until IS NOT NULL AND d.send_count >= window_max
		AND cl.unapproved_until IS NOT NULL AND cl.unapproved_until = d.send_until
$$;

-- charge_send charges one send from a client to a destination: the
-- client's cooldown and window, and the destination's send window, in
-- which the client's send is unapproved until it has a code approved.
CREATE OR REPLACE FUNCTION {S}.charge_send(INOUT d {S}.dest, INOUT cl {S}.dest_client, now_ timestamptz,
	cooldown_us bigint, window_us bigint, window_max bigint)
LANGUAGE plpgsql AS $$
BEGIN
	IF cooldown_us > 0 THEN
		cl.cool_until := now_ + cooldown_us * interval '1 microsecond';
	END IF;
	IF window_max > 0 THEN
		IF cl.win_until IS NULL THEN
			cl.win_until := now_ + window_us * interval '1 microsecond';
		END IF;
		cl.win_count := cl.win_count + 1;
		IF d.send_until IS NULL THEN
			d.send_until := now_ + window_us * interval '1 microsecond';
		END IF;
		d.send_count := d.send_count + 1;
		cl.unapproved_until := d.send_until;
	END IF;
END $$;

-- save_client writes a client's row; its expiry covers its failures for
-- as long as the destination's run lives.
CREATE OR REPLACE FUNCTION {S}.save_client(cl {S}.dest_client, fail_until timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql AS $$
BEGIN
	cl.expires_at := coalesce(greatest(cl.cool_until, cl.win_until, cl.unapproved_until,
		CASE WHEN cl.fail_count > 0 THEN fail_until END), '-infinity');
	INSERT INTO {S}.dest_client AS o (key, client, cool_until, win_count, win_until, fail_count, fail_run, unapproved_until, expires_at)
		VALUES (cl.key, cl.client, cl.cool_until, cl.win_count, cl.win_until, cl.fail_count, cl.fail_run, cl.unapproved_until, cl.expires_at)
	ON CONFLICT (key, client) DO UPDATE SET
		cool_until = excluded.cool_until, win_count = excluded.win_count, win_until = excluded.win_until,
		fail_count = excluded.fail_count, fail_run = excluded.fail_run,
		unapproved_until = excluded.unapproved_until, expires_at = excluded.expires_at;
	RETURN cl.expires_at;
END $$;

-- settle writes the destination's row back with an expiry that covers
-- everything of it still alive, or deletes it (and its codes and clients)
-- when nothing is.
CREATE OR REPLACE FUNCTION {S}.settle(d {S}.dest, now_ timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	d.expires_at := greatest(d.fail_until, d.send_until,
		(SELECT max(code_until) FROM {S}.dest_code WHERE key = d.key AND code_until > now_),
		(SELECT max(expires_at) FROM {S}.dest_client WHERE key = d.key AND expires_at > now_));
	IF d.expires_at IS NULL THEN
		DELETE FROM {S}.dest WHERE key = d.key;
	ELSE
		UPDATE {S}.dest SET fail_count = d.fail_count, fail_until = d.fail_until, run = d.run,
			send_count = d.send_count, send_until = d.send_until, expires_at = d.expires_at
		WHERE key = d.key;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION {S}.issue(
	key_ bytea, digest_ bytea, sealed_ bytea, scope_ bytea, client_ bytea, keep_pending boolean,
	ttl_us bigint, cooldown_us bigint, window_us bigint, window_max bigint, failure_max bigint, failure_ceiling bigint,
	limit_keys bytea[], limit_max bigint[], limit_window_us bigint[],
	OUT outcome integer, OUT reason integer, OUT limit_index integer, OUT retry_us bigint,
	OUT attempts integer, OUT expires_us bigint, OUT sealed bytea)
LANGUAGE plpgsql AS $$
DECLARE
	r       record;
	d       {S}.dest;
	c       {S}.dest_code;
	cl      {S}.dest_client;
	fresh   boolean;     -- no live row yet: INSERT it
	has_c   boolean;
	cf      integer;
	now_    timestamptz;
	refused integer;
	lretry  bigint;
BEGIN
	<<judge>>
	LOOP
		outcome := 3; reason := 0; limit_index := 0; retry_us := 0; attempts := 0; expires_us := 0; sealed := NULL;
		SELECT * INTO r FROM {S}.lock_dest(key_, true);
		d := r.d; fresh := r.fresh; now_ := r.now_;
		c := NULL; has_c := false;
		IF NOT fresh THEN
			SELECT * INTO c FROM {S}.dest_code WHERE key = key_ AND scope = scope_ FOR UPDATE;
			has_c := FOUND AND c.code_until > now_;
		END IF;
		SELECT * INTO r FROM {S}.lock_client(d, fresh, client_, now_);
		cl := r.cl; cf := r.cf;

		-- A retry of an Issue that already saved this digest: nothing charged.
		IF has_c AND c.digest = digest_ THEN
			outcome := 1; attempts := c.attempts; expires_us := {S}.us(c.code_until - now_);
			RETURN;
		END IF;

		-- The destination's limits for the client, in the contract's order.
		IF {S}.caps_refuse(d.fail_count, cf, failure_max, failure_ceiling) THEN
			reason := 1; retry_us := {S}.us(d.fail_until - now_);
			RETURN;
		ELSIF cl.cool_until IS NOT NULL THEN
			reason := 2; retry_us := {S}.us(cl.cool_until - now_);
			RETURN;
		ELSIF window_max > 0 AND cl.win_count >= window_max THEN
			reason := 3; retry_us := {S}.us(cl.win_until - now_);
			RETURN;
		ELSIF {S}.ceiling_refuses(d, cl, window_max) THEN
			reason := 3; retry_us := {S}.us(d.send_until - now_);
			RETURN;
		END IF;

		SELECT * INTO r FROM {S}.charge_send(d, cl, now_, cooldown_us, window_us, window_max);
		d := r.d; cl := r.cl;
		IF has_c AND c.digest IS NOT NULL AND keep_pending THEN
			-- Keep the scope's pending code, its expiry and its attempts.
			outcome := 2; attempts := c.attempts; expires_us := {S}.us(c.code_until - now_); sealed := c.sealed;
		ELSE
			-- A new code; a pending or withdrawn code's attempts carry over.
			IF NOT has_c THEN
				c := NULL;
				c.key := key_; c.scope := scope_; c.attempts := 0;
			END IF;
			c.digest := digest_; c.sealed := sealed_; c.taken := NULL; c.taken_step := 0;
			c.code_until := now_ + ttl_us * interval '1 microsecond';
			outcome := 1; attempts := c.attempts; expires_us := ttl_us;
		END IF;
		IF fresh THEN
			-- Insert the row now, before any other lock is taken, so that
			-- judging again holds nothing another call may wait for.
			INSERT INTO {S}.dest (key, fail_count, fail_until, run, send_count, send_until, expires_at)
				VALUES (key_, d.fail_count, d.fail_until, d.run, d.send_count, d.send_until, c.code_until)
				ON CONFLICT (key) DO NOTHING;
			CONTINUE judge WHEN NOT FOUND; -- a concurrent call created the row
		END IF;

		SELECT * INTO refused, lretry FROM {S}.take_limits(limit_keys, limit_max, now_);
		IF refused >= 0 THEN
			outcome := 3; reason := 4; limit_index := refused; retry_us := lretry;
			attempts := 0; expires_us := 0; sealed := NULL;
			IF fresh THEN
				DELETE FROM {S}.dest WHERE key = key_; -- undo the row inserted above
			END IF;
			RETURN;
		END IF;

		IF outcome = 1 THEN
			INSERT INTO {S}.dest_code AS o (key, scope, digest, sealed, code_until, attempts, taken, taken_step)
				VALUES (c.key, c.scope, c.digest, c.sealed, c.code_until, c.attempts, NULL, 0)
			ON CONFLICT (key, scope) DO UPDATE SET
				digest = excluded.digest, sealed = excluded.sealed, code_until = excluded.code_until,
				attempts = excluded.attempts, taken = NULL, taken_step = 0;
		END IF;
		IF cooldown_us > 0 OR window_max > 0 THEN
			d.expires_at := greatest(d.expires_at, {S}.save_client(cl, d.fail_until));
		END IF;
		d.expires_at := greatest(d.expires_at, c.code_until, d.fail_until, d.send_until);
		UPDATE {S}.dest SET send_count = d.send_count, send_until = d.send_until, expires_at = d.expires_at
		WHERE key = key_;
		PERFORM {S}.charge_limits(limit_keys, limit_window_us, now_);
		RETURN;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION {S}.check_code(
	key_ bytea, digest_ bytea, scope_ bytea, client_ bytea,
	max_attempts bigint, failure_max bigint, failure_ceiling bigint, failure_window_us bigint,
	OUT status integer, OUT remaining integer)
LANGUAGE plpgsql AS $$
DECLARE
	r     record;
	d     {S}.dest;
	c     {S}.dest_code;
	cl    {S}.dest_client;
	fresh boolean;
	cf    integer;
	now_  timestamptz;
	left_ bigint;
BEGIN
	status := 3; remaining := 0; -- Expired
	SELECT * INTO r FROM {S}.lock_dest(key_, true);
	d := r.d; fresh := r.fresh; now_ := r.now_;
	IF fresh THEN
		RETURN; -- nothing pending, no failure counted
	END IF;
	SELECT * INTO c FROM {S}.dest_code WHERE key = key_ AND scope = scope_ FOR UPDATE;
	IF FOUND AND c.code_until <= now_ THEN
		DELETE FROM {S}.dest_code WHERE key = key_ AND scope = scope_;
		c := NULL;
	END IF;
	SELECT * INTO r FROM {S}.lock_client(d, fresh, client_, now_);
	cl := r.cl; cf := r.cf;

	IF {S}.caps_refuse(d.fail_count, cf, failure_max, failure_ceiling) THEN
		-- Locked by the failure caps: the scope's pending code goes,
		-- without being compared; a withdrawn code's attempts stay until
		-- its expiry.
		status := 4;
		IF c.digest IS NOT NULL THEN
			DELETE FROM {S}.dest_code WHERE key = key_ AND scope = scope_;
		END IF;
		RETURN;
	END IF;
	IF c.digest IS NULL THEN
		RETURN; -- Expired: nothing pending in the scope
	END IF;
	IF c.digest = digest_ THEN
		-- Approved: the code is consumed, and the client's own failures in
		-- the run are forgiven; other clients' stay.
		status := 1;
		DELETE FROM {S}.dest_code WHERE key = key_ AND scope = scope_;
		IF cf > 0 OR cl.unapproved_until IS NOT NULL THEN
			d.fail_count := d.fail_count - cf;
			cl.fail_count := 0; cl.unapproved_until := NULL;
			PERFORM {S}.save_client(cl, d.fail_until);
		END IF;
		PERFORM {S}.settle(d, now_);
		RETURN;
	END IF;

	-- A wrong guess: count it against the code and the failure caps.
	c.attempts := c.attempts + 1;
	left_ := max_attempts - c.attempts;
	IF failure_max > 0 THEN
		IF d.fail_until IS NULL THEN
			-- A new run: the old one's client counts no longer apply.
			d.run := d.run + 1; d.fail_count := 0; cf := 0;
		END IF;
		-- The counter lives failure_window from its latest failure.
		d.fail_until := now_ + failure_window_us * interval '1 microsecond';
		d.fail_count := d.fail_count + 1;
		cf := cf + 1;
		cl.fail_count := cf; cl.fail_run := d.run;
		IF (failure_ceiling > 0 AND d.fail_count >= failure_ceiling) OR d.fail_count >= failure_max THEN
			left_ := 0;
		ELSE
			left_ := least(left_, failure_max - cf, failure_max - d.fail_count);
		END IF;
		PERFORM {S}.save_client(cl, d.fail_until);
		UPDATE {S}.dest SET fail_count = d.fail_count, fail_until = d.fail_until, run = d.run,
			expires_at = greatest(d.expires_at, d.fail_until)
		WHERE key = key_;
	END IF;
	IF left_ > 0 THEN
		status := 2; remaining := left_;
		UPDATE {S}.dest_code SET attempts = c.attempts WHERE key = key_ AND scope = scope_;
	ELSE
		status := 4;
		DELETE FROM {S}.dest_code WHERE key = key_ AND scope = scope_;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION {S}.attempt(
	key_ bytea, marker_ bytea, marker_ttl_us bigint, max_failures bigint, failure_window_us bigint,
	OUT status integer, OUT remaining integer, OUT retry_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r     record;
	d     {S}.dest;
	cl    {S}.dest_client;
	cf    integer;
	fresh boolean;      -- no live row yet: INSERT it if a failure must be counted
	now_  timestamptz;
BEGIN
	<<judge>>
	LOOP
		remaining := 0; retry_us := 0;
		SELECT * INTO r FROM {S}.lock_dest(key_, false);
		d := r.d; fresh := r.fresh; now_ := r.now_;

		IF d.fail_count >= max_failures THEN
			status := 4; retry_us := {S}.us(d.fail_until - now_);
			RETURN;
		END IF;

		status := 2; -- Rejected: the caller found the code wrong
		IF marker_ IS NOT NULL THEN
			-- Record the marker unless a live one is there; an expired one
			-- is overwritten. (Not ON CONFLICT DO UPDATE: it would lock a
			-- live marker's row, and a call without the destination's row
			-- lock must hold no lock when it judges again.)
			INSERT INTO {S}.marker (key, marker, expires_at)
				VALUES (key_, marker_, now_ + marker_ttl_us * interval '1 microsecond')
				ON CONFLICT (key, marker) DO NOTHING;
			IF NOT FOUND THEN
				UPDATE {S}.marker SET expires_at = now_ + marker_ttl_us * interval '1 microsecond'
				WHERE key = key_ AND marker = marker_ AND expires_at <= now_;
			END IF;
			IF FOUND THEN
				status := 1; -- Approved: the failure counter is reset
				IF NOT fresh AND d.fail_until IS NOT NULL THEN
					d.fail_count := 0; d.fail_until := NULL;
					PERFORM {S}.settle(d, now_);
				END IF;
				RETURN;
			END IF;
			status := 5; -- Replayed: counted as a failure
		END IF;

		-- Count a failure, for the destination and the empty client key,
		-- in the run; the counter lives failure_window from its latest.
		IF d.fail_until IS NULL THEN
			d.run := d.run + 1; d.fail_count := 0;
		END IF;
		d.fail_until := now_ + failure_window_us * interval '1 microsecond';
		d.fail_count := d.fail_count + 1;
		IF d.fail_count >= max_failures THEN
			status := 4; retry_us := {S}.us(d.fail_until - now_);
		ELSE
			remaining := max_failures - d.fail_count;
		END IF;
		d.expires_at := greatest(d.expires_at, d.fail_until);
		IF fresh THEN
			INSERT INTO {S}.dest (key, fail_count, fail_until, run, send_count, send_until, expires_at)
				VALUES (key_, d.fail_count, d.fail_until, d.run, d.send_count, d.send_until, d.expires_at)
				ON CONFLICT (key) DO NOTHING;
			CONTINUE judge WHEN NOT FOUND; -- a concurrent call created the row
		ELSE
			UPDATE {S}.dest SET fail_count = d.fail_count, fail_until = d.fail_until, run = d.run, expires_at = d.expires_at
			WHERE key = key_;
		END IF;
		SELECT * INTO r FROM {S}.lock_client(d, false, '', now_);
		cl := r.cl; cf := r.cf;
		cl.fail_count := cf + 1; cl.fail_run := d.run;
		PERFORM {S}.save_client(cl, d.fail_until);
		RETURN;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION {S}.fallback(
	key_ bytea, scope_ bytea, client_ bytea, tag_ bytea,
	cooldown_us bigint, window_us bigint, window_max bigint, failure_max bigint, failure_ceiling bigint,
	limit_keys bytea[], limit_max bigint[], limit_window_us bigint[], step_ integer,
	OUT outcome integer, OUT reason integer, OUT limit_index integer, OUT retry_us bigint,
	OUT attempts integer, OUT expires_us bigint, OUT sealed bytea)
LANGUAGE plpgsql AS $$
DECLARE
	r       record;
	d       {S}.dest;
	c       {S}.dest_code;
	cl      {S}.dest_client;
	fresh   boolean;
	cf      integer;
	now_    timestamptz;
	refused integer;
	lretry  bigint;
BEGIN
	outcome := 2; reason := 0; limit_index := 0; retry_us := 0; attempts := 0; expires_us := 0; sealed := NULL;
	SELECT * INTO r FROM {S}.lock_dest(key_, true);
	d := r.d; fresh := r.fresh; now_ := r.now_;
	IF fresh THEN
		RETURN; -- not pending
	END IF;
	SELECT * INTO r FROM {S}.lock_client(d, fresh, client_, now_);
	cl := r.cl; cf := r.cf;

	-- In the contract's order; every refusal returns before any write.
	IF {S}.caps_refuse(d.fail_count, cf, failure_max, failure_ceiling) THEN
		outcome := 4; reason := 1; retry_us := {S}.us(d.fail_until - now_);
		RETURN;
	END IF;
	SELECT * INTO c FROM {S}.dest_code WHERE key = key_ AND scope = scope_ FOR UPDATE;
	IF NOT FOUND OR c.code_until <= now_ OR c.digest IS NULL OR c.sealed IS NULL
		OR length(c.sealed) < length(tag_) OR substring(c.sealed FROM 1 FOR length(tag_)) <> tag_ THEN
		RETURN; -- not pending: no code, or not the code the tag names
	END IF;
	-- Spent: this code was already taken at this step of the chain or a
	-- later one (step 0 counts as 1).
	IF c.taken = tag_ AND c.taken_step >= greatest(step_, 1) THEN
		outcome := 3;
		RETURN;
	END IF;
	IF window_max > 0 AND cl.win_count >= window_max THEN
		outcome := 4; reason := 3; retry_us := {S}.us(cl.win_until - now_);
		RETURN;
	END IF;
	IF {S}.ceiling_refuses(d, cl, window_max) THEN
		outcome := 4; reason := 3; retry_us := {S}.us(d.send_until - now_);
		RETURN;
	END IF;
	SELECT * INTO refused, lretry FROM {S}.take_limits(limit_keys, limit_max, now_);
	IF refused >= 0 THEN
		outcome := 4; reason := 4; limit_index := refused; retry_us := lretry;
		RETURN;
	END IF;
	PERFORM {S}.charge_limits(limit_keys, limit_window_us, now_);

	-- Take the code: charge the client's window and the send ceiling,
	-- restart its cooldown (not checked), mark the code; its digest, expiry
	-- and attempts stay.
	SELECT * INTO r FROM {S}.charge_send(d, cl, now_, cooldown_us, window_us, window_max);
	d := r.d; cl := r.cl;
	IF cooldown_us > 0 OR window_max > 0 THEN
		d.expires_at := greatest(d.expires_at, {S}.save_client(cl, d.fail_until));
		UPDATE {S}.dest SET send_count = d.send_count, send_until = d.send_until,
			expires_at = greatest(d.expires_at, d.send_until)
		WHERE key = key_;
	END IF;
	UPDATE {S}.dest_code SET taken = tag_, taken_step = greatest(step_, 1) WHERE key = key_ AND scope = scope_;
	outcome := 1; attempts := c.attempts; expires_us := {S}.us(c.code_until - now_); sealed := c.sealed;
END $$;

CREATE OR REPLACE FUNCTION {S}.replace_codes(key_ bytea, digests_ bytea[], ttl_us bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	now_ timestamptz := clock_timestamp();
	end_ timestamptz := now_ + ttl_us * interval '1 microsecond';
BEGIN
	-- The whole set at once; the failure counter stays as it is.
	INSERT INTO {S}.code_set AS c (key, digests, set_until, expires_at)
		VALUES (key_, digests_, end_, end_)
	ON CONFLICT (key) DO UPDATE SET
		digests = excluded.digests, set_until = excluded.set_until,
		expires_at = greatest(excluded.set_until, c.fail_until);
END $$;

CREATE OR REPLACE FUNCTION {S}.redeem_code(
	key_ bytea, digest_ bytea, max_failures bigint, failure_window_us bigint,
	OUT status integer, OUT remaining integer, OUT left_ integer, OUT retry_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r     {S}.code_set;
	fresh boolean;      -- no row yet: INSERT it to count a failure
	now_  timestamptz;
BEGIN
	<<judge>>
	LOOP
		remaining := 0; retry_us := 0;
		SELECT * INTO r FROM {S}.code_set WHERE key = key_ FOR UPDATE;
		fresh := NOT FOUND;
		now_ := clock_timestamp();
		IF fresh THEN
			r.key := key_; r.digests := '{}'; r.fail_count := 0;
		END IF;
		IF r.set_until <= now_ THEN r.digests := '{}'; r.set_until := NULL; END IF;
		IF r.fail_until <= now_ THEN r.fail_count := 0; r.fail_until := NULL; END IF;
		left_ := cardinality(r.digests);

		IF r.fail_count >= max_failures THEN
			status := 4; retry_us := {S}.us(r.fail_until - now_);
			RETURN;
		END IF;
		IF digest_ = ANY (r.digests) THEN
			-- Approved: the code leaves the set, the counter is reset.
			status := 1;
			r.digests := array_remove(r.digests, digest_); left_ := cardinality(r.digests);
			r.fail_count := 0; r.fail_until := NULL;
			r.expires_at := coalesce(r.set_until, '-infinity');
			IF r.expires_at <= now_ THEN
				DELETE FROM {S}.code_set WHERE key = key_;
			ELSE
				UPDATE {S}.code_set SET digests = r.digests, fail_count = 0, fail_until = NULL, expires_at = r.expires_at
				WHERE key = key_;
			END IF;
			RETURN;
		END IF;

		-- A wrong code; the counter lives failure_window from its first
		-- failure.
		IF r.fail_count = 0 THEN
			r.fail_until := now_ + failure_window_us * interval '1 microsecond';
		END IF;
		r.fail_count := r.fail_count + 1;
		IF r.fail_count >= max_failures THEN
			status := 4; retry_us := {S}.us(r.fail_until - now_);
		ELSE
			status := 2; remaining := max_failures - r.fail_count;
		END IF;
		r.expires_at := greatest(r.set_until, r.fail_until);
		IF fresh THEN
			INSERT INTO {S}.code_set (key, fail_count, fail_until, expires_at)
				VALUES (key_, r.fail_count, r.fail_until, r.expires_at)
				ON CONFLICT (key) DO NOTHING;
			CONTINUE judge WHEN NOT FOUND; -- a concurrent call created the row
		ELSE
			UPDATE {S}.code_set SET digests = r.digests, set_until = r.set_until,
				fail_count = r.fail_count, fail_until = r.fail_until, expires_at = r.expires_at
			WHERE key = key_;
		END IF;
		RETURN;
	END LOOP;
END $$;
`

// dropOldSQL drops the functions of earlier schema versions whose
// argument lists changed (CREATE OR REPLACE would add an overload beside
// them). A Store of an earlier version then fails with an error instead of
// running its functions on the new tables.
const dropOldSQL = `
DROP FUNCTION IF EXISTS {S}.issue(bytea, bytea, bytea, boolean, bigint, bigint, bigint, bigint, bigint, bytea[], bigint[], bigint[]);
DROP FUNCTION IF EXISTS {S}.check_code(bytea, bytea, bigint, bigint, bigint);
DROP FUNCTION IF EXISTS {S}.fallback(bytea, bytea, bigint, bigint, bigint, bigint, bytea[], bigint[], bigint[]);
DROP FUNCTION IF EXISTS {S}.issue(bytea, bytea, bytea, bytea, boolean, bigint, bigint, bigint, bigint, bigint, bytea[], bigint[], bigint[]);
DROP FUNCTION IF EXISTS {S}.check_code(bytea, bytea, bytea, bigint, bigint, bigint);
DROP FUNCTION IF EXISTS {S}.fallback(bytea, bytea, bigint, bigint, bigint, bigint, bytea[], bigint[], bigint[], integer);
`

// versionSQL creates the table that records the schema's version.
const versionSQL = `
CREATE TABLE IF NOT EXISTS {S}.schema_version (
	version integer NOT NULL
);
`

// expand replaces {S} in sql with the quoted schema.
func expand(sql, quotedSchema string) string { return strings.ReplaceAll(sql, "{S}", quotedSchema) }

// Migrate creates or updates the schema, tables and functions the Store
// uses (under the schema set by WithSchema, default DefaultSchema). It is
// idempotent, and safe to run from several instances at once: it holds a
// transaction-level advisory lock on the schema's name while it works, so a
// second instance waits and then finds nothing to do. It must run (once per
// deployment, or at every start) before the Store is used. Its role needs
// the CREATE privilege on the database while the schema does not exist, and
// afterwards only the right to create objects in the schema (its owner's).
//
// Options other than WithSchema are ignored.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...Option) error {
	if pool == nil {
		return fmt.Errorf("pgstore: migrate: nil pool")
	}
	c, err := configure(opts)
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op after Commit
	if err := migrate(ctx, tx, c.schema); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

func migrate(ctx context.Context, tx pgx.Tx, schema string) error {
	q := quoteIdent(schema)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", migrateLockClass, schema); err != nil {
		return err
	}
	// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
	// database even when the schema exists: create it only when missing, so
	// a role that owns the schema but may not create schemas can migrate.
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+q); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, expand(versionSQL, q)); err != nil {
		return err
	}
	var have int
	err := tx.QueryRow(ctx, expand("SELECT coalesce(max(version), 0) FROM {S}.schema_version", q)).Scan(&have)
	if err != nil {
		return err
	}
	if have > schemaVersion {
		return fmt.Errorf("schema %s is at version %d, newer than this package's %d", q, have, schemaVersion)
	}
	if _, err := tx.Exec(ctx, expand(tablesSQL, q)); err != nil {
		return err
	}
	var legacy bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = 'dest' AND column_name = 'digest')`, schema).Scan(&legacy)
	if err != nil {
		return err
	}
	if legacy {
		if _, err := tx.Exec(ctx, expand(legacySQL, q)); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, expand(dropOldSQL, q)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, expand(functionsSQL, q)); err != nil {
		return err
	}
	if have < schemaVersion {
		if _, err := tx.Exec(ctx, expand("DELETE FROM {S}.schema_version; INSERT INTO {S}.schema_version VALUES ("+fmt.Sprint(schemaVersion)+")", q)); err != nil {
			return err
		}
	}
	return nil
}

// quoteIdent quotes a validated identifier for SQL.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
