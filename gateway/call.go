package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"luagate/lualib"
)

// proxy sends the request upstream and starts the response. It returns true
// when the body streams (finish runs when the stream closes) and false when
// the response is complete in memory (the caller finishes).
func (r *request) proxy() bool {
	u := r.upstream
	req := &r.ctx.Request
	h := &req.Header
	start, perr := r.nextTarget(0)
	if perr != nil { // no peer in the upstream's balancer (balance.go)
		r.balancerFailed(perr)
		r.source = lualib.SourceError
		return false
	}

	path, query, hasQ := r.upstreamPathQuery()
	scheme := u.scheme
	if r.upScheme != "" {
		scheme = r.upScheme
	}

	// Forwarding headers, computed from the client request before the
	// upstream request replaces its URI and Host.
	r.setForwardHeaders()
	upgrade := upgradeProtocol(h)
	if upgrade != nil {
		upgrade = append([]byte(nil), upgrade...) // rare: an allocation is fine
	}
	r.scratch = stripRequestHopByHop(h, r.scratch[:0])
	h.SetProtocol("HTTP/1.1")

	b := r.buf
	n := len(b)
	b = append(b, path...)
	if hasQ {
		b = append(b, '?')
		b = append(b, query...)
	}
	r.buf = b
	req.SetRequestURIBytes(b[n:])
	req.UseHostHeader = true
	if scheme == "https" {
		req.URI().SetScheme("https")
	} else if r.lst.scheme == "https" {
		// on TLS listeners fasthttp parses the client's URI as https
		req.URI().SetScheme("http")
	}

	// A body that fits the client body buffer is already in memory: take it
	// as bytes so that a stale keep-alive connection can be retried with it
	// (nginx resends buffered bodies the same way). Larger ones stream.
	if cl := h.ContentLength(); req.IsBodyStream() && cl >= 0 && cl <= r.bodyBuffer() {
		req.Body()
	}
	streamed := req.IsBodyStream() && h.ContentLength() != 0
	retries := u.retries
	if r.retriesSet {
		retries = r.retries
	}
	resp := fasthttp.AcquireResponse()
	// An upstream answer without Content-Type goes to the client without
	// one, as Kong passes it (fasthttp would report text/plain otherwise).
	resp.Header.SetNoDefaultContentType(true)
	r.upResp = resp
	r.upStart = time.Now()
	var err error
	var tunnelConn net.Conn
	var tunnelReader *bufio.Reader
	for attempt := 0; ; attempt++ {
		t := start
		if attempt > 0 {
			nt, perr := r.nextTarget(attempt)
			if perr != nil {
				break // keep the last attempt's error
			}
			t = nt
		}
		r.setUpstreamHost(t)
		r.tries++
		if upgrade != nil {
			tunnelConn, tunnelReader, err = r.doUpgrade(t, upgrade)
		} else {
			err = t.hc.Do(req, resp)
		}
		r.attempted(err) // passive health checks (balance.go)
		if err == nil || attempt >= retries || !retryable(err, streamed) {
			break
		}
		r.rt.logger.Debug("upstream attempt failed, retrying", append(r.logAttrs(""), "target", t.key.addr, "attempt", attempt+1, "error", err)...)
	}
	r.upHeaders = time.Now()
	if err != nil {
		ue := classifyUpstreamError(err)
		r.rt.logger.Error("upstream request failed", append(r.logAttrs(""), "status", ue.status, "tries", r.tries, "error", err)...)
		if ue.kongError {
			r.kongError(ue.status, ue.msg)
		} else {
			r.nginxError(ue.status)
		}
		r.source = lualib.SourceError
		return false
	}
	r.svcStatus = resp.StatusCode()
	r.source = lualib.SourceService
	r.status = r.svcStatus
	r.copyResponse()
	r.addHashCookie() // hash_on cookie (balance.go)

	// header_filter; an exit here replaces the upstream answer.
	r.responseReady = true
	if r.chain.has(phHeaderFilter) {
		if err := r.runPhase(phHeaderFilter); err != nil {
			r.logPluginError(err)
		}
	}
	r.headersSent = true
	if tunnelConn != nil {
		if r.exited {
			tunnelConn.Close()
		} else {
			// 101: keep the upgrade headers (copyResponse dropped them as
			// hop-by-hop) and hand both connections to the tunnel.
			r.ctx.Response.Header.Set(hdrConnection, "Upgrade")
			r.ctx.Response.Header.SetBytesV(hdrUpgrade, resp.Header.Peek(hdrUpgrade))
			r.ctx.Response.SkipBody = true
			r.ctx.Hijack(func(c net.Conn) { tunnel(c, tunnelConn, tunnelReader) })
			return false
		}
	}
	if r.exited {
		_ = resp.CloseBodyStream()
		r.ctx.Response.SetStatusCode(r.exitStatus)
		applyExitHeaders(&r.ctx.Response.Header, r.exitHeaders)
		r.respBody = append(r.respBody[:0], r.exitBody...)
		r.runBodyFilter()
		return false
	}

	if r.chain.has(phBodyFilter) || r.buffering || resp.BodyStream() == nil {
		if err := r.readUpstreamBody(); err != nil {
			r.rt.logger.Error("reading the upstream body failed", append(r.logAttrs(""), "error", err)...)
			r.ctx.Response.SetConnectionClose()
		}
		if r.buffering {
			r.svcBody = append(r.svcBody[:0], r.respBody...)
			r.svcBodyOK = true
		}
		r.runBodyFilter()
		if r.ctx.Request.Header.IsHead() {
			r.ctx.Response.SkipBody = true
			r.headLength = resp.Header.ContentLength()
		}
		return false
	}

	// Stream: fasthttp writes the body and closes the streamer at the end.
	r.streaming = true
	r.stream.r = r
	cl := resp.Header.ContentLength()
	if cl < 0 {
		cl = -1
	}
	r.ctx.Response.SetBodyStream(&r.stream, cl)
	if r.clientClose || !r.http11 {
		r.ctx.Response.SetConnectionClose()
	}
	return true
}

