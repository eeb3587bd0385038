package lualib

// http.go: resty.http with lua-resty-http 0.17 semantics on net/http. All
// states share tuned Transports (one per TLS verification mode and server
// name) held by NetPools, so keepalive connections are pooled process-wide
// and outlive reloads.
//
// Differences from lua-resty-http: connect() records the target and dials
// lazily (a refused connection is reported by request()); requests are
// HTTP/1.1 whatever params.version says; keepalive_timeout/keepalive_pool
// are the transport's (60s idle, 30 idle connections per host, like
// nginx's lua_socket_* defaults); proxy_opts, request_pipeline and
// get_client_body_reader are not provided.

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

const (
	httpObjType     = "luagate.resty.http"
	httpUserAgent   = "lua-resty-http/0.17.2 (Lua) ngx_lua/10026"
	httpChunkSize   = 64 * 1024
	httpMaxBodySize = 1 << 30 // read_body refuses bodies past 1 GiB
)

// httpShared holds the transports of resty.http.
type httpShared struct {
	mu         sync.Mutex
	transports map[httpTransportKey]*http.Transport
	transport  *http.Transport // verify on, default server name
}

type httpTransportKey struct {
	verify     bool
	serverName string
}

type httpDialKey struct{}

// httpDial is what a request tells the dialer through its context.
type httpDial struct {
	connectTO time.Duration
	unix      string // unix socket path, when the target is "unix:/path"
	conn      atomic.Pointer[countConn]
}

// countConn counts the requests served by one connection.
type countConn struct {
	net.Conn
	uses atomic.Int64
}

func (n *NetPools) httpShared() *httpShared {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.http == nil {
		h := &httpShared{transports: map[httpTransportKey]*http.Transport{}}
		h.transport = h.get(httpTransportKey{verify: true})
		n.http = h
	}
	return n.http
}

func (h *httpShared) closeIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.transports {
		t.CloseIdleConnections()
	}
}

func (h *httpShared) get(k httpTransportKey) *http.Transport {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.transports[k]; t != nil {
		return t
	}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d, _ := ctx.Value(httpDialKey{}).(*httpDial)
		if d != nil && d.connectTO > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d.connectTO)
			defer cancel()
		}
		if d != nil && d.unix != "" {
			network, addr = "unix", d.unix
		}
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countConn{Conn: c}, nil
	}
	t := &http.Transport{
		Proxy:                 nil, // lua-resty-http ignores proxy environment variables
		DialContext:           dial,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   defaultSocketPoolSize,
		IdleConnTimeout:       defaultKeepaliveIdle,
		DisableCompression:    true, // bodies come as the server sent them
		ExpectContinueTimeout: 0,
		ResponseHeaderTimeout: 0, // the per-request read timer covers it
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: !k.verify, ServerName: k.serverName},
	}
	if len(h.transports) < 64 {
		h.transports[k] = t
	}
	return t
}

// ---- the client object

type httpClient struct {
	io                        *ioState
	connectTO, sendTO, readTO time.Duration

	// target of connect()
	connected  bool
	scheme     string
	host       string // as given (Host header)
	port       int
	unix       string
	sslVerify  bool
	serverName string

	// current response
	res      *httpResponse
	last     *countConn // connection of the last request
	lastUses int64      // its use count after that request
	reused   int
}

type httpResponse struct {
	resp    *http.Response
	body    io.ReadCloser
	timer   *time.Timer
	fired   *atomic.Bool
	cancel  context.CancelFunc
	done    bool // body fully read
	readTO  time.Duration
	started time.Time
	onIO    func(string, time.Duration, error)
}

// record reports the request to OnIO once: when its body ends, fails or
// is abandoned.
func (r *httpResponse) record(err error) {
	if r.onIO != nil {
		r.onIO("http", time.Since(r.started), err)
		r.onIO = nil
	}
}

func (r *httpResponse) finish() {
	r.record(nil)
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.timer.Stop()
	r.cancel()
}

