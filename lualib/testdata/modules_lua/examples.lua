-- Snippets in the style of public pre-function code, run against the
-- modules of this package. assert_eq(got, want, what) is provided by the
-- Go test.

-- Decode a JWT payload by hand (the most common pattern in the wild).
local cjson = require "cjson.safe"
local token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwic2NvcGUiOlsicmVhZCIsIndyaXRlIl19.sig"
local _, payload_b64 = token:match("^([^.]+)%.([^.]+)%.")
local b64 = payload_b64:gsub("-", "+"):gsub("_", "/")
local rem = #b64 % 4
if rem > 0 then b64 = b64 .. string.rep("=", 4 - rem) end
local claims, err = cjson.decode(ngx.decode_base64(b64))
assert_eq(err, nil, "decode error")
assert_eq(claims.sub, "user-42", "sub claim")
assert_eq(#claims.scope, 2, "scope length")
assert_eq(require("ngx.base64").decode_base64url(payload_b64), ngx.decode_base64(b64), "base64url")

-- Bearer token extraction with ngx.re.
local m = ngx.re.match("Bearer abc.def", [[^Bearer\s+(?<token>\S+)$]], "jo")
assert_eq(m.token, "abc.def", "bearer token")

-- Fixed-window rate limiting on a shared dict.
local dict = ngx.shared.limits
local key = "rl:" .. "10.0.0.1"
local count
for i = 1, 3 do
  count = dict:incr(key, 1, 0, 60)
end
assert_eq(count, 3, "rate counter")
assert(dict:ttl(key) > 59, "counter keeps its window")

-- HMAC-like request signing with resty.sha256 and resty.string.
local sha256 = require("resty.sha256"):new()
sha256:update("GET\n/api\n")
local sig = require("resty.string").to_hex(sha256:final())
assert_eq(#sig, 64, "hex digest length")

-- Re-encode a decoded body with an empty array kept as [].
local c = require "cjson"
c.decode_array_with_array_mt(true)
local body = c.decode('{"items":[],"total":0}')
body.total = #body.items
assert_eq(c.encode(body), '{"items":[],"total":0}', "re-encoded body")

-- Query-string helpers.
local args = ngx.decode_args("page=2&tag=a&tag=b&debug")
assert_eq(args.page, "2", "page")
assert_eq(args.tag[2], "b", "repeated tag")
assert_eq(args.debug, true, "bare flag")
assert_eq(ngx.encode_args({q = "a b", page = 3}), "page=3&q=a%20b", "encode_args")

-- LuaJIT extras.
assert_eq(bit.band(0xF0, 0x3C), 0x30, "bit.band")
assert_eq(table.nkeys({a = 1, 1}), 2, "table.nkeys")
assert_eq(select("#", unpack({1, 2, 3})), 3, "unpack")
