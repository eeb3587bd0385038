package metrics

import (
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// KongLatencyBuckets are kong_kong_latency_ms's buckets (ms, spec 6).
func KongLatencyBuckets() []float64 {
	return []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000}
}

// UpstreamLatencyBuckets are kong_upstream_latency_ms's and
// kong_request_latency_ms's buckets (ms, spec 6).
func UpstreamLatencyBuckets() []float64 {
	return []float64{25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000}
}

// LuaBuckets are the buckets of the luagate_* durations (seconds): from
// 50µs (a small function) to 10s (past lua_max_execution_time's default of
// 5s).
func LuaBuckets() []float64 {
	return []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// Workspace is the only workspace of a DB-less node.
const Workspace = "default"

// Subsystem is the value of the subsystem/kong_subsystem labels.
const Subsystem = "http"

// ContentType is what GET /metrics answers with for the text format (spec 6).
const ContentType = "text/plain; charset=UTF-8"

// Options configure New.
type Options struct {
	NodeID  string // kong_node_info's node_id and the node_id label of the node metrics
	Version string // kong_node_info's version (the Kong-compatible version)
	// Node reads the node counters at scrape time; nil reports zeros.
	Node   func() NodeStats
	Logger *slog.Logger
}

// NodeStats are the node counters read at every scrape (nginx's
// stub_status equivalents and memory).
type NodeStats struct {
	ConnectionsAccepted, ConnectionsHandled, ConnectionsActive int64
	ConnectionsReading, ConnectionsWriting, ConnectionsWaiting int64
	TotalRequests                                              int64
	// LuaVMBytes is the memory of the process's Lua states (Go heap in use:
	// gopher-lua states live on it), reported for the process's pid.
	LuaVMBytes int64
	// SharedDicts are the ngx.shared zones with their capacity; Used is
	// reported only when UsedKnown.
	SharedDicts []SharedDict
}

// SharedDict is one ngx.shared zone.
type SharedDict struct {
	Name      string
	Capacity  int64
	Used      int64
	UsedKnown bool
}

// TargetHealth is one upstream target address's health for
// kong_upstream_target_health.
type TargetHealth struct {
	Upstream, Target, Address string
	State                     string // healthchecks_off, healthy, unhealthy, dns_error
}

// targetHealthStates are kong_upstream_target_health's states, in Kong's order.
var targetHealthStates = [...]string{"healthchecks_off", "healthy", "unhealthy", "dns_error"}

// Metrics is the registry of one gateway Runtime and every metric luagate
// exports. It outlives snapshots: nothing registers per reload. Safe for
// concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	opts   Options
	logger *slog.Logger

	// Kong's prometheus plugin (spec 6).
	httpRequests   *prometheus.CounterVec   // service, route, code, source, workspace, consumer
	kongLatency    *prometheus.HistogramVec // service, route, workspace
	upLatency      *prometheus.HistogramVec
	reqLatency     *prometheus.HistogramVec
	bandwidth      *prometheus.CounterVec // service, route, direction, workspace, consumer
	upstreamHealth *prometheus.Desc

	// luagate's own.
	reloads          *prometheus.CounterVec // result
	lastReloadOK     prometheus.Gauge
	lastReloadSuccTS prometheus.Gauge
	configInfo       *prometheus.GaugeVec // configuration_hash
	luaDuration      *prometheus.HistogramVec
	luaErrors        *prometheus.CounterVec
	luaInUse         prometheus.Gauge
	luaLeases        prometheus.Counter
	ioDuration       *prometheus.HistogramVec // kind, result
	lambdaDuration   *prometheus.HistogramVec // function, result
	lambdaErrors     *prometheus.CounterVec   // function

	handler fasthttp.RequestHandler

	mu            sync.Mutex
	configHash    string
	healthEnabled bool
	healthSource  func() []TargetHealth
	noRoute       *Route
}

