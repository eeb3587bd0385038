package functions

import (
	"errors"
	"strings"
	"testing"
	"time"

	"luagate/declarative"
	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// Issue "The edge", Lua abuse part: hostile functions run with the real PDK
// (lualib) in the default sandbox. Each case asserts that the escape fails
// (or is harmless) in its own request, then a probe function checks in the
// next request, on the same pooled state unless the first one was
// discarded, that the libraries, the PDK and the globals are untouched.

// probeSrc checks the environment; X-Probe is "intact" or the failed checks.
const probeSrc = `
local checks = {
	{"string.upper", string.upper("a") == "A"},
	{"method upper", ("a"):upper() == "A"},
	{"method rep", ("x"):rep(2) == "xx"},
	{"method match", ("Bearer t"):match("^Bearer%s+(.+)$") == "t"},
	{"gsub", (("a,b"):gsub(",", ";")) == "a;b"},
	{"format", string.format("%d-%s", 5, "x") == "5-x"},
	{"concat", table.concat({1, 2}, ",") == "1,2"},
	{"string metatable", ("").__index == nil},
	{"io", io == nil},
	{"os.execute", os.execute == nil and os.getenv == nil and os.exit == nil},
	{"os.time", type(os.time()) == "number"},
	{"load", load == nil and loadstring == nil and dofile == nil and loadfile == nil},
	{"fenv", getfenv == nil and setfenv == nil},
	{"debug", debug == nil},
	{"package", package == nil},
	{"meta", getmetatable == nil and setmetatable == nil and rawset == nil and rawget == nil},
	{"leaked global", leaked == nil},
	{"pcall", pcall(error, "x") == false},
	{"coroutine", type(coroutine.wrap) == "function"},
	{"cjson", require("cjson").encode({1}) == "[1]"},
	{"cjson.safe", type(require("cjson.safe").decode) == "function"},
	{"resty.redis", type(require("resty.redis").new) == "function"},
	{"kong.response.exit", type(kong.response.exit) == "function"},
	{"kong.request.get_header", kong.request.get_header("x-probe-in") == "1"},
	{"kong.log", type(kong.log.err) == "function"},
	{"ngx.say", type(ngx.say) == "function"},
	{"ngx.ctx", next(ngx.ctx) == nil},
	{"kong.ctx.shared", next(kong.ctx.shared) == nil},
}
local bad = {}
for _, c in ipairs(checks) do
	if not c[2] then bad[#bad + 1] = c[1] end
end
kong.service.request.set_header("X-Probe", #bad == 0 and "intact" or table.concat(bad, ","))
`

func TestSandboxEscapes(t *testing.T) {
	acc := lualib.PhaseAccess
	tests := []struct {
		name    string
		phase   lualib.Phase
		src     string
		wantErr string // substring of the RuntimeError message; "" for none
		wantOut string // X-Out, when set
		exit    int    // the status of a recorded exit
	}{
		// the libraries Kong's sandbox leaves out
		{"io.open", acc, `io.open("/etc/passwd")`, "attempt to index a non-table object(nil) with key 'open'", "", 0},
		{"io.popen", acc, `io.popen("id")`, "attempt to index a non-table object(nil) with key 'popen'", "", 0},
		{"os.execute", acc, `os.execute("id")`, "attempt to call a non-function object", "", 0},
		{"os.getenv", acc, `return os.getenv("HOME")`, "attempt to call a non-function object", "", 0},
		{"os.exit", acc, `os.exit(1)`, "attempt to call a non-function object", "", 0},
		{"os.remove", acc, `os.remove("/tmp/x")`, "attempt to call a non-function object", "", 0},
		{"debug", acc, `debug.getregistry()`, "attempt to index a non-table object(nil) with key 'getregistry'", "", 0},
		{"debug.sethook", acc, `debug.sethook(function() end, "l")`, "attempt to index a non-table object(nil)", "", 0},
		{"load", acc, `load("leaked = 1")()`, "attempt to call a non-function object", "", 0},
		{"loadstring", acc, `loadstring("leaked = 1")()`, "attempt to call a non-function object", "", 0},
		{"dofile", acc, `dofile("/etc/passwd")`, "attempt to call a non-function object", "", 0},
		{"loadfile", acc, `loadfile("/etc/passwd")`, "attempt to call a non-function object", "", 0},
		{"string.dump", acc, `string.dump(function() end)`, "attempt to call a non-function object", "", 0},
		{"string.dump via a method", acc, `("").dump(function() end)`, "GopherLua does not support the string.dump", "", 0},
		{"getfenv", acc, `getfenv(0).leaked = 1`, "attempt to call a non-function object", "", 0},
		{"setfenv", acc, `setfenv(1, {})`, "attempt to call a non-function object", "", 0},
		{"collectgarbage", acc, `collectgarbage("stop")`, "attempt to call a non-function object", "", 0},
		// shared tables
		{"string metatable through a string", acc, `("").__index.upper = function() return "pwned" end`,
			"attempt to index a non-table object(nil) with key 'upper'", "", 0},
		{"getmetatable of a string", acc, `getmetatable("").__index.upper = nil`, "attempt to call a non-function object", "", 0},
		{"string field on a string", acc, `local s = "x"; s.upper = nil`, "attempt to index a non-table object(string)", "", 0},
		{"library write", acc, `string.upper = function() return "pwned" end`,
			"Cannot modify _G.string.upper. Protected by the sandbox.", "", 0},
		{"library write under pcall", acc, `pcall(function() table.concat = nil end); kong.service.request.set_header("X-Out", table.concat({"a", "b"}))`,
			"", "ab", 0},
		{"rawset on a library", acc, `rawset(string, "upper", nil)`, "attempt to call a non-function object", "", 0},
		{"kong write", acc, `kong.response = nil`, "Cannot modify kong.response. Protected by the sandbox.", "", 0},
		{"nested kong write", acc, `kong.response.exit = function() end`,
			"Cannot modify kong.response.exit. Protected by the sandbox.", "", 0},
		{"deep kong write", acc, `kong.service.request.set_header = nil`,
			"Cannot modify kong.service.request.set_header. Protected by the sandbox.", "", 0},
		{"kong.log stays callable", acc, `kong.log("hello"); kong.log.inspect("x"); kong.log.inspect.on(); kong.service.request.set_header("X-Out", "logged")`, "", "logged", 0},
		{"kong.ctx.shared stays writable", acc, `kong.ctx.shared.x = 1; kong.service.request.set_header("X-Out", kong.ctx.shared.x)`, "", "1", 0},
		{"module write", acc, `require("cjson").encode = nil`, "Cannot modify cjson.encode. Protected by the sandbox.", "", 0},
		{"module metatable write", acc, `require("cjson").array_mt.__index = {}`, "Cannot modify cjson.array_mt.__index. Protected by the sandbox.", "", 0},
		{"module identity", acc, `kong.service.request.set_header("X-Out", tostring(require("cjson") == require("cjson")))`, "", "true", 0},
		{"package.loaded", acc, `package.loaded.cjson = {}`, "attempt to index a non-table object(nil) with key 'loaded'", "", 0},
		{"global leak", acc, `leaked = "secret"; _G.leaked = "secret"`, "", "", 0},
		// require of Lua's own libraries and of files
		{"require os", acc, `require("os")`, "require 'os' not allowed within sandbox", "", 0},
		{"require io", acc, `require("io")`, "require 'io' not allowed within sandbox", "", 0},
		{"require debug", acc, `require("debug")`, "require 'debug' not allowed within sandbox", "", 0},
		{"require _G", acc, `require("_G").leaked = 1`, "require '_G' not allowed within sandbox", "", 0},
		{"require an absolute path", acc, `require("/etc/passwd")`, "require '/etc/passwd' not allowed within sandbox", "", 0},
		{"require a relative path", acc, `require("../../../../etc/passwd")`, "not allowed within sandbox", "", 0},
		{"require a dotted path", acc, `require("testdata.lambda.bootstrap")`, "not allowed within sandbox", "", 0},
		// coroutines and exits
		{"exit inside coroutine.wrap", acc, `coroutine.wrap(function() kong.response.exit(403, "no") end)()`, "", "", 403},
		{"exit inside coroutine.resume", acc,
			`local ok = coroutine.resume(coroutine.create(function() kong.response.exit(401) end)); kong.service.request.set_header("X-Out", "not reached")`, "", "", 401},
		{"exit inside pcall inside a coroutine", acc,
			`coroutine.wrap(function() pcall(kong.response.exit, 418) end)(); kong.service.request.set_header("X-Out", "not reached")`, "", "", 418},
		{"exit after a yield", acc,
			`local f = coroutine.wrap(function() coroutine.yield(kong.request.get_header("x-probe-in")) kong.response.exit(402) end) f() f()`, "", "", 402},
		{"yield across pcall", acc, `coroutine.wrap(function() pcall(coroutine.yield, 1) end)(); kong.service.request.set_header("X-Out", "after")`, "", "after", 0},
		{"yield outside a coroutine", acc, `coroutine.yield(1)`, "can not yield from outside of a coroutine", "", 0},
		{"dead coroutine", acc, `local f = coroutine.wrap(function() end) f() f()`, "can not resume a dead thread", "", 0},
		{"suspended coroutine left behind", acc, `leaked_co = coroutine.create(function() coroutine.yield() end); coroutine.resume(leaked_co)`, "", "", 0},
		{"exit swallowed by pcall", acc, `pcall(kong.response.exit, 403); kong.service.request.set_header("X-Out", "not reached")`, "", "", 403},
		{"exit swallowed by xpcall", acc, `xpcall(function() kong.response.exit(403) end, function() return "caught" end); kong.service.request.set_header("X-Out", "not reached")`, "", "", 403},
		// memory bounds of single calls: the request fails, the state stays
		{"string.rep", acc, `string.rep("x", 1e10)`, "string length overflow", "", 0},
		{"rep method", acc, `("x"):rep(1e9)`, "string length overflow", "", 0},
		{"format widths", acc, `string.format(string.rep("%999999d", 100), 1)`, "string length overflow", "", 0},
		{"concat of a huge table", acc, `local t = {} for i = 1, 20000 do t[i] = string.rep("x", 1000) end return table.concat(t)`,
			"string length overflow", "", 0},
		{"cjson of a giant structure", acc, `local s = string.rep("x", 1e6) local t = {} for i = 1, 20 do t[i] = s end require("cjson").encode(t)`,
			"string length overflow", "", 0},
		{"ngx.encode_base64", acc, `ngx.encode_base64(string.rep("x", 1.5e7))`, "string length overflow", "", 0},
		{"overflow caught by pcall", acc, `local ok, err = pcall(string.rep, "x", 1e10); kong.service.request.set_header("X-Out", tostring(ok))`, "", "false", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := testPlugin(t, PreFunction, "bad", access(tt.src))
			probe := testPlugin(t, PostFunction, "probe", access(probeSrc))
			set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{bad, probe}}, Settings{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()

			ex := newEx()
			err = request(t, set.Handler(bad), tt.phase, ex)
			var re *RuntimeError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && !errors.As(err, &re):
				t.Fatalf("error = %v, want a RuntimeError with %q", err, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(re.Message, tt.wantErr):
				t.Errorf("message %q lacks %q", re.Message, tt.wantErr)
			}
			if got := upHeader(ex, "X-Out"); got != tt.wantOut {
				t.Errorf("X-Out = %q, want %q", got, tt.wantOut)
			}
			if got := exitStatus(ex); got != tt.exit {
				t.Errorf("exit status = %d, want %d", got, tt.exit)
			}

			next := newEx().AddHeader("X-Probe-In", "1")
			if err := request(t, set.Handler(probe), lualib.PhaseAccess, next); err != nil {
				t.Fatalf("next request: %v", err)
			}
			if got := upHeader(next, "X-Probe"); got != "intact" {
				t.Errorf("next request found the environment changed: %s", got)
			}
		})
	}
}

