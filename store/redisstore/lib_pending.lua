-- Helpers for the scripts that read or write a pending code or the
-- destination hash (their layouts are described in scripts.go). Prepended
-- in Go, after lib_clock.lua.

-- decode_head returns a pending value's flags, wrong guesses and expiry
-- (unix ms): its first 9 bytes.
local function decode_head(pending)
  local flags, attempts_high, attempts_low, exp1, exp2, exp3, exp4, exp5, exp6 = string.byte(pending, 1, 9)
  local expires_at = ((((exp1 * 256 + exp2) * 256 + exp3) * 256 + exp4) * 256 + exp5) * 256 + exp6
  return flags, attempts_high * 256 + attempts_low, expires_at
end

-- encode_head is decode_head's inverse. The expiry is split into two
-- 24-bit halves, each written as three bytes.
local function encode_head(flags, attempts, expires_at)
  local low = expires_at % 16777216
  local high = (expires_at - low) / 16777216
  return string.char(flags, math.floor(attempts / 256), attempts % 256,
    math.floor(high / 65536), math.floor(high / 256) % 256, high % 256,
    math.floor(low / 65536), math.floor(low / 256) % 256, low % 256)
end

-- has_scope reports whether flags say the code carries a Scope (bit 2).
local function has_scope(flags)
  return flags % 4 >= 2
end

-- extend_expiry makes key live at least until until_ms; it never shortens
-- a key's life. maybe_new says the caller found none of the fields it read
-- in the key before writing it, so the key is likely new and has no TTL:
-- then PEXPIREAT ... NX (Redis 7.0 and later) sets the expiry in one call.
-- It sets nothing on a key that has a TTL, and on Redis 6.2 NX is an error
-- (caught by pcall); either way the PTTL path follows.
local function extend_expiry(key, now, until_ms, maybe_new)
  if maybe_new and redis.pcall('PEXPIREAT', key, until_ms, 'NX') == 1 then return end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 or now + ttl < until_ms then redis.call('PEXPIREAT', key, until_ms) end
end

-- failures_refuse reports whether the failure caps refuse a client with
-- client_failures failures in the run when the key has key_failures: its
-- own count at the cap, the key's at the cap and the client has failed in
-- the run, or the key's at the ceiling.
local function failures_refuse(key_failures, client_failures, max_failures, failure_ceiling)
  return max_failures > 0 and (client_failures >= max_failures
    or (key_failures >= max_failures and client_failures > 0)
    or (failure_ceiling > 0 and key_failures >= failure_ceiling))
end
