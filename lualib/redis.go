package lualib

// redis.go: resty.redis with lua-resty-redis 0.34 semantics on a RESP2
// client of our own (one net.Conn per connected object), plus what
// resty.redis and resty.http share: the process-wide connection pools
// (NetPools), per-request connection tracking, cosocket phase checks, the
// OnIO hook and nginx-style error strings.
//
// A RESP client of our own rather than go-redis: an object is one
// connection on which auth/select persist across set_keepalive (go-redis
// re-initialises connections with HELLO and runs pipelines on a separate
// pipeline pool), replies keep lua-resty-redis's shape (nested errors as
// {false, err}), send and read timeouts are separate, and pub/sub's
// read_reply reads without writing.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// nginx defaults (lua_socket_connect_timeout, lua_socket_send_timeout,
// lua_socket_read_timeout, lua_socket_keepalive_timeout, lua_socket_pool_size).
const (
	defaultSocketTimeout   = 60 * time.Second
	defaultKeepaliveIdle   = 60 * time.Second
	defaultSocketPoolSize  = 30
	redisReadBufferSize    = 4096
	redisMaxInlineLineSize = 64 << 20 // status/error/size lines; bulk data is read by size
)

// phasesCosocket are the phases where nginx allows cosockets (rewrite,
// access, content and Kong's error handler); header_filter, body_filter,
// log, balancer and init_worker raise "API disabled in the context of ...".
const phasesCosocket = PhaseRewrite | PhaseAccess | PhaseResponse | PhaseError | PhaseAdminAPI

// NetPools holds the keepalive pools of resty.redis (keyed by pool name:
// "host:port", the unix socket path or the pool option) and the shared HTTP
// transport of resty.http. It is safe for concurrent use by all states and
// outlives snapshots: create one per process (gateway.Runtime) and pass it
// in StateOptions.Net. States whose options carry none share a process-wide
// default.
type NetPools struct {
	mu     sync.Mutex
	redis  map[string]*redisPool
	closed bool
	http   *httpShared // created on first use, under mu
}

// NewNetPools returns empty pools.
func NewNetPools() *NetPools { return &NetPools{redis: map[string]*redisPool{}} }

var defaultNetPools = sync.OnceValue(NewNetPools)

// Close closes every idle pooled connection and makes later set_keepalive
// calls close their connection instead of pooling it.
func (n *NetPools) Close() {
	n.mu.Lock()
	pools, h := n.redis, n.http
	n.redis, n.closed = map[string]*redisPool{}, true
	n.mu.Unlock()
	for _, p := range pools {
		for _, ic := range p.idle {
			ic.c.nc.Close()
		}
	}
	if h != nil {
		h.closeIdle()
	}
}

// IdleRedis reports the idle connections pooled under a pool name (tests, metrics).
func (n *NetPools) IdleRedis(pool string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.redis[pool]; p != nil {
		return len(p.idle)
	}
	return 0
}

type redisPool struct {
	size int
	idle []idleRedis // oldest first
}

type idleRedis struct {
	c       *redisConn
	expires time.Time
}

// take returns a live idle connection of the pool, or nil.
func (n *NetPools) take(key string) *redisConn {
	now := time.Now()
	for {
		n.mu.Lock()
		p := n.redis[key]
		if p == nil || len(p.idle) == 0 {
			n.mu.Unlock()
			return nil
		}
		ic := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = idleRedis{}
		p.idle = p.idle[:len(p.idle)-1]
		n.mu.Unlock()
		if now.Before(ic.expires) && connAlive(ic.c) {
			ic.c.reused++
			return ic.c
		}
		ic.c.nc.Close()
	}
}

// put pools c; the least recently used idle connection is closed when the
// pool is full. size applies when the pool is created (as nginx does).
func (n *NetPools) put(c *redisConn, idle time.Duration, size int) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		c.nc.Close()
		return
	}
	p := n.redis[c.pool]
	if p == nil {
		p = &redisPool{size: size}
		n.redis[c.pool] = p
	}
	var evicted *redisConn
	if len(p.idle) >= p.size {
		evicted = p.idle[0].c
		copy(p.idle, p.idle[1:])
		p.idle = p.idle[:len(p.idle)-1]
	}
	p.idle = append(p.idle, idleRedis{c: c, expires: time.Now().Add(idle)})
	n.mu.Unlock()
	if evicted != nil {
		evicted.nc.Close()
	}
}

// connAlive peeks at an idle connection without blocking: a peer that
// closed it (EOF) or sent something unexpected makes it unusable.
func connAlive(c *redisConn) bool {
	if c.br.Buffered() > 0 {
		return false
	}
	var sc syscall.Conn
	switch x := c.nc.(type) {
	case *tls.Conn:
		sc, _ = x.NetConn().(syscall.Conn)
	case syscall.Conn:
		sc = x
	}
	if sc == nil {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	var buf [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0: // unexpected data: dubious state
			alive = false
		case n == 0 && err == nil: // EOF
			alive = false
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		case err != nil:
			alive = false
		}
		return true
	}); err != nil {
		return false
	}
	return alive
}

// ---- per-state I/O bookkeeping

const ioRegistryKey = "luagate.io"

// ioState is what resty.redis/resty.http keep per Lua state: the
// connections opened by the current request (closed at Unbind, as nginx
// closes a request's cosockets when it ends).
type ioState struct {
	redis map[*redisClient]struct{}
	http  map[*httpClient]struct{}
}

