-- Issue: saves a new code for a destination and Scope, or reuses the
-- pending one, after the send limits allow it: the failure caps, the
-- client's cooldown, its window budget and the key's send ceiling (both
-- LIMIT_WINDOW), then the extra limits.
--
-- KEYS[1]     destination hash P:{K}
-- KEYS[2..]   extra limits P:l:{L} (standalone only; on a Cluster they are
--             charged by charge.lua first)
-- ARGV[1]     the digest's fingerprint (16 bytes), then the Scope's (16
--             bytes) when there is one
-- ARGV[2]     sealed: stored after the fingerprints
-- ARGV[3]     the client tag
-- ARGV[4]     the Scope's pending-code field in the hash, p or p:S
-- ARGV[5..13] integers: keep, ttl, cooldown, window, window max, max
--             failures, failure ceiling, refused limit, refused retry.
--             keep is 1 to reuse a pending code of the same Scope; ttl,
--             cooldown and window are ms; refused limit is the index of an
--             extra limit already refused by charge.lua (-1: none) and
--             refused retry its ms
-- ARGV[14..]  per extra limit in KEYS: max, window ms
--
-- Reply: {outcome, reason, limit index, retry ms, attempts, expires ms,
-- sealed}
--   outcome      ISSUED, REUSED or LIMITED
--   reason       a LIMIT_* constant when LIMITED; REASON_RETRY with ISSUED
--                when this digest was already saved (a retried call)
--   limit index  the refused extra limit's index when reason is LIMIT_EXTRA
--   retry ms     when LIMITED: ms until the send is allowed
--   attempts     wrong guesses the code carries (kept across codes of a
--                Scope until the old code's expiry)
--   expires ms   ms until the code expires
--   sealed       the pending code's sealed value when REUSED, else ''
local dest_key = KEYS[1]
local code_arg, sealed_arg, client, pending_field = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local FIRST_LIMIT_KEY, FIRST_LIMIT_ARG = 2, 14
want_args(FIRST_LIMIT_ARG - 1 + 2 * (#KEYS - FIRST_LIMIT_KEY + 1))
local keep, ttl, cooldown, window, window_max, max_failures, failure_ceiling, refused_limit, refused_retry =
  int_arg(5), int_arg(6), int_arg(7), int_arg(8), int_arg(9), int_arg(10), int_arg(11), int_arg(12), int_arg(13)

local now = now_ms()
local state = read_send_state(dest_key, client, now, pending_field)
local pending = state.pending
local attempts, expires_at, pending_fingerprint, pending_scope = 0, 0, false, ''
if pending then
  local flags
  flags, attempts, expires_at = decode_head(pending)
  if expires_at <= now then
    attempts, expires_at = 0, 0
  elseif #pending >= 25 then
    pending_fingerprint = string.sub(pending, 10, 25)
    if has_scope(flags) then pending_scope = string.sub(pending, 26, 41) end
  end
end
local request_scope = string.sub(code_arg, 17, 32)
if pending_fingerprint == string.sub(code_arg, 1, 16) then
  -- A retry of an Issue that already saved this digest (the reply was
  -- lost): idempotent, nothing charged. REASON_RETRY marks it, so a split
  -- Issue refunds the limits it charged.
  return {ISSUED, REASON_RETRY, 0, 0, attempts, expires_at - now, ''}
end

if failures_refuse(state.failures, state.client_failures, max_failures, failure_ceiling) then
  return {LIMITED, LIMIT_FAILURES, 0, state.failures_end - now, 0, 0, ''}
end
if state.cooldown_end > now then return {LIMITED, LIMIT_COOLDOWN, 0, state.cooldown_end - now, 0, 0, ''} end
local window_retry = window_refuses(state, window_max, now)
if window_retry then return {LIMITED, LIMIT_WINDOW, 0, window_retry, 0, 0, ''} end
if refused_limit >= 0 then return {LIMITED, LIMIT_EXTRA, refused_limit, refused_retry, 0, 0, ''} end
local full_limit, limit_retry = charge_extra_limits(FIRST_LIMIT_KEY, FIRST_LIMIT_ARG, now)
if full_limit then return {LIMITED, LIMIT_EXTRA, full_limit, limit_retry, 0, 0, ''} end
local fields = {}
if pending_fingerprint and keep == 1 and pending_scope == request_scope then
  write_hash(dest_key, fields, now, send_fields(fields, client, now, cooldown, window, window_max, state), state)
  return {REUSED, NO_LIMIT, 0, 0, attempts, expires_at - now, string.sub(pending, 26 + #pending_scope)}
end
local new_expiry, flags = now + ttl, 0
if #request_scope > 0 then flags = 2 end -- bit 2: the code has a Scope (see has_scope)
fields[1], fields[2] = pending_field, encode_head(flags, attempts, new_expiry) .. code_arg .. sealed_arg
local latest = send_fields(fields, client, now, cooldown, window, window_max, state)
write_hash(dest_key, fields, now, math.max(latest, new_expiry), state)
return {ISSUED, NO_LIMIT, 0, 0, attempts, ttl, ''}
