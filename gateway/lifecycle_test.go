package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"luagate/declarative"
)

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %d %q: %v", url, res.StatusCode, b, err)
	}
	return res.StatusCode, m
}

func TestApplySwapsAndDrains(t *testing.T) {
	host, port, _ := startEcho(t)
	var closed atomic.Int32
	lf := fakeFactory(nil, &closed)

	b1 := newCfg()
	b1.cfg.Hash = "11111111111111111111111111111111"
	s1 := b1.service("one", host, port, "/one")
	b1.route("r", s1, func(r *declarative.Route) { r.Paths = []string{"/r"} })

	tg := startGateway(t, nil, testSettings(), lf)
	g := tg.g

	// Before any config: 404 and not ready.
	if r := tg.do(t, "GET", "/r", nil, ""); r.status != 404 {
		t.Fatalf("empty config: status %d", r.status)
	}
	code, body := getJSON(t, "http://"+tg.status+"/status/ready")
	if code != 503 || body["message"] != "no configuration available (configuration hash is not initialized)" {
		t.Errorf("ready before config: %d %v", code, body)
	}

	if err := g.Apply(b1.cfg); err != nil {
		t.Fatal(err)
	}
	if r := tg.do(t, "GET", "/r/x", nil, ""); r.echo == nil || r.echo.URI != "/one/x" {
		t.Fatalf("config 1: %d %q", r.status, r.body)
	}
	code, body = getJSON(t, "http://"+tg.status+"/status/ready")
	if code != 200 || body["message"] != "ready" {
		t.Errorf("ready: %d %v", code, body)
	}
	code, body = getJSON(t, "http://"+tg.status+"/status")
	if code != 200 || body["configuration_hash"] != "11111111111111111111111111111111" {
		t.Errorf("status: %d %v", code, body)
	}
	if srv, ok := body["server"].(map[string]any); !ok || srv["total_requests"].(float64) < 2 {
		t.Errorf("status server block: %v", body["server"])
	}

	// A request in flight on snapshot 1 keeps it alive across the swap.
	old := g.Current()
	done := make(chan *resp, 1)
	go func() { done <- tg.do(t, "GET", "/r/__sleep/300", nil, "") }()
	time.Sleep(100 * time.Millisecond)

	b2 := newCfg()
	b2.cfg.Hash = "22222222222222222222222222222222"
	s2 := b2.service("two", host, port, "/two")
	b2.route("r", s2, func(r *declarative.Route) { r.Paths = []string{"/r"} })
	if err := g.Apply(b2.cfg); err != nil {
		t.Fatal(err)
	}
	if r := tg.do(t, "GET", "/r/y", nil, ""); r.echo == nil || r.echo.URI != "/two/y" {
		t.Fatalf("config 2: %d %q", r.status, r.body)
	}
	select {
	case <-old.Done():
		t.Fatalf("old snapshot closed while a request was in flight")
	default:
	}
	r := <-done
	if r.echo == nil || r.echo.URI != "/one/__sleep/300" {
		t.Errorf("in-flight request: %d %q", r.status, r.body)
	}
	select {
	case <-old.Done():
	case <-time.After(2 * time.Second):
		t.Fatalf("old snapshot not closed after its last request")
	}

	// A config that fails to build leaves the running one.
	b3 := newCfg()
	s3 := b3.service("three", host, port, "/three")
	b3.route("bad", s3, func(r *declarative.Route) { r.Paths = []string{`~/(unclosed`} })
	if err := g.Apply(b3.cfg); err == nil {
		t.Fatalf("Apply accepted an invalid regex")
	}
	if r := tg.do(t, "GET", "/r/z", nil, ""); r.echo == nil || r.echo.URI != "/two/z" {
		t.Errorf("after rejected config: %d %q", r.status, r.body)
	}
	if g.Current().Hash() != "22222222222222222222222222222222" {
		t.Errorf("hash = %s", g.Current().Hash())
	}

	// An empty config is "not ready".
	if err := g.Apply(&declarative.Config{}); err != nil {
		t.Fatal(err)
	}
	code, body = getJSON(t, "http://"+tg.status+"/status/ready")
	if code != 503 || body["message"] != "no configuration available (empty configuration present)" {
		t.Errorf("ready with empty config: %d %v", code, body)
	}
	if g.Current().Hash() != emptyHash {
		t.Errorf("empty hash = %s", g.Current().Hash())
	}
}

func TestStatusQuery(t *testing.T) {
	tg := startGateway(t, nil, testSettings(), nil)
	code, body := getJSON(t, "http://"+tg.status+"/status?unit=b")
	vms := body["memory"].(map[string]any)["workers_lua_vms"].([]any)
	if _, ok := vms[0].(map[string]any)["http_allocated_gc"].(float64); code != 200 || !ok {
		t.Errorf("unit=b: %d %v", code, vms)
	}
	dict, _ := body["memory"].(map[string]any)["lua_shared_dicts"].(map[string]any)["kong"].(map[string]any)
	if dict == nil || dict["capacity"] != float64(5<<20) {
		t.Errorf("lua_shared_dicts.kong = %v, want capacity 5 MiB in bytes", dict)
	}
	code, body = getJSON(t, "http://"+tg.status+"/status?unit=k&scale=1")
	vms = body["memory"].(map[string]any)["workers_lua_vms"].([]any)
	if s, _ := vms[0].(map[string]any)["http_allocated_gc"].(string); code != 200 || !regexp.MustCompile(`^\d+\.\d KiB$`).MatchString(s) {
		t.Errorf("unit=k scale=1: %d %q", code, s)
	}
	code, body = getJSON(t, "http://"+tg.status+"/status?unit=x")
	if code != 400 || !strings.Contains(body["message"].(string), "invalid unit") {
		t.Errorf("unit=x: %d %v", code, body)
	}
	code, _ = getJSON(t, "http://"+tg.admin+"/status")
	if code != 200 {
		t.Errorf("admin /status: %d", code)
	}
	res, err := http.Get("http://" + tg.admin + "/debug/pprof/")
	if err != nil || res.StatusCode != 200 {
		t.Errorf("pprof: %v %v", err, res)
	}
	if res != nil {
		res.Body.Close()
	}
}

func TestGracefulShutdown(t *testing.T) {
	host, port, _ := startEcho(t)
	b := newCfg()
	s := b.service("s", host, port, "")
	b.route("r", s, func(r *declarative.Route) { r.Paths = []string{"/"}; r.StripPath = false })
	g, err := New(testSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(b.cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- g.Run(ctx) }()
	<-g.Started()
	addr := g.Addrs("proxy")[0]
	got := make(chan int, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/__sleep/400")
		if err != nil {
			got <- -1
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		got <- res.StatusCode
	}()
	time.Sleep(150 * time.Millisecond)
	snap := g.Current()
	cancel()
	if code := <-got; code != 200 {
		t.Errorf("in-flight request during shutdown: %d", code)
	}
	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	select {
	case <-snap.Done():
	default:
		t.Errorf("snapshot not closed after shutdown")
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Errorf("proxy still accepting after shutdown")
	}
}
