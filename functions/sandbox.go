package functions

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The sandbox allow-list (spec 1.7, Kong's kong/tools/sandbox/environment/lua.lua).
var (
	sandboxBase = []string{
		"_VERSION", "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "select",
		"tonumber", "tostring", "type", "unpack", "xpcall",
	}
	sandboxLibs = []struct {
		name  string
		names []string
	}{
		{"bit", []string{"arshift", "band", "bnot", "bor", "bswap", "bxor", "lshift", "rol", "ror", "rshift", "tobit", "tohex"}},
		{"coroutine", []string{"create", "resume", "running", "status", "wrap", "yield"}},
		{"io", []string{"type"}},
		{"jit", []string{"os", "arch", "version", "version_num"}},
		{"math", []string{"abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp", "floor",
			"fmod", "frexp", "huge", "ldexp", "log", "log10", "max", "min", "modf", "pi", "pow", "rad", "random",
			"sin", "sinh", "sqrt", "tan", "tanh"}},
		{"os", []string{"clock", "date", "difftime", "time"}},
		{"string", []string{"byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep",
			"reverse", "sub", "upper"}},
		{"table", []string{"clear", "clone", "concat", "foreach", "foreachi", "getn", "insert", "isarray",
			"isempty", "maxn", "move", "new", "nkeys", "pack", "remove", "sort", "unpack"}},
	}
	// defaultRequires may always be required in the sandbox (DECISIONS row 3);
	// modules the PDK preloads are added per state.
	defaultRequires = []string{"cjson", "cjson.safe", "resty.redis"}
	// stdModules are package.loaded entries that are Lua's own libraries,
	// never requirable from the sandbox (they would hand out os, io, debug...).
	stdModules = map[string]bool{
		"_G": true, "package": true, "string": true, "table": true, "math": true, "io": true,
		"os": true, "debug": true, "coroutine": true, "channel": true, "ffi": true,
	}
)

// sandbox builds the private environments of the chunks of one state.
type sandbox struct {
	mode string      // "sandbox" or "on"
	mt   *lua.LTable // metatable of every chunk env: __index = base (sandbox) or _G (on)

	// hot holds kong and ngx as the base has them: every env starts with
	// them as its own fields (see newEnv).
	hot []hotGlobal
}

type hotGlobal struct {
	name  string
	value lua.LValue
}

// hotGlobals are read on nearly every line of a function.
var hotGlobals = []string{"kong", "ngx"}

func (sb *sandbox) keepHot(base *lua.LTable) {
	for _, name := range hotGlobals {
		if v := base.RawGetString(name); v != lua.LNil {
			sb.hot = append(sb.hot, hotGlobal{name, v})
		}
	}
}

// newSandbox prepares the environment base of one state. requires are the
// extra modules of untrusted_lua_sandbox_requires; envPaths the dotted names
// of untrusted_lua_sandbox_environment.
func newSandbox(L *lua.LState, mode string, requires, envPaths []string) *sandbox {
	sb := &sandbox{mode: mode, mt: L.NewTable()}
	if mode == "on" {
		sb.mt.RawSetString("__index", L.G.Global)
		sb.keepHot(L.G.Global)
		return sb
	}
	base := buildSandboxBase(L, requires, envPaths)
	sb.mt.RawSetString("__index", base)
	sb.keepHot(base)
	return sb
}

// newEnv returns a fresh private environment for one chunk. Globals the
// chunk assigns land in it; reads fall back to the base. kong and ngx start
// as the env's own fields (as in Kong, whose sandbox env is a table of the
// allowed globals): reading them is one table lookup instead of three (the
// miss, the metatable's __index, the base), which was a tenth of a bearer-
// token function's run time. Assigning them changes only this env, and
// after `kong = nil` reads fall back to the base as before.
func (sb *sandbox) newEnv(L *lua.LState) *lua.LTable {
	env := L.CreateTable(0, 2+len(sb.hot))
	if sb.mode != "on" {
		env.RawSetString("_G", env) // _G is the chunk's own environment (Kong's sandbox)
	}
	for _, kv := range sb.hot {
		env.RawSetString(kv.name, kv.value)
	}
	L.SetMetatable(env, sb.mt)
	return env
}

func buildSandboxBase(L *lua.LState, requires, envPaths []string) *lua.LTable {
	G := L.G.Global
	base := L.CreateTable(0, 32)
	for _, name := range sandboxBase {
		if v := G.RawGetString(name); v != lua.LNil {
			base.RawSetString(name, v)
		}
	}
	if base.RawGetString("unpack") == lua.LNil {
		if t, ok := G.RawGetString("table").(*lua.LTable); ok {
			base.RawSetString("unpack", t.RawGetString("unpack"))
		}
	}
	for _, lib := range sandboxLibs {
		src, ok := G.RawGetString(lib.name).(*lua.LTable)
		if !ok {
			continue
		}
		cp := L.CreateTable(0, len(lib.names))
		for _, n := range lib.names {
			if v := src.RawGetString(n); v != lua.LNil {
				cp.RawSetString(n, v)
			}
		}
		base.RawSetString(lib.name, protect(L, cp, "_G."+lib.name))
	}
	// kong: the real PDK behind write-protected proxies, at every level
	// (kong.response.exit = nil must not reach later requests); ngx: the
	// real one, as in Kong.
	if k, ok := G.RawGetString("kong").(*lua.LTable); ok {
		base.RawSetString("kong", protectTree(L, k, "kong", map[*lua.LTable]*lua.LTable{}))
	}
	if n := G.RawGetString("ngx"); n != lua.LNil {
		base.RawSetString("ngx", n)
	}
	base.RawSetString("require", restrictedRequire(L, requires))
	for _, p := range envPaths {
		exposePath(L, base, p)
	}
	return base
}

// protect returns a proxy of t: reads go to t, every write raises
// "Cannot modify <name>.<key>. Protected by the sandbox." Shared tables are
// never modified (Kong issue #7133).
func protect(L *lua.LState, t *lua.LTable, name string) *lua.LTable {
	proxy := L.CreateTable(0, 0)
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Cannot modify %s.%s. Protected by the sandbox.", name, lua.LVAsString(L.Get(2)))
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(proxy, mt)
	return proxy
}

// protectTree is protect for a table and every table inside it: reads see
// the real values, with tables replaced by their own proxies; every write
// raises "Cannot modify <name>.<key>. Protected by the sandbox.". The views
// are built once per state, so a read costs a table lookup per level. A
// table whose metatable computes its keys (kong.ctx: shared, plugin) is
// forwarded as it is: reads return what its __index returns (the request's
// own kong.ctx.shared, writable) and writes go to its __newindex. A __call
// (kong.log(...)) is kept.
func protectTree(L *lua.LState, t *lua.LTable, name string, seen map[*lua.LTable]*lua.LTable) *lua.LTable {
	if p := seen[t]; p != nil {
		return p
	}
	proxy := L.CreateTable(0, 0)
	seen[t] = proxy
	mt := L.CreateTable(0, 4)
	refuse := L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Cannot modify %s.%s. Protected by the sandbox.", name, lua.LVAsString(L.Get(2)))
		return 0
	})
	rmt, _ := L.GetMetatable(t).(*lua.LTable)
	if rmt != nil && (rmt.RawGetString("__index") != lua.LNil || rmt.RawGetString("__newindex") != lua.LNil) {
		mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
			L.Push(L.GetTable(t, L.Get(2)))
			return 1
		}))
		mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
			k := L.Get(2)
			if t.RawGet(k) != lua.LNil {
				L.RaiseError("Cannot modify %s.%s. Protected by the sandbox.", name, lua.LVAsString(k))
			}
			L.SetTable(t, k, L.Get(3))
			return 0
		}))
	} else {
		view := L.CreateTable(0, 8)
		t.ForEach(func(k, v lua.LValue) {
			if sub, ok := v.(*lua.LTable); ok {
				v = protectTree(L, sub, name+"."+lua.LVAsString(k), seen)
			}
			view.RawSet(k, v)
		})
		mt.RawSetString("__index", view)
		mt.RawSetString("__newindex", refuse)
	}
	if rmt != nil {
		if call := rmt.RawGetString("__call"); call != lua.LNil {
			mt.RawSetString("__call", call)
		}
	}
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(proxy, mt)
	return proxy
}

