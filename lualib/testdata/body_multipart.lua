-- phase: access
local body, err, mime = kong.request.get_body()
assert_eq(err, nil)
assert_eq(mime, "multipart/form-data")
assert_eq(body.a, {"1", "2"})
assert_eq(body.b, "x y")
local _, err2 = kong.request.get_body("multipart/form-data")
assert_eq(err2, "unable to decode multipart body", "no boundary")