func (c *httpClient) closeConn() {
	if c.res != nil {
		c.res.finish()
		c.res = nil
	}
	c.connected = false
	if c.io != nil {
		delete(c.io.http, c)
	}
}

func preloadHTTP(L *lua.LState, preload *lua.LTable) {
	L.SetField(preload, "resty.http", L.NewFunction(func(L *lua.LState) int {
		m := L.CreateTable(0, 4)
		m.RawSetString("_VERSION", lua.LString("0.17.2"))
		m.RawSetString("new", L.NewFunction(httpNew))
		L.Push(m)
		return 1
	}))
}

func httpMeta(L *lua.LState) *lua.LTable {
	mt := L.NewTypeMetatable(httpObjType)
	if mt.RawGetString("__index") != lua.LNil {
		return mt
	}
	methods := L.CreateTable(0, 16)
	L.SetFuncs(methods, map[string]lua.LGFunction{
		"set_timeout":      httpSetTimeout,
		"set_timeouts":     httpSetTimeouts,
		"connect":          httpConnect,
		"request":          httpRequest,
		"request_uri":      httpRequestURI,
		"set_keepalive":    httpSetKeepalive,
		"close":            httpClose,
		"get_reused_times": httpGetReusedTimes,
		"parse_uri":        httpParseURI,
	})
	mt.RawSetString("__index", methods)
	return mt
}

func httpNew(L *lua.LState) int {
	ud := L.NewUserData()
	ud.Value = &httpClient{
		io:        ioStateOf(L),
		connectTO: defaultSocketTimeout, sendTO: defaultSocketTimeout, readTO: defaultSocketTimeout,
		sslVerify: true,
	}
	ud.Metatable = httpMeta(L)
	L.Push(ud)
	return 1
}

func httpSelf(L *lua.LState) *httpClient {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*httpClient); ok {
			return c
		}
	}
	raise(L, "bad argument #1: resty.http object expected (call it as httpc:method(...))")
	return nil
}

func httpSetTimeout(L *lua.LState) int {
	c := httpSelf(L)
	d := msDuration(L, 2, "settimeout")
	if d == 0 {
		d = defaultSocketTimeout
	}
	c.connectTO, c.sendTO, c.readTO = d, d, d
	return 0
}

func httpSetTimeouts(L *lua.LState) int {
	c := httpSelf(L)
	for i, p := range []*time.Duration{&c.connectTO, &c.sendTO, &c.readTO} {
		d := msDuration(L, i+2, "settimeouts")
		if d == 0 {
			d = defaultSocketTimeout
		}
		*p = d
	}
	return 0
}

// httpc:connect{scheme, host, port, ssl_verify, ssl_server_name} or the
// legacy httpc:connect(host, port?, opts?).
func httpConnect(L *lua.LState) int {
	c := httpSelf(L)
	c.closeConn()
	scheme, host, port := "http", "", 0
	verify, serverName := true, ""
	if opts, ok := L.Get(2).(*lua.LTable); ok {
		if v, ok := opts.RawGetString("scheme").(lua.LString); ok {
			scheme = strings.ToLower(string(v))
		}
		host = lua.LVAsString(opts.RawGetString("host"))
		if v := opts.RawGetString("port"); v != lua.LNil {
			n, err := strconv.Atoi(lua.LVAsString(v))
			if err != nil {
				raise(L, "bad port value: %s", lua.LVAsString(v))
			}
			port = n
		}
		if v := opts.RawGetString("ssl_verify"); v != lua.LNil {
			verify = lua.LVAsBool(v)
		}
		serverName = lua.LVAsString(opts.RawGetString("ssl_server_name"))
	} else {
		hv, ok := L.Get(2).(lua.LString)
		if !ok {
			raise(L, "bad argument #2 to 'connect' (table or string expected, got %s)", L.Get(2).Type())
		}
		host = string(hv)
		switch v := L.Get(3).(type) {
		case lua.LNumber:
			port = int(v)
		case lua.LString:
			n, err := strconv.Atoi(string(v))
			if err != nil {
				raise(L, "bad port value: %s", string(v))
			}
			port = n
		}
	}
	if host == "" {
		return pushNilErr(L, "no host specified")
	}
	if scheme != "http" && scheme != "https" {
		return pushNilErr(L, "unsupported scheme: "+scheme)
	}
	c.unix = ""
	if strings.HasPrefix(host, "unix:") {
		c.unix = host[5:]
	}
	if port == 0 {
		port = 80
		if scheme == "https" {
			port = 443
		}
	}
	if port < 1 || port > 65535 {
		return pushNilErr(L, "bad port number: "+strconv.Itoa(port))
	}
	c.connected, c.scheme, c.host, c.port = true, scheme, host, port
	c.sslVerify, c.serverName = verify, serverName
	c.io.http[c] = struct{}{}
	L.Push(lua.LTrue)
	return 1
}

