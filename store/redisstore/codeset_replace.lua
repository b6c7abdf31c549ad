-- Replaces the code set of one key (store.CodeSets.ReplaceCodes).
-- KEYS[1]  P:{K}:r  set of digest fingerprints
-- ARGV[1]  lifetime of the set, ms; ARGV[2..] the fingerprints
-- Reply: the number of codes in the new set.
redis.call('DEL', KEYS[1])
local n = redis.call('SADD', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
