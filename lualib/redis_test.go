package lualib_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"

	"luagate/lualib"
	"luagate/lualib/internal/redistest"
	"luagate/lualib/lualibtest"
)

// newIOState is a state bound to a fake request in phase, with assert_eq,
// the given pools and OnIO hook.
func newIOState(t testing.TB, nets *lualib.NetPools, phase lualib.Phase, onIO func(string, time.Duration, error)) *lua.LState {
	t.Helper()
	L := lualib.NewState(lualib.StateOptions{WorkerPID: 1, Net: nets, OnIO: onIO})
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
	lualib.Bind(L, lualibtest.New())
	lualib.SetPhase(L, phase)
	return L
}

// setRedisGlobals tells the scripts where the server is.
func setRedisGlobals(L *lua.LState, s *redistest.Server) {
	L.SetGlobal("REDIS_HOST", lua.LString(s.Host))
	L.SetGlobal("REDIS_PORT", lua.LNumber(s.Port))
	L.SetGlobal("REDIS_SOCKET", lua.LString(s.Socket))
}

// eval runs src and returns its results rendered with describe, joined by "|".
func eval(t testing.TB, L *lua.LState, src string) string {
	t.Helper()
	top := L.GetTop()
	fn, err := L.LoadString(src)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	L.Push(fn)
	if err := L.PCall(0, lua.MultRet, nil); err != nil {
		t.Fatalf("%s\nerror: %s", src, errText(err))
	}
	var parts []string
	for i := top + 1; i <= L.GetTop(); i++ {
		parts = append(parts, render(L, L.Get(i)))
	}
	L.SetTop(top)
	return strings.Join(parts, "|")
}

// render is describe with ngx.null shown as "null" and array parts in order.
func render(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return strconv.Quote(string(x))
	case *lua.LTable:
		var parts []string
		n := 0
		for ; x.RawGetInt(n+1) != lua.LNil; n++ {
			parts = append(parts, render(L, x.RawGetInt(n+1)))
		}
		var rest []string
		x.ForEach(func(k, e lua.LValue) {
			if i, ok := k.(lua.LNumber); ok && int(i) >= 1 && int(i) <= n && float64(int(i)) == float64(i) {
				return
			}
			rest = append(rest, render(L, k)+"="+render(L, e))
		})
		sort.Strings(rest)
		return "{" + strings.Join(append(parts, rest...), ", ") + "}"
	}
	if v == lualib.NullValue(L) {
		return "null"
	}
	return v.String()
}

// evalErr runs src and returns the Lua error it raised ("" when none).
func evalErr(L *lua.LState, src string) string {
	top := L.GetTop()
	defer L.SetTop(top)
	fn, err := L.LoadString(src)
	if err != nil {
		return err.Error()
	}
	L.Push(fn)
	return errText(L.PCall(0, lua.MultRet, nil))
}

func TestRedisScripts(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	files, err := filepath.Glob("testdata/redis_*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no redis scripts: %v", err)
	}
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			L := newIOState(t, nets, lualib.PhaseAccess, nil)
			setRedisGlobals(L, srv)
			if err := run(L, filepath.Base(f), mustRead(t, f)); err != nil {
				t.Fatalf("%s: %s", f, errText(err))
			}
		})
	}
}

