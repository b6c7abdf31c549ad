package redisstore

import "github.com/redis/go-redis/v9"

// Key layout (P is the prefix, K an IssueRequest.Key, S the hex of the
// first 16 bytes of a Scope's SHA-256, C the tag of a client key (see
// clientTag), L a Limit.Key):
//
//	P:{K}:p    string: the pending code without a Scope, its attempts and
//	P:{K}:p:S  expiry (with Scope S); the key expires with the code (SET
//	           ... PXAT), so Check needs no clock to tell a live code from
//	           an expired one
//	P:{K}:b    string: the fallback mark of the code of P:{K}:p (P:{K}:b:S
//	P:{K}:b:S  of P:{K}:p:S); see fallback.go
//	P:{K}      hash: what outlives a code
//	  c:C  end of client C's cooldown, unix ms
//	  w:C  client C's sends in its window; x:C its end, unix ms
//	  f    the key's failure counter; g its end, unix ms; E its run
//	  f:C  client C's failures in run e:C (they count while e:C = E
//	       and g has not passed)
//	  n    sends to the key from every client in the window ending at y,
//	       unix ms (the send ceiling)
//	  u:C  the y of the window in which client C sent without an
//	       approval since (deleted by its approval)
//	  m:<marker>  end of an accepted Attempt marker, unix ms
//	  M  latest end of any marker
//	P:l:{L}  hash: one extra limit
//	  n  sends in the window; t its end, unix ms
//
// The pending value is binary, 25 bytes (so Redis keeps it inline with its
// object header) plus the optional Sealed value:
//
//	byte  1     flags: bit 2 when the code has a Scope (bit 1 is set by
//	            failures and no longer read)
//	bytes 2-3   wrong guesses against the code, big-endian
//	bytes 4-9   expiry of the code, unix ms, big-endian
//	bytes 10-25 fingerprint of the digest: the first 16 bytes of its SHA-256
//	bytes 26-41 (with a Scope) the first 16 bytes of the Scope's SHA-256
//	then        Sealed
//
// A withdrawn code keeps bytes 1-9 only: its attempts live on until its
// expiry and carry over to the next code of its Scope.
//
// A hash field whose time has passed counts as absent; a later write
// overwrites it, and it goes at the latest with the hash. The scripts only
// ever extend the hash's expiry (PEXPIREAT), to the latest end they write,
// so every key has a TTL and none outlives the longest lifetime it was
// given. The hash holds a few fields per client key that sent or failed
// while it lived. Times come from redis.call('TIME') on the node that owns
// the key, so application servers with skewed clocks agree.
//
// A Check with the right code, when no failure was ever counted in the
// hash, is a GETDEL and an HMGET: no TIME. Every other Check adds TIME and
// the writes it needs.

// pendingLib decodes and encodes the head of a pending value, and extends
// a key's expiry.
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
local function extend(k, now, t)
  local pt = redis.call('PTTL', k)
  if pt < 0 or now + pt < t then redis.call('PEXPIREAT', k, t) end
end
`

// failLib reads the failure caps. refused reports whether they refuse a
// client with cf failures in the run when the key has f: its own count at
// the cap, the key's at the cap and the client has failed in the run, or
// the key's at the ceiling.
const failLib = `
local function refused(f, cf, fmax, fceil)
  return fmax > 0 and (cf >= fmax or (f >= fmax and cf > 0) or (fceil > 0 and f >= fceil))
