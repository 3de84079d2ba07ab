-- wrk script: warm reads. Every request GETs one of the pre-written keys, chosen
-- uniformly at random: "<BENCH_GET_PREFIX>-<i>" for i in [0, BENCH_KEYS).
--   BENCH_GET_PREFIX  key prefix of the pre-written entities (default "doc")
--   BENCH_KEYS        how many were pre-written              (default 1000)
-- plus the variables read by wrk_common.lua (BENCH_TOKEN, BENCH_DB).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "wrk_common.lua")
local prefix = os.getenv("BENCH_GET_PREFIX") or "doc"
local keys = tonumber(os.getenv("BENCH_KEYS") or "1000")

setup = common.setup

function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919)
  base = "/entity/" .. common.db .. "?key=" .. prefix .. "-"
  get_headers = { ["Authorization"] = common.headers["Authorization"] }
end

function request()
  return wrk.format("GET", base .. math.random(0, keys - 1), get_headers)
end

done = common.done
