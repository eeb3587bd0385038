package gateway

import "luagate/lualib"

// newSharedDicts creates the ngx.shared store. The lualib constructor is not
// in the contract yet; until it is, states get nil (ngx.shared is then empty).
func newSharedDicts() *lualib.SharedDicts { return nil }
