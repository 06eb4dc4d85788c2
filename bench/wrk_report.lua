-- What the wrk scripts of bench/ share: their done() prints one JSON line, which bench/wrk.py
-- reads. A script loads this file from its own folder:
--
--   local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_report.lua")

local report = {}

local function encode(value)
   local kind = type(value)
   if kind == "number" then
      if value == math.floor(value) and math.abs(value) < 2^53 then
         return string.format("%d", value)
      end
      return string.format("%.17g", value)
   elseif kind == "string" then
      -- Keys and names only: no character here needs more than these escapes.
      return '"' .. value:gsub('[%c"\\]', function(c)
         return string.format("\\u%04x", c:byte())
      end) .. '"'
   elseif kind == "boolean" then
      return tostring(value)
   elseif kind == "table" then
      local keys = {}
      for key in pairs(value) do
         keys[#keys + 1] = tostring(key)
      end
      table.sort(keys)
      local parts = {}
      for _, key in ipairs(keys) do
         local item = value[key]
         if item == nil then
            item = value[tonumber(key)]
         end
         parts[#parts + 1] = encode(key) .. ":" .. encode(item)
      end
      return "{" .. table.concat(parts, ",") .. "}"
   end
   error("cannot encode a " .. kind)
end

-- A table as a JSON object (every table is an object: its keys become strings, sorted).
report.json = encode

-- The figures every run reports: wrk's summary, its socket errors and its latency, in µs.
function report.summary(summary, latency)
   return {
      requests = summary.requests,
      duration_us = summary.duration,
      bytes = summary.bytes,
      status_errors = summary.errors.status,
      connect_errors = summary.errors.connect,
      read_errors = summary.errors.read,
      write_errors = summary.errors.write,
      timeout_errors = summary.errors.timeout,
      latency_p50_us = latency:percentile(50),
      latency_p99_us = latency:percentile(99),
      latency_mean_us = latency.mean,
      latency_max_us = latency.max,
   }
end

return report
