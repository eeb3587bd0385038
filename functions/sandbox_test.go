package functions

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
)

// evalSandbox runs src as an access function and returns X-Out, or the
// error message.
func evalSandbox(t *testing.T, s Settings, f *fakeVM, src ...string) []string {
	t.Helper()
	p := testPlugin(t, PreFunction, "p1", access(src...))
	h := testSet(t, s, f, p).Handler(p)
	ex := newEx()
	if err := request(t, h, lualib.PhaseAccess, ex); err != nil {
		return []string{"error: " + err.(*RuntimeError).Message}
	}
	return upValues(ex, "X-Out")
}

func out(expr string) string {
	return `kong.service.request.add_header("X-Out", tostring(` + expr + `))`
}

func TestSandboxGlobals(t *testing.T) {
	absent := []string{"load", "loadstring", "loadfile", "dofile", "setfenv", "getfenv", "setmetatable",
		"getmetatable", "rawget", "rawset", "rawequal", "collectgarbage", "module", "newproxy", "gcinfo",
		"debug", "package", "io.open", "io.write", "io.lines", "os.execute", "os.getenv", "os.exit", "os.remove",
		"os.rename", "os.tmpname", "string.dump", "math.randomseed", "secretglobal"}
	present := []string{"assert", "error", "ipairs", "next", "pairs", "pcall", "print", "select", "tonumber",
		"tostring", "type", "unpack", "xpcall", "_VERSION", "io.type", "os.time", "os.clock", "os.date",
		"os.difftime", "string.upper", "string.format", "string.gsub", "table.concat", "table.insert",
		"table.sort", "math.floor", "math.random", "coroutine.wrap", "kong", "kong.request.get_header", "ngx",
		"ngx.worker.pid", "require"}
	var src []string
	for _, g := range absent {
		src = append(src, out("type("+g+`) == "nil" and "absent" or "present: `+g+`"`))
	}
	for _, g := range present {
		src = append(src, out("type("+g+`) ~= "nil" and "present" or "absent: `+g+`"`))
	}
	got := evalSandbox(t, Settings{}, newFakeVM(), strings.Join(src, "\n"))
	if len(got) != len(absent)+len(present) {
		t.Fatalf("got %q", got)
	}
	for i, v := range got {
		if want := "absent"; i < len(absent) && v != want {
			t.Errorf("%s: %s", absent[i], v)
		}
		if i >= len(absent) && v != "present" {
			t.Errorf("%s: %s", present[i-len(absent)], v)
		}
	}
}

