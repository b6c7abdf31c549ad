package redisstore

import "github.com/redis/go-redis/v9"

// Key layout (P is the prefix, K an IssueRequest.Key, L a Limit.Key):
//
//	P:{K}:p  string: the pending code, its attempts and expiry; the key
//	         expires with the code (SET ... PXAT), so Check needs no clock
//	         to tell a live code from an expired one
//	P:{K}    hash: what outlives a code
//	  c  end of the cooldown, unix ms
//	  w  sends in the window; x its end, unix ms
//	  f  failure counter; g its end, unix ms
//	  m:<marker>  end of an accepted Attempt marker, unix ms
//	  M  latest end of any marker
//	P:l:{L}  hash: one extra limit
//	  n  sends in the window; t its end, unix ms
//
// The pending value is binary, 25 bytes (so Redis keeps it inline with its
// object header) plus the optional Sealed value:
//
//	byte  1     flags: bit 1 when the failure counter may be non-zero, so
//	            a right code must first be checked against the failure
//	            cap; bit 2 when the code has a Scope
//	bytes 2-3   wrong guesses against the code, big-endian
//	bytes 4-9   expiry of the code, unix ms, big-endian
//	bytes 10-25 fingerprint of the digest: the first 16 bytes of its SHA-256
//	bytes 26-41 (with a Scope) the first 16 bytes of the Scope's SHA-256
//	then        Sealed
//
// A withdrawn code keeps bytes 1-9 only: its attempts live on until its
// expiry and carry over to the next code.
//
// A hash part whose time has passed counts as absent; a later write
// overwrites or removes it, and it goes at the latest with the hash. Issue and
// Attempt set the hash's expiry (PEXPIREAT) to the latest time still to come
// among its parts; Check, the hot path, only ever extends it (when it counts
// a failure whose counter would outlive the hash). So every key has a TTL, and
// none outlives the longest lifetime it was given. Times come from
// redis.call('TIME') on the node that owns the key, so application servers
// with skewed clocks agree.
//
// The scripts keep their redis.call count low: on Redis 7.0 each costs
// about half a microsecond to a microsecond and a half of server time
// (measured: TIME 0.8 µs, a five-field HMGET 1.3 µs, an HDEL 0.25 µs, against
// 0.83 µs for a whole `return 1` script), which is most of what separates
// these scripts from a trivial one. A Check with the right code, when no
// failure is counted, is a single GETDEL: no TIME, no hash. Every other
// Check adds TIME, an HMGET of the failure counter and the writes it needs.

// pendingLib decodes and encodes the head of a pending value.
const pendingLib = `
local function pdec(p)
  local b1, b2, b3, b4, b5, b6, b7, b8, b9 = string.byte(p, 1, 9)
  return b1, b2 * 256 + b3, ((((b4 * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8) * 256 + b9
end
local function penc(fl, a, e)
  local t, x = {}, e
  for i = 6, 1, -1 do t[i] = x % 256; x = math.floor(x / 256) end
  return string.char(fl, math.floor(a / 256), a % 256, t[1], t[2], t[3], t[4], t[5], t[6])
end
`

// prelude (Attempt only) loads the destination hash into locals and defines
// commit, which writes back what changed in at most three calls (HDEL, HSET,
// PEXPIREAT), or deletes the hash when nothing in it is alive.
const prelude = `
local k = KEYS[1]
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local r = redis.call('HMGET', k, 'c', 'w', 'x', 'f', 'g', 'M')
local c = tonumber(r[1]) or 0
local w, x = tonumber(r[2]) or 0, tonumber(r[3]) or 0
local f, g = tonumber(r[4]) or 0, tonumber(r[5]) or 0
local mm = tonumber(r[6]) or 0
local mm0 = mm
local old = math.max(c, x, g, mm)
local set, del = {}, {}
local function put(n, v) set[#set + 1] = n; set[#set + 1] = v end
local function drop(...) for _, n in ipairs({...}) do del[#del + 1] = n end end
if c > 0 and c <= now then drop('c'); c = 0 end
if x > 0 and x <= now then drop('w', 'x'); w = 0; x = 0 end
if g > 0 and g <= now then drop('f', 'g'); f = 0; g = 0 end
if mm > 0 and mm <= now then mm = 0 end
local function commit()
  local new = math.max(c, x, g, mm)
  if new <= now then
    if old > 0 then redis.call('DEL', k) end
    return
  end
  if #del > 0 then redis.call('HDEL', k, unpack(del)) end
  if #set > 0 then redis.call('HSET', k, unpack(set)) end
  if new ~= old then redis.call('PEXPIREAT', k, new) end
end
`