// restrictedRequire allows the default modules, the modules the PDK
// provides (package.preload, package.loaded apart from Lua's own libraries)
// and the configured ones; they load with the real globals. The tables of
// the built-in modules (cjson, resty.redis, ...) are handed out behind a
// write-protected proxy, one per module and state, so that one chunk
// cannot change them for every later chunk and request of the state
// (`require("cjson").encode = nil`); modules listed in
// untrusted_lua_sandbox_requires are the operator's and stay as they are.
func restrictedRequire(L *lua.LState, extra []string) *lua.LFunction {
	allowed := make(map[string]bool, len(defaultRequires)+len(extra)+16)
	for _, m := range defaultRequires {
		allowed[m] = true
	}
	builtin := make(map[string]bool, len(allowed)+16)
	for _, m := range defaultRequires {
		builtin[m] = true
	}
	for _, m := range extra {
		if m = strings.TrimSpace(m); m != "" {
			allowed[m] = true
		}
	}
	if pkg, ok := L.G.Global.RawGetString("package").(*lua.LTable); ok {
		for _, field := range []string{"preload", "loaded"} {
			if t, ok := pkg.RawGetString(field).(*lua.LTable); ok {
				t.ForEach(func(k, _ lua.LValue) {
					if s, ok := k.(lua.LString); ok && !stdModules[string(s)] {
						allowed[string(s)] = true
						builtin[string(s)] = true
					}
				})
			}
		}
	}
	for _, m := range extra {
		delete(builtin, strings.TrimSpace(m))
	}
	realRequire := L.G.Global.RawGetString("require")
	proxies := map[*lua.LTable]*lua.LTable{} // shared by all modules: one proxy per table
	// What require gave for each module, as package.loaded keeps it:
	// functions commonly require inside the function, once per request,
	// and the real require is a nested Lua call (2% of the CPU of the
	// bench's JSON body_filter). Sandboxed code cannot reach package.loaded
	// to change an entry.
	loaded := map[string]lua.LValue{}
	return L.NewFunction(func(L *lua.LState) int {
		mod := L.CheckString(1)
		if !allowed[mod] {
			L.RaiseError("require '%s' not allowed within sandbox", mod)
		}
		if v, ok := loaded[mod]; ok {
			L.Push(v)
			return 1
		}
		fn, ok := realRequire.(*lua.LFunction)
		if !ok {
			L.RaiseError("module '%s' not found", mod)
		}
		top := L.GetTop()
		L.Push(fn)
		L.Push(lua.LString(mod))
		L.Call(1, lua.MultRet)
		if t, ok := L.Get(top + 1).(*lua.LTable); ok && builtin[mod] && L.GetTop() > top {
			L.Replace(top+1, protectTree(L, t, mod, proxies))
		}
		if L.GetTop() == top+1 && L.Get(top+1) != lua.LNil {
			loaded[mod] = L.Get(top + 1)
		}
		return L.GetTop() - top
	})
}