end
`

// issueSrc: KEYS[1] destination hash, KEYS[2] pending code of the Scope,
// KEYS[3..] extra limits (standalone only). ARGV: fingerprint (16 bytes,
// then 16 of the Scope's fingerprint when there is one), sealed, then one
// argument "keep (1/0):ttl ms:cooldown ms:window ms:window max:failure
// max:failure ceiling:refused extra limit index (-1: none):its retry ms",
// the client key, then max and window ms of each extra limit in KEYS.
// Reply: {outcome, reason, limit index, retry ms, attempts, expires ms,
// sealed}.
const issueSrc = pendingLib + failLib + `
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
local cl = ARGV[4]
local v = redis.call('HMGET', k, 'c:' .. cl, 'w:' .. cl, 'x:' .. cl, 'f', 'g', 'E', 'f:' .. cl, 'e:' .. cl, 'n', 'y', 'u:' .. cl)
local c, x, g = tonumber(v[1]) or 0, tonumber(v[3]) or 0, tonumber(v[5]) or 0
local sn, sy = tonumber(v[9]) or 0, tonumber(v[10]) or 0
if sy <= now then sn = 0; sy = 0 end
local keep, ttl, cd, win, wmax, fmax, fceil, ext, eretry =
  string.match(ARGV[3], '^([01]):(%d+):(%d+):(%d+):(%d+):(%d+):(%d+):(-?%d+):(%d+)$')
ttl, cd, win = tonumber(ttl), tonumber(cd), tonumber(win)
wmax, fmax, fceil, ext = tonumber(wmax), tonumber(fmax), tonumber(fceil), tonumber(ext)
local f, cf, w = 0, 0, 0
if g > now then
  f = tonumber(v[4]) or 0
  if v[8] and v[8] == v[6] then cf = tonumber(v[7]) or 0 end