func TestRedisCalls(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	L := newIOState(t, nets, lualib.PhaseAccess, nil)
	setRedisGlobals(L, srv)
	eval(t, L, `red = require("resty.redis"):new(); red:set_timeout(1000); assert(red:connect(REDIS_HOST, REDIS_PORT)); red:flushall()`)
	for _, tc := range []struct{ name, code, want string }{
		{"set", `return red:set("a", "1")`, `"OK"`},
		{"get", `return red:get("a")`, `"1"`},
		{"get missing", `return red:get("zz")`, `null`},
		{"incr", `return red:incr("a")`, `2`},
		{"incr not a number", `return red:incr("s", "x")`, `false|"ERR wrong number of arguments for 'incr' command"`},
		{"mget with nil", `return red:mget("a", "zz")`, `{"2", null}`},
		{"trailing nil arguments are dropped", `return red:get("a", nil, nil)`, `"2"`},
		{"port as a string", `local r = require("resty.redis"):new(); local ok = r:connect(REDIS_HOST, tostring(REDIS_PORT)); r:close(); return ok`, `1`},
		{"blpop timeout gives nil multi-bulk", `return red:blpop("nolist", 0.01)`, `null`},
		{"unix socket", `local r = require("resty.redis"):new(); assert(r:connect("unix:" .. REDIS_SOCKET)); local v = r:get("a"); r:set_keepalive(); return v`, `"2"`},
		{"unix socket reused", `local r = require("resty.redis"):new(); assert(r:connect("unix:" .. REDIS_SOCKET, {})); local n = r:get_reused_times(); r:close(); return n`, `1`},
		{"unix socket missing", `return require("resty.redis"):new():connect("unix:/nonexistent/redis.sock")`, `nil|"no such file or directory"`},
		{"connection refused", `return require("resty.redis"):new():connect("127.0.0.1", 1)`, `nil|"connection refused"`},
		{"bad port", `return require("resty.redis"):new():connect("127.0.0.1", 70000)`, `nil|"bad port number: 70000"`},
		{"module version", `return require("resty.redis")._VERSION`, `"0.34"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, L, tc.code); got != tc.want {
				t.Errorf("%s\n= %s, want %s", tc.code, got, tc.want)
			}
		})
	}
}

func TestRedisAuth(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "s3cret"})
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	setRedisGlobals(L, srv)
	eval(t, L, `red = require("resty.redis"):new(); assert(red:connect(REDIS_HOST, REDIS_PORT))`)
	for _, tc := range []struct{ name, code, want string }{
		{"before auth", `return red:get("x")`, `false|"NOAUTH Authentication required."`},
		{"wrong password", `return red:auth("nope")`, `false|"WRONGPASS invalid username-password pair or user is disabled."`},
		{"password", `return red:auth("s3cret")`, `"OK"`},
		{"after auth", `return red:set("x", 1), red:get("x")`, `"OK"|"1"`},
		{"auth persists on the pooled connection", `red:set_keepalive(); red = require("resty.redis"):new(); red:connect(REDIS_HOST, REDIS_PORT); return red:get_reused_times(), red:get("x")`, `1|"1"`},
		{"password option", `local r = require("resty.redis"):new(); assert(r:connect(REDIS_HOST, REDIS_PORT, {password = "s3cret", pool = "opt"})); local v = r:get("x"); r:set_keepalive(); return v`, `"1"`},
		{"password option on a pooled connection", `local r = require("resty.redis"):new(); assert(r:connect(REDIS_HOST, REDIS_PORT, {password = "s3cret", pool = "opt"})); local n = r:get_reused_times(); r:close(); return n`, `1`},
		{"user and password", `local r = require("resty.redis"):new(); r:connect(REDIS_HOST, REDIS_PORT, {pool = "acl"}); local ok = r:auth("default", "s3cret"); r:close(); return ok`, `"OK"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, L, tc.code); got != tc.want {
				t.Errorf("%s\n= %s, want %s", tc.code, got, tc.want)
			}
		})
	}
}

