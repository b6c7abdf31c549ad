-- Refund (split mode): gives back a send charge.lua charged.
--
-- KEYS[1]  the extra limit P:l:{L}
-- ARGV[1]  the window end the charge returned; a later window keeps its
--          count
--
-- Reply: OK.
local limit_key, charged_window_end = KEYS[1], tonumber(ARGV[1])
local fields = redis.call('HMGET', limit_key, 'n', 't')
if fields[2] and tonumber(fields[2]) == charged_window_end and (tonumber(fields[1]) or 0) > 0 then
  redis.call('HINCRBY', limit_key, 'n', -1)
end
return redis.status_reply('OK')
