kong.response.set_header("x-hello", "world")
