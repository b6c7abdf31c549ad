-- Check: compares a candidate with the pending code of a destination and
-- Scope, and counts a wrong guess against the code and the failure caps.
--
-- KEYS[1]  destination hash P:{K}
-- KEYS[2]  pending code of the Scope, P:{K}:p[:S]
-- ARGV[1]  the candidate digest's fingerprint (16 bytes), then the Scope's
--          (16 bytes) when there is one
-- ARGV[2]  "max attempts:max failures:failure ceiling:failure window ms"
-- ARGV[3]  the client tag
--
-- Reply: {status, remaining}
--   status     APPROVED, REJECTED, EXPIRED (nothing pending for this
--              Scope) or LOCKED
--   remaining  when REJECTED, the guesses left (at least 1); else 0
--
-- The pending code is taken with GETDEL and put back when it must stay (a
-- wrong guess's code with one more attempt, a withdrawn code's attempts,
-- another Scope's code), with the expiry it had. A right code when the
-- hash holds no failure counter returns before TIME.
--
-- An approval deletes the client's u:C mark: its sends no longer count
-- against it for the send ceiling (see issue.lua).
local dest_key, pending_key = KEYS[1], KEYS[2]
local code_arg, packed_arg, client = ARGV[1], ARGV[2], ARGV[3]

local pending = redis.call('GETDEL', pending_key)
local fields = redis.call('HMGET', dest_key, 'f', 'g', 'E', 'f:' .. client, 'e:' .. client, 'u:' .. client)
local unapproved = fields[6]
if pending and not fields[1] then
  local request_has_scope = #code_arg > 16
  if has_scope(string.byte(pending, 1)) == request_has_scope
    and string.sub(pending, 10, 9 + #code_arg) == code_arg then
    -- The client's sends count as approved for the send ceiling.
    if unapproved then redis.call('HDEL', dest_key, 'u:' .. client) end
    return {APPROVED, 0}
  end
end

local now = now_ms()
local max_attempts, max_failures, failure_ceiling, failure_window = packed_ints(packed_arg, 4)
local failures, client_failures, failures_end, run = 0, 0, tonumber(fields[2]) or 0, fields[3]
if failures_end > now then
  failures = tonumber(fields[1]) or 0
  if fields[5] and fields[5] == run then client_failures = tonumber(fields[4]) or 0 end
end

local flags, attempts, expires_at = 0, 0, 0
if pending then flags, attempts, expires_at = decode_head(pending) end
if pending and #pending < 25 and expires_at > now then
  -- Withdrawn: its attempts stay until its expiry, locked or not.
  redis.call('SET', pending_key, pending, 'PXAT', expires_at)
  pending = false
end
if failures_refuse(failures, client_failures, max_failures, failure_ceiling) then return {LOCKED, 0} end
if not pending or expires_at <= now then return {EXPIRED, 0} end
local pending_scope = ''
if has_scope(flags) then pending_scope = string.sub(pending, 26, 41) end
if pending_scope ~= string.sub(code_arg, 17, 32) then
  -- Another Scope's code: not pending for this caller; put it back as it was.
  redis.call('SET', pending_key, pending, 'PXAT', expires_at)
  return {EXPIRED, 0}
end
if string.sub(pending, 10, 25) == string.sub(code_arg, 1, 16) then
  -- The client's own failures in the run are forgiven; others' stay.
  if client_failures > 0 then
    redis.call('HSET', dest_key, 'f', failures - client_failures, 'f:' .. client, 0)
  end
  if unapproved then redis.call('HDEL', dest_key, 'u:' .. client) end
  return {APPROVED, 0}
end

attempts = attempts + 1
local remaining = max_attempts - attempts
if max_failures > 0 then
  if failures_end <= now then
    -- A new run: the old one's client counts no longer apply.
    run = tostring(now + 1)
    failures, client_failures = 0, 0
  end
  failures_end = now + failure_window
  failures = failures + 1
  client_failures = client_failures + 1
  if (failure_ceiling > 0 and failures >= failure_ceiling) or failures >= max_failures then
    remaining = 0
  else
    remaining = math.min(remaining, max_failures - client_failures, max_failures - failures)
  end
  redis.call('HSET', dest_key, 'f', failures, 'g', failures_end, 'E', run,
    'f:' .. client, client_failures, 'e:' .. client, run)
  extend_expiry(dest_key, now, failures_end)
end
if remaining > 0 then
  redis.call('SET', pending_key, encode_head(flags, attempts, expires_at) .. string.sub(pending, 10), 'PXAT', expires_at)
  return {REJECTED, remaining}
end
return {LOCKED, 0}
