package gateway

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"luagate/declarative"
	"luagate/functions"
	"luagate/gateway/balancer"
	"luagate/gateway/router"
	"luagate/lualib"
)

// DryRunRequest is one client request for DryRun.
type DryRunRequest struct {
	Method string // default GET
	// Target is the request target: a path with an optional query
	// ("/echo/x?y=1").
	Target string
	// Host is the Host header (default "localhost"); a Host entry in
	// Headers takes precedence.
	Host    string
	Headers [][2]string // in order; repeated names are kept
	Body    []byte
	// Scheme is the listener's scheme, "http" (default) or "https".
	Scheme string
	// Port is the listener's port (default: the first proxy_listen port).
	Port int
	// ClientIP is the peer address (default 127.0.0.1).
	ClientIP string

	// What the captured upstream answers (default 200, no headers, no body).
	UpstreamStatus  int
	UpstreamHeaders [][2]string
	UpstreamBody    []byte
}

// DryRunResult is what DryRun observed.
type DryRunResult struct {
	// Route is the matched route, nil when none matched.
	Route *DryRunRoute `json:"route"`
	// Plugins is the plugin chain of the matched route (or the global one),
	// highest priority first, as built for a request without a consumer.
	Plugins []DryRunPlugin `json:"plugins"`
	// Trace lists every plugin handler that ran, in order.
	Trace []DryRunStep `json:"trace"`
	// Upstream is the request the upstream would have received (each
	// attempt's last one); nil when the request was answered without it.
	Upstream *DryRunUpstream `json:"upstream"`
	// Response is what the client receives.
	Response DryRunResponse `json:"response"`
	// Errors are the errors the gateway logged while serving the request
	// (plugin runtime errors, refused network access).
	Errors []string `json:"errors"`
}

// DryRunRoute names the matched route and its service.
type DryRunRoute struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Service *struct {
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
	} `json:"service"`
	// StripPrefix is the part of the path strip_path removes ("" for none).
	StripPrefix string `json:"strip_prefix,omitempty"`
}

// DryRunPlugin is one instance of the chain.
type DryRunPlugin struct {
	Name     string   `json:"name"`
	ID       string   `json:"id"`
	Scope    string   `json:"scope"` // global, service, route, consumer, route+service ...
	Priority int      `json:"priority"`
	Phases   []string `json:"phases"`
}

// DryRunStep is one handler that ran.
type DryRunStep struct {
	Plugin string `json:"plugin"`
	ID     string `json:"id"`
	Phase  string `json:"phase"`
	// Exit is the status of a short-circuit answer the handler made
	// (kong.response.exit), 0 when none.
	Exit  int    `json:"exit,omitempty"`
	Error string `json:"error,omitempty"`
}

