-- packed_ints returns the count integers of a ':'-separated argument (see
-- packInts in Go). Anything else (another count, an empty or non-integer
-- field) is an error, so a malformed argument fails the script instead of
-- being read as zeros.
local function packed_ints(packed, count)
  local fields, values = {}, {}
  for field in string.gmatch(packed, '[^:]+') do
    fields[#fields + 1] = field
    values[#values + 1] = string.find(field, '^%-?%d+$') ~= nil and tonumber(field)
  end
  if #fields ~= count or table.concat(fields, ':') ~= packed then
    error('packed argument: want ' .. count .. ' integers')
  end
  for pos = 1, count do
    if not values[pos] then error('packed argument: field ' .. pos .. ' is not an integer') end
  end
  return unpack(values, 1, count)
end
