package lualib

import lua "github.com/yuin/gopher-lua"

// kong.ctx.shared, kong.ctx.plugin and ngx.ctx (spec §1.6). The tables are
// created lazily on first access and dropped by Unbind; without a bound
// request they are nil.

func (p *pdk) openCtx() {
	L := p.L
	ctx := p.sub(p.kong, "ctx")
	mt := L.CreateTable(0, 4)
	mt.RawSetString("__index", L.NewFunction(p.ctxIndex))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		raise(L, "kong.ctx.%s cannot be assigned", p.tostring(L.Get(2)))
		return 0
	}))
	L.SetMetatable(ctx, mt)
}

func (p *pdk) ctxIndex(L *lua.LState) int {
	k, _ := L.Get(2).(lua.LString)
	if p.ex == nil {
		L.Push(lua.LNil)
		return 1
	}
	switch k {
	case "shared":
		L.Push(p.sharedCtx())
	case "plugin":
		L.Push(p.pluginCtxTable())
	default:
		L.Push(lua.LNil)
	}
	return 1
}

func (p *pdk) sharedCtx() *lua.LTable {
	if p.shared == nil {
		p.shared = p.L.CreateTable(0, 4)
	}
	return p.shared
}

func (p *pdk) pluginCtxTable() *lua.LTable {
	t := p.pluginCtx[p.instance]
	if t == nil {
		t = p.L.CreateTable(0, 4)
		p.pluginCtx[p.instance] = t
	}
	return t
}

func (p *pdk) ngxCtxTable() lua.LValue {
	if p.ex == nil {
		return lua.LNil
	}
	if p.ngxCtx == nil {
		p.ngxCtx = p.L.CreateTable(0, 4)
	}
	return p.ngxCtx
}
