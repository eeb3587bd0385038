package gateway

// Version is luagate's own version, used in the Server and Via tokens
// (DECISIONS row 8: "luagate/<Version>").
const Version = "0.1.0"

// KongVersion is the Kong release luagate is compatible with; the PDK's
// kong.version and the Admin API's "version" report it.
const KongVersion = "3.9.1"

// serverToken is the value of the Server header and the product in Via.
const serverToken = "luagate/" + Version
