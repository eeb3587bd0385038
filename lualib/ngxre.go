package lualib

import lua "github.com/yuin/gopher-lua"

// OpenNgxRe installs ngx.re.
func OpenNgxRe(L *lua.LState, ngx *lua.LTable) {
	ngx.RawSetString("re", L.NewTable())
}