// httpc:request{method, path, query, headers, body} after connect.
func httpRequest(L *lua.LState) int {
	c := httpSelf(L)
	params, ok := L.Get(2).(*lua.LTable)
	if !ok {
		params = L.CreateTable(0, 0)
	}
	return c.request(L, params, true)
}

func (c *httpClient) request(L *lua.LState, params *lua.LTable, keepalive bool) int {
	if !c.connected {
		return pushNilErr(L, "closed")
	}
	checkCosocket(L)
	checkNetwork(L, "http")
	if c.res != nil { // the previous response's body is abandoned
		c.res.finish()
		c.res = nil
	}
	method := "GET"
	if v, ok := params.RawGetString("method").(lua.LString); ok && v != "" {
		method = strings.ToUpper(string(v))
	}
	path := "/"
	if v, ok := params.RawGetString("path").(lua.LString); ok && v != "" {
		path = string(v)
	}
	query := ""
	switch q := params.RawGetString("query").(type) {
	case lua.LString:
		query = strings.TrimPrefix(string(q), "?")
	case *lua.LTable:
		L.Push(L.NewFunction(ngxEncodeArgs))
		L.Push(q)
		L.Call(1, 1)
		query = lua.LVAsString(L.Get(-1))
		L.Pop(1)
	}
	body, err := httpBody(L, params.RawGetString("body"))
	if err != "" {
		return pushNilErr(L, err)
	}

	hostPort := c.host
	if c.unix != "" {
		h := fnv.New64a()
		h.Write([]byte(c.unix))
		hostPort = fmt.Sprintf("unix-%x.invalid", h.Sum64())
	} else if (c.scheme == "http" && c.port != 80) || (c.scheme == "https" && c.port != 443) || strings.Contains(c.host, ":") {
		hostPort = net.JoinHostPort(c.host, strconv.Itoa(c.port))
	}
	target := c.scheme + "://" + hostPort + path
	if query != "" {
		if strings.Contains(path, "?") {
			target += "&" + query
		} else {
			target += "?" + query
		}
	}
	u, perr := url.Parse(target)
	if perr != nil {
		return pushNilErr(L, "bad request target: "+perr.Error())
	}

	dial := &httpDial{connectTO: c.connectTO, unix: c.unix}
	fired := new(atomic.Bool)
	ctx, cancel := context.WithCancel(ioContext(L))
	timer := time.AfterFunc(c.connectTO, func() { fired.Store(true); cancel() })
	sendTO, readTO := c.sendTO, c.readTO
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			timer.Reset(sendTO)
			cc, _ := info.Conn.(*countConn)
			if tc, ok := info.Conn.(*tls.Conn); ok {
				cc, _ = tc.NetConn().(*countConn)
			}
			if cc != nil {
				cc.uses.Add(1)
				dial.conn.Store(cc)
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { timer.Reset(readTO) },
	}
	ctx = httptrace.WithClientTrace(context.WithValue(ctx, httpDialKey{}, dial), trace)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, rerr := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if rerr != nil {
		timer.Stop()
		cancel()
		return pushNilErr(L, "bad request: "+rerr.Error())
	}
	req.URL = u
	if body == nil && method != "GET" && method != "HEAD" {
		req.ContentLength = 0
	}
	req.Header.Set("User-Agent", httpUserAgent)
	if c.unix != "" {
		req.Host = "localhost"
	} else {
		req.Host = hostPort
	}
	if h, ok := params.RawGetString("headers").(*lua.LTable); ok {
		if msg := httpSetHeaders(L, req, h); msg != "" {
			timer.Stop()
			cancel()
			return pushNilErr(L, msg)
		}
	}
	if !keepalive {
		req.Close = true
	}

	nets := netPoolsOf(L)
	transport := nets.httpShared().transport
	if !c.sslVerify || c.serverName != "" {
		transport = nets.httpShared().get(httpTransportKey{verify: c.sslVerify, serverName: c.serverName})
	}
	start := time.Now()
	resp, err2 := transport.RoundTrip(req)
	if err2 != nil {
		timer.Stop()
		cancel()
		recordIO(L, "http", start, err2)
		raiseIfCancelled(L)
		msg := netErrString(err2)
		if fired.Load() {
			msg = "timeout"
		}
		return pushNilErr(L, msg)
	}
	timer.Stop()
	c.last = dial.conn.Load()
	c.reused = 0
	if c.last != nil {
		c.lastUses = c.last.uses.Load()
		c.reused = int(c.lastUses) - 1
	}
	r := &httpResponse{resp: resp, body: resp.Body, timer: timer, fired: fired, cancel: cancel, readTO: readTO,
		started: start, onIO: ioHook(L)}
	c.res = r
	L.Push(c.responseTable(L, r, method))
	return 1
}

