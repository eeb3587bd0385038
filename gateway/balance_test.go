package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"luagate/declarative"
	"luagate/lualib"
)

// Issue 9: upstreams and targets, load balancing and health checks.

type echoBackend struct {
	addr string
	hits *atomic.Int64
}

func echoBackends(t *testing.T, n int) []echoBackend {
	t.Helper()
	out := make([]echoBackend, n)
	for i := range out {
		h, p, hits := startEcho(t)
		out[i] = echoBackend{net.JoinHostPort(h, strconv.Itoa(p)), hits}
	}
	return out
}

func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// startYAML runs a gateway with a kong.yml text.
func startYAML(t *testing.T, text string) *testGateway {
	t.Helper()
	g, err := New(testSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, g, text)
	return startGatewayWith(t, g)
}

func applyYAML(t *testing.T, g *Gateway, text string) {
	t.Helper()
	cfg, err := declarative.Load([]byte(text), declarative.Options{Filename: "kong.yml", Registry: g.Registry()})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := g.Apply(cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// admin calls the Admin API handler.
func (tg *testGateway) adminCall(t *testing.T, method, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	tg.g.NewAdminAPI().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	var m map[string]any
	if b, _ := io.ReadAll(rec.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return rec.Code, m
}

func healthByTarget(t *testing.T, tg *testGateway, up string) map[string]string {
	t.Helper()
	code, body := tg.adminCall(t, "GET", "/upstreams/"+up+"/health")
	if code != 200 {
		t.Fatalf("GET health: %d %v", code, body)
	}
	out := map[string]string{}
	for _, e := range body["data"].([]any) {
		m := e.(map[string]any)
		out[m["target"].(string)] = m["health"].(string)
	}
	return out
}

func upstreamYAML(upstream string, targets []string, weights []int) string {
	var b strings.Builder
	b.WriteString(`_format_version: "3.0"
services:
- name: s
  host: up.test
  retries: 5
  routes:
  - name: r
    paths: [/]
upstreams:
- name: up.test
` + upstream + `
  targets:
`)
	for i, t := range targets {
		w := 100
		if weights != nil {
			w = weights[i]
		}
		fmt.Fprintf(&b, "  - target: %s\n    weight: %d\n", t, w)
	}
	return b.String()
}

func TestUpstreamWeightedRoundRobin(t *testing.T) {
	be := echoBackends(t, 3)
	tg := startYAML(t, upstreamYAML("", []string{be[0].addr, be[1].addr, be[2].addr}, []int{100, 200, 100}))
	for range 400 {
		if r := tg.do(t, "GET", "/x", nil, ""); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	got := []int64{be[0].hits.Load(), be[1].hits.Load(), be[2].hits.Load()}
	if got[0] != 100 || got[1] != 200 || got[2] != 100 {
		t.Errorf("hits = %v, want [100 200 100]", got)
	}
	// The Host header is the target's host:port (spec 3.8).
	if r := tg.do(t, "GET", "/x", nil, ""); r.echo == nil || !strings.HasPrefix(r.echo.Host, "127.0.0.1:") {
		t.Errorf("upstream Host = %v", r.echo)
	}
}

func TestUpstreamRetriesOnRefusedTarget(t *testing.T) {
	be := echoBackends(t, 2)
	dead := deadAddr(t)
	tg := startYAML(t, upstreamYAML(`  healthchecks:
    passive:
      unhealthy:
        tcp_failures: 2`, []string{dead, be[0].addr, be[1].addr}, nil))
	for i := range 30 {
		if r := tg.do(t, "GET", "/x", nil, ""); r.status != 200 {
			t.Fatalf("request %d: status %d, want 200 (retried on another target)", i, r.status)
		}
	}
	if n := be[0].hits.Load() + be[1].hits.Load(); n != 30 {
		t.Errorf("live targets served %d of 30", n)
	}
	h := healthByTarget(t, tg, "up.test")
	if h[dead] != "UNHEALTHY" || h[be[0].addr] != "HEALTHY" {
		t.Errorf("health after refused connections = %v", h)
	}
}

func TestUpstreamNoPeer503(t *testing.T) {
	dead := deadAddr(t)
	tg := startYAML(t, strings.Replace(upstreamYAML(`  healthchecks:
    passive:
      unhealthy:
        tcp_failures: 1`, []string{dead}, nil), "retries: 5", "retries: 0", 1))
	if r := tg.do(t, "GET", "/x", nil, ""); r.status != 502 {
		t.Fatalf("refused target: %d, want 502", r.status)
	}
	r := tg.do(t, "GET", "/x", nil, "")
	if r.status != 503 || !strings.Contains(r.body, `"message":"failure to get a peer from the ring-balancer"`) {
		t.Errorf("all targets unhealthy: %d %s", r.status, r.body)
	}
	// Marking it healthy brings it back into the ring (502 again, not 503).
	if code, body := tg.adminCall(t, "POST", "/upstreams/up.test/targets/"+dead+"/healthy"); code != 204 {
		t.Fatalf("POST healthy: %d %v", code, body)
	}
	if r := tg.do(t, "GET", "/x", nil, ""); r.status != 502 {
		t.Errorf("after POST healthy: %d", r.status)
	}
}

func TestUpstreamHashOnCookie(t *testing.T) {
	be := echoBackends(t, 3)
	tg := startYAML(t, upstreamYAML(`  hash_on: cookie
  hash_on_cookie: sess
  hash_on_cookie_path: /app`, []string{be[0].addr, be[1].addr, be[2].addr}, nil))
	r := tg.do(t, "GET", "/x", nil, "")
	c := r.header.Get("Set-Cookie")
	if !strings.HasPrefix(c, "sess=") || !strings.HasSuffix(c, "; Path=/app; Same-Site=Lax; HttpOnly") {
		t.Fatalf("Set-Cookie = %q", c)
	}
	cookie := strings.SplitN(c, ";", 2)[0]
	before := []int64{be[0].hits.Load(), be[1].hits.Load(), be[2].hits.Load()}
	for range 20 {
		r := tg.do(t, "GET", "/x", map[string]string{"Cookie": cookie}, "")
		if r.header.Get("Set-Cookie") != "" {
			t.Fatal("cookie set again although the request carried it")
		}
	}
	moved := 0
	for i, b := range be {
		if d := b.hits.Load() - before[i]; d != 0 && d != 20 {
			t.Errorf("target %d got %d of 20 requests with one cookie", i, d)
		}
		if b.hits.Load() != before[i] {
			moved++
		}
	}
	if moved != 1 {
		t.Errorf("one cookie reached %d targets", moved)
	}
}

func TestUpstreamHashOnHeaderSpreads(t *testing.T) {
	be := echoBackends(t, 3)
	tg := startYAML(t, upstreamYAML(`  hash_on: header
  hash_on_header: x-user`, []string{be[0].addr, be[1].addr, be[2].addr}, nil))
	for i := range 150 {
		tg.do(t, "GET", "/x", map[string]string{"X-User": fmt.Sprint("u", i)}, "")
	}
	for i, b := range be {
		if n := b.hits.Load(); n < 20 || n > 90 {
			t.Errorf("target %d got %d of 150 keys", i, n)
		}
	}
}

func TestUpstreamAdminAPI(t *testing.T) {
	be := echoBackends(t, 2)
	text := upstreamYAML(`  healthchecks:
    active:
      healthy:
        interval: 60
    passive:
      unhealthy:
        http_failures: 3`, []string{be[0].addr, be[1].addr, "127.0.0.1:9"}, []int{100, 100, 0})
	tg := startYAML(t, text)

	code, body := tg.adminCall(t, "GET", "/upstreams/up.test/targets/all")
	if code != 200 || len(body["data"].([]any)) != 3 {
		t.Errorf("targets/all: %d %v", code, body)
	}
	if h := healthByTarget(t, tg, "up.test"); len(h) != 2 || h[be[0].addr] != "HEALTHY" {
		t.Errorf("health = %v (weight-0 targets are not in the balancer)", h)
	}
	if code, _ := tg.adminCall(t, "POST", "/upstreams/up.test/targets/"+be[0].addr+"/unhealthy"); code != 204 {
		t.Fatalf("POST unhealthy: %d", code)
	}
	before := be[0].hits.Load()
	for range 10 {
		tg.do(t, "GET", "/x", nil, "")
	}
	if be[0].hits.Load() != before {
		t.Error("a target marked unhealthy still gets traffic")
	}
	code, body = tg.adminCall(t, "GET", "/upstreams/up.test/health?balancer_health=1")
	if d, _ := body["data"].(map[string]any); code != 200 || d["health"] != "HEALTHY" {
		t.Errorf("balancer_health: %d %v", code, body)
	}
	if code, _ := tg.adminCall(t, "POST", "/upstreams/up.test/targets/10.9.9.9:80/unhealthy"); code != 404 {
		t.Errorf("unknown target: %d", code)
	}
	if code, _ := tg.adminCall(t, "GET", "/upstreams/nope/health"); code != 404 {
		t.Errorf("unknown upstream: %d", code)
	}

	// A reload (another route added) keeps the manual state.
	applyYAML(t, tg.g, strings.Replace(text, "    paths: [/]\n", "    paths: [/]\n  - name: extra\n    paths: [/extra]\n", 1))
	if h := healthByTarget(t, tg, "up.test"); h[be[0].addr] != "UNHEALTHY" {
		t.Errorf("health after reload = %v", h)
	}
	// kong_upstream_target_health's source.
	states := map[string]string{}
	for _, th := range tg.g.rt.targetHealth() {
		states[th.Target] = th.State
	}
	if states[be[0].addr] != "unhealthy" || states[be[1].addr] != "healthy" {
		t.Errorf("metrics source = %v", states)
	}
}

func TestUpstreamActiveChecksEndToEnd(t *testing.T) {
	var failing atomic.Bool
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "bad-ok")
	}))
	defer bad.Close()
	be := echoBackends(t, 1)
	tg := startYAML(t, upstreamYAML(`  healthchecks:
    active:
      http_path: /health
      healthy:
        interval: 0.05
        successes: 1
      unhealthy:
        interval: 0.05
        http_failures: 1`, []string{bad.Listener.Addr().String(), be[0].addr}, nil))
	failing.Store(true)
	waitUntil(t, func() bool { return healthByTarget(t, tg, "up.test")[bad.Listener.Addr().String()] == "UNHEALTHY" })
	for range 6 {
		if r := tg.do(t, "GET", "/x", nil, ""); r.status != 200 || r.echo == nil {
			t.Fatalf("with the failing target out: %d %s", r.status, r.body)
		}
	}
	failing.Store(false)
	waitUntil(t, func() bool { return healthByTarget(t, tg, "up.test")[bad.Listener.Addr().String()] == "HEALTHY" })
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kong.service.set_target with an upstream's name balances over it; with
// host and port it goes there.
func TestSetTargetUpstreamName(t *testing.T) {
	be := echoBackends(t, 2)
	b := newCfg()
	h, p, _ := net.SplitHostPort(be[0].addr)
	port, _ := strconv.Atoi(p)
	svc := b.service("direct", h, port, "")
	rt := b.route("r", svc, func(r *declarative.Route) { r.Paths = []string{"/"} })
	ups := &declarative.Upstream{ID: b.id(), Name: "pool", Algorithm: "round-robin", HashOn: "none", HashFallback: "none", Slots: 10000}
	b.cfg.Upstreams = append(b.cfg.Upstreams, ups)
	for _, e := range be {
		b.cfg.Targets = append(b.cfg.Targets, &declarative.Target{ID: b.id(), Target: e.addr, Weight: 100, Upstream: ups})
	}
	runners := map[*declarative.Plugin]runner{}
	runners[plugin(b, "pre-function", func(p *declarative.Plugin) { p.Route = rt })] = &fakeRunner{phases: lualib.PhaseAccess,
		fn: func(_ lualib.Phase, ex lualib.Exchange) error { ex.SetTarget("pool", 80); return nil }}
	var closed atomic.Int32
	tg := startGateway(t, b.cfg, testSettings(), fakeFactory(runners, &closed))
	for range 10 {
		if r := tg.do(t, "GET", "/", nil, ""); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	if be[0].hits.Load() != 5 || be[1].hits.Load() != 5 {
		t.Errorf("hits = %d, %d; want 5 and 5 over the upstream", be[0].hits.Load(), be[1].hits.Load())
	}
}

// 100 reloads that each add two upstreams with active checks and DNS-named
// targets and drop the previous ones leave no goroutine behind.
func TestUpstreamReloadsNoGoroutineLeak(t *testing.T) {
	be := echoBackends(t, 1)
	_, port, _ := net.SplitHostPort(be[0].addr)
	g, err := New(testSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, g, `_format_version: "3.0"`)
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	for i := range 100 {
		var b strings.Builder
		b.WriteString("_format_version: \"3.0\"\nupstreams:\n")
		for j := range 2 {
			fmt.Fprintf(&b, `- name: up-%d-%d
  healthchecks:
    active:
      healthy: {interval: 0.02}
      unhealthy: {interval: 0.02, tcp_failures: 1}
  targets:
  - target: %s
  - target: localhost:%s
`, i, j, be[0].addr, port)
		}
		applyYAML(t, g, b.String())
	}
	if n := len(g.rt.balancers.Names()); n != 2 {
		t.Errorf("%d upstreams with balancers, want the last config's 2", n)
	}
	applyYAML(t, g, `_format_version: "3.0"`)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base+2 {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d after 100 reloads, %d before", runtime.NumGoroutine(), base)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(g.rt.balancers.Names()); n != 0 {
		t.Errorf("%d balancers left after the upstreams were removed", n)
	}
}

func TestUpstreamAdminAddressHealth(t *testing.T) {
	be := echoBackends(t, 2)
	tg := startYAML(t, upstreamYAML(`  healthchecks:
    passive:
      unhealthy:
        timeouts: 3`, []string{be[0].addr, be[1].addr}, nil))
	a := be[1].addr
	for _, tt := range []struct {
		path string
		code int
		want string
	}{
		{"/upstreams/up.test/targets/" + a + "/" + a + "/unhealthy", 204, "UNHEALTHY"},
		{"/upstreams/up.test/targets/" + a + "/" + a + "/healthy", 204, "HEALTHY"},
		{"/upstreams/up.test/targets/" + a + "/10.1.1.1:80/unhealthy", 400, "HEALTHY"},
		{"/upstreams/up.test/targets/" + a + "/unhealthy", 204, "UNHEALTHY"},
	} {
		if code, body := tg.adminCall(t, "POST", tt.path); code != tt.code {
			t.Errorf("POST %s = %d %v, want %d", tt.path, code, body, tt.code)
		}
		if h := healthByTarget(t, tg, "up.test")[a]; h != tt.want {
			t.Errorf("after POST %s: %s, want %s", tt.path, h, tt.want)
		}
	}
	if code, _ := tg.adminCall(t, "GET", "/upstreams/up.test/targets/"+a+"/unhealthy"); code != 405 {
		t.Errorf("GET on a POST endpoint: %d, want 405", code)
	}
}

// kong_upstream_target_health through GET /metrics when a prometheus
// instance enables upstream_health_metrics.
func TestUpstreamTargetHealthMetric(t *testing.T) {
	be := echoBackends(t, 1)
	dead := deadAddr(t)
	tg := startYAML(t, upstreamYAML(`  healthchecks:
    passive:
      unhealthy:
        tcp_failures: 1`, []string{be[0].addr, dead}, nil)+`plugins:
- name: prometheus
  config:
    upstream_health_metrics: true
`)
	for range 4 {
		tg.do(t, "GET", "/x", nil, "")
	}
	res, err := http.Get("http://" + tg.status + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`kong_upstream_target_health{upstream="up.test",target="` + be[0].addr + `",address="` + be[0].addr + `",state="healthy",subsystem="http"} 1`,
		`kong_upstream_target_health{upstream="up.test",target="` + dead + `",address="` + dead + `",state="unhealthy",subsystem="http"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
