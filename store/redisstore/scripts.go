package redisstore

import "github.com/redis/go-redis/v9"

// Key layout (P is the prefix, K an IssueRequest.Key, L a Limit.Key):
//
//	P:{K}    hash: everything of one destination
//	  d  digest of the pending code           (with e)
//	  s  Sealed of the pending code           (with d; absent when empty)
//	  e  expiry of the code, unix ms; its attempts live until then, also
//	     after a Withdraw
//	  a  wrong guesses against the code       (absent when 0)
//	  c  end of the cooldown, unix ms
//	  w  sends in the window; x its end, unix ms
//	  f  failure counter; g its end, unix ms
//	  m:<marker>  end of an accepted Attempt marker, unix ms
//	  M  latest end of any marker
//	P:l:{L}  hash: one extra limit
//	  n  sends in the window; t its end, unix ms
//
// A field whose time has passed is treated as absent and removed on the next
// write. The hash's own expiry (PEXPIREAT) is always the latest of its
// times, so nothing outlives its purpose. Times come from redis.call('TIME')
// on the node that owns the key, so clients with skewed clocks agree.

// prelude loads the destination hash into locals and defines commit, which
// writes back what changed in at most three calls (HDEL, HSET, PEXPIREAT),
// or deletes the hash when nothing in it is alive.
const prelude = `
local k = KEYS[1]
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local r = redis.call('HMGET', k, 'd', 'e', 'a', 'c', 'w', 'x', 'f', 'g', 'M')
local d = r[1]
local e, a = tonumber(r[2]) or 0, tonumber(r[3]) or 0
local c = tonumber(r[4]) or 0
local w, x = tonumber(r[5]) or 0, tonumber(r[6]) or 0
local f, g = tonumber(r[7]) or 0, tonumber(r[8]) or 0
local mm = tonumber(r[9]) or 0
local mm0 = mm
local old = math.max(e, c, x, g, mm)
local set, del = {}, {}
local function put(n, v) set[#set + 1] = n; set[#set + 1] = v end
local function drop(...) for _, n in ipairs({...}) do del[#del + 1] = n end end
if e > 0 and e <= now then drop('d', 's', 'e', 'a'); d = false; e = 0; a = 0 end
if c > 0 and c <= now then drop('c'); c = 0 end
if x > 0 and x <= now then drop('w', 'x'); w = 0; x = 0 end
if g > 0 and g <= now then drop('f', 'g'); f = 0; g = 0 end
if mm > 0 and mm <= now then mm = 0 end
local function commit()
  local new = math.max(e, c, x, g, mm)
  if new <= now then
    if old > 0 then redis.call('DEL', k) end
    return
  end
  if #del > 0 then redis.call('HDEL', k, unpack(del)) end
  if #set > 0 then redis.call('HSET', k, unpack(set)) end
  if new ~= old then redis.call('PEXPIREAT', k, new) end
end
`

// issueSrc: KEYS[1] destination, KEYS[2..] extra limits (standalone only).
// ARGV: digest, sealed, keep (1/0), ttl ms, cooldown ms, window ms,
// window max, failure max, refused extra limit index (-1: none), its retry
// ms, then max and window ms of each extra limit in KEYS.
// Reply: {outcome, reason, limit index, retry ms, attempts, expires ms, sealed}.
const issueSrc = prelude + `
local keep = ARGV[3] == '1'
local ttl, cd, win = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local wmax, fmax = tonumber(ARGV[7]), tonumber(ARGV[8])
local ext = tonumber(ARGV[9])
if fmax > 0 and f >= fmax then return {3, 1, 0, g - now, 0, 0, ''} end
if c > now then return {3, 2, 0, c - now, 0, 0, ''} end
if wmax > 0 and w >= wmax then return {3, 3, 0, x - now, 0, 0, ''} end
if ext >= 0 then return {3, 4, ext, tonumber(ARGV[10]), 0, 0, ''} end
local lim = {}
for i = 2, #KEYS do
  local lmax, lwin = tonumber(ARGV[9 + 2 * (i - 1)]), tonumber(ARGV[10 + 2 * (i - 1)])
  local v = redis.call('HMGET', KEYS[i], 'n', 't')
  local n, t = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if t <= now then n = 0; t = 0 end
  if n >= lmax then return {3, 4, i - 2, t - now, 0, 0, ''} end
  lim[#lim + 1] = {KEYS[i], t, lwin}
end
local fresh = {}
for _, l in ipairs(lim) do
  if l[2] == 0 and not fresh[l[1]] then
    fresh[l[1]] = true
    local t = now + l[3]
    redis.call('HSET', l[1], 'n', 1, 't', t)
    redis.call('PEXPIREAT', l[1], t)
  else
    redis.call('HINCRBY', l[1], 'n', 1)
  end
end
if cd > 0 then c = now + cd; put('c', c) end
if wmax > 0 then
  if w == 0 then x = now + win; put('x', x) end
  w = w + 1; put('w', w)
end
if d and keep then
  local s = redis.call('HGET', k, 's') or ''
  commit()
  return {2, 0, 0, 0, a, e - now, s}
end
if ARGV[2] ~= '' then put('s', ARGV[2]) elseif d then drop('s') end
e = now + ttl
put('d', ARGV[1]); put('e', e)
commit()
return {1, 0, 0, 0, a, ttl, ''}
`

