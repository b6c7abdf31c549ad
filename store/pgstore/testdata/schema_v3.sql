-- The schema as version 3 of Migrate created it ({S}: the quoted schema),
-- kept to test that Migrate upgrades it.

CREATE TABLE IF NOT EXISTS {S}.schema_version (
	version integer NOT NULL
);

CREATE TABLE IF NOT EXISTS {S}.dest (
	key        bytea       PRIMARY KEY,
	digest     bytea,
	sealed     bytea,
	code_until timestamptz,
	attempts   integer     NOT NULL DEFAULT 0,
	cool_until timestamptz,
	win_count  integer     NOT NULL DEFAULT 0,
	win_until  timestamptz,
	fail_count integer     NOT NULL DEFAULT 0,
	fail_until timestamptz,
	expires_at timestamptz NOT NULL
) WITH (fillfactor = 80);
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS scope bytea NOT NULL DEFAULT '';
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS taken bytea;
ALTER TABLE {S}.dest ADD COLUMN IF NOT EXISTS taken_step integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS dest_expires_at ON {S}.dest (expires_at);

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

CREATE OR REPLACE FUNCTION {S}.us(i interval) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (extract(epoch FROM i) * 1000000)::bigint $$;

CREATE OR REPLACE FUNCTION {S}.issue(
	key_ bytea, digest_ bytea, sealed_ bytea, scope_ bytea, keep_pending boolean,
	ttl_us bigint, cooldown_us bigint, window_us bigint, window_max bigint, failure_max bigint,
	limit_keys bytea[], limit_max bigint[], limit_window_us bigint[],
	OUT outcome integer, OUT reason integer, OUT limit_index integer, OUT retry_us bigint,
	OUT attempts integer, OUT expires_us bigint, OUT sealed bytea)
LANGUAGE plpgsql AS $$
DECLARE
	d      {S}.dest;
	fresh  boolean;     -- no row yet: INSERT it
	now_   timestamptz;
	locked integer;
	used   integer;
	lexp   timestamptz;
