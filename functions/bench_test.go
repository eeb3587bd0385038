package functions

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"luagate/declarative"
	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

const bearerCheck = `return function(conf)
  local auth = kong.request.get_header("authorization")
  if not auth then
    return kong.response.exit(401, { message = "Authentication required" })
  end
  local token = auth:match("^Bearer%s+(.+)$")
  if not token then
    return kong.response.exit(401, { message = "Invalid token format" })
  end
  if token ~= "secret-token-123" then
    return kong.response.exit(403, { message = "Invalid credentials" })
  end
  kong.service.request.set_header("X-Consumer-ID", "user-123")
  kong.service.request.set_header("X-Consumer-Role", "admin")
end`

// BenchmarkWatchdog measures what bounding every call costs (DECISIONS row
// 10): no limit at all, a per-state context plus a reused timer (the
// scheme until 2026-11-26), and a fresh context.WithTimeout per call.
func BenchmarkWatchdog(b *testing.B) {
	scripts := map[string]string{
		"loop1000": "local s = 0 for i = 1, 1000 do s = s + i end return s",
		"short":    `local t = "Bearer abc" local x = t:match("^Bearer%s+(.+)$") return x == "abc"`,
	}
	for _, name := range []string{"short", "loop1000"} {
		proto, err := compileChunk(scripts[name], name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/none", func(b *testing.B) {
			L := lua.NewState()
			defer L.Close()
			fn := L.NewFunctionFromProto(proto)
			b.ReportAllocs()
			for b.Loop() {
				L.Push(fn)
				if err := L.PCall(0, 0, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/state-context+timer", func(b *testing.B) {
			L := lua.NewState()
			defer L.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			L.SetContext(ctx)
			timer := time.AfterFunc(time.Hour, cancel)
			timer.Stop()
			fn := L.NewFunctionFromProto(proto)
			b.ReportAllocs()
			for b.Loop() {
				timer.Reset(5 * time.Second)
				L.Push(fn)
				err := L.PCall(0, 0, nil)
				if !timer.Stop() || err != nil {
					b.Fatal("timer fired or", err)
				}
			}
		})
		b.Run(name+"/context-per-call", func(b *testing.B) {
			L := lua.NewState()
			defer L.Close()
			fn := L.NewFunctionFromProto(proto)
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				L.SetContext(ctx)
				L.Push(fn)
				err := L.PCall(0, 0, nil)
				L.RemoveContext()
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWatchdogInterleaved runs the three variants of BenchmarkWatchdog
// (the timer one was the scheme until 2026-11-26), and the chosen one (the
// set's shared ticker, watchdog.go), round-robin, batch by batch, and charges each the CPU time of its own
// thread (CLOCK_THREAD_CPUTIME_ID), so that load from other processes on a
// shared machine does not skew the comparison. It reports each variant's
// CPU ns per call.
func BenchmarkWatchdogInterleaved(b *testing.B) {
	for _, name := range []string{"short", "loop1000"} {
		b.Run(name, func(b *testing.B) {
			src := map[string]string{
				"loop1000": "local s = 0 for i = 1, 1000 do s = s + i end return s",
				"short":    `local t = "Bearer abc" local x = t:match("^Bearer%s+(.+)$") return x == "abc"`,
			}[name]
			proto, err := compileChunk(src, name)
			if err != nil {
				b.Fatal(err)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu := threadCPU
			plain, timed, perCall, ticked := lua.NewState(), lua.NewState(), lua.NewState(), lua.NewState()
			defer plain.Close()
			defer timed.Close()
			defer perCall.Close()
			defer ticked.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			timed.SetContext(ctx)
			timer := time.AfterFunc(time.Hour, cancel)
			timer.Stop()
			// the chosen scheme: the set's shared ticker (watchdog.go)
			tctx, tcancel := context.WithCancel(context.Background())
			defer tcancel()
			ticked.SetContext(tctx)
			wds := newWatchdogs(5 * time.Second)
			defer wds.close()
			var wd watchdog
			wd.max = 5 * time.Second
			wd.arm(tcancel)
			wds.add(&wd)
			defer wd.close()
			fPlain, fTimed, fPerCall := plain.NewFunctionFromProto(proto), timed.NewFunctionFromProto(proto), perCall.NewFunctionFromProto(proto)
			fTicked := ticked.NewFunctionFromProto(proto)
			const batch = 50
			var dPlain, dTimed, dPerCall, dTicked int64
			for b.Loop() {
				t0 := cpu()
				for range batch {
					plain.Push(fPlain)
					_ = plain.PCall(0, 0, nil)
				}
				t1 := cpu()
				for range batch {
					timer.Reset(5 * time.Second)
					timed.Push(fTimed)
					_ = timed.PCall(0, 0, nil)
					timer.Stop()
				}
				t2 := cpu()
				for range batch {
					c, cc := context.WithTimeout(context.Background(), 5*time.Second)
					perCall.SetContext(c)
					perCall.Push(fPerCall)
					_ = perCall.PCall(0, 0, nil)
					perCall.RemoveContext()
					cc()
				}
				t3 := cpu()
				for range batch {
					wd.begin()
					ticked.Push(fTicked)
					_ = ticked.PCall(0, 0, nil)
					wd.end()
				}
				t4 := cpu()
				dPlain += t1 - t0
				dTimed += t2 - t1
				dPerCall += t3 - t2
				dTicked += t4 - t3
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(dPlain)/n, "cpu-ns-none")
			b.ReportMetric(float64(dTimed)/n, "cpu-ns-statectx")
			b.ReportMetric(float64(dPerCall)/n, "cpu-ns-percall")
			b.ReportMetric(float64(dTicked)/n, "cpu-ns-ticker")
		})
	}
}

// BenchmarkWatchdogBeginEnd is what the watchdog adds to every call of a
// state of a Set: begin and end around it.
func BenchmarkWatchdogBeginEnd(b *testing.B) {
	set := testSet(b, Settings{}, newFakeVM(), testPlugin(b, PreFunction, "p", access("x = 1")))
	st := set.idle[0]
	b.ReportAllocs()
	for b.Loop() {
		st.wd.begin()
		if st.wd.end() != stopNone {
			b.Fatal("the watchdog stopped an empty call")
		}
	}
}

// threadCPU is the CPU time of the calling thread (lock it first): on a
// shared machine it is a steadier measure than wall time.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// reportCPU adds "cpu-ns/op" for a benchmark loop run on a locked thread.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
}

func BenchmarkLease(b *testing.B) {
	p := testPlugin(b, PreFunction, "p", access("x = 1"))
	set := testSet(b, Settings{}, newFakeVM(), p)
	ex := newEx()
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		l, err := set.lease(ex)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
	reportCPU(b, start)
}

// BenchmarkBearer is one request of the bearer-token example through Run:
// lease, access phase, release (fake PDK and exchange).
func BenchmarkBearer(b *testing.B) {
	p := testPlugin(b, PreFunction, "p", access(bearerCheck))
	h := testSet(b, Settings{}, newFakeVM(), p).Handler(p)
	ex := newEx().AddHeader("Authorization", "Bearer secret-token-123")
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		ex.UpHeaders = ex.UpHeaders[:0]
		var lease *Lease
		if err := h.Run(lualib.PhaseAccess, ex, &lease); err != nil {
			b.Fatal(err)
		}
		lease.Release()
	}
	reportCPU(b, start)
	if v, _ := ex.UpstreamHeader("X-Consumer-Role"); v != "admin" {
		b.Fatalf("X-Consumer-Role = %q", v)
	}
}

// BenchmarkCompile200 compiles a 200-line function (done once per config).
func BenchmarkCompile200(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("return function(conf)\n")
	for i := range 66 {
		fmt.Fprintf(&sb, "  local v%d = kong.request.get_header(\"x-h%d\")\n", i, i)
		fmt.Fprintf(&sb, "  if v%d and #v%d > %d then\n", i, i, i)
		fmt.Fprintf(&sb, "    kong.service.request.set_header(\"x-o%d\", string.upper(v%d)) end\n", i, i)
	}
	sb.WriteString("end\n")
	src := sb.String()
	if n := strings.Count(src, "\n"); n != 200 {
		b.Fatalf("%d lines", n)
	}
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		if _, err := compileChunk(src, "bench.lua"); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkBearerPDK is BenchmarkBearer with the real PDK (lualib).
func BenchmarkBearerPDK(b *testing.B) {
	p := testPlugin(b, PreFunction, "p", access(bearerCheck))
	set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{p}}, Settings{})
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	h := set.Handler(p)
	ex := newEx().AddHeader("Authorization", "Bearer secret-token-123")
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		ex.UpHeaders = ex.UpHeaders[:1]
		var lease *Lease
		if err := h.Run(lualib.PhaseAccess, ex, &lease); err != nil {
			b.Fatal(err)
		}
		lease.Release()
	}
	reportCPU(b, start)
	if v, _ := ex.UpstreamHeader("X-Consumer-Role"); v != "admin" {
		b.Fatalf("X-Consumer-Role = %q", v)
	}
}

// exitExchange is a FakeExchange whose Exit copies into buffers it keeps,
// as the gateway's pooled request does, so that the exit benchmarks count
// only what the runner and the PDK allocate.
type exitExchange struct {
	*lualibtest.FakeExchange
	exited  bool
	status  int
	body    []byte
	headers [][2]string
}

func (e *exitExchange) Exit(status int, body []byte, headers [][2]string, source lualib.Source) {
	e.exited, e.status = true, status
	e.body = append(e.body[:0], body...)
	e.headers = append(e.headers[:0], headers...)
}
func (e *exitExchange) Exited() bool { return e.exited }

// BenchmarkExitPDK is one request of bench scenario 3 through Run with the
// real PDK: a pre-function whose chunk (rerun on every request) answers
// with kong.response.exit(200, { message = "hello" }).
func BenchmarkExitPDK(b *testing.B) {
	p := testPlugin(b, PreFunction, "p", access(`return kong.response.exit(200, { message = "hello" })`))
	set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{p}}, Settings{})
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	h := set.Handler(p)
	ex := &exitExchange{FakeExchange: newEx()}
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		ex.exited = false
		var lease *Lease
		if err := h.Run(lualib.PhaseAccess, ex, &lease); err != nil {
			b.Fatal(err)
		}
		lease.Release()
	}
	reportCPU(b, start)
	if !ex.exited || ex.status != 200 || string(ex.body) != `{"message":"hello"}` ||
		len(ex.headers) != 1 || ex.headers[0] != [2]string{"Content-Type", "application/json; charset=utf-8"} {
		b.Fatalf("exit = %v %d %q %q", ex.exited, ex.status, ex.body, ex.headers)
	}
}

