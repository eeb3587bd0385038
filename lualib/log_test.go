package lualib_test

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

func TestLogLevelsAndFormat(t *testing.T) {
	ex := lualibtest.New()
	L := lualib.NewState(lualib.StateOptions{LogLevel: lualib.LevelNotice})
	defer L.Close()
	lualib.Bind(L, ex)
	lualib.SetPhase(L, lualib.PhaseAccess)
	lualib.SetPlugin(L, "post-function", "p1")
	calls := 0
	L.SetGlobal("counted", L.NewFunction(func(L *lua.LState) int { calls++; L.Push(lua.LString("c")); return 1 }))
	src := "kong.log.debug('dropped')\nkong.log.info('dropped')\nkong.log('a', 1, nil, true)\nkong.log.err('e')\n" +
		"ngx.log(ngx.DEBUG, 'dropped')\nngx.log(ngx.WARN, 'w', 2)\nkong.log.debug(setmetatable({}, {__tostring = counted}))"
	if err := run(L, "chunk", src); err != nil {
		t.Fatal(errText(err))
	}
	want := []lualibtest.LogLine{
		{Level: lualib.LevelNotice, Plugin: "post-function", Msg: `[string "chunk"]:3 a1niltrue`},
		{Level: lualib.LevelErr, Plugin: "post-function", Msg: `[string "chunk"]:4 e`},
		{Level: lualib.LevelWarn, Plugin: "post-function", Msg: `[string "chunk"]:6 w2`},
	}
	got := ex.LogLines()
	if len(got) != len(want) {
		t.Fatalf("lines = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if calls != 0 {
		t.Errorf("a dropped line formatted its arguments (%d __tostring calls)", calls)
	}
}

func TestLogInspect(t *testing.T) {
	cases := []struct{ expr, want string }{
		{`"a\nb"`, `"a\nb"`},
		{`{ 1, 2, 3 }`, `{ 1, 2, 3 }`},
		{`{}`, `{}`},
		{`{ a = 1, b = "x" }`, "{\n  a = 1,\n  b = \"x\"\n}"},
		{`{ 1, x = { y = true } }`, "{ 1,\n  x = {\n    y = true\n  }\n}"},
		{`{ ["a b"] = 1, [10] = 2 }`, "{\n  [10] = 2,\n  [\"a b\"] = 1\n}"},
		{`nil, 1.5`, `nil 1.5`},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			ex := lualibtest.New()
			L := newTestState(t, ex, lualib.PhaseAccess)
			if err := run(L, "t", "kong.log.inspect("+tc.expr+")"); err != nil {
				t.Fatal(errText(err))
			}
			lines := ex.LogLines()
			if len(lines) != 1 {
				t.Fatalf("got %d lines", len(lines))
			}
			const prefix = `[string "t"]:main chunk:1 `
			if !strings.HasPrefix(lines[0].Msg, prefix) {
				t.Fatalf("line %q lacks %q", lines[0].Msg, prefix)
			}
			if got := strings.TrimPrefix(lines[0].Msg, prefix); got != tc.want {
				t.Errorf("inspect(%s) =\n%s\nwant\n%s", tc.expr, got, tc.want)
			}
			if lines[0].Level != lualib.LevelNotice {
				t.Errorf("level %v", lines[0].Level)
			}
		})
	}
	t.Run("function name", func(t *testing.T) {
		ex := lualibtest.New()
		L := newTestState(t, ex, lualib.PhaseAccess)
		if err := run(L, "t", "local function my_func()\n  kong.log.inspect({ hello = 'world' })\nend\nmy_func()"); err != nil {
			t.Fatal(errText(err))
		}
		if got, want := ex.LogLines()[0].Msg, "[string \"t\"]:my_func:2 {\n  hello = \"world\"\n}"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("off", func(t *testing.T) {
		ex := lualibtest.New()
		L := newTestState(t, ex, lualib.PhaseAccess)
		if err := run(L, "t", "kong.log.inspect.off() kong.log.inspect(1) kong.log.inspect.on() kong.log.inspect(2)"); err != nil {
			t.Fatal(errText(err))
		}
		if n := len(ex.LogLines()); n != 1 {
			t.Errorf("got %d lines, want 1", n)
		}
	})
}

func TestSerialize(t *testing.T) {
	ex := lualibtest.New()
	ex.AddHeader("Authorization", "secret")
	L := newTestState(t, ex, lualib.PhaseAccess)
	if err := run(L, "t", `
		kong.log.set_serialize_value("request.headers.x\\.y", "v")
		kong.log.set_serialize_value("a.b.c", 1)
		kong.log.set_serialize_value("client_ip", "x", { mode = "add" })
		kong.log.set_serialize_value("new_add", "y", { mode = "add" })
		kong.log.set_serialize_value("missing", "z", { mode = "replace" })
		kong.log.set_serialize_value("response.status", 299, { mode = "replace" })
	`); err != nil {
		t.Fatal(errText(err))
	}
	lualib.SetPhase(L, lualib.PhaseLog)
	if err := run(L, "t", `
		local s = kong.log.serialize()
		assert_eq(s.request.headers["x.y"], "v")
		assert_eq(s.request.headers.authorization, "REDACTED")
		assert_eq(s.a.b.c, 1)
		assert_eq(s.client_ip, "127.0.0.1", "add does not overwrite")
		assert_eq(s.new_add, "y")
		assert_eq(s.missing, nil, "replace needs an existing key")
		assert_eq(s.response.status, 299)
	`); err != nil {
		t.Fatal(errText(err))
	}
	// a bad value is reported when serialize runs
	lualib.SetPhase(L, lualib.PhaseAccess)
	if err := run(L, "t", `kong.log.set_serialize_value("f", function() end)`); err != nil {
		t.Fatal(errText(err))
	}
	lualib.SetPhase(L, lualib.PhaseLog)
	want := `[string "t"]:1: value must be nil, a number, string, boolean or a non-self-referencial table containing numbers, string and booleans`
	if got := errText(run(L, "t", `kong.log.serialize()`)); got != want {
		t.Errorf("got %q", got)
	}
}

// TestCtxLifetime: kong.ctx.shared and ngx.ctx live across the phases of one
// request, kong.ctx.plugin is per plugin instance, and Unbind forgets all.
func TestCtxLifetime(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	lualib.SetPlugin(L, "pre-function", "A")
	must := func(src string) {
		t.Helper()
		if err := run(L, "t", src); err != nil {
			t.Fatal(errText(err))
		}
	}
	must(`kong.ctx.shared.x = 1; kong.ctx.plugin.p = "A"; ngx.ctx.n = 2`)
	lualib.SetPlugin(L, "post-function", "B")
	must(`assert_eq(kong.ctx.plugin.p, nil, "other instance"); kong.ctx.plugin.p = "B"; assert_eq(kong.ctx.shared.x, 1)`)
	lualib.SetPhase(L, lualib.PhaseHeaderFilter)
	lualib.SetPlugin(L, "pre-function", "A")
	must(`assert_eq(kong.ctx.plugin.p, "A"); assert_eq(ngx.ctx.n, 2); ngx.ctx = { m = 3 }; assert_eq(ngx.ctx.m, 3)`)
	lualib.Unbind(L)
	lualib.Bind(L, lualibtest.New())
	lualib.SetPhase(L, lualib.PhaseAccess)
	lualib.SetPlugin(L, "pre-function", "A")
	must(`assert_eq(kong.ctx.shared.x, nil); assert_eq(kong.ctx.plugin.p, nil); assert_eq(ngx.ctx.m, nil); assert_eq(ngx.ctx.n, nil)`)
}

// TestStatePerWorkerPID: each state reports its own ngx.worker.pid.
func TestStatePerWorkerPID(t *testing.T) {
	for _, pid := range []int{1, 2} {
		L := lualib.NewState(lualib.StateOptions{WorkerPID: pid})
		if err := run(L, "t", "assert(ngx.worker.pid() == "+string(rune('0'+pid))+")"); err != nil {
			t.Errorf("pid %d: %s", pid, errText(err))
		}
		L.Close()
	}
}
