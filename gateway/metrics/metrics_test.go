package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/valyala/fasthttp"

	"luagate/declarative"
	"luagate/lualib"
)

func newTest() *Metrics {
	return New(Options{NodeID: "node-1", Version: "3.9.1", Node: func() NodeStats {
		return NodeStats{ConnectionsAccepted: 3, ConnectionsHandled: 2, ConnectionsActive: 1, TotalRequests: 7, LuaVMBytes: 1024,
			SharedDicts: []SharedDict{{Name: "kong", Capacity: 5 << 20}, {Name: "x", Capacity: 100, Used: 10, UsedKnown: true}}}
	}})
}

// populate exercises every metric family so that all of them are exposed.
func populate(m *Metrics) {
	r := m.Route("svc", "route")
	all := Flags{PerConsumer: true, StatusCode: true, Latency: true, Bandwidth: true}
	r.Observe(all, &Sample{Status: 200, FromService: true, Consumer: "alice", KongLatency: 3, UpstreamLatency: 30, RequestLatency: 33, Ingress: 100, Egress: 200})
	r.ObserveLua("pre-function", "access", time.Millisecond, true)
	m.LuaLeased()
	m.LuaReleased()
	m.ObserveIO("redis", time.Millisecond, nil)
	m.ObserveIO("http", time.Millisecond, errors.New("refused"))
	m.ObserveLambda("fn", 20*time.Millisecond, nil)
	m.ObserveLambda("fn", 20*time.Millisecond, errors.New("throttled"))
	m.RecordReload(nil)
	m.RecordReload(errors.New("bad"))
	m.ConfigApplied("0123456789abcdef0123456789abcdef", true, time.Unix(1700000000, 0))
	m.SetTargetHealthSource(func() []TargetHealth {
		return []TargetHealth{{Upstream: "up", Target: "a:80", Address: "10.0.0.1:80", State: "healthy"}}
	})
}

// kongNames are Kong's metric names, kept as Kong spells them even where
// Prometheus' naming conventions disagree (they are the compatibility
// contract: dashboards query them).
var kongNames = map[string]bool{
	"kong_http_requests_total": true, "kong_kong_latency_ms": true, "kong_upstream_latency_ms": true,
	"kong_request_latency_ms": true, "kong_bandwidth_bytes": true, "kong_nginx_connections_total": true,
	"kong_nginx_requests_total": true, "kong_nginx_metric_errors_total": true, "kong_upstream_target_health": true,
	"kong_datastore_reachable": true, "kong_node_info": true, "kong_nginx_timers": true,
	"kong_memory_workers_lua_vms_bytes": true, "kong_memory_lua_shared_dict_bytes": true,
	"kong_memory_lua_shared_dict_total_bytes": true,
}

// TestMetricNaming runs promlint over every family (style.md C9). Kong's
// names are exempt (their problems are listed so a new one is noticed);
// luagate's own must be clean.
func TestMetricNaming(t *testing.T) {
	m := newTest()
	populate(m)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	probs, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	var kong []string
	for _, p := range probs {
		if kongNames[p.Metric] {
			kong = append(kong, p.Metric+": "+p.Text)
			continue
		}
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	sort.Strings(kong)
	wantKong := []string{
		`kong_bandwidth_bytes: counter metrics should have "_total" suffix`,
		`kong_kong_latency_ms: metric names should not contain abbreviated units`,
		`kong_nginx_connections_total: non-counter metrics should not have "_total" suffix`,
		`kong_nginx_requests_total: non-counter metrics should not have "_total" suffix`,
		`kong_request_latency_ms: metric names should not contain abbreviated units`,
		`kong_upstream_latency_ms: metric names should not contain abbreviated units`,
	}
	if strings.Join(kong, "\n") != strings.Join(wantKong, "\n") {
		t.Errorf("promlint on Kong's names:\n%s\nwant\n%s", strings.Join(kong, "\n"), strings.Join(wantKong, "\n"))
	}
	for _, mf := range mfs {
		n := mf.GetName()
		if !strings.HasPrefix(n, "kong_") && !strings.HasPrefix(n, "luagate_") && !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") {
			t.Errorf("family %s has no kong_/luagate_/go_/process_ prefix", n)
		}
	}
}