// issueSrc: KEYS[1] destination hash, KEYS[2] pending code, KEYS[3..] extra
// limits (standalone only). ARGV: fingerprint (16 bytes, then 16 of the
// Scope's fingerprint when there is one), sealed, then one argument
// "keep (1/0):ttl ms:cooldown ms:window ms:window max:failure max:refused
// extra limit index (-1: none):its retry ms", then max and window ms of each
// extra limit in KEYS. Reply: {outcome, reason, limit index, retry ms,
// attempts, expires ms, sealed}.
//
// It sets the hash's lifetime exactly: the latest time still to come among
// the cooldown, window, failure counter and markers; the pending code's key
// expires with the code.
const issueSrc = pendingLib + `
local k, kp = KEYS[1], KEYS[2]
local tm = redis.call('TIME')
local now = tm[1] * 1000 + math.floor(tm[2] / 1000)
local p = redis.call('GET', kp)
local pa, pe, pfp, psc = 0, 0, false, ''
if p then
  local pfl
  pfl, pa, pe = pdec(p)
  if pe <= now then
    pa, pe = 0, 0
  elseif #p >= 25 then
    pfp = string.sub(p, 10, 25)
    if pfl % 4 >= 2 then psc = string.sub(p, 26, 41) end
  end
end
local rsc = string.sub(ARGV[1], 17, 32)
if pfp == string.sub(ARGV[1], 1, 16) then
  -- A retry of an Issue that already saved this digest (the reply was
  -- lost): idempotent, nothing charged.
  -- Reason 5 marks it, so a split Issue refunds the limits it charged.
  return {1, 5, 0, 0, pa, pe - now, ''}
end
local v = redis.call('HMGET', k, 'c', 'w', 'x', 'f', 'g', 'M')
local c, x, g, mm = tonumber(v[1]) or 0, tonumber(v[3]) or 0, tonumber(v[5]) or 0, tonumber(v[6]) or 0
local keep, ttl, cd, win, wmax, fmax, ext, eretry =
  string.match(ARGV[3], '^([01]):(%d+):(%d+):(%d+):(%d+):(%d+):(-?%d+):(%d+)$')
ttl, cd, win = tonumber(ttl), tonumber(cd), tonumber(win)
wmax, fmax, ext = tonumber(wmax), tonumber(fmax), tonumber(ext)
local f, w = 0, 0
if g > now then f = tonumber(v[4]) or 0 else g = 0 end
if x > now then w = tonumber(v[2]) or 0 else x = 0 end
if mm <= now then mm = 0 end
if fmax > 0 and f >= fmax then return {3, 1, 0, g - now, 0, 0, ''} end
if c > now then return {3, 2, 0, c - now, 0, 0, ''} end
if wmax > 0 and w >= wmax then return {3, 3, 0, x - now, 0, 0, ''} end
if ext >= 0 then return {3, 4, ext, tonumber(eretry), 0, 0, ''} end
if #KEYS > 2 then
  local lim = {}
  for i = 3, #KEYS do
    local lmax, lwin = tonumber(ARGV[4 + 2 * (i - 3)]), tonumber(ARGV[5 + 2 * (i - 3)])
    local lv = redis.call('HMGET', KEYS[i], 'n', 't')
    local ln, lt = tonumber(lv[1]) or 0, tonumber(lv[2]) or 0
    if lt <= now then ln = 0; lt = 0 end
    if ln >= lmax then return {3, 4, i - 3, lt - now, 0, 0, ''} end
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
local set, n = {}, 0
if cd > 0 then
  c = now + cd
  set[1] = 'c'; set[2] = c; n = 2
end
if wmax > 0 then
  if w == 0 then x = now + win end
  set[n + 1] = 'w'; set[n + 2] = w + 1; set[n + 3] = 'x'; set[n + 4] = x; n = n + 4
end
if n > 0 then
  redis.call('HSET', k, unpack(set))
  redis.call('PEXPIREAT', k, math.max(c, x, g, mm))
end
if pfp and keep == '1' and psc == rsc then
  return {2, 0, 0, 0, pa, pe - now, string.sub(p, 26 + #psc)}
end
local e, fl = now + ttl, 0
if f > 0 then fl = 1 end
if #rsc > 0 then fl = fl + 2 end
redis.call('SET', kp, penc(fl, pa, e) .. ARGV[1] .. ARGV[2], 'PXAT', e)
return {1, 0, 0, 0, pa, ttl, ''}
`

