-- Helpers for the scripts that send a code (Issue, Fallback): a client's
-- send limits in the destination hash and the extra limits. Prepended in
-- Go, after lib_pending.lua.

-- read_send_state returns what the destination hash holds for client, as
-- of now: the end of its cooldown, its sends in its window and the
-- window's end (0, 0 when the window has passed), the key's failures and
-- the client's failures in the current run (0 when the run has ended),
-- and the run's end. Times are unix ms.
local function read_send_state(dest_key, client, now)
  local fields = redis.call('HMGET', dest_key, 'c:' .. client, 'w:' .. client, 'x:' .. client,
    'f', 'g', 'E', 'f:' .. client, 'e:' .. client)
  local cooldown_end = tonumber(fields[1]) or 0
  local window_sends, window_end = 0, tonumber(fields[3]) or 0
  local failures, client_failures, failures_end = 0, 0, tonumber(fields[5]) or 0
  if failures_end > now then
    failures = tonumber(fields[4]) or 0
    if fields[8] and fields[8] == fields[6] then client_failures = tonumber(fields[7]) or 0 end
  end
  if window_end > now then window_sends = tonumber(fields[2]) or 0 else window_end = 0 end
  return cooldown_end, window_sends, window_end, failures, client_failures, failures_end
end

-- charge_extra_limits charges one send to each extra limit KEYS[first_key..],
-- whose max and window ms are ARGV[first_arg + 2i], ARGV[first_arg + 2i + 1].
-- It charges nothing when one of them is full, and then returns that
-- limit's index (from 0) and the ms until its window ends.
local function charge_extra_limits(first_key, first_arg, now)
  if #KEYS < first_key then return nil end
  local limits = {}
  for key_index = first_key, #KEYS do
    local arg_index = first_arg + 2 * (key_index - first_key)
    local limit_max, limit_window = tonumber(ARGV[arg_index]), tonumber(ARGV[arg_index + 1])
    local fields = redis.call('HMGET', KEYS[key_index], 'n', 't')
    local sends, window_end = tonumber(fields[1]) or 0, tonumber(fields[2]) or 0
    if window_end <= now then
      sends, window_end = 0, 0
    end
    if sends >= limit_max then return key_index - first_key, window_end - now end
    limits[#limits + 1] = {KEYS[key_index], window_end, limit_window}
  end
  -- A key named twice starts its window once and counts the second send.
  local started = {}
  for _, limit in ipairs(limits) do
    local limit_key, window_end, limit_window = limit[1], limit[2], limit[3]
    if window_end == 0 and not started[limit_key] then
      started[limit_key] = true
      local new_end = now + limit_window
      redis.call('HSET', limit_key, 'n', 1, 't', new_end)
      redis.call('PEXPIREAT', limit_key, new_end)
    else
      redis.call('HINCRBY', limit_key, 'n', 1)
    end
  end
  return nil
end

-- record_send starts client's cooldown and counts the send in its window
-- (starting the window when window_sends is 0), then extends the hash's
-- life to the latest end it wrote.
local function record_send(dest_key, client, now, cooldown_ms, window_ms, window_max, window_sends, window_end)
  local fields, latest = {}, 0
  if cooldown_ms > 0 then
    latest = now + cooldown_ms
    fields[#fields + 1] = 'c:' .. client
    fields[#fields + 1] = latest
  end
  if window_max > 0 then
    if window_sends == 0 then window_end = now + window_ms end
    fields[#fields + 1] = 'w:' .. client
    fields[#fields + 1] = window_sends + 1
    fields[#fields + 1] = 'x:' .. client
    fields[#fields + 1] = window_end
    latest = math.max(latest, window_end)
  end
  if #fields > 0 then
    redis.call('HSET', dest_key, unpack(fields))
    extend_expiry(dest_key, now, latest)
  end
end
