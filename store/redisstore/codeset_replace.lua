-- ReplaceCodes: replaces the code set of one key
-- (store.CodeSets.ReplaceCodes).
--
-- KEYS[1]   P:{K}:r  set of digest fingerprints
-- ARGV[1]   lifetime of the set, ms
-- ARGV[2..] the fingerprints
--
-- Reply: the number of codes in the new set.
local set_key, set_ttl = KEYS[1], ARGV[1]
redis.call('DEL', set_key)
local added = redis.call('SADD', set_key, unpack(ARGV, 2))
redis.call('PEXPIRE', set_key, set_ttl)
return added
