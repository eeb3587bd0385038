package functions

import (
	"context"
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
)

// errSetClosed is returned when a request asks a retired set for a state.
var errSetClosed = errors.New("functions: the Lua function set is closed")

// state is one prepared Lua state with this set's functions instantiated
// in it (lazily, on first use).
type state struct {
	L       *lua.LState
	lease   Lease           // the one lease of this state, reused per request
	slots   []slot          // per function of the set
	confs   []*lua.LTable   // per plugin instance: its config as a Lua table
	sandbox *sandbox        // builds each chunk's private environment
	max     time.Duration   // lua_max_execution_time
	ctx     context.Context // set on L once; cancelled only by the watchdog
	cancel  context.CancelFunc
	wd      watchdog // armed around every call (watchdog.go)
	fired   bool     // the watchdog fired: arm again before the next call
	stopped int      // why the watchdog stopped the last call it stopped
	broken  bool     // discard instead of pooling (timeout, limit breach)
}

// slot is one function of the set as instantiated in one state (spec 1.4).
type slot struct {
	fn      *lua.LFunction // what runs: the chunk, or the function it returned
	ran     bool           // the first run happened (even if it exited early)
	closure bool           // fn is the returned function: call it with conf
}

// newState prepares a state: the PDK, a watchdog context and the sandbox.
func (s *Set) newState() (st *state, err error) {
	s.mu.Lock()
	pid := s.settings.State.WorkerPID + s.created
	s.created++
	s.mu.Unlock()

	b, ok := s.settings.Recycler.take()
	if !ok {
		opts := s.settings.State
		opts.WorkerPID = pid
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("functions: preparing a Lua state: %v", r)
			}
		}()
		L := s.vm.newState(opts)
		b = recycled{L: L, sandbox: newSandbox(L, s.settings.UntrustedLua, s.settings.SandboxRequires, s.settings.SandboxEnvironment)}
	}
	st = &state{
		L:       b.L,
		slots:   make([]slot, s.nslots),
		confs:   make([]*lua.LTable, s.nconfs),
		sandbox: b.sandbox,
		max:     s.settings.MaxExecutionTime,
	}
	st.wd.max = s.settings.MaxExecutionTime
	if s.settings.MaxCallMemory > 0 {
		st.wd.maxGrowth = uint64(s.settings.MaxCallMemory)
	}
	st.arm()
	s.wds.add(&st.wd)
	st.lease = Lease{set: s, st: st}
	return st, nil
}

// arm gives the state a fresh context and arms the watchdog with it. The
// context is created once per state (and again only after the watchdog
// fired) and cancelled only by the watchdog; each call just stores its
// start time for the set's watchdog ticker and clears it.
// gopher-lua can only be interrupted through a context, which costs a
// channel poll per instruction whatever the context is;
// BenchmarkWatchdogInterleaved compares this with no limit and with a
// context.WithTimeout per call (numbers in the package README).
func (st *state) arm() {
	ctx, cancel := context.WithCancel(context.Background())
	st.ctx, st.cancel = ctx, cancel
	st.L.SetContext(ctx)
	st.wd.arm(cancel)
	st.fired = false
}

func (st *state) close() {
	st.wd.close()
	st.cancel()
	st.L.Close()
}

// lease takes an idle state (or prepares one) and binds the request to it.
func (s *Set) lease(ex lualib.Exchange) (*Lease, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errSetClosed
	}
	var st *state
	if n := len(s.idle); n > 0 {
		st = s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
	}
	s.mu.Unlock()
	if st == nil {
		var err error
		if st, err = s.newState(); err != nil {
			return nil, err
		}
	}
	s.vm.bind(st.L, ex)
	st.lease.active = true
	return &st.lease, nil
}

// release unbinds the request and pools the state, or closes it when it is
// broken, the set is closed or enough states are idle already.
func (s *Set) release(st *state) {
	s.vm.unbind(st.L)
	st.L.SetTop(0)
	if !st.broken {
		s.mu.Lock()
		if !s.closed && len(s.idle) < s.settings.MaxIdleStates {
			s.idle = append(s.idle, st)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	s.retire(st)
}

// retire takes a state out of the set: to the recycler when there is one
// and the state is sound, else closed.
func (s *Set) retire(st *state) {
	if !st.broken && s.settings.Recycler != nil {
		st.wd.close()
		st.cancel() // the next set gives L a context of its own (arm)
		if s.settings.Recycler.put(recycled{L: st.L, sandbox: st.sandbox}) {
			return
		}
	}
	st.close()
}

// idleStates reports how many states wait in the pool (tests, metrics).
func (s *Set) idleStates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.idle)
}
