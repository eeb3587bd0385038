package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"luagate/gateway/router"
	"luagate/lualib"
)

var (
	errNoService   = errors.New("no service for this request")
	errNotBuffered = errors.New("service body is only available with buffered proxying (see: kong.service.request.enable_buffering function)")
)

// serveProxy is the proxy listener's handler.
func (g *Gateway) serveProxy(lst *listener, ctx *fasthttp.RequestCtx) {
	r := requestPool.Get().(*request)
	r.g, r.ctx, r.rt, r.lst = g, ctx, g.rt, lst
	r.snap = g.acquire()
	defer func() {
		if p := recover(); p != nil {
			g.recoverRequest(r, ctx, p)
		}
	}()
	r.serve()
}

// recoverRequest answers a request whose handling panicked (a bug) with a
// 500 and releases what it still holds; the request object is dropped, not
// pooled, since its state is unknown.
func (g *Gateway) recoverRequest(r *request, ctx *fasthttp.RequestCtx, p any) {
	g.logger.Error("panic while serving a request", "request_id", string(r.id[:]), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	if !r.released {
		r.released = true
		r.snap.release()
		r.rt.inflight.Add(-1)
	}
	ctx.Response.Reset()
	ctx.Response.SetStatusCode(500)
	ctx.Response.Header.Set(hdrContentType, kindContentType[kindPlain])
	ctx.Response.SetBody(appendErrorBody(nil, kindPlain, msgUnexpected, string(r.id[:])))
	ctx.Response.SetConnectionClose()
}

func (r *request) serve() {
	r.begin()
	if r.checkBody() && r.rewrite() && r.route() && r.access() && r.proxy() {
		return // the response body streams; finish runs when it is done
	}
	r.finish()
}

// begin records the client request before any plugin can change it.
func (r *request) begin() {
	ctx := r.ctx
	r.start = time.Now()
	r.rt.requests.Add(1)
	r.rt.inflight.Add(1)
	r.rt.ids.next(&r.id)
	r.lastLua = -1
	h := &ctx.Request.Header

	uri := h.RequestURI()
	start := len(r.buf)
	r.buf = append(r.buf, uri...)
	r.buf = append(r.buf, h.Host()...)
	whole := r.buf[start:]
	u, host := whole[:len(uri)], whole[len(uri):]
	if i := indexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	if i := indexByte(u, '?'); i >= 0 {
		r.rawPath, r.rawQuery, r.hasQuery = b2s(u[:i]), b2s(u[i+1:]), true
	} else {
		r.rawPath = b2s(u)
	}
	if len(r.rawPath) > 0 && r.rawPath[0] != '/' {
		// absolute-form request target: keep the path only
		if i := schemeHostEnd(r.rawPath); i >= 0 {
			r.rawPath = r.rawPath[i:]
		}
	}
	r.hostHdr = b2s(host)
	r.host = hostOnly(r.buf, host, r)
	r.path, r.pathErr = router.NormalizePath(r.rawPath)
	r.method = methodString(h.Method())
	r.http11 = h.IsHTTP11()
	r.clientClose = h.ConnectionClose()

	if ta, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		r.remotePort = ta.Port
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			a = a.Unmap()
			n := len(r.buf)
			r.buf = a.AppendTo(r.buf)
			r.remoteIP = b2s(r.buf[n:])
			r.trusted = r.rt.isTrustedAddr(a)
		}
	} else {
		r.remoteIP = ctx.RemoteIP().String()
	}
	r.fwdIP, r.fwdPort = r.remoteIP, r.remotePort
	r.scheme = r.lst.scheme
	if r.trusted {
		r.applyRealIP()
		if p := h.Peek(hdrXForwardedProto); len(p) > 0 && string(p) == "https" {
			r.scheme = "https"
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// schemeHostEnd returns where the path starts in "http://host/path", -1 if
// the string is not in absolute form.
func schemeHostEnd(s string) int {
	i := 0
	for i < len(s) && s[i] != ':' {
		i++
	}
	if i+3 > len(s) || s[i:i+3] != "://" {
		return -1
	}
	for j := i + 3; j < len(s); j++ {
		if s[j] == '/' {
			return j
		}
	}
	return -1
}

// hostOnly returns nginx's $host: the Host header lowercased, without port.
func hostOnly(_ []byte, host []byte, r *request) string {
	end := len(host)
	if len(host) > 0 && host[0] == '[' {
		if i := indexByte(host, ']'); i >= 0 {
			end = i + 1
		}
	} else if i := indexByte(host, ':'); i >= 0 {
		end = i
	}
	h := host[:end]
	lower := true
	for _, c := range h {
		if c >= 'A' && c <= 'Z' {
			lower = false
			break
		}
	}
	if lower {
		return b2s(h)
	}
	start := len(r.buf)
	for _, c := range h {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		r.buf = append(r.buf, c)
	}
	return b2s(r.buf[start:])
}

// methodString returns a constant for the common methods (no allocation).
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	}
	return string(m)
}

