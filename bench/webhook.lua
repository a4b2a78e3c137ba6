-- wrk script for the webhook benchmarks.
-- Every request is a platform-like JSON webhook with an event id no other request has.
-- The ids of 2xx answers are collected per thread and, when BENCH_ACK_FILE is set,
-- written there at the end so the benchmark can check each one against the database.
-- The last line printed is "BENCH {json}" with the counts and latency percentiles.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  run = os.getenv("BENCH_RUN") or "run"
  counter = 0
  acked = {}
  acked_count = 0
end

function request()
  counter = counter + 1
  local id = run .. "-" .. tid .. "-" .. counter
  local body = '{"event_id":"' .. id .. '","user_id":"user-' .. tid .. "-" .. (counter % 1000)
    .. '","text":"Hello, my parcel has not arrived yet (' .. id .. ')"}'
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    local id = string.match(body, '"event_id":"([^"]+)"')
    if id then
      acked_count = acked_count + 1
      acked[acked_count] = id
    end
  end
end

function done(summary, latency, requests)
  local path = os.getenv("BENCH_ACK_FILE")
  if path then
    local file = assert(io.open(path, "w"))
    for _, thread in ipairs(threads) do
      for _, id in ipairs(thread:get("acked") or {}) do
        file:write(id, "\n")
      end
    end
    file:close()
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"status_errors":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