// checkSrc: KEYS[1] destination hash, KEYS[2] pending code. ARGV:
// fingerprint (16 bytes, then 16 of the Scope's fingerprint when there is
// one), then "max attempts:failure max:failure window ms" in one
// argument (each argument costs Redis an object and Lua a string, and only
// the slow path reads these). Reply: status + 16*remaining, one integer
// (cheaper to build and to read than an array).
//
// Check is the hottest path. The pending code is taken with GETDEL: a right
// code with no failure counted is approved there and then, in one call. Any
// other case reads the clock and the failure counter, and puts back what
// must stay (a wrong guess's code with one more attempt, a withdrawn code's
// attempts), with the expiry it had. It never shortens the hash's lifetime
// (a later Issue sets it exactly); it extends it when the failure counter,
// which lives the failure window from its latest failure, would outlive it.
const checkSrc = pendingLib + `
local k, kp = KEYS[1], KEYS[2]
local p = redis.call('GETDEL', kp)
local fp = ARGV[1]
if p and string.byte(p, 1) == (#fp > 16 and 2 or 0) and string.sub(p, 10, 9 + #fp) == fp then return 1 end
local tm = redis.call('TIME')
local now = tm[1] * 1000 + math.floor(tm[2] / 1000)
local v = redis.call('HMGET', k, 'f', 'g')
local ma, fm, fw = string.match(ARGV[2], '^(%d+):(%d+):(%d+)$')
local maxa, fmax = tonumber(ma), tonumber(fm)
local f, g = 0, tonumber(v[2]) or 0
if g > now then f = tonumber(v[1]) or 0 end
local fl, a, e = 0, 0, 0
if p then fl, a, e = pdec(p) end
if p and #p < 25 and e > now then
  -- Withdrawn: its attempts stay until its expiry, locked or not.
  redis.call('SET', kp, p, 'PXAT', e)
  p = false
end
if fmax > 0 and f >= fmax then return 4 end
if not p or e <= now then return 3 end
local psc = ''
if fl % 4 >= 2 then psc = string.sub(p, 26, 41) end
if psc ~= string.sub(fp, 17, 32) then
  -- Another scope's code: not pending for this caller; put it back as it was.
  redis.call('SET', kp, p, 'PXAT', e)
  return 3
end
if string.sub(p, 10, 25) == string.sub(fp, 1, 16) then
  if v[1] then redis.call('HDEL', k, 'f', 'g') end
  return 1
end
a = a + 1
if fmax > 0 then
  -- The counter lives the failure window from its latest failure.
  g = now + tonumber(fw)
  f = f + 1
  if fl % 2 == 0 then fl = fl + 1 end
end
local res, left = 4, maxa - a
if fmax > 0 and fmax - f < left then left = fmax - f end
if left > 0 then
  redis.call('SET', kp, penc(fl, a, e) .. string.sub(p, 10), 'PXAT', e)
  res = 2 + 16 * left
end
if fmax > 0 then
  redis.call('HSET', k, 'f', f, 'g', g)
  local pt = redis.call('PTTL', k)
  if pt < 0 or now + pt < g then redis.call('PEXPIREAT', k, g) end
end
return res
`

// attemptSrc: KEYS[1] destination hash, KEYS[2] pending code. ARGV: marker,
// marker ttl ms, max failures, failure window ms. Reply: {status, remaining,
// retry ms}. A failure flags a pending code, so that Check consults the
// failure counter before it approves.
const attemptSrc = prelude + `
local marker, mttl = ARGV[1], tonumber(ARGV[2])
local maxf, fw = tonumber(ARGV[3]), tonumber(ARGV[4])
if f >= maxf then return {4, 0, g - now} end
local function fail(status)
  g = now + fw; put('g', g)
  f = f + 1; put('f', f)
  commit()
  local p = redis.call('GET', KEYS[2])
  if p and string.byte(p, 1) % 2 == 0 then
    redis.call('SET', KEYS[2], string.char(string.byte(p, 1) + 1) .. string.sub(p, 2), 'KEEPTTL')
  end
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

// withdrawSrc: KEYS[1] pending code, ARGV[1] fingerprint. The code's
// expiry and attempts stay, so they carry over to the next code.
const withdrawSrc = `
local p = redis.call('GET', KEYS[1])
if p and string.sub(p, 10, 25) == ARGV[1] then
  redis.call('SET', KEYS[1], string.sub(p, 1, 9), 'KEEPTTL')
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
