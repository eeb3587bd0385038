package gateway

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"luagate/declarative"
	"luagate/functions"
	"luagate/gateway/balancer"
	"luagate/gateway/router"
	"luagate/lualib"
)

// request is one proxied request: the state of its phases and the
// lualib.Exchange the PDK sees. Pooled; every field is reset by reset().
type request struct {
	g    *Gateway
	ctx  *fasthttp.RequestCtx
	snap *Snapshot
	rt   *Runtime
	lst  *listener

	id    [32]byte
	idStr string // allocated once, on first use by the PDK or a log line
	start time.Time
	phase lualib.Phase

	// The client request as received (views into buf; see b2s).
	buf         []byte
	scratch     []byte // reusable buffer for header scans
	rawPath     string
	rawQuery    string
	hasQuery    bool
	hostHdr     string // raw Host header
	host        string // lowercase, no port ($host)
	path        string // normalized
	pathErr     error
	method      string
	http11      bool
	clientClose bool
	remoteIP    string
	remotePort  int
	fwdIP       string
	fwdPort     int
	trusted     bool
	scheme      string // after trusted X-Forwarded-Proto (routing, https checks)

	// Routing and plugins.
	match   router.Match
	rreq    router.Request
	rs      *routeState
	scoped  *scopedChains
	chain   *chain
	lease   *functions.Lease
	lastLua int // last phase index with Lua in chain, -1 none

	// The upstream request (kong.service.request.*).
	upPath, upQuery       string
	upPathSet, upQuerySet bool
	upScheme              string
	upHostOverride        string
	dynTarget             *target
	dynKey                clientKey
	dynKeySet             bool
	upstream              *upstreamSet
	timeoutsSet           bool
	connectTO, writeTO    time.Duration
	readTO                time.Duration
	retries               int
	bh                    balancer.Handle // the upstream balancer's per-request state (balance.go)
	retriesSet            bool
	buffering             bool
	tries                 int

	// The response (kong.response.*).
	respOps     []headerOp
	status      int
	headersSent bool
	source      lualib.Source
	exited      bool
	exitStatus  int
	exitBody    []byte
	exitHasBody bool
	exitHeaders [][2]string
	respBody    []byte // buffered body for body_filter

	// The upstream response (kong.service.response.*).
	upResp    *fasthttp.Response
	svcStatus int
	svcBody   []byte
	svcBodyOK bool
	stream    bodyStreamer

	// kong.client.*
	consumer    map[string]any
	credential  map[string]any
	consumerEnt *declarative.Consumer

	// Timing.
	upStart, upHeaders time.Time
	// waiting is time a plugin spent on its own upstream (aws-lambda's
	// Invoke): Kong's KONG_WAITING_TIME, counted as upstream latency.
	waiting  time.Duration
	streamed int64 // body bytes streamed to the client (observe.go)

	headLength    int  // Content-Length of the upstream answer to a HEAD request
	responseReady bool // ctx.Response holds the final status and headers
	streaming     bool // the body streams from upstream (finish runs on Close)
	finished      bool
	released      bool // the snapshot reference was dropped (end)
}

type headerOp struct {
	op          uint8 // opSet, opAdd, opClear
	name, value string
}

const (
	opSet uint8 = iota
	opAdd
	opClear
)

var requestPool = sync.Pool{New: func() any { return &request{buf: make([]byte, 0, 512)} }}

// maxPooledBuf is the largest buffer a pooled request keeps; a request
// with huge headers does not make every later one hold that much.
const maxPooledBuf = 64 << 10

func (r *request) reset() {
	buf := r.buf[:0]
	if cap(buf) > maxPooledBuf {
		buf = make([]byte, 0, 512)
	}
	scratch := r.scratch[:0]
	if cap(scratch) > maxPooledBuf {
		scratch = nil
	}
	clear(r.respOps) // drop references to header strings
	ops := r.respOps[:0]
	clear(r.match.Captures)
	caps := r.match.Captures[:0]
	clear(r.exitHeaders)
	exitHeaders := r.exitHeaders[:0]
	exitBody, respBody, svcBody := keepBuf(r.exitBody), keepBuf(r.respBody), keepBuf(r.svcBody)
	*r = request{}
	r.buf = buf
	r.scratch = scratch
	r.respOps = ops
	r.match.Captures = caps
	r.exitHeaders = exitHeaders
	r.exitBody, r.respBody, r.svcBody = exitBody, respBody, svcBody
}

