package lualib_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// pdkFunctions lists every function reachable under kong.* and the ngx.*
// functions of the PDK core, by dotted name.
func pdkFunctions(L *lua.LState) ([]string, map[string]*lua.LFunction) {
	fns := map[string]*lua.LFunction{}
	var walk func(prefix string, t *lua.LTable, depth int)
	walk = func(prefix string, t *lua.LTable, depth int) {
		if depth > 4 {
			return
		}
		t.ForEach(func(k, v lua.LValue) {
			ks, ok := k.(lua.LString)
			if !ok {
				return
			}
			name := prefix + "." + string(ks)
			switch x := v.(type) {
			case *lua.LFunction:
				fns[name] = x
			case *lua.LTable:
				if name != "kong.configuration" {
					walk(name, x, depth+1)
				}
			}
		})
	}
	walk("kong", L.GetGlobal("kong").(*lua.LTable), 0)
	ngx := L.GetGlobal("ngx").(*lua.LTable)
	for _, sub := range []string{"req", "worker", "config"} {
		walk("ngx."+sub, ngx.RawGetString(sub).(*lua.LTable), 1)
	}
	for _, n := range []string{"say", "print", "exit", "log", "get_phase", "flush", "eof"} {
		fns["ngx."+n] = ngx.RawGetString(n).(*lua.LFunction)
	}
	names := make([]string, 0, len(fns))
	for n := range fns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, fns
}

var fuzzPhases = []lualib.Phase{
	lualib.PhaseInitWorker, lualib.PhaseRewrite, lualib.PhaseAccess, lualib.PhaseBalancer,
	lualib.PhaseHeaderFilter, lualib.PhaseBodyFilter, lualib.PhaseLog,
}

// FuzzPDK calls PDK functions with arguments of random types in random
// phases: errors are fine, a Go panic is not.
func FuzzPDK(f *testing.F) {
	f.Add(uint16(0), uint8(2), []byte{1, 2, 3}, "name")
	f.Add(uint16(7), uint8(1), []byte{4, 4, 0}, "Content-Type")
	f.Add(uint16(30), uint8(4), []byte{5, 6, 7, 8}, "")
	f.Add(uint16(55), uint8(6), []byte{3, 9}, "application/json")
	f.Fuzz(func(t *testing.T, fnIdx uint16, phaseIdx uint8, kinds []byte, s string) {
		ex := lualibtest.New()
		ex.AddHeader("Content-Type", "application/json")
		ex.Body = []byte(s)
		ex.Query = s
		L := lualib.NewState(lualib.StateOptions{LogLevel: lualib.LevelDebug})
		defer L.Close()
		// As the functions runner does: a deadline bounds the call (without
		// one, ngx.sleep of a random number waits up to 10 s per input).
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		L.SetContext(ctx)
		lualib.Bind(L, ex)
		lualib.SetPhase(L, fuzzPhases[int(phaseIdx)%len(fuzzPhases)])
		names, fns := pdkFunctions(L)
		name := names[int(fnIdx)%len(names)]
		if len(kinds) > 6 {
			kinds = kinds[:6]
		}
		L.Push(fns[name])
		for _, k := range kinds {
			L.Push(fuzzArg(L, k, s))
		}
		err := L.PCall(len(kinds), lua.MultRet, nil)
		var ae *lua.ApiError
		if errors.As(err, &ae) && ae.Type == lua.ApiErrorPanic {
			t.Fatalf("%s(%v) in %s: Go panic: %v", name, kinds, fuzzPhases[int(phaseIdx)%len(fuzzPhases)], err)
		}
	})
}

func fuzzArg(L *lua.LState, k byte, s string) lua.LValue {
	switch k % 12 {
	case 0:
		return lua.LNil
	case 1:
		return lua.LString(s)
	case 2:
		return lua.LNumber(int(k) * 37)
	case 3:
		return lua.LNumber(-1.5)
	case 4:
		return lua.LTrue
	case 5:
		t := L.NewTable()
		t.RawSetString(s, lua.LString(s))
		t.RawSetInt(1, lua.LNumber(1))
		return t
	case 6:
		t := L.NewTable()
		t.Append(lua.LString(s))
		t.Append(L.NewTable())
		return t
	case 7:
		return L.NewFunction(func(L *lua.LState) int { return 0 })
	case 8:
		return L.GetField(L.GetGlobal("ngx"), "null")
	case 9:
		t := L.NewTable()
		t.RawSetString("mode", lua.LString(s))
		t.RawSetString("self", t)
		return t
	case 10:
		return L.NewUserData()
	}
	return lua.LNumber(1e300)
}

// TestFuzzSeedsAllFunctions runs every function with a fixed set of
// argument shapes in every phase (the deterministic part of FuzzPDK).
func TestFuzzSeedsAllFunctions(t *testing.T) {
	L := lualib.NewState(lualib.StateOptions{})
	defer L.Close()
	names, fns := pdkFunctions(L)
	if len(names) < 80 {
		t.Fatalf("only %d PDK functions found: %v", len(names), names)
	}
	for _, name := range names {
		for _, kinds := range [][]byte{{}, {0, 0}, {1, 1, 1}, {2, 5, 6}, {7, 8, 9}, {10, 11, 3}, {4, 4, 4}} {
			for _, ph := range fuzzPhases {
				ex := lualibtest.New()
				ex.Body = []byte("{}")
				lualib.Bind(L, ex)
				lualib.SetPhase(L, ph)
				L.Push(fns[name])
				for _, k := range kinds {
					L.Push(fuzzArg(L, k, "x"))
				}
				err := L.PCall(len(kinds), lua.MultRet, nil)
				L.SetTop(0)
				lualib.Unbind(L)
				var ae *lua.ApiError
				if errors.As(err, &ae) && ae.Type == lua.ApiErrorPanic {
					t.Errorf("%s(%v) in %s: Go panic: %v", name, kinds, ph, err)
				}
			}
		}
	}
}