func (r *request) runBodyFilter() {
	if r.chain.has(phBodyFilter) {
		if err := r.runPhase(phBodyFilter); err != nil {
			r.logPluginError(err)
		}
	}
}

func (r *request) readUpstreamBody() error {
	resp := r.upResp
	if s := resp.BodyStream(); s != nil {
		b := r.respBody[:0]
		var err error
		for {
			if len(b) == cap(b) {
				b = append(b, 0)[:len(b)]
			}
			var n int
			n, err = s.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			if err != nil {
				break
			}
		}
		r.respBody = b
		_ = resp.CloseBodyStream()
		if err != io.EOF {
			return err
		}
		return nil
	}
	r.respBody = append(r.respBody[:0], resp.Body()...)
	return nil
}

// nextTarget picks the target for an attempt: the upstream's balancer
// (balance.go) or the service host.
func (r *request) nextTarget(attempt int) (*target, error) {
	if r.dynTarget != nil {
		return r.dynTarget, nil
	}
	if r.upstream.bal == nil {
		return r.withTimeouts(r.upstream.targets[0]), nil
	}
	t, err := r.balancedTarget() // a retry gets another address (attempt > 0)
	if err != nil {
		return nil, err
	}
	return r.withTimeouts(t), nil
}

// withTimeouts applies kong.service.set_timeouts to a target.
func (r *request) withTimeouts(t *target) *target {
	wantTLS := t.key.tls
	if r.upScheme != "" { // kong.service.request.set_scheme
		wantTLS = r.upScheme == "https"
	}
	if !r.timeoutsSet && wantTLS == t.key.tls {
		return t
	}
	k := t.key
	if r.timeoutsSet {
		k.connect, k.write, k.read = r.connectTO, r.writeTO, r.readTO
	}
	k.tls = wantTLS
	r.releaseDynTarget()
	r.dynKey, r.dynKeySet = k, true
	dt := *t
	dt.key, dt.hc = k, r.rt.pool.acquire(k)
	if wantTLS != t.key.tls {
		scheme := "http"
		if wantTLS {
			scheme = "https"
		}
		dt.hostHeader = hostHeaderFor(dt.host, dt.port, scheme)
	}
	return &dt
}

// setUpstreamHost sets the Host header for a target (spec 3.8).
func (r *request) setUpstreamHost(t *target) {
	h := &r.ctx.Request.Header
	switch {
	case r.upHostOverride != "":
		h.SetHost(r.upHostOverride)
	case r.rs.route.PreserveHost && r.hostHdr != "":
		h.SetHost(r.hostHdr)
	case r.upstream.hostHeader != "":
		h.SetHost(r.upstream.hostHeader)
	default:
		h.SetHost(t.hostHeader)
	}
}

// retryable: failures before the request was sent are always retried;
// a closed or reset connection is retried when the body can be sent again.
func retryable(err error, streamed bool) bool {
	if isConnectError(err) {
		return true
	}
	if streamed {
		return false
	}
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF)
}