// New creates the registry with every always-on collector registered.
func New(o Options) *Metrics {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: o, logger: o.Logger}
	reqLabels := []string{"service", "route", "workspace"}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kong_http_requests_total", Help: "HTTP status codes per consumer/service/route in Kong",
	}, []string{"service", "route", "code", "source", "workspace", "consumer"})
	m.kongLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kong_kong_latency_ms", Help: "Latency added by Kong and enabled plugins for each service/route in Kong",
		Buckets: KongLatencyBuckets(),
	}, reqLabels)
	m.upLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kong_upstream_latency_ms", Help: "Latency added by upstream response for each service/route in Kong",
		Buckets: UpstreamLatencyBuckets(),
	}, reqLabels)
	m.reqLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kong_request_latency_ms", Help: "Total latency incurred during requests for each service/route in Kong",
		Buckets: UpstreamLatencyBuckets(),
	}, reqLabels)
	m.bandwidth = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kong_bandwidth_bytes", Help: "Total bandwidth (ingress/egress) throughput in bytes",
	}, []string{"service", "route", "direction", "workspace", "consumer"})
	m.upstreamHealth = prometheus.NewDesc("kong_upstream_target_health",
		"Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.",
		[]string{"upstream", "target", "address", "state", "subsystem"}, nil)

	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "luagate_config_reloads_total", Help: "Configuration reloads that loaded a config, by result (success or failure); unchanged files are not counted.",
	}, []string{"result"})
	m.lastReloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "luagate_config_last_reload_successful", Help: "Whether the last configuration reload attempt succeeded (1) or failed (0).",
	})
	m.lastReloadSuccTS = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "luagate_config_last_reload_success_timestamp_seconds", Help: "Unix time of the last configuration applied (initial load or reload).",
	})
	m.configInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "luagate_config_info", Help: "The configuration serving requests (always 1), labelled with its configuration_hash.",
	}, []string{"configuration_hash"})
	m.luaDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "luagate_lua_function_duration_seconds", Help: "Time spent running a Lua plugin instance's functions in one phase, by route, plugin and phase.",
		Buckets: LuaBuckets(),
	}, []string{"route", "plugin", "phase"})
	m.luaErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "luagate_lua_function_errors_total", Help: "Lua plugin runs that failed with a runtime error or timeout, by route, plugin and phase.",
	}, []string{"route", "plugin", "phase"})
	m.luaInUse = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "luagate_lua_states_in_use", Help: "Lua states leased by requests in flight (the pool creates a state when none is idle, so requests never wait for one).",
	})
	m.luaLeases = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "luagate_lua_state_leases_total", Help: "Requests that leased a Lua state.",
	})
	m.ioDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "luagate_lua_io_duration_seconds", Help: "Duration of resty.redis and resty.http network calls made by Lua functions, by kind (redis, http) and result (ok, error).",
		Buckets: LuaBuckets(),
	}, []string{"kind", "result"})
	m.lambdaDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "luagate_lambda_invocation_duration_seconds", Help: "Duration of aws-lambda Invoke calls, by function and result (ok, error).",
		Buckets: LuaBuckets(),
	}, []string{"function", "result"})
	m.lambdaErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "luagate_lambda_invocation_errors_total", Help: "aws-lambda Invoke calls that failed, by function.",
	}, []string{"function"})

	m.reg.MustRegister(
		m.httpRequests, m.kongLatency, m.upLatency, m.reqLatency, m.bandwidth,
		m.reloads, m.lastReloadOK, m.lastReloadSuccTS, m.configInfo,
		m.luaDuration, m.luaErrors, m.luaInUse, m.luaLeases, m.ioDuration, m.lambdaDuration, m.lambdaErrors,
		nodeCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.lastReloadOK.Set(1)
	m.noRoute = m.newRoute("", "")
	m.handler = m.newHandler()
	return m
}

// Registry is the registry every luagate metric is in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// NoRoute is the handle for requests that matched no route (their Lua
// durations carry route=""; Kong's per-request metrics skip them).
func (m *Metrics) NoRoute() *Route { return m.noRoute }

// Handler serves GET /metrics (promhttp over the registry) with Kong's
// Content-Type for the text format.
func (m *Metrics) Handler() fasthttp.RequestHandler { return m.handler }

func (m *Metrics) newHandler() fasthttp.RequestHandler {
	h := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(kongOrder{m.reg}, promhttp.HandlerOpts{
		ErrorLog:      promLogger{m.logger},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Response.SetStatusCode(405)
			ctx.Response.Header.Set("Content-Type", "application/json; charset=utf-8")
			ctx.Response.SetBodyString(`{"message":"Method not allowed"}`)
			return
		}
		h(ctx)
		if ct := ctx.Response.Header.ContentType(); strings.HasPrefix(string(ct), "text/plain") {
			ctx.Response.Header.Set("Content-Type", ContentType)
		}
	}
}

