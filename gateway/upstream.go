package gateway

import (
	"crypto/tls"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"luagate/declarative"
	"luagate/gateway/balancer"
)

// clientKey identifies a pooled upstream connection pool: one per address
// and transport parameters, shared by every service (and every snapshot)
// that uses the same ones, so keep-alive connections survive reloads.
type clientKey struct {
	addr                 string // host:port
	tls                  bool
	serverName           string
	verify               bool
	connect, read, write time.Duration
}

type pooledClient struct {
	hc   *fasthttp.HostClient
	refs int
}

// clientPool owns the fasthttp HostClients. Snapshots take references at
// build time and drop them when they close; an unreferenced client's idle
// connections are closed.
type clientPool struct {
	mu      sync.Mutex
	m       map[clientKey]*pooledClient
	idle    time.Duration
	dialer  *fasthttp.TCPDialer
	readBuf int
	// dial, when set, replaces the network for every upstream connection
	// (DryRun's in-memory capture).
	dial func(addr string) (net.Conn, error)
}

func newClientPool(idle time.Duration) *clientPool {
	if idle <= 0 {
		idle = 60 * time.Second
	}
	return &clientPool{
		m:       make(map[clientKey]*pooledClient),
		idle:    idle,
		dialer:  &fasthttp.TCPDialer{DNSCacheDuration: 10 * time.Second},
		readBuf: 16 << 10,
	}
}

func (p *clientPool) acquire(k clientKey) *fasthttp.HostClient {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc, ok := p.m[k]; ok {
		pc.refs++
		return pc.hc
	}
	connect, read, write := k.connect, k.read, k.write
	hc := &fasthttp.HostClient{
		Addr: k.addr,
		Dial: func(addr string) (net.Conn, error) {
			if p.dial != nil {
				return p.dial(addr)
			}
			c, err := p.dialer.DialTimeout(addr, connect)
			if err != nil {
				return nil, err
			}
			return &timeoutConn{Conn: c, read: read, write: write}, nil
		},
		IsTLS:                     k.tls,
		MaxConns:                  1 << 16,
		MaxIdleConnDuration:       p.idle,
		MaxIdemponentCallAttempts: 1, // the proxy retries itself (service.retries)
		ReadBufferSize:            p.readBuf,
		WriteBufferSize:           16 << 10,
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true,
		StreamResponseBody:        true,
	}
	if k.tls {
		hc.TLSConfig = &tls.Config{ServerName: k.serverName, InsecureSkipVerify: !k.verify} //nolint:gosec // Kong's tls_verify defaults to off
	}
	p.m[k] = &pooledClient{hc: hc, refs: 1}
	return hc
}

func (p *clientPool) release(k clientKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc, ok := p.m[k]
	if !ok {
		return
	}
	pc.refs--
	if pc.refs <= 0 {
		delete(p.m, k)
		pc.hc.CloseIdleConnections()
	}
}

// target is one place a service's requests go to.
type target struct {
	key  clientKey
	hc   *fasthttp.HostClient
	host string // host name (for the Host header)
	port int
	// hostHeader is Host sent upstream when preserve_host is off:
	// host, plus ":port" unless it is the scheme's default port.
	hostHeader string
}

// upstreamSet is what a service proxies to: one target (service host:port)
// or, when the service host names an upstream entity, the addresses its
// balancer picks (gateway/balancer; glue in balance.go).
type upstreamSet struct {
	svc     *declarative.Service
	scheme  string // "http" or "https"
	targets []*target
	retries int
	timeout time.Duration // connect+write+read: bound for the whole call
	// hostHeader overrides target.hostHeader (unused for balanced sets:
	// their targets carry upstream.host_header with the port rule).
	hostHeader string
	keys       []clientKey // client references to drop on close

	bal        *balancer.Balancer // nil: the service host itself
	balMu      sync.RWMutex
	balTargets map[addrKey]*target // per balanced address, built on first use
}

