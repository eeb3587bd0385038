package gateway

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"luagate/declarative"
	"luagate/functions"
	"luagate/lualib"
)

// fakeRunner is a Go stand-in for a plugin instance's Lua functions.
type fakeRunner struct {
	phases lualib.Phase
	fn     func(phase lualib.Phase, ex lualib.Exchange) error
}

func (f *fakeRunner) Phases() lualib.Phase { return f.phases }
func (f *fakeRunner) Run(phase lualib.Phase, ex lualib.Exchange, _ **functions.Lease) error {
	return f.fn(phase, ex)
}

type fakeSet struct {
	runners map[*declarative.Plugin]runner
	closed  *atomic.Int32
}

func (f *fakeSet) Handler(p *declarative.Plugin) runner { return f.runners[p] }
func (f *fakeSet) Close()                               { f.closed.Add(1) }

func fakeFactory(runners map[*declarative.Plugin]runner, closed *atomic.Int32) luaFactory {
	return func(*declarative.Config, *Runtime) (luaSet, error) {
		return &fakeSet{runners: runners, closed: closed}, nil
	}
}

func plugin(b *cfgBuilder, name string, mod func(p *declarative.Plugin)) *declarative.Plugin {
	p := &declarative.Plugin{ID: b.id(), Name: name, Enabled: true, Protocols: []string{"grpc", "grpcs", "http", "https"}}
	if mod != nil {
		mod(p)
	}
	b.cfg.Plugins = append(b.cfg.Plugins, p)
	return p
}

func TestScopePrecedence(t *testing.T) {
	b := newCfg()
	svc := b.service("s", "127.0.0.1", 1, "")
	other := b.service("o", "127.0.0.1", 1, "")
	r := b.route("r", svc, nil)
	c := &declarative.Consumer{ID: b.id(), Username: "alice"}
	mk := func(name string, route *declarative.Route, service *declarative.Service, consumer *declarative.Consumer) *instance {
		p := &declarative.Plugin{ID: b.id(), Name: name, Enabled: true, Route: route, Service: service, Consumer: consumer}
		return &instance{plugin: p, name: name, priority: pluginPriority(p), phases: lualib.PhaseAccess, http: true, https: true}
	}
	global := mk("pre-function", nil, nil, nil)
	onService := mk("pre-function", nil, svc, nil)
	onRoute := mk("pre-function", r, nil, nil)
	onRouteService := mk("pre-function", r, svc, nil)
	onConsumer := mk("pre-function", nil, nil, c)
	onConsumerRoute := mk("pre-function", r, nil, c)
	onOther := mk("post-function", nil, other, nil)
	postGlobal := mk("post-function", nil, nil, nil)

	for _, tt := range []struct {
		name     string
		insts    []*instance
		consumer *declarative.Consumer
		want     []*instance
	}{
		{"global only", []*instance{global}, nil, []*instance{global}},
		{"service beats global", []*instance{global, onService}, nil, []*instance{onService}},
		{"route beats service", []*instance{onService, onRoute, global}, nil, []*instance{onRoute}},
		{"route+service beats route", []*instance{onRoute, onRouteService}, nil, []*instance{onRouteService}},
		{"consumer instance needs the consumer", []*instance{global, onConsumer}, nil, []*instance{global}},
		{"consumer beats route", []*instance{onRoute, onConsumer}, c, []*instance{onConsumer}},
		{"route+service beats consumer", []*instance{onRouteService, onConsumer}, c, []*instance{onRouteService}},
		{"consumer+route beats route+service", []*instance{onRouteService, onConsumerRoute}, c, []*instance{onConsumerRoute}},
		{"other service's instance ignored, sorted by priority", []*instance{postGlobal, onOther, global}, nil, []*instance{global, postGlobal}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := buildChain(tt.insts, r, svc, tt.consumer)
			if len(ch.all) != len(tt.want) {
				t.Fatalf("chain has %d instances, want %d", len(ch.all), len(tt.want))
			}
			for i := range tt.want {
				if ch.all[i] != tt.want[i] {
					t.Errorf("chain[%d] = %+v, want %+v", i, ch.all[i].plugin, tt.want[i].plugin)
				}
			}
		})
	}
}

