-- wrk script: POST one contact per request with the bearer token and queue
-- from the environment; counts 201s so the harness can check them against
-- the store afterwards.
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
  created = 0
  failed = 0
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
end
function done(summary, latency, requests)
  local c, f = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    f = f + t:get("failed")
  end
  io.write(string.format("RESULT created=%d failed=%d seconds=%.2f rate=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    c, f, summary.duration / 1e6, c / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
