// Package functions runs Kong's serverless plugins: pre-function,
// post-function and serverless-functions (Lua, compiled once per snapshot and
// run on pooled gopher-lua states) and aws-lambda.
package functions

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"luagate/declarative"
	"luagate/lualib"
)

// Settings are the node-wide settings the Lua runtime honours.
type Settings struct {
	UntrustedLua       string        // "sandbox" (default), "on", "off"
	SandboxRequires    []string      // untrusted_lua_sandbox_requires (adds to the default list)
	SandboxEnvironment []string      // untrusted_lua_sandbox_environment
	MaxExecutionTime   time.Duration // lua_max_execution_time per Lua call (default 5s)
	Logger             *slog.Logger
	State              lualib.StateOptions // template for each pooled state (WorkerPID is set per state)
	// MaxIdleStates caps the prepared states a set keeps between requests
	// (default 128); more are created on demand and closed when returned.
	MaxIdleStates int
	// MaxCallMemory stops a Lua call (like a timeout, discarding its state)
	// when the Go heap grows by more than this many bytes while it runs,
	// checked every 10ms of the call (default 256 MiB; negative: no check).
	// Single builtin calls are bounded by State.MaxStringSize instead.
	MaxCallMemory int64
	// Recycler, when set, hands states from retired sets to new ones
	// (recycle.go); nil: every set builds its own.
	Recycler *Recycler
}

// Defaults applied by NewSet.
const (
	DefaultMaxExecutionTime = 5 * time.Second
	DefaultMaxIdleStates    = 128
	DefaultCallStackSize    = 200
	DefaultRegistrySize     = 1024
	DefaultRegistryMaxSize  = 256 * 1024
	DefaultMaxCallMemory    = 256 << 20
)

// withDefaults returns s with every unset field defaulted, or an error for
// an invalid untrusted_lua value.
func (s Settings) withDefaults() (Settings, error) {
	switch s.UntrustedLua {
	case "":
		s.UntrustedLua = "sandbox"
	case "sandbox", "on", "off":
	default:
		return s, fmt.Errorf("untrusted_lua has an invalid value: %q", s.UntrustedLua)
	}
	if s.MaxExecutionTime <= 0 {
		s.MaxExecutionTime = DefaultMaxExecutionTime
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.MaxIdleStates <= 0 {
		s.MaxIdleStates = DefaultMaxIdleStates
	}
	if s.MaxCallMemory == 0 {
		s.MaxCallMemory = DefaultMaxCallMemory
	}
	if s.State.CallStackSize <= 0 {
		s.State.CallStackSize = DefaultCallStackSize
	}
	if s.State.RegistrySize <= 0 {
		s.State.RegistrySize = DefaultRegistrySize
	}
	if s.State.RegistryMaxSize <= 0 {
		s.State.RegistryMaxSize = DefaultRegistryMaxSize
	}
	if s.State.WorkerPID <= 0 {
		s.State.WorkerPID = os.Getpid()
	}
	if s.State.Logger == nil {
		s.State.Logger = s.Logger
	}
	return s, nil
}

// Set holds every compiled function of one snapshot and the pool of prepared
// states that run them. Built off the request path; closed when the snapshot
// retires (after its last request).
type Set struct {
	settings Settings
	vm       vm
	log      *slog.Logger
	handlers map[*declarative.Plugin]*Handler
	nslots   int // functions in the set: one slot per function per state
	nconfs   int // plugin instances: one conf table per instance per state

	wds *watchdogs // the states' shared watchdog ticker (watchdog.go)

	mu      sync.Mutex
	idle    []*state
	created int // states created so far (gives each its WorkerPID)
	closed  bool
}

// NewSet builds the set for a config (nil-safe when it has no Lua plugins).
func NewSet(cfg *declarative.Config, s Settings) (*Set, error) {
	return newSet(cfg, s, lualibVM())
}

func newSet(cfg *declarative.Config, s Settings, v vm) (*Set, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	set := &Set{settings: s, vm: v, log: s.Logger, handlers: map[*declarative.Plugin]*Handler{},
		wds: newWatchdogs(s.MaxExecutionTime)}
	if cfg == nil {
		return set, nil
	}
	for _, p := range cfg.Plugins {
		c, ok := p.Config.(*Config)
		if !ok || len(c.Functions) == 0 {
			continue
		}
		if s.UntrustedLua == "off" {
			return nil, fmt.Errorf("%s: plugin '%s' cannot run: %s", p.Path0, p.Name, msgOff)
		}
		h := &Handler{set: set, name: p.Name, id: p.ID, conf: set.nconfs, raw: p.RawConfig, phases: c.phases}
		set.nconfs++
		for _, fn := range c.Functions {
			i := phaseIndex(fn.Phase)
			h.byPhase[i] = append(h.byPhase[i], fnRef{fn: fn, slot: set.nslots})
			set.nslots++
		}
		set.handlers[p] = h
	}
	if set.nslots > 0 {
		// One prepared state up front: the first request does not pay for it,
		// and a PDK that cannot build a state fails the reload, not a request.
		st, err := set.newState()
		if err != nil {
			return nil, err
		}
		set.idle = append(set.idle, st)
	}
	return set, nil
}

// Close releases the pooled states. States still leased are closed when
// their lease is released.
func (s *Set) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	s.wds.close()
	for _, st := range idle {
		s.retire(st)
	}
}