func scrape(t *testing.T, m *Metrics) (string, string) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/metrics")
	m.Handler()(&ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("GET /metrics = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	return string(ctx.Response.Header.ContentType()), string(ctx.Response.Body())
}

func TestExposition(t *testing.T) {
	m := newTest()
	populate(m)
	ct, body := scrape(t, m)
	if ct != ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, ContentType)
	}
	for _, line := range []string{
		`kong_http_requests_total{service="svc",route="route",code="200",source="service",workspace="default",consumer="alice"} 1`,
		`kong_bandwidth_bytes{service="svc",route="route",direction="ingress",workspace="default",consumer="alice"} 100`,
		`kong_bandwidth_bytes{service="svc",route="route",direction="egress",workspace="default",consumer="alice"} 200`,
		`kong_kong_latency_ms_bucket{service="svc",route="route",workspace="default",le="2"} 0`,
		`kong_kong_latency_ms_bucket{service="svc",route="route",workspace="default",le="5"} 1`,
		`kong_upstream_latency_ms_bucket{service="svc",route="route",workspace="default",le="25"} 0`,
		`kong_upstream_latency_ms_bucket{service="svc",route="route",workspace="default",le="50"} 1`,
		`kong_upstream_latency_ms_sum{service="svc",route="route",workspace="default"} 30`,
		`kong_request_latency_ms_count{service="svc",route="route",workspace="default"} 1`,
		`kong_upstream_target_health{upstream="up",target="a:80",address="10.0.0.1:80",state="healthchecks_off",subsystem="http"} 0`,
		`kong_upstream_target_health{upstream="up",target="a:80",address="10.0.0.1:80",state="healthy",subsystem="http"} 1`,
		`kong_upstream_target_health{upstream="up",target="a:80",address="10.0.0.1:80",state="unhealthy",subsystem="http"} 0`,
		`kong_upstream_target_health{upstream="up",target="a:80",address="10.0.0.1:80",state="dns_error",subsystem="http"} 0`,
		`kong_datastore_reachable 1`,
		`kong_node_info{node_id="node-1",version="3.9.1"} 1`,
		`kong_nginx_connections_total{node_id="node-1",subsystem="http",state="accepted"} 3`,
		`kong_nginx_connections_total{node_id="node-1",subsystem="http",state="total"} 7`,
		`kong_nginx_requests_total{node_id="node-1",subsystem="http"} 7`,
		`kong_nginx_metric_errors_total 0`,
		`kong_nginx_timers{state="running"} 0`,
		`kong_memory_lua_shared_dict_total_bytes{node_id="node-1",shared_dict="kong",kong_subsystem="http"} 5.24288e+06`,
		`kong_memory_lua_shared_dict_bytes{node_id="node-1",shared_dict="x",kong_subsystem="http"} 10`,
		`luagate_config_reloads_total{result="success"} 1`,
		`luagate_config_reloads_total{result="failure"} 1`,
		`luagate_config_last_reload_successful 0`,
		`luagate_config_last_reload_success_timestamp_seconds 1.7e+09`,
		`luagate_config_info{configuration_hash="0123456789abcdef0123456789abcdef"} 1`,
		`luagate_lua_function_errors_total{phase="access",plugin="pre-function",route="route"} 1`,
		`luagate_lua_function_duration_seconds_count{phase="access",plugin="pre-function",route="route"} 1`,
		`luagate_lua_states_in_use 0`,
		`luagate_lua_state_leases_total 1`,
		`luagate_lua_io_duration_seconds_count{kind="http",result="error"} 1`,
		`luagate_lua_io_duration_seconds_count{kind="redis",result="ok"} 1`,
		`luagate_lambda_invocation_duration_seconds_count{function="fn",result="ok"} 1`,
		`luagate_lambda_invocation_errors_total{function="fn"} 1`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("exposition lacks %s", line)
		}
	}
	// every line is a comment or a metric of ours
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "kong_") && !strings.HasPrefix(l, "luagate_") &&
			!strings.HasPrefix(l, "go_") && !strings.HasPrefix(l, "process_") {
			t.Errorf("unexpected line %q", l)
		}
	}
}

