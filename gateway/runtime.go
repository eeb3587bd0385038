package gateway

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/netip"
	"net/textproto"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"luagate/declarative"
	"luagate/functions"
	"luagate/gateway/balancer"
	"luagate/gateway/metrics"
	"luagate/lualib"
)

// Runtime holds what outlives snapshots: settings-derived values, the
// upstream connection pools, the request id generator, the Lua shared dicts
// and the node counters. One per process (per Gateway).
type Runtime struct {
	settings Settings
	logger   *slog.Logger
	level    levelInfo
	pool     *clientPool
	ids      *idGen
	trusted  []netip.Prefix
	flags    headerFlags
	shared   *lualib.SharedDicts
	dictSize map[string]int // ngx.shared zones and their capacities
	nodeID   string
	hostname string
	// realIPHeader is the real_ip_header name in canonical form (found
	// over HTTP/2 too, where names are not normalised), "" for
	// proxy_protocol.
	realIPHeader string

	// balancers holds the upstream balancers and target health across
	// reloads (gateway/balancer; balance.go).
	balancers *balancer.Registry
	// luaStates hands the Lua states of a retired snapshot's function set
	// to the next one: a reload does not rebuild them (functions/recycle.go).
	luaStates *functions.Recycler

	regOnce sync.Once
	reg     declarative.Registry

	// metrics is the node's Prometheus registry (GET /metrics); accessLog
	// is nil when the access log is off (gateway.New opens it).
	metrics   *metrics.Metrics
	accessLog *metrics.AccessLog

	// counters for GET /status
	accepted, active, handled atomic.Int64
	inflight                  atomic.Int64 // requests being served (nginx "writing")
	requests                  atomic.Int64
}

// NewRuntime validates the settings and builds the process-wide state.
func NewRuntime(s Settings, logger *slog.Logger) (*Runtime, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	trusted, _ := parseTrusted(s.TrustedIPs)
	flags, _ := parseHeaderFlags(s.Headers, s.HeadersUpstream)
	lvl, _ := parseLevel(s.LogLevel)
	host, _ := os.Hostname()
	rt := &Runtime{
		settings:  s,
		logger:    logger,
		level:     lvl,
		pool:      newClientPool(s.UpstreamKeepaliveIdleTimeout),
		luaStates: functions.NewRecycler(0),
		ids:       newIDGen(),
		trusted:   trusted,
		flags:     flags,
		dictSize:  sharedDictSizes(s.LuaSharedDicts),
		nodeID:    newUUID(),
		hostname:  host,
	}
	rt.shared = lualib.NewSharedDicts(rt.dictSize)
	if s.RealIPHeader != "proxy_protocol" {
		rt.realIPHeader = textproto.CanonicalMIMEHeaderKey(s.RealIPHeader)
	}
	rt.metrics = metrics.New(metrics.Options{NodeID: rt.nodeID, Version: KongVersion, Node: rt.nodeStats, Logger: logger})
	rt.balancers = balancer.NewRegistry(balancer.Options{Logger: logger.With("component", "balancer")})
	rt.metrics.SetTargetHealthSource(rt.targetHealth) // kong_upstream_target_health (balance.go)
	return rt, nil
}

// Metrics is the node's metrics registry.
func (rt *Runtime) Metrics() *metrics.Metrics { return rt.metrics }

// registry is the plugin registry for the runtime's settings (built once).
func (rt *Runtime) registry() declarative.Registry {
	rt.regOnce.Do(func() { rt.reg = Registry(rt.settings) })
	return rt.reg
}

// Settings returns the settings the runtime was built with.
func (rt *Runtime) Settings() Settings { return rt.settings }

// NodeID is this node's id (kong.node.get_id, GET /).
func (rt *Runtime) NodeID() string { return rt.nodeID }

// isTrusted reports whether ip is covered by trusted_ips.
func (rt *Runtime) isTrusted(ip string) bool {
	if len(rt.trusted) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return rt.isTrustedAddr(a)
}

func (rt *Runtime) isTrustedAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range rt.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (rt *Runtime) workerCount() int {
	if rt.settings.LuaStates > 0 {
		return rt.settings.LuaStates
	}
	return runtime.GOMAXPROCS(0)
}

// stateOptions is the template for every pooled Lua state.
func (rt *Runtime) stateOptions() lualib.StateOptions {
	return lualib.StateOptions{
		WorkerCount:   rt.workerCount(),
		NodeID:        rt.nodeID,
		Hostname:      rt.hostname,
		Version:       KongVersion,
		Shared:        rt.shared,
		Configuration: rt.configurationTable(),
		LogLevel:      rt.level.lua,
		Logger:        rt.logger,
		Trusted:       rt.isTrusted,
		OnIO:          rt.metrics.ObserveIO,
	}
}

// configurationTable is kong.configuration: the settings with Kong's key
// names (nothing secret is in them).
func (rt *Runtime) configurationTable() map[string]any {
	s := rt.settings
	strs := func(v []string) []any {
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x
		}
		return out
	}
	return map[string]any{
		"database":                          "off",
		"declarative_config":                s.DeclarativeConfig,
		"proxy_listen":                      strs(s.ProxyListen),
		"admin_listen":                      strs(s.AdminListen),
		"status_listen":                     strs(s.StatusListen),
		"log_level":                         s.LogLevel,
		"trusted_ips":                       strs(s.TrustedIPs),
		"real_ip_header":                    s.RealIPHeader,
		"real_ip_recursive":                 boolStr(s.RealIPRecursive),
		"headers":                           strs(s.Headers),
		"headers_upstream":                  strs(s.HeadersUpstream),
		"error_default_type":                s.ErrorDefaultType,
		"untrusted_lua":                     s.UntrustedLua,
		"untrusted_lua_sandbox_requires":    strs(s.UntrustedLuaSandboxRequires),
		"untrusted_lua_sandbox_environment": strs(s.UntrustedLuaSandboxEnvironment),
		"router_flavor":                     "traditional_compatible",
		"role":                              "traditional",
	}
}

func boolStr(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
