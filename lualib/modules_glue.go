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

// encodeJSON encodes like cjson.encode (Kong's kong.response.exit body)
// into a fresh slice.
func (p *pdk) encodeJSON(v lua.LValue) ([]byte, error) { return EncodeJSON(p.L, v) }

// Bounds of the scratch kept by encodeJSONScratch: a rare large body is
// not kept alive by an idle state.
const (
	maxScratchJSON = 16 << 10
	maxScratchKVs  = 256
)

// encodeJSONScratch is encodeJSON into the state's scratch buffer (and key
// scratch), so kong.response.exit allocates nothing to encode its body. The
// result is valid only until the next encodeJSONScratch on the state: the
// caller must copy it (Exchange.Exit does, string(...) does) before any
// other Lua or PDK code can run.
func (p *pdk) encodeJSONScratch(v lua.LValue) ([]byte, error) {
	e := cjEncoder{L: p.L, cfg: cjHelperEncodeCfg, buf: p.jsonBuf[:0], kvs: p.jsonKVs[:0], max: p.opts.MaxStringSize}
	err := e.encode(v, 0)
	if err == nil && e.max > 0 && len(e.buf) > e.max {
		err = errJSONTooLarge
	}
	if err != nil {
		// error paths skip the per-object clearing: drop references
		clear(e.kvs[:cap(e.kvs)])
	}
	p.jsonBuf, p.jsonKVs = nil, nil
	if cap(e.buf) <= maxScratchJSON {
		p.jsonBuf = e.buf[:0]
	}
	if cap(e.kvs) <= maxScratchKVs {
		p.jsonKVs = e.kvs[:0]
	}
	if err != nil {
		return nil, err
	}
	return e.buf, nil
}

// decodeJSON decodes like cjson.decode with array metatables on arrays.
func (p *pdk) decodeJSON(data []byte) (lua.LValue, error) { return DecodeJSON(p.L, data) }
