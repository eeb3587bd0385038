package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"luagate/declarative"
	"luagate/gateway/metrics"
)

// Gateway is one luagate node: the runtime, the current snapshot and the
// listeners. Create it with New, load a config (LoadFile or Apply), then Run.
type Gateway struct {
	settings Settings
	logger   *slog.Logger
	rt       *Runtime
	cur      atomic.Pointer[Snapshot]
	loaded   atomic.Bool // a config has been applied
	draining atomic.Bool

	applyMu sync.Mutex // serialises Apply
	lf      luaFactory

	pathMu sync.Mutex
	path   string // the file LoadFile loaded last (for Reload)

	reload reloadState // the reload loop (reload.go)

	proxyListen, adminListen, statusListen []Listen

	// AdminHandler, when set before Run, serves the admin listener for every
	// path except /debug/pprof/ (the Admin API plugs in here; wrap a
	// net/http handler with fasthttpadaptor.NewFastHTTPHandler). When nil
	// the admin listener serves GET / and GET /status.
	AdminHandler fasthttp.RequestHandler

	tls *tlsState // default certificates, header limits (tls.go)

	mu        sync.Mutex
	listeners []*listener
	started   chan struct{}

	// noWatch turns the file watcher off (tests that count reloads).
	noWatch bool
}

// New validates the settings and creates a gateway serving an empty
// configuration (every request gets 404) until one is applied.
func New(settings Settings, logger *slog.Logger) (*Gateway, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rt, err := NewRuntime(settings, logger)
	if err != nil {
		return nil, err
	}
	if rt.accessLog, err = metrics.OpenAccessLog(settings.AccessLog, settings.LogFormat == "json"); err != nil {
		return nil, err
	}
	g := &Gateway{settings: settings, logger: logger, rt: rt, lf: defaultLuaFactory, started: make(chan struct{})}
	if g.tls, err = newTLSState(&settings); err != nil {
		return nil, err
	}
	if g.proxyListen, err = ParseListen("proxy_listen", settings.ProxyListen); err != nil {
		return nil, err
	}
	if g.adminListen, err = ParseListen("admin_listen", settings.AdminListen); err != nil {
		return nil, err
	}
	if g.statusListen, err = ParseListen("status_listen", settings.StatusListen); err != nil {
		return nil, err
	}
	empty, err := build(&declarative.Config{}, rt, g.lf)
	if err != nil {
		return nil, fmt.Errorf("building the empty configuration: %w", err)
	}
	g.cur.Store(empty)
	return g, nil
}

// Runtime returns the process-wide state (for the Admin API and metrics).
func (g *Gateway) Runtime() *Runtime { return g.rt }

// Logger returns the gateway's logger.
func (g *Gateway) Logger() *slog.Logger { return g.logger }

// Registry returns the plugin registry for the gateway's settings (built once).
func (g *Gateway) Registry() declarative.Registry {
	return g.rt.registry()
}

// Current returns the snapshot serving new requests. The caller must not
// keep it beyond a short use (it may close after a swap).
func (g *Gateway) Current() *Snapshot { return g.cur.Load() }

// acquire returns the current snapshot with a reference for one request.
func (g *Gateway) acquire() *Snapshot {
	for {
		s := g.cur.Load()
		if s.acquire() {
			return s
		}
		// s was swapped out and closed between Load and acquire: retry
	}
}

// Apply builds a snapshot from cfg and makes it current. The previous one
// closes after its last in-flight request. A config that fails to build
// leaves the running one untouched.
func (g *Gateway) Apply(cfg *declarative.Config) error {
	if cfg == nil {
		return errors.New("gateway: Apply(nil)")
	}
	g.applyMu.Lock()
	defer g.applyMu.Unlock()
	s, err := build(cfg, g.rt, g.lf)
	if err != nil {
		return err
	}
	old := g.cur.Swap(s)
	g.loaded.Store(true)
	g.rt.configApplied(s) // metrics (observe.go)
	if old != nil {
		old.Close()
	}
	for _, w := range cfg.Warnings {
		g.logger.Warn(w)
	}
	g.logger.Info("configuration applied", "configuration_hash", s.hash, "services", len(cfg.Services), "routes", len(cfg.Routes), "plugins", len(cfg.Plugins))
	return nil
}

// LoadFile loads and validates a declarative config file and applies it.
// On any error the running configuration stays.
func (g *Gateway) LoadFile(path string) error {
	cfg, err := declarative.LoadFile(path, g.Registry())
	if err != nil {
		return err
	}
	if err := g.Apply(cfg); err != nil {
		return err
	}
	g.pathMu.Lock()
	g.path = path
	g.pathMu.Unlock()
	return nil
}

// Reload is in reload.go (it goes through the reload loop).

// Check builds (and discards) a snapshot of cfg with the given settings:
// the router, every Lua function and the upstream targets. It is the dry run
// behind "luagate config parse".
func Check(cfg *declarative.Config, settings Settings) error {
	rt, err := NewRuntime(settings, nil)
	if err != nil {
		return err
	}
	s, err := Build(cfg, rt)
	if err != nil {
		return err
	}
	s.Close()
	return nil
}