func TestSandboxBehaviour(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		src  []string
		want []string
	}{
		{"_G is the chunk's own environment", Settings{}, []string{`x = 5; ` + out(`_G.x`) + `; _G.y = 6; ` + out(`y`)}, []string{"5", "6"}},
		{"string methods work", Settings{}, []string{out(`("ab"):rep(2):upper()`)}, []string{"ABAB"}},
		{"globals are private to each chunk", Settings{}, []string{`shared = "a"`, out(`shared`)}, []string{"nil"}},
		{"library write is refused", Settings{}, []string{`string.foo = 1`},
			[]string{`error: [string "string.foo = 1"]:1: Cannot modify _G.string.foo. Protected by the sandbox.`}},
		{"library overwrite is refused", Settings{}, []string{`string.upper = nil`},
			[]string{`error: [string "string.upper = nil"]:1: Cannot modify _G.string.upper. Protected by the sandbox.`}},
		{"kong is write-protected", Settings{}, []string{`kong.request = nil`},
			[]string{`error: [string "kong.request = nil"]:1: Cannot modify kong.request. Protected by the sandbox.`}},
		{"a refused write changes nothing", Settings{}, []string{`pcall(function() string.upper = nil end)`, out(`string.upper("x")`)}, []string{"X"}},
		{"require cjson", Settings{}, []string{out(`require("cjson").name`)}, []string{"cjson"}},
		{"require resty.redis", Settings{}, []string{out(`require("resty.redis").name`)}, []string{"resty.redis"}},
		{"require a PDK-provided module", Settings{}, []string{out(`require("resty.sha256").name`)}, []string{"resty.sha256"}},
		{"require os is refused", Settings{}, []string{`require "os"`},
			[]string{`error: [string "require "os""]:1: require 'os' not allowed within sandbox`}},
		{"require debug is refused", Settings{}, []string{`local d = require("debug")`},
			[]string{`error: [string "local d = require("debug")"]:1: require 'debug' not allowed within sandbox`}},
		{"require gives the same protected module every time", Settings{},
			[]string{out(`require("cjson") == require("cjson")`) + "\n" + out(`pcall(function() require("cjson").name = nil end)`) +
				"\n" + out(`require("cjson").name`)}, []string{"true", "false", "cjson"}},
		{"require an unlisted module is refused", Settings{}, []string{`require "mymod"`},
			[]string{`error: [string "require "mymod""]:1: require 'mymod' not allowed within sandbox`}},
		{"untrusted_lua_sandbox_requires adds modules", Settings{SandboxRequires: []string{"mymod"}},
			[]string{out(`require("mymod")`)}, []string{"mymod from a file"}},
		{"untrusted_lua_sandbox_environment exposes leaves only", Settings{SandboxEnvironment: []string{"myglobal.answer", "myglobal.nested"}},
			[]string{out(`myglobal.answer`) + "\n" + out(`myglobal.secret`) + "\n" + out(`myglobal.nested.v`)},
			[]string{"42", "nil", "deep"}},
		{"untrusted_lua_sandbox_environment adds to a library", Settings{SandboxEnvironment: []string{"os.getenv"}},
			[]string{out(`type(os.getenv)`) + "\n" + out(`type(os.time())`), out(`select(2, pcall(function() os.x = 1 end)):match("Cannot.*")`)},
			[]string{"function", "number", `Cannot modify _G.os.x. Protected by the sandbox.`}},
		{"on: full globals", Settings{UntrustedLua: "on"},
			[]string{out(`type(os.getenv)`) + "\n" + out(`type(debug)`) + "\n" + out(`require("mymod")`) + "\n" + out(`secretglobal`)},
			[]string{"function", "table", "mymod from a file", "s3cret"}},
		{"on: globals still private per chunk", Settings{UntrustedLua: "on"}, []string{`leak = 1`, out(`leak`)}, []string{"nil"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeVM()
			f.luaPath = t.TempDir()
			writeFile(t, f.luaPath, "mymod.lua", `return "mymod from a file"`)
			got := evalSandbox(t, tt.s, f, tt.src...)
			if !equalStrings(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The sandbox must never modify the state's real globals or libraries
// (Kong issue #7133).
func TestSandboxLeavesRealGlobalsAlone(t *testing.T) {
	for _, mode := range []string{"sandbox", "on"} {
		t.Run(mode, func(t *testing.T) {
			p := testPlugin(t, PreFunction, "p1", access(
				`newglobal = 1; print = nil; pcall(function() string.upper = nil end); pcall(function() string.zzz = 1 end)`,
				`if myglobal then myglobal.nested.v = "changed" end`))
			set := testSet(t, Settings{UntrustedLua: mode, SandboxEnvironment: []string{"myglobal.nested"}}, newFakeVM(), p)
			h := set.Handler(p)
			if err := request(t, h, lualib.PhaseAccess, newEx()); err != nil {
				t.Fatal(err)
			}
			L := set.idle[0].L
			if L.GetGlobal("newglobal") != lua.LNil || L.GetGlobal("print") == lua.LNil {
				t.Error("the chunk changed the real _G")
			}
			if v := L.GetField(L.GetField(L.GetGlobal("myglobal"), "nested"), "v"); mode == "sandbox" && v.String() != "deep" {
				t.Errorf("write through an exposed table reached the real global: %v", v)
			}
			if mode == "on" {
				return // Kong's "on" mode hands out the real libraries
			}
			str := L.GetGlobal("string").(*lua.LTable)
			if str.RawGetString("zzz") != lua.LNil {
				t.Error("string.zzz leaked into the real string table")
			}
			if str.RawGetString("upper") == lua.LNil {
				t.Error("the sandbox removed the real string.upper")
			}
		})
	}
}