BEGIN
	<<judge>>
	LOOP
		outcome := 3; reason := 0; limit_index := 0; retry_us := 0; attempts := 0; expires_us := 0; sealed := NULL;
		SELECT * INTO d FROM {S}.dest WHERE key = key_ FOR UPDATE;
		fresh := NOT FOUND;
		now_ := clock_timestamp();
		IF fresh THEN
			d.key := key_; d.scope := ''; d.attempts := 0; d.win_count := 0; d.fail_count := 0;
		END IF;
		-- Forget what has expired.
		IF d.code_until <= now_ THEN
			d.digest := NULL; d.sealed := NULL; d.scope := ''; d.taken := NULL; d.code_until := NULL; d.attempts := 0;
		END IF;
		IF d.cool_until <= now_ THEN d.cool_until := NULL; END IF;
		IF d.win_until <= now_ THEN d.win_count := 0; d.win_until := NULL; END IF;
		IF d.fail_until <= now_ THEN d.fail_count := 0; d.fail_until := NULL; END IF;

		-- A retry of an Issue that already saved this digest: nothing charged.
		IF d.digest = digest_ THEN
			outcome := 1; attempts := d.attempts; expires_us := {S}.us(d.code_until - now_);
			RETURN;
		END IF;

		-- The destination's limits, in the contract's order. The row holds
		-- what refused, so it is alive and stays as it is.
		IF failure_max > 0 AND d.fail_count >= failure_max THEN
			reason := 1; retry_us := {S}.us(d.fail_until - now_);
			RETURN;
		ELSIF d.cool_until IS NOT NULL THEN
			reason := 2; retry_us := {S}.us(d.cool_until - now_);
			RETURN;
		ELSIF window_max > 0 AND d.win_count >= window_max THEN
			reason := 3; retry_us := {S}.us(d.win_until - now_);
			RETURN;
		END IF;

		-- Charge the destination.
		IF cooldown_us > 0 THEN
			d.cool_until := now_ + cooldown_us * interval '1 microsecond';
		END IF;
		IF window_max > 0 THEN
			IF d.win_until IS NULL THEN
				d.win_until := now_ + window_us * interval '1 microsecond';
			END IF;
			d.win_count := d.win_count + 1;
		END IF;
		IF d.digest IS NOT NULL AND keep_pending AND d.scope = scope_ THEN
			-- Keep the pending code of the same scope, its expiry and its
			-- attempts.
			outcome := 2; attempts := d.attempts; expires_us := {S}.us(d.code_until - now_); sealed := d.sealed;
		ELSE
			-- A new code; a pending or withdrawn code's attempts carry over.
			d.digest := digest_; d.sealed := sealed_; d.scope := scope_; d.taken := NULL;
			d.code_until := now_ + ttl_us * interval '1 microsecond';
			outcome := 1; attempts := d.attempts; expires_us := ttl_us;
		END IF;
		d.expires_at := greatest(d.code_until, d.cool_until, d.win_until, d.fail_until);
		IF fresh THEN
			-- Insert the row now, before any other lock is taken, so that
			-- judging again holds nothing another call may wait for.
			INSERT INTO {S}.dest (key, digest, sealed, scope, taken, code_until, attempts, cool_until, win_count, win_until, fail_count, fail_until, expires_at)
				VALUES (key_, d.digest, d.sealed, d.scope, d.taken, d.code_until, d.attempts, d.cool_until, d.win_count, d.win_until, d.fail_count, d.fail_until, d.expires_at)
				ON CONFLICT (key) DO NOTHING;
			CONTINUE judge WHEN NOT FOUND; -- a concurrent call created the row
		END IF;

		-- The extra limits: lock every row, creating missing ones, in key
		-- order (so two Issues never wait for each other in a cycle; every
		-- call locks a destination row before limit rows), then judge them
		-- in the request's order. The loop covers a row the sweep deletes
		-- between the INSERT and the lock.
		IF cardinality(limit_keys) > 0 THEN
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
					outcome := 3; reason := 4; limit_index := i - 1; retry_us := {S}.us(lexp - now_);
					attempts := 0; expires_us := 0; sealed := NULL;
					-- Undo the row inserted above, and drop the dead rows
					-- this call touched.
					DELETE FROM {S}.limit_counter WHERE key = ANY (limit_keys) AND expires_at <= now_;
					IF fresh THEN
						DELETE FROM {S}.dest WHERE key = key_;
					END IF;
					RETURN;
				END IF;
			END LOOP;
		END IF;

		IF NOT fresh THEN
			UPDATE {S}.dest SET
				digest = d.digest, sealed = d.sealed, scope = d.scope, taken = d.taken, code_until = d.code_until, attempts = d.attempts,
				cool_until = d.cool_until, win_count = d.win_count, win_until = d.win_until,
				fail_count = d.fail_count, fail_until = d.fail_until, expires_at = d.expires_at
			WHERE key = key_;
		END IF;

		-- Charge the extra limits (their rows are locked above).
		IF cardinality(limit_keys) > 0 THEN
			UPDATE {S}.limit_counter c SET
				n = CASE WHEN c.expires_at > now_ THEN c.n + 1 ELSE 1 END,
				expires_at = CASE WHEN c.expires_at > now_ THEN c.expires_at ELSE now_ + u.w * interval '1 microsecond' END
			FROM unnest(limit_keys, limit_window_us) AS u(k, w)
			WHERE c.key = u.k;
		END IF;
		RETURN;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION {S}.check_code(
	key_ bytea, digest_ bytea, scope_ bytea, max_attempts bigint, failure_max bigint, failure_window_us bigint,
	OUT status integer, OUT remaining integer)
LANGUAGE plpgsql AS $$
DECLARE
	d     {S}.dest;
	now_  timestamptz;
	left_ bigint;
