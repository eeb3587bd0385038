package functions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"luagate/lualib"
)

func TestLimitsDiscardTheState(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		timeout bool
		want    string // substring of the message
	}{
		{"runaway loop", "while true do end", true, `[string "while true do end"]:1: lua_max_execution_time of 50ms exceeded`},
		{"runaway loop in a returned function", "return function()\n local i = 0\n while true do i = i + 1 end\nend", true,
			"lua_max_execution_time of 50ms exceeded"},
		{"pcall cannot keep a runaway loop alive", "while true do pcall(function() while true do end end) end", true,
			"lua_max_execution_time of 50ms exceeded"},
		{"runaway recursion", "local function f(n) return 1 + f(n + 1) end\nf(1)", false, "stack overflow"},
		{"registry overflow", "local t = {}\nfor i = 1, 10000 do t[i] = i end\nreturn unpack(t)", false, "registry overflow"},
		// issue "The edge": memory abuse costs the request, never the process
		{"table growth", "local t = {}\nfor i = 1, 1e9 do t[i] = i end", false,
			"Lua call stopped: the heap grew by"},
		{"table of tables", "local t = {}\nfor i = 1, 1e9 do t[i] = {i} end", false,
			"Lua call stopped: the heap grew by"},
		{"string doubling", "local s = 'x'\nfor i = 1, 40 do s = s .. s end", false,
			"Lua call stopped: the heap grew by"},
		{"memory held by a pcall loop", "local t, n = {}, 0\nwhile true do pcall(function() n = n + 1; t[n] = string.rep('x', 1000) .. n end) end", false,
			"Lua call stopped: the heap grew by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := testPlugin(t, PreFunction, "bad", access(tt.src))
			good := testPlugin(t, PostFunction, "good", access(`kong.service.request.set_header("X-Out", "fine")`))
			limit := 50 * time.Millisecond
			if !tt.timeout {
				limit = 10 * time.Second // slow -race runs must hit the limit under test first
			}
			set := testSet(t, Settings{MaxExecutionTime: limit, MaxCallMemory: 16 << 20,
				State: lualib.StateOptions{RegistrySize: 1024, RegistryMaxSize: 4096}}, newFakeVM(), bad, good)
			before := set.idle[0]

			ex := newEx()
			var lease *Lease
			start := time.Now()
			err := set.Handler(bad).Run(lualib.PhaseAccess, ex, &lease)
			var re *RuntimeError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v, want *RuntimeError", err)
			}
			if elapsed := time.Since(start); elapsed > 8*time.Second {
				t.Errorf("stopped after %v", elapsed)
			}
			if re.Timeout != tt.timeout || re.Timeout == re.Limit {
				t.Errorf("Timeout = %v, Limit = %v", re.Timeout, re.Limit)
			}
			if !strings.Contains(re.Message, tt.want) {
				t.Errorf("message %q lacks %q", re.Message, tt.want)
			}
			// later functions of the same request still run on its state
			if err := set.Handler(good).Run(lualib.PhaseAccess, ex, &lease); err != nil {
				t.Fatalf("same request, next plugin: %v", err)
			}
			if upHeader(ex, "X-Out") != "fine" {
				t.Error("same request, next plugin did not run")
			}
			lease.Release()
			if n := set.idleStates(); n != 0 {
				t.Errorf("the broken state went back to the pool (%d idle)", n)
			}

			// the gateway keeps serving: the next request gets a fresh state
			ex = newEx()
			if err := request(t, set.Handler(good), lualib.PhaseAccess, ex); err != nil {
				t.Fatal(err)
			}
			if upHeader(ex, "X-Out") != "fine" {
				t.Error("next request did not run")
			}
			if set.idle[0] == before {
				t.Error("next request ran on the discarded state")
			}
		})
	}
}

