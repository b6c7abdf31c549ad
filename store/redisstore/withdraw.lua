-- Withdraw: takes back a pending code, keeping its head (flags, attempts,
-- expiry) so its attempts carry over to the next code of its Scope until
-- its expiry.
--
-- KEYS[1]  pending code of the Scope, P:{K}:p[:S]
-- ARGV[1]  the digest's fingerprint (16 bytes); another code stays
--
-- Reply: OK.
local pending_key, fingerprint = KEYS[1], ARGV[1]
local pending = redis.call('GET', pending_key)
if pending and string.sub(pending, 10, 25) == fingerprint then
  redis.call('SET', pending_key, string.sub(pending, 1, 9), 'KEEPTTL')
end
return redis.status_reply('OK')
