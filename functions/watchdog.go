package functions

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// watchdogTick is how often running calls are looked at: their deadline,
// and, once a call has run that long, how much the Go heap has grown.
const watchdogTick = 10 * time.Millisecond

// watchdogIdleTicks: the shared ticker stops after this many ticks without
// a running call (after one when the set is closed); the next call starts
// it again.
const watchdogIdleTicks = 100

// Why the watchdog stopped a call.
const (
	stopNone = iota
	stopTimeout
	stopMemory
)

// stopping is watchdog.call of a call that the ticker stopped.
const stopping = -1

// watchdogs bounds the calls of one Set's states (DECISIONS row 10): one
// ticker goroutine looks at every state's running call each tick; a call
// that passes lua_max_execution_time, or during which the Go heap grows by
// more than maxGrowth, has its state's context cancelled, so the VM stops
// at its next instruction. A call itself only stores its number in its
// state's watchdog and swaps it out at the end (two atomic operations: no
// timer, no clock read; BenchmarkWatchdogBeginEnd, numbers in README). The
// ticker times a call from the tick that first sees it, so a call is
// stopped between lua_max_execution_time and one tick later.
//
// The heap is not read for calls shorter than one tick, which is nearly
// all of them. It is the process's, not the state's (gopher-lua does not
// count its allocations): a call that runs longer than a tick while
// another one allocates wildly may be stopped with it. Before stopping a
// call for memory the watchdog runs a garbage collection and checks again,
// so garbage alone never stops a call.
//
// The ticker runs only while calls do: it stops after watchdogIdleTicks
// ticks without a running call, or after one once the set is closed, so an
// idle or retired set keeps no goroutine; begin starts it again.
type watchdogs struct {
	max   time.Duration
	tick  time.Duration
	epoch time.Time // the ticker's clock counts from here (monotonic)

	active atomic.Bool // a ticker goroutine runs (or is starting)

	mu     sync.Mutex
	list   []*watchdog // the set's live states
	closed bool

	scan []*watchdog // the ticker's copy of list
}

func newWatchdogs(max time.Duration) *watchdogs {
	return &watchdogs{max: max, tick: min(max, watchdogTick), epoch: time.Now()}
}

// watchdog is one state's part: the running call's number, and what the
// ticker needs to stop it.
type watchdog struct {
	wds       *watchdogs
	max       time.Duration
	maxGrowth uint64 // 0: no memory check

	// call is 0 between calls, the running call's number (1, 2, ...)
	// during one, and stopping once the ticker stopped it. Only the
	// state's goroutine stores a number or 0; only the ticker swaps a
	// number for stopping (holding mu).
	call atomic.Int64
	seq  int64 // the state's calls so far (the state's goroutine only)

	mu       sync.Mutex // held by the ticker while it stops the call
	cancel   context.CancelFunc
	stopped  int    // stopNone, stopTimeout or stopMemory
	grown    uint64 // heap growth that stopped the call
	readHeap func() uint64

	// the ticker's own
	seen   int64  // the call it saw last
	seenAt int64  // its clock when it first saw that call
	baseOf int64  // the call base belongs to
	base   uint64 // lowest heap seen at the call's ticks
}

// add registers a state's watchdog with the set's ticker.
func (p *watchdogs) add(w *watchdog) {
	w.wds = p
	p.mu.Lock()
	p.list = append(p.list, w)
	p.mu.Unlock()
}

func (p *watchdogs) remove(w *watchdog) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.list {
		if x == w {
			last := len(p.list) - 1
			p.list[i], p.list[last] = p.list[last], nil
			p.list = p.list[:last]
			return
		}
	}
}

// close lets the ticker stop once no call runs (the set is retired; states
// still leased finish their requests under it).
func (p *watchdogs) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

func (p *watchdogs) now() int64 { return int64(time.Since(p.epoch)) + 1 }

// wake starts the ticker unless one runs.
func (p *watchdogs) wake() {
	if p.active.CompareAndSwap(false, true) {
		go p.run()
	}
}

func (p *watchdogs) run() {
	t := time.NewTicker(p.tick)
	defer t.Stop()
	idle := 0
	for range t.C {
		if p.check() {
			idle = 0
			continue
		}
		idle++
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if !closed && idle < watchdogIdleTicks {
			continue
		}
		// Stop, unless a call began meanwhile: begin stores its number
		// before it reads active, the ticker clears active before it looks
		// at the calls (sequentially consistent atomics), so either begin
		// sees active false and starts a ticker, or this one sees the call.
		p.active.Store(false)
		if !p.anyRunning() || !p.active.CompareAndSwap(false, true) {
			return
		}
		idle = 0
	}
}

func (p *watchdogs) anyRunning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.list {
		if w.call.Load() > 0 {
			return true
		}
	}
	return false
}

// check looks at every running call once and reports whether one ran.
func (p *watchdogs) check() bool {
	p.mu.Lock()
	p.scan = append(p.scan[:0], p.list...)
	p.mu.Unlock()
	now := p.now()
	running := false
	for _, w := range p.scan {
		s := w.call.Load()
		if s <= 0 {
			continue
		}
		running = true
		if w.seen != s {
			// first sight: the call began within the last tick; it is
			// timed from now, so it runs at least its limit
			w.seen, w.seenAt = s, now
			continue
		}
		elapsed := time.Duration(now - w.seenAt)
		switch {
		case elapsed >= p.max:
			w.stop(s, stopTimeout, 0)
		case w.maxGrowth > 0 && elapsed >= p.tick:
			w.checkHeap(s)
		}
	}
	clear(p.scan)
	return running
}

// arm gives the watchdog the context to cancel (a fresh one after it
// fired).
func (w *watchdog) arm(cancel context.CancelFunc) {
	w.mu.Lock()
	w.cancel, w.stopped = cancel, stopNone
	if w.readHeap == nil {
		w.readHeap = heapObjects
	}
	w.mu.Unlock()
}

// begin starts watching a call.
func (w *watchdog) begin() {
	w.seq++
	w.call.Store(w.seq)
	if !w.wds.active.Load() {
		w.wds.wake()
	}
}

// end stops watching and reports why the call was stopped (stopNone when
// it was not).
func (w *watchdog) end() int {
	if w.call.Swap(0) != stopping {
		return stopNone
	}
	w.mu.Lock() // the ticker holds it until the context is cancelled
	stopped := w.stopped
	w.mu.Unlock()
	return stopped
}

// checkHeap is the memory check of a call that has run for a tick or more
// (ticker only).
func (w *watchdog) checkHeap(s int64) {
	heap := w.readHeap()
	if w.baseOf != s || heap < w.base {
		// the lowest heap seen during the call: garbage of earlier calls
		// that a collection freed does not count as room
		w.baseOf, w.base = s, heap
		return
	}
	if heap <= w.base+w.maxGrowth {
		return
	}
	// garbage counts until it is swept: collect, then look again
	runtime.GC()
	if heap = w.readHeap(); heap > w.base+w.maxGrowth {
		w.stop(s, stopMemory, heap-w.base)
	}
}

// stop cancels call s, unless it has ended.
func (w *watchdog) stop(s int64, why int, grown uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s <= 0 || !w.call.CompareAndSwap(s, stopping) {
		return // not a call, or it has ended
	}
	w.stopped, w.grown = why, grown
	w.cancel()
}

func (w *watchdog) close() {
	if w.wds != nil {
		w.wds.remove(w)
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