func TestUpstreamHealthOnlyWhenEnabled(t *testing.T) {
	m := newTest()
	m.SetTargetHealthSource(func() []TargetHealth { return []TargetHealth{{Upstream: "u", Target: "t:1", State: "dns_error"}} })
	for _, tc := range []struct {
		name    string
		enabled bool
		want    int
	}{{"off", false, 0}, {"on", true, 4}, {"off again", false, 0}} {
		m.ConfigApplied("h", tc.enabled, time.Now())
		_, body := scrape(t, m)
		if got := strings.Count(body, "\nkong_upstream_target_health{"); got != tc.want {
			t.Errorf("%s: %d health series, want %d", tc.name, got, tc.want)
		}
	}
}

func TestConfigInfoKeepsOneSeries(t *testing.T) {
	m := newTest()
	for _, h := range []string{"a", "b", "b", "c"} {
		m.ConfigApplied(h, false, time.Now())
	}
	if n := testutil.CollectAndCount(m.configInfo); n != 1 {
		t.Errorf("luagate_config_info has %d series, want 1", n)
	}
	if v := testutil.ToFloat64(m.configInfo.WithLabelValues("c")); v != 1 {
		t.Errorf("config_info{c} = %v", v)
	}
}

func TestObserveFlags(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		flags                     Flags
		requests, latency, bwidth int
	}{
		{"nothing", Flags{}, 0, 0, 0},
		{"status codes", Flags{StatusCode: true}, 1, 0, 0},
		{"latency", Flags{Latency: true}, 0, 3, 0},
		{"bandwidth", Flags{Bandwidth: true}, 0, 0, 2},
		{"all", Flags{StatusCode: true, Latency: true, Bandwidth: true}, 1, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest()
			m.Route("s", "r").Observe(tc.flags, &Sample{Status: 201, FromService: true, Consumer: "bob", UpstreamLatency: 1, Ingress: 1, Egress: 1})
			lat := testutil.CollectAndCount(m.kongLatency) + testutil.CollectAndCount(m.upLatency) + testutil.CollectAndCount(m.reqLatency)
			if got := testutil.CollectAndCount(m.httpRequests); got != tc.requests {
				t.Errorf("request series = %d, want %d", got, tc.requests)
			}
			if lat != tc.latency {
				t.Errorf("latency series = %d, want %d", lat, tc.latency)
			}
			if got := testutil.CollectAndCount(m.bandwidth); got != tc.bwidth {
				t.Errorf("bandwidth series = %d, want %d", got, tc.bwidth)
			}
			if tc.requests > 0 {
				// consumer only with per_consumer
				if v := testutil.ToFloat64(m.httpRequests.WithLabelValues("s", "r", "201", "service", "default", "")); v != 1 {
					t.Errorf("requests{consumer=\"\"} = %v, want 1", v)
				}
			}
		})
	}
}

func TestObserveSkipsZeroBytesAndMissingUpstream(t *testing.T) {
	m := newTest()
	r := m.Route("s", "r")
	r.Observe(Flags{Latency: true, Bandwidth: true}, &Sample{Status: 200, UpstreamLatency: -1, Egress: 5})
	if n := testutil.CollectAndCount(m.upLatency); n != 0 {
		t.Errorf("upstream latency series = %d, want 0 (no upstream)", n)
	}
	if n := testutil.CollectAndCount(m.bandwidth); n != 1 {
		t.Errorf("bandwidth series = %d, want 1 (ingress 0 is skipped)", n)
	}
}

