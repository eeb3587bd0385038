package lualib_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// newTestState returns a state bound to ex in phase, with assert_eq(got,
// want[, msg]) and assert_match(str, pattern[, msg]) registered.
func newTestState(t testing.TB, ex lualib.Exchange, phase lualib.Phase) *lua.LState {
	t.Helper()
	L := lualib.NewState(lualib.StateOptions{
		WorkerPID: 4242, WorkerID: 0, WorkerCount: 2, NodeID: "3c1cfc3c-6b8a-4ae9-9a35-0b5d9c1f0a01",
		Hostname: "node-1", Version: "3.9.1", LogLevel: lualib.LevelDebug,
		Configuration: map[string]any{"plugins": []any{"bundled"}, "pg_password": "secret", "log_level": "debug"},
		Trusted:       func(ip string) bool { return ip == "10.0.0.1" },
	})
	t.Cleanup(L.Close)
	L.SetGlobal("assert_eq", L.NewFunction(func(L *lua.LState) int {
		got, want := L.Get(1), L.Get(2)
		if !equalLua(got, want) {
			msg := ""
			if L.GetTop() >= 3 {
				msg = L.Get(3).String() + ": "
			}
			L.RaiseError("%sgot %s, want %s", msg, describe(got), describe(want))
		}
		return 0
	}))
	if ex != nil {
		lualib.Bind(L, ex)
		lualib.SetPhase(L, phase)
		lualib.SetPlugin(L, "pre-function", "instance-1")
	}
	return L
}

func describe(v lua.LValue) string {
	if s, ok := v.(lua.LString); ok {
		return fmt.Sprintf("%q", string(s))
	}
	if t, ok := v.(*lua.LTable); ok {
		var parts []string
		t.ForEach(func(k, v lua.LValue) { parts = append(parts, describe(k)+"="+describe(v)) })
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return v.String()
}

// equalLua compares deeply (tables by content).
func equalLua(a, b lua.LValue) bool {
	ta, ok1 := a.(*lua.LTable)
	tb, ok2 := b.(*lua.LTable)
	if !ok1 || !ok2 {
		return a == b
	}
	if ta == tb {
		return true
	}
	same := true
	n := 0
	ta.ForEach(func(k, v lua.LValue) {
		n++
		if !equalLua(v, tb.RawGet(k)) {
			same = false
		}
	})
	tb.ForEach(func(_, _ lua.LValue) { n-- })
	return same && n == 0
}

// run compiles src as chunk name and calls it; the error is returned as is.
func run(L *lua.LState, name, src string) error {
	fn, err := L.Load(strings.NewReader(src), `[string "`+name+`"]`)
	if err != nil {
		return err
	}
	L.Push(fn)
	return L.PCall(0, 0, nil)
}

// errText is the Lua error message of err (without traceback).
func errText(err error) string {
	if err == nil {
		return ""
	}
	if ae, ok := err.(*lua.ApiError); ok {
		return ae.Object.String()
	}
	return err.Error()
}

var phaseByName = map[string]lualib.Phase{
	"rewrite": lualib.PhaseRewrite, "access": lualib.PhaseAccess, "header_filter": lualib.PhaseHeaderFilter,
	"body_filter": lualib.PhaseBodyFilter, "log": lualib.PhaseLog, "balancer": lualib.PhaseBalancer,
	"init_worker": lualib.PhaseInitWorker,
}

// TestScripts runs testdata/*.lua. The first line names the phase
// ("-- phase: access"); the fake request is New() with the headers and
// fields the script's setup section in scriptFakes prepares.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".lua")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(src), "\n")
			phase, ok := phaseByName[strings.TrimSpace(strings.TrimPrefix(first, "-- phase:"))]
			if !ok {
				t.Fatalf("%s: first line must be '-- phase: <name>', got %q", f, first)
			}
			ex := scriptFake(name)
			L := newTestState(t, ex, phase)
			if err := run(L, name, string(src)); err != nil && !lualib.IsExit(err) {
				t.Fatalf("%s: %s", f, errText(err))
			}
		})
	}
}

// scriptFake prepares the request each script expects.
func scriptFake(name string) *lualibtest.FakeExchange {
	f := lualibtest.New()
	f.ReqMethod = "POST"
	f.ReqRawPath = "/t/Abc%20123/parent/../x"
	f.ReqPath = "/t/Abc 123/x"
	f.Query = "a=1&b&c=&a=2&sp=x+y%21"
	f.AddHeader("Host", "example.test")
	f.AddHeader("X-Multi", "one")
	f.AddHeader("x-multi", "two")
	f.AddHeader("Authorization", "Bearer abc.def")
	f.AddHeader("Accept", "application/json")
	switch name {
	case "body_json":
		f.AddHeader("Content-Type", "application/json; charset=utf-8")
		f.Body = []byte(`{"a":[1,2,{"b":null}],"s":"x\/y","e":[]}`)
	case "body_form":
		f.AddHeader("Content-Type", "application/x-www-form-urlencoded")
		f.Body = []byte("k=v&k=w&flag&e=&sp=a+b%20c")
	case "body_multipart":
		f.AddHeader("Content-Type", "multipart/form-data; boundary=XyZ")
		f.Body = []byte("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nx y\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--XyZ--\r\n")
	case "service_response":
		f.SvcStatus = 201
		f.SvcHeaders = [][2]string{{"Content-Type", "application/json"}, {"X-Up", "1"}}
		f.SvcBody = []byte(`{"ok":true}`)
		f.Buffering = true
		f.RespHeaders = [][2]string{{"Content-Type", "application/json"}, {"X-Up", "1"}, {"Via", "kong"}}
		f.Status = 201
	case "body_filter":
		f.RespBody = []byte("hello upstream")
	case "forwarded":
		f.RemoteIP = "10.0.0.1"
		f.TrustedIPs = []string{"10.0.0.1"}
		f.AddHeader("X-Forwarded-Proto", "HTTPS")
		f.AddHeader("X-Forwarded-Host", "user@API.Example.COM:8443")
		f.AddHeader("X-Forwarded-Path", "/orig")
		f.AddHeader("X-Forwarded-Prefix", "/pre")
		f.AddHeader("Cookie", "a=1; session=xyz")
		for i, h := range f.ReqHeaders {
			if h[0] == "Accept" {
				f.ReqHeaders[i][1] = "text/html"
			}
		}
		f.SvcStatus = 502
		f.ReqScheme = "https"
	case "client":
		f.RemoteIP = "10.0.0.1"
		f.TrustedIPs = []string{"10.0.0.1"}
		f.FwdIP = "203.0.113.9"
		f.Route = map[string]any{"id": "r1", "protocols": []any{"http", "https"}}
		f.Consumers = []map[string]any{{"id": "8a1c5a5e-6b1b-4a6b-9d0e-5d7e5f1e2a3b", "username": "alice"}}
	}
	return f
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
