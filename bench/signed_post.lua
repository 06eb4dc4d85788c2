-- wrk script: POST one prepared callback body to a signed URL, and report as JSON.
--
-- wrk's Lua has no SHA-256, so the Sign is computed by the caller and passed in with its
-- RequestTime in the path: wrk -s signed_post.lua URL -- PATH_WITH_QUERY BODY_FILE
-- The caller starts each run within the receiver's RequestTime window (60 s by default),
-- and keeps each run shorter than that, so every request carries a valid signature.

function init(args)
   local file = assert(io.open(args[2], "rb"))
   wrk.method = "POST"
   wrk.path = args[1]
   wrk.body = file:read("*a")
   wrk.headers["Content-Type"] = "application/json"
   file:close()
end

function done(summary, latency, requests)
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,'
         .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeout_errors":%d,'
         .. '"latency_p50_us":%d,"latency_p99_us":%d,"latency_mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes, summary.errors.status,
      summary.errors.connect, summary.errors.read, summary.errors.write,
      summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.mean))
end