// A call that finishes in time leaves the watchdog disarmed; the state
// keeps serving and its context is not cancelled.
func TestWatchdogDisarmed(t *testing.T) {
	p := testPlugin(t, PreFunction, "p", access(`local s = 0 for i = 1, 1000 do s = s + i end`))
	set := testSet(t, Settings{MaxExecutionTime: 20 * time.Millisecond}, newFakeVM(), p)
	for range 3 {
		if err := request(t, set.Handler(p), lualib.PhaseAccess, newEx()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(40 * time.Millisecond)
	st := set.idle[0]
	if st.ctx.Err() != nil || st.broken {
		t.Errorf("watchdog fired after the calls returned")
	}
	if err := request(t, set.Handler(p), lualib.PhaseAccess, newEx()); err != nil {
		t.Fatal(err)
	}
}

// Many goroutines leasing at once (run with -race).
func TestConcurrentRequests(t *testing.T) {
	p := testPlugin(t, PreFunction, "p", map[string]any{
		"access": []any{`
			local n = 0
			return function()
				n = n + 1
				kong.service.request.set_header("X-Out", ngx.worker.pid() .. ":" .. n)
			end`},
		"log": []any{`kong.service.request.set_header("X-Log", ngx.worker.pid())`},
	})
	const workers, each = 8, 50
	set := testSet(t, Settings{MaxIdleStates: 4}, newFakeVM(), p)
	h := set.Handler(p)
	var mu sync.Mutex
	maxN := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ex := newEx()
				var lease *Lease
				if err := h.Run(lualib.PhaseAccess, ex, &lease); err != nil {
					errs <- err
					return
				}
				if err := h.Run(lualib.PhaseLog, ex, &lease); err != nil {
					errs <- err
					return
				}
				lease.Release()
				var pid string
				var n int
				if _, err := fmt.Sscanf(strings.Replace(upHeader(ex, "X-Out"), ":", " ", 1), "%s %d", &pid, &n); err != nil {
					errs <- err
					return
				}
				if log := upHeader(ex, "X-Log"); log != pid {
					errs <- fmt.Errorf("access ran on pid %s, log on %s", pid, log)
					return
				}
				mu.Lock()
				maxN[pid] = max(maxN[pid], n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Each state counts its own requests; states closed when the idle cap is
	// exceeded take their counts with them, so the sum can only be <= total.
	total := 0
	for _, n := range maxN {
		total += n
	}
	if total == 0 || total > workers*each {
		t.Errorf("sum of per-state counters = %d, want 1..%d", total, workers*each)
	}
	if n := set.idleStates(); n > 4 {
		t.Errorf("idle states = %d, want <= 4 (MaxIdleStates)", n)
	}
}

// The heap check, with a scripted heap: growth past MaxCallMemory that a
// collection does not free stops the call; growth that is only garbage does
// not (the time limit stops that loop instead); a fall of the heap lowers
// the base.
func TestWatchdogHeapCheck(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		heap    []uint64 // successive readings (the last one repeats)
		limit   bool
		timeout bool
		want    string
	}{
		{"growth kept after a collection", []uint64{100 * mib, 110 * mib, 130 * mib, 130 * mib}, true, false,
			"Lua call stopped: the heap grew by 30 MiB during the call (limit 16 MiB)"},
		{"garbage only", []uint64{100 * mib, 130 * mib, 101 * mib, 101 * mib}, false, true,
			"lua_max_execution_time of 300ms exceeded"},
		{"base follows the heap down", []uint64{200 * mib, 50 * mib, 60 * mib, 70 * mib, 70 * mib}, true, false,
			"Lua call stopped: the heap grew by 20 MiB during the call (limit 16 MiB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlugin(t, PreFunction, "p", access("while true do end"))
			set := testSet(t, Settings{MaxExecutionTime: 300 * time.Millisecond, MaxCallMemory: 16 * mib}, newFakeVM(), p)
			st := set.idle[0]
			var mu sync.Mutex
			i := 0
			st.wd.readHeap = func() uint64 {
				mu.Lock()
				defer mu.Unlock()
				v := tt.heap[min(i, len(tt.heap)-1)]
				i++
				return v
			}
			err := request(t, set.Handler(p), lualib.PhaseAccess, newEx())
			var re *RuntimeError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v", err)
			}
			if re.Limit != tt.limit || re.Timeout != tt.timeout || !strings.HasSuffix(re.Message, tt.want) {
				t.Errorf("Limit %v, Timeout %v, message %q; want %v, %v, %q", re.Limit, re.Timeout, re.Message, tt.limit, tt.timeout, tt.want)
			}
			if n := set.idleStates(); n != 0 {
				t.Errorf("the stopped state went back to the pool")
			}
		})
	}
}

// waitTickerStopped waits until the set's watchdog ticker has stopped.
func waitTickerStopped(t *testing.T, set *Set) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for set.wds.active.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog ticker still runs")
		}
		time.Sleep(time.Millisecond)
	}
}

// The watchdog ticker runs only while calls do: it stops once the set is
// closed and no call runs, and a call made later on a state still leased
// (a request in flight across a reload) starts it again and is bounded.
func TestWatchdogTickerRestarts(t *testing.T) {
	good := testPlugin(t, PreFunction, "good", access(`kong.service.request.set_header("X-Out", "fine")`))
	bad := testPlugin(t, PostFunction, "bad", access("while true do end"))
	set := testSet(t, Settings{MaxExecutionTime: 30 * time.Millisecond}, newFakeVM(), good, bad)
	ex := newEx()
	var lease *Lease
	if err := set.Handler(good).Run(lualib.PhaseAccess, ex, &lease); err != nil {
		t.Fatal(err)
	}
	if !set.wds.active.Load() {
		t.Fatal("a call did not start the ticker")
	}
	set.Close()
	waitTickerStopped(t, set)

	start := time.Now()
	err := set.Handler(bad).Run(lualib.PhaseAccess, ex, &lease)
	var re *RuntimeError
	if !errors.As(err, &re) || !re.Timeout {
		t.Fatalf("error = %v, want a timeout", err)
	}
	if elapsed := time.Since(start); elapsed < 30*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("stopped after %v (limit 30ms, tick 10ms)", elapsed)
	}
	lease.Release()
	waitTickerStopped(t, set)
	if n := len(set.wds.list); n != 0 {
		t.Errorf("%d closed states still watched", n)
	}
}

// A call that ends while the ticker stops it: either the call is reported
// stopped (and its state discarded) or it is not, never a later call.
func TestWatchdogStopRace(t *testing.T) {
	wds := newWatchdogs(time.Hour)
	var w watchdog
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.arm(cancel)
	wds.add(&w)
	w.begin()
	s := w.call.Load()
	w.stop(s, stopTimeout, 0)
	if why := w.end(); why != stopTimeout || ctx.Err() == nil {
		t.Fatalf("end() = %d, context error %v; want stopTimeout and a cancelled context", why, ctx.Err())
	}
	// stopping a call that has ended does nothing to the next one
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	w.arm(cancel2)
	w.begin()
	w.stop(s, stopTimeout, 0)
	if why := w.end(); why != stopNone || ctx2.Err() != nil {
		t.Fatalf("a stale stop hit the next call: end() = %d, context error %v", why, ctx2.Err())
	}
	w.stop(w.call.Load(), stopTimeout, 0) // between calls
	if ctx2.Err() != nil {
		t.Fatal("a stop between calls cancelled the context")
	}
	w.close()
	wds.close()
	waitTickerStopped(t, &Set{wds: wds})
}