func ioStateOf(L *lua.LState) *ioState {
	if p := pdkIfAny(L); p != nil {
		if p.io == nil {
			p.io = &ioState{redis: map[*redisClient]struct{}{}, http: map[*httpClient]struct{}{}}
		}
		return p.io
	}
	if ud, ok := L.G.Registry.RawGetString(ioRegistryKey).(*lua.LUserData); ok {
		if s, ok := ud.Value.(*ioState); ok {
			return s
		}
	}
	s := &ioState{redis: map[*redisClient]struct{}{}, http: map[*httpClient]struct{}{}}
	ud := L.NewUserData()
	ud.Value = s
	L.G.Registry.RawSetString(ioRegistryKey, ud)
	return s
}

// closeRequestIO closes the connections the request left open (objects
// without set_keepalive or close). Unbind calls it.
func closeRequestIO(L *lua.LState) {
	var s *ioState
	if p := pdkIfAny(L); p != nil {
		s = p.io // no registry lookup per request (it was ~1% of a Lua request's CPU)
	} else if ud, ok := L.G.Registry.RawGetString(ioRegistryKey).(*lua.LUserData); ok {
		s, _ = ud.Value.(*ioState)
	}
	if s == nil {
		return
	}
	for c := range s.redis {
		c.closeConn()
	}
	clear(s.redis)
	for c := range s.http {
		c.closeConn()
	}
	clear(s.http)
}

// pdkIfAny returns the state's PDK, or nil for a state not built by NewState
// (module tests).
func pdkIfAny(L *lua.LState) *pdk {
	if ud, ok := L.G.Registry.RawGetInt(registrySlot).(*lua.LUserData); ok {
		if p, ok := ud.Value.(*pdk); ok {
			return p
		}
	}
	if ud, ok := L.G.Registry.RawGetString(registryKey).(*lua.LUserData); ok {
		if p, ok := ud.Value.(*pdk); ok {
			return p
		}
	}
	return nil
}

func netPoolsOf(L *lua.LState) *NetPools {
	if p := pdkIfAny(L); p != nil && p.opts.Net != nil {
		return p.opts.Net
	}
	return defaultNetPools()
}

// checkCosocket raises nginx's error in phases without cosockets.
func checkCosocket(L *lua.LState) {
	if p := pdkIfAny(L); p != nil {
		p.ngxCheck(L, phasesCosocket)
	}
}

// checkNetwork raises StateOptions.Network's refusal (a dry run) before a
// module of the given kind ("redis", "http") uses the network.
func checkNetwork(L *lua.LState, kind string) {
	if p := pdkIfAny(L); p != nil && p.opts.Network != nil {
		if err := p.opts.Network(kind); err != nil {
			L.RaiseError("%s", err.Error())
		}
	}
}

// recordIO reports one call's duration to StateOptions.OnIO.
func recordIO(L *lua.LState, kind string, start time.Time, err error) {
	if f := ioHook(L); f != nil {
		f(kind, time.Since(start), err)
	}
}

func ioHook(L *lua.LState) func(string, time.Duration, error) {
	if p := pdkIfAny(L); p != nil {
		return p.opts.OnIO
	}
	return nil
}

// ioContext returns the state's context (cancelled by the functions
// watchdog) or Background.
func ioContext(L *lua.LState) context.Context {
	if ctx := L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// raiseIfCancelled stops the Lua function when its time limit cut the I/O
// (as ngx.sleep does), instead of handing it an error to ignore.
func raiseIfCancelled(L *lua.LState) {
	if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
		raise(L, "%s", ctx.Err().Error())
	}
}

// netErrString turns a Go network error into the text an nginx cosocket
// reports ("timeout", "closed", "connection refused" ...).
func netErrString(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.ENOENT):
		return "no such file or directory"
	case errors.Is(err, syscall.EACCES):
		return "permission denied"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Name + " could not be resolved (" + dnsErr.Err + ")"
	}
	return err.Error()
}

// msDuration reads a timeout in milliseconds (nginx: 0 means the default
// for set_timeout; negative values are an error).
func msDuration(L *lua.LState, n int, fn string) time.Duration {
	v := L.Get(n)
	if v == lua.LNil {
		return 0
	}
	num, ok := v.(lua.LNumber)
	if !ok {
		if s, ok := v.(lua.LString); ok {
			if f, err := strconv.ParseFloat(string(s), 64); err == nil {
				num, ok = lua.LNumber(f), true
			}
		}
	}
	if !ok {
		raise(L, "bad argument #%d to '%s' (number expected, got %s)", n, fn, v.Type())
	}
	if num < 0 {
		raise(L, "bad timeout value")
	}
	return time.Duration(float64(num) * float64(time.Millisecond))
}

// ---- resty.redis

const (
	redisObjType = "luagate.resty.redis"
	redisVersion = "0.34"
	// redisMaxExactInt: integral numbers from 1e14 up to 2^63 are sent with
	// %.0f, since tostring's %.14g would turn them into exponent form.
	redisMaxExactInt = 1 << 63
)

// redisConn is one connection to a Redis server.
type redisConn struct {
	nc       net.Conn
	br       *bufio.Reader
	wbuf     []byte
	pool     string // pool name
	poolSize int    // pool_size option of connect (set_keepalive's default)
	reused   int    // times taken from the pool
}