// httpBody reads params.body: a string, an array of strings, or an
// iterator function returning chunks until nil.
func httpBody(L *lua.LState, v lua.LValue) ([]byte, string) {
	switch b := v.(type) {
	case *lua.LNilType:
		return nil, ""
	case lua.LString:
		return []byte(b), ""
	case lua.LNumber:
		return []byte(formatNumber(float64(b))), ""
	case *lua.LTable:
		var buf bytes.Buffer
		for i := 1; ; i++ {
			e := b.RawGetInt(i)
			if e == lua.LNil {
				break
			}
			buf.WriteString(lua.LVAsString(e))
		}
		return buf.Bytes(), ""
	case *lua.LFunction:
		var buf bytes.Buffer
		for {
			L.Push(b)
			L.Call(0, 1)
			chunk := L.Get(-1)
			L.Pop(1)
			if chunk == lua.LNil {
				break
			}
			s, ok := chunk.(lua.LString)
			if !ok {
				return nil, "body iterator returned a " + chunk.Type().String()
			}
			if buf.Len()+len(s) > httpMaxBodySize {
				return nil, "request body too large"
			}
			buf.WriteString(string(s))
		}
		return buf.Bytes(), ""
	}
	return nil, "bad body type: " + v.Type().String()
}

func httpSetHeaders(L *lua.LState, req *http.Request, h *lua.LTable) string {
	msg := ""
	h.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		if !ok || msg != "" {
			return
		}
		values := []string{}
		switch x := v.(type) {
		case *lua.LTable:
			for i := 1; ; i++ {
				e := x.RawGetInt(i)
				if e == lua.LNil {
					break
				}
				values = append(values, lua.LVAsString(e))
			}
		case lua.LString, lua.LNumber:
			values = append(values, lua.LVAsString(x))
		case lua.LBool:
			values = append(values, x.String())
		default:
			return
		}
		if strings.EqualFold(string(name), "host") {
			if len(values) > 0 {
				req.Host = values[0]
			}
			return
		}
		if strings.EqualFold(string(name), "content-length") {
			if len(values) > 0 {
				if n, err := strconv.ParseInt(values[0], 10, 64); err == nil && req.Body == nil && n > 0 {
					msg = "content-length header given without a body"
				}
			}
			return // net/http computes it from the body
		}
		req.Header.Del(string(name))
		for _, val := range values {
			req.Header.Add(string(name), val)
		}
	})
	return msg
}

