-- Fallback: KEYS[1] destination hash P:{K}, KEYS[2] pending code of the
-- Scope P:{K}:p[:S], KEYS[3] its fallback mark P:{K}:b[:S] (the tag, then
-- one byte: the furthest step taken), KEYS[4..] extra limits (standalone
-- only).
-- ARGV: tag, then "cooldown ms:window ms:window max:failure max:failure
-- ceiling:refused extra limit index (-1: none):its retry ms:step", the
-- client key, then max and window ms of each extra limit in KEYS. Reply:
-- {outcome, reason, limit index, retry ms, attempts, expires ms, sealed}.
-- The pending value's layout and the hash's fields are described in
-- scripts.go; pdec, extend and refused come from pendingLib and failLib,
-- prepended in Go.
local k, kp, kb = KEYS[1], KEYS[2], KEYS[3]
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local cd, win, wmax, fmax, fceil, ext, eretry, step =
  string.match(ARGV[2], '^(%d+):(%d+):(%d+):(%d+):(%d+):(-?%d+):(%d+):(%d+)$')
step = tonumber(step)
cd, win, wmax = tonumber(cd), tonumber(win), tonumber(wmax)
fmax, fceil, ext = tonumber(fmax), tonumber(fceil), tonumber(ext)
local cl = ARGV[3]
local v = redis.call('HMGET', k, 'c:' .. cl, 'w:' .. cl, 'x:' .. cl, 'f', 'g', 'E', 'f:' .. cl, 'e:' .. cl, 'n', 'y', 'u:' .. cl)
local c, x, g = tonumber(v[1]) or 0, tonumber(v[3]) or 0, tonumber(v[5]) or 0
local sn, sy = tonumber(v[9]) or 0, tonumber(v[10]) or 0
if sy <= now then sn = 0; sy = 0 end
local f, cf, w = 0, 0, 0
if g > now then
  f = tonumber(v[4]) or 0
  if v[8] and v[8] == v[6] then cf = tonumber(v[7]) or 0 end
end
if x > now then w = tonumber(v[2]) or 0 else x = 0 end
if refused(f, cf, fmax, fceil) then return {4, 1, 0, g - now, 0, 0, ''} end
local p = redis.call('GET', kp)
if not p or #p < 25 then return {2, 0, 0, 0, 0, 0, ''} end
local pfl, pa, pe = pdec(p)
local tag = ARGV[1]
-- Sealed follows the digest's fingerprint, and a Scope's fingerprint
-- (16 bytes) when flag bit 2 says the code has one.
local off = 26
if pfl % 4 >= 2 then off = 42 end
local sealed = string.sub(p, off)
if pe <= now or string.sub(sealed, 1, #tag) ~= tag then return {2, 0, 0, 0, 0, 0, ''} end
local mark = redis.call('GET', kb)
if mark and #mark == #tag + 1 and string.sub(mark, 1, #tag) == tag
  and string.byte(mark, #mark) >= step then return {3, 0, 0, 0, 0, 0, ''} end
if wmax > 0 and w >= wmax then return {4, 3, 0, x - now, 0, 0, ''} end
if wmax > 0 and sn >= wmax and v[11] and tonumber(v[11]) == sy then return {4, 3, 0, sy - now, 0, 0, ''} end
if ext >= 0 then return {4, 4, ext, tonumber(eretry), 0, 0, ''} end
if #KEYS > 3 then
  local lim = {}
  for i = 4, #KEYS do
    local lmax, lwin = tonumber(ARGV[4 + 2 * (i - 4)]), tonumber(ARGV[5 + 2 * (i - 4)])
    local lv = redis.call('HMGET', KEYS[i], 'n', 't')
    local ln, lt = tonumber(lv[1]) or 0, tonumber(lv[2]) or 0
    if lt <= now then ln = 0; lt = 0 end
    if ln >= lmax then return {4, 4, i - 4, lt - now, 0, 0, ''} end
    lim[#lim + 1] = {KEYS[i], lt, lwin}
  end
  local fresh = {}
  for _, l in ipairs(lim) do
    if l[2] == 0 and not fresh[l[1]] then
      fresh[l[1]] = true
      local lt = now + l[3]
      redis.call('HSET', l[1], 'n', 1, 't', lt)
      redis.call('PEXPIREAT', l[1], lt)
    else
      redis.call('HINCRBY', l[1], 'n', 1)
    end
  end
end
local set, n, hi = {}, 0, 0
if cd > 0 then
  c = now + cd
  set[1] = 'c:' .. cl; set[2] = c; n = 2; hi = c
end
if wmax > 0 then
  if w == 0 then x = now + win end
  if sy == 0 then sy = now + win end
  set[n + 1] = 'w:' .. cl; set[n + 2] = w + 1; set[n + 3] = 'x:' .. cl; set[n + 4] = x
  set[n + 5] = 'n'; set[n + 6] = sn + 1; set[n + 7] = 'y'; set[n + 8] = sy; set[n + 9] = 'u:' .. cl; set[n + 10] = sy
  n = n + 10
  if x > hi then hi = x end
  if sy > hi then hi = sy end
end
if n > 0 then
  redis.call('HSET', k, unpack(set))
  extend(k, now, hi)
end
redis.call('SET', kb, tag .. string.char(step), 'PXAT', pe)
return {1, 0, 0, 0, pa, pe - now, sealed}