// BenchmarkSandboxInterleaved runs the bearer check through Run with the
// real PDK under untrusted_lua = sandbox (kong.* behind write-protected
// proxies: each level a miss on the proxy, its metatable's __index, the
// view) and = on (the real kong tables), batch by batch, and reports each
// mode's CPU ns per request: what the protection costs.
func BenchmarkSandboxInterleaved(b *testing.B) {
	p := testPlugin(b, PreFunction, "p", access(bearerCheck))
	hs := make([]*Handler, 2)
	for i, mode := range []string{"sandbox", "on"} {
		set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{p}}, Settings{UntrustedLua: mode})
		if err != nil {
			b.Fatal(err)
		}
		defer set.Close()
		hs[i] = set.Handler(p)
	}
	ex := newEx().AddHeader("Authorization", "Bearer secret-token-123")
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const batch = 50
	var d [2]int64
	for b.Loop() {
		for i, h := range hs {
			t0 := threadCPU()
			for range batch {
				ex.UpHeaders = ex.UpHeaders[:1]
				var lease *Lease
				if err := h.Run(lualib.PhaseAccess, ex, &lease); err != nil {
					b.Fatal(err)
				}
				lease.Release()
			}
			d[i] += threadCPU() - t0
		}
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(d[0])/n, "cpu-ns-sandbox")
	b.ReportMetric(float64(d[1])/n, "cpu-ns-on")
}

