-- phase: header_filter
local s = kong.service.response
assert_eq(s.get_status(), 201)
assert_eq(s.get_header("x-up"), "1")
assert_eq(s.get_headers().via, nil, "headers added by kong are hidden")
assert_eq(s.get_raw_body(), '{"ok":true}')
local b, err, mime = s.get_body()
assert_eq(b.ok, true)
assert_eq(mime, "application/json")
assert_eq(kong.response.get_headers().via, "kong")