// setForwardHeaders writes X-Real-IP, X-Forwarded-*, Via and the request id
// (spec 3.9).
//
// One pass over the client's headers finds which of these it sent; the
// others are appended without the scan of every header that Set does for
// each name (Set was about 3% of a plain proxy request's CPU). A header the
// client sent is replaced as a whole, every line of it, as nginx's
// proxy_set_header does (Set only replaced the first line).
func (r *request) setForwardHeaders() {
	h := &r.ctx.Request.Header
	sent := forwardHeadersSent(h)
	// The names below are canonical constants (TestHeaderNamesCanonical):
	// normalising them again on every Add and Del is wasted work.
	if !h.DisableNormalizing() {
		defer h.EnableNormalizing()
	}
	put := func(bit uint16, key, value string) {
		if sent&bit != 0 {
			h.Del(key)
		}
		h.Add(key, value)
	}
	put(fwdRealIP, hdrXRealIP, r.fwdIP)

	if sent&fwdFor != 0 {
		// every line of the client's list, joined, then ours: one line
		b := r.buf
		n := len(b)
		for _, v := range h.PeekAll(hdrXForwardedFor) {
			b = append(b, v...)
			b = append(b, ", "...)
		}
		b = append(b, r.fwdIP...)
		r.buf = b
		h.Del(hdrXForwardedFor)
		h.AddBytesV(hdrXForwardedFor, b[n:])
	} else {
		h.Add(hdrXForwardedFor, r.fwdIP)
	}

	// A trusted peer's X-Forwarded-Proto/Host/Port/Path/Prefix are kept.
	trusted := r.trusted
	keep := func(bit uint16, key string) bool {
		return sent&bit != 0 && trusted && len(h.Peek(key)) > 0
	}
	if !keep(fwdProto, hdrXForwardedProto) {
		put(fwdProto, hdrXForwardedProto, r.lst.scheme)
	}
	if !keep(fwdHost, hdrXForwardedHost) {
		put(fwdHost, hdrXForwardedHost, r.host)
	}
	if !keep(fwdPort, hdrXForwardedPort) {
		put(fwdPort, hdrXForwardedPort, r.lst.portStr)
	}
	if !keep(fwdPath, hdrXForwardedPath) {
		put(fwdPath, hdrXForwardedPath, r.rawPath)
	}
	if !keep(fwdPrefix, hdrXForwardedPrefix) {
		if r.match.Strip && r.match.Prefix != "" && r.match.Prefix != "/" {
			put(fwdPrefix, hdrXForwardedPrefix, r.match.Prefix)
		} else if sent&fwdPrefix != 0 {
			h.Del(hdrXForwardedPrefix)
		}
	}

	if r.rt.flags.via {
		tok := viaToken11
		if !r.http11 {
			tok = viaToken10
		}
		if sent&fwdVia == 0 {
			h.AddBytesV(hdrVia, tok)
		} else {
			n := len(r.buf)
			if via := h.Peek(hdrVia); len(via) > 0 { // $http_via: the first line
				r.buf = append(append(r.buf, via...), ", "...)
			}
			r.buf = append(r.buf, tok...)
			h.Del(hdrVia)
			h.AddBytesV(hdrVia, r.buf[n:])
		}
	}
	if r.rt.flags.upstreamRequestID {
		if sent&fwdRequestID != 0 {
			h.Del(hdrRequestID)
		}
		h.AddBytesV(hdrRequestID, r.id[:])
	}
}

// The headers setForwardHeaders writes, as bits of forwardHeadersSent.
const (
	fwdRealIP uint16 = 1 << iota
	fwdFor
	fwdProto
	fwdHost
	fwdPort
	fwdPath
	fwdPrefix
	fwdVia
	fwdRequestID
)

// forwardHeadersSent reports which of the forwarding headers the client
// sent. Header names are in fasthttp's normalized form here (the proxy
// listeners do not disable normalizing); anything else is compared
// case-insensitively, so a name is never missed.
func forwardHeadersSent(h *fasthttp.RequestHeader) uint16 {
	var sent uint16
	for k := range h.All() {
		if len(k) < 3 {
			continue
		}
		switch c := k[0] | 0x20; {
		case c == 'x':
			switch {
			case len(k) == len(hdrXRealIP) && equalFoldBytes(k, s2b(hdrXRealIP)):
				sent |= fwdRealIP
			case len(k) == len(hdrXForwardedFor) && equalFoldBytes(k, s2b(hdrXForwardedFor)):
				sent |= fwdFor
			case len(k) == len(hdrXForwardedProto) && equalFoldBytes(k, s2b(hdrXForwardedProto)):
				sent |= fwdProto
			case len(k) == len(hdrXForwardedHost) && equalFoldBytes(k, s2b(hdrXForwardedHost)):
				sent |= fwdHost
			case len(k) == len(hdrXForwardedPort) && equalFoldBytes(k, s2b(hdrXForwardedPort)):
				sent |= fwdPort
			case len(k) == len(hdrXForwardedPath) && equalFoldBytes(k, s2b(hdrXForwardedPath)):
				sent |= fwdPath
			case len(k) == len(hdrXForwardedPrefix) && equalFoldBytes(k, s2b(hdrXForwardedPrefix)):
				sent |= fwdPrefix
			case len(k) == len(hdrRequestID) && equalFoldBytes(k, s2b(hdrRequestID)):
				sent |= fwdRequestID
			}
		case c == 'v' && len(k) == len(hdrVia) && equalFoldBytes(k, s2b(hdrVia)):
			sent |= fwdVia
		}
	}
	return sent
}

