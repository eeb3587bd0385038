-- phase: access
-- resty.redis commands and reply mapping (lua-resty-redis conventions).
-- Run by TestRedisScripts against a real redis-server (REDIS_HOST/REDIS_PORT
-- are set there); TestScripts runs it without them and it returns at once.
if not REDIS_PORT then return end
local redis = require "resty.redis"
local red = redis:new()
red:set_timeout(1000)
assert_eq(red:connect(REDIS_HOST, REDIS_PORT), 1, "connect")
assert_eq(red:get_reused_times(), 0, "fresh connection")
assert_eq(red:flushdb(), "OK", "flushdb")

-- status, bulk, integer, nil bulk
assert_eq(red:set("k", "v"), "OK", "set: status reply")
assert_eq(red:get("k"), "v", "get: bulk reply")
local missing = red:get("nope")
assert_eq(missing, ngx.null, "missing key is ngx.null")
assert_eq(missing == nil, false, "ngx.null is not nil")
assert_eq(red:incr("n"), 1, "incr on a missing key")
assert_eq(type(red:incr("n")), "number", "integer reply is a number")
assert_eq(red:incrby("n", 40), 42)
assert_eq(red:expire("n", 100), 1, "expire")
local ttl = red:ttl("n")
assert_eq(ttl > 90 and ttl <= 100, true, "ttl")
assert_eq(red:setex("sx", 60, 12.5), "OK", "numbers are sent with tostring")
assert_eq(red:get("sx"), "12.5")
assert_eq(red:set("b", true), "OK")
assert_eq(red:get("b"), "true", "booleans are sent with tostring")
assert_eq(red:del("k", "sx", "nope"), 2, "del counts deleted keys")
assert_eq(red:exists("k"), 0)
assert_eq(red:set("bin", "a\0b\r\nc"), "OK")
assert_eq(red:get("bin"), "a\0b\r\nc", "binary-safe values")
assert_eq(red:set("empty", ""), "OK")
assert_eq(red:get("empty"), "", "empty bulk")

-- hashes: hmset with a table and with arguments
assert_eq(red:hmset("h", {f1 = "a", f2 = 2}), "OK", "hmset table form")
assert_eq(red:hmset("h", "f3", "c"), "OK", "hmset argument form")
assert_eq(red:hget("h", "f2"), "2")
assert_eq(red:hget("h", "zz"), ngx.null, "missing field")
assert_eq(red:hmget("h", "f1", "zz", "f3"), {"a", ngx.null, "c"}, "nil elements of a multi-bulk are ngx.null")
assert_eq(red:hset("h", "f4", "d"), 1)
local all = red:hgetall("h")
assert_eq(#all, 8, "hgetall is a flat array")
local h = red:array_to_hash(all)
assert_eq(h.f1, "a")
assert_eq(h.f4, "d")

-- lists
assert_eq(red:lpush("l", "x", "y", "z"), 3)
assert_eq(red:lrange("l", 0, -1), {"z", "y", "x"})
assert_eq(red:lrange("nolist", 0, -1), {}, "empty multi-bulk is an empty table")

-- error replies: false, "ERR ..."
local ok, err = red:lpush("k2", "x")
assert_eq(ok, 1)
ok, err = red:get("k2")
assert_eq(ok, false, "error reply gives false")
assert_eq(err, "WRONGTYPE Operation against a key holding the wrong kind of value")
ok, err = red:no_such_command("x")
assert_eq(ok, false)
assert_eq(err:sub(1, 24), "ERR unknown command 'no_", "any method name is sent as a command")

-- eval: nested values and nested errors
local res = red:eval("return {1, 'two', false, {3}, redis.error_reply('MYERR boom')}", 0)
assert_eq(res[1], 1)
assert_eq(res[2], "two")
assert_eq(res[3], ngx.null, "Lua false from a script is a nil bulk")
assert_eq(res[4], {3}, "nested multi-bulk")
assert_eq(res[5], {false, "MYERR boom"}, "nested error reply is {false, err}")
assert_eq(red:eval("return redis.call('get', KEYS[1])", 1, "b"), "true")
ok, err = red:eval("return redis.error_reply('MYERR bad')", 0)
assert_eq(ok, false)
assert_eq(err, "MYERR bad")
local sha = red:script("load", "return ARGV[1]")
assert_eq(red:evalsha(sha, 0, "x"), "x")

-- select: databases are per connection
assert_eq(red:select(1), "OK")
assert_eq(red:get("b"), ngx.null, "db 1 does not see db 0")
assert_eq(red:select(0), "OK")
assert_eq(red:get("b"), "true")

-- close, then every call says closed
assert_eq(red:close(), 1)
local r2, e2 = red:get("b")
assert_eq(r2, nil)
assert_eq(e2, "closed")
r2, e2 = red:close()
assert_eq(e2, "closed", "closing twice")
r2, e2 = red:get_reused_times()
assert_eq(e2, "closed")

-- methods called on something else
local r3, e3 = red.get({}, "x")
assert_eq(e3, "not initialized")
