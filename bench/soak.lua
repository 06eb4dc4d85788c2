-- wrk script of the soak (bench/soak.py): send every request of a plan exactly once, each
-- signed at the second it leaves, and count the answers.
--
--   wrk -s soak.lua URL -- PLAN_FILE SIGNS_FILE THREADS THINK_MS
--
-- PLAN_FILE (bench/soak_plan.py): a comment line, then one request per line, tab-separated:
-- kind, method, path, body. In the path, $T becomes the second the request is sent, $S its
-- Sign and $F a forged Sign; a body "@pad:N" is made here, N bytes of JSON.
-- SIGNS_FILE: a Lua chunk returning {[RequestTime] = Sign} for every second of the run (wrk's
-- Lua has no SHA-256).
--
-- Thread k of THREADS sends lines k, k + THREADS, ... wrk runs for a duration, not a count, so
-- each thread hands out its lines through delay() (wrk calls it before every request, on each
-- connection) and parks a connection once none is left; when every line it sent is answered,
-- it prints FINISHED and stops (bench/wrk.py then ends wrk, which would sleep out --duration).
-- done() adds up the threads' counts and prints them with wrk's figures as one JSON line.
--
-- A connection waits THINK_MS between an answer and its next request, as a network round trip
-- would make Tencent wait (bench/soak.py says why).
--
-- The service answers a body over its limit (413) without reading it. wrk expects no answer
-- before its request is written; it writes each request with one write(), which Linux's
-- loopback takes whole even for the 1 MiB body (its send buffer grows to 4 MiB by default).

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_report.lua")

local FINISHED = "soak: thread finished"
local PARKED_MS = 3600 * 1000
local PAD_HEAD = '{"CallbackCommand":"Sns.CallbackPrevFriendResponse","Padding":"'
local PAD_TAIL = '"}'

-- Main state: the threads, numbered in setup(), read in done().
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   threads[#threads + 1] = thread
end

-- Thread states from here on.

local function padded(size)
   return PAD_HEAD .. string.rep("x", size - #PAD_HEAD - #PAD_TAIL) .. PAD_TAIL
end

function init(args)
   local count = tonumber(args[3])
   think_ms = tonumber(args[4])
   signs = dofile(args[2])
   plan = {}
   local padding = {}
   local index = 0
   for line in io.lines(args[1]) do
      if line:sub(1, 1) ~= "#" then
         if index % count == id then
            local kind, method, path, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
            local size = tonumber(body:match("^@pad:(%d+)$"))
            if size then
               padding[size] = padding[size] or padded(size)
               body = padding[size]
            end
            plan[#plan + 1] = {kind = kind, method = method, path = path, body = body ~= "" and body or nil}
         end
         index = index + 1
      end
   end
   headers = {["Content-Type"] = "application/json"}
   -- What done() reads: requests sent by kind, answers by "status ErrorCode", items by
   -- ResultCode, and what should never happen.
   planned = #plan
   sent = {}
   answers = {}
   results = {}
   unplanned = 0
   unsigned = 0
   -- Lines handed out to connections (by delay()) but not yet turned into a request.
   handed = 0
   waiting = {}
   in_flight = 0
   started = false
end

function delay()
   started = true
   if handed == #plan then
      return PARKED_MS
   end
   handed = handed + 1
   waiting[#waiting + 1] = handed
   return think_ms
end

local function forge(sign)
   return (sign:sub(1, 1) == "0" and "1" or "0") .. sign:sub(2)
end

function request()
   local index = table.remove(waiting)
   if index == nil then
      -- Before the run wrk calls request() once to check it makes a request; after that, only
      -- a connection reopened in the middle of a request asks without a line: counted.
      if started then
         unplanned = unplanned + 1
         in_flight = in_flight + 1
      end
      return wrk.format("GET", "/im/callback")
   end
   local r = plan[index]
   local path = r.path
   if path:find("$", 1, true) then
      local now = os.time()
      local sign = signs[now]
      if sign == nil then
         -- The run outlived its table of Signs: sent unsigned, and counted.
         unsigned = unsigned + 1
         sign = string.rep("0", 64)
      end
      path = path:gsub("%$T", tostring(now)):gsub("%$S", sign):gsub("%$F", forge(sign))
   end
   sent[r.kind] = (sent[r.kind] or 0) + 1
   in_flight = in_flight + 1
   return wrk.format(r.method, path, headers, r.body)
end

function response(status, headers, body)
   in_flight = in_flight - 1
   local key = status .. " " .. (body:match('"ErrorCode":(%d+)') or "none")
   answers[key] = (answers[key] or 0) + 1
   if status == 200 then
      for code in body:gmatch('"ResultCode":(%d+)') do
         results[code] = (results[code] or 0) + 1
      end
   end
   if handed == #plan and #waiting == 0 and in_flight == 0 then
      io.write(FINISHED, " ", id, "\n")
      io.flush()
      wrk.thread:stop()
   end
end

local function add(total, part)
   for key, value in pairs(part) do
      total[key] = (total[key] or 0) + value
   end
end

function done(summary, latency, requests)
   local soak = {planned = 0, sent = {}, answers = {}, results = {}, unplanned = 0, unsigned = 0}
   for _, thread in ipairs(threads) do
      soak.planned = soak.planned + thread:get("planned")
      add(soak.sent, thread:get("sent"))
      add(soak.answers, thread:get("answers"))
      add(soak.results, thread:get("results"))
      soak.unplanned = soak.unplanned + thread:get("unplanned")
      soak.unsigned = soak.unsigned + thread:get("unsigned")
   end
   local figures = report.summary(summary, latency)
   figures.soak = soak
   io.write(report.json(figures), "\n")
end
