-- wrk script: durable writes. Every request PUTs one 1 KiB JSON document to a key
-- never written before: "<BENCH_PUT_PREFIX>-<wrk thread>-<n>".
--   BENCH_PUT_PREFIX  key prefix, unique per run (default "put")
-- plus the variables read by wrk_common.lua (BENCH_TOKEN, BENCH_DB, BENCH_DOC_BYTES).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "wrk_common.lua")
local prefix = os.getenv("BENCH_PUT_PREFIX") or "put"

setup = common.setup

function init(args)
  n = 0
  path = "/entity/" .. common.db
end

function request()
  n = n + 1
  local key = prefix .. "-" .. tid .. "-" .. n
  local body = '{"' .. key .. '":' .. common.document(key, n) .. '}'
  return wrk.format("PUT", path, common.headers, body)
end

done = common.done
