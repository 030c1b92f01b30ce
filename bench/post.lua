-- wrk script for bench/webhook.py: POST a small JSON body, stop each thread after WRK_MAX
-- responses (count bound; the time bound is wrk -d), print one JSON line of figures.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or '{"name":"flowbox","value":21}'
wrk.headers["Content-Type"] = "application/json"

local max = tonumber(os.getenv("WRK_MAX") or "300000")
local count = 0

function response(status, headers, body)
  count = count + 1
  if count >= max then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"secs":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end
