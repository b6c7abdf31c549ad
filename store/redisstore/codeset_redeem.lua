-- RedeemCode: redeems one code of a set (store.CodeSets.RedeemCode).
--
-- KEYS[1]  P:{K}:r   set of digest fingerprints
-- KEYS[2]  P:{K}:rf  failure counter, expiring FailureWindow after its
--                    first increment
-- ARGV[1]  the candidate's fingerprint
-- ARGV[2]  max failures
-- ARGV[3]  failure window, ms
--
-- Reply: {status, remaining, codes left, retry ms}
--   status      APPROVED, REJECTED or LOCKED
--   remaining   failures left when REJECTED; else 0
--   codes left  the set's size after this call
--   retry ms    when LOCKED: ms until the failure counter expires; else 0
local set_key, failures_key = KEYS[1], KEYS[2]
local fingerprint, max_failures, failure_window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local failures = tonumber(redis.call('GET', failures_key) or '0') or 0
local function locked()
  local ttl = redis.call('PTTL', failures_key)
  if ttl < 0 then
    ttl = failure_window
    redis.call('PEXPIRE', failures_key, ttl)
  end
  return {LOCKED, 0, redis.call('SCARD', set_key), ttl}
end
if failures >= max_failures then return locked() end
if redis.call('SREM', set_key, fingerprint) == 1 then
  if failures > 0 then redis.call('DEL', failures_key) end
  return {APPROVED, 0, redis.call('SCARD', set_key), 0}
end
failures = redis.call('INCR', failures_key)
if failures == 1 then redis.call('PEXPIRE', failures_key, failure_window) end
if failures >= max_failures then return locked() end
return {REJECTED, max_failures - failures, redis.call('SCARD', set_key), 0}