// responseTable builds res: status, reason, headers (case-insensitive),
// has_body, body_reader and the read_body/read_trailers methods.
func (c *httpClient) responseTable(L *lua.LState, r *httpResponse, method string) *lua.LTable {
	resp := r.resp
	res := L.CreateTable(0, 8)
	res.RawSetString("status", lua.LNumber(resp.StatusCode))
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	res.RawSetString("reason", lua.LString(reason))
	headers := L.CreateTable(0, len(resp.Header))
	for k, vs := range resp.Header {
		if len(vs) == 1 {
			headers.RawSetString(k, lua.LString(vs[0]))
			continue
		}
		arr := L.CreateTable(len(vs), 0)
		for _, v := range vs {
			arr.Append(lua.LString(v))
		}
		headers.RawSetString(k, arr)
	}
	L.SetMetatable(headers, httpHeadersMeta(L))
	res.RawSetString("headers", headers)
	hasBody := !(method == "HEAD" || resp.StatusCode == 204 || resp.StatusCode == 304 ||
		(resp.StatusCode >= 100 && resp.StatusCode < 200))
	res.RawSetString("has_body", lua.LBool(hasBody))
	if hasBody {
		res.RawSetString("body_reader", L.NewFunction(func(L *lua.LState) int {
			size := httpChunkSize
			if n, ok := L.Get(1).(lua.LNumber); ok && n > 0 {
				size = int(n)
			}
			return c.readChunk(L, r, size)
		}))
	} else {
		r.done = true
		r.finish()
	}
	res.RawSetString("read_body", L.NewFunction(func(L *lua.LState) int {
		if !hasBody {
			return pushNilErr(L, "no body to be read")
		}
		return c.readBody(L, r)
	}))
	res.RawSetString("read_trailers", L.NewFunction(func(L *lua.LState) int {
		if r.done {
			t := L.CreateTable(0, len(resp.Trailer))
			for k, vs := range resp.Trailer {
				t.RawSetString(k, lua.LString(strings.Join(vs, ", ")))
			}
			L.SetMetatable(t, httpHeadersMeta(L))
			L.Push(t)
			return 1
		}
		return 0
	}))
	return res
}

// readBody reads the rest of the body (res:read_body()).
func (c *httpClient) readBody(L *lua.LState, r *httpResponse) int {
	var buf bytes.Buffer
	for !r.done {
		if r.body == nil {
			return pushNilErr(L, "closed")
		}
		n, err := c.read(L, r, &buf, httpChunkSize)
		if err != "" {
			return pushNilErr(L, err)
		}
		if buf.Len() > httpMaxBodySize {
			c.closeConn()
			return pushNilErr(L, "response body too large")
		}
		_ = n
	}
	L.Push(lua.LString(buf.Bytes()))
	return 1
}

// readChunk is body_reader(size): a chunk, or nil at the end.
func (c *httpClient) readChunk(L *lua.LState, r *httpResponse, size int) int {
	if r.done {
		L.Push(lua.LNil)
		return 1
	}
	if r.body == nil {
		return pushNilErr(L, "closed")
	}
	var buf bytes.Buffer
	for buf.Len() == 0 && !r.done {
		if _, err := c.read(L, r, &buf, size); err != "" {
			return pushNilErr(L, err)
		}
	}
	if buf.Len() == 0 {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(buf.Bytes()))
	return 1
}

// read reads up to size bytes of the body into buf under the read timeout.
func (c *httpClient) read(L *lua.LState, r *httpResponse, buf *bytes.Buffer, size int) (int, string) {
	p := make([]byte, size)
	r.timer.Reset(r.readTO)
	n, err := r.body.Read(p)
	r.timer.Stop()
	buf.Write(p[:n])
	if err == io.EOF {
		r.done = true
		r.finish() // records the call; the connection goes back to the transport's pool
		return n, ""
	}
	if err != nil {
		fired := r.fired.Load()
		r.record(err)
		c.closeConn()
		raiseIfCancelled(L)
		if fired {
			return n, "timeout"
		}
		return n, netErrString(err)
	}
	return n, ""
}

