// Package functions runs Kong's serverless plugins: pre-function,
// post-function and serverless-functions (Lua, compiled once per snapshot and
// run on pooled gopher-lua states) and aws-lambda.
package functions

import (
	"log/slog"
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
}

// Kinds returns the plugin kinds this package implements, for the gateway's
// registry: pre-function (1000000), post-function (-1000),
// serverless-functions (1000000). Their schemas compile every Lua entry
// (inline source or a .lua file path, DECISIONS row 2) and store a *Config in
// declarative.Plugin.Config.
func Kinds(s Settings) []declarative.PluginKind { panic("TODO: functions") }

// Set holds every compiled function of one snapshot and the pool of prepared
// states that run them. Built off the request path; closed when the snapshot
// retires (after its last request).
type Set struct{}

// NewSet builds the set for a config (nil-safe when it has no Lua plugins).
func NewSet(cfg *declarative.Config, s Settings) (*Set, error) { panic("TODO: functions") }

// Close releases the pooled states.
func (s *Set) Close() {}

// Handler returns the runner for one pre/post-function plugin instance of
// this set's config, or nil when p is not a Lua plugin.
func (s *Set) Handler(p *declarative.Plugin) *Handler { panic("TODO: functions") }

// Handler runs one plugin instance's functions.
type Handler struct{}

// Phases is the mask of phases for which this instance has functions.
func (h *Handler) Phases() lualib.Phase { panic("TODO: functions") }

// Run runs the instance's functions for the phase. *lease is taken from the
// set on first use and kept for the whole request; the gateway calls
// (*Lease).Release after the request's last Lua phase. A recorded exit is
// seen through ex.Exited(); a Lua runtime error is returned (with chunk name,
// line and traceback) and the gateway answers it as Kong does for the phase.
func (h *Handler) Run(phase lualib.Phase, ex lualib.Exchange, lease **Lease) error {
	panic("TODO: functions")
}

// Lease is one pooled state held by one request.
type Lease struct{}

// Release unbinds the request and returns the state to its pool (or
// discards it after a timeout or a limit breach).
func (l *Lease) Release() {}
