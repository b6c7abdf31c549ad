-- AddCounts: one counter key, a hash of ring buckets.
-- KEYS[1]  the counter hash
-- ARGV[1]  lifetime of the hash after an addition, ms
-- ARGV[2]  number of fields F; ARGV[3] number of series S
-- ARGV[4..3+2S]  per series: the current bucket number, its ring slot
-- ARGV[4+2S..]   F deltas
-- Hash fields: "<s>.<slot>" the bucket number a slot holds,
-- "<s>.<slot>.<f>" a non-zero value of field f in that slot.
-- Returns HGETALL of the hash after the addition.
local k = KEYS[1]
local nf, ns = tonumber(ARGV[2]), tonumber(ARGV[3])
local base = 3 + 2 * ns
local write = false
for f = 1, nf do
  if tonumber(ARGV[base + f]) ~= 0 then write = true end
end
if write then
  for s = 1, ns do
    local id, slot = ARGV[2 + 2 * s], ARGV[3 + 2 * s]
    local idf = (s - 1) .. '.' .. slot
    local held = redis.call('HGET', k, idf)
    local ok = true
    if held ~= id then
      if held and tonumber(held) > tonumber(id) then
        ok = false -- an older bucket than the slot holds: dropped
      else
        local old = {}
        for f = 1, nf do old[f] = idf .. '.' .. (f - 1) end
        redis.call('HDEL', k, unpack(old))
        redis.call('HSET', k, idf, id)
      end
    end
    if ok then
      for f = 1, nf do
        local d = tonumber(ARGV[base + f])
        if d ~= 0 then redis.call('HINCRBY', k, idf .. '.' .. (f - 1), d) end
      end
    end
  end
  redis.call('PEXPIRE', k, ARGV[1])
end
return redis.call('HGETALL', k)