// exitStatus is the status of the answer recorded by an exit (0: none).
func exitStatus(ex *lualibtest.FakeExchange) int {
	if ex.Exited() {
		return ex.Status
	}
	return 0
}

// Errors raised inside pcall are caught in every phase; uncaught ones come
// back as a RuntimeError naming the phase; either way the next request runs.
func TestErrorsInEveryPhase(t *testing.T) {
	phases := []struct {
		name  string
		phase lualib.Phase
	}{
		{"rewrite", lualib.PhaseRewrite}, {"access", lualib.PhaseAccess}, {"header_filter", lualib.PhaseHeaderFilter},
		{"body_filter", lualib.PhaseBodyFilter}, {"log", lualib.PhaseLog},
	}
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			caught := testPlugin(t, PreFunction, "caught", map[string]any{ph.name: []any{`
				local ok, err = pcall(error, "boom")
				local ok2, err2 = pcall(function() local x = nil; return x.y end)
				local ok3 = pcall(string.rep, "x", 1e12)
				kong.ctx.shared.caught = tostring(ok) .. tostring(ok2) .. tostring(ok3) .. " " .. err`}})
			uncaught := testPlugin(t, PostFunction, "uncaught", map[string]any{ph.name: []any{`error("boom in ` + ph.name + `")`}})
			set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{caught, uncaught}}, Settings{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			for i := range 2 { // the second request runs on the same state
				ex := newEx()
				var lease *Lease
				if err := set.Handler(caught).Run(ph.phase, ex, &lease); err != nil {
					t.Fatalf("request %d: pcall did not catch: %v", i, err)
				}
				err := set.Handler(uncaught).Run(ph.phase, ex, &lease)
				lease.Release()
				var re *RuntimeError
				if !errors.As(err, &re) {
					t.Fatalf("request %d: error = %v, want RuntimeError", i, err)
				}
				if re.Phase != ph.phase || re.Plugin != PostFunction || !strings.HasSuffix(re.Message, "boom in "+ph.name) || re.Timeout || re.Limit {
					t.Errorf("request %d: %+v", i, re)
				}
			}
			if n := set.idleStates(); n != 1 {
				t.Errorf("idle states = %d, want 1 (errors do not discard the state)", n)
			}
		})
	}
}