// The server goes away: calls give nil, err promptly (no hang, no crash),
// pooled connections to the dead server are not handed out, and the
// client recovers once the server is back.
func TestRedisServerGoesAway(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	L := newIOState(t, nets, lualib.PhaseAccess, nil)
	setRedisGlobals(L, srv)
	eval(t, L, `
		red = require("resty.redis"):new(); red:set_timeout(500)
		assert(red:connect(REDIS_HOST, REDIS_PORT)); assert(red:set("k", "v"))
		pooled = require("resty.redis"):new(); assert(pooled:connect(REDIS_HOST, REDIS_PORT, {pool = "p"}))
		assert(pooled:set_keepalive(60000, 10) == 1)`)
	if n := nets.IdleRedis("p"); n != 1 {
		t.Fatalf("idle connections in pool p = %d, want 1", n)
	}
	srv.Stop()

	start := time.Now()
	got := eval(t, L, `return red:get("k")`)
	if got != `nil|"closed"` && got != `nil|"connection reset by peer"` {
		t.Errorf("get after the server stopped = %s, want nil and closed", got)
	}
	if got := eval(t, L, `return red:get("k")`); got != `nil|"closed"` {
		t.Errorf("second get = %s, want nil|\"closed\"", got)
	}
	if got := eval(t, L, `return red:connect(REDIS_HOST, REDIS_PORT)`); got != `nil|"connection refused"` {
		t.Errorf("connect to the stopped server = %s", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failing calls took %s", d)
	}

	srv.Restart(t)
	if got := eval(t, L, `assert(red:connect(REDIS_HOST, REDIS_PORT)); return red:get("k"), red:set("k", "w"), red:get("k")`); got != `null|"OK"|"w"` {
		t.Errorf("after restart = %s", got)
	}
	// the pooled connection died with the old server: a fresh one is made
	if got := eval(t, L, `local r = require("resty.redis"):new(); assert(r:connect(REDIS_HOST, REDIS_PORT, {pool = "p"})); return r:get_reused_times(), r:get("k")`); got != `0|"w"` {
		t.Errorf("connect through the pool after restart = %s, want a fresh connection", got)
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) (host string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	a := l.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func TestRedisTimeouts(t *testing.T) {
	host, port := silentServer(t)
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	L.SetGlobal("HOST", lua.LString(host))
	L.SetGlobal("PORT", lua.LNumber(port))
	for _, tc := range []struct {
		name, code, want string
		max              time.Duration
	}{
		{"read timeout", `red = require("resty.redis"):new(); red:set_timeout(100); assert(red:connect(HOST, PORT)); return red:get("k")`, `nil|"timeout"`, time.Second},
		{"closed after a timeout", `return red:get("k")`, `nil|"closed"`, 50 * time.Millisecond},
		{"set_timeouts read", `red = require("resty.redis"):new(); red:set_timeouts(1000, 1000, 150); assert(red:connect(HOST, PORT)); return red:ping()`, `nil|"timeout"`, time.Second},
		{"pipeline timeout", `red = require("resty.redis"):new(); red:set_timeout(100); assert(red:connect(HOST, PORT)); red:init_pipeline(); red:get("a"); red:get("b"); return red:commit_pipeline()`, `nil|"timeout"`, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got := eval(t, L, tc.code)
			if got != tc.want {
				t.Errorf("%s\n= %s, want %s", tc.code, got, tc.want)
			}
			if d := time.Since(start); d > tc.max {
				t.Errorf("took %s, want at most %s", d, tc.max)
			}
		})
	}
}

// The function's time limit (the state's context) cuts a blocked call and
// stops the function with an error, whatever the socket timeouts say.
func TestRedisTimeLimit(t *testing.T) {
	host, port := silentServer(t)
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	L.SetGlobal("HOST", lua.LString(host))
	L.SetGlobal("PORT", lua.LNumber(port))
	eval(t, L, `red = require("resty.redis"):new(); assert(red:connect(HOST, PORT))`)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	start := time.Now()
	msg := evalErr(L, `local ok, err = pcall(red.get, red, "k"); return ok, err`)
	if !strings.Contains(msg, "context deadline exceeded") {
		t.Errorf("error = %q, want the time limit error", msg)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the blocked call took %s after the time limit", d)
	}
}

func TestRedisPhases(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, tc := range []struct {
		phase lualib.Phase
		err   string
	}{
		{lualib.PhaseAccess, ""},
		{lualib.PhaseRewrite, ""},
		{lualib.PhaseHeaderFilter, "API disabled in the context of header_filter_by_lua*"},
		{lualib.PhaseBodyFilter, "API disabled in the context of body_filter_by_lua*"},
		{lualib.PhaseLog, "API disabled in the context of log_by_lua*"},
	} {
		t.Run(tc.phase.String(), func(t *testing.T) {
			L := newIOState(t, lualib.NewNetPools(), tc.phase, nil)
			setRedisGlobals(L, srv)
			got := evalErr(L, `local red = require("resty.redis"):new(); assert(red:connect(REDIS_HOST, REDIS_PORT)); red:close()`)
			if tc.err == "" && got != "" || !strings.Contains(got, tc.err) {
				t.Errorf("connect in %s: error %q, want %q", tc.phase, got, tc.err)
			}
			L2 := newIOState(t, lualib.NewNetPools(), tc.phase, nil)
			got = evalErr(L2, `local httpc = require("resty.http").new(); httpc:request_uri("http://127.0.0.1:1/")`)
			if tc.err != "" && !strings.Contains(got, tc.err) {
				t.Errorf("request_uri in %s: error %q, want %q", tc.phase, got, tc.err)
			}
		})
	}
}

func TestRedisOnIOAndUnbind(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var calls, failures atomic.Int64
	onIO := func(kind string, d time.Duration, err error) {
		if kind != "redis" || d <= 0 {
			t.Errorf("OnIO(%q, %s)", kind, d)
		}
		calls.Add(1)
		if err != nil {
			failures.Add(1)
		}
	}
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	L := newIOState(t, nets, lualib.PhaseAccess, onIO)
	setRedisGlobals(L, srv)
	eval(t, L, `red = require("resty.redis"):new(); assert(red:connect(REDIS_HOST, REDIS_PORT)); red:set("a", 1); red:get("a")
		red:init_pipeline(); red:get("a"); red:get("b"); red:commit_pipeline()
		local bad = require("resty.redis"):new(); bad:connect("127.0.0.1", 1)`)
	if calls.Load() != 5 || failures.Load() != 1 {
		t.Errorf("OnIO calls = %d (failures %d), want 5 (connect, set, get, pipeline, refused connect) with 1 failure", calls.Load(), failures.Load())
	}
	before := connectedClients(t, srv)
	lualib.Unbind(L) // the request ends without close or set_keepalive
	deadline := time.Now().Add(2 * time.Second)
	for connectedClients(t, srv) != before-1 {
		if time.Now().After(deadline) {
			t.Fatalf("connected clients = %d after Unbind, want %d", connectedClients(t, srv), before-1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	lualib.Bind(L, lualibtest.New())
	lualib.SetPhase(L, lualib.PhaseAccess)
	if got := eval(t, L, `return red:get("a")`); got != `nil|"closed"` {
		t.Errorf("object of the previous request = %s, want closed", got)
	}
}

// connectedClients asks the server through a raw connection.
func connectedClients(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "INFO clients\r\n")
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(time.Second))
	n, _ := c.Read(buf)
	for _, line := range strings.Split(string(buf[:n]), "\r\n") {
		if v, ok := strings.CutPrefix(line, "connected_clients:"); ok {
			k, _ := strconv.Atoi(v)
			return k - 1 // this connection
		}
	}
	t.Fatalf("no connected_clients in %q", buf[:n])
	return 0
}

// Many states share one pool: connections are reused across states and
// the pool never holds more than its size.
func TestRedisPoolConcurrent(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	const workers, rounds = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		L := newIOState(t, nets, lualib.PhaseAccess, nil)
		setRedisGlobals(L, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				err := run(L, "pool", `local red = require("resty.redis"):new(); red:set_timeout(2000)
					assert(red:connect(REDIS_HOST, REDIS_PORT, {pool = "conc", pool_size = 3}))
					assert(red:incr("conc-counter")); assert(red:set_keepalive(10000, 3) == 1)`)
				if err != nil {
					errs <- errors.New(errText(err))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := nets.IdleRedis("conc"); n < 1 || n > 3 {
		t.Errorf("idle connections = %d, want 1..3 (pool_size 3)", n)
	}
	L := newIOState(t, nets, lualib.PhaseAccess, nil)
	setRedisGlobals(L, srv)
	if got := eval(t, L, `local red = require("resty.redis"):new(); red:connect(REDIS_HOST, REDIS_PORT, {pool = "conc"}); return red:get("conc-counter"), red:get_reused_times() > 0`); got != fmt.Sprintf(`"%d"|true`, workers*rounds) {
		t.Errorf("counter and reuse = %s", got)
	}
	if c := connectedClients(t, srv); c > workers+1 {
		t.Errorf("connected clients = %d: connections are not reused", c)
	}
}

// BenchmarkRedisIncr: one Lua call doing connect (from the pool), incr and
// set_keepalive, as a rate-limiting function does per request.
func BenchmarkRedisIncr(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	nets := lualib.NewNetPools()
	b.Cleanup(nets.Close)
	L := newIOState(b, nets, lualib.PhaseAccess, nil)
	setRedisGlobals(L, srv)
	fn, err := L.LoadString(`local red = require("resty.redis"):new(); red:set_timeout(1000)
		local ok, err = red:connect(REDIS_HOST, REDIS_PORT); if not ok then error(err) end
		local n, err = red:incr("bench"); if not n then error(err) end
		red:set_keepalive(10000, 100)`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		L.Push(fn)
		if err := L.PCall(0, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRateLimitingExample runs testdata/examples/rate-limiting.yml's
// function against a real Redis (its hardcoded 6379 replaced by the test
// server's port).
func TestRateLimitingExample(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	raw, err := os.ReadFile("../testdata/examples/rate-limiting.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services []struct {
			Plugins []struct {
				Config struct {
					Access []string `json:"access"`
				} `json:"config"`
			} `json:"plugins"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	src := doc.Services[0].Plugins[0].Config.Access[0]
	if !strings.Contains(src, `red:connect("127.0.0.1", 6379)`) {
		t.Fatalf("the example no longer connects to 127.0.0.1:6379:\n%s", src)
	}
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	L := newIOState(t, nets, lualib.PhaseAccess, nil)
	lualib.Unbind(L)
	load := func(port int) *lua.LFunction {
		fn, err := L.LoadString(strings.Replace(src, "6379", strconv.Itoa(port), 1))
		if err != nil {
			t.Fatal(err)
		}
		return fn
	}
	fn := load(srv.Port)
	request := func(t *testing.T, fn *lua.LFunction, ip, tier string) *lualibtest.FakeExchange {
		t.Helper()
		ex := lualibtest.New()
		ex.RemoteIP = ip
		if tier != "" {
			ex.AddHeader("X-API-Tier", tier)
		}
		lualib.Bind(L, ex)
		lualib.SetPhase(L, lualib.PhaseAccess)
		defer lualib.Unbind(L)
		L.Push(fn)
		if err := L.PCall(0, 0, nil); err != nil && !lualib.IsExit(err) {
			t.Fatalf("request from %s (%q): %s", ip, tier, errText(err))
		}
		return ex
	}
	header := func(ex *lualibtest.FakeExchange, name string) string {
		v, _ := ex.ResponseHeader(name)
		return v
	}

	t.Run("free tier", func(t *testing.T) {
		for i := 1; i <= 10; i++ {
			ex := request(t, fn, "10.1.0.1", "")
			if ex.Exited() {
				t.Fatalf("request %d answered %d %s", i, ex.LastExit().Status, ex.LastExit().Body)
			}
			if l, r := header(ex, "X-RateLimit-Limit"), header(ex, "X-RateLimit-Remaining"); l != "10" || r != strconv.Itoa(10-i) {
				t.Fatalf("request %d: limit %q remaining %q, want 10 and %d", i, l, r, 10-i)
			}
		}
		ex := request(t, fn, "10.1.0.1", "free")
		exit := ex.LastExit()
		if exit == nil || exit.Status != 429 || string(exit.Body) != `{"message":"Rate limit exceeded"}` {
			t.Fatalf("11th request: %+v, want 429 Rate limit exceeded", exit)
		}
		if l, r := header(ex, "X-RateLimit-Limit"), header(ex, "X-RateLimit-Remaining"); l != "10" || r != "0" {
			t.Errorf("429 headers: limit %q remaining %q", l, r)
		}
		if ex := request(t, fn, "10.1.0.1", "unknown"); !ex.Exited() {
			t.Error("an unknown tier counts as free and is limited too")
		}
		if ex := request(t, fn, "10.1.0.2", ""); ex.Exited() || header(ex, "X-RateLimit-Remaining") != "9" {
			t.Error("another client IP has its own counter")
		}
	})
	t.Run("tiers", func(t *testing.T) {
		for _, tc := range []struct{ tier, limit string }{{"basic", "100"}, {"premium", "1000"}} {
			ex := request(t, fn, "10.1.0.1", tc.tier)
			if ex.Exited() || header(ex, "X-RateLimit-Limit") != tc.limit {
				t.Errorf("%s: exited %v, limit %q, want %s", tc.tier, ex.Exited(), header(ex, "X-RateLimit-Limit"), tc.limit)
			}
		}
	})
	t.Run("redis down fails open", func(t *testing.T) {
		ex := request(t, load(1), "10.1.0.3", "")
		if ex.Exited() {
			t.Errorf("answered %d with Redis unreachable, want the request to go through", ex.LastExit().Status)
		}
	})
}

// tlsProxy terminates TLS (a certificate httptest generates for
// 127.0.0.1/example.com) and forwards the bytes to addr.
func tlsProxy(t *testing.T, addr string) int {
	t.Helper()
	cert := httptest.NewUnstartedServer(nil)
	cert.StartTLS() // only for its certificate
	tlsConfig := cert.TLS.Clone()
	cert.Close()
	l, err := tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func TestRedisTLS(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	port := tlsProxy(t, srv.Addr())
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	L.SetGlobal("TLSPORT", lua.LNumber(port))
	for _, tc := range []struct{ name, code, want string }{
		{"ssl without verification", `local red = require("resty.redis"):new(); assert(red:connect("127.0.0.1", TLSPORT, {ssl = true}))
			local a, b = red:set("tls", "yes"), red:get("tls"); red:set_keepalive(); return a, b`, `"OK"|"yes"`},
		{"ssl connections are pooled too", `local red = require("resty.redis"):new(); assert(red:connect("127.0.0.1", TLSPORT, {ssl = true}))
			local n = red:get_reused_times(); red:close(); return n`, `1`},
		{"ssl_verify against an unknown CA", `local red = require("resty.redis"):new()
			local ok, err = red:connect("127.0.0.1", TLSPORT, {ssl = true, ssl_verify = true, server_name = "example.com"})
			return ok, err:match("^failed to do ssl handshake: ") ~= nil`, `nil|true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, L, tc.code); got != tc.want {
				t.Errorf("%s\n= %s, want %s", tc.code, got, tc.want)
			}
		})
	}
}

func TestNetPoolsClose(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	nets := lualib.NewNetPools()
	L := newIOState(t, nets, lualib.PhaseAccess, nil)
	setRedisGlobals(L, srv)
	keep := `local red = require("resty.redis"):new(); assert(red:connect(REDIS_HOST, REDIS_PORT, {pool = "c"})); return red:set_keepalive()`
	if got := eval(t, L, keep); got != `1` {
		t.Fatalf("set_keepalive = %s", got)
	}
	if n := nets.IdleRedis("c"); n != 1 {
		t.Fatalf("idle = %d, want 1", n)
	}
	nets.Close()
	if n := nets.IdleRedis("c"); n != 0 {
		t.Errorf("idle after Close = %d, want 0", n)
	}
	eval(t, L, keep) // after Close the connection is closed instead of pooled
	if n := nets.IdleRedis("c"); n != 0 {
		t.Errorf("idle after a set_keepalive past Close = %d, want 0", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for connectedClients(t, srv) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connected clients = %d after Close, want 0", connectedClients(t, srv))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkRedisRawIncr is the floor for BenchmarkRedisIncr: the same INCR
// round trip on a plain Go connection, without Lua.
func BenchmarkRedisRawIncr(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("*2\r\n$4\r\nincr\r\n$5\r\nbench\r\n")
	buf := make([]byte, 64)
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// fullBacklog returns the port of a listening socket (backlog 0, never
// accepting) whose queue is already full: a further connect hangs.
func fullBacklog(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; i < 8; i++ { // fill the accept queue
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return port
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a listen backlog on this system")
	return 0
}

func TestRedisConnectTimeout(t *testing.T) {
	port := fullBacklog(t)
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	L.SetGlobal("PORT", lua.LNumber(port))
	start := time.Now()
	got := eval(t, L, `local red = require("resty.redis"):new(); red:set_timeouts(150, 1000, 1000); return red:connect("127.0.0.1", PORT)`)
	if got != `nil|"timeout"` {
		t.Errorf("connect = %s, want nil|\"timeout\"", got)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > time.Second {
		t.Errorf("connect took %s, want about the 150ms connect timeout", d)
	}
	start = time.Now()
	got = eval(t, L, `local h = require("resty.http").new(); h:set_timeouts(150, 1000, 1000); return h:request_uri("http://127.0.0.1:" .. PORT .. "/")`)
	if got != `nil|"timeout"` {
		t.Errorf("http connect = %s, want nil|\"timeout\"", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("http connect took %s", d)
	}
}
