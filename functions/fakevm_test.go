package functions

import (
	"errors"
	"fmt"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
)

// fakeVM is a minimal PDK for testing the runner on its own: kong.request.
// get_header, kong.service.request.set_header/add_header, kong.response.exit
// (exit sentinel, pcall cannot swallow it), kong.log.err, ngx.worker.pid and
// preloaded cjson/resty.* modules.
type fakeVM struct {
	mu       sync.Mutex
	bound    map[*lua.LState]lualib.Exchange
	plugins  map[*lua.LState]string
	phases   map[*lua.LState]lualib.Phase
	sentinel *lua.LUserData
	unbinds  int
	luaPath  string // folder added to package.path (modules outside the PDK)
	created  []*lua.LState
}

// states reports how many states were built; closed how many of them are
// closed.
func (f *fakeVM) states() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.created)
}

func (f *fakeVM) closed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, L := range f.created {
		if L.IsClosed() {
			n++
		}
	}
	return n
}

func newFakeVM() *fakeVM {
	return &fakeVM{
		bound:    map[*lua.LState]lualib.Exchange{},
		plugins:  map[*lua.LState]string{},
		phases:   map[*lua.LState]lualib.Phase{},
		sentinel: &lua.LUserData{},
	}
}

func (f *fakeVM) vm() vm {
	return vm{
		newState: f.newState,
		bind: func(L *lua.LState, ex lualib.Exchange) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.bound[L] != nil {
				panic("bind: state already bound")
			}
			f.bound[L] = ex
		},
		unbind: func(L *lua.LState) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.bound[L] == nil {
				panic("unbind: state not bound")
			}
			delete(f.bound, L)
			f.unbinds++
		},
		setPlugin: func(L *lua.LState, name, _ string) {
			f.mu.Lock()
			f.plugins[L] = name
			f.mu.Unlock()
		},
		setPhase: func(L *lua.LState, p lualib.Phase) {
			f.mu.Lock()
			f.phases[L] = p
			f.mu.Unlock()
		},
		isExit: func(err error) bool {
			var ae *lua.ApiError
			return errors.As(err, &ae) && ae.Object == f.sentinel
		},
	}
}

func (f *fakeVM) ex(L *lua.LState) lualib.Exchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	ex := f.bound[L]
	if ex == nil {
		L.RaiseError("no request bound")
	}
	return ex
}

func (f *fakeVM) newState(opts lualib.StateOptions) *lua.LState {
	L := lua.NewState(lua.Options{
		CallStackSize:   opts.CallStackSize,
		RegistrySize:    opts.RegistrySize,
		RegistryMaxSize: opts.RegistryMaxSize,
	})
	f.mu.Lock()
	f.created = append(f.created, L)
	f.mu.Unlock()
	fn := func(g lua.LGFunction) *lua.LFunction { return L.NewFunction(g) }
	tbl := func(fields map[string]lua.LValue) *lua.LTable {
		t := L.NewTable()
		for k, v := range fields {
			t.RawSetString(k, v)
		}
		return t
	}
	kong := tbl(map[string]lua.LValue{
		"request": tbl(map[string]lua.LValue{
			"get_header": fn(func(L *lua.LState) int {
				if v, ok := f.ex(L).RequestHeader(L.CheckString(1)); ok {
					L.Push(lua.LString(v))
					return 1
				}
				L.Push(lua.LNil)
				return 1
			}),
		}),
		"service": tbl(map[string]lua.LValue{
			"request": tbl(map[string]lua.LValue{
				"set_header": fn(func(L *lua.LState) int {
					f.ex(L).SetUpstreamHeader(L.CheckString(1), L.ToString(2))
					return 0
				}),
				"add_header": fn(func(L *lua.LState) int {
					f.ex(L).AddUpstreamHeader(L.CheckString(1), L.ToString(2))
					return 0
				}),
			}),
		}),
		"response": tbl(map[string]lua.LValue{
			"exit": fn(func(L *lua.LState) int {
				var body []byte
				switch v := L.Get(2).(type) {
				case lua.LString:
					body = []byte(v)
				case *lua.LTable:
					body = []byte(fmt.Sprintf("table:%s", lua.LVAsString(v.RawGetString("message"))))
				}
				f.ex(L).Exit(L.CheckInt(1), body, nil, lualib.SourceExit)
				L.Error(f.sentinel, 0)
				return 0
			}),
		}),
		"log": tbl(map[string]lua.LValue{
			"err": fn(func(L *lua.LState) int {
				f.ex(L).Log(lualib.LevelErr, "", L.ToString(1))
				return 0
			}),
		}),
	})
	L.SetGlobal("kong", kong)
	pid := opts.WorkerPID
	L.SetGlobal("ngx", tbl(map[string]lua.LValue{
		"worker": tbl(map[string]lua.LValue{
			"pid": fn(func(L *lua.LState) int { L.Push(lua.LNumber(pid)); return 1 }),
		}),
	}))
	realPcall := L.GetGlobal("pcall")
	L.SetGlobal("pcall", fn(func(L *lua.LState) int {
		L.Insert(realPcall, 1)
		L.Call(L.GetTop()-1, lua.MultRet)
		if L.Get(1) == lua.LFalse && L.Get(2) == f.sentinel {
			L.Error(f.sentinel, 0)
		}
		return L.GetTop()
	}))
	preload := L.GetField(L.GetField(L.G.Global, "package"), "preload").(*lua.LTable)
	for _, name := range []string{"cjson", "resty.redis", "resty.sha256"} {
		name := name
		preload.RawSetString(name, fn(func(L *lua.LState) int {
			L.Push(tbl(map[string]lua.LValue{"name": lua.LString(name)}))
			return 1
		}))
	}
	if f.luaPath != "" {
		L.SetField(L.GetGlobal("package"), "path", lua.LString(f.luaPath+"/?.lua"))
	}
	L.SetGlobal("secretglobal", lua.LString("s3cret"))
	L.SetGlobal("myglobal", tbl(map[string]lua.LValue{
		"answer": lua.LNumber(42), "secret": lua.LString("hidden"),
		"nested": tbl(map[string]lua.LValue{"v": lua.LString("deep")}),
	}))
	return L
}