// httpc:request_uri(uri, params): connect, request, read the body, then
// keep the connection alive (params.keepalive ~= false) or close it.
func httpRequestURI(L *lua.LState) int {
	c := httpSelf(L)
	uri := L.CheckString(2)
	params, ok := L.Get(3).(*lua.LTable)
	if !ok {
		params = L.CreateTable(0, 0)
	}
	parts, perr := parseHTTPURI(uri, false)
	if perr != "" {
		return pushNilErr(L, perr)
	}
	opts := L.CreateTable(0, 5)
	opts.RawSetString("scheme", lua.LString(parts.scheme))
	opts.RawSetString("host", lua.LString(parts.host))
	opts.RawSetString("port", lua.LNumber(parts.port))
	if v := params.RawGetString("ssl_verify"); v != lua.LNil {
		opts.RawSetString("ssl_verify", v)
	}
	if v := params.RawGetString("ssl_server_name"); v != lua.LNil {
		opts.RawSetString("ssl_server_name", v)
	}
	top := L.GetTop()
	L.Push(L.NewFunction(httpConnect))
	L.Push(L.Get(1))
	L.Push(opts)
	L.Call(2, 2)
	if L.Get(top+1) == lua.LNil {
		return 2
	}
	L.SetTop(top)

	req := L.CreateTable(0, 6)
	params.ForEach(func(k, v lua.LValue) { req.RawSet(k, v) })
	if req.RawGetString("path") == lua.LNil {
		req.RawSetString("path", lua.LString(parts.path))
	}
	if req.RawGetString("query") == lua.LNil && parts.query != "" {
		req.RawSetString("query", lua.LString(parts.query))
	}
	keepalive := params.RawGetString("keepalive") != lua.LFalse
	if n := c.request(L, req, keepalive); n != 1 {
		c.closeConn()
		return n
	}
	res := L.Get(-1).(*lua.LTable)
	L.Pop(1)
	r := c.res
	if lua.LVAsBool(res.RawGetString("has_body")) {
		if n := c.readBody(L, r); n != 1 {
			c.closeConn()
			return n
		}
		res.RawSetString("body", L.Get(-1))
		L.Pop(1)
	}
	if keepalive && !r.resp.Close {
		c.res = nil
		c.connected = false
		delete(c.io.http, c)
	} else {
		c.dropConn()
		c.closeConn()
	}
	L.Push(res)
	return 1
}

// dropConn closes the last connection (close(), a server's Connection:
// close) so it is not reused, unless another request took it since.
func (c *httpClient) dropConn() {
	if c.last != nil && c.last.uses.Load() == c.lastUses {
		c.last.Close()
	}
	c.last = nil
}

func httpSetKeepalive(L *lua.LState) int {
	c := httpSelf(L)
	if !c.connected {
		return pushNilErr(L, "closed")
	}
	r := c.res
	switch {
	case r == nil:
	case !r.done:
		c.closeConn()
		return pushNilErr(L, "unread data in buffer")
	case r.resp.Close:
		c.dropConn()
		c.closeConn()
		L.Push(lua.LNumber(2))
		L.Push(lua.LString("connection must be closed"))
		return 2
	}
	c.res = nil
	c.connected = false
	delete(c.io.http, c)
	L.Push(lua.LNumber(1))
	return 1
}

func httpClose(L *lua.LState) int {
	c := httpSelf(L)
	if !c.connected {
		return pushNilErr(L, "closed")
	}
	c.dropConn()
	c.closeConn()
	L.Push(lua.LNumber(1))
	return 1
}

func httpGetReusedTimes(L *lua.LState) int {
	c := httpSelf(L)
	if !c.connected {
		return pushNilErr(L, "closed")
	}
	L.Push(lua.LNumber(c.reused))
	return 1
}

type httpURIParts struct {
	scheme, host, path, query string
	port                      int
}

