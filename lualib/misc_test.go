package lualib_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

func TestForwardedExitPage(t *testing.T) {
	// forwarded.lua ends in ngx.exit(502); TestScripts only sees the sentinel
	// as an error, so run it here and check the page.
	ex := scriptFake("forwarded")
	L := newTestState(t, ex, lualib.PhaseAccess)
	src := mustRead(t, "testdata/forwarded.lua")
	err := run(L, "forwarded", src)
	if !lualib.IsExit(err) {
		t.Fatalf("want exit, got %v", errText(err))
	}
	e := ex.LastExit()
	if e.Status != 502 || !strings.Contains(string(e.Body), "<p>An invalid response was received from the upstream server.</p>") {
		t.Errorf("exit = %d %q", e.Status, e.Body)
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	start := time.Now()
	err := run(L, "t", `local ok = pcall(ngx.sleep, 5)`)
	if err == nil {
		t.Fatal("a cancelled sleep was swallowed by pcall")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("sleep took %v", d)
	}
	L.RemoveContext()
	lualib.SetPhase(L, lualib.PhaseLog)
	if got := errText(run(L, "t", `ngx.sleep(0)`)); got != `[string "t"]:1: API disabled in the context of log_by_lua*` {
		t.Errorf("log phase sleep: %q", got)
	}
}

func TestSerializeRejectsSelfReference(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	if err := run(L, "t", `local t = { a = { 1, "x", true } }
		kong.log.set_serialize_value("ok", t)
		local s = {}; s.self = s
		kong.log.set_serialize_value("bad", s)`); err != nil {
		t.Fatal(errText(err))
	}
	lualib.SetPhase(L, lualib.PhaseLog)
	if got := errText(run(L, "t", `kong.log.serialize()`)); !strings.HasSuffix(got, "non-self-referencial table containing numbers, string and booleans") {
		t.Errorf("got %q", got)
	}
}

// TestErrorPosition: like Kong's error(msg, 2), the position is the Lua
// caller's, and there is none when a Go function (pcall) is the caller.
func TestErrorPosition(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	err := run(L, "t", `
		local ok, e = pcall(kong.request.get_header, 1)
		assert_eq(e, "header name must be a string")
		ok, e = pcall(function() kong.request.get_header(1) end)
		assert_eq(e, '[string "t"]:4: header name must be a string')
`)
	if err != nil {
		t.Fatal(errText(err))
	}
	lualib.SetPhase(L, lualib.PhaseLog)
	err = run(L, "t", `local ok, e = pcall(kong.response.set_status, 200)
		assert_eq(e, "function cannot be called in log phase (only in: rewrite, access, balancer, response, header_filter, error, admin_api)")`)
	if err != nil {
		t.Fatal(errText(err))
	}
}