// redisClient is the object redis:new() returns (lua-resty-redis's fields
// _sock, _reqs, _subscribed, _in_multi, _blocking, _n_channel,
// _buffered_msg and _module_prefix).
type redisClient struct {
	io                        *ioState
	connectTO, sendTO, readTO time.Duration
	conn                      *redisConn

	pipe         bool
	pipeBuf      []byte
	pipeN        int
	inMultiSaved bool

	subscribed   bool
	inMulti      bool
	blocking     bool
	nUnsubscribe int // channels subscribed (counted down by unsubscribe replies)
	nPunsub      int // patterns subscribed
	buffered     []*lua.LTable
	prefix       string
}

func (c *redisClient) closeConn() {
	if c.conn != nil {
		c.conn.nc.Close()
		c.conn = nil
	}
	if c.io != nil {
		delete(c.io.redis, c)
	}
}

func preloadRedis(L *lua.LState, preload *lua.LTable) {
	L.SetField(preload, "resty.redis", L.NewFunction(func(L *lua.LState) int {
		m := L.CreateTable(0, 4)
		m.RawSetString("_VERSION", lua.LString(redisVersion))
		m.RawSetString("new", L.NewFunction(redisNew))
		// deprecated in lua-resty-redis: every command name is a method already
		m.RawSetString("add_commands", L.NewFunction(func(L *lua.LState) int { return 0 }))
		// redis.register_module_prefix("json"): red:json():get(k) sends "json.get"
		m.RawSetString("register_module_prefix", L.NewFunction(func(L *lua.LState) int {
			mod := L.CheckString(1)
			methods := redisMeta(L).RawGetString("__index").(*lua.LTable)
			methods.RawSetString(mod, L.NewFunction(func(L *lua.LState) int {
				if c := redisSelf(L); c != nil {
					c.prefix = mod
				}
				L.Push(L.Get(1))
				return 1
			}))
			return 0
		}))
		L.Push(m)
		return 1
	}))
}

func redisMeta(L *lua.LState) *lua.LTable {
	mt := L.NewTypeMetatable(redisObjType)
	if mt.RawGetString("__index") != lua.LNil {
		return mt
	}
	methods := L.CreateTable(0, 32)
	L.SetFuncs(methods, map[string]lua.LGFunction{
		"set_timeout":      redisSetTimeout,
		"set_timeouts":     redisSetTimeouts,
		"connect":          redisConnect,
		"set_keepalive":    redisSetKeepalive,
		"get_reused_times": redisGetReusedTimes,
		"close":            redisClose,
		"init_pipeline":    redisInitPipeline,
		"commit_pipeline":  redisCommitPipeline,
		"cancel_pipeline":  redisCancelPipeline,
		"hmset":            redisHmset,
		"hmget":            redisHmget,
		"multi":            redisMultiCmd("multi", true),
		"exec":             redisMultiCmd("exec", false),
		"discard":          redisMultiCmd("discard", false),
		"array_to_hash":    redisArrayToHash,
		"read_reply":       redisReadReply,
		"subscribe":        redisSubscribe("subscribe"),
		"psubscribe":       redisSubscribe("psubscribe"),
		"unsubscribe":      redisUnsubscribe("unsubscribe"),
		"punsubscribe":     redisUnsubscribe("punsubscribe"),
	})
	for _, name := range []string{"blpop", "brpop"} {
		methods.RawSetString(name, L.NewFunction(redisBlocking(name)))
	}
	// Any other name is a Redis command (lua-resty-redis's __index on _M),
	// generated once per state and cached.
	cmt := L.CreateTable(0, 1)
	cmt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		name, ok := L.Get(2).(lua.LString)
		if !ok || len(name) == 0 {
			return 0
		}
		fn := L.NewFunction(redisCommand(string(name)))
		t.RawSetString(string(name), fn)
		L.Push(fn)
		return 1
	}))
	L.SetMetatable(methods, cmt)
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("resty.redis object"))
		return 1
	}))
	return mt
}

func redisNew(L *lua.LState) int {
	ud := L.NewUserData()
	ud.Value = &redisClient{
		io:        ioStateOf(L),
		connectTO: defaultSocketTimeout, sendTO: defaultSocketTimeout, readTO: defaultSocketTimeout,
	}
	ud.Metatable = redisMeta(L)
	L.Push(ud)
	return 1
}

// redisSelf returns the object a method was called on, or nil when called
// on something else (lua-resty-redis then answers nil, "not initialized").
func redisSelf(L *lua.LState) *redisClient {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*redisClient); ok {
			return c
		}
	}
	return nil
}

func pushNilErr(L *lua.LState, msg string) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(msg))
	return 2
}

func redisSetTimeout(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		raise(L, "not initialized")
	}
	d := msDuration(L, 2, "settimeout")
	if d == 0 {
		d = defaultSocketTimeout
	}
	c.connectTO, c.sendTO, c.readTO = d, d, d
	return 0
}

func redisSetTimeouts(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		raise(L, "not initialized")
	}
	for i, p := range []*time.Duration{&c.connectTO, &c.sendTO, &c.readTO} {
		d := msDuration(L, i+2, "settimeouts")
		if d == 0 {
			d = defaultSocketTimeout
		}
		*p = d
	}
	return 0
}

