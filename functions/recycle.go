package functions

import (
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// Recycler keeps prepared Lua states between the sets of successive
// snapshots, so that a reload does not cost every state again: building
// one (libraries, the PDK, the sandbox's base environment) was about 15%
// of the CPU of the bench's scenario 6 (a config rewritten every 100 ms
// under load). What a set adds to a state (its functions, their private
// environments, its plugin conf tables) is dropped when the state leaves
// the set; the state itself, with whatever functions did to it, goes on,
// as a Kong worker's Lua VM outlives config reloads. States broken by a
// timeout or a limit are never kept.
//
// All sets given one Recycler must share their Settings apart from
// MaxIdleStates (the gateway keeps one per node runtime, whose settings do
// not change).
type Recycler struct {
	mu     sync.Mutex
	idle   []recycled
	max    int
	closed bool
}

// recycled is what a state keeps between sets.
type recycled struct {
	L       *lua.LState
	sandbox *sandbox
}

// NewRecycler keeps at most max idle states (DefaultMaxIdleStates when
// max <= 0).
func NewRecycler(max int) *Recycler {
	if max <= 0 {
		max = DefaultMaxIdleStates
	}
	return &Recycler{max: max}
}

// take returns a kept state, if any.
func (r *Recycler) take() (recycled, bool) {
	if r == nil {
		return recycled{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.idle)
	if n == 0 {
		return recycled{}, false
	}
	b := r.idle[n-1]
	r.idle[n-1] = recycled{}
	r.idle = r.idle[:n-1]
	return b, true
}

// put keeps a state; false when the recycler is full or closed (the
// caller closes the state).
func (r *Recycler) put(b recycled) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || len(r.idle) >= r.max {
		return false
	}
	r.idle = append(r.idle, b)
	return true
}

// Idle reports how many states wait in the recycler.
func (r *Recycler) Idle() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.idle)
}

// Close closes the kept states; states offered later are closed by their
// sets.
func (r *Recycler) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	idle := r.idle
	r.idle, r.closed = nil, true
	r.mu.Unlock()
	for _, b := range idle {
		b.L.Close()
	}
}