end
if x > now then w = tonumber(v[2]) or 0 else x = 0 end
if refused(f, cf, fmax, fceil) then return {3, 1, 0, g - now, 0, 0, ''} end
if c > now then return {3, 2, 0, c - now, 0, 0, ''} end
if wmax > 0 and w >= wmax then return {3, 3, 0, x - now, 0, 0, ''} end
if wmax > 0 and sn >= wmax and v[11] and tonumber(v[11]) == sy then return {3, 3, 0, sy - now, 0, 0, ''} end
if ext >= 0 then return {3, 4, ext, tonumber(eretry), 0, 0, ''} end
if #KEYS > 2 then
  local lim = {}
  for i = 3, #KEYS do
    local lmax, lwin = tonumber(ARGV[5 + 2 * (i - 3)]), tonumber(ARGV[6 + 2 * (i - 3)])
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
if pfp and keep == '1' and psc == rsc then
  return {2, 0, 0, 0, pa, pe - now, string.sub(p, 26 + #psc)}
end
local e, fl = now + ttl, 0
if #rsc > 0 then fl = 2 end
redis.call('SET', kp, penc(fl, pa, e) .. ARGV[1] .. ARGV[2], 'PXAT', e)
return {1, 0, 0, 0, pa, ttl, ''}
`

// checkSrc: KEYS[1] destination hash, KEYS[2] pending code of the Scope.
// ARGV: fingerprint (16 bytes, then 16 of the Scope's fingerprint when
// there is one), "max attempts:failure max:failure ceiling:failure window
// ms" in one argument, the client key. Reply: status + 16*remaining, one
// integer (cheaper to build and to read than an array).
//
// The pending code is taken with GETDEL and put back when it must stay (a
// wrong guess's code with one more attempt, a withdrawn code's attempts,
// another scope's code), with the expiry it had.
const checkSrc = pendingLib + failLib + `
local k, kp = KEYS[1], KEYS[2]
local p = redis.call('GETDEL', kp)
local fp, cl = ARGV[1], ARGV[3]
local v = redis.call('HMGET', k, 'f', 'g', 'E', 'f:' .. cl, 'e:' .. cl, 'u:' .. cl)
local sc = (#fp > 16) and 2 or 0
if p and not v[1] and string.byte(p, 1) % 4 - string.byte(p, 1) % 2 == sc and string.sub(p, 10, 9 + #fp) == fp then
  -- The client's sends are approved for the send ceiling.
  if v[6] then redis.call('HDEL', k, 'u:' .. cl) end
  return 1
end
local tm = redis.call('TIME')
local now = tm[1] * 1000 + math.floor(tm[2] / 1000)
local ma, fm, fc, fw = string.match(ARGV[2], '^(%d+):(%d+):(%d+):(%d+)$')
local maxa, fmax, fceil = tonumber(ma), tonumber(fm), tonumber(fc)
local f, cf, g, run = 0, 0, tonumber(v[2]) or 0, v[3]
if g > now then
  f = tonumber(v[1]) or 0
  if v[5] and v[5] == run then cf = tonumber(v[4]) or 0 end
end
local fl, a, e = 0, 0, 0
if p then fl, a, e = pdec(p) end
if p and #p < 25 and e > now then
  -- Withdrawn: its attempts stay until its expiry, locked or not.
  redis.call('SET', kp, p, 'PXAT', e)
  p = false
end
if refused(f, cf, fmax, fceil) then return 4 end
if not p or e <= now then return 3 end
local psc = ''
if fl % 4 >= 2 then psc = string.sub(p, 26, 41) end
if psc ~= string.sub(fp, 17, 32) then
  -- Another scope's code: not pending for this caller; put it back as it was.
  redis.call('SET', kp, p, 'PXAT', e)
  return 3
end
if string.sub(p, 10, 25) == string.sub(fp, 1, 16) then
  -- The client's own failures in the run are forgiven; others' stay.
  if cf > 0 then redis.call('HSET', k, 'f', f - cf, 'f:' .. cl, 0) end
  if v[6] then redis.call('HDEL', k, 'u:' .. cl) end
  return 1
end
a = a + 1
local left = maxa - a
if fmax > 0 then
  if g <= now then
    -- A new run: the old one's client counts no longer apply.
    run = tostring(now + 1)
    f, cf = 0, 0
  end
  g = now + tonumber(fw)
  f = f + 1
  cf = cf + 1
  if (fceil > 0 and f >= fceil) or f >= fmax then
    left = 0
  else
    left = math.min(left, fmax - cf, fmax - f)
  end
  redis.call('HSET', k, 'f', f, 'g', g, 'E', run, 'f:' .. cl, cf, 'e:' .. cl, run)
  extend(k, now, g)
end
if left > 0 then
  redis.call('SET', kp, penc(fl, a, e) .. string.sub(p, 10), 'PXAT', e)
  return 2 + 16 * left
end
return 4
`

// attemptSrc: KEYS[1] destination hash. ARGV: marker, marker ttl ms, max
// failures, failure window ms. Reply: {status, remaining, retry ms}. A
// failure counts for the key and for the empty client key, in the run.
const attemptSrc = pendingLib + `
local k = KEYS[1]
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local r = redis.call('HMGET', k, 'f', 'g', 'M', 'E', 'f:', 'e:')
local f, g = tonumber(r[1]) or 0, tonumber(r[2]) or 0
local mm = tonumber(r[3]) or 0
local mm0, run, cf = mm, r[4], 0
if g <= now then f = 0; g = 0 elseif r[6] and r[6] == run then cf = tonumber(r[5]) or 0 end
if mm > 0 and mm <= now then mm = 0 end
local set, del = {}, {}
local function put(n, v) set[#set + 1] = n; set[#set + 1] = v end
local function drop(n) del[#del + 1] = n end
local function commit(hi)
  if #del > 0 then redis.call('HDEL', k, unpack(del)) end
  if #set > 0 then redis.call('HSET', k, unpack(set)) end
  if hi > now then extend(k, now, hi) end
end
local marker, mttl = ARGV[1], tonumber(ARGV[2])
local maxf, fw = tonumber(ARGV[3]), tonumber(ARGV[4])
if f >= maxf then return {4, 0, g - now} end
local function fail(status)
  if g == 0 then run = tostring(now + 1); cf = 0 end
  g = now + fw
  f = f + 1
  put('f', f); put('g', g); put('E', run); put('f:', cf + 1); put('e:', run)
  commit(math.max(g, mm))
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
if f > 0 then drop('f'); drop('g') end
commit(mm)
return {1, 0, 0}
`

// withdrawSrc: KEYS[1] pending code of the Scope, ARGV[1] fingerprint. The
// code's expiry and attempts stay, so they carry over to the next code.
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
