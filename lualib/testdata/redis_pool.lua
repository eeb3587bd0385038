-- phase: access
-- resty.redis keepalive pools: set_keepalive, get_reused_times, pool names.
if not REDIS_PORT then return end
local redis = require "resty.redis"

local function connect(opts)
  local red = redis:new()
  red:set_timeout(1000)
  local ok, err = red:connect(REDIS_HOST, REDIS_PORT, opts)
  assert_eq(err, nil, "connect")
  assert_eq(ok, 1)
  return red
end

local pool = "pool-test-" .. tostring(REDIS_PORT)
local red = connect({pool = pool})
assert_eq(red:get_reused_times(), 0)
assert_eq(red:select(2), "OK", "select on a fresh connection")
assert_eq(red:set("pooled", "db2"), "OK")
assert_eq(red:set_keepalive(10000, 5), 1)
local r, e = red:get("pooled")
assert_eq(e, "closed", "the object is closed after set_keepalive")
r, e = red:set_keepalive()
assert_eq(e, "closed", "set_keepalive twice")

for i = 1, 3 do
  local again = connect({pool = pool})
  assert_eq(again:get_reused_times(), i, "reused times counts reuses")
  assert_eq(again:get("pooled"), "db2", "the pooled connection kept its selected db")
  assert_eq(again:set_keepalive(10000, 5), 1)
end

-- a 0 idle timeout keeps the connection without a time limit (nginx)
local forever = connect({pool = pool})
assert_eq(forever:set_keepalive(0, 5), 1)
forever = connect({pool = pool})
assert_eq(forever:get_reused_times(), 5, "kept with max_idle_timeout 0")
assert_eq(forever:set_keepalive(), 1)

-- another pool name is another pool
local other = connect({pool = pool .. "-other"})
assert_eq(other:get_reused_times(), 0)
assert_eq(other:get("pooled"), ngx.null, "fresh connection is on db 0")
other:close()

-- the default pool is host:port; a subscriber cannot be pooled
local sub = connect()
local res = sub:subscribe("chan-" .. tostring(REDIS_PORT))
assert_eq(res[1], "subscribe")
r, e = sub:set_keepalive()
assert_eq(e, "subscribed state")
local pub = connect()
assert_eq(pub:publish("chan-" .. tostring(REDIS_PORT), "hello"), 1)
local msg = sub:read_reply()
assert_eq(msg, {"message", "chan-" .. tostring(REDIS_PORT), "hello"})
res = sub:unsubscribe("chan-" .. tostring(REDIS_PORT))
assert_eq(res[1], "unsubscribe")
assert_eq(sub:set_keepalive(), 1, "pooled again after unsubscribe")
r, e = pub:read_reply()
assert_eq(e, "not subscribed")
pub:close()

-- option and argument errors
local ok, err = pcall(function() redis:new():connect(REDIS_HOST, "x") end)
assert_eq(ok, false)
assert_eq(err:find("bad argument #2 port: number expected, got string", 1, true) ~= nil, true, err)
ok, err = pcall(function() redis:new():connect(123) end)
assert_eq(err:find("bad argument #1 host: string expected, got number", 1, true) ~= nil, true, err)
ok, err = pcall(function() redis:new():connect(REDIS_HOST, REDIS_PORT, "opts") end)
assert_eq(err:find("bad argument #3 opts: nil or table expected, got string", 1, true) ~= nil, true, err)
