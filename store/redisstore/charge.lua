-- Charge (split mode): charges one send to one extra limit.
--
-- KEYS[1]  the extra limit P:l:{L}
-- ARGV[1]  its max sends in a window
-- ARGV[2]  its window, ms
--
-- Reply: {charged, window end, retry ms}
--   charged     CHARGED, or NOT_CHARGED when the window is full
--   window end  unix ms; refund.lua gives the send back to this window only
--   retry ms    when NOT_CHARGED: ms until the window ends; else 0
local limit_key, limit_max, limit_window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
local fields = redis.call('HMGET', limit_key, 'n', 't')
local sends, window_end = tonumber(fields[1]) or 0, tonumber(fields[2]) or 0
if window_end <= now then
  window_end = now + limit_window
  redis.call('HSET', limit_key, 'n', 1, 't', window_end)
  redis.call('PEXPIREAT', limit_key, window_end)
  return {CHARGED, window_end, 0}
end
if sends >= limit_max then return {NOT_CHARGED, window_end, window_end - now} end
redis.call('HINCRBY', limit_key, 'n', 1)
return {CHARGED, window_end, 0}
