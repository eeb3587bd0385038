package functions

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// watchdogTick is how often a running call is looked at once it has run
// that long: its deadline, and how much the Go heap has grown.
const watchdogTick = 10 * time.Millisecond

// Why the watchdog stopped a call.
const (
	stopNone = iota
	stopTimeout
	stopMemory
)

// watchdog bounds the calls of one state (DECISIONS row 10): a call that
// passes lua_max_execution_time, or during which the Go heap grows by more
// than maxGrowth, has its state's context cancelled, so the VM stops at its
// next instruction. The heap is not read for calls shorter than one tick,
// which is nearly all of them: a call costs a timer reset and stop, a clock
// read and two uncontended locks (BenchmarkBearerPDK, numbers in README).
//
// The heap is the process's, not the state's (gopher-lua does not count
// its allocations): a call that runs longer than a tick while another one
// allocates wildly may be stopped with it. Before stopping a call for
// memory the watchdog runs a garbage collection and checks again, so
// garbage alone never stops a call.
type watchdog struct {
	max       time.Duration
	maxGrowth uint64 // 0: no memory check

	mu       sync.Mutex
	running  bool
	start    time.Time
	base     uint64 // lowest heap seen at the call's ticks (0: not read yet)
	stopped  int    // stopNone, stopTimeout or stopMemory
	grown    uint64 // heap growth that stopped the call
	cancel   context.CancelFunc
	timer    *time.Timer
	readHeap func() uint64
}

// arm gives the watchdog the context to cancel (a fresh one after it
// fired).
func (w *watchdog) arm(cancel context.CancelFunc) {
	w.mu.Lock()
	w.cancel, w.stopped = cancel, stopNone
	w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(time.Hour, w.tick)
		w.timer.Stop()
	}
	if w.readHeap == nil {
		w.readHeap = heapObjects
	}
}

// begin starts watching a call.
func (w *watchdog) begin() {
	w.mu.Lock()
	w.running, w.start, w.base = true, time.Now(), 0
	w.mu.Unlock()
	w.timer.Reset(min(w.max, watchdogTick))
}

// end stops watching and reports why the call was stopped (stopNone when
// it was not).
func (w *watchdog) end() int {
	w.mu.Lock()
	w.running = false
	stopped := w.stopped
	w.mu.Unlock()
	w.timer.Stop()
	return stopped
}

func (w *watchdog) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running || w.stopped != stopNone {
		return
	}
	elapsed := time.Since(w.start)
	if elapsed >= w.max {
		w.stop(stopTimeout)
		return
	}
	if w.maxGrowth > 0 {
		heap := w.readHeap()
		switch {
		case w.base == 0 || heap < w.base:
			// the lowest heap seen during the call: garbage of earlier
			// calls that a collection freed does not count as room
			w.base = heap
		case heap > w.base+w.maxGrowth:
			// garbage counts until it is swept: collect, then look again
			w.mu.Unlock()
			runtime.GC()
			heap = w.readHeap()
			w.mu.Lock()
			if !w.running || w.stopped != stopNone {
				return
			}
			if heap > w.base+w.maxGrowth {
				w.grown = heap - w.base
				w.stop(stopMemory)
				return
			}
		}
	}
	w.timer.Reset(min(w.max-elapsed, watchdogTick))
}

func (w *watchdog) stop(why int) {
	w.stopped = why
	w.cancel()
}

func (w *watchdog) close() {
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// heapObjects is the size of the Go heap's objects, reachable or not yet
// swept (runtime/metrics; no stop-the-world).
func heapObjects() uint64 {
	s := [1]metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// stopMessage is the error text of a call the watchdog stopped.
func (w *watchdog) stopMessage(why int) string {
	if why == stopMemory {
		return fmt.Sprintf("Lua call stopped: the heap grew by %d MiB during the call (limit %d MiB)",
			w.grown>>20, w.maxGrowth>>20)
	}
	return fmt.Sprintf("lua_max_execution_time of %s exceeded", w.max)
}
