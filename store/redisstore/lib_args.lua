-- packed_ints returns the count integers of a ':'-separated argument (see
-- packInts in Go). Anything else (another count, an empty or non-integer
-- field) is an error, so a malformed argument fails the script instead of
-- being read as zeros.
local function packed_ints(packed, count)
  local pattern = '^' .. string.rep('(%-?%d+):', count - 1) .. '(%-?%d+)$'
  local fields = {string.match(packed, pattern)}
  if #fields ~= count then error('packed argument: want ' .. count .. ' integers') end
  for pos = 1, count do fields[pos] = tonumber(fields[pos]) end
  return unpack(fields, 1, count)
end