func hostHeaderFor(host string, port int, scheme string) string {
	if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) || port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// newUpstreamSet resolves a service to what it proxies to: the balancer of
// the upstream entity its host names, else its host and port.
func newUpstreamSet(svc *declarative.Service, bals map[string]*balancer.Balancer, pool *clientPool) *upstreamSet {
	scheme := "http"
	if svc.Protocol == "https" || svc.Protocol == "grpcs" || svc.Protocol == "tls" {
		scheme = "https"
	}
	u := &upstreamSet{
		svc:     svc,
		scheme:  scheme,
		retries: svc.Retries,
		timeout: ms(svc.ConnectTimeout) + ms(svc.WriteTimeout) + ms(svc.ReadTimeout),
	}
	if b, ok := bals[svc.Host]; ok {
		u.bal = b
		return u
	}
	k := clientKey{
		addr:       net.JoinHostPort(svc.Host, strconv.Itoa(svc.Port)),
		tls:        scheme == "https",
		serverName: svc.Host,
		verify:     svc.TLSVerify != nil && *svc.TLSVerify,
		connect:    ms(svc.ConnectTimeout),
		read:       ms(svc.ReadTimeout),
		write:      ms(svc.WriteTimeout),
	}
	u.keys = append(u.keys, k)
	u.targets = append(u.targets, &target{key: k, hc: pool.acquire(k), host: svc.Host, port: svc.Port, hostHeader: hostHeaderFor(svc.Host, svc.Port, scheme)})
	return u
}

func (u *upstreamSet) close(pool *clientPool) {
	u.balMu.Lock()
	defer u.balMu.Unlock()
	for _, k := range u.keys {
		pool.release(k)
	}
	u.keys = nil
}

// timeoutConn gives Kong's (nginx's) read_timeout and write_timeout
// semantics: each is the longest wait between two successive operations,
// not a bound on the whole response, so long streamed bodies work.
//
// Re-arming a deadline costs a runtime timer update (with time.Now, about 5%
// of a plain proxy request's CPU for the two or three operations of a
// keep-alive request). Like nginx's lazy timers, a deadline is armed with
// some slack (deadlineSlack) and not touched again while the operations
// that follow would move it by less than that: a timeout fires between the
// configured time and that plus the slack after the last operation, never
// earlier.
type timeoutConn struct {
	net.Conn
	read, write           time.Duration
	readUntil, writeUntil time.Time // the deadlines armed on Conn by Read and Write
}

// deadlineSlack is how late a timeout of d may fire at most.
func deadlineSlack(d time.Duration) time.Duration { return min(d/8, 300*time.Millisecond) }

func (c *timeoutConn) Read(p []byte) (int, error) {
	if c.read > 0 {
		if now := time.Now(); now.Add(c.read).After(c.readUntil) {
			c.readUntil = now.Add(c.read + deadlineSlack(c.read))
			if err := c.Conn.SetReadDeadline(c.readUntil); err != nil {
				return 0, err
			}
		}
	}
	return c.Conn.Read(p)
}

func (c *timeoutConn) Write(p []byte) (int, error) {
	if c.write > 0 {
		if now := time.Now(); now.Add(c.write).After(c.writeUntil) {
			c.writeUntil = now.Add(c.write + deadlineSlack(c.write))
			if err := c.Conn.SetWriteDeadline(c.writeUntil); err != nil {
				return 0, err
			}
		}
	}
	return c.Conn.Write(p)
}

// A deadline set from outside replaces the armed one: the next Read or
// Write arms its own again.
func (c *timeoutConn) SetDeadline(t time.Time) error {
	c.readUntil, c.writeUntil = time.Time{}, time.Time{}
	return c.Conn.SetDeadline(t)
}

func (c *timeoutConn) SetReadDeadline(t time.Time) error {
	c.readUntil = time.Time{}
	return c.Conn.SetReadDeadline(t)
}

func (c *timeoutConn) SetWriteDeadline(t time.Time) error {
	c.writeUntil = time.Time{}
	return c.Conn.SetWriteDeadline(t)
}
