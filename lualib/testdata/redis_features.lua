-- phase: access
-- resty.redis: connect options (password, db), transactions, module
-- prefixes, table forms, big integers, blocking commands, pub/sub.
if not REDIS_PORT then return end
local redis = require "resty.redis"

local function new()
  local red = redis:new()
  red:set_timeout(1000)
  return red
end

-- db from the options: SELECT on a fresh connection, a pool per db
local red = new()
assert_eq(red:connect(REDIS_HOST, REDIS_PORT, {db = 3}), 1)
assert_eq(red:set("where", "db3"), "OK")
assert_eq(red:set_keepalive(10000, 5), 1)
red = new()
assert_eq(red:connect(REDIS_HOST, REDIS_PORT, {db = 3}), 1)
assert_eq(red:get_reused_times() >= 1, true, "pooled under host:port/3")
assert_eq(red:get("where"), "db3")
red:close()
red = new()
local ok, err = red:connect(REDIS_HOST, REDIS_PORT, {db = 99})
assert_eq(ok, nil)
assert_eq(err, "failed to select database 99: ERR DB index is out of range")
ok, err = new():connect(REDIS_HOST, REDIS_PORT, {password = "nope"})
assert_eq(ok, nil)
assert_eq(err:sub(1, 27), "failed to authenticate: ERR", err)

-- transactions: not pooled between multi and exec
red = new()
assert_eq(red:connect(REDIS_HOST, REDIS_PORT), 1)
assert_eq(red:multi(), "OK")
assert_eq(red:incr("tx"), "QUEUED")
local r, e = red:set_keepalive()
assert_eq(e, "in transaction")
local res = red:exec()
assert_eq(type(res[1]), "number")
assert_eq(red:multi(), "OK")
assert_eq(red:discard(), "OK")

-- table form of hmget, module prefixes
assert_eq(red:hmset("hm", "a", 1, "b", 2), "OK")
assert_eq(red:hmget("hm", {"a", "zz", "b"}), {"1", ngx.null, "2"})
redis.register_module_prefix("nosuchmodule")
ok, err = red:nosuchmodule():get("k")
assert_eq(ok, false)
assert_eq(err:find("nosuchmodule.get", 1, true) ~= nil, true, "the prefix is sent: " .. err)
assert_eq(red:get("where"), ngx.null, "the prefix applies to one command")

-- integers of 15+ digits are sent whole, not as 1e+15
assert_eq(red:set("big", 123456789012345678), "OK")
assert_eq(red:get("big"), "123456789012345680")
assert_eq(red:set("big", 1e15), "OK")
assert_eq(red:get("big"), "1000000000000000")

-- a blocking command that times out keeps its connection
red:set_timeout(100)
r, e = red:blpop("empty-list", 1)
assert_eq(e, "timeout")
assert_eq(type(red:get_reused_times()), "number", "still connected after a blocking timeout")
red:close() -- BLPOP's own answer is still to come on this connection

-- pub/sub: several channels at once, messages arriving during a command
local sub = new()
assert_eq(sub:connect(REDIS_HOST, REDIS_PORT), 1)
local ch = "ch-" .. tostring(REDIS_PORT)
res = sub:subscribe(ch .. "a", ch .. "b")
assert_eq(res, {{"subscribe", ch .. "a", 1}, {"subscribe", ch .. "b", 2}})
local pub = new()
assert_eq(pub:connect(REDIS_HOST, REDIS_PORT), 1)
assert_eq(pub:publish(ch .. "a", "m1"), 1)
assert_eq(pub:publish(ch .. "b", "m2"), 1)
res = sub:psubscribe(ch .. "*")
assert_eq(res, {"psubscribe", ch .. "*", 3}, "messages before the reply are buffered")
assert_eq(sub:read_reply(), {"message", ch .. "a", "m1"})
assert_eq(sub:read_reply(), {"message", ch .. "b", "m2"})
sub:set_timeout(100)
r, e = sub:read_reply()
assert_eq(e, "timeout")
sub:set_timeout(1000)
res = sub:punsubscribe()
assert_eq(res, {"punsubscribe", ch .. "*", 2})
res = sub:unsubscribe()
assert_eq(#res, 2, "unsubscribe with no argument reads every reply")
assert_eq(res[2][3], 0)
r, e = sub:unsubscribe()
assert_eq(e, "not subscribed")
assert_eq(sub:set_keepalive(), 1)
pub:close()
