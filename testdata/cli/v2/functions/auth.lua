-- Bearer token check: the upstream learns who called.
local token = kong.request.get_header("Authorization")
if not token then
  return kong.response.exit(401, { message = "Authentication required" })
end
if token ~= "Bearer rotated-token-456" then
  return kong.response.exit(403, { message = "Invalid credentials" })
end
kong.service.request.set_header("X-Consumer-ID", "user-123")
