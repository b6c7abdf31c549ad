-- now_ms is the clock of the node that owns the keys, unix ms, so
-- application servers with skewed clocks agree. Prepended in Go, after the
-- constants.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