// redis:connect(host, port, opts?) or redis:connect("unix:/path", opts?).
// opts: ssl, ssl_verify, server_name, pool, pool_size, backlog (accepted,
// no queueing), tcp_keepalive, and password/username/db, sent as AUTH and
// SELECT on a fresh connection (pooled per user and db unless pool is set).
func redisConnect(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	hostV := L.Get(2)
	host, ok := hostV.(lua.LString)
	if !ok {
		raise(L, "bad argument #1 host: string expected, got %s", hostV.Type())
	}
	var network, addr, pool string
	var opts *lua.LTable
	if strings.HasPrefix(string(host), "unix:") {
		network, addr = "unix", string(host[5:])
		switch o := L.Get(3).(type) {
		case *lua.LNilType:
		case *lua.LTable:
			opts = o
		default:
			raise(L, "bad argument #2 opts: nil or table expected, got %s", o.Type())
		}
		pool = string(host)
	} else {
		portV := L.Get(3)
		port, ok := portV.(lua.LNumber)
		if !ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(lua.LVAsString(portV)), 64)
			if portV == lua.LNil || err != nil {
				raise(L, "bad argument #2 port: number expected, got %s", portV.Type())
			}
			port = lua.LNumber(n)
		}
		if port < 0 || port > 65535 || !isInt(port) {
			return pushNilErr(L, "bad port number: "+formatNumber(float64(port)))
		}
		switch o := L.Get(4).(type) {
		case *lua.LNilType:
		case *lua.LTable:
			opts = o
		default:
			raise(L, "bad argument #3 opts: nil or table expected, got %s", o.Type())
		}
		network, addr = "tcp", net.JoinHostPort(string(host), strconv.Itoa(int(port)))
		pool = string(host) + ":" + strconv.Itoa(int(port))
	}
	checkCosocket(L)
	checkNetwork(L, "redis")

	poolSize := defaultSocketPoolSize
	var useTLS, verify, keepalive bool
	var serverName, password, username string
	var db lua.LValue = lua.LNil
	if opts != nil {
		poolV := opts.RawGetString("pool")
		switch v := poolV.(type) {
		case *lua.LNilType:
		case lua.LString:
			pool = string(v)
		default:
			raise(L, "bad \"pool\" option type: %s", v.Type())
		}
		if v := opts.RawGetString("pool_size"); v != lua.LNil {
			n, ok := v.(lua.LNumber)
			if !ok || n < 1 {
				raise(L, "bad \"pool_size\" option value: %s", lua.LVAsString(v))
			}
			poolSize = int(n)
		}
		useTLS = lua.LVAsBool(opts.RawGetString("ssl"))
		verify = lua.LVAsBool(opts.RawGetString("ssl_verify"))
		keepalive = lua.LVAsBool(opts.RawGetString("tcp_keepalive"))
		if v, ok := opts.RawGetString("server_name").(lua.LString); ok {
			serverName = string(v)
		}
		if v := opts.RawGetString("password"); v != lua.LNil && lua.LVAsString(v) != "" {
			password = redisArgString(L, v)
		}
		if v := opts.RawGetString("username"); password != "" && v != lua.LNil && lua.LVAsString(v) != "" {
			username = redisArgString(L, v)
		}
		db = opts.RawGetString("db")
		if poolV == lua.LNil {
			// a pool per user and database: a pooled connection keeps its
			// AUTH/SELECT state (lua-resty-redis issue #53)
			if username != "" {
				pool += "/" + username
			}
			if db != lua.LNil {
				pool += "/" + redisArgString(L, db)
			}
			if useTLS { // never hand a TLS connection to a plain connect, or back
				pool += "/ssl"
				if serverName != "" {
					pool += "/" + serverName
				}
			}
		}
	}

	// connecting a connected object closes its connection first
	c.closeConn()
	c.subscribed, c.inMulti = false, false
	c.nUnsubscribe, c.nPunsub, c.buffered = 0, 0, nil
	if conn := netPoolsOf(L).take(pool); conn != nil {
		c.conn = conn
		c.io.redis[c] = struct{}{}
		L.Push(lua.LNumber(1))
		return 1
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ioContext(L), c.connectTO)
	nc, err := (&net.Dialer{KeepAlive: -1}).DialContext(ctx, network, addr)
	if err == nil && keepalive {
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetKeepAlive(true)
		}
	}
	if err == nil && useTLS {
		sn := serverName
		if sn == "" && network == "tcp" {
			sn = string(host)
		}
		tc := tls.Client(nc, &tls.Config{ServerName: sn, InsecureSkipVerify: !verify})
		if herr := tc.HandshakeContext(ctx); herr != nil {
			nc.Close()
			cancel()
			recordIO(L, "redis", start, herr)
			raiseIfCancelled(L)
			return pushNilErr(L, "failed to do ssl handshake: "+netErrString(herr))
		}
		nc = tc
	}
	cancel()
	recordIO(L, "redis", start, err)
	if err != nil {
		raiseIfCancelled(L)
		return pushNilErr(L, netErrString(err))
	}
	c.conn = &redisConn{nc: nc, br: bufio.NewReaderSize(nc, redisReadBufferSize), pool: pool, poolSize: poolSize}
	c.io.redis[c] = struct{}{}

	// AUTH and SELECT from the options, sent now even when a pipeline is open
	if password != "" {
		args := []string{"auth", password}
		if username != "" {
			args = []string{"auth", username, password}
		}
		if msg, ok := c.setup(L, args); !ok {
			c.closeConn()
			return pushNilErr(L, "failed to authenticate: "+msg)
		}
	}
	if db != lua.LNil {
		if msg, ok := c.setup(L, []string{"select", redisArgString(L, db)}); !ok {
			c.closeConn()
			return pushNilErr(L, "failed to select database "+redisArgString(L, db)+": "+msg)
		}
	}
	L.Push(lua.LNumber(1))
	return 1
}