// checkSrc: KEYS[1] destination. ARGV: digest, max attempts, failure max,
// failure window ms. Reply: {status, remaining}.
const checkSrc = prelude + `
local maxa, fmax, fw = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if fmax > 0 and f >= fmax then
  if d then drop('d', 's', 'e', 'a'); e = 0; commit() end
  return {4, 0}
end
if not d then return {3, 0} end
if d == ARGV[1] then
  drop('d', 's', 'e', 'a'); e = 0
  if f > 0 then drop('f', 'g'); f = 0; g = 0 end
  commit()
  return {1, 0}
end
a = a + 1
if fmax > 0 then
  if f == 0 then g = now + fw; put('g', g) end
  f = f + 1; put('f', f)
end
if a >= maxa then
  drop('d', 's', 'e', 'a'); e = 0
  commit()
  return {4, 0}
end
put('a', a)
commit()
return {2, maxa - a}
`

// attemptSrc: KEYS[1] destination. ARGV: marker, marker ttl ms, max
// failures, failure window ms. Reply: {status, remaining, retry ms}.
const attemptSrc = prelude + `
local marker, mttl = ARGV[1], tonumber(ARGV[2])
local maxf, fw = tonumber(ARGV[3]), tonumber(ARGV[4])
if f >= maxf then return {4, 0, g - now} end
local function fail(status)
  if f == 0 then g = now + fw; put('g', g) end
  f = f + 1; put('f', f)
  commit()
  if f >= maxf then return {4, 0, g - now} end
  return {status, maxf - f, 0}
end
if marker == '' then return fail(2) end
local mk = 'm:' .. marker
local all = redis.call('HGETALL', k)
local seen = false
mm = 0
for i = 1, #all, 2 do
  local n = all[i]
  if string.sub(n, 1, 2) == 'm:' then
    local t = tonumber(all[i + 1]) or 0
    if t <= now then
      drop(n)
    else
      if n == mk then seen = true end
      if t > mm then mm = t end
    end
  end
end
local function marks()
  if mm ~= mm0 then
    if mm > 0 then put('M', mm) else drop('M') end
  end
end
if seen then
  marks()
  return fail(5)
end
local t = now + mttl
put(mk, t)
if t > mm then mm = t end
marks()
if f > 0 then drop('f', 'g'); f = 0; g = 0 end
commit()
return {1, 0, 0}
`

// withdrawSrc: KEYS[1] destination, ARGV[1] digest. The code's expiry and
// attempts stay, so they carry over to the next code.
const withdrawSrc = `
if redis.call('HGET', KEYS[1], 'd') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'd', 's')
end
return 0
`

// chargeSrc (split mode): KEYS[1] one extra limit. ARGV: max, window ms.
// Reply: {charged 1/0, window end ms, retry ms}.
const chargeSrc = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local k = KEYS[1]
local v = redis.call('HMGET', k, 'n', 't')
local n, t = tonumber(v[1]) or 0, tonumber(v[2]) or 0
if t <= now then
  t = now + tonumber(ARGV[2])
  redis.call('HSET', k, 'n', 1, 't', t)
  redis.call('PEXPIREAT', k, t)
  return {1, t, 0}
end
if n >= tonumber(ARGV[1]) then return {0, t, t - now} end
redis.call('HINCRBY', k, 'n', 1)
return {1, t, 0}
`

// refundSrc (split mode): KEYS[1] one extra limit, ARGV[1] the window end
// the charge saw. It gives the send back only to that same window.
const refundSrc = `
local v = redis.call('HMGET', KEYS[1], 'n', 't')
if v[2] and tonumber(v[2]) == tonumber(ARGV[1]) and (tonumber(v[1]) or 0) > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 0
`

var (
	issueScript    = redis.NewScript(issueSrc)
	checkScript    = redis.NewScript(checkSrc)
	attemptScript  = redis.NewScript(attemptSrc)
	withdrawScript = redis.NewScript(withdrawSrc)
	chargeScript   = redis.NewScript(chargeSrc)
	refundScript   = redis.NewScript(refundSrc)
)
