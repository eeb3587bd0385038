-- Runs once per Lua state: set-up work belongs here.
local greeting = "Hello from greeting.lua"

-- The returned function runs on every request. luagate passes the
-- plugin's config as conf (DECISIONS row 6); Kong passes nothing.
return function(conf)
  local phases = conf and #conf.access or 0
  return kong.response.exit(200, { message = greeting, phases = phases })
end