// phaseLog records what plugins did, in order.
type phaseLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *phaseLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *phaseLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.lines, " ")
	l.lines = nil
	return s
}

func TestPluginPhases(t *testing.T) {
	host, port, hits := startEcho(t)
	b := newCfg()
	svc := b.service("echo", host, port, "")
	rExit := b.route("exit", svc, func(r *declarative.Route) { r.Paths = []string{"/exit"} })
	rErr := b.route("err", svc, func(r *declarative.Route) { r.Paths = []string{"/err"} })
	rHdr := b.route("hdr", svc, func(r *declarative.Route) { r.Paths = []string{"/hdr"}; r.StripPath = false })
	rBody := b.route("body", svc, func(r *declarative.Route) { r.Paths = []string{"/body"}; r.StripPath = false })
	rAuth := b.route("auth", svc, func(r *declarative.Route) { r.Paths = []string{"/auth"}; r.StripPath = false })
	b.route("free", nil, func(r *declarative.Route) { r.Paths = []string{"/free"} })
	alice := &declarative.Consumer{ID: b.id(), Username: "alice"}
	b.cfg.Consumers = append(b.cfg.Consumers, alice)

	var log phaseLog
	runners := map[*declarative.Plugin]runner{}
	add := func(name string, mod func(p *declarative.Plugin), phases lualib.Phase, fn func(lualib.Phase, lualib.Exchange) error) {
		p := plugin(b, name, mod)
		runners[p] = &fakeRunner{phases: phases, fn: fn}
	}
	rec := func(tag string) func(lualib.Phase, lualib.Exchange) error {
		return func(ph lualib.Phase, ex lualib.Exchange) error {
			log.add(tag + ":" + phaseName(ph))
			return nil
		}
	}
	all := lualib.PhaseRewrite | lualib.PhaseAccess | lualib.PhaseHeaderFilter | lualib.PhaseBodyFilter | lualib.PhaseLog
	add("pre-function", nil, all, rec("g-pre")) // global
	add("post-function", func(p *declarative.Plugin) { p.Route = rExit }, lualib.PhaseAccess|lualib.PhaseHeaderFilter|lualib.PhaseLog, rec("post"))
	add("pre-function", func(p *declarative.Plugin) { p.Route = rExit }, lualib.PhaseAccess|lualib.PhaseLog, func(ph lualib.Phase, ex lualib.Exchange) error {
		log.add("pre:" + phaseName(ph))
		if ph == lualib.PhaseAccess {
			ex.Exit(403, []byte(`{"message":"Forbidden"}`), [][2]string{{"Content-Type", "application/json; charset=utf-8"}, {"X-Exit", "1"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}, lualib.SourceExit)
		}
		return nil
	})
	add("pre-function", func(p *declarative.Plugin) { p.Route = rErr }, lualib.PhaseAccess, func(lualib.Phase, lualib.Exchange) error {
		return errors.New(`[string "boom"]:1: attempt to call a nil value`)
	})
	add("pre-function", func(p *declarative.Plugin) { p.Route = rHdr }, lualib.PhaseAccess|lualib.PhaseHeaderFilter, func(ph lualib.Phase, ex lualib.Exchange) error {
		if ph == lualib.PhaseAccess {
			ex.SetUpstreamHeader("X-From-Lua", "yes")
			ex.ClearUpstreamHeader("X-Remove-Me")
			ex.SetResponseHeader("X-Access-Set", "a")
			ex.SetUpstreamPath("/rewritten")
			ex.SetUpstreamRawQuery("k=v")
			return nil
		}
		if v, _ := ex.ServiceHeader("Content-Type"); v != "application/json" {
			return errors.New("service header not visible: " + v)
		}
		ex.SetResponseHeader("X-Hf", "status="+itoa(ex.ResponseStatus()))
		return nil
	})
	add("post-function", func(p *declarative.Plugin) { p.Route = rBody }, lualib.PhaseBodyFilter, func(ph lualib.Phase, ex lualib.Exchange) error {
		ex.SetResponseBody([]byte(strings.ToUpper(string(ex.ResponseBody()))))
		return nil
	})
	add("pre-function", func(p *declarative.Plugin) { p.Route = rAuth }, lualib.PhaseAccess, func(ph lualib.Phase, ex lualib.Exchange) error {
		c, ok := ex.LoadConsumer("alice", true)
		if !ok {
			return errors.New("alice not found")
		}
		ex.Authenticate(c, nil)
		return nil
	})
	add("post-function", func(p *declarative.Plugin) { p.Consumer = alice }, lualib.PhaseAccess, func(ph lualib.Phase, ex lualib.Exchange) error {
		ex.SetUpstreamHeader("X-Consumer-Plugin", "alice")
		return nil
	})

	var closed atomic.Int32
	tg := startGateway(t, b.cfg, testSettings(), fakeFactory(runners, &closed))

	t.Run("exit in access skips later access plugins, filters and log still run", func(t *testing.T) {
		before := hits.Load()
		r := tg.do(t, "GET", "/exit", nil, "")
		if r.status != 403 || r.body != `{"message":"Forbidden"}` || r.header.Get("X-Exit") != "1" {
			t.Errorf("got %d %q", r.status, r.body)
		}
		if hits.Load() != before {
			t.Errorf("upstream was called")
		}
		if got := r.header.Values("Set-Cookie"); len(got) != 2 {
			t.Errorf("repeated exit headers: Set-Cookie = %q", got)
		}
		if r.header.Get("X-Kong-Response-Latency") == "" || r.header.Get("Server") != serverToken {
			t.Errorf("Kong headers missing on exit: %v", r.header)
		}
		// the route's pre-function replaces the global one after routing
		// (most specific instance per name); rewrite ran before routing
		want := "g-pre:rewrite pre:access post:header_filter pre:log post:log"
		if got := log.take(); got != want {
			t.Errorf("phases:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("404 runs the global plugins", func(t *testing.T) {
		r := tg.do(t, "GET", "/none", nil, "")
		if r.status != 404 {
			t.Fatalf("status %d", r.status)
		}
		if got, want := log.take(), "g-pre:rewrite g-pre:header_filter g-pre:body_filter g-pre:log"; got != want {
			t.Errorf("phases: got %s, want %s", got, want)
		}
	})
	t.Run("serviceless route: plugins run, then 503", func(t *testing.T) {
		r := tg.do(t, "GET", "/free", nil, "")
		if r.status != 503 {
			t.Fatalf("status %d", r.status)
		}
		if got := log.take(); !strings.Contains(got, "g-pre:access") {
			t.Errorf("access did not run: %s", got)
		}
	})
	t.Run("runtime error in access is 500 JSON", func(t *testing.T) {
		r := tg.do(t, "GET", "/err", nil, "")
		want := "{\n  \"message\":\"An unexpected error occurred\",\n  \"request_id\":\"" + r.header.Get("X-Kong-Request-Id") + "\"\n}"
		if r.status != 500 || r.body != want {
			t.Errorf("got %d %q", r.status, r.body)
		}
		log.take()
	})
	t.Run("upstream request and response header changes", func(t *testing.T) {
		r := tg.do(t, "GET", "/hdr?orig=1", map[string]string{"X-Remove-Me": "x"}, "")
		if r.echo == nil {
			t.Fatalf("status %d %q", r.status, r.body)
		}
		if r.echo.URI != "/rewritten?k=v" || r.echo.header("X-From-Lua") != "yes" || r.echo.has("X-Remove-Me") {
			t.Errorf("upstream saw %s %v", r.echo.URI, r.echo.Headers)
		}
		if r.header.Get("X-Access-Set") != "a" || r.header.Get("X-Hf") != "status=200" {
			t.Errorf("response headers: %v", r.header)
		}
		log.take()
	})
	t.Run("body_filter buffers and replaces the body", func(t *testing.T) {
		r := tg.do(t, "GET", "/body", nil, "")
		if r.status != 200 || !strings.Contains(r.body, `"URI":"/BODY"`) {
			t.Errorf("got %d %q", r.status, r.body)
		}
		log.take()
	})
	t.Run("authenticated consumer's plugins join the chain", func(t *testing.T) {
		r := tg.do(t, "GET", "/auth", nil, "")
		if r.echo == nil || r.echo.header("X-Consumer-Plugin") != "alice" {
			t.Errorf("consumer plugin did not run: %d %v", r.status, r.echo)
		}
		log.take()
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestRewriteErrorIsPlainText(t *testing.T) {
	b := newCfg()
	p := plugin(b, "pre-function", nil)
	runners := map[*declarative.Plugin]runner{p: &fakeRunner{phases: lualib.PhaseRewrite, fn: func(lualib.Phase, lualib.Exchange) error {
		return errors.New("boom")
	}}}
	var closed atomic.Int32
	tg := startGateway(t, b.cfg, testSettings(), fakeFactory(runners, &closed))
	r := tg.do(t, "GET", "/x", nil, "")
	want := "An unexpected error occurred\nrequest_id: " + r.header.Get("X-Kong-Request-Id") + "\n"
	if r.status != 500 || r.body != want || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("got %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
}

// Go-native plugin kinds (aws-lambda, prometheus) keep their runner in
// Plugin.Config; the chain runs them in priority order with the Lua ones.
func TestNativeRunners(t *testing.T) {
	host, port, _ := startEcho(t)
	b := newCfg()
	svc := b.service("echo", host, port, "")
	rt := b.route("r", svc, func(r *declarative.Route) { r.Paths = []string{"/n"}; r.StripPath = false })
	var order phaseLog
	plugin(b, "aws-lambda", func(p *declarative.Plugin) {
		p.Route = rt
		p.Config = &fakeRunner{phases: lualib.PhaseAccess, fn: func(_ lualib.Phase, ex lualib.Exchange) error {
			order.add("lambda")
			ex.Exit(200, []byte("from lambda"), nil, lualib.SourceExit)
			return nil
		}}
	})
	pre := plugin(b, "pre-function", func(p *declarative.Plugin) { p.Route = rt })
	post := plugin(b, "post-function", func(p *declarative.Plugin) { p.Route = rt })
	runners := map[*declarative.Plugin]runner{
		pre:  &fakeRunner{phases: lualib.PhaseAccess, fn: func(lualib.Phase, lualib.Exchange) error { order.add("pre"); return nil }},
		post: &fakeRunner{phases: lualib.PhaseAccess, fn: func(lualib.Phase, lualib.Exchange) error { order.add("post"); return nil }},
	}
	var closed atomic.Int32
	tg := startGateway(t, b.cfg, testSettings(), fakeFactory(runners, &closed))
	r := tg.do(t, "GET", "/n", nil, "")
	if r.status != 200 || r.body != "from lambda" {
		t.Errorf("got %d %q", r.status, r.body)
	}
	// pre-function (1000000) then aws-lambda (750); its exit skips post-function (-1000)
	if got := order.take(); got != "pre lambda" {
		t.Errorf("order = %q, want \"pre lambda\"", got)
	}
}

// A runner that panics (a bug, not a Lua error) is answered like a plugin
// error in access and only logged in log; the node keeps serving.
func TestRunnerPanics(t *testing.T) {
	host, port, _ := startEcho(t)
	b := newCfg()
	svc := b.service("echo", host, port, "")
	rt := b.route("r", svc, func(r *declarative.Route) { r.Paths = []string{"/p"} })
	rLog := b.route("l", svc, func(r *declarative.Route) { r.Paths = []string{"/l"} })
	runners := map[*declarative.Plugin]runner{
		plugin(b, "pre-function", func(p *declarative.Plugin) { p.Route = rt }): &fakeRunner{phases: lualib.PhaseAccess, fn: func(lualib.Phase, lualib.Exchange) error {
			panic("access boom")
		}},
		plugin(b, "pre-function", func(p *declarative.Plugin) { p.Route = rLog }): &fakeRunner{phases: lualib.PhaseLog, fn: func(lualib.Phase, lualib.Exchange) error {
			panic("log boom")
		}},
	}
	var closed atomic.Int32
	tg := startGateway(t, b.cfg, testSettings(), fakeFactory(runners, &closed))
	for i := 0; i < 3; i++ {
		r := tg.do(t, "GET", "/p", nil, "")
		if r.status != 500 || !strings.Contains(r.body, `"message":"An unexpected error occurred"`) {
			t.Fatalf("access panic: %d %q", r.status, r.body)
		}
		if r := tg.do(t, "GET", "/l", nil, ""); r.status != 200 || r.echo == nil {
			t.Fatalf("log panic: %d %q", r.status, r.body)
		}
	}
}
