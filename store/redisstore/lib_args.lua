-- int_arg returns ARGV[pos] as an integer (see appendInts in Go). A
-- missing or non-integer argument is an error, so a malformed call fails
-- the script instead of being read as zeros.
local function int_arg(pos)
  local value = tonumber(ARGV[pos])
  if not value or value % 1 ~= 0 then error('ARGV[' .. pos .. ']: want an integer') end
  return value
end

-- want_args fails the script unless it was given exactly count arguments.
local function want_args(count)
  if #ARGV ~= count then error('want ' .. count .. ' arguments, got ' .. #ARGV) end
end

-- packed_ints returns the count integers of a ':'-separated argument (see
-- packInts in Go: Check's policy, which its approving path never reads).
-- Anything else (another count, an empty or non-integer field) is an
-- error, so a malformed argument fails the script instead of being read as
-- zeros.
local function packed_ints(packed, count)
  local pattern = '^' .. string.rep('(%-?%d+):', count - 1) .. '(%-?%d+)$'
  local fields = {string.match(packed, pattern)}
  if #fields ~= count then error('packed argument: want ' .. count .. ' integers') end
  for pos = 1, count do fields[pos] = tonumber(fields[pos]) end
  return unpack(fields, 1, count)
end
