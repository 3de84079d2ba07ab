-- Shared by wrk_put.lua and wrk_get.lua (loaded with dofile; not a wrk script itself).
-- Configuration comes from the environment, set by bench/http_bench.py:
--   BENCH_TOKEN      bearer credential (session token or admin key)   [required]
--   BENCH_DB         database name                                     (default "bench")
--   BENCH_DOC_BYTES  size of each JSON document value in bytes         (default 1024)

local M = {}

M.token = os.getenv("BENCH_TOKEN")
if M.token == nil or M.token == "" then
  error("BENCH_TOKEN is not set: run bench/http_bench.py, or export BENCH_TOKEN yourself")
end
M.db = os.getenv("BENCH_DB") or "bench"
M.doc_bytes = tonumber(os.getenv("BENCH_DOC_BYTES") or "1024")
M.headers = {
  ["Authorization"] = "Bearer " .. M.token,
  ["Content-Type"] = "application/json",
}

local PAD = string.rep("x", M.doc_bytes)

-- The JSON document stored under `key`: exactly M.doc_bytes bytes of compact JSON
-- (same shape as http_bench.py's document(): {"key":K,"n":N,"pad":"xxx..."}).
function M.document(key, n)
  local head = '{"key":"' .. key .. '","n":' .. n .. ',"pad":"'
  local tail = '"}'
  local pad = M.doc_bytes - #head - #tail
  if pad < 0 then pad = 0 end
  return head .. string.sub(PAD, 1, pad) .. tail
end

-- Machine-readable summary, one line on stdout, parsed by http_bench.py next to
-- wrk's own --latency text.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end

-- wrk's setup(): number the threads (scripts do `setup = common.setup`).
local next_tid = 0
function M.setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

return M
