package lualib_test

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// TestExitLeavesErrorsIntact: an exit unwinds with its own panic function
// (no traceback is built for it); afterwards the state raises ordinary
// errors as before, with a Lua traceback, whether the exit went through
// pcall, a coroutine, xpcall or straight to the phase's PCall.
func TestExitLeavesErrorsIntact(t *testing.T) {
	exits := []string{
		`kong.response.exit(200, { message = "hello" })`,
		`local ok = pcall(kong.response.exit, 401, "no"); error("not reached")`,
		`local co = coroutine.create(function() kong.response.exit(409, "c") end); coroutine.resume(co); error("not reached")`,
		`xpcall(function() ngx.exit(403) end, function(e) return "handled" end); error("not reached")`,
	}
	for _, code := range exits {
		t.Run(code, func(t *testing.T) {
			ex := lualibtest.New()
			L := newTestState(t, ex, lualib.PhaseAccess)
			for i := 0; i < 3; i++ {
				err := run(L, "t", code)
				if !lualib.IsExit(err) {
					t.Fatalf("run %d: want the exit sentinel, got %v", i, errText(err))
				}
				err = run(L, "e", `local function f() error("boom") end f()`)
				ae, ok := err.(*lua.ApiError)
				if !ok || lualib.IsExit(err) {
					t.Fatalf("run %d: want a Lua error, got %v", i, err)
				}
				if errText(err) != `[string "e"]:1: boom` {
					t.Errorf("run %d: message %q", i, errText(err))
				}
				if !strings.Contains(ae.StackTrace, "stack traceback") || !strings.Contains(ae.StackTrace, `[string "e"]:1`) {
					t.Errorf("run %d: the error after an exit lost its traceback: %q", i, ae.StackTrace)
				}
			}
			if len(ex.Exits) != 3 {
				t.Errorf("exits = %d, want 3", len(ex.Exits))
			}
		})
	}
}
