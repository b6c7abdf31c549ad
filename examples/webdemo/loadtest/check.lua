-- wrk script: POST a well-formed check for a number with no code pending.
-- Each request is one EVALSHA in Redis and answers 404 {"status":"expired"}.
--   wrk -t2 -c50 -d20s --latency -s check.lua http://127.0.0.1:8080/api/verifications/check
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"to":"+14155550100","code":"123456"}'

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  -- wrk runs response() in each thread's own Lua state, so the counts are
  -- per thread; the summary's non-2xx count covers all threads.
  io.write(string.format("non-2xx/3xx responses (404 expected): %d\n", summary.errors.status))
end