// parseHTTPURI is lua-resty-http's parse_uri: scheme, host, port (default
// 80/443), path (default "/") and query.
func parseHTTPURI(uri string, queryInPath bool) (httpURIParts, string) {
	var p httpURIParts
	bad := "bad uri: " + uri
	i := strings.Index(uri, "://")
	if i <= 0 {
		return p, bad
	}
	p.scheme = strings.ToLower(uri[:i])
	if p.scheme != "http" && p.scheme != "https" {
		return p, bad
	}
	rest := uri[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		p.host, rest = rest[:j], rest[j:]
	} else {
		p.host, rest = rest, ""
	}
	if k := strings.LastIndexByte(p.host, '@'); k >= 0 { // userinfo is not sent
		p.host = p.host[k+1:]
	}
	hostPart := p.host
	if strings.HasPrefix(hostPart, "[") {
		end := strings.IndexByte(hostPart, ']')
		if end < 0 {
			return p, bad
		}
		p.host = hostPart[1:end]
		hostPart = hostPart[end+1:]
		if strings.HasPrefix(hostPart, ":") {
			n, err := strconv.Atoi(hostPart[1:])
			if err != nil {
				return p, bad
			}
			p.port = n
		}
	} else if k := strings.LastIndexByte(hostPart, ':'); k >= 0 {
		n, err := strconv.Atoi(hostPart[k+1:])
		if err != nil {
			return p, bad
		}
		p.host, p.port = hostPart[:k], n
	}
	if p.host == "" {
		return p, bad
	}
	if p.port == 0 {
		p.port = 80
		if p.scheme == "https" {
			p.port = 443
		}
	}
	if h := strings.IndexByte(rest, '#'); h >= 0 {
		rest = rest[:h]
	}
	p.path = rest
	if q := strings.IndexByte(rest, '?'); q >= 0 && !queryInPath {
		p.path, p.query = rest[:q], rest[q+1:]
	}
	if p.path == "" {
		p.path = "/"
	} else if p.path[0] == '?' {
		p.path = "/" + p.path
	}
	return p, ""
}

// httpc:parse_uri(uri, query_in_path?) returns {scheme, host, port, path, query}.
func httpParseURI(L *lua.LState) int {
	httpSelf(L)
	queryInPath := true
	if v := L.Get(3); v != lua.LNil {
		queryInPath = lua.LVAsBool(v)
	}
	p, err := parseHTTPURI(L.CheckString(2), queryInPath)
	if err != "" {
		return pushNilErr(L, err)
	}
	t := L.CreateTable(5, 0)
	t.Append(lua.LString(p.scheme))
	t.Append(lua.LString(p.host))
	t.Append(lua.LNumber(p.port))
	t.Append(lua.LString(p.path))
	t.Append(lua.LString(p.query))
	L.Push(t)
	return 1
}

const httpHeadersMTKey = "luagate.resty.http.headers_mt"

// httpHeadersMeta is lua-resty-http's http_headers: keys keep the case the
// server sent; reads and writes match names case-insensitively.
func httpHeadersMeta(L *lua.LState) *lua.LTable {
	if mt, ok := L.G.Registry.RawGetString(httpHeadersMTKey).(*lua.LTable); ok {
		return mt
	}
	mt := L.CreateTable(0, 2)
	find := func(t *lua.LTable, name string) lua.LValue {
		var found lua.LValue = lua.LNil
		t.ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); ok && found == lua.LNil && strings.EqualFold(string(s), name) {
				found = k
			}
		})
		return found
	}
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		name, ok := L.Get(2).(lua.LString)
		if !ok {
			return 0
		}
		if k := find(t, string(name)); k != lua.LNil {
			L.Push(t.RawGet(k))
			return 1
		}
		return 0
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		k := L.Get(2)
		if name, ok := k.(lua.LString); ok {
			if existing := find(t, string(name)); existing != lua.LNil {
				k = existing
			}
		}
		t.RawSet(k, L.Get(3))
		return 0
	}))
	L.G.Registry.RawSetString(httpHeadersMTKey, mt)
	return mt
}
