package lualib

import (
	"errors"
	"log/slog"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// StateOptions configure a prepared state. One state serves one request at a
// time; the functions package pools them per snapshot.
type StateOptions struct {
	// WorkerPID is what ngx.worker.pid() returns in this state (distinct per state).
	WorkerPID int
	// WorkerID / WorkerCount for ngx.worker.id()/count().
	WorkerID, WorkerCount int
	// NodeID and Hostname for kong.node.*.
	NodeID, Hostname string
	// Version is the Kong-compatible version string for kong.version ("3.9.1").
	Version string
	// Shared holds ngx.shared dicts; it outlives snapshots (gateway.Runtime owns it).
	Shared *SharedDicts
	// Configuration is the (already redacted) kong.configuration table source.
	Configuration map[string]any
	// LogLevel: kong.log lines below it are dropped without formatting.
	// The zero value (LevelStderr) means Kong's default, notice.
	LogLevel Level
	// Logger receives kong.log/ngx.log lines when the Exchange is nil (e.g. tests).
	Logger *slog.Logger
	// Trusted reports whether an IP is in trusted_ips (kong.ip.is_trusted).
	Trusted func(ip string) bool
	// CallStackSize and RegistryMaxSize bound the state (DECISIONS row 10).
	// When RegistrySize and RegistryMaxSize are both 0 the registry starts at
	// 1024 slots and may grow to 256Ki; CallStackSize 0 is gopher-lua's 256.
	CallStackSize, RegistrySize, RegistryMaxSize int
	// MaxStringSize bounds the string one builtin call may produce
	// (string.rep, string.format, string.gsub, table.concat, cjson.encode,
	// ngx.encode_base64, ngx.escape_uri, ngx.encode_args, ngx.re.gsub):
	// past it the call raises "string length overflow" instead of
	// allocating. 0 means DefaultMaxStringSize (16 MiB); negative: no bound.
	MaxStringSize int
	// Net holds the resty.redis keepalive pools and resty.http's transport;
	// it outlives snapshots (gateway.Runtime owns it). nil: a process-wide default.
	Net *NetPools
	// OnIO, when set, is called after each resty.redis/resty.http network
	// call (kind "redis" or "http") with its duration and transport error.
	OnIO func(kind string, d time.Duration, err error)
	// Network, when set, is asked before resty.redis/resty.http use the
	// network (kind "redis" or "http"); an error is raised in Lua instead
	// (luagate request's dry run: "not available in a dry run").
	Network func(kind string) error
}

// NewState returns a state with the Lua base libraries Kong's sandbox needs
// opened, and kong, ngx, cjson, bit, the resty modules and LuaJIT extras
// registered. Globals of the state form the "real" _G; sandboxes are built on
// top of it by the functions package with SandboxBase.
//
// Opened: base (pcall, xpcall, print, tostring replaced: see ErrExit; print goes to
// the log at notice; tostring uses %.14g), table, string, math, os (without exit, execute,
// remove, rename, tmpname, setenv, setlocale), coroutine (resume re-raises
// the exit sentinel) and package (for require). io and debug are not opened.
func NewState(opts StateOptions) *lua.LState {
	return newState(opts)
}

// Bind attaches a request to a state before any phase runs for it. It must
// not allocate Lua tables per request beyond what the request itself creates
// (kong.ctx.shared and ngx.ctx are created lazily on first access).
func Bind(L *lua.LState, ex Exchange) {
	p := pdkOf(L)
	p.ex = ex
	p.phase = 0
}

// Unbind detaches the request: clears kong.ctx.*, ngx.ctx and every other
// per-request value so the state can serve the next request.
func Unbind(L *lua.LState) {
	p := pdkOf(L)
	closeRequestIO(L) // cosockets left open by the request, as nginx closes them
	p.ex = nil
	p.phase = 0
	p.plugin, p.instance = "", ""
	p.shared, p.ngxCtx = nil, nil
	clear(p.pluginCtx)
	p.out = nil
	clear(p.serialize)
	p.serialize = p.serialize[:0]
	p.consumer, p.credential, p.route, p.service = nil, nil, nil, nil
}

// SetPlugin tells the PDK which plugin instance runs next (for kong.ctx.plugin,
// which is per plugin instance, and for the [plugin] tag of kong.log lines).
func SetPlugin(L *lua.LState, name, instanceID string) {
	p := pdkOf(L)
	p.plugin, p.instance = name, instanceID
}

// SetPhase is called by the runner before each phase (phase checks read it).
func SetPhase(L *lua.LState, p Phase) { pdkOf(L).phase = p }

// ErrExit is the Go-side identity of the early-exit sentinel raised by
// kong.response.exit, kong.response.error and ngx.exit. The answer itself is
// recorded on the Exchange (Exit) before the sentinel is raised; the runner
// recognises the sentinel with IsExit and stops the phase. pcall/xpcall and
// coroutine.resume in Lua re-raise it so user code cannot swallow an exit.
//
// What is recorded:
//   - kong.response.exit/error: Exit(status, body, headers, SourceExit);
//   - ngx.exit(s) after ngx.say/ngx.print: the output with ngx.status, SourceError;
//   - ngx.exit(s >= 400) with nothing sent: Kong's error-handler page (or
//     nginx's default page for codes Kong has no message for), SourceError;
//   - ngx.exit(100 <= s < 400): an empty answer with status s, SourceError;
//   - ngx.exit(ngx.OK) and other codes below 100: nothing; the sentinel only
//     stops the remaining functions of the phase (ex.Exited() stays false).
//
// ngx.say/ngx.print without ngx.exit also record their output (SourceError)
// as they go, so a function that prints and returns answers the request.
var ErrExit = errors.New("lualib: early exit")

// IsExit reports whether err (as returned by L.PCall) is the exit sentinel.
func IsExit(err error) bool { return isExit(err) }

// SharedDicts is the store behind ngx.shared.DICT (TTL'd key/value dicts,
// safe for concurrent use by all states). Created once per process.
type SharedDicts struct {
	impl any // owned by the lualib modules work
}