BEGIN
	remaining := 0;
	-- The common case first, in one statement: the right code, pending,
	-- in the caller's scope, with the failure cap not reached. The code is consumed and the
	-- failure counter reset. (UPDATE locks the row, and re-evaluates the
	-- condition on its newest version after waiting for another call.)
	UPDATE {S}.dest SET
		digest = NULL, sealed = NULL, scope = '', taken = NULL, code_until = NULL, attempts = 0, fail_count = 0, fail_until = NULL,
		expires_at = coalesce(greatest(cool_until, win_until), '-infinity')
	WHERE key = key_ AND digest = digest_ AND scope = scope_ AND code_until > clock_timestamp()
		AND (failure_max = 0 OR fail_count < failure_max OR fail_until <= clock_timestamp())
	RETURNING expires_at INTO d.expires_at;
	IF FOUND THEN
		status := 1; -- Approved
		IF d.expires_at <= clock_timestamp() THEN
			DELETE FROM {S}.dest WHERE key = key_; -- nothing in it is alive
		END IF;
		RETURN;
	END IF;

	-- Every other case: lock the row and judge. Without a row nothing is
	-- pending and no failure is counted.
	SELECT * INTO d FROM {S}.dest WHERE key = key_ FOR UPDATE;
	IF NOT FOUND THEN
		status := 3; -- Expired
		RETURN;
	END IF;
	now_ := clock_timestamp();
	-- Forget what has expired.
	IF d.code_until <= now_ THEN
		d.digest := NULL; d.sealed := NULL; d.scope := ''; d.taken := NULL; d.code_until := NULL; d.attempts := 0;
	END IF;
	IF d.fail_until <= now_ THEN d.fail_count := 0; d.fail_until := NULL; END IF;

	IF failure_max > 0 AND d.fail_count >= failure_max THEN
		-- Locked by the failure cap: the pending code goes, without being
		-- compared; a withdrawn code's attempts stay until its expiry.
		status := 4;
		IF d.digest IS NOT NULL THEN
			d.digest := NULL; d.sealed := NULL; d.scope := ''; d.taken := NULL; d.code_until := NULL; d.attempts := 0;
		END IF;
	ELSIF d.digest IS NULL THEN
		status := 3; -- Expired: nothing pending
		IF d.expires_at > now_ THEN
			RETURN; -- nothing to write
		END IF;
	ELSIF d.scope <> scope_ THEN
		-- Another scope's code: not pending for this caller, who spends
		-- none of its attempts and no failure.
		status := 3;
		RETURN;
	ELSIF d.digest = digest_ THEN
		-- Approved: the code is consumed and the failure counter reset.
		status := 1;
		d.digest := NULL; d.sealed := NULL; d.scope := ''; d.taken := NULL; d.code_until := NULL; d.attempts := 0;
		d.fail_count := 0; d.fail_until := NULL;
	ELSE
		-- A wrong guess: count it against the code and the failure cap.
		d.attempts := d.attempts + 1;
		left_ := max_attempts - d.attempts;
		IF failure_max > 0 THEN
			-- The counter lives failure_window from its latest failure, so
			-- no stretch of failure_window holds more than failure_max.
			d.fail_until := now_ + failure_window_us * interval '1 microsecond';
			d.fail_count := d.fail_count + 1;
			left_ := least(left_, failure_max - d.fail_count);
		END IF;
		IF left_ > 0 THEN
			status := 2; remaining := left_;
		ELSE
			status := 4;
			d.digest := NULL; d.sealed := NULL; d.scope := ''; d.taken := NULL; d.code_until := NULL; d.attempts := 0;
		END IF;
	END IF;

	-- Write the row back, or delete it once nothing in it is alive.
	d.expires_at := coalesce(greatest(d.code_until, d.cool_until, d.win_until, d.fail_until), '-infinity');
	IF d.expires_at <= now_ THEN
		DELETE FROM {S}.dest WHERE key = key_;
	ELSE
		UPDATE {S}.dest SET
			digest = d.digest, sealed = d.sealed, scope = d.scope, taken = d.taken, code_until = d.code_until, attempts = d.attempts,
			fail_count = d.fail_count, fail_until = d.fail_until, expires_at = d.expires_at
		WHERE key = key_;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION {S}.attempt(
	key_ bytea, marker_ bytea, marker_ttl_us bigint, max_failures bigint, failure_window_us bigint,
	OUT status integer, OUT remaining integer, OUT retry_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
	d     {S}.dest;
	fresh boolean;      -- no row yet: INSERT it if a failure must be counted
	now_  timestamptz;
BEGIN
	<<judge>>
	LOOP
		remaining := 0; retry_us := 0;
		SELECT * INTO d FROM {S}.dest WHERE key = key_ FOR UPDATE;
		fresh := NOT FOUND;
		now_ := clock_timestamp();
		IF fresh THEN
			d.key := key_; d.attempts := 0; d.win_count := 0; d.fail_count := 0;
		END IF;
		IF d.fail_until <= now_ THEN d.fail_count := 0; d.fail_until := NULL; END IF;

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
				IF d.fail_until IS NOT NULL THEN
					d.fail_count := 0; d.fail_until := NULL;
					d.expires_at := coalesce(greatest(d.code_until, d.cool_until, d.win_until), '-infinity');
					IF d.expires_at <= now_ THEN
						DELETE FROM {S}.dest WHERE key = key_;
					ELSE
						UPDATE {S}.dest SET fail_count = 0, fail_until = NULL, expires_at = d.expires_at WHERE key = key_;
					END IF;
				END IF;
				RETURN;
			END IF;
			status := 5; -- Replayed: counted as a failure
		END IF;

		-- Count a failure; the counter lives failure_window from its latest.
		d.fail_until := now_ + failure_window_us * interval '1 microsecond';
		d.fail_count := d.fail_count + 1;
		IF d.fail_count >= max_failures THEN
			status := 4; retry_us := {S}.us(d.fail_until - now_);
		ELSE
			remaining := max_failures - d.fail_count;
		END IF;
		d.expires_at := greatest(d.code_until, d.cool_until, d.win_until, d.fail_until);
		IF fresh THEN
			INSERT INTO {S}.dest (key, fail_count, fail_until, expires_at)
				VALUES (key_, d.fail_count, d.fail_until, d.expires_at)
				ON CONFLICT (key) DO NOTHING;
			CONTINUE judge WHEN NOT FOUND; -- a concurrent call created the row
		ELSE
			UPDATE {S}.dest SET fail_count = d.fail_count, fail_until = d.fail_until, expires_at = d.expires_at
			WHERE key = key_;
		END IF;
		RETURN;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION {S}.fallback(
	key_ bytea, tag_ bytea, cooldown_us bigint, window_us bigint, window_max bigint, failure_max bigint,
	limit_keys bytea[], limit_max bigint[], limit_window_us bigint[], step_ integer,
	OUT outcome integer, OUT reason integer, OUT limit_index integer, OUT retry_us bigint,
	OUT attempts integer, OUT expires_us bigint, OUT sealed bytea)
LANGUAGE plpgsql AS $$
DECLARE
	d      {S}.dest;
	now_   timestamptz;
	locked integer;
	used   integer;
	lexp   timestamptz;
BEGIN
	outcome := 2; reason := 0; limit_index := 0; retry_us := 0; attempts := 0; expires_us := 0; sealed := NULL;
	-- Without a row nothing is pending and no failure is counted.
	SELECT * INTO d FROM {S}.dest WHERE key = key_ FOR UPDATE;
	IF NOT FOUND THEN
		RETURN; -- not pending
	END IF;
	now_ := clock_timestamp();
	IF d.code_until <= now_ THEN d.digest := NULL; END IF;
	IF d.win_until <= now_ THEN d.win_count := 0; d.win_until := NULL; END IF;
	IF d.fail_until <= now_ THEN d.fail_count := 0; d.fail_until := NULL; END IF;

	-- In the contract's order; every refusal returns before any write.
	IF failure_max > 0 AND d.fail_count >= failure_max THEN
		outcome := 4; reason := 1; retry_us := {S}.us(d.fail_until - now_);
		RETURN;
	END IF;
	IF d.digest IS NULL OR d.sealed IS NULL OR length(d.sealed) < length(tag_)
		OR substring(d.sealed FROM 1 FOR length(tag_)) <> tag_ THEN
		RETURN; -- not pending: no code, or not the code the tag names
	END IF;
	-- Spent: this code was already taken at this step of the chain or a
	-- later one (step 0 counts as 1).
	IF d.taken = tag_ AND d.taken_step >= greatest(step_, 1) THEN
		outcome := 3;
		RETURN;
	END IF;
	IF window_max > 0 AND d.win_count >= window_max THEN
		outcome := 4; reason := 3; retry_us := {S}.us(d.win_until - now_);
		RETURN;
	END IF;

	-- The extra limits, as in issue: lock every row (creating missing ones)
	-- in key order, then judge them in the request's order.
	IF cardinality(limit_keys) > 0 THEN
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
				outcome := 4; reason := 4; limit_index := i - 1; retry_us := {S}.us(lexp - now_);
				-- Drop the rows inserted above and the dead ones touched.
				DELETE FROM {S}.limit_counter WHERE key = ANY (limit_keys) AND expires_at <= now_;
				RETURN;
			END IF;
		END LOOP;
		UPDATE {S}.limit_counter c SET
			n = CASE WHEN c.expires_at > now_ THEN c.n + 1 ELSE 1 END,
			expires_at = CASE WHEN c.expires_at > now_ THEN c.expires_at ELSE now_ + u.w * interval '1 microsecond' END
		FROM unnest(limit_keys, limit_window_us) AS u(k, w)
		WHERE c.key = u.k;
	END IF;

	-- Take the code: charge the window, restart the cooldown (not
	-- checked), mark the code; its digest, expiry and attempts stay.
	IF cooldown_us > 0 THEN
		d.cool_until := now_ + cooldown_us * interval '1 microsecond';
	END IF;
	IF window_max > 0 THEN
		IF d.win_until IS NULL THEN
			d.win_until := now_ + window_us * interval '1 microsecond';
		END IF;
		d.win_count := d.win_count + 1;
	END IF;
	IF d.cool_until <= now_ THEN d.cool_until := NULL; END IF;
	d.expires_at := greatest(d.code_until, d.cool_until, d.win_until, d.fail_until);
	UPDATE {S}.dest SET
		taken = tag_, taken_step = greatest(step_, 1), cool_until = d.cool_until, win_count = d.win_count, win_until = d.win_until,
		fail_count = d.fail_count, fail_until = d.fail_until, expires_at = d.expires_at
	WHERE key = key_;
	outcome := 1; attempts := d.attempts; expires_us := {S}.us(d.code_until - now_); sealed := d.sealed;
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

INSERT INTO {S}.schema_version VALUES (3);