// keepBuf empties a body buffer for the next request on this pooled
// object (an exit or a buffered body then costs no allocation), or drops
// it when it grew past maxPooledBuf.
func keepBuf(b []byte) []byte {
	if cap(b) > maxPooledBuf {
		return nil
	}
	return b[:0]
}

// requestID returns the id as a string view valid during the request.
func (r *request) requestIDView() string { return b2s(r.id[:]) }

// ---- lualib.Exchange: identity and phase

func (r *request) RequestID() string {
	if r.idStr == "" {
		r.idStr = string(r.id[:])
	}
	return r.idStr
}
func (r *request) Phase() lualib.Phase  { return r.phase }
func (r *request) StartTime() time.Time { return r.start }

// ---- the client request

func (r *request) Scheme() string           { return r.lst.scheme }
func (r *request) Host() string             { return strings.Clone(r.host) }
func (r *request) ListenerPort() int        { return r.lst.port }
func (r *request) Method() string           { return strings.Clone(r.method) }
func (r *request) RawPath() string          { return strings.Clone(r.rawPath) }
func (r *request) Path() string             { return strings.Clone(r.path) }
func (r *request) RawQuery() string         { return strings.Clone(r.rawQuery) }
func (r *request) HasQuery() bool           { return r.hasQuery }
func (r *request) ClientIP() string         { return strings.Clone(r.remoteIP) }
func (r *request) ClientPort() int          { return r.remotePort }
func (r *request) ForwardedIP() string      { return strings.Clone(r.fwdIP) }
func (r *request) ForwardedPort() int       { return r.fwdPort }
func (r *request) IsTrusted(ip string) bool { return r.rt.isTrusted(ip) }
func (r *request) TLSServerName() string    { return "" }

func (r *request) HTTPVersion() float64 {
	switch {
	case r.http11:
		return 1.1
	}
	return 1.0
}

func (r *request) RequestHeader(name string) (string, bool) {
	v := r.ctx.Request.Header.Peek(canonicalDash(name))
	if v == nil {
		if strings.EqualFold(name, "host") {
			return strings.Clone(r.hostHdr), r.hostHdr != ""
		}
		return "", false
	}
	return string(v), true
}

func (r *request) RequestHeaderValues(name string) []string {
	vals := r.ctx.Request.Header.PeekAll(canonicalDash(name))
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}

func (r *request) VisitRequestHeaders(fn func(name, value string)) {
	for k, v := range r.ctx.Request.Header.All() {
		fn(string(k), string(v))
	}
}

func (r *request) RequestBody() ([]byte, error) {
	return r.ctx.Request.Body(), nil
}

// ---- routing results

func (r *request) RouteInfo() map[string]any {
	if r.rs == nil {
		return nil
	}
	return r.rs.info
}

func (r *request) ServiceInfo() map[string]any {
	if r.rs == nil {
		return nil
	}
	return r.rs.svcInfo
}

func (r *request) URICaptures() ([]string, map[string]string) {
	if len(r.match.Captures) == 0 {
		return nil, nil
	}
	un := make([]string, len(r.match.Captures))
	for i, c := range r.match.Captures {
		un[i] = strings.Clone(c)
	}
	var named map[string]string
	if len(r.match.Named) > 0 {
		named = make(map[string]string, len(r.match.Named))
		for k, v := range r.match.Named {
			named[k] = strings.Clone(v)
		}
	}
	return un, named
}

// ---- the upstream request

func (r *request) SetUpstreamHeader(name, value string) {
	if strings.EqualFold(name, "host") {
		r.upHostOverride = value
	}
	r.ctx.Request.Header.Set(name, value)
}

func (r *request) AddUpstreamHeader(name, value string) {
	r.ctx.Request.Header.Add(name, value)
}

func (r *request) ClearUpstreamHeader(name string) {
	if strings.EqualFold(name, "host") {
		r.upHostOverride = ""
	}
	r.ctx.Request.Header.Del(name)
}

func (r *request) SetUpstreamPath(path string) {
	r.upPath, r.upPathSet = path, true
}

func (r *request) SetUpstreamRawQuery(query string) {
	r.upQuery, r.upQuerySet = query, true
}

func (r *request) SetUpstreamMethod(method string) { r.ctx.Request.Header.SetMethod(method) }
func (r *request) SetUpstreamScheme(scheme string) { r.upScheme = scheme }

