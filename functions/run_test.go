package functions

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"luagate/declarative"
	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// testPlugin validates cfg through the kind's schema and returns the plugin
// entity the loader would produce.
func testPlugin(t testing.TB, name, id string, cfg map[string]any) *declarative.Plugin {
	t.Helper()
	var k declarative.PluginKind
	for _, kk := range Kinds(Settings{}) {
		if kk.Name == name {
			k = kk
		}
	}
	c, errs := k.Schema.Validate(cfg, &declarative.PluginEnv{Name: name})
	if errs != nil {
		t.Fatalf("config of %s: %v", name, errStrings(errs))
	}
	return &declarative.Plugin{ID: id, Name: name, Enabled: true, RawConfig: cfg, Config: c, Path0: "plugins[0]"}
}

func access(src ...string) map[string]any {
	a := make([]any, len(src))
	for i, s := range src {
		a[i] = s
	}
	return map[string]any{"access": a}
}

// testSet builds a set over the plugins with the fake PDK.
func testSet(t testing.TB, s Settings, f *fakeVM, plugins ...*declarative.Plugin) *Set {
	t.Helper()
	set, err := newSet(&declarative.Config{Plugins: plugins}, s, f.vm())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Close)
	return set
}

func newEx() *lualibtest.FakeExchange {
	ex := lualibtest.New()
	ex.ID = "0123456789abcdef0123456789abcdef"
	ex.Route = map[string]any{"id": "route-1"}
	return ex
}

// request runs the handler's phase for one request with its own lease.
func request(t testing.TB, h *Handler, phase lualib.Phase, ex lualib.Exchange) error {
	t.Helper()
	var lease *Lease
	err := h.Run(phase, ex, &lease)
	lease.Release()
	return err
}

func upHeader(ex *lualibtest.FakeExchange, name string) string {
	v, _ := ex.UpstreamHeader(name)
	return v
}

