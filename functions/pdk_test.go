package functions

import (
	"errors"
	"strings"
	"testing"
	"time"

	"luagate/declarative"
	"luagate/lualib"
)

// The runner with the real PDK (lualib): the parts where the two meet.

func pdkSet(t *testing.T, s Settings, plugins ...*declarative.Plugin) *Set {
	t.Helper()
	set, err := NewSet(&declarative.Config{Plugins: plugins}, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Close)
	return set
}

func TestPDKSandbox(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		src  string
		want []string
	}{
		{"default requires", Settings{}, out(`type(require("cjson").encode)`) + "\n" + out(`type(require("cjson.safe").decode)`) +
			"\n" + out(`require("bit").bor(1, 2)`), []string{"function", "function", "3"}},
		{"require os refused", Settings{}, `require "os"`,
			[]string{`error: [string "require "os""]:1: require 'os' not allowed within sandbox`}},
		{"absent globals", Settings{}, out(`type(setmetatable)`) + "\n" + out(`type(os.getenv)`) + "\n" + out(`type(package)`) +
			"\n" + out(`type(string.dump)`) + "\n" + out(`type(load)`), []string{"nil", "nil", "nil", "nil", "nil"}},
		{"LuaJIT extras through the allow-list", Settings{}, out(`bit.band(7, 3)`) + "\n" + out(`type(table.new)`) +
			"\n" + out(`jit.version ~= nil`), []string{"3", "function", "true"}},
		{"kong and ngx", Settings{}, out(`kong.request.get_method()`) + "\n" + out(`type(ngx.worker.pid())`),
			[]string{"GET", "number"}},
		{"pcall cannot swallow exit", Settings{}, `pcall(kong.response.exit, 418)` + "\n" + out(`"after"`), nil},
		{"on mode", Settings{UntrustedLua: "on"}, out(`type(os.getenv)`) + "\n" + out(`type(setmetatable)`), []string{"function", "function"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlugin(t, PreFunction, "p1", access(tt.src))
			h := pdkSet(t, tt.s, p).Handler(p)
			ex := newEx()
			var got []string
			if err := request(t, h, lualib.PhaseAccess, ex); err != nil {
				got = []string{"error: " + err.(*RuntimeError).Message}
			} else {
				got = upValues(ex, "X-Out")
			}
			if !equalStrings(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPDKExecutionModel(t *testing.T) {
	p := testPlugin(t, PreFunction, "p1", map[string]any{
		"access": []any{`
			local n = 0
			return function(conf)
				n = n + 1
				kong.ctx.plugin.n = n
				kong.ctx.shared.pid = ngx.worker.pid()
			end`},
		"header_filter": []any{`kong.response.set_header("X-Out", kong.ctx.shared.pid * 1000 + kong.ctx.plugin.n)`},
	})
	set := pdkSet(t, Settings{State: lualib.StateOptions{WorkerPID: 7}}, p)
	h := set.Handler(p)
	for i, want := range []string{"7001", "7002", "7003"} {
		ex := newEx()
		var lease *Lease
		for _, ph := range []lualib.Phase{lualib.PhaseAccess, lualib.PhaseHeaderFilter} {
			ex.CurPhase = ph
			if err := h.Run(ph, ex, &lease); err != nil {
				t.Fatal(err)
			}
		}
		lease.Release()
		if got, _ := ex.ResponseHeader("X-Out"); got != want {
			t.Errorf("request %d: X-Out = %q, want %q", i+1, got, want)
		}
	}
}

func TestPDKTimeouts(t *testing.T) {
	for _, src := range []string{
		`while true do pcall(function() while true do end end) end`,
		`ngx.sleep(10)`, // blocked in Go: the PDK watches the state's context
	} {
		t.Run(src, func(t *testing.T) {
			p := testPlugin(t, PreFunction, "p1", access(src))
			set := pdkSet(t, Settings{MaxExecutionTime: 30 * time.Millisecond}, p)
			start := time.Now()
			err := request(t, set.Handler(p), lualib.PhaseAccess, newEx())
			var re *RuntimeError
			if !errors.As(err, &re) || !re.Timeout || !strings.Contains(re.Message, "lua_max_execution_time of 30ms exceeded") {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			if set.idleStates() != 0 {
				t.Error("timed-out state was pooled")
			}
		})
	}
}