// A memory-hungry loop with the real PDK stops the request and discards
// the state; the next request gets a fresh one.
func TestMemoryAbuseWithPDK(t *testing.T) {
	bad := testPlugin(t, PreFunction, "bad", access(`local t = {} for i = 1, 1e9 do t[i] = {i} end`))
	probe := testPlugin(t, PostFunction, "probe", access(probeSrc))
	set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{bad, probe}},
		Settings{MaxExecutionTime: 20 * time.Second, MaxCallMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	start := time.Now()
	err = request(t, set.Handler(bad), lualib.PhaseAccess, newEx())
	var re *RuntimeError
	if !errors.As(err, &re) || !re.Limit || re.Timeout || !strings.Contains(re.Message, "Lua call stopped: the heap grew by") {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopped after %v", d)
	}
	if n := set.idleStates(); n != 0 {
		t.Errorf("the state was pooled again (%d idle)", n)
	}
	next := newEx().AddHeader("X-Probe-In", "1")
	if err := request(t, set.Handler(probe), lualib.PhaseAccess, next); err != nil {
		t.Fatal(err)
	}
	if got := upHeader(next, "X-Probe"); got != "intact" {
		t.Errorf("next request: %s", got)
	}
}

// A large cjson.decode is one long Go call; the time limit and the heap
// check still stop it part way, and the request fails instead of the
// worker hanging on it.
func TestLongDecodeIsStopped(t *testing.T) {
	src := `local s = "[" .. string.rep("0,", 7999999) .. "0]"
		local ok, t = pcall(require("cjson.safe").decode, s)
		kong.service.request.set_header("X-Out", "not reached")`
	tests := []struct {
		name    string
		s       Settings
		timeout bool
	}{
		{"time limit", Settings{MaxExecutionTime: 200 * time.Millisecond, MaxCallMemory: -1}, true},
		{"heap check", Settings{MaxExecutionTime: 60 * time.Second, MaxCallMemory: 32 << 20}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlugin(t, PreFunction, "p", access(src))
			set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{p}}, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			ex := newEx()
			start := time.Now()
			err = request(t, set.Handler(p), lualib.PhaseAccess, ex)
			var re *RuntimeError
			if !errors.As(err, &re) || re.Timeout != tt.timeout || re.Limit == tt.timeout {
				t.Fatalf("error = %v (%+v)", err, re)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("stopped after %v", d)
			}
			if got := upHeader(ex, "X-Out"); got != "" {
				t.Errorf("the function went on after the stop: X-Out = %q", got)
			}
		})
	}
}
