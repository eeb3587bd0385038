-- phase: access
-- resty.redis pipelines (init_pipeline, commit_pipeline, cancel_pipeline).
if not REDIS_PORT then return end
local red = require("resty.redis"):new()
red:set_timeouts(1000, 1000, 1000)
assert_eq(red:connect(REDIS_HOST, REDIS_PORT), 1)
red:del("p1", "p2", "p3")

red:init_pipeline()
assert_eq(select("#", red:set("p1", "a")), 0, "a queued command returns nothing")
red:incr("p2")
red:get("p1")
red:get("missing-key")
red:lpush("p1", "x") -- WRONGTYPE
red:hmset("p3", {a = 1})
local results, err = red:commit_pipeline()
assert_eq(err, nil)
assert_eq(#results, 6)
assert_eq(results[1], "OK")
assert_eq(results[2], 1)
assert_eq(results[3], "a")
assert_eq(results[4], ngx.null)
assert_eq(results[5][1], false, "a failed command is {false, err}")
assert_eq(results[5][2]:sub(1, 9), "WRONGTYPE")
assert_eq(results[6], "OK")

local r, e = red:commit_pipeline()
assert_eq(r, nil)
assert_eq(e, "no pipeline", "commit without init")

red:init_pipeline(4)
red:incr("p2")
red:cancel_pipeline()
assert_eq(red:get("p2"), "1", "a cancelled pipeline sends nothing")

-- commands queue even before connect; commit reports the closed socket
local red2 = require("resty.redis"):new()
red2:init_pipeline()
red2:get("p1")
r, e = red2:commit_pipeline()
assert_eq(r, nil)
assert_eq(e, "closed")

-- an empty pipeline commits to an empty table
red:init_pipeline()
assert_eq(red:commit_pipeline(), {})
assert_eq(red:set_keepalive(10000, 10), 1)
