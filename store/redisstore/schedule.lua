-- Schedule: puts a reference in the fallback queue, due after a delay.
--
-- KEYS[1]  the queue P:fq
-- ARGV[1]  the reference
-- ARGV[2]  delay, ms
-- ARGV[3]  the queue's lifetime after a write, ms
--
-- Reply: OK.
local queue_key, ref, delay, queue_ttl = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
redis.call('ZADD', queue_key, now_ms() + delay, ref)
redis.call('PEXPIRE', queue_key, queue_ttl)
return redis.status_reply('OK')
