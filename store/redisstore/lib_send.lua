-- Helpers for the scripts that send a code (Issue, Fallback): a client's
-- send limits in the destination hash and the extra limits. Prepended in
-- Go, after lib_pending.lua.

-- read_send_state returns, in a table, what the destination hash holds
-- for client, as of now (times in unix ms):
--   cooldown_end     the end of the client's cooldown
--   window_sends     the client's sends in its window, and window_end the
--   window_end       window's end (0, 0 when the window has passed)
--   failures         the key's failures and the client's in the current
--   client_failures  run (0 when the run has ended), and failures_end the
--   failures_end     run's end
--   ceiling_sends    the key's sends from every client in the ceiling's
--   ceiling_end      window, and its end (0, 0 when it has passed)
--   unapproved_end   the ceiling window in which the client last sent
--                    without an approval since (nil: none)
--   pending          the value of pending_field, the Scope's pending code
--                    (false: none), read in the same HMGET
--   seen             whether any of the fields read was in the hash
local function read_send_state(dest_key, client, now, pending_field)
  local fields = redis.call('HMGET', dest_key, 'c:' .. client, 'w:' .. client, 'x:' .. client,
    'f', 'g', 'E', 'f:' .. client, 'e:' .. client, 'n', 'y', 'u:' .. client, pending_field)
  local state = {
    cooldown_end = tonumber(fields[1]) or 0,
    window_sends = 0, window_end = tonumber(fields[3]) or 0,
    failures = 0, client_failures = 0, failures_end = tonumber(fields[5]) or 0,
    ceiling_sends = tonumber(fields[9]) or 0, ceiling_end = tonumber(fields[10]) or 0,
    unapproved_end = tonumber(fields[11]),
    pending = fields[12],
    seen = false,
  }
  for pos = 1, 12 do
    if fields[pos] then
      state.seen = true
      break
    end
  end
  if state.failures_end > now then
    state.failures = tonumber(fields[4]) or 0
    if fields[8] and fields[8] == fields[6] then state.client_failures = tonumber(fields[7]) or 0 end
  end
  if state.window_end > now then
    state.window_sends = tonumber(fields[2]) or 0
  else
    state.window_end = 0
  end
  if state.ceiling_end <= now then
    state.ceiling_sends, state.ceiling_end = 0, 0
  end
  return state
end

-- window_refuses returns the ms until the send is allowed when the
-- client's window budget or the key's send ceiling refuses it (both are
-- LIMIT_WINDOW), else nil. The ceiling refuses a client that sent in its
-- full window without an approval since.
local function window_refuses(state, window_max, now)
  if window_max <= 0 then return nil end
  if state.window_sends >= window_max then return state.window_end - now end
  if state.ceiling_sends >= window_max and state.unapproved_end == state.ceiling_end then
    return state.ceiling_end - now
  end
  return nil
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

-- send_fields appends to fields (name, value, name, value, ...) what a
-- send writes to the destination hash: client's cooldown and, with a
-- window budget, the send counted in the client's window and in the key's
-- ceiling window (starting either when it has passed), marked unapproved
-- in the latter. It returns the latest end it wrote (0: none). state is
-- what read_send_state returned.
local function send_fields(fields, client, now, cooldown_ms, window_ms, window_max, state)
  local latest = 0
  if cooldown_ms > 0 then
    latest = now + cooldown_ms
    local count = #fields
    fields[count + 1], fields[count + 2] = 'c:' .. client, latest
  end
  if window_max > 0 then
    local window_end, ceiling_end = state.window_end, state.ceiling_end
    if state.window_sends == 0 then window_end = now + window_ms end
    if ceiling_end == 0 then ceiling_end = now + window_ms end
    local count = #fields
    fields[count + 1], fields[count + 2] = 'w:' .. client, state.window_sends + 1
    fields[count + 3], fields[count + 4] = 'x:' .. client, window_end
    fields[count + 5], fields[count + 6] = 'n', state.ceiling_sends + 1
    fields[count + 7], fields[count + 8] = 'y', ceiling_end
    fields[count + 9], fields[count + 10] = 'u:' .. client, ceiling_end
    latest = math.max(latest, window_end, ceiling_end)
  end
  return latest
end

-- write_hash sets fields (name, value, ...) in dest_key with one HSET and
-- makes the hash live at least until until_ms. state is what
-- read_send_state returned.
local function write_hash(dest_key, fields, now, until_ms, state)
  if #fields == 0 then return end
  redis.call('HSET', dest_key, unpack(fields))
  extend_expiry(dest_key, now, until_ms, not state.seen)
end
