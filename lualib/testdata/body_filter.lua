-- phase: body_filter
assert_eq(kong.response.get_raw_body(), "hello upstream")
assert_eq(ngx.arg[1], "hello upstream")
assert_eq(ngx.arg[2], true)
kong.response.set_raw_body("replaced")
assert_eq(kong.response.get_raw_body(), "replaced")
ngx.arg[1] = "via ngx.arg"
assert_eq(kong.response.get_raw_body(), "via ngx.arg")
kong.response.set_raw_body("")
assert_eq(kong.response.get_raw_body(), "\n")
assert_eq(ngx.get_phase(), "body_filter")
