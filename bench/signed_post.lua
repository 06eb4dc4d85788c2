-- wrk script: POST one prepared callback body to a signed URL, and report as JSON.
--
-- wrk's Lua has no SHA-256, so the Sign is computed by the caller and passed in with its
-- RequestTime in the path: wrk -s signed_post.lua URL -- PATH_WITH_QUERY BODY_FILE
-- The caller starts each run within the receiver's RequestTime window (60 s by default),
-- and keeps each run shorter than that, so every request carries a valid signature.

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_report.lua")

function init(args)
   local file = assert(io.open(args[2], "rb"))
   wrk.method = "POST"
   wrk.path = args[1]
   wrk.body = file:read("*a")
   wrk.headers["Content-Type"] = "application/json"
   file:close()
end

function done(summary, latency, requests)
   io.write(report.json(report.summary(summary, latency)), "\n")
end
