-- Withdraw: takes back a pending code, keeping its head (flags, attempts,
-- expiry) so its attempts carry over to the next code of its Scope until
-- its expiry.
--
-- KEYS[1]  destination hash P:{K}
-- ARGV[1]  the digest's fingerprint (16 bytes); another code stays
-- ARGV[2]  the Scope's pending-code field in the hash, p or p:S
--
-- Reply: OK.
local dest_key = KEYS[1]
local fingerprint, pending_field = ARGV[1], ARGV[2]
local pending = redis.call('HGET', dest_key, pending_field)
if pending and string.sub(pending, 10, 25) == fingerprint then
  redis.call('HSET', dest_key, pending_field, string.sub(pending, 1, 9))
end
return redis.status_reply('OK')