// setup runs one command outside any pipeline; ok is false for an error
// reply or a failure, with its message.
func (c *redisClient) setup(L *lua.LState, args []string) (string, bool) {
	res, rerr, err := c.exec(L, args)
	switch {
	case err != nil:
		c.closeConn()
		raiseIfCancelled(L)
		return redisErrString(err), false
	case rerr != "":
		return rerr, false
	case res == lua.LNil:
		return "nil", false
	}
	return "", true
}

func redisSetKeepalive(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	if c.subscribed {
		return pushNilErr(L, "subscribed state")
	}
	if c.inMulti {
		return pushNilErr(L, "in transaction")
	}
	if c.conn == nil {
		return pushNilErr(L, "closed")
	}
	// nil: lua_socket_keepalive_timeout; 0: no idle limit (nginx)
	idle := msDuration(L, 2, "setkeepalive")
	if L.Get(2) == lua.LNil {
		idle = defaultKeepaliveIdle
	} else if idle == 0 {
		idle = 100 * 365 * 24 * time.Hour
	}
	size := c.conn.poolSize
	if v := L.Get(3); v != lua.LNil {
		n, ok := v.(lua.LNumber)
		if !ok {
			raise(L, "bad argument #3 to 'setkeepalive' (number expected, got %s)", v.Type())
		}
		if n < 1 {
			raise(L, "bad \"pool_size\" option value: %s", formatNumber(float64(n)))
		}
		size = int(n)
	}
	conn := c.conn
	if conn.br.Buffered() > 0 {
		c.closeConn()
		return pushNilErr(L, "unread data in buffer")
	}
	c.conn = nil
	delete(c.io.redis, c)
	netPoolsOf(L).put(conn, idle, size)
	L.Push(lua.LNumber(1))
	return 1
}

func redisGetReusedTimes(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	if c.conn == nil {
		return pushNilErr(L, "closed")
	}
	L.Push(lua.LNumber(c.conn.reused))
	return 1
}

func redisClose(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	if c.conn == nil {
		return pushNilErr(L, "closed")
	}
	c.closeConn()
	L.Push(lua.LNumber(1))
	return 1
}

func redisInitPipeline(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	c.pipe, c.pipeBuf, c.pipeN = true, c.pipeBuf[:0], 0
	c.inMultiSaved = c.inMulti
	return 0
}

func redisCancelPipeline(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	c.pipe, c.pipeBuf, c.pipeN = false, c.pipeBuf[:0], 0
	c.inMulti = c.inMultiSaved
	return 0
}

func redisCommitPipeline(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	if !c.pipe {
		return pushNilErr(L, "no pipeline")
	}
	c.pipe = false
	req, n := c.pipeBuf, c.pipeN
	c.pipeBuf, c.pipeN = c.pipeBuf[:0], 0
	if c.conn == nil {
		return pushNilErr(L, "closed")
	}
	checkCosocket(L)
	start := time.Now()
	results := L.CreateTable(n, 0)
	err := c.roundTrip(L, req, func(br *bufio.Reader) error {
		for i := 0; i < n; i++ {
			v, rerr, err := readRedisReply(L, br, 0)
			if err != nil {
				return err
			}
			if rerr != "" {
				v = redisErrPair(L, rerr)
			}
			results.RawSetInt(i+1, v)
		}
		return nil
	})
	recordIO(L, "redis", start, err)
	if err != nil {
		return c.failed(L, err)
	}
	L.Push(results)
	return 1
}

// failed handles a network or protocol error and returns nil, err. The
// connection is closed (nginx closes a cosocket on read errors,
// lua-resty-redis on timeouts), except for a timeout before any byte of
// the reply while subscribed or after a blocking command: the connection
// then stays usable, as in lua-resty-redis.
func (c *redisClient) failed(L *lua.LState, err error) int {
	raiseIfCancelled(L)
	var idle redisNoReply
	if !(errors.As(err, &idle) && redisErrString(err) == "timeout" && (c.subscribed || c.blocking)) {
		c.closeConn()
	}
	return pushNilErr(L, redisErrString(err))
}

func redisErrString(err error) string {
	var pe redisProtoError
	if errors.As(err, &pe) {
		return string(pe)
	}
	return netErrString(err)
}

// roundTrip writes req (when not empty) and runs read, each under its
// timeout; the state's context (the function's time limit) interrupts both.
func (c *redisClient) roundTrip(L *lua.LState, req []byte, read func(*bufio.Reader) error) error {
	conn := c.conn
	if ctx := L.Context(); ctx != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		stop := context.AfterFunc(ctx, func() { conn.nc.SetDeadline(time.Now()) })
		defer stop()
	}
	if len(req) > 0 {
		if err := conn.nc.SetWriteDeadline(time.Now().Add(c.sendTO)); err != nil {
			return err
		}
		if _, err := conn.nc.Write(req); err != nil {
			return err
		}
	}
	if err := conn.nc.SetReadDeadline(time.Now().Add(c.readTO)); err != nil {
		return err
	}
	return read(conn.br)
}

