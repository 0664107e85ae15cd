-- Spread requests over the bench's /items endpoints: each request picks one of N at random.
--
--   wrk -t2 -c32 -d8s --latency -s bench/wrk_scripts/items.lua http://127.0.0.1:PORT -- 10000
--
-- N (after "--", default 10000) must match the config bench_core.py generated: endpoint k is
-- /items/k, except every tenth (k % 10 == 9), which is the parametric /items/k/{part} and is
-- requested as /items/k/detail. The same script loads the 10- and the 10,000-endpoint config
-- (and the baseline, which answers any path), so the two figures differ only in config size.

local count = 10000
local thread_number = 0

-- Runs once per wrk thread (each has its own Lua state): give every thread its own seed.
setup = function(thread)
  thread_number = thread_number + 1
  thread:set("seed", thread_number)
end

init = function(args)
  count = tonumber(args[1]) or count
  math.randomseed(os.time() + (seed or 0) * 7919)
end

request = function()
  local k = math.random(0, count - 1)
  local path = "/items/" .. k
  if k % 10 == 9 then
    path = path .. "/detail"
  end
  return wrk.format("GET", path)
end
