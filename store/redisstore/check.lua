-- Check: compares a candidate with the pending code of a destination and
-- Scope, and counts a wrong guess against the code and the failure caps.
--
-- KEYS[1]  destination hash P:{K}
-- ARGV[1]  the candidate digest's fingerprint (16 bytes), then the Scope's
--          (16 bytes) when there is one
-- ARGV[2]  "max attempts:max failures:failure ceiling:failure window ms"
-- ARGV[3]  the client tag
-- ARGV[4]  the Scope's pending-code field in the hash, p or p:S
--
-- Reply: {status, remaining}
--   status     APPROVED, REJECTED, EXPIRED (nothing pending for this
--              Scope) or LOCKED
--   remaining  when REJECTED, the guesses left (at least 1); else 0
--
-- One HMGET reads the code and the failure fields. A code whose expiry
-- (in its head) has passed counts as absent. An approved code is deleted
-- (HDEL), and so is the code of a locked key; a wrong guess writes the
-- code back with one more attempt, or deletes it when no guess is left.
-- A right code when the hash holds no failure counter is approved before
-- the policy is read.
--
-- An approval deletes the client's u:C mark: its sends no longer count
-- against it for the send ceiling (see issue.lua).
local dest_key = KEYS[1]
local code_arg, packed_arg, client, pending_field = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local now = now_ms()
local fields = redis.call('HMGET', dest_key, pending_field, 'f', 'g', 'E', 'f:' .. client, 'e:' .. client,
  'u:' .. client)
local pending, unapproved = fields[1], fields[7]
local flags, attempts, expires_at = 0, 0, 0
if pending then
  flags, attempts, expires_at = decode_head(pending)
  if expires_at <= now then pending = false end
end

-- approve deletes the code and the client's u:C mark: its sends count as
-- approved for the send ceiling.
local function approve()
  if unapproved then
    redis.call('HDEL', dest_key, pending_field, 'u:' .. client)
  else
    redis.call('HDEL', dest_key, pending_field)
  end
  return {APPROVED, 0}
end

local request_has_scope = #code_arg > 16
if pending and #pending >= 25 and not fields[2] and has_scope(flags) == request_has_scope
  and string.sub(pending, 10, 9 + #code_arg) == code_arg then
  return approve()
end

local max_attempts, max_failures, failure_ceiling, failure_window = packed_ints(packed_arg, 4)
local failures, client_failures, failures_end, run = 0, 0, tonumber(fields[3]) or 0, fields[4]
if failures_end > now then
  failures = tonumber(fields[2]) or 0
  if fields[6] and fields[6] == run then client_failures = tonumber(fields[5]) or 0 end
end

-- Withdrawn (its head only): its attempts stay until its expiry, locked or
-- not, but there is no code to compare with.
if pending and #pending < 25 then pending = false end
if failures_refuse(failures, client_failures, max_failures, failure_ceiling) then
  -- A locked key's code is spent.
  if pending then redis.call('HDEL', dest_key, pending_field) end
  return {LOCKED, 0}
end
if not pending then return {EXPIRED, 0} end
local pending_scope = ''
if has_scope(flags) then pending_scope = string.sub(pending, 26, 41) end
-- Another Scope's code (the field names the Scope, so only a stored value
-- that disagrees with its field): not pending for this caller.
if pending_scope ~= string.sub(code_arg, 17, 32) then return {EXPIRED, 0} end
if string.sub(pending, 10, 25) == string.sub(code_arg, 1, 16) then
  -- The client's own failures in the run are forgiven; others' stay.
  if client_failures > 0 then
    redis.call('HSET', dest_key, 'f', failures - client_failures, 'f:' .. client, 0)
  end
  return approve()
end

attempts = attempts + 1
local remaining = max_attempts - attempts
local writes = {}
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
  writes = {'f', failures, 'g', failures_end, 'E', run, 'f:' .. client, client_failures, 'e:' .. client, run}
end
if remaining > 0 then
  local count = #writes
  writes[count + 1] = pending_field
  writes[count + 2] = encode_head(flags, attempts, expires_at) .. string.sub(pending, 10)
else
  -- No guess left: the code is spent.
  redis.call('HDEL', dest_key, pending_field)
end
if #writes > 0 then redis.call('HSET', dest_key, unpack(writes)) end
if max_failures > 0 then extend_expiry(dest_key, now, failures_end) end
if remaining > 0 then return {REJECTED, remaining} end
return {LOCKED, 0}
