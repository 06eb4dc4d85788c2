-- wrk script of bench/capacity.py: signed callbacks of one accepted item, each from a responder
-- of its own (so no velocity limit refuses one and every answer is a fresh audit record), and a
-- count of the answers that accepted the item.
--
--   wrk -s capacity.lua URL -- PATH_WITH_QUERY THINK_MS PREFIX
--
-- PATH_WITH_QUERY carries a Sign made by the caller (wrk's Lua has no SHA-256) just before the
-- run, which stays well inside the 60 s RequestTime window. A connection waits THINK_MS between
-- an answer and its next request (bench/soak.py says why; a larger value paces the load). PREFIX
-- keeps the responders of two wrk processes apart.

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_report.lua")

local BODY = '{"CallbackCommand":"Sns.CallbackPrevFriendResponse","Requester_Account":"%s",'
   .. '"From_Account":"%s","ResponseFriendItem":[{"To_Account":"peer%d",'
   .. '"Remark":"met at the climbing gym","TagName":"friends",'
   .. '"ResponseAction":"Response_Action_Agree"}],"EventTime":%d}'

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   threads[#threads + 1] = thread
end

function init(args)
   path = args[1]
   think_ms = tonumber(args[2])
   prefix = args[3]
   headers = {["Content-Type"] = "application/json"}
   sent = 0
   accepted = 0
   other = 0
end

function request()
   sent = sent + 1
   local account = string.format("%s-%d-%d", prefix, id, sent)
   local body = string.format(BODY, account, account, sent % 1000, os.time() * 1000)
   return wrk.format("POST", path, headers, body)
end

-- wrk waits whole milliseconds: carry the fraction over, so that the waits average THINK_MS.
local carried = 0

function delay()
   carried = carried + think_ms
   local whole = math.floor(carried)
   carried = carried - whole
   return whole
end

function response(status, headers, body)
   if status == 200 and body:find('"ResultCode":0', 1, true) then
      accepted = accepted + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local figures = report.summary(summary, latency)
   figures.accepted = 0
   figures.other = 0
   for _, thread in ipairs(threads) do
      figures.accepted = figures.accepted + thread:get("accepted")
      figures.other = figures.other + thread:get("other")
   end
   io.write(report.json(figures), "\n")
end