type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		if e, ok := x.(error); ok {
			b.WriteString(e.Error())
		} else if s, ok := x.(string); ok {
			b.WriteString(s)
		}
	}
	p.l.Error("metrics: "+b.String(), "component", "metrics")
}

// ---- configuration reloads

// ConfigApplied records that a configuration now serves requests (initial
// load, reload or Admin API write): luagate_config_info and the last
// success timestamp. upstreamHealth is whether any prometheus instance
// enables upstream_health_metrics (a global flag in Kong).
func (m *Metrics) ConfigApplied(hash string, upstreamHealth bool, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.configHash != hash {
		m.configInfo.Reset()
		m.configInfo.WithLabelValues(hash).Set(1)
		m.configHash = hash
	}
	m.healthEnabled = upstreamHealth
	m.lastReloadSuccTS.Set(float64(at.UnixNano()) / 1e9)
}

// RecordReload counts one reload attempt (no-op reloads are not attempts).
func (m *Metrics) RecordReload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("failure").Inc()
		m.lastReloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.lastReloadOK.Set(1)
}

// ---- upstream health

// SetTargetHealthSource installs the function kong_upstream_target_health
// is computed from at every scrape (the balancer's health checker). The
// metric is exported only while some prometheus instance enables
// upstream_health_metrics.
func (m *Metrics) SetTargetHealthSource(f func() []TargetHealth) {
	m.mu.Lock()
	m.healthSource = f
	m.mu.Unlock()
}

// ---- Lua, I/O and Lambda

// LuaLeased records that a request leased a Lua state.
func (m *Metrics) LuaLeased() {
	m.luaLeases.Inc()
	m.luaInUse.Inc()
}

// LuaReleased records that a request returned its Lua state.
func (m *Metrics) LuaReleased() { m.luaInUse.Dec() }

// ObserveIO records one resty.redis / resty.http call (lualib's
// StateOptions.OnIO has this signature).
func (m *Metrics) ObserveIO(kind string, d time.Duration, err error) {
	res := "ok"
	if err != nil {
		res = "error"
	}
	m.ioDuration.WithLabelValues(kind, res).Observe(d.Seconds())
}

// LambdaRecorder is what the aws-lambda plugin calls after each Invoke.
type LambdaRecorder func(function string, d time.Duration, err error)

// LambdaObserver is implemented by the gateway's Exchange: the aws-lambda
// plugin (package functions, which cannot import this package) reports
// each Invoke with
//
//	if o, ok := ex.(interface{ ObserveLambda(string, time.Duration, error) }); ok {
//		o.ObserveLambda(c.FunctionName, time.Since(start), err)
//	}
type LambdaObserver interface {
	ObserveLambda(function string, d time.Duration, err error)
}

// ObserveLambda records one aws-lambda Invoke call of a function (the
// configured function name, never a payload value).
func (m *Metrics) ObserveLambda(function string, d time.Duration, err error) {
	res := "ok"
	if err != nil {
		res = "error"
		m.lambdaErrors.WithLabelValues(function).Inc()
	}
	m.lambdaDuration.WithLabelValues(function, res).Observe(d.Seconds())
}

// ---- node metrics

// nodeCollector exports the always-on node metrics, computed at scrape time.
type nodeCollector struct{ m *Metrics }

