-- phase: access
local body, err, mime = kong.request.get_body()
assert_eq(err, nil)
assert_eq(mime, "application/json")
assert_eq(body.a[1], 1)
assert_eq(body.a[3].b, ngx.null)
assert_eq(body.s, "x/y")
local cjson = require "cjson"
assert_eq(cjson.encode(body.e), "[]", "decoded arrays keep the array metatable")
assert_eq(kong.request.get_raw_body(), '{"a":[1,2,{"b":null}],"s":"x\\/y","e":[]}')
local _, err2 = kong.request.get_raw_body(10)
assert_eq(err2, "request body file too big: 40 > 10")
-- a top level that is not an object/array
b, e = kong.request.get_body("application/json")
assert_eq(e, nil)
