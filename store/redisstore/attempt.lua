-- Attempt: records the outcome of a check done outside the store (a TOTP
-- code, say): an accepted marker, refused when seen again, or a failure
-- counted against the key.
--
-- KEYS[1]  destination hash P:{K}
-- ARGV[1]  the marker ('' for a failed check)
-- ARGV[2]  the marker's lifetime, ms
-- ARGV[3]  max failures
-- ARGV[4]  failure window, ms
--
-- Reply: {status, remaining, retry ms}
--   status     APPROVED (a new marker), REJECTED (a failure), REPLAYED (a
--              marker seen before, counted as a failure) or LOCKED
--   remaining  failures left when REJECTED or REPLAYED; else 0
--   retry ms   when LOCKED: ms until the failure window ends; else 0
--
-- A failure counts for the key and for the empty client tag, in the run.
local dest_key = KEYS[1]
local marker, marker_ttl, max_failures, failure_window =
  ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local now = now_ms()
local fields = redis.call('HMGET', dest_key, 'f', 'g', 'M', 'E', 'f:', 'e:')
local failures, failures_end = tonumber(fields[1]) or 0, tonumber(fields[2]) or 0
local markers_end = tonumber(fields[3]) or 0
local stored_markers_end, run, client_failures = markers_end, fields[4], 0
if failures_end <= now then
  failures, failures_end = 0, 0
elseif fields[6] and fields[6] == run then
  client_failures = tonumber(fields[5]) or 0
end
if markers_end > 0 and markers_end <= now then markers_end = 0 end

local to_set, to_delete = {}, {}
local function put(field, value)
  to_set[#to_set + 1] = field
  to_set[#to_set + 1] = value
end
local function drop(field) to_delete[#to_delete + 1] = field end
local function commit(until_ms)
  if #to_delete > 0 then redis.call('HDEL', dest_key, unpack(to_delete)) end
  if #to_set > 0 then redis.call('HSET', dest_key, unpack(to_set)) end
  if until_ms > now then extend_expiry(dest_key, now, until_ms) end
end

if failures >= max_failures then return {LOCKED, 0, failures_end - now} end
local function fail(status)
  if failures_end == 0 then
    run = tostring(now + 1)
    client_failures = 0
  end
  failures_end = now + failure_window
  failures = failures + 1
  put('f', failures); put('g', failures_end); put('E', run)
  put('f:', client_failures + 1); put('e:', run)
  commit(math.max(failures_end, markers_end))
  if failures >= max_failures then return {LOCKED, 0, failures_end - now} end
  return {status, max_failures - failures, 0}
end
if marker == '' then return fail(REJECTED) end

-- Drop the expired markers and find the latest end of the live ones.
local marker_field = 'm:' .. marker
local all_fields = redis.call('HGETALL', dest_key)
local seen = false
markers_end = 0
for pos = 1, #all_fields, 2 do
  local field = all_fields[pos]
  if string.sub(field, 1, 2) == 'm:' then
    local field_end = tonumber(all_fields[pos + 1]) or 0
    if field_end <= now then
      drop(field)
    else
      if field == marker_field then seen = true end
      markers_end = math.max(markers_end, field_end)
    end
  end
end
local function store_markers_end()
  if markers_end ~= stored_markers_end then
    if markers_end > 0 then put('M', markers_end) else drop('M') end
  end
end
if seen then
  store_markers_end()
  return fail(REPLAYED)
end
local new_marker_end = now + marker_ttl
put(marker_field, new_marker_end)
markers_end = math.max(markers_end, new_marker_end)
store_markers_end()
if failures > 0 then
  drop('f')
  drop('g')
end
commit(markers_end)
return {APPROVED, 0, 0}