// Handler returns the runner for one pre/post-function plugin instance of
// this set's config, or nil when p is not a Lua plugin.
func (s *Set) Handler(p *declarative.Plugin) *Handler {
	if s == nil {
		return nil
	}
	return s.handlers[p]
}

// Handler runs one plugin instance's functions.
type Handler struct {
	set     *Set
	name    string // plugin name, for SetPlugin and logs
	id      string // instance id
	conf    int    // index of this instance's conf table in each state
	raw     map[string]any
	phases  lualib.Phase
	byPhase [16][]fnRef
}

// fnRef is one function of a handler and its slot in every state.
type fnRef struct {
	fn   *Function
	slot int
}

// Phases is the mask of phases for which this instance has functions.
func (h *Handler) Phases() lualib.Phase { return h.phases }

// Run runs the instance's functions for the phase. *lease is taken from the
// set on first use and kept for the whole request; the gateway calls
// (*Lease).Release after the request's last Lua phase. A recorded exit is
// seen through ex.Exited(); a Lua runtime error is returned as a
// *RuntimeError (plugin, phase, chunk name and line, traceback) and not
// logged: the gateway logs it once and answers it as Kong does for the
// phase.
func (h *Handler) Run(phase lualib.Phase, ex lualib.Exchange, lease **Lease) error {
	fns := h.byPhase[phaseIndex(phase)]
	if len(fns) == 0 {
		return nil
	}
	l := *lease
	if l == nil {
		var err error
		if l, err = h.set.lease(ex); err != nil {
			return err
		}
		*lease = l
	}
	st, v := l.st, h.set.vm
	v.setPlugin(st.L, h.name, h.id)
	v.setPhase(st.L, phase)
	for _, r := range fns {
		err := st.run(h, r)
		if err == nil {
			continue
		}
		if v.isExit(err) {
			return nil // the answer is recorded on ex; later functions of the phase are skipped
		}
		// not logged here: the caller logs it once, with the request's
		// route and id (gateway logPluginError)
		return st.runtimeError(h, r.fn, phase, err)
	}
	return nil
}

// Lease is one pooled state held by one request.
type Lease struct {
	set    *Set
	st     *state
	active bool
}

// Release unbinds the request and returns the state to its pool (or
// discards it after a timeout or a limit breach).
func (l *Lease) Release() {
	if l == nil || !l.active {
		return
	}
	l.active = false
	l.set.release(l.st)
}