// applyRealIP follows nginx's realip module for a trusted peer.
func (r *request) applyRealIP() {
	name := r.rt.realIPHeader
	if name == "" {
		return
	}
	v := r.ctx.Request.Header.Peek(name)
	if len(v) == 0 {
		return
	}
	// A list (X-Forwarded-For style): take the last address, or with
	// real_ip_recursive the last one that is not trusted.
	parts := splitComma(string(v))
	pick := ""
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(parts[i])
		if err != nil {
			break
		}
		pick = a.Unmap().String()
		if !r.rt.settings.RealIPRecursive || !r.rt.isTrustedAddr(a) {
			break
		}
	}
	if pick != "" {
		r.fwdIP = pick
	}
	if p := r.ctx.Request.Header.Peek(hdrXForwardedPort); len(p) > 0 {
		if n, err := strconv.Atoi(string(p)); err == nil && n > 0 && n < 65536 {
			r.fwdPort = n
		}
	}
}

func splitComma(s string) []string {
	var out []string
	for s != "" {
		var p string
		if i := indexString(s, ','); i >= 0 {
			p, s = s[:i], s[i+1:]
		} else {
			p, s = s, ""
		}
		for len(p) > 0 && (p[0] == ' ' || p[0] == '\t') {
			p = p[1:]
		}
		for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == '\t') {
			p = p[:len(p)-1]
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func indexString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// checkBody enforces client_max_body_size on the declared length.
func (r *request) checkBody() bool {
	r.scoped = r.snap.global
	r.chain = r.scoped.base
	max := r.rt.settings.ClientMaxBodySize
	if max > 0 && int64(r.ctx.Request.Header.ContentLength()) > max {
		r.nginxError(413)
		return false
	}
	return true
}

// rewrite runs the global plugins' rewrite handlers (no route is known yet).
func (r *request) rewrite() bool {
	if !r.chain.has(phRewrite) {
		return true
	}
	if err := r.runPhase(phRewrite); err != nil {
		r.logPluginError(err)
		r.nginxError(500)
		r.source = lualib.SourceError
		return false
	}
	return !r.exited
}

// route matches the request and handles what Kong decides before the
// access plugins: no route (404), https-only routes (426 or redirect).
func (r *request) route() bool {
	if r.pathErr != nil {
		r.rt.logger.Info("router: invalid request path", "request_id", r.RequestID(), "error", r.pathErr)
		r.kongError(404, msgNoRoute)
		return false
	}
	rr := &r.rreq
	rr.Method = r.method
	rr.Host = r.hostHdr
	rr.Path = r.path
	rr.Scheme = r.scheme
	rr.SNI = r.serverName() // tls.go
	rr.ListenerPort = r.lst.port
	rr.Headers = &r.ctx.Request.Header
	if !r.snap.router.Match(rr, &r.match) {
		r.kongError(404, msgNoRoute)
		return false
	}
	r.rs = r.snap.routes[r.match.Route]
	if r.rs == nil { // cannot happen: the router is built from the same routes
		r.kongError(404, msgNoRoute)
		return false
	}
	r.scoped = r.rs.chains
	r.chain = r.scoped.base
	r.upstream = r.rs.upstream
	if r.match.NeedsHTTPS {
		r.httpsRequired()
		return false
	}
	return true
}

func (r *request) httpsRequired() {
	code := r.rs.route.HTTPSRedirectStatusCode
	if code == 0 || code == 426 {
		r.kongError(426, msgUseHTTPS)
		r.exitHeaders = append(r.exitHeaders, [2]string{hdrConnection, "Upgrade"}, [2]string{hdrUpgrade, "TLS/1.2, HTTP/1.1"})
		return
	}
	loc := "https://" + r.host + r.rawPath
	if r.hasQuery {
		loc += "?" + r.rawQuery
	}
	r.Exit(code, nil, [][2]string{{hdrLocation, loc}}, lualib.SourceExit)
}

// access runs the access handlers of the route's chain (and switches to a
// consumer's chain when a plugin authenticates one).
func (r *request) access() bool {
	if r.lease != nil && r.chain.lastLuaPhase() < phAccess {
		// only global rewrite functions ran Lua: return the state now
		// rather than hold it across the upstream call
		r.releaseLease()
	}
	if r.chain.has(phAccess) {
		if err := r.runPhase(phAccess); err != nil {
			r.logPluginError(err)
			r.kongError(500, msgUnexpected)
			r.source = lualib.SourceError
			return false
		}
		if r.exited {
			return false
		}
	}
	if r.upstream == nil {
		r.kongError(503, msgNoService)
		return false
	}
	return true
}

// pluginError is a plugin's runtime error with where it happened.
type pluginError struct {
	plugin string
	phase  string
	err    error
}

func (e *pluginError) Error() string { return "[" + e.plugin + "] " + e.err.Error() }
func (e *pluginError) Unwrap() error { return e.err }

func (r *request) logPluginError(err error) {
	var pe *pluginError
	plugin := ""
	if errors.As(err, &pe) {
		plugin = pe.plugin
	}
	r.rt.logger.Error(err.Error(), r.logAttrs(plugin)...)
}

// runPhase runs one phase of the current chain. An exit in rewrite or access
// stops the phase; errors stop it and are returned.
func (r *request) runPhase(ph int) error {
	r.phase = phaseBits[ph]
	list := r.chain.byPhase[ph]
	consumer := r.consumerEnt
	for i := 0; i < len(list); i++ {
		in := list[i]
		if !in.allows(r.lst.scheme) {
			continue
		}
		var err error
		if in.lua { // Lua durations and errors per route/plugin/phase (observe.go)
			leased, t0 := r.lease != nil, time.Now()
			err = r.runPlugin(in)
			r.metricsRoute().ObserveLua(in.name, phaseNames[ph], time.Since(t0), err != nil)
			if !leased && r.lease != nil {
				r.rt.metrics.LuaLeased()
			}
		} else {
			err = r.runPlugin(in)
		}
		if err != nil {
			return &pluginError{plugin: in.name, phase: phaseNames[ph], err: err}
		}
		if r.exited && (ph == phRewrite || ph == phAccess) {
			break
		}
		if ph == phAccess && r.consumerEnt != consumer {
			consumer = r.consumerEnt
			if nc := r.scoped.forConsumer(consumer); nc != r.chain {
				r.chain = nc
				list = nc.byPhase[phAccess]
				i = indexAfter(list, in) - 1
			}
		}
	}
	if ph >= phAccess && r.lease != nil && ph >= r.chain.lastLuaPhase() {
		r.releaseLease()
	}
	return nil
}

// runPlugin runs one instance's handler for the current phase; a panic in
// it (a bug in a runner, not a Lua error) becomes that plugin's error, so
// it is answered or logged like one instead of killing the process.
func (r *request) runPlugin(in *instance) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return in.run.Run(r.phase, r, &r.lease)
}

// releaseLease returns the request's Lua state to its pool.
func (r *request) releaseLease() {
	r.lease.Release()
	r.lease = nil
	r.rt.metrics.LuaReleased()
}

func (in *instance) allows(scheme string) bool {
	if scheme == "https" {
		return in.https
	}
	return in.http
}

// indexAfter is the first position in list that runs after in.
func indexAfter(list []*instance, in *instance) int {
	for j, x := range list {
		if x.priority < in.priority || (x.priority == in.priority && x.name > in.name) {
			return j
		}
	}
	return len(list)
}

// kongError records a Kong-generated error (kong.response.error): the body
// format follows Accept only, JSON by default.
func (r *request) kongError(status int, msg string) {
	kind := responseTypeOf(b2s(r.ctx.Request.Header.Peek(hdrAccept)))
	r.localError(status, msg, kind)
	r.source = lualib.SourceExit
}

// nginxError records an error nginx generates (error_page through Kong's
// error handler): the format follows Accept, then Content-Type, then
// error_default_type.
func (r *request) nginxError(status int) {
	h := &r.ctx.Request.Header
	a := h.Peek(hdrAccept)
	if len(a) == 0 {
		a = h.ContentType()
	}
	var kind errorKind
	if len(a) == 0 {
		kind = mimeTypeOf(r.rt.settings.ErrorDefaultType)
	} else {
		kind = mimeTypeOf(b2s(a))
	}
	if status == 494 {
		status = 400
	}
	r.localError(status, defaultErrorMessage(status), kind)
	r.source = lualib.SourceError
}

func (r *request) localError(status int, msg string, kind errorKind) {
	r.exited = true
	r.exitStatus = status
	r.status = status
	r.exitBody = appendErrorBody(r.exitBody[:0], kind, msg, r.requestIDView())
	r.exitHasBody = true
	r.exitHeaders = append(r.exitHeaders[:0], [2]string{hdrContentType, kindContentType[kind]})
}

// writeExit turns the recorded exit into the response (status, headers,
// body), with the headers Kong adds to the answers it generates.
func (r *request) writeExit() {
	resp := &r.ctx.Response
	resp.SetStatusCode(r.exitStatus)
	applyExitHeaders(&resp.Header, r.exitHeaders)
	// The names are constants in canonical form: SetCanonical skips
	// normalising them (Set copies and normalises every name).
	f := &r.rt.flags
	if f.server {
		resp.Header.SetServer(serverToken)
	}
	if f.respLatency {
		n := len(r.buf)
		r.buf = strconv.AppendInt(r.buf, (time.Since(r.start) - r.waiting).Milliseconds(), 10)
		resp.Header.SetCanonical(s2b(hdrResponseLatency), r.buf[n:])
	}
	if f.requestID {
		resp.Header.SetCanonical(s2b(hdrRequestID), r.id[:])
	}
	r.debugHeaders(&resp.Header)
	if r.exitHasBody {
		r.respBody = append(r.respBody[:0], r.exitBody...)
	} else {
		r.respBody = r.respBody[:0]
	}
}

// debugHeaders adds Kong-Route-Id/Name and Kong-Service-Id/Name when
// allow_debug_header is on and the client sent Kong-Debug.
func (r *request) debugHeaders(h *fasthttp.ResponseHeader) {
	if !r.rt.settings.AllowDebugHeader || r.rs == nil || len(r.ctx.Request.Header.Peek("Kong-Debug")) == 0 {
		return
	}
	h.Set("Kong-Route-Id", r.rs.route.ID)
	if r.rs.route.Name != "" {
		h.Set("Kong-Route-Name", r.rs.route.Name)
	}
	if svc := r.rs.service; svc != nil {
		h.Set("Kong-Service-Id", svc.ID)
		if svc.Name != "" {
			h.Set("Kong-Service-Name", svc.Name)
		}
	}
}

// applyExitHeaders sets the headers of an exit: the first line of a name
// replaces what is there, later lines of the same name are added.
func applyExitHeaders(h *fasthttp.ResponseHeader, hs [][2]string) {
	for i, kv := range hs {
		repeated := false
		for _, prev := range hs[:i] {
			if strings.EqualFold(prev[0], kv[0]) {
				repeated = true
				break
			}
		}
		switch {
		case repeated:
			h.Add(kv[0], kv[1])
		case kv[0] == hdrContentType: // kong.response.exit's JSON and error bodies
			h.SetContentType(kv[1])
		default:
			h.Set(kv[0], kv[1])
		}
	}
}

// finish completes a request whose response is in memory: header_filter
// and body_filter for local answers, then log, then cleanup.
func (r *request) finish() {
	if r.finished {
		return
	}
	if r.exited && !r.responseReady {
		r.writeExit()
		r.filterLocal()
	}
	if r.responseReady && !r.streaming {
		r.ctx.Response.SetBody(r.respBody)
		if r.headLength > 0 {
			r.ctx.Response.Header.SetContentLength(r.headLength)
		}
	}
	if r.clientClose || !r.http11 {
		r.ctx.Response.SetConnectionClose()
	}
	r.end()
}

// filterLocal runs header_filter and body_filter over a local answer.
func (r *request) filterLocal() {
	r.responseReady = true
	if r.chain.has(phHeaderFilter) {
		if err := r.runPhase(phHeaderFilter); err != nil {
			r.logPluginError(err)
		}
	}
	r.headersSent = true
	if r.chain.has(phBodyFilter) {
		if err := r.runPhase(phBodyFilter); err != nil {
			r.logPluginError(err)
		}
	}
}

// end runs the log phase and releases everything the request holds.
func (r *request) end() {
	r.finished = true
	if r.chain.has(phLog) {
		if err := r.runPhase(phLog); err != nil {
			r.logPluginError(err)
		}
	}
	if r.lease != nil {
		r.releaseLease()
	}
	r.accessLog() // observe.go
	r.releaseDynTarget()
	r.balancerDone() // balance.go
	if r.upResp != nil {
		_ = r.upResp.CloseBodyStream()
		fasthttp.ReleaseResponse(r.upResp)
		r.upResp = nil
	}
	r.released = true
	r.snap.release()
	r.rt.inflight.Add(-1)
	r.reset()
	requestPool.Put(r)
}

// bodyStreamer streams the upstream body to the client; the server closes
// it after the last byte (or when the connection dies), which ends the
// request.
type bodyStreamer struct{ r *request }

func (s *bodyStreamer) Read(p []byte) (int, error) {
	r := s.r
	if r == nil || r.upResp == nil {
		return 0, io.EOF
	}
	n, err := r.upResp.BodyStream().Read(p)
	r.streamed += int64(n)
	return n, err
}

func (s *bodyStreamer) Close() error {
	r := s.r
	if r == nil {
		return nil
	}
	s.r = nil
	r.end()
	return nil
}
