-- Redeems one code of a set (store.CodeSets.RedeemCode).
-- KEYS[1]  P:{K}:r   set of digest fingerprints
-- KEYS[2]  P:{K}:rf  failure counter, expiring FailureWindow after its
--                    first increment
-- ARGV[1]  the candidate's fingerprint
-- ARGV[2]  max failures
-- ARGV[3]  failure window, ms
-- Reply: {status, remaining failures, codes left, retry after ms}, status
-- as store.CheckStatus: 1 approved, 2 rejected, 4 locked.
local limit = tonumber(ARGV[2])
local f = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local function locked()
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl < 0 then
    ttl = tonumber(ARGV[3])
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  return {4, 0, redis.call('SCARD', KEYS[1]), ttl}
end
if f >= limit then return locked() end
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  if f > 0 then redis.call('DEL', KEYS[2]) end
  return {1, 0, redis.call('SCARD', KEYS[1]), 0}
end
f = redis.call('INCR', KEYS[2])
if f == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
if f >= limit then return locked() end
return {2, limit - f, redis.call('SCARD', KEYS[1]), 0}