var (
	descDatastore    = prometheus.NewDesc("kong_datastore_reachable", "Datastore reachable from Kong, 0 is unreachable", nil, nil)
	descNodeInfo     = prometheus.NewDesc("kong_node_info", "Kong Node metadata information", []string{"node_id", "version"}, nil)
	descConnections  = prometheus.NewDesc("kong_nginx_connections_total", "Number of connections by subsystem", []string{"node_id", "subsystem", "state"}, nil)
	descRequests     = prometheus.NewDesc("kong_nginx_requests_total", "Number of requests total", []string{"node_id", "subsystem"}, nil)
	descTimers       = prometheus.NewDesc("kong_nginx_timers", "Number of nginx timers", []string{"state"}, nil)
	descMetricErrors = prometheus.NewDesc("kong_nginx_metric_errors_total", "Number of nginx-lua-prometheus errors", nil, nil)
	descLuaVMs       = prometheus.NewDesc("kong_memory_workers_lua_vms_bytes", "Allocated bytes in worker Lua VM", []string{"node_id", "pid", "kong_subsystem"}, nil)
	descDictBytes    = prometheus.NewDesc("kong_memory_lua_shared_dict_bytes", "Allocated slabs in bytes in a shared_dict", []string{"node_id", "shared_dict", "kong_subsystem"}, nil)
	descDictTotal    = prometheus.NewDesc("kong_memory_lua_shared_dict_total_bytes", "Total capacity in bytes of a shared_dict", []string{"node_id", "shared_dict", "kong_subsystem"}, nil)
)

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDatastore, descNodeInfo, descConnections, descRequests, descTimers,
		descMetricErrors, descLuaVMs, descDictBytes, descDictTotal, c.m.upstreamHealth} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	var st NodeStats
	if m.opts.Node != nil {
		st = m.opts.Node()
	}
	id := m.opts.NodeID
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descDatastore, 1)
	gauge(descNodeInfo, 1, id, m.opts.Version)
	for _, s := range []struct {
		state string
		v     int64
	}{
		{"accepted", st.ConnectionsAccepted}, {"handled", st.ConnectionsHandled}, {"total", st.TotalRequests},
		{"active", st.ConnectionsActive}, {"reading", st.ConnectionsReading}, {"writing", st.ConnectionsWriting},
		{"waiting", st.ConnectionsWaiting},
	} {
		gauge(descConnections, float64(s.v), id, Subsystem, s.state)
	}
	gauge(descRequests, float64(st.TotalRequests), id, Subsystem)
	gauge(descTimers, 0, "running")
	gauge(descTimers, 0, "pending")
	ch <- prometheus.MustNewConstMetric(descMetricErrors, prometheus.CounterValue, 0)
	gauge(descLuaVMs, float64(st.LuaVMBytes), id, strconv.Itoa(os.Getpid()), Subsystem)
	for _, d := range st.SharedDicts {
		if d.UsedKnown {
			gauge(descDictBytes, float64(d.Used), id, d.Name, Subsystem)
		}
		gauge(descDictTotal, float64(d.Capacity), id, d.Name, Subsystem)
	}

	m.mu.Lock()
	src, on := m.healthSource, m.healthEnabled
	m.mu.Unlock()
	if on && src != nil {
		for _, t := range src() {
			for _, s := range targetHealthStates {
				v := 0.0
				if s == t.State {
					v = 1
				}
				gauge(m.upstreamHealth, v, t.Upstream, t.Target, t.Address, s, Subsystem)
			}
		}
	}
}

// kongLabelOrder is the declaration order of the labels of Kong's metrics
// (spec 6: the exposition keeps it; client_golang sorts label names).
var kongLabelOrder = map[string][]string{
	"kong_http_requests_total":                {"service", "route", "code", "source", "workspace", "consumer"},
	"kong_kong_latency_ms":                    {"service", "route", "workspace"},
	"kong_upstream_latency_ms":                {"service", "route", "workspace"},
	"kong_request_latency_ms":                 {"service", "route", "workspace"},
	"kong_bandwidth_bytes":                    {"service", "route", "direction", "workspace", "consumer"},
	"kong_upstream_target_health":             {"upstream", "target", "address", "state", "subsystem"},
	"kong_node_info":                          {"node_id", "version"},
	"kong_nginx_connections_total":            {"node_id", "subsystem", "state"},
	"kong_nginx_requests_total":               {"node_id", "subsystem"},
	"kong_memory_workers_lua_vms_bytes":       {"node_id", "pid", "kong_subsystem"},
	"kong_memory_lua_shared_dict_bytes":       {"node_id", "shared_dict", "kong_subsystem"},
	"kong_memory_lua_shared_dict_total_bytes": {"node_id", "shared_dict", "kong_subsystem"},
}

// kongOrder gathers from the registry and puts the labels of Kong's
// metrics back in Kong's order.
type kongOrder struct{ g prometheus.Gatherer }

func (k kongOrder) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := k.g.Gather()
	for _, mf := range mfs {
		order, ok := kongLabelOrder[mf.GetName()]
		if !ok {
			continue
		}
		for _, mt := range mf.Metric {
			sort.SliceStable(mt.Label, func(i, j int) bool {
				return slices.Index(order, mt.Label[i].GetName()) < slices.Index(order, mt.Label[j].GetName())
			})
		}
	}
	return mfs, err
}
