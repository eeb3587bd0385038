package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/valyala/fasthttp"

	"luagate/declarative"
	gm "luagate/gateway/metrics"
)

// Issue 8: metrics and logs over a real gateway on loopback.

type scraped struct {
	text string
	fams map[string]*dto.MetricFamily
}

func scrapeMetrics(t testing.TB, c *http.Client, addr string) scraped {
	t.Helper()
	res, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d %s", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != gm.ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, gm.ContentType)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, b)
	}
	return scraped{text: string(b), fams: fams}
}

// find returns the metric of a family whose labels are exactly labels.
func (s scraped) find(name string, labels map[string]string) *dto.Metric {
	mf := s.fams[name]
	if mf == nil {
		return nil
	}
	for _, m := range mf.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		ok := true
		for _, l := range m.Label {
			if v, has := labels[l.GetName()]; !has || v != l.GetValue() {
				ok = false
				break
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

func (s scraped) value(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	m := s.find(name, labels)
	if m == nil {
		t.Errorf("no series %s%v in\n%s", name, labels, s.grep(name))
		return -1
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return m.Untyped.GetValue()
}

func (s scraped) series(name string) int {
	if mf := s.fams[name]; mf != nil {
		return len(mf.Metric)
	}
	return 0
}

func (s scraped) grep(prefix string) string {
	var out []string
	for _, l := range strings.Split(s.text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

const unnamedRouteID = "6f1a3c9e-2b4d-4e8f-9a0b-1c2d3e4f5a6b"

func metricsYAML(port int) string {
	return fmt.Sprintf(`_format_version: "3.0"
consumers:
- username: alice
  custom_id: a-1
plugins:
- name: prometheus
  config:
    per_consumer: true
    status_code_metrics: true
    latency_metrics: true
    bandwidth_metrics: true
services:
- name: echo-svc
  url: http://127.0.0.1:%[1]d
  routes:
  - name: r-svc
    paths: [/svc]
  - name: r-exit
    paths: [/exit]
    plugins:
    - name: pre-function
      config:
        access:
        - kong.log.notice("exiting here")
        - return kong.response.exit(418, "teapot")
  - name: r-alice
    paths: [/alice]
    plugins:
    - name: pre-function
      config:
        access:
        - kong.client.authenticate(kong.client.load_consumer("alice", true), { id = "cred-1" })
  - name: r-boom
    paths: [/boom]
    plugins:
    - name: pre-function
      config:
        access:
        - error("boom")
- name: dead-svc
  url: http://127.0.0.1:9
  retries: 0
  routes:
  - name: r-dead
    paths: [/dead]
- host: 127.0.0.1
  port: %[1]d
  routes:
  - id: %[2]s
    paths: [/anon]
`, port, unnamedRouteID)
}

func TestMetricsAfterTraffic(t *testing.T) {
	_, port, _ := startEcho(t)
	fg := startFileGateway(t, metricsYAML(port), nil)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/svc/a", 200}, {"/svc/b", 200}, {"/svc/__status/404", 404},
		{"/exit", 418}, {"/alice", 200}, {"/anon", 200}, {"/boom", 500},
		{"/nowhere", 404}, // no route: not counted
	} {
		if r := fg.do(t, "GET", tc.path, nil, ""); r.status != tc.want {
			t.Fatalf("GET %s = %d, want %d (%s)", tc.path, r.status, tc.want, r.body)
		}
	}
	for _, addr := range []string{fg.status, fg.admin} {
		s := scrapeMetrics(t, fg.client, addr)
		req := func(svc, route, code, source, consumer string) map[string]string {
			return map[string]string{"service": svc, "route": route, "code": code, "source": source, "workspace": "default", "consumer": consumer}
		}
		for _, tc := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"kong_http_requests_total", req("echo-svc", "r-svc", "200", "service", ""), 2},
			{"kong_http_requests_total", req("echo-svc", "r-svc", "404", "service", ""), 1},
			{"kong_http_requests_total", req("echo-svc", "r-exit", "418", "kong", ""), 1},
			{"kong_http_requests_total", req("echo-svc", "r-alice", "200", "service", "alice"), 1},
			{"kong_http_requests_total", req("127.0.0.1", unnamedRouteID, "200", "service", ""), 1},
			{"kong_http_requests_total", req("echo-svc", "r-boom", "500", "kong", ""), 1},
			{"kong_kong_latency_ms", map[string]string{"service": "echo-svc", "route": "r-svc", "workspace": "default"}, 3},
			{"kong_upstream_latency_ms", map[string]string{"service": "echo-svc", "route": "r-svc", "workspace": "default"}, 3},
			{"kong_request_latency_ms", map[string]string{"service": "echo-svc", "route": "r-svc", "workspace": "default"}, 3},
			{"kong_kong_latency_ms", map[string]string{"service": "echo-svc", "route": "r-exit", "workspace": "default"}, 1},
			{"kong_request_latency_ms", map[string]string{"service": "echo-svc", "route": "r-exit", "workspace": "default"}, 1},
			{"luagate_lua_function_duration_seconds", map[string]string{"route": "r-exit", "plugin": "pre-function", "phase": "access"}, 1},
			{"luagate_lua_function_errors_total", map[string]string{"route": "r-boom", "plugin": "pre-function", "phase": "access"}, 1},
			{"luagate_lua_function_duration_seconds", map[string]string{"route": "r-boom", "plugin": "pre-function", "phase": "access"}, 1},
			{"luagate_lua_states_in_use", map[string]string{}, 0},
			{"luagate_lua_state_leases_total", map[string]string{}, 3},
			{"kong_datastore_reachable", map[string]string{}, 1},
			{"kong_nginx_metric_errors_total", map[string]string{}, 0},
			{"kong_node_info", map[string]string{"node_id": fg.g.Runtime().NodeID(), "version": KongVersion}, 1},
			{"kong_nginx_requests_total", map[string]string{"node_id": fg.g.Runtime().NodeID(), "subsystem": "http"}, 8},
			{"kong_nginx_connections_total", map[string]string{"node_id": fg.g.Runtime().NodeID(), "subsystem": "http", "state": "total"}, 8},
			{"luagate_config_info", map[string]string{"configuration_hash": fg.g.Current().Hash()}, 1},
			{"luagate_config_last_reload_successful", map[string]string{}, 1},
		} {
			if got := s.value(t, tc.name, tc.labels); got != tc.want {
				t.Errorf("%s %s%v = %v, want %v", addr, tc.name, tc.labels, got, tc.want)
			}
		}
		// The exit never reached the upstream: no upstream latency series.
		if m := s.find("kong_upstream_latency_ms", map[string]string{"service": "echo-svc", "route": "r-exit", "workspace": "default"}); m != nil {
			t.Errorf("kong_upstream_latency_ms has a series for the exit route")
		}
		if n := s.series("kong_http_requests_total"); n != 6 {
			t.Errorf("kong_http_requests_total has %d series, want 6 (no-route requests are not counted):\n%s", n, s.grep("kong_http_requests_total"))
		}
		// Kong's label order and exposition lines.
		for _, line := range []string{
			`kong_http_requests_total{service="echo-svc",route="r-svc",code="200",source="service",workspace="default",consumer=""} 2`,
			`kong_http_requests_total{service="echo-svc",route="r-alice",code="200",source="service",workspace="default",consumer="alice"} 1`,
			`kong_request_latency_ms_bucket{service="echo-svc",route="r-svc",workspace="default",le="60000"} 3`,
			`kong_request_latency_ms_bucket{service="echo-svc",route="r-svc",workspace="default",le="+Inf"} 3`,
			`kong_kong_latency_ms_bucket{service="echo-svc",route="r-exit",workspace="default",le="6000"} 1`,
			`# TYPE kong_kong_latency_ms histogram`,
			`# TYPE kong_bandwidth_bytes counter`,
			`# TYPE kong_nginx_connections_total gauge`,
		} {
			if !strings.Contains(s.text, line+"\n") {
				t.Errorf("/metrics lacks the line %s\n%s", line, s.grep(strings.Fields(strings.SplitN(line, "{", 2)[0])[0]))
			}
		}
		// promlint over what a real gateway exposes: luagate's own names
		// are clean (Kong's keep Kong's spelling; gateway/metrics lists
		// their exact problems).
		probs, err := promlint.New(strings.NewReader(s.text)).Lint()
		if err != nil {
			t.Fatalf("promlint: %v", err)
		}
		for _, p := range probs {
			if !strings.HasPrefix(p.Metric, "kong_") {
				t.Errorf("promlint: %s: %s", p.Metric, p.Text)
			}
		}
		// Buckets are Kong's, cumulative, ending with +Inf = count.
		checkBuckets(t, s, "kong_kong_latency_ms", gm.KongLatencyBuckets())
		checkBuckets(t, s, "kong_upstream_latency_ms", gm.UpstreamLatencyBuckets())
		checkBuckets(t, s, "kong_request_latency_ms", gm.UpstreamLatencyBuckets())
		for _, dir := range []string{"ingress", "egress"} {
			lb := map[string]string{"service": "echo-svc", "route": "r-svc", "direction": dir, "workspace": "default", "consumer": ""}
			if v := s.value(t, "kong_bandwidth_bytes", lb); v <= 0 {
				t.Errorf("kong_bandwidth_bytes%v = %v, want > 0", lb, v)
			}
		}
	}
}

func checkBuckets(t *testing.T, s scraped, name string, want []float64) {
	t.Helper()
	mf := s.fams[name]
	if mf == nil {
		t.Errorf("no %s", name)
		return
	}
	for _, m := range mf.Metric {
		h := m.Histogram
		var bounds []float64
		prev := uint64(0)
		for _, b := range h.Bucket {
			bounds = append(bounds, b.GetUpperBound())
			if b.GetCumulativeCount() < prev {
				t.Errorf("%s buckets not cumulative: %v", name, h.Bucket)
			}
			prev = b.GetCumulativeCount()
		}
		if fmt.Sprint(bounds) != fmt.Sprint(append(want[:len(want):len(want)], math.Inf(1))) {
			t.Errorf("%s buckets = %v, want %v", name, bounds, want)
		}
		if prev > h.GetSampleCount() {
			t.Errorf("%s: last bucket %d > count %d", name, prev, h.GetSampleCount())
		}
	}
}

// Kong's $request_length and bytes counted exactly on a raw request.
func TestMetricsBandwidthExact(t *testing.T) {
	_, port, _ := startEcho(t)
	fg := startFileGateway(t, metricsYAML(port), nil)
	req := "GET /exit?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: raw\r\nConnection: close\r\n\r\n"
	out := fg.raw(t, req)
	if !strings.HasPrefix(out, "HTTP/1.1 418") {
		t.Fatalf("raw GET /exit = %q", out)
	}
	s := scrapeMetrics(t, fg.client, fg.status)
	lb := func(dir string) map[string]string {
		return map[string]string{"service": "echo-svc", "route": "r-exit", "direction": dir, "workspace": "default", "consumer": ""}
	}
	if got := s.value(t, "kong_bandwidth_bytes", lb("ingress")); got != float64(len(req)) {
		t.Errorf("ingress = %v, want %d (the request's bytes)", got, len(req))
	}
	if got := s.value(t, "kong_bandwidth_bytes", lb("egress")); got != float64(len(out)) {
		t.Errorf("egress = %v, want %d (the response's bytes)\n%q", got, len(out), out)
	}
}

// Without a prometheus instance only the node and luagate metrics appear.
func TestMetricsWithoutPlugin(t *testing.T) {
	fg := startFileGateway(t, versionYAML("1"), nil)
	fg.version(t)
	s := scrapeMetrics(t, fg.client, fg.status)
	for _, name := range []string{"kong_http_requests_total", "kong_kong_latency_ms", "kong_bandwidth_bytes", "kong_upstream_target_health"} {
		if s.fams[name] != nil {
			t.Errorf("%s is exported without a prometheus plugin", name)
		}
	}
	for _, name := range []string{"kong_node_info", "kong_datastore_reachable", "kong_nginx_connections_total", "kong_memory_lua_shared_dict_total_bytes",
		"kong_memory_workers_lua_vms_bytes", "luagate_config_info", "go_goroutines", "process_start_time_seconds", "luagate_lua_function_duration_seconds"} {
		if s.fams[name] == nil {
			t.Errorf("%s is missing", name)
		}
	}
	for _, line := range s.fams["kong_memory_lua_shared_dict_total_bytes"].Metric {
		if line.Label[1].GetValue() == "prometheus_metrics" {
			t.Errorf("unexpected shared dict") // Kong's template has none by this name in luagate
		}
	}
	if !strings.Contains(s.text, "\nkong_nginx_metric_errors_total 0\n") {
		t.Errorf("kong_nginx_metric_errors_total 0 missing:\n%s", s.grep("kong_nginx_metric"))
	}
}

func TestMetricsReloadCounters(t *testing.T) {
	fg := startFileGateway(t, versionYAML("1"), nil)
	steps := []struct {
		text                string
		wantErr             bool
		success, failure    float64
		lastOK              float64
		lastSuccessAdvances bool
	}{
		{versionYAML("2"), false, 1, 0, 1, true},
		{brokenYAML, true, 1, 1, 0, false},
		{brokenYAML + "# still broken\n", true, 1, 2, 0, false},
		{versionYAML("3"), false, 2, 2, 1, true},
		{versionYAML("3"), false, 2, 2, 1, false}, // unchanged: skipped, not counted
	}
	prevTS := scrapeMetrics(t, fg.client, fg.status).value(t, "luagate_config_last_reload_success_timestamp_seconds", map[string]string{})
	if prevTS <= 0 {
		t.Fatalf("initial load did not set the success timestamp: %v", prevTS)
	}
	for i, st := range steps {
		time.Sleep(5 * time.Millisecond)
		writeFile(t, fg.path, st.text)
		err := fg.g.Reload()
		if (err != nil) != st.wantErr {
			t.Fatalf("step %d: Reload() = %v, wantErr %v", i, err, st.wantErr)
		}
		s := scrapeMetrics(t, fg.client, fg.status)
		if got := s.value(t, "luagate_config_reloads_total", map[string]string{"result": "success"}); got != st.success {
			t.Errorf("step %d: reloads success = %v, want %v", i, got, st.success)
		}
		if st.failure > 0 {
			if got := s.value(t, "luagate_config_reloads_total", map[string]string{"result": "failure"}); got != st.failure {
				t.Errorf("step %d: reloads failure = %v, want %v", i, got, st.failure)
			}
		}
		if got := s.value(t, "luagate_config_last_reload_successful", map[string]string{}); got != st.lastOK {
			t.Errorf("step %d: last_reload_successful = %v, want %v", i, got, st.lastOK)
		}
		ts := s.value(t, "luagate_config_last_reload_success_timestamp_seconds", map[string]string{})
		if advanced := ts > prevTS; advanced != st.lastSuccessAdvances {
			t.Errorf("step %d: success timestamp %v -> %v, advanced %v, want %v", i, prevTS, ts, advanced, st.lastSuccessAdvances)
		}
		prevTS = ts
		if n := s.series("luagate_config_info"); n != 1 {
			t.Errorf("step %d: luagate_config_info has %d series, want 1", i, n)
		}
		if got := s.value(t, "luagate_config_info", map[string]string{"configuration_hash": fg.g.Current().Hash()}); got != 1 {
			t.Errorf("step %d: config_info for the current hash = %v", i, got)
		}
	}
}

// Two gateways (two Runtimes) in one process: registries are independent,
// and a runtime survives many reloads without registration errors.
func TestMetricsRegistryPerRuntime(t *testing.T) {
	a, err := NewRuntime(DefaultSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewRuntime(DefaultSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Metrics().Registry() == b.Metrics().Registry() {
		t.Fatal("two runtimes share a registry")
	}
	cfg := &declarative.Config{}
	for i := 0; i < 3; i++ {
		s, err := Build(cfg, a)
		if err != nil {
			t.Fatalf("Build %d: %v", i, err)
		}
		a.configApplied(s)
		s.Close()
	}
	if _, err := a.Metrics().Registry().Gather(); err != nil {
		t.Fatalf("Gather: %v", err)
	}
}

// Every log line of a request carries its request id, route and service;
// kong.log lines carry plugin and phase; the access log writes one line per
// request.
func TestRequestLogLines(t *testing.T) {
	_, port, _ := startEcho(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "kong.yml")
	writeFile(t, path, metricsYAML(port))
	var buf syncBuffer
	s := testSettings()
	s.DeclarativeConfig = path
	s.LogFormat = "json"
	s.LogLevel = "debug"
	s.AccessLog = filepath.Join(dir, "access.log")
	logger, err := NewLogger(s, &buf)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(s, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	tg := startGatewayWith(t, g)
	r1 := tg.do(t, "GET", "/exit", map[string]string{"User-Agent": "ua/1"}, "")
	r2 := tg.do(t, "GET", "/boom", nil, "")
	tg.do(t, "GET", "/svc/x?q=1", nil, "")
	r4 := tg.do(t, "GET", "/dead", nil, "")
	id4 := r4.header.Get("X-Kong-Request-Id")
	id1, id2 := r1.header.Get("X-Kong-Request-Id"), r2.header.Get("X-Kong-Request-Id")
	if id1 == "" || id2 == "" {
		t.Fatalf("no request ids: %q %q", id1, id2)
	}
	lines := jsonLines(&buf)
	// the first line with msg that has a route (the functions package also
	// logs Lua errors, with route_id only)
	find := func(msg string) map[string]any {
		for _, l := range lines {
			if strings.Contains(fmt.Sprint(l["msg"]), msg) && l["route"] != nil {
				return l
			}
		}
		t.Fatalf("no log line %q in %v", msg, lines)
		return nil
	}
	for _, tc := range []struct {
		msg  string
		want map[string]string
	}{
		{"exiting here", map[string]string{"request_id": id1, "route": "r-exit", "service": "echo-svc", "plugin": "pre-function", "phase": "access"}},
		{"boom", map[string]string{"request_id": id2, "route": "r-boom", "service": "echo-svc", "plugin": "pre-function"}},
		{"upstream request failed", map[string]string{"request_id": id4, "route": "r-dead", "service": "dead-svc"}},
	} {
		l := find(tc.msg)
		for k, v := range tc.want {
			if got := fmt.Sprint(l[k]); got != v {
				t.Errorf("log %q: %s = %q, want %q (line %v)", tc.msg, k, got, v, l)
			}
		}
	}

	// The access log: one JSON line per request (log_format json), with
	// kong.log.serialize()'s shape.
	deadline := time.Now().Add(5 * time.Second)
	var acc []string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(s.AccessLog)
		acc = strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(acc) >= 4 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(acc) != 4 {
		t.Fatalf("access log has %d lines, want 4:\n%s", len(acc), strings.Join(acc, "\n"))
	}
	for _, want := range []string{`"status":418`, `"uri":"/exit"`, `"source":"exit"`, `"name":"r-exit"`} {
		if !strings.Contains(acc[0], want) {
			t.Errorf("access line %s lacks %s", acc[0], want)
		}
	}
}

func TestAccessLogTextLine(t *testing.T) {
	e := &gm.AccessEntry{
		ClientIP: "127.0.0.1", Time: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC), Method: "GET", URI: `/a?b="c"`,
		Proto: "HTTP/1.1", Status: 200, BodyBytes: 12, UserAgent: "curl/8", RequestID: "abc",
	}
	got := string(gm.AppendAccessLine(nil, e))
	want := `127.0.0.1 - - [26/Nov/2026:01:02:03 +0000] "GET /a?b=\x22c\x22 HTTP/1.1" 200 12 "-" "curl/8" kong_request_id: "abc"`
	if got != want {
		t.Errorf("access line\n got %s\nwant %s", got, want)
	}
}

// jsonLines decodes the JSON log lines written to b.
func jsonLines(b *syncBuffer) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(b.String(), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// BenchmarkProxyMetrics compares a proxied request without and with a
// global prometheus instance (every switch on): the difference is the
// log-phase cost of the metrics end to end.
func BenchmarkProxyMetrics(b *testing.B) {
	host, port := startFastUpstream(b)
	for _, bc := range []struct{ name, plugins string }{
		{"plain", ""},
		{"prometheus", "plugins:\n- name: prometheus\n  config: {per_consumer: true, status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true}\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := testSettings()
			yml := "_format_version: \"3.0\"\n" + bc.plugins + "services:\n- name: origin\n  url: http://" + host + ":" + fmt.Sprint(port) +
				"\n  routes:\n  - name: r\n    paths: [/]\n"
			cfg := loadYAML(b, yml, s)
			g, err := New(s, nil)
			if err != nil {
				b.Fatal(err)
			}
			tg := runGateway(b, g, cfg)
			c := &fasthttp.HostClient{Addr: tg.proxy, MaxConns: 64}
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			req.SetRequestURI("http://" + tg.proxy + "/bench?x=1")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d", err, resp.StatusCode())
				}
			}
		})
	}
}

// BenchmarkMetricsSample is the request side of the log phase: latencies
// and, with bandwidth_metrics, the byte counts.
func BenchmarkMetricsSample(b *testing.B) {
	r := &request{ctx: &fasthttp.RequestCtx{}, rt: &Runtime{}, start: time.Now(), method: "GET", rawPath: "/bench"}
	r.ctx.Request.Header.SetMethod("GET")
	r.ctx.Response.Header.Set("Content-Type", "application/json")
	r.ctx.Response.SetBody([]byte(`{"ok":true}`))
	r.upStart, r.upHeaders = r.start.Add(time.Millisecond), r.start.Add(3*time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.MetricsSample(true)
	}
}

func TestAccessLogSetting(t *testing.T) {
	for _, tc := range []struct{ env, want string }{{"", "off"}, {"stderr", "stderr"}, {"/var/log/x.log", "/var/log/x.log"}} {
		s, err := SettingsFromEnv(func(k string) string {
			if k == "KONG_PROXY_ACCESS_LOG" {
				return tc.env
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.AccessLog != tc.want {
			t.Errorf("KONG_PROXY_ACCESS_LOG=%q: AccessLog = %q, want %q", tc.env, s.AccessLog, tc.want)
		}
	}
	s := testSettings()
	s.AccessLog = filepath.Join(t.TempDir(), "no", "such", "dir", "access.log")
	if _, err := New(s, nil); err == nil || !strings.Contains(err.Error(), "access log") {
		t.Errorf("New with an access log in a missing folder: %v", err)
	}
}

// Text access lines through a real gateway: one per request, Kong's
// kong_log_format, body bytes as sent (streamed or not).
func TestAccessLogText(t *testing.T) {
	_, port, _ := startEcho(t)
	path := filepath.Join(t.TempDir(), "access.log")
	fg := startFileGateway(t, metricsYAML(port), func(s *Settings) { s.AccessLog = path })
	fg.do(t, "GET", "/exit?a=1", map[string]string{"User-Agent": "ua/1", "Referer": "http://ref.test/"}, "")
	big := fg.do(t, "GET", "/svc/__big/70000", nil, "")
	if len(big.body) != 70000 {
		t.Fatalf("big body = %d bytes", len(big.body))
	}
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) >= 2 {
			break
		}
	}
	if len(lines) != 2 {
		t.Fatalf("access log lines = %q", lines)
	}
	for i, want := range []string{
		`"GET /exit?a=1 HTTP/1.1" 418 6 "http://ref.test/" "ua/1" kong_request_id: "`,
		`"GET /svc/__big/70000 HTTP/1.1" 200 70000 "-" "Go-http-client/1.1" kong_request_id: "`,
	} {
		if !strings.HasPrefix(lines[i], "127.0.0.1 - - [") || !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want 127.0.0.1 - - [...] %s", i, lines[i], want)
		}
	}
}

// With KONG_ADMIN_TOKEN the admin listener's /metrics needs the token; the
// status listener's does not.
func TestMetricsAdminToken(t *testing.T) {
	fg := startFileGateway(t, versionYAML("1"), func(s *Settings) { s.AdminToken = "s3cret" })
	for _, tc := range []struct {
		name, addr, auth string
		want             int
	}{
		{"admin without token", fg.admin, "", 401},
		{"admin wrong token", fg.admin, "Bearer nope", 401},
		{"admin with token", fg.admin, "Bearer s3cret", 200},
		{"status", fg.status, "", 200},
	} {
		req, _ := http.NewRequest("GET", "http://"+tc.addr+"/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := fg.client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s: GET /metrics = %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
}

// resty.http calls from Lua are timed through lualib's OnIO hook.
func TestMetricsLuaIO(t *testing.T) {
	_, port, hits := startEcho(t)
	yml := fmt.Sprintf(`_format_version: "3.0"
services:
- name: s
  url: http://127.0.0.1:%[1]d
  routes:
  - name: r
    paths: [/io]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local httpc = require("resty.http").new()
          local res, err = httpc:request_uri("http://127.0.0.1:%[1]d/side")
          local _, err2 = httpc:request_uri("http://127.0.0.1:1/refused")
          return kong.response.exit(200, { status = res and res.status, err = err, refused = err2 ~= nil })
`, port)
	fg := startFileGateway(t, yml, nil)
	r := fg.do(t, "GET", "/io", nil, "")
	if r.status != 200 || !strings.Contains(r.body, `"status":200`) || !strings.Contains(r.body, `"refused":true`) {
		t.Fatalf("GET /io = %d %s", r.status, r.body)
	}
	if hits.Load() != 1 {
		t.Errorf("side call hits = %d", hits.Load())
	}
	s := scrapeMetrics(t, fg.client, fg.status)
	for _, tc := range []struct {
		result string
		want   float64
	}{{"ok", 1}, {"error", 1}} {
		if got := s.value(t, "luagate_lua_io_duration_seconds", map[string]string{"kind": "http", "result": tc.result}); got != tc.want {
			t.Errorf("io{http,%s} = %v, want %v", tc.result, got, tc.want)
		}
	}
}