// Many distinct keys (consumers) spill from the scanned list to the map;
// every key keeps its own counter, also under concurrency.
func TestRouteCacheManyKeys(t *testing.T) {
	m := newTest()
	r := m.Route("s", "r")
	f := Flags{PerConsumer: true, StatusCode: true}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3*maxScan; i++ {
				r.Observe(f, &Sample{Status: 200, Consumer: fmt.Sprintf("c%d", i)})
			}
		}()
	}
	wg.Wait()
	if n := testutil.CollectAndCount(m.httpRequests); n != 3*maxScan {
		t.Fatalf("series = %d, want %d", n, 3*maxScan)
	}
	for _, i := range []int{0, maxScan - 1, maxScan, 3*maxScan - 1} {
		if v := testutil.ToFloat64(m.httpRequests.WithLabelValues("s", "r", "200", "kong", "default", fmt.Sprintf("c%d", i))); v != 4 {
			t.Errorf("c%d = %v, want 4", i, v)
		}
	}
}

func TestPluginSchema(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     map[string]any
		want    PluginConfig
		wantErr []string // "path: message"
	}{
		{"empty", map[string]any{}, PluginConfig{}, nil},
		{"nil config", nil, PluginConfig{}, nil},
		{"flags", map[string]any{"per_consumer": true, "latency_metrics": true, "wasm_metrics": false},
			PluginConfig{PerConsumer: true, LatencyMetrics: true}, nil},
		{"all", map[string]any{"per_consumer": true, "status_code_metrics": true, "latency_metrics": true, "bandwidth_metrics": true,
			"upstream_health_metrics": true, "ai_metrics": true, "wasm_metrics": true},
			PluginConfig{true, true, true, true, true, true, true}, nil},
		{"not a boolean", map[string]any{"status_code_metrics": "yes"}, PluginConfig{}, []string{"status_code_metrics: expected a boolean"}},
		{"unknown", map[string]any{"zzz": true, "aaa": 1}, PluginConfig{}, []string{"aaa: unknown field", "zzz: unknown field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, errs := pluginSchema{}.Validate(tc.cfg, &declarative.PluginEnv{Name: PluginName})
			var got []string
			for _, e := range errs {
				got = append(got, e.Path+": "+e.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tc.wantErr, "\n") {
				t.Fatalf("errors = %q, want %q", got, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			p, ok := v.(*Plugin)
			if !ok {
				t.Fatalf("Validate returned %T", v)
			}
			if p.Config != tc.want {
				t.Errorf("config = %+v, want %+v", p.Config, tc.want)
			}
			if tc.cfg != nil {
				for _, f := range pluginFields {
					if _, ok := tc.cfg[f].(bool); !ok {
						t.Errorf("default of %s not filled in: %v", f, tc.cfg)
					}
				}
			}
		})
	}
	k := Kinds()[0]
	if k.Name != "prometheus" || k.Priority != 13 || !k.NoConsumer {
		t.Errorf("kind = %+v", k)
	}
}

// fakeEx is a request for the plugin's log handler.
type fakeEx struct {
	lualib.Exchange
	route  *Route
	sample Sample
	calls  int
}

func (f *fakeEx) MetricsRoute() *Route { return f.route }
func (f *fakeEx) MetricsSample(bool) Sample {
	f.calls++
	return f.sample
}

func TestPluginLogOnlyWithRoute(t *testing.T) {
	m := newTest()
	p := &Plugin{Config: PluginConfig{StatusCodeMetrics: true}}
	if p.Phases() != lualib.PhaseLog {
		t.Errorf("Phases = %v, want log", p.Phases())
	}
	noRoute := &fakeEx{sample: Sample{Status: 404}}
	if err := p.Run(lualib.PhaseLog, noRoute, nil); err != nil || noRoute.calls != 0 {
		t.Errorf("no route: err %v, sample taken %d times", err, noRoute.calls)
	}
	ex := &fakeEx{route: m.Route("s", "r"), sample: Sample{Status: 200}}
	_ = p.Run(lualib.PhaseAccess, ex, nil) // not a log phase: nothing
	_ = p.Run(lualib.PhaseLog, ex, nil)
	if v := testutil.ToFloat64(m.httpRequests.WithLabelValues("s", "r", "200", "kong", "default", "")); v != 1 || ex.calls != 1 {
		t.Errorf("requests = %v (calls %d), want 1", v, ex.calls)
	}
	if n := testutil.CollectAndCount(m.httpRequests); n != 1 {
		t.Errorf("series = %d, want 1", n)
	}
}

func TestUpstreamHealthEnabled(t *testing.T) {
	on := &declarative.Plugin{Name: PluginName, Enabled: true, Config: &Plugin{Config: PluginConfig{UpstreamHealthMetrics: true}}}
	off := &declarative.Plugin{Name: PluginName, Enabled: true, Config: &Plugin{}}
	disabled := &declarative.Plugin{Name: PluginName, Enabled: false, Config: &Plugin{Config: PluginConfig{UpstreamHealthMetrics: true}}}
	for _, tc := range []struct {
		name    string
		plugins []*declarative.Plugin
		want    bool
	}{{"none", nil, false}, {"off", []*declarative.Plugin{off}, false}, {"any on", []*declarative.Plugin{off, on}, true}, {"disabled", []*declarative.Plugin{disabled}, false}} {
		if got := UpstreamHealthEnabled(&declarative.Config{Plugins: tc.plugins}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAccessLogWrites(t *testing.T) {
	var buf bytes.Buffer
	a := NewAccessLog(&buf, false)
	a.Log(&AccessEntry{ClientIP: "::1", Time: time.Unix(0, 0).UTC(), Method: "POST", URI: "/x", Proto: "HTTP/1.0", Status: 502, RequestID: "id"})
	want := `::1 - - [01/Jan/1970:00:00:00 +0000] "POST /x HTTP/1.0" 502 0 "-" "-" kong_request_id: "id"` + "\n"
	if buf.String() != want {
		t.Errorf("text line %q, want %q", buf.String(), want)
	}
	buf.Reset()
	j := NewAccessLog(&buf, true)
	j.Log(&AccessEntry{Serialized: map[string]any{"response": map[string]any{"status": 200}}})
	if buf.String() != `{"response":{"status":200}}`+"\n" {
		t.Errorf("json line %q", buf.String())
	}
	var nilLog *AccessLog
	nilLog.Log(&AccessEntry{}) // no-op
	for _, off := range []string{"", "off"} {
		if a, err := OpenAccessLog(off, false); a != nil || err != nil {
			t.Errorf("OpenAccessLog(%q) = %v, %v; want nil, nil", off, a, err)
		}
	}
	if _, err := OpenAccessLog(t.TempDir()+"/missing/dir/access.log", false); err == nil {
		t.Error("OpenAccessLog in a missing folder: no error")
	}
}

// BenchmarkLogPhase is the prometheus plugin's per-request work with every
// switch on (the hot path: label sets are resolved once per route).
func BenchmarkLogPhase(b *testing.B) {
	m := newTest()
	p := &Plugin{Config: PluginConfig{StatusCodeMetrics: true, LatencyMetrics: true, BandwidthMetrics: true}}
	ex := &fakeEx{route: m.Route("svc", "route"), sample: Sample{Status: 200, FromService: true, KongLatency: 1, UpstreamLatency: 12, RequestLatency: 13, Ingress: 300, Egress: 900}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = p.Run(lualib.PhaseLog, ex, nil)
	}
}

// BenchmarkLogPhaseWithLabelValues is the same work done naively
// (WithLabelValues per request), for comparison.
func BenchmarkLogPhaseWithLabelValues(b *testing.B) {
	m := newTest()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.httpRequests.WithLabelValues("svc", "route", "200", "service", Workspace, "").Inc()
		m.kongLatency.WithLabelValues("svc", "route", Workspace).Observe(1)
		m.upLatency.WithLabelValues("svc", "route", Workspace).Observe(12)
		m.reqLatency.WithLabelValues("svc", "route", Workspace).Observe(13)
		m.bandwidth.WithLabelValues("svc", "route", "ingress", Workspace, "").Add(300)
		m.bandwidth.WithLabelValues("svc", "route", "egress", Workspace, "").Add(900)
	}
}

func BenchmarkObserveLua(b *testing.B) {
	m := newTest()
	r := m.Route("svc", "route")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.ObserveLua("pre-function", "access", time.Microsecond, false)
	}
}