// exposePath copies the global at a dotted path ("foo.bar") into the
// sandbox base. Intermediate tables are fresh; a table leaf is exposed
// through a proxy so writes to it stay in the sandbox.
func exposePath(L *lua.LState, base *lua.LTable, path string) {
	path = strings.TrimSpace(path)
	if path == "" {
		return
	}
	parts := strings.Split(path, ".")
	var v lua.LValue = L.G.Global
	for _, p := range parts {
		t, ok := v.(*lua.LTable)
		if !ok {
			return
		}
		v = t.RawGetString(p)
	}
	if v == lua.LNil {
		return
	}
	if t, ok := v.(*lua.LTable); ok {
		proxy := L.CreateTable(0, 0)
		mt := L.CreateTable(0, 1)
		mt.RawSetString("__index", t)
		L.SetMetatable(proxy, mt)
		v = proxy
	}
	dst := base
	for _, p := range parts[:len(parts)-1] {
		next := dst.RawGetString(p)
		if nt, ok := next.(*lua.LTable); ok && !isProtected(L, nt) {
			dst = nt
			continue
		}
		fresh := L.CreateTable(0, 1)
		if nt, ok := next.(*lua.LTable); ok {
			// a protected library proxy: overlay it, keeping its entries
			// readable and its write protection
			mt := L.CreateTable(0, 2)
			mt.RawSetString("__index", nt)
			mt.RawSetString("__newindex", L.GetMetatable(nt).(*lua.LTable).RawGetString("__newindex"))
			L.SetMetatable(fresh, mt)
		}
		dst.RawSetString(p, fresh)
		dst = fresh
	}
	dst.RawSetString(parts[len(parts)-1], v)
}

func isProtected(L *lua.LState, t *lua.LTable) bool {
	mt, ok := L.GetMetatable(t).(*lua.LTable)
	return ok && mt.RawGetString("__newindex") != lua.LNil
}
