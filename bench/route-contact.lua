-- wrk script: POST one chat contact per request; counts the answers that
-- say the contact was reserved to an agent (the server answers only after
-- the contact and its reservation are committed).
local token = os.getenv("SB_TOKEN")
local queue = os.getenv("SB_QUEUE")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"channel":"chat","queue_id":"' .. queue .. '","subject":"Where is my order?"}'

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  reserved = 0
  other = 0
end
function response(status, headers, body)
  if status == 201 and string.find(body, '"state":"reserved"', 1, true) then
    reserved = reserved + 1
  else
    other = other + 1
  end
end
function done(summary, latency, requests)
  local r, o = 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("reserved")
    o = o + t:get("other")
  end
  io.write(string.format("RESULT reserved=%d other=%d seconds=%.2f rate=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    r, o, summary.duration / 1e6, r / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