// s2b views a constant string as bytes (read only).
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// copyResponse builds the client response from the upstream one: status,
// end-to-end headers, the plugins' response header changes made in
// rewrite/access, and the headers Kong adds (spec 3.10).
func (r *request) copyResponse() {
	up := &r.upResp.Header
	out := &r.ctx.Response.Header

	// Without hop-by-hop headers (or names the Connection header lists) the
	// whole head is taken in one copy (CopyTo copies slices; adding header
	// by header normalised and copied each name again), then what describes
	// the upstream connection rather than the answer is reset: its framing,
	// status line text and protocol. With them, header by header, skipping
	// those (fasthttp's Del would reorder repeated headers).
	conn := r.scratch[:0]
	for _, v := range up.PeekAll(hdrConnection) {
		conn = append(append(conn, v...), ',')
	}
	r.scratch = conn
	hop := false
	for k := range up.All() {
		if isHopByHop(k) || listedIn(conn, k) {
			hop = true
			break
		}
	}
	if !hop {
		up.CopyTo(out)
		out.SetNoDefaultContentType(true)
		out.ResetConnectionClose()
		out.SetProtocol(nil)
		out.SetStatusMessage(nil)
		out.SetContentLength(0)
	} else {
		out.Reset()
		out.SetNoDefaultContentType(true)
		out.SetStatusCode(up.StatusCode())
		for k, v := range up.All() {
			if isHopByHop(k) || string(k) == "Content-Length" || listedIn(conn, k) {
				continue
			}
			out.AddBytesKV(k, v)
		}
	}
	for _, op := range r.respOps {
		switch op.op {
		case opSet:
			out.Set(op.name, op.value)
		case opAdd:
			out.Add(op.name, op.value)
		case opClear:
			out.Del(op.name)
		}
	}

	f := &r.rt.flags
	if f.via {
		if via := up.Peek(hdrVia); len(via) > 0 {
			n := len(r.buf)
			r.buf = append(append(append(r.buf, via...), ", "...), viaToken11...)
			out.SetBytesV(hdrVia, r.buf[n:])
		} else {
			out.SetBytesV(hdrVia, viaToken11)
		}
	}
	if f.server && len(up.Peek(hdrServer)) == 0 {
		out.SetServer(serverToken)
	}
	// constant names in canonical form: SetCanonical skips normalising them
	if f.upstreamLatency {
		n := len(r.buf)
		r.buf = strconv.AppendInt(r.buf, r.upHeaders.Sub(r.upStart).Milliseconds(), 10)
		out.SetCanonical(s2b(hdrUpstreamLatency), r.buf[n:])
	}
	if f.proxyLatency {
		n := len(r.buf)
		r.buf = strconv.AppendInt(r.buf, r.upStart.Sub(r.start).Milliseconds(), 10)
		out.SetCanonical(s2b(hdrProxyLatency), r.buf[n:])
	}
	if f.upstreamStatus {
		n := len(r.buf)
		r.buf = strconv.AppendInt(r.buf, int64(r.svcStatus), 10)
		out.SetCanonical(s2b(hdrUpstreamStatus), r.buf[n:])
	}
	if f.requestID {
		out.SetCanonical(s2b(hdrRequestID), r.id[:])
	}
	r.debugHeaders(out)
}

// listedIn reports whether name appears as a token of a Connection value.
func listedIn(conn, name []byte) bool {
	for tok, rest := nextToken(conn); tok != nil; tok, rest = nextToken(rest) {
		if len(tok) == len(name) && equalFoldBytes(tok, name) {
			return true
		}
	}
	return false
}

func equalFoldBytes(a, b []byte) bool {
	for i := range a {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bodyBuffer is how much of a request body the server reads before the
// handler runs (nginx_http_client_body_buffer_size); larger bodies stream.
func (r *request) bodyBuffer() int {
	if n := r.rt.settings.ClientBodyBufferSize; n > 0 {
		return n
	}
	return 8 << 10
}
