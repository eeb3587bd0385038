package gateway

import (
	"crypto/tls"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"luagate/declarative"
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
// or the targets of an upstream entity, chosen by weighted round robin.
type upstreamSet struct {
	svc     *declarative.Service
	scheme  string // "http" or "https"
	targets []*target
	ring    []uint16 // weighted round-robin order of target indexes
	next    atomic.Uint32
	retries int
	timeout time.Duration // connect+write+read: bound for the whole call
	// hostHeader overrides target.hostHeader (upstream.host_header).
	hostHeader string
	keys       []clientKey // client references to drop on close
}

// pick returns the target for attempt n (0-based) of one request: the
// round-robin position of the request, then the following ones on retries.
func (u *upstreamSet) pick(start uint32, attempt int) *target {
	if len(u.targets) == 1 {
		return u.targets[0]
	}
	i := (start + uint32(attempt)) % uint32(len(u.ring))
	return u.targets[u.ring[i]]
}

func (u *upstreamSet) start() uint32 {
	if len(u.targets) <= 1 {
		return 0
	}
	return u.next.Add(1)
}

func hostHeaderFor(host string, port int, scheme string) string {
	if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) || port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// newUpstreamSet resolves a service to its targets. A service whose host
// names an upstream entity balances across that upstream's targets with
// weight > 0.
func newUpstreamSet(svc *declarative.Service, ups map[string]*declarative.Upstream, targets map[*declarative.Upstream][]*declarative.Target, pool *clientPool) *upstreamSet {
	scheme := "http"
	if svc.Protocol == "https" || svc.Protocol == "grpcs" || svc.Protocol == "tls" {
		scheme = "https"
	}
	verify := svc.TLSVerify != nil && *svc.TLSVerify
	u := &upstreamSet{
		svc:     svc,
		scheme:  scheme,
		retries: svc.Retries,
		timeout: ms(svc.ConnectTimeout) + ms(svc.WriteTimeout) + ms(svc.ReadTimeout),
	}
	add := func(host string, port, weight int) {
		k := clientKey{
			addr:       net.JoinHostPort(host, strconv.Itoa(port)),
			tls:        scheme == "https",
			serverName: host,
			verify:     verify,
			connect:    ms(svc.ConnectTimeout),
			read:       ms(svc.ReadTimeout),
			write:      ms(svc.WriteTimeout),
		}
		t := &target{key: k, hc: pool.acquire(k), host: host, port: port, hostHeader: hostHeaderFor(host, port, scheme)}
		u.keys = append(u.keys, k)
		idx := len(u.targets)
		u.targets = append(u.targets, t)
		for i := 0; i < weight; i++ {
			u.ring = append(u.ring, uint16(idx))
		}
	}
	if up, ok := ups[svc.Host]; ok {
		u.hostHeader = up.HostHeader
		ws := targets[up]
		g := 0
		for _, t := range ws {
			if t.Weight > 0 {
				g = gcd(g, t.Weight)
			}
		}
		for _, t := range ws {
			if t.Weight <= 0 || len(u.targets) >= 1<<15 {
				continue
			}
			h, p := splitTarget(t.Target)
			add(h, p, min(t.Weight/g, 256))
		}
		u.ring = interleave(u.ring, len(u.targets))
		return u
	}
	add(svc.Host, svc.Port, 1)
	return u
}

func (u *upstreamSet) close(pool *clientPool) {
	for _, k := range u.keys {
		pool.release(k)
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// splitTarget splits "host:port" (targets always carry a port after loading).
func splitTarget(s string) (string, int) {
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		return s, 8000
	}
	p, err := strconv.Atoi(ps)
	if err != nil {
		return h, 8000
	}
	return h, p
}

// interleave spreads a weight-expanded ring ([0 0 0 1]) so that targets
// alternate (smooth weighted round robin: [0 1 0 0]).
func interleave(ring []uint16, n int) []uint16 {
	if n <= 1 || len(ring) == 0 {
		return ring
	}
	weights := make([]int, n)
	for _, i := range ring {
		weights[i]++
	}
	cur := make([]int, n)
	total := len(ring)
	out := make([]uint16, 0, total)
	for range total {
		best := -1
		for i := range n {
			cur[i] += weights[i]
			if weights[i] > 0 && (best < 0 || cur[i] > cur[best]) {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, uint16(best))
	}
	return out
}

// timeoutConn gives Kong's (nginx's) read_timeout and write_timeout
// semantics: each is the longest wait between two successive operations,
// not a bound on the whole response, so long streamed bodies work.
type timeoutConn struct {
	net.Conn
	read, write time.Duration
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	if c.read > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.read)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

func (c *timeoutConn) Write(p []byte) (int, error) {
	if c.write > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.write)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}