// DryRunUpstream is the request as it reached the upstream.
type DryRunUpstream struct {
	Target  string      `json:"target"` // host:port dialled
	URL     string      `json:"url"`
	Method  string      `json:"method"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
	Tries   int         `json:"tries"`
}

// DryRunResponse is the client's answer.
type DryRunResponse struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

// errDryRunNetwork is the refusal of network access in a dry run.
func errDryRunNetwork(what string) error {
	return fmt.Errorf("%s is not available in a dry run (luagate request does not use the network)", what)
}

// DryRun serves one request through the real snapshot of cfg (router, plugin
// chain, Lua functions, proxy request building) with an in-memory capture
// in place of the upstream: nothing leaves the process. resty.redis,
// resty.http and aws-lambda fail with a "not available in a dry run" error.
func DryRun(cfg *declarative.Config, settings Settings, in DryRunRequest) (*DryRunResult, error) {
	if cfg == nil {
		return nil, errors.New("gateway: DryRun(nil config)")
	}
	res := &DryRunResult{Plugins: []DryRunPlugin{}, Trace: []DryRunStep{}, Errors: []string{}}
	logs := &dryRunLog{mu: &sync.Mutex{}, res: res, seen: map[string]bool{}}
	rt, err := NewRuntime(settings, slog.New(logs))
	if err != nil {
		return nil, err
	}
	rt.ids = &idGen{} // deterministic request ids: one request per run
	// No DNS and no active health probes: upstream targets keep their names
	// (the capture shows them), and the balancers see no active checks.
	rt.balancers = balancer.NewRegistry(balancer.Options{Logger: rt.logger, Resolver: dryRunResolver{}})
	cfg = withoutActiveChecks(cfg)

	capture := newDryRunCapture(in)
	defer capture.close()
	rt.pool.dial = capture.dial

	tr := &dryRunTracer{res: res}
	lf := func(cfg *declarative.Config, rt *Runtime) (luaSet, error) {
		var set *functions.Set
		if hasFunctions(cfg) {
			fs := functionsSettings(rt.settings, rt)
			fs.State.Network = func(kind string) error {
				return errDryRunNetwork("resty." + kind)
			}
			fs.MaxIdleStates = 1
			fs.Recycler = nil // states with the dry run's network refusal stay its own
			s, err := functions.NewSet(cfg, fs)
			if err != nil {
				return nil, err
			}
			set = s
		}
		return &dryRunSet{set: set, tr: tr}, nil
	}
	snap, err := build(cfg, rt, lf)
	if err != nil {
		return nil, err
	}
	// The capture's certificate is self-signed.
	rt.pool.mu.Lock()
	for _, pc := range rt.pool.m {
		if pc.hc.TLSConfig != nil {
			pc.hc.TLSConfig.InsecureSkipVerify = true
		}
	}
	rt.pool.mu.Unlock()
	defer func() {
		snap.Close()
		<-snap.Done()
	}()
	g := &Gateway{settings: settings, logger: rt.logger, rt: rt, lf: lf, started: make(chan struct{})}
	g.cur.Store(snap)
	g.loaded.Store(true)

	var req fasthttp.Request
	if err := in.fill(&req); err != nil {
		return nil, err
	}
	lst := &listener{kind: "proxy", scheme: "http", port: in.Port}
	if in.Scheme == "https" {
		lst.scheme = "https"
	} else if in.Scheme != "" && in.Scheme != "http" {
		return nil, fmt.Errorf("scheme %q is not http or https", in.Scheme)
	}
	if lst.port == 0 {
		lst.port = 8000
		if ls, err := ParseListen("proxy_listen", settings.ProxyListen); err == nil && len(ls) > 0 {
			if _, p, err := net.SplitHostPort(ls[0].Addr); err == nil {
				if n, err := strconv.Atoi(p); err == nil {
					lst.port = n
				}
			}
		}
	}
	lst.portStr = strconv.Itoa(lst.port)
	ip := net.ParseIP(in.ClientIP)
	if in.ClientIP == "" {
		ip = net.IPv4(127, 0, 0, 1)
	} else if ip == nil {
		return nil, fmt.Errorf("client ip %q is not an IP address", in.ClientIP)
	}

	res.Route, res.Plugins = describeMatch(snap, &req, lst)

	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: ip, Port: 40000}, fasthttpLogger{rt.logger})
	g.serveProxy(lst, &ctx)
	body := ctx.Response.Body() // reads a streamed body to its end, which ends the request

	res.Response.Status = ctx.Response.StatusCode()
	res.Response.Body = string(body)
	for k, v := range ctx.Response.Header.All() {
		res.Response.Headers = append(res.Response.Headers, [2]string{string(k), string(v)})
	}
	if ctx.Response.Header.ContentLength() >= 0 && !hasHeader(res.Response.Headers, "Content-Length") {
		res.Response.Headers = append(res.Response.Headers, [2]string{"Content-Length", strconv.Itoa(len(body))})
	}
	res.Upstream = capture.result()
	return res, nil
}

// dryRunResolver answers a name with itself (the dial hook receives
// "name:port" and the capture reports it) and refuses SRV lookups.
type dryRunResolver struct{}

func (dryRunResolver) LookupIP(_ context.Context, host string) ([]string, time.Duration, error) {
	return []string{host}, balancer.MaxTTL, nil
}

func (dryRunResolver) LookupSRV(_ context.Context, name string) ([]*net.SRV, time.Duration, error) {
	return nil, 0, errDryRunNetwork("the SRV lookup of " + name)
}

// withoutActiveChecks returns cfg, or a copy whose upstreams have no
// active health check intervals (a dry run must not probe targets). cfg
// itself is never changed.
func withoutActiveChecks(cfg *declarative.Config) *declarative.Config {
	active := func(u *declarative.Upstream) map[string]any {
		a, _ := u.Healthchecks["active"].(map[string]any)
		return a
	}
	need := false
	for _, u := range cfg.Upstreams {
		if active(u) != nil {
			need = true
		}
	}
	if !need {
		return cfg
	}
	c := *cfg
	moved := make(map[*declarative.Upstream]*declarative.Upstream, len(cfg.Upstreams))
	c.Upstreams = make([]*declarative.Upstream, len(cfg.Upstreams))
	for i, u := range cfg.Upstreams {
		cu := *u
		if a := active(u); a != nil {
			hc := make(map[string]any, len(u.Healthchecks))
			for k, v := range u.Healthchecks {
				hc[k] = v
			}
			ca := make(map[string]any, len(a))
			for k, v := range a {
				ca[k] = v
			}
			for _, side := range []string{"healthy", "unhealthy"} {
				if m, ok := a[side].(map[string]any); ok {
					cm := make(map[string]any, len(m))
					for k, v := range m {
						cm[k] = v
					}
					cm["interval"] = json.Number("0")
					ca[side] = cm
				}
			}
			hc["active"] = ca
			cu.Healthchecks = hc
		}
		c.Upstreams[i] = &cu
		moved[u] = &cu
	}
	c.Targets = make([]*declarative.Target, len(cfg.Targets))
	for i, t := range cfg.Targets {
		ct := *t
		if nu, ok := moved[t.Upstream]; ok {
			ct.Upstream = nu
		}
		c.Targets[i] = &ct
	}
	return &c
}

func hasHeader(hs [][2]string, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return true
		}
	}
	return false
}

func hasFunctions(cfg *declarative.Config) bool {
	for _, p := range cfg.Plugins {
		if c, ok := p.Config.(*functions.Config); ok && len(c.Functions) > 0 {
			return true
		}
	}
	return false
}

// fill builds the client request.
func (in *DryRunRequest) fill(req *fasthttp.Request) error {
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = "GET"
	}
	for _, c := range method {
		if c < 'A' || c > 'Z' {
			return fmt.Errorf("method %q is not a token of letters", in.Method)
		}
	}
	target := in.Target
	if target == "" {
		target = "/"
	}
	if target[0] != '/' {
		return fmt.Errorf("request target %q must start with /", in.Target)
	}
	req.Header.SetMethod(method)
	req.SetRequestURI(target)
	req.URI().DisablePathNormalizing = true // header names are normalised, as the proxy listener does
	host := in.Host
	if host == "" {
		host = "localhost"
	}
	req.Header.SetHost(host)
	for _, h := range in.Headers {
		if h[0] == "" {
			return fmt.Errorf("header %q has no name", h[0]+": "+h[1])
		}
		if strings.EqualFold(h[0], "Upgrade") {
			return errors.New("upgrade requests (WebSocket) cannot be dry-run: they need the upstream's connection")
		}
		if strings.EqualFold(h[0], "Host") {
			req.Header.SetHost(h[1])
			continue
		}
		req.Header.Add(h[0], h[1])
	}
	if len(in.Body) > 0 {
		req.SetBody(in.Body)
	}
	return nil
}

// describeMatch runs the router on the request as the proxy will and
// returns the route and its chain.
func describeMatch(s *Snapshot, req *fasthttp.Request, lst *listener) (*DryRunRoute, []DryRunPlugin) {
	uri := string(req.Header.RequestURI())
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	chains := s.global
	var route *DryRunRoute
	path, err := router.NormalizePath(uri)
	if err == nil {
		var m router.Match
		rr := router.Request{Method: string(req.Header.Method()), Host: string(req.Header.Host()), Path: path,
			Scheme: lst.scheme, ListenerPort: lst.port, Headers: &req.Header}
		if s.router.Match(&rr, &m) {
			if rs := s.routes[m.Route]; rs != nil {
				chains = rs.chains
				route = &DryRunRoute{ID: m.Route.ID, Name: m.Route.Name}
				if m.Strip {
					route.StripPrefix = m.Prefix
				}
				if svc := m.Route.Service; svc != nil {
					route.Service = &struct {
						ID   string `json:"id"`
						Name string `json:"name,omitempty"`
					}{svc.ID, svc.Name}
				}
			}
		}
	}
	plugins := []DryRunPlugin{}
	ch := chains.base
	for _, in := range ch.all {
		p := DryRunPlugin{Name: in.name, ID: in.id, Scope: pluginScope(in.plugin), Priority: in.priority, Phases: []string{}}
		for ph := 0; ph < numPhases; ph++ {
			for _, x := range ch.byPhase[ph] {
				if x == in {
					p.Phases = append(p.Phases, phaseNames[ph])
				}
			}
		}
		plugins = append(plugins, p)
	}
	return route, plugins
}

func pluginScope(p *declarative.Plugin) string {
	var parts []string
	if p.Consumer != nil {
		parts = append(parts, "consumer")
	}
	if p.Route != nil {
		parts = append(parts, "route")
	}
	if p.Service != nil {
		parts = append(parts, "service")
	}
	if len(parts) == 0 {
		return "global"
	}
	return strings.Join(parts, "+")
}

// ---- plugin tracing

// dryRunTracer records the handlers that run.
type dryRunTracer struct {
	mu  sync.Mutex
	res *DryRunResult
}

func (t *dryRunTracer) add(s DryRunStep) {
	t.mu.Lock()
	t.res.Trace = append(t.res.Trace, s)
	t.mu.Unlock()
}

// dryRunSet wraps the functions set: every handler is traced, and
// aws-lambda instances refuse to run.
type dryRunSet struct {
	set *functions.Set
	tr  *dryRunTracer
}

func (d *dryRunSet) Handler(p *declarative.Plugin) runner {
	if p.Name == "aws-lambda" {
		return &tracedRunner{name: p.Name, id: p.ID, tr: d.tr, inner: lambdaRefusal{}}
	}
	if d.set != nil {
		if h := d.set.Handler(p); h != nil {
			return &tracedRunner{name: p.Name, id: p.ID, tr: d.tr, inner: h}
		}
	}
	// Go-native kinds (prometheus ...): traced as well.
	if nr, ok := p.Config.(runner); ok {
		return &tracedRunner{name: p.Name, id: p.ID, tr: d.tr, inner: nr}
	}
	return nil
}

func (d *dryRunSet) Close() {
	if d.set != nil {
		d.set.Close()
	}
}

// lambdaRefusal stands for an aws-lambda instance in a dry run.
type lambdaRefusal struct{}

func (lambdaRefusal) Phases() lualib.Phase { return lualib.PhaseAccess }
func (lambdaRefusal) Run(lualib.Phase, lualib.Exchange, **functions.Lease) error {
	return errDryRunNetwork("aws-lambda (it invokes a Lambda function over the network)")
}

type tracedRunner struct {
	name, id string
	tr       *dryRunTracer
	inner    runner
}

func (t *tracedRunner) Phases() lualib.Phase { return t.inner.Phases() }

func (t *tracedRunner) Run(phase lualib.Phase, ex lualib.Exchange, lease **functions.Lease) error {
	exited := ex.Exited()
	err := t.inner.Run(phase, ex, lease)
	step := DryRunStep{Plugin: t.name, ID: t.id, Phase: phase.String()}
	if err != nil {
		step.Error = err.Error()
	}
	if !exited && ex.Exited() {
		step.Exit = ex.ResponseStatus()
		if r, ok := ex.(*request); ok {
			step.Exit = r.exitStatus
		}
	}
	t.tr.add(step)
	return err
}

// ---- the upstream capture

// dryRunCapture is an in-memory HTTP server standing for every upstream.
type dryRunCapture struct {
	ln   *fasthttputil.InmemoryListener
	srv  *fasthttp.Server
	done chan struct{}

	mu     sync.Mutex
	target string
	got    *DryRunUpstream
	tries  int
}

func newDryRunCapture(in DryRunRequest) *dryRunCapture {
	c := &dryRunCapture{ln: fasthttputil.NewInmemoryListener(), done: make(chan struct{})}
	status := in.UpstreamStatus
	if status == 0 {
		status = 200
	}
	c.srv = &fasthttp.Server{
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		NoDefaultDate:                 true,
		DisableHeaderNamesNormalizing: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			u := &DryRunUpstream{Method: string(ctx.Method()), Body: string(ctx.Request.Body()), Headers: [][2]string{}}
			for k, v := range ctx.Request.Header.All() {
				u.Headers = append(u.Headers, [2]string{string(k), string(v)})
			}
			c.mu.Lock()
			scheme := "http"
			if ctx.IsTLS() {
				scheme = "https"
			}
			u.Target = c.target
			u.URL = scheme + "://" + c.target + string(ctx.Request.Header.RequestURI())
			c.tries++
			u.Tries = c.tries
			c.got = u
			c.mu.Unlock()
			ctx.Response.SetStatusCode(status)
			for _, h := range in.UpstreamHeaders {
				ctx.Response.Header.Add(h[0], h[1])
			}
			ctx.Response.SetBody(in.UpstreamBody)
		},
	}
	go func() {
		defer close(c.done)
		_ = c.srv.Serve(&sniffListener{Listener: c.ln})
	}()
	return c
}

// sniffListener serves TLS to connections that start with a TLS handshake
// (services with protocol https) and plain HTTP to the others. The
// certificate is self-signed: DryRun turns verification off.
type sniffListener struct {
	net.Listener
	once sync.Once
	cfg  *tls.Config
	err  error
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	b, err := br.Peek(1)
	pc := &peekConn{Conn: c, r: br}
	if err != nil || b[0] != 0x16 {
		return pc, nil
	}
	l.once.Do(func() { l.cfg, l.err = selfSignedTLS() })
	if l.err != nil {
		c.Close()
		return nil, l.err
	}
	return tls.Server(pc, l.cfg), nil
}

type peekConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func selfSignedTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "luagate dry run"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, nil
}

func (c *dryRunCapture) dial(addr string) (net.Conn, error) {
	c.mu.Lock()
	c.target = addr
	c.mu.Unlock()
	return c.ln.Dial()
}

func (c *dryRunCapture) result() *DryRunUpstream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got
}

func (c *dryRunCapture) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.srv.ShutdownWithContext(ctx)
	c.ln.Close()
	<-c.done
}

// ---- logs

// dryRunLog keeps the warnings and errors the gateway logs during a dry run.
type dryRunLog struct {
	seen  map[string]bool // first lines logged (under mu)
	mu    *sync.Mutex
	res   *DryRunResult
	attrs []slog.Attr
}

func (l *dryRunLog) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelWarn }

func (l *dryRunLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	msg, _, _ := strings.Cut(r.Message, "\nstack traceback:")
	b.WriteString(msg)
	var attrs []slog.Attr
	attrs = append(attrs, l.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
	for _, a := range attrs {
		switch a.Key {
		case "request_id", "component", "route", "service", "route_id", "service_id", "workspace", "traceback", "timeout":
			continue
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	first, _, _ := strings.Cut(r.Message, "\n")
	if l.seen[first] {
		return nil // the same failure, logged by the Lua runtime and by the proxy
	}
	l.seen[first] = true
	l.res.Errors = append(l.res.Errors, b.String())
	return nil
}

func (l *dryRunLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &dryRunLog{mu: l.mu, res: l.res, seen: l.seen, attrs: append(append([]slog.Attr{}, l.attrs...), as...)}
}

func (l *dryRunLog) WithGroup(string) slog.Handler { return l }
