-- AddCounts: adds to the ring buckets of one counter key, then reads them.
--
-- KEYS[1]              the counter hash P:n:{K}
-- ARGV[1]              lifetime of the hash after an addition, ms
-- ARGV[2]              number of fields F
-- ARGV[3]              number of series S
-- ARGV[4..3+2S]        per series: the current bucket number, its ring slot
-- ARGV[4+2S..3+2S+F]   the F deltas
--
-- Hash field "<series>.<slot>" holds "<bucket>,<v1>,...,<vF>": the bucket
-- the slot holds and its values. A slot that holds an older bucket starts
-- again from zero; an addition for a bucket older than the slot's is
-- dropped. A read (every delta 0) writes nothing.
--
-- Reply: HGETALL of the hash (at most the sum of the rings' lengths
-- fields).
local counter_key, counter_ttl = KEYS[1], ARGV[1]
local field_count, series_count = tonumber(ARGV[2]), tonumber(ARGV[3])
local first_delta = 4 + 2 * series_count

local deltas, writes = {}, false
for field = 1, field_count do
  deltas[field] = tonumber(ARGV[first_delta + field - 1])
  if deltas[field] ~= 0 then writes = true end
end
if writes then
  for series = 1, series_count do
    local bucket, slot = ARGV[2 + 2 * series], ARGV[3 + 2 * series]
    local name = (series - 1) .. '.' .. slot
    local held = redis.call('HGET', counter_key, name)
    local values, current = {}, true
    if held then
      for part in string.gmatch(held, '[^,]+') do values[#values + 1] = part end
      if tonumber(values[1]) > tonumber(bucket) then
        current = false
      elseif values[1] ~= bucket then
        values = {}
      end
    end
    if current then
      local out = {bucket}
      for field = 1, field_count do
        out[field + 1] = string.format('%d', (tonumber(values[field + 1]) or 0) + deltas[field])
      end
      redis.call('HSET', counter_key, name, table.concat(out, ','))
    end
  end
  redis.call('PEXPIRE', counter_key, counter_ttl)
end
return redis.call('HGETALL', counter_key)