// exec sends one command and reads its reply, buffering the pub/sub
// messages that arrive first while subscribed (lua-resty-redis's _do_cmd).
// The connection must be open.
func (c *redisClient) exec(L *lua.LState, args []string) (lua.LValue, string, error) {
	buf := appendRedisHeader(c.conn.wbuf[:0], '*', len(args))
	for _, a := range args {
		buf = appendRedisBulk(buf, a)
	}
	c.conn.wbuf = buf
	return c.send(L, buf)
}

func (c *redisClient) send(L *lua.LState, req []byte) (lua.LValue, string, error) {
	start := time.Now()
	var res lua.LValue
	var rerr string
	err := c.roundTrip(L, req, func(br *bufio.Reader) error {
		for {
			var err error
			res, rerr, err = readRedisReply(L, br, 0)
			if err != nil || !c.isMessage(res) {
				return err
			}
			c.buffered = append(c.buffered, res.(*lua.LTable))
		}
	})
	recordIO(L, "redis", start, err)
	return res, rerr, err
}

// isMessage is lua-resty-redis's _check_msg.
func (c *redisClient) isMessage(v lua.LValue) bool {
	t, ok := v.(*lua.LTable)
	if !c.subscribed || !ok {
		return false
	}
	kind := t.RawGetInt(1)
	return kind == lua.LString("message") || kind == lua.LString("pmessage")
}

// redisCommand returns the method sending the command name (with the
// module prefix a red:<module>() call set).
func redisCommand(name string) lua.LGFunction {
	return func(L *lua.LState) int {
		c := redisSelf(L)
		if c == nil {
			return pushNilErr(L, "not initialized")
		}
		cmd := name
		if c.prefix != "" {
			cmd, c.prefix = c.prefix+"."+name, ""
		}
		return c.do(L, cmd, 2, L.GetTop())
	}
}

// redisBlocking is blpop/brpop: a read timeout keeps the connection.
func redisBlocking(name string) lua.LGFunction {
	cmd := redisCommand(name)
	return func(L *lua.LState) int {
		if c := redisSelf(L); c != nil {
			c.blocking = true
		}
		return cmd(L)
	}
}

// redisMultiCmd is multi (a connection in a transaction is not pooled:
// lua-resty-redis issue #176), exec and discard.
func redisMultiCmd(name string, in bool) lua.LGFunction {
	return func(L *lua.LState) int {
		c := redisSelf(L)
		if c == nil {
			return pushNilErr(L, "not initialized")
		}
		c.inMulti = in
		return c.do(L, name, 2, L.GetTop())
	}
}

// do sends the command with the arguments at stack positions from..to and
// pushes lua-resty-redis's result (or nothing while pipelining).
func (c *redisClient) do(L *lua.LState, name string, from, to int) int {
	for to >= from && L.Get(to) == lua.LNil { // {...} drops trailing nils
		to--
	}
	var buf []byte
	if c.pipe {
		buf = c.pipeBuf
	} else if c.conn != nil {
		buf = c.conn.wbuf[:0]
	}
	buf = appendRedisHeader(buf, '*', 1+to-from+1)
	buf = appendRedisBulk(buf, name)
	for i := from; i <= to; i++ {
		buf = appendRedisBulk(buf, redisArgString(L, L.Get(i)))
	}
	if c.pipe {
		c.pipeBuf = buf
		c.pipeN++
		return 0
	}
	if c.conn == nil {
		return pushNilErr(L, "closed")
	}
	checkCosocket(L)
	c.conn.wbuf = buf
	res, rerr, err := c.send(L, buf)
	if err != nil {
		return c.failed(L, err)
	}
	if rerr != "" {
		L.Push(lua.LFalse)
		L.Push(lua.LString(rerr))
		return 2
	}
	L.Push(res)
	return 1
}

// redisSubscribe is subscribe/psubscribe: one reply per channel, an array
// of them when several channels are given.
func redisSubscribe(name string) lua.LGFunction {
	return func(L *lua.LState) int {
		c := redisSelf(L)
		if c == nil {
			return pushNilErr(L, "not initialized")
		}
		c.subscribed = true
		nargs := L.GetTop() - 1
		if n := c.do(L, name, 2, L.GetTop()); n == 0 || L.Get(-n) == lua.LNil || L.Get(-n) == lua.LFalse {
			if n == 2 && L.Get(-2) == lua.LFalse {
				L.Replace(-2, lua.LNil)
			}
			return n
		}
		first := L.Get(-1)
		c.countSubscription(first)
		if nargs <= 1 {
			return 1
		}
		results := L.CreateTable(nargs, 0)
		results.RawSetInt(1, first)
		for i := 2; i <= nargs; i++ {
			if n := c.next(L); n != 1 {
				return n
			}
			res := L.Get(-1)
			c.countSubscription(res)
			results.RawSetInt(i, res)
		}
		L.Push(results)
		return 1
	}
}

