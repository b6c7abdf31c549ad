-- Claim: leases the references that are due.
--
-- KEYS[1]  the queue P:fq
-- ARGV[1]  the most references to claim
-- ARGV[2]  the lease, ms: a claimed reference falls due again after it
-- ARGV[3]  the queue's lifetime after a write, ms
--
-- Reply: the references claimed (an array of strings, maybe empty).
local queue_key, max_refs, lease, queue_ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', queue_key, '-inf', now, 'LIMIT', 0, max_refs)
if #due == 0 then return due end
local members = {}
for pos, ref in ipairs(due) do
  members[2 * pos - 1] = now + lease
  members[2 * pos] = ref
end
redis.call('ZADD', queue_key, unpack(members))
redis.call('PEXPIRE', queue_key, queue_ttl)
return due