// BenchmarkAuthPDK is one request of bench scenario 2 through Run with the
// real PDK: the access function of bench/configs/auth.yml.tmpl (the chunk
// reruns per request) and its header_filter, on one lease.
func BenchmarkAuthPDK(b *testing.B) {
	p := testPlugin(b, PreFunction, "p", map[string]any{
		"access": []any{`local auth = kong.request.get_header("Authorization")
if not auth or auth:sub(1, 7) ~= "Bearer " then
  return kong.response.exit(401, { message = "Unauthorized" })
end
if auth:sub(8) ~= "secret-token-123" then
  return kong.response.exit(401, { message = "Unauthorized" })
end
kong.service.request.set_header("X-Consumer-ID", "user-123")
kong.service.request.set_header("X-Consumer-Role", "admin")
`},
		"header_filter": []any{`kong.response.set_header("X-Bench-Filter", "on")`},
	})
	set, err := NewSet(&declarative.Config{Plugins: []*declarative.Plugin{p}}, Settings{})
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	h := set.Handler(p)
	ex := newEx().AddHeader("Authorization", "Bearer secret-token-123")
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		ex.UpHeaders = ex.UpHeaders[:1]
		ex.RespHeaders = ex.RespHeaders[:0]
		var lease *Lease
		if err := h.Run(lualib.PhaseAccess, ex, &lease); err != nil {
			b.Fatal(err)
		}
		if err := h.Run(lualib.PhaseHeaderFilter, ex, &lease); err != nil {
			b.Fatal(err)
		}
		lease.Release()
	}
	reportCPU(b, start)
	if v, _ := ex.UpstreamHeader("X-Consumer-Role"); v != "admin" || len(ex.RespHeaders) != 1 {
		b.Fatalf("X-Consumer-Role = %q, response headers %v", v, ex.RespHeaders)
	}
}