// redisUnsubscribe is unsubscribe/punsubscribe: with no argument, replies
// are read until every channel is gone.
func redisUnsubscribe(name string) lua.LGFunction {
	return func(L *lua.LState) int {
		c := redisSelf(L)
		if c == nil {
			return pushNilErr(L, "not initialized")
		}
		if !c.subscribed {
			return pushNilErr(L, "not subscribed")
		}
		nargs := L.GetTop() - 1
		if n := c.do(L, name, 2, L.GetTop()); n == 0 || L.Get(-n) == lua.LNil || L.Get(-n) == lua.LFalse {
			if n == 2 && L.Get(-2) == lua.LFalse {
				L.Replace(-2, lua.LNil)
			}
			return n
		}
		first := L.Get(-1)
		c.checkUnsubscribed(first)
		if c.channels(name) == 0 || nargs == 1 {
			return 1
		}
		results := L.CreateTable(max(nargs, 2), 0)
		results.RawSetInt(1, first)
		for i := 2; nargs == 0 || i <= nargs; i++ {
			if n := c.next(L); n != 1 {
				return n
			}
			res := L.Get(-1)
			results.RawSetInt(i, res)
			c.checkUnsubscribed(res)
			if c.channels(name) == 0 {
				break
			}
		}
		L.Push(results)
		return 1
	}
}

// next reads one more reply (no command sent) and pushes it, or nil, err.
func (c *redisClient) next(L *lua.LState) int {
	if c.conn == nil {
		return pushNilErr(L, "closed")
	}
	start := time.Now()
	var res lua.LValue
	var rerr string
	err := c.roundTrip(L, nil, func(br *bufio.Reader) error {
		var err error
		res, rerr, err = readRedisReply(L, br, 0)
		return err
	})
	recordIO(L, "redis", start, err)
	if err != nil {
		return c.failed(L, err)
	}
	if rerr != "" {
		return pushNilErr(L, rerr)
	}
	L.Push(res)
	return 1
}

func (c *redisClient) channels(cmd string) int {
	if cmd == "punsubscribe" {
		return c.nPunsub
	}
	return c.nUnsubscribe
}

// countSubscription is lua-resty-redis's _check_subscribed.
func (c *redisClient) countSubscription(v lua.LValue) {
	if t, ok := v.(*lua.LTable); ok {
		switch t.RawGetInt(1) {
		case lua.LString("subscribe"):
			c.nUnsubscribe++
		case lua.LString("psubscribe"):
			c.nPunsub++
		}
	}
}

// checkUnsubscribed is lua-resty-redis's _check_unsubscribed: counts the
// channel down, drops its buffered messages, and leaves the subscribed
// state when the server says none is left.
func (c *redisClient) checkUnsubscribed(v lua.LValue) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return
	}
	kind := t.RawGetInt(1)
	if kind != lua.LString("unsubscribe") && kind != lua.LString("punsubscribe") {
		return
	}
	msgType := lua.LString("message")
	if kind == lua.LString("punsubscribe") {
		c.nPunsub--
		msgType = "pmessage"
	} else {
		c.nUnsubscribe--
	}
	kept := c.buffered[:0]
	for _, m := range c.buffered {
		if m.RawGetInt(1) == msgType && m.RawGetInt(2) != t.RawGetInt(2) {
			kept = append(kept, m)
		}
	}
	clear(c.buffered[len(kept):])
	c.buffered = kept
	if len(c.buffered) == 0 {
		c.buffered = nil
	}
	if t.RawGetInt(3) == lua.LNumber(0) {
		c.subscribed = false
	}
}

// red:read_reply(): the next pushed message while subscribed.
func redisReadReply(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	if !c.subscribed {
		return pushNilErr(L, "not subscribed")
	}
	if len(c.buffered) > 0 {
		msg := c.buffered[0]
		c.buffered[0] = nil
		c.buffered = c.buffered[1:]
		if len(c.buffered) == 0 {
			c.buffered = nil
		}
		L.Push(msg)
		return 1
	}
	if c.conn == nil {
		return pushNilErr(L, "closed")
	}
	checkCosocket(L)
	start := time.Now()
	var res lua.LValue
	var rerr string
	err := c.roundTrip(L, nil, func(br *bufio.Reader) error {
		var err error
		res, rerr, err = readRedisReply(L, br, 0)
		return err
	})
	recordIO(L, "redis", start, err)
	if err != nil {
		return c.failed(L, err)
	}
	if rerr != "" {
		L.Push(lua.LFalse)
		L.Push(lua.LString(rerr))
		return 2
	}
	c.checkUnsubscribed(res)
	L.Push(res)
	return 1
}

// red:hmset(key, {field = value, ...}) or red:hmset(key, f1, v1, ...)
func redisHmset(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	if L.GetTop() == 3 {
		if t, ok := L.Get(3).(*lua.LTable); ok {
			top := L.GetTop()
			L.Push(L.Get(2))
			t.ForEach(func(k, v lua.LValue) {
				L.Push(k)
				L.Push(v)
			})
			return c.doExpanded(L, "hmset", top)
		}
	}
	return c.do(L, "hmset", 2, L.GetTop())
}

// red:hmget(key, {f1, f2}) or red:hmget(key, f1, f2)
func redisHmget(L *lua.LState) int {
	c := redisSelf(L)
	if c == nil {
		return pushNilErr(L, "not initialized")
	}
	if L.GetTop() == 3 {
		if t, ok := L.Get(3).(*lua.LTable); ok {
			top := L.GetTop()
			L.Push(L.Get(2))
			for i, n := 1, seqLen(t); i <= n; i++ {
				L.Push(t.RawGetInt(i))
			}
			return c.doExpanded(L, "hmget", top)
		}
	}
	return c.do(L, "hmget", 2, L.GetTop())
}

