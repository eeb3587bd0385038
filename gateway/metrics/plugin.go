package metrics

import (
	"sort"

	"luagate/declarative"
	"luagate/functions"
	"luagate/lualib"
)

// The prometheus plugin kind (spec 6).
const (
	PluginName     = "prometheus"
	PluginPriority = 13
)

// PluginConfig is a validated prometheus config: every switch defaults to
// false.
type PluginConfig struct {
	PerConsumer           bool
	StatusCodeMetrics     bool
	LatencyMetrics        bool
	BandwidthMetrics      bool
	UpstreamHealthMetrics bool // global: on if any instance enables it
	AIMetrics             bool // accepted; luagate has no AI plugins, so nothing is recorded
	WasmMetrics           bool // accepted; luagate runs no filters, so nothing is recorded
}

var pluginFields = []string{
	"per_consumer", "status_code_metrics", "latency_metrics", "bandwidth_metrics",
	"upstream_health_metrics", "ai_metrics", "wasm_metrics",
}

// Kinds returns the prometheus kind for the gateway's registry. Its schema
// returns a *Plugin, the instance's runner.
func Kinds() []declarative.PluginKind {
	return []declarative.PluginKind{{
		Name:       PluginName,
		Priority:   PluginPriority,
		Schema:     pluginSchema{},
		NoConsumer: true, // Kong: consumer = typedefs.no_consumer
	}}
}

type pluginSchema struct{}

// Validate checks cfg against Kong's prometheus schema (booleans only,
// unknown fields rejected), fills the defaults into cfg and returns a
// *Plugin.
func (pluginSchema) Validate(cfg map[string]any, _ *declarative.PluginEnv) (any, []*declarative.FieldError) {
	var errs []*declarative.FieldError
	known := make(map[string]bool, len(pluginFields))
	for _, f := range pluginFields {
		known[f] = true
	}
	var unknown []string
	for k := range cfg {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, &declarative.FieldError{Path: k, Message: "unknown field"})
	}
	var vals [7]bool
	for i, f := range pluginFields {
		v, ok := cfg[f]
		if !ok || v == nil {
			if cfg != nil {
				cfg[f] = false
			}
			continue
		}
		b, ok := v.(bool)
		if !ok {
			errs = append(errs, &declarative.FieldError{Path: f, Message: "expected a boolean"})
			continue
		}
		vals[i] = b
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &Plugin{Config: PluginConfig{
		PerConsumer:           vals[0],
		StatusCodeMetrics:     vals[1],
		LatencyMetrics:        vals[2],
		BandwidthMetrics:      vals[3],
		UpstreamHealthMetrics: vals[4],
		AIMetrics:             vals[5],
		WasmMetrics:           vals[6],
	}}, nil
}

// Exchange is what the prometheus plugin needs from a request besides
// lualib.Exchange; the gateway's request implements it.
type Exchange interface {
	// MetricsRoute is the matched route's handle, nil when no route matched.
	MetricsRoute() *Route
	// MetricsSample describes the finished request; the byte counts are
	// computed only when bandwidth is set.
	MetricsSample(bandwidth bool) Sample
}

// Plugin is one prometheus instance: its work is all in log, and only for
// requests that matched a route.
type Plugin struct {
	Config PluginConfig
}

// Phases: prometheus runs in log only.
func (p *Plugin) Phases() lualib.Phase { return lualib.PhaseLog }

// Run implements the gateway's runner contract (the Lua lease is ignored).
func (p *Plugin) Run(phase lualib.Phase, ex lualib.Exchange, _ **functions.Lease) error {
	if phase != lualib.PhaseLog {
		return nil
	}
	mx, ok := ex.(Exchange)
	if !ok {
		return nil
	}
	p.Log(mx)
	return nil
}

// Log records the request (Kong's handler.log and exporter.log).
func (p *Plugin) Log(ex Exchange) {
	c := &p.Config
	if !c.StatusCodeMetrics && !c.LatencyMetrics && !c.BandwidthMetrics {
		return
	}
	r := ex.MetricsRoute()
	if r == nil {
		return
	}
	s := ex.MetricsSample(c.BandwidthMetrics)
	r.Observe(Flags{PerConsumer: c.PerConsumer, StatusCode: c.StatusCodeMetrics, Latency: c.LatencyMetrics, Bandwidth: c.BandwidthMetrics}, &s)
}

// UpstreamHealthEnabled reports whether any enabled prometheus instance of
// cfg enables upstream_health_metrics.
func UpstreamHealthEnabled(cfg *declarative.Config) bool {
	if cfg == nil {
		return false
	}
	for _, pl := range cfg.Plugins {
		if pl == nil || !pl.Enabled || pl.Name != PluginName {
			continue
		}
		if p, ok := pl.Config.(*Plugin); ok && p.Config.UpstreamHealthMetrics {
			return true
		}
	}
	return false
}
