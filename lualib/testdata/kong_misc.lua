-- phase: access
assert_eq(kong.version, "3.9.1")
assert_eq(kong.version_num, 3009001)
assert_eq(kong.node.get_id(), "3c1cfc3c-6b8a-4ae9-9a35-0b5d9c1f0a01")
assert_eq(kong.node.get_hostname(), "node-1")
assert_eq(kong.node.get_memory_stats().workers_lua_vms[1].pid, 4242)
assert_eq(kong.configuration.pg_password, "******")
assert_eq(kong.configuration.plugins[1], "bundled")
assert_eq(kong.nginx.get_subsystem(), "http")
local t = kong.table.merge({ a = 1, b = 1 }, { b = 2 })
assert_eq(t, { a = 1, b = 2 })
local c = { 1, 2, x = 3 }
kong.table.clear(c)
assert_eq(next(c), nil)

kong.ctx.shared.user = "alice"
assert_eq(kong.ctx.shared.user, "alice")
kong.ctx.plugin.count = 1
assert_eq(kong.ctx.plugin.count, 1)
assert_eq(kong.ctx.shared == kong.ctx.shared, true)

kong.log("a", 1, nil, true)
kong.log.err("err line")
kong.log.debug("debug line")
kong.log.inspect({ 1, 2, a = "x" })
kong.log.deprecation("old", { after = "1.0", removal = "2.0" })
kong.log.set_serialize_value("request.headers.x\\.y", "v")
kong.log.set_serialize_value("extra", 1, { mode = "add" })
local ok, err = pcall(kong.log.set_serialize_value, "k", 1, { mode = "bad" })
assert_eq(err:match("mode must be 'set', 'add' or 'replace'$") ~= nil, true)

-- pcall and xpcall still work for ordinary errors
local ok2, e2 = pcall(error, "boom", 0)
assert_eq(ok2, false)
assert_eq(e2, "boom")
local ok3, e3 = xpcall(function() error({ code = 1 }) end, function(e) return e.code end)
assert_eq(ok3, false)
assert_eq(e3, 1)
assert_eq(select("#", pcall(function() return 1, 2 end)), 3)
local cok, cerr = coroutine.resume(coroutine.create(function() error("in co", 0) end))
assert_eq(cok, false)
assert_eq(cerr, "in co")