func (r *request) SetUpstreamBody(body []byte) {
	r.ctx.Request.SetBody(body)
}

func (r *request) EnableBuffering() { r.buffering = true }

func (r *request) SetTarget(host string, port int) {
	if r.upstream != nil && r.upstreamByName(host) {
		_ = r.SetUpstream(host) // Kong balances a name that is an upstream's (balance.go)
		return
	}
	r.releaseDynTarget()
	u := r.upstream
	if u == nil {
		return
	}
	scheme := u.scheme
	if r.upScheme != "" {
		scheme = r.upScheme
	}
	svc := u.svc
	k := clientKey{
		addr:       net.JoinHostPort(host, strconv.Itoa(port)),
		tls:        scheme == "https",
		serverName: host,
		verify:     svc.TLSVerify != nil && *svc.TLSVerify,
		connect:    ms(svc.ConnectTimeout),
		read:       ms(svc.ReadTimeout),
		write:      ms(svc.WriteTimeout),
	}
	r.dynKey, r.dynKeySet = k, true
	r.dynTarget = &target{key: k, hc: r.rt.pool.acquire(k), host: host, port: port, hostHeader: hostHeaderFor(host, port, scheme)}
}

func (r *request) releaseDynTarget() {
	if r.dynKeySet {
		r.rt.pool.release(r.dynKey)
		r.dynKeySet, r.dynTarget = false, nil
	}
}

func (r *request) SetUpstream(name string) error {
	if r.upstream == nil {
		return errNoService
	}
	u, err := r.snap.namedUpstream(r.upstream.svc, name)
	if err != nil {
		return err
	}
	r.releaseDynTarget()
	r.upstream = u
	return nil
}

func (r *request) SetTimeouts(connect, write, read time.Duration) {
	r.timeoutsSet = true
	r.connectTO, r.writeTO, r.readTO = connect, write, read
}

func (r *request) SetRetries(n int) { r.retries, r.retriesSet = n, true }

func (r *request) UpstreamHeader(name string) (string, bool) {
	return r.RequestHeader(name)
}

func (r *request) UpstreamURI() string {
	p, q, hasQ := r.upstreamPathQuery()
	if !hasQ {
		return p
	}
	return p + "?" + q
}

// upstreamPathQuery computes the path and query sent upstream.
func (r *request) upstreamPathQuery() (path, query string, hasQuery bool) {
	if r.upPathSet {
		path = r.upPath
	} else if r.rs != nil {
		path = r.match.UpstreamPath(r.path)
	} else {
		path = r.rawPath
	}
	if r.upQuerySet {
		return path, r.upQuery, true
	}
	return path, r.rawQuery, r.hasQuery
}

// ---- the response

func (r *request) HeadersSent() bool { return r.headersSent }

func (r *request) ResponseStatus() int {
	if r.status == 0 && r.phase >= lualib.PhaseHeaderFilter {
		return r.ctx.Response.StatusCode()
	}
	return r.status
}

func (r *request) SetResponseStatus(code int) {
	r.status = code
	if r.phase >= lualib.PhaseHeaderFilter {
		r.ctx.Response.SetStatusCode(code)
	}
}

func (r *request) ResponseHeader(name string) (string, bool) {
	v := r.ctx.Response.Header.Peek(canonicalDash(name))
	if v == nil {
		return "", false
	}
	return string(v), true
}

func (r *request) ResponseHeaderValues(name string) []string {
	vals := r.ctx.Response.Header.PeekAll(canonicalDash(name))
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}

func (r *request) VisitResponseHeaders(fn func(name, value string)) {
	for k, v := range r.ctx.Response.Header.All() {
		fn(string(k), string(v))
	}
}

func (r *request) recordOp(op uint8, name, value string) {
	if r.phase < lualib.PhaseHeaderFilter {
		r.respOps = append(r.respOps, headerOp{op: op, name: name, value: value})
	}
}

func (r *request) SetResponseHeader(name, value string) {
	r.recordOp(opSet, name, value)
	r.ctx.Response.Header.Set(name, value)
}

func (r *request) AddResponseHeader(name, value string) {
	r.recordOp(opAdd, name, value)
	r.ctx.Response.Header.Add(name, value)
}

func (r *request) ClearResponseHeader(name string) {
	r.recordOp(opClear, name, "")
	r.ctx.Response.Header.Del(name)
}

