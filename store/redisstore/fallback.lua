-- Fallback: takes the pending code of a Scope for a second channel (a
-- voice call after an SMS, say), once per step, charging the send limits.
--
-- KEYS[1]     destination hash P:{K}
-- KEYS[2]     the fallback mark of the Scope's code, P:{K}:b[:S]: the
--             tag, then one byte, the furthest step taken
-- KEYS[3..]   extra limits P:l:{L} (standalone only; on a Cluster they are
--             charged by charge.lua first)
-- ARGV[1]     the tag the code's sealed value must start with
-- ARGV[2]     the client tag
-- ARGV[3]     the Scope's pending-code field in the hash, p or p:S
-- ARGV[4..11] integers: cooldown, window, window max, max failures,
--             failure ceiling, refused limit, refused retry, step.
--             cooldown and window are ms; refused limit is the index of an
--             extra limit already refused by charge.lua (-1: none) and
--             refused retry its ms
-- ARGV[12..]  per extra limit in KEYS: max, window ms
--
-- Reply: {outcome, reason, limit index, retry ms, attempts, expires ms,
-- sealed}
--   outcome      FALLBACK_TAKEN, FALLBACK_NOT_PENDING, FALLBACK_SPENT (this
--                step was taken already) or FALLBACK_LIMITED
--   reason       a LIMIT_* constant when FALLBACK_LIMITED, else NO_LIMIT
--   limit index  the refused extra limit's index when reason is LIMIT_EXTRA
--   retry ms     when FALLBACK_LIMITED: ms until the send is allowed
--   attempts     when FALLBACK_TAKEN: the code's wrong guesses
--   expires ms   when FALLBACK_TAKEN: ms until the code expires
--   sealed       when FALLBACK_TAKEN: the code's sealed value, else ''
local dest_key, mark_key = KEYS[1], KEYS[2]
local tag, client, pending_field = ARGV[1], ARGV[2], ARGV[3]
local FIRST_LIMIT_KEY, FIRST_LIMIT_ARG = 3, 12
want_args(FIRST_LIMIT_ARG - 1 + 2 * (#KEYS - FIRST_LIMIT_KEY + 1))
local cooldown, window, window_max, max_failures, failure_ceiling, refused_limit, refused_retry, step =
  int_arg(4), int_arg(5), int_arg(6), int_arg(7), int_arg(8), int_arg(9), int_arg(10), int_arg(11)

local now = now_ms()

local state = read_send_state(dest_key, client, now, pending_field)
if failures_refuse(state.failures, state.client_failures, max_failures, failure_ceiling) then
  return {FALLBACK_LIMITED, LIMIT_FAILURES, 0, state.failures_end - now, 0, 0, ''}
end
local pending = state.pending
if not pending or #pending < 25 then return {FALLBACK_NOT_PENDING, NO_LIMIT, 0, 0, 0, 0, ''} end
local flags, attempts, expires_at = decode_head(pending)
-- Sealed follows the digest's fingerprint, and the Scope's when the code
-- has one.
local sealed_from = 26
if has_scope(flags) then sealed_from = 42 end
local sealed = string.sub(pending, sealed_from)
if expires_at <= now or string.sub(sealed, 1, #tag) ~= tag then
  return {FALLBACK_NOT_PENDING, NO_LIMIT, 0, 0, 0, 0, ''}
end
local mark = redis.call('GET', mark_key)
if mark and #mark == #tag + 1 and string.sub(mark, 1, #tag) == tag and string.byte(mark, #mark) >= step then
  return {FALLBACK_SPENT, NO_LIMIT, 0, 0, 0, 0, ''}
end
local window_retry = window_refuses(state, window_max, now)
if window_retry then return {FALLBACK_LIMITED, LIMIT_WINDOW, 0, window_retry, 0, 0, ''} end
if refused_limit >= 0 then
  return {FALLBACK_LIMITED, LIMIT_EXTRA, refused_limit, refused_retry, 0, 0, ''}
end
local full_limit, limit_retry = charge_extra_limits(FIRST_LIMIT_KEY, FIRST_LIMIT_ARG, now)
if full_limit then return {FALLBACK_LIMITED, LIMIT_EXTRA, full_limit, limit_retry, 0, 0, ''} end
local fields = {}
write_hash(dest_key, fields, now, send_fields(fields, client, now, cooldown, window, window_max, state), state)
redis.call('SET', mark_key, tag .. string.char(step), 'PXAT', expires_at)
return {FALLBACK_TAKEN, NO_LIMIT, 0, 0, attempts, expires_at - now, sealed}
