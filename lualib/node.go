package lualib

import (
	"runtime"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// kong.node, kong.version, kong.configuration, kong.ip, kong.router,
// kong.table and kong.nginx (spec §2.7).

// redactedConfigKeys are replaced by "******" in kong.configuration (§1.7).
var redactedConfigKeys = []string{
	"pg_password", "pg_ro_password", "proxy_server", "declarative_config_string", "cluster_cert_key",
	"ssl_cert_key", "client_ssl_cert_key", "admin_ssl_cert_key", "admin_gui_ssl_cert_key",
	"status_ssl_cert_key", "debug_ssl_cert_key",
}

// versionNum turns "3.9.1" into 3009001.
func versionNum(v string) int {
	parts := strings.SplitN(v, ".", 3)
	n := 0
	for i := 0; i < 3; i++ {
		x := 0
		if i < len(parts) {
			digits := parts[i]
			for j := 0; j < len(digits); j++ {
				if digits[j] < '0' || digits[j] > '9' {
					digits = digits[:j]
					break
				}
			}
			x, _ = strconv.Atoi(digits)
		}
		n = n*1000 + x
	}
	return n
}

func (p *pdk) openKong() {
	L := p.L
	p.kong.RawSetString("version", lua.LString(p.opts.Version))
	p.kong.RawSetString("version_num", lua.LNumber(versionNum(p.opts.Version)))
	p.openRequest()
	p.openResponse()
	p.openService()
	p.openClient()
	p.openLog()
	p.openCtx()
	p.openNode()

	cfg, _ := p.toLua(p.opts.Configuration).(*lua.LTable)
	if cfg == nil {
		cfg = L.CreateTable(0, 4)
	}
	for _, k := range redactedConfigKeys {
		if cfg.RawGetString(k) != lua.LNil {
			cfg.RawSetString(k, lua.LString("******"))
		}
	}
	// kong.configuration is read-only, as in Kong: a proxy over the table.
	p.config = cfg
	proxy := L.CreateTable(0, 0)
	pmt := L.CreateTable(0, 3)
	pmt.RawSetString("__index", cfg)
	pmt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		raise(L, "cannot write to configuration")
		return 0
	}))
	pmt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(proxy, pmt)
	p.kong.RawSetString("configuration", proxy)

	ip := p.sub(p.kong, "ip")
	p.set(ip, "is_trusted", func(L *lua.LState) int {
		s, ok := L.Get(1).(lua.LString)
		if !ok {
			raise(L, "ip must be a string")
		}
		trusted := false
		if p.opts.Trusted != nil {
			trusted = p.opts.Trusted(string(s))
		} else if p.ex != nil {
			trusted = p.ex.IsTrusted(string(s))
		}
		L.Push(lua.LBool(trusted))
		return 1
	})

	router := p.sub(p.kong, "router")
	p.set(router, "get_route", func(L *lua.LState) int {
		p.check(L, phasesREQ)
		if p.route == nil {
			p.route = p.toLuaOrNil(p.exchange(L).RouteInfo())
		}
		L.Push(p.route)
		return 1
	})
	p.set(router, "get_service", func(L *lua.LState) int {
		p.check(L, phasesREQ)
		if p.service == nil {
			p.service = p.toLuaOrNil(p.exchange(L).ServiceInfo())
		}
		L.Push(p.service)
		return 1
	})

	tbl := p.sub(p.kong, "table")
	p.set(tbl, "new", func(L *lua.LState) int {
		L.Push(L.CreateTable(clampCap(L.OptInt(1, 0)), clampCap(L.OptInt(2, 0))))
		return 1
	})
	p.set(tbl, "clear", func(L *lua.LState) int {
		t := L.CheckTable(1)
		for _, k := range sortedKeys(t) {
			t.RawSet(k, lua.LNil)
		}
		return 0
	})
	p.set(tbl, "merge", func(L *lua.LState) int {
		out := L.CreateTable(0, 4)
		for i := 1; i <= 2; i++ {
			if t, ok := L.Get(i).(*lua.LTable); ok {
				t.ForEach(func(k, v lua.LValue) { out.RawSet(k, v) })
			}
		}
		L.Push(out)
		return 1
	})

	nginx := p.sub(p.kong, "nginx")
	p.set(nginx, "get_subsystem", func(L *lua.LState) int { L.Push(lua.LString("http")); return 1 })
	p.set(nginx, "get_statistics", func(L *lua.LState) int {
		t := L.CreateTable(0, 7)
		for _, k := range []string{"connections_active", "connections_reading", "connections_writing",
			"connections_waiting", "connections_accepted", "connections_handled", "total_requests"} {
			t.RawSetString(k, lua.LNumber(0))
		}
		L.Push(t)
		return 1
	})
}

func clampCap(n int) int {
	if n < 0 {
		return 0
	}
	if n > 1<<16 {
		return 1 << 16
	}
	return n
}

func (p *pdk) toLuaOrNil(m map[string]any) lua.LValue {
	if m == nil {
		return lua.LNil
	}
	return p.toLua(m)
}

func (p *pdk) openNode() {
	node := p.sub(p.kong, "node")
	p.set(node, "get_id", func(L *lua.LState) int { L.Push(lua.LString(p.opts.NodeID)); return 1 })
	p.set(node, "get_hostname", func(L *lua.LState) int { L.Push(lua.LString(p.opts.Hostname)); return 1 })
	p.set(node, "get_memory_stats", p.nodeMemoryStats)
}

func (p *pdk) nodeMemoryStats(L *lua.LState) int {
	unit := "b"
	if s, ok := L.Get(1).(lua.LString); ok {
		unit = strings.ToLower(string(s))
	} else if L.Get(1) != lua.LNil {
		raise(L, "invalid unit '%s' (expected 'k/K', 'm/M', or 'g/G')", p.tostring(L.Get(1)))
	}
	scale := 2
	if n, ok := L.Get(2).(lua.LNumber); ok {
		scale = int(n)
	}
	div := 1.0
	switch unit {
	case "b":
	case "k":
		div = 1 << 10
	case "m":
		div = 1 << 20
	case "g":
		div = 1 << 30
	default:
		raise(L, "invalid unit '%s' (expected 'k/K', 'm/M', or 'g/G')", unit)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	val := func(b uint64) lua.LValue {
		if unit == "b" {
			return lua.LNumber(b)
		}
		return lua.LString(strconv.FormatFloat(float64(b)/div, 'f', scale, 64) + " " + strings.ToUpper(unit) + "iB")
	}
	vm := L.CreateTable(0, 2)
	vm.RawSetString("pid", lua.LNumber(p.opts.WorkerPID))
	vm.RawSetString("http_allocated_gc", val(ms.HeapAlloc))
	vms := L.CreateTable(1, 0)
	vms.Append(vm)
	t := L.CreateTable(0, 2)
	t.RawSetString("workers_lua_vms", vms)
	t.RawSetString("lua_shared_dicts", L.CreateTable(0, 4))
	L.Push(t)
	return 1
}