func (r *request) ResponseBody() []byte { return r.respBody }

func (r *request) SetResponseBody(body []byte) {
	r.respBody = append(r.respBody[:0], body...)
}

func (r *request) Exit(status int, body []byte, headers [][2]string, source lualib.Source) {
	r.exited = true
	r.exitStatus = status
	r.exitBody = append(r.exitBody[:0], body...)
	r.exitHasBody = body != nil
	r.exitHeaders = append(r.exitHeaders[:0], headers...)
	r.source = source
	r.status = status
}

func (r *request) Exited() bool          { return r.exited }
func (r *request) Source() lualib.Source { return r.source }

// ---- the upstream response

func (r *request) ServiceStatus() int { return r.svcStatus }

func (r *request) ServiceHeader(name string) (string, bool) {
	if r.upResp == nil {
		return "", false
	}
	v := r.upResp.Header.Peek(canonicalDash(name))
	if v == nil {
		return "", false
	}
	return string(v), true
}

func (r *request) VisitServiceHeaders(fn func(name, value string)) {
	if r.upResp == nil {
		return
	}
	for k, v := range r.upResp.Header.All() {
		fn(string(k), string(v))
	}
}

func (r *request) ServiceBody() ([]byte, error) {
	if !r.svcBodyOK {
		return nil, errNotBuffered
	}
	return r.svcBody, nil
}

// ---- consumer

func (r *request) Consumer() map[string]any   { return r.consumer }
func (r *request) Credential() map[string]any { return r.credential }

func (r *request) Authenticate(consumer, credential map[string]any) {
	r.consumer, r.credential = consumer, credential
	r.consumerEnt = nil
	if consumer != nil {
		if id, ok := consumer["id"].(string); ok {
			r.consumerEnt = r.snap.consumersByID[id]
		}
	}
}

func (r *request) LoadConsumer(idOrName string, byUsername bool) (map[string]any, bool) {
	c := r.snap.consumersByID[idOrName]
	if c == nil && byUsername {
		c = r.snap.consumersByName[idOrName]
	}
	if c == nil {
		return nil, false
	}
	return consumerInfo(c), true
}

// ---- logging

func (r *request) Log(level lualib.Level, plugin string, msg string) {
	lg := r.rt.logger
	l := slogLevel(level)
	if !lg.Enabled(r.ctx, l) {
		return
	}
	lg.Log(r.ctx, l, msg, r.logAttrs(plugin)...)
}

func (r *request) logAttrs(plugin string) []any {
	attrs := []any{"request_id", r.RequestID(), "phase", phaseName(r.phase)}
	if r.rs != nil {
		attrs = append(attrs, "route", entityName(r.rs.route.Name, r.rs.route.ID))
		if r.rs.service != nil {
			attrs = append(attrs, "service", entityName(r.rs.service.Name, r.rs.service.ID))
		}
	}
	if plugin != "" {
		attrs = append(attrs, "plugin", plugin)
	}
	return attrs
}

func entityName(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

func phaseName(p lualib.Phase) string {
	for i, b := range phaseBits {
		if b == p {
			return phaseNames[i]
		}
	}
	return "unknown"
}

func (r *request) Latencies() (kong, proxy, req int64) {
	now := time.Now()
	total := now.Sub(r.start).Milliseconds()
	if r.upStart.IsZero() {
		if r.waiting > 0 {
			w := r.waiting.Milliseconds()
			return total - w, w, total
		}
		return total, -1, total
	}
	kong = r.upStart.Sub(r.start).Milliseconds()
	end := r.upHeaders
	if end.IsZero() {
		end = now
	}
	proxy = end.Sub(r.upStart).Milliseconds()
	return kong, proxy, total
}

// SetUpstreamLatency implements functions.UpstreamLatencyRecorder: the
// time aws-lambda waited on Invoke counts as upstream latency, not Kong's.
func (r *request) SetUpstreamLatency(d time.Duration) { r.waiting += d }

// MatchedRoutePath implements functions.MatchedRoutePath (the API Gateway
// event's resource): the route path that matched, as written in kong.yml.
func (r *request) MatchedRoutePath() (string, bool) {
	if r.match.Route == nil || !r.match.MatchedPath {
		return "", false
	}
	return r.match.RoutePath, r.match.RoutePath != ""
}

var _ lualib.Exchange = (*request)(nil)
