-- AddCounts: one counter key, a hash of ring slots.
-- KEYS[1]  the counter hash
-- ARGV[1]  lifetime of the hash after an addition, ms
-- ARGV[2]  number of fields F; ARGV[3] number of series S
-- ARGV[4..3+2S]  per series: the current bucket number and its ring slot
-- ARGV[4+2S..]   F deltas
-- Hash field "<s>.<slot>" holds "<bucket>,<v1>,...,<vF>": the bucket the
-- slot holds and its values. A slot that holds an older bucket is started
-- again from zero; an addition for a bucket older than the slot's is
-- dropped. Returns HGETALL of the hash (at most the sum of the rings'
-- lengths fields).
local k = KEYS[1]
local nf, ns = tonumber(ARGV[2]), tonumber(ARGV[3])
local base = 3 + 2 * ns
local adds, write = {}, false
for f = 1, nf do
  adds[f] = tonumber(ARGV[base + f])
  if adds[f] ~= 0 then write = true end
end
if write then
  for s = 1, ns do
    local id, slot = ARGV[2 + 2 * s], ARGV[3 + 2 * s]
    local name = (s - 1) .. '.' .. slot
    local held = redis.call('HGET', k, name)
    local vals, ok = {}, true
    if held then
      local i = 0
      for x in string.gmatch(held, '[^,]+') do
        i = i + 1
        vals[i] = x
      end
      if tonumber(vals[1]) > tonumber(id) then
        ok = false
      elseif vals[1] ~= id then
        vals = {}
      end
    end
    if ok then
      local out = {id}
      for f = 1, nf do
        out[f + 1] = string.format('%d', (tonumber(vals[f + 1]) or 0) + adds[f])
      end
      redis.call('HSET', k, name, table.concat(out, ','))
    end
  end
  redis.call('PEXPIRE', k, ARGV[1])
end
return redis.call('HGETALL', k)