// doExpanded runs the command on the arguments pushed above top and moves
// its results down to top+1.
func (c *redisClient) doExpanded(L *lua.LState, name string, top int) int {
	n := c.do(L, name, top+1, L.GetTop())
	for i := 0; i < n; i++ {
		L.Replace(top+1+i, L.Get(L.GetTop()-n+1+i))
	}
	L.SetTop(top + n)
	return n
}

// red:array_to_hash({"k1", "v1", "k2", "v2"}) gives {k1 = "v1", k2 = "v2"}.
func redisArrayToHash(L *lua.LState) int {
	t := L.CheckTable(2)
	n := seqLen(t)
	h := L.CreateTable(0, n/2)
	for i := 1; i+1 <= n; i += 2 {
		h.RawSet(t.RawGetInt(i), t.RawGetInt(i+1))
	}
	L.Push(h)
	return 1
}

// redisArgString is how lua-resty-redis's _gen_req sends an argument:
// tostring, except integral numbers of 15+ digits, sent with %.0f.
func redisArgString(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		f := float64(x)
		if (f >= 1e14 || f <= -1e14) && f == math.Floor(f) && f <= redisMaxExactInt && f >= -redisMaxExactInt {
			return strconv.FormatFloat(f, 'f', 0, 64)
		}
		return formatNumber(f)
	case lua.LBool:
		if x {
			return "true"
		}
		return "false"
	case *lua.LNilType:
		return "nil"
	}
	if v == NullValue(L) {
		return "userdata: NULL"
	}
	return L.ToStringMeta(v).String()
}

func appendRedisHeader(b []byte, prefix byte, n int) []byte {
	b = append(b, prefix)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

func appendRedisBulk(b []byte, s string) []byte {
	b = appendRedisHeader(b, '$', len(s))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// redisProtoError is a reply lua-resty-redis cannot parse (its message is
// returned as the error).
type redisProtoError string

func (e redisProtoError) Error() string { return string(e) }

// redisNoReply wraps an error that came before any byte of a reply.
type redisNoReply struct{ err error }

func (e redisNoReply) Error() string { return e.err.Error() }
func (e redisNoReply) Unwrap() error { return e.err }

const redisMaxDepth = 64

// readRedisReply reads one reply as lua-resty-redis's _read_reply maps it:
// status → string, integer → number, bulk → string, nil bulk or nil
// multi-bulk → ngx.null, multi-bulk → array (nested error replies become
// {false, err}), error reply → rerr. err is a network or protocol error.
func readRedisReply(L *lua.LState, br *bufio.Reader, depth int) (v lua.LValue, rerr string, err error) {
	line, err := readRedisLine(br)
	if err != nil {
		if depth == 0 && len(line) == 0 {
			return nil, "", redisNoReply{err}
		}
		return nil, "", err
	}
	if len(line) == 0 {
		return nil, "", redisProtoError(`unknown prefix: "nil"`)
	}
	switch line[0] {
	case '+':
		return lua.LString(line[1:]), "", nil
	case '-':
		return nil, string(line[1:]), nil
	case ':':
		n, perr := strconv.ParseFloat(string(line[1:]), 64)
		if perr != nil {
			return nil, "", redisProtoError("bad integer reply: " + string(line[1:]))
		}
		return lua.LNumber(n), "", nil
	case '$':
		size, perr := strconv.Atoi(string(line[1:]))
		if perr != nil {
			return nil, "", redisProtoError("bad bulk size: " + string(line[1:]))
		}
		if size < 0 {
			return NullValue(L), "", nil
		}
		data := make([]byte, size+2)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, "", err
		}
		return lua.LString(data[:size]), "", nil
	case '*':
		n, perr := strconv.Atoi(string(line[1:]))
		if perr != nil {
			return nil, "", redisProtoError("bad multi-bulk size: " + string(line[1:]))
		}
		if n < 0 {
			return NullValue(L), "", nil
		}
		if depth >= redisMaxDepth {
			return nil, "", redisProtoError("multi-bulk reply nested too deeply")
		}
		t := L.CreateTable(min(n, 1024), 0)
		for i := 1; i <= n; i++ {
			e, eerr, err := readRedisReply(L, br, depth+1)
			if err != nil {
				return nil, "", err
			}
			if eerr != "" {
				e = redisErrPair(L, eerr)
			}
			t.RawSetInt(i, e)
		}
		return t, "", nil
	}
	return nil, "", redisProtoError(`unknown prefix: "` + strconv.Itoa(int(line[0])) + `"`)
}

func redisErrPair(L *lua.LState, msg string) *lua.LTable {
	t := L.CreateTable(2, 0)
	t.RawSetInt(1, lua.LFalse)
	t.RawSetInt(2, lua.LString(msg))
	return t
}

// readRedisLine reads one CRLF-terminated line without the line end; on an
// error it returns what it consumed of the line.
func readRedisLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		acc := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if len(acc) > redisMaxInlineLineSize {
				return acc, redisProtoError("reply line too long")
			}
			line, err = br.ReadSlice('\n')
			acc = append(acc, line...)
		}
		line = acc
	}
	if err != nil {
		return line, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