func upValues(ex *lualibtest.FakeExchange, name string) []string {
	var out []string
	for _, h := range ex.UpHeaders {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

func TestExecutionModel(t *testing.T) {
	tests := []struct {
		name string
		src  []string
		want []string // X-Out per request, on one state
	}{
		{
			name: "closure mode: top level runs once, upvalues persist",
			src: []string{`
				inits = (inits or 0) + 1
				local n = 0
				return function()
					n = n + 1
					kong.service.request.set_header("X-Out", inits .. ":" .. n)
				end`},
			want: []string{"1:1", "1:2", "1:3"},
		},
		{
			name: "chunk mode: the chunk reruns, its globals persist in its env",
			src: []string{`
				count = (count or 0) + 1
				kong.service.request.set_header("X-Out", tostring(count))`},
			want: []string{"1", "2", "3"},
		},
		{
			name: "non-function return value is ignored",
			src: []string{`
				runs = (runs or 0) + 1
				kong.service.request.set_header("X-Out", tostring(runs))
				return "hello-world"`},
			want: []string{"1", "2", "3"},
		},
		{
			name: "quirk: a first run that exits never switches to closure mode",
			src: []string{`
				runs = (runs or 0) + 1
				if runs == 1 then
					kong.response.exit(403)
				end
				kong.service.request.set_header("X-Out", "chunk " .. runs)
				return function()
					kong.service.request.set_header("X-Out", "closure")
				end`},
			want: []string{"", "chunk 2", "chunk 3"},
		},
		{
			name: "quirk: a first run that errors never switches to closure mode",
			src: []string{`
				runs = (runs or 0) + 1
				if runs == 1 then
					error("first run fails")
				end
				kong.service.request.set_header("X-Out", "chunk " .. runs)
				return function() kong.service.request.set_header("X-Out", "closure") end`},
			want: []string{"", "chunk 2", "chunk 3"},
		},
		{
			name: "returned function gets conf (DECISIONS row 6)",
			src: []string{`return function(conf)
				kong.service.request.set_header("X-Out", type(conf) .. " " .. #conf.access .. " " .. type(conf.log))
			end`},
			want: []string{"table 1 table", "table 1 table"},
		},
		{
			name: "the chunk is called without arguments",
			src:  []string{`kong.service.request.set_header("X-Out", select("#", ...) .. " " .. tostring(arg))`},
			want: []string{"0 nil", "0 nil"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlugin(t, PreFunction, "p1", access(tt.src...))
			set := testSet(t, Settings{}, newFakeVM(), p)
			h := set.Handler(p)
			for i, want := range tt.want {
				ex := newEx()
				err := request(t, h, lualib.PhaseAccess, ex)
				if err != nil && !strings.Contains(err.Error(), "first run fails") {
					t.Fatalf("request %d: %v", i+1, err)
				}
				if got := upHeader(ex, "X-Out"); got != want {
					t.Errorf("request %d: X-Out = %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

func TestClosuresArePerState(t *testing.T) {
	p := testPlugin(t, PreFunction, "p1", access(`
		local n = 0
		return function()
			n = n + 1
			kong.service.request.set_header("X-Out", ngx.worker.pid() * 1000 + n)
		end`))
	set := testSet(t, Settings{State: lualib.StateOptions{WorkerPID: 100}}, newFakeVM(), p)
	h := set.Handler(p)
	// two requests in flight at once hold two states
	exA, exB := newEx(), newEx()
	var la, lb *Lease
	if err := h.Run(lualib.PhaseAccess, exA, &la); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(lualib.PhaseAccess, exB, &lb); err != nil {
		t.Fatal(err)
	}
	la.Release()
	lb.Release()
	a, b := upHeader(exA, "X-Out"), upHeader(exB, "X-Out")
	if a == b || !strings.HasSuffix(a, "001") || !strings.HasSuffix(b, "001") {
		t.Errorf("concurrent requests: X-Out %q and %q, want first calls on two distinct pids", a, b)
	}
	// later requests continue the counters of whichever state they get
	seen := map[string]bool{}
	for range 4 {
		ex := newEx()
		if err := request(t, h, lualib.PhaseAccess, ex); err != nil {
			t.Fatal(err)
		}
		seen[upHeader(ex, "X-Out")] = true
	}
	for v := range seen {
		if strings.HasSuffix(v, "001") {
			t.Errorf("counter restarted: %q", v)
		}
	}
}

func TestPhaseOrderAndExit(t *testing.T) {
	add := func(v string) string { return `kong.service.request.add_header("X-Order", "` + v + `")` }
	tests := []struct {
		name     string
		src      []string
		want     []string
		exitCode int
	}{
		{"array order", []string{add("1"), add("2"), add("3")}, []string{"1", "2", "3"}, 0},
		{"exit stops the later functions", []string{add("1"), `kong.response.exit(403, "no")`, add("3")}, []string{"1"}, 403},
		{"exit inside a returned function", []string{`return function() kong.response.exit(401) end`, add("2")}, nil, 401},
		{"pcall cannot swallow an exit", []string{`
			local ok = pcall(kong.response.exit, 401, "x")
			kong.service.request.add_header("X-Order", "after pcall " .. tostring(ok))`, add("2")}, nil, 401},
		{"pcall still catches errors", []string{`
			local ok, err = pcall(function() error("oops", 0) end)
			kong.service.request.add_header("X-Order", tostring(ok) .. " " .. err)`}, []string{"false oops"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlugin(t, PreFunction, "p1", access(tt.src...))
			h := testSet(t, Settings{}, newFakeVM(), p).Handler(p)
			for i := range 2 { // first (chunk) run and a later run
				ex := newEx()
				if err := request(t, h, lualib.PhaseAccess, ex); err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				if got := upValues(ex, "X-Order"); !equalStrings(got, tt.want) {
					t.Errorf("request %d: X-Order = %q, want %q", i+1, got, tt.want)
				}
				exit := ex.LastExit()
				switch {
				case tt.exitCode == 0 && exit != nil:
					t.Errorf("request %d: unexpected exit %d", i+1, exit.Status)
				case tt.exitCode != 0 && (exit == nil || exit.Status != tt.exitCode):
					t.Errorf("request %d: exit = %+v, want status %d", i+1, exit, tt.exitCode)
				}
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHandlerPhasesAndLease(t *testing.T) {
	pre := testPlugin(t, PreFunction, "pre", map[string]any{
		"access":        []any{`kong.service.request.set_header("X-Access-Pid", ngx.worker.pid())`},
		"header_filter": []any{`kong.service.request.set_header("X-HF-Pid", ngx.worker.pid())`},
	})
	post := testPlugin(t, PostFunction, "post", map[string]any{
		"log": []any{`kong.service.request.set_header("X-Log-Pid", ngx.worker.pid())`},
	})
	other := &declarative.Plugin{ID: "x", Name: "key-auth"}
	f := newFakeVM()
	set := testSet(t, Settings{}, f, pre, post, other)
	if set.Handler(other) != nil {
		t.Error("Handler(key-auth) is not nil")
	}
	hp, hq := set.Handler(pre), set.Handler(post)
	if got, want := hp.Phases(), lualib.PhaseAccess|lualib.PhaseHeaderFilter; got != want {
		t.Errorf("pre Phases = %b, want %b", got, want)
	}
	if got, want := hq.Phases(), lualib.PhaseLog; got != want {
		t.Errorf("post Phases = %b, want %b", got, want)
	}

	ex := newEx()
	var lease *Lease
	for _, step := range []struct {
		h *Handler
		p lualib.Phase
	}{{hp, lualib.PhaseRewrite}, {hp, lualib.PhaseAccess}, {hq, lualib.PhaseAccess}, {hp, lualib.PhaseHeaderFilter}, {hq, lualib.PhaseLog}} {
		if err := step.h.Run(step.p, ex, &lease); err != nil {
			t.Fatal(err)
		}
	}
	a, h, l := upHeader(ex, "X-Access-Pid"), upHeader(ex, "X-HF-Pid"), upHeader(ex, "X-Log-Pid")
	if a == "" || a != h || a != l {
		t.Errorf("one request ran on several states: access %q, header_filter %q, log %q", a, h, l)
	}
	lease.Release()
	lease.Release() // a second release is a no-op
	if f.unbinds != 1 {
		t.Errorf("unbinds = %d, want 1", f.unbinds)
	}
	// a phase without functions takes no lease
	var none *Lease
	if err := hq.Run(lualib.PhaseAccess, newEx(), &none); err != nil || none != nil {
		t.Errorf("Run(access) of a log-only plugin: lease %v, err %v", none, err)
	}
}

func TestRuntimeError(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	p := testPlugin(t, PostFunction, "p1", map[string]any{"header_filter": []any{"local x = 1\nerror('boom')"}})
	h := testSet(t, Settings{Logger: logger}, newFakeVM(), p).Handler(p)
	ex := newEx()
	err := request(t, h, lualib.PhaseHeaderFilter, ex)
	var re *RuntimeError
	if !errors.As(err, &re) {
		t.Fatalf("Run error = %v (%T), want *RuntimeError", err, err)
	}
	if want := `[string "local x = 1..."]:2: boom`; re.Message != want {
		t.Errorf("Message = %q, want %q", re.Message, want)
	}
	if !strings.Contains(re.Traceback, "stack traceback:") || !strings.Contains(err.Error(), re.Traceback) {
		t.Errorf("traceback missing: %q", err.Error())
	}
	if re.Plugin != PostFunction || re.Phase != lualib.PhaseHeaderFilter || re.Timeout || re.Limit {
		t.Errorf("RuntimeError = %+v", re)
	}
	if re.Chunk != `[string "local x = 1..."]` || !strings.Contains(re.Traceback, `[string "local x = 1..."]:2:`) {
		t.Errorf("chunk %q, traceback %q", re.Chunk, re.Traceback)
	}
	// logged once, by the caller (the gateway), not here
	if logs.Len() != 0 {
		t.Errorf("functions logged the error: %q", logs.String())
	}
	// an error does not discard the state
	if n := h.set.idleStates(); n != 1 {
		t.Errorf("idle states after an error = %d, want 1", n)
	}
}

func TestFileFunctionErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "functions/fail.lua", "return function(conf)\n  local t = nil\n  return t.field\nend\n")
	k := kind(t, Settings{}, PreFunction)
	cfg := map[string]any{"access": []any{"functions/fail.lua"}}
	c, errs := k.Schema.Validate(cfg, testEnv(dir, PreFunction))
	if errs != nil {
		t.Fatal(errStrings(errs))
	}
	p := &declarative.Plugin{ID: "p", Name: PreFunction, RawConfig: cfg, Config: c}
	h := testSet(t, Settings{}, newFakeVM(), p).Handler(p)
	err := request(t, h, lualib.PhaseAccess, newEx())
	if err == nil || !strings.HasPrefix(err.Error(), "functions/fail.lua:3: ") {
		t.Errorf("error = %v, want it to start with functions/fail.lua:3:", err)
	}
}

func TestNewSet(t *testing.T) {
	set, err := NewSet(nil, Settings{})
	if err != nil || set == nil {
		t.Fatalf("NewSet(nil) = %v, %v", set, err)
	}
	set.Close()
	var nilSet *Set
	nilSet.Close()
	if nilSet.Handler(&declarative.Plugin{}) != nil {
		t.Error("nil set returned a handler")
	}
	if _, err := NewSet(nil, Settings{UntrustedLua: "maybe"}); err == nil {
		t.Error("invalid untrusted_lua accepted")
	}
	p := testPlugin(t, PreFunction, "p1", access("x()"))
	p.Path0 = "services[0].plugins[0]"
	_, err = newSet(&declarative.Config{Plugins: []*declarative.Plugin{p}}, Settings{UntrustedLua: "off"}, newFakeVM().vm())
	if err == nil || !strings.Contains(err.Error(), "services[0].plugins[0]: plugin 'pre-function' cannot run") {
		t.Errorf("untrusted_lua=off: err = %v", err)
	}
}

func TestClosedSet(t *testing.T) {
	p := testPlugin(t, PreFunction, "p1", access("x = 1"))
	set := testSet(t, Settings{}, newFakeVM(), p)
	h := set.Handler(p)
	var lease *Lease
	if err := h.Run(lualib.PhaseAccess, newEx(), &lease); err != nil {
		t.Fatal(err)
	}
	set.Close() // the in-flight request keeps its state
	if err := h.Run(lualib.PhaseAccess, newEx(), &lease); err != nil {
		t.Fatalf("in-flight request after Close: %v", err)
	}
	lease.Release()
	if n := set.idleStates(); n != 0 {
		t.Errorf("idle states after Close = %d", n)
	}
	var l2 *Lease
	if err := h.Run(lualib.PhaseAccess, newEx(), &l2); !errors.Is(err, errSetClosed) {
		t.Errorf("new request on a closed set: %v", err)
	}
}

func writeFile(t testing.TB, dir, name, src string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A new set (a reload) starts with fresh closures, like Kong's recompile on
// a new config table.
func TestNewSetStartsFresh(t *testing.T) {
	cfg := access(`local n = 0 return function() n = n + 1 kong.service.request.set_header("X-Out", n) end`)
	for round := range 2 {
		p := testPlugin(t, PreFunction, "p", cfg)
		h := testSet(t, Settings{}, newFakeVM(), p).Handler(p)
		for i, want := range []string{"1", "2"} {
			ex := newEx()
			if err := request(t, h, lualib.PhaseAccess, ex); err != nil {
				t.Fatal(err)
			}
			if got := upHeader(ex, "X-Out"); got != want {
				t.Errorf("set %d, request %d: X-Out = %q, want %q", round+1, i+1, got, want)
			}
		}
	}
}

func TestLegacyFunctionsWarning(t *testing.T) {
	var logs bytes.Buffer
	k := kind(t, Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, PostFunction)
	if _, errs := k.Schema.Validate(map[string]any{"functions": []any{"x()"}}, nil); errs != nil {
		t.Fatal(errStrings(errs))
	}
	if want := "[post-function] 'config.functions' will be deprecated in favour of 'config.access'"; !strings.Contains(logs.String(), want) {
		t.Errorf("log %q lacks %q", logs.String(), want)
	}
}
