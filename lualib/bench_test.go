package lualib_test

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// compileReturned runs a chunk that returns a function and returns that
// function (the "closure mode" of pre-function, with no vararg table).
func compileReturned(b *testing.B, L *lua.LState, src string) *lua.LFunction {
	b.Helper()
	fn, err := L.Load(strings.NewReader(src), `[string "bench"]`)
	if err != nil {
		b.Fatal(err)
	}
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		b.Fatal(err)
	}
	ret, ok := L.Get(-1).(*lua.LFunction)
	L.Pop(1)
	if !ok {
		b.Fatal("chunk did not return a function")
	}
	return ret
}

func BenchmarkBindUnbind(b *testing.B) {
	L := lualib.NewState(lualib.StateOptions{})
	defer L.Close()
	ex := lualibtest.New()
	b.ReportAllocs()
	for b.Loop() {
		lualib.Bind(L, ex)
		lualib.SetPhase(L, lualib.PhaseAccess)
		lualib.SetPlugin(L, "pre-function", "id")
		lualib.Unbind(L)
	}
}

func BenchmarkGetHeader(b *testing.B) {
	L := lualib.NewState(lualib.StateOptions{})
	defer L.Close()
	ex := lualibtest.New()
	ex.AddHeader("Authorization", "Bearer token-123")
	lualib.Bind(L, ex)
	lualib.SetPhase(L, lualib.PhaseAccess)
	fn := compileReturned(b, L, `local get = kong.request.get_header
		return function() local h = get("authorization") end`)
	b.ReportAllocs()
	for b.Loop() {
		L.Push(fn)
		if err := L.PCall(0, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBearerCheck is the performance-anchors workload: read
// Authorization, find "Bearer ", set two upstream headers and one response
// header, with the request bound and unbound around it.
func BenchmarkBearerCheck(b *testing.B) {
	L := lualib.NewState(lualib.StateOptions{})
	defer L.Close()
	ex := lualibtest.New()
	ex.AddHeader("Authorization", "Bearer token-123")
	fn := compileReturned(b, L, `return function()
		local auth = kong.request.get_header("authorization")
		if not auth then return kong.response.exit(401, { message = "Unauthorized" }) end
		local s, e = string.find(auth, "Bearer ", 1, true)
		if s ~= 1 then return kong.response.exit(401, { message = "Unauthorized" }) end
		local token = string.sub(auth, e + 1)
		if token ~= "token-123" then return kong.response.exit(403) end
		kong.service.request.set_header("X-Consumer", "alice")
		kong.service.request.set_header("X-Token-Checked", "1")
		kong.response.set_header("X-Auth", "ok")
	end`)
	b.ReportAllocs()
	for b.Loop() {
		ex.UpHeaders = ex.UpHeaders[:1]
		ex.RespHeaders = ex.RespHeaders[:0]
		lualib.Bind(L, ex)
		lualib.SetPhase(L, lualib.PhaseAccess)
		lualib.SetPlugin(L, "pre-function", "id")
		L.Push(fn)
		if err := L.PCall(0, 0, nil); err != nil {
			b.Fatal(err)
		}
		lualib.Unbind(L)
	}
	if v, _ := ex.UpstreamHeader("X-Consumer"); v != "alice" {
		b.Fatalf("X-Consumer = %q", v)
	}
}

func BenchmarkNewState(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		lualib.NewState(lualib.StateOptions{}).Close()
	}
}
