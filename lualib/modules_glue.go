package lualib

import lua "github.com/yuin/gopher-lua"

// openModules opens the modules that lualib's modules work provides
// (LuaJIT extras, ngx utilities, ngx.re, ngx.shared, cjson and resty.*).
// It runs before the PDK tables are filled; ngx.null and the array
// metatable come from the cjson module so that they are the same values.
func openModules(p *pdk, L *lua.LState) {
	OpenLuaJITExtras(L)
	OpenNgxUtils(L, p.ngx)
	OpenNgxRe(L, p.ngx)
	OpenNgxShared(L, p.ngx, p.opts.Shared)
	PreloadModules(L)
	p.null = NullValue(L)
	p.arrayMT = ArrayMT(L)
}

// encodeJSON encodes like cjson.encode (Kong's kong.response.exit body).
func (p *pdk) encodeJSON(v lua.LValue) ([]byte, error) { return EncodeJSON(p.L, v) }

// decodeJSON decodes like cjson.decode with array metatables on arrays.
func (p *pdk) decodeJSON(data []byte) (lua.LValue, error) { return DecodeJSON(p.L, data) }
