-- A function file with a misspelt PDK name (luagate lint reports file:line).
local ip = kong.client.get_forwarded_ip()
kong.service.request.set_heder("X-Client", ip)
local req = kong.request
local key = req.get_heade("X-Api-Key") -- through a local alias
