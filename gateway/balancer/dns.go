package balancer

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"time"
)

// Resolver finds the addresses of target host names. TTL 0 means "not
// known" (the registry then uses DefaultTTL).
type Resolver interface {
	// LookupIP resolves A and AAAA records.
	LookupIP(ctx context.Context, host string) ([]string, time.Duration, error)
	// LookupSRV resolves an SRV name ("_service._proto.name").
	LookupSRV(ctx context.Context, name string) ([]*net.SRV, time.Duration, error)
}

// DNS bounds.
const (
	DefaultTTL     = 60 * time.Second // hosts-file answers, TTL 0 (Kong's ttl0 requery)
	MinTTL         = time.Second
	MaxTTL         = time.Hour
	RequeryFailed  = 30 * time.Second // Kong's requery interval for failed lookups
	LookupTimeout  = 5 * time.Second
	maxSRVRecords  = 64
	maxAddrsPerTgt = 64
)

// NetResolver is the default Resolver: Go's resolver (resolv.conf,
// /etc/hosts, search domains) with the TTL of the answers read from the DNS
// replies on their way in. Answers that came from /etc/hosts have no TTL.
type NetResolver struct{ r *net.Resolver }

// NewNetResolver returns the default resolver.
func NewNetResolver() *NetResolver {
	var d net.Dialer
	return &NetResolver{r: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		if col, ok := ctx.Value(ttlKey{}).(*ttlCollector); ok {
			return &ttlConn{Conn: c, col: col, stream: strings.HasPrefix(network, "tcp")}, nil
		}
		return c, nil
	}}}
}

// LookupIP implements Resolver.
func (n *NetResolver) LookupIP(ctx context.Context, host string) ([]string, time.Duration, error) {
	col := &ttlCollector{}
	ctx = context.WithValue(ctx, ttlKey{}, col)
	ips, err := n.r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, 0, err
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.IP.String())
	}
	return out, col.ttl(), nil
}

// LookupSRV implements Resolver.
func (n *NetResolver) LookupSRV(ctx context.Context, name string) ([]*net.SRV, time.Duration, error) {
	col := &ttlCollector{}
	ctx = context.WithValue(ctx, ttlKey{}, col)
	_, srvs, err := n.r.LookupSRV(ctx, "", "", name)
	if err != nil {
		return nil, 0, err
	}
	return srvs, col.ttl(), nil
}

type ttlKey struct{}

// ttlCollector keeps the smallest answer TTL seen during one lookup.
type ttlCollector struct {
	mu   sync.Mutex
	min  uint32
	seen bool
}

func (c *ttlCollector) add(ttl uint32) {
	c.mu.Lock()
	if !c.seen || ttl < c.min {
		c.min, c.seen = ttl, true
	}
	c.mu.Unlock()
}

func (c *ttlCollector) ttl() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seen {
		return 0
	}
	return time.Duration(c.min) * time.Second
}

// ttlConn reads the answers' TTLs out of the DNS replies the resolver
// receives (UDP: one message per read; TCP: length-prefixed messages).
type ttlConn struct {
	net.Conn
	col    *ttlCollector
	stream bool
	buf    []byte
}

func (c *ttlConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if !c.stream {
			answerTTLs(p[:n], c.col)
		} else if len(c.buf) < 64<<10 {
			c.buf = append(c.buf, p[:n]...)
			for len(c.buf) >= 2 {
				l := int(binary.BigEndian.Uint16(c.buf))
				if len(c.buf) < 2+l {
					break
				}
				answerTTLs(c.buf[2:2+l], c.col)
				c.buf = c.buf[2+l:]
			}
		}
	}
	return n, err
}

// answerTTLs records the TTL of every A, AAAA, CNAME and SRV answer of a
// DNS message (RFC 1035 4.1); malformed messages are ignored.
func answerTTLs(m []byte, col *ttlCollector) {
	if len(m) < 12 {
		return
	}
	qd := int(binary.BigEndian.Uint16(m[4:]))
	an := int(binary.BigEndian.Uint16(m[6:]))
	off := 12
	for range qd {
		var ok bool
		if off, ok = skipName(m, off); !ok || off+4 > len(m) {
			return
		}
		off += 4
	}
	for range an {
		var ok bool
		if off, ok = skipName(m, off); !ok || off+10 > len(m) {
			return
		}
		typ := binary.BigEndian.Uint16(m[off:])
		ttl := binary.BigEndian.Uint32(m[off+4:])
		rdl := int(binary.BigEndian.Uint16(m[off+8:]))
		off += 10 + rdl
		if off > len(m) {
			return
		}
		switch typ {
		case 1, 5, 28, 33: // A, CNAME, AAAA, SRV
			col.add(ttl)
		}
	}
}

func skipName(m []byte, off int) (int, bool) {
	for i := 0; i < 128; i++ {
		if off >= len(m) {
			return 0, false
		}
		l := int(m[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 == 0xC0:
			return off + 2, off+2 <= len(m)
		}
		off += 1 + l
	}
	return 0, false
}

// clampTTL applies the bounds: unknown (0) is DefaultTTL.
func clampTTL(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return DefaultTTL
	case d > MaxTTL:
		return MaxTTL
	}
	return d
}

// resolveTarget finds a target's addresses. A name that starts with "_" is
// an SRV name (each record's target resolved in turn, its port and weight
// used); any other name is resolved to A/AAAA records with the target's
// port and weight. It returns the addresses, the source (A, SRV...), the
// TTL, and an error when nothing was found.
func resolveTarget(ctx context.Context, res Resolver, up string, t *TargetSpec, useSRVName bool) ([]*Address, string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	if strings.HasPrefix(t.Host, "_") {
		srvs, ttl, err := res.LookupSRV(ctx, t.Host)
		if err != nil {
			return nil, err.Error(), 0, err
		}
		var out []*Address
		for i, s := range srvs {
			if i >= maxSRVRecords {
				break
			}
			name := strings.TrimSuffix(s.Target, ".")
			ips := []string{name}
			if !isIP(name) {
				var ttl2 time.Duration
				ips, ttl2, err = res.LookupIP(ctx, name)
				if err != nil {
					continue
				}
				if ttl2 > 0 && (ttl == 0 || ttl2 < ttl) {
					ttl = ttl2
				}
			}
			w := int(s.Weight)
			if w == 0 {
				w = 1 // Kong: an SRV weight of 0 is hit minimally
			}
			host := t.Host
			if useSRVName {
				host = name
			}
			port := int(s.Port)
			if port == 0 {
				port = t.Port
			}
			for _, ip := range ips {
				out = append(out, newAddress(up, t, ip, port, w, host))
			}
		}
		if len(out) == 0 {
			return nil, "SRV: no usable records", 0, &net.DNSError{Err: "no usable SRV records", Name: t.Host, IsNotFound: true}
		}
		return out, "SRV", ttl, nil
	}
	ips, ttl, err := res.LookupIP(ctx, t.Host)
	if err != nil {
		return nil, err.Error(), 0, err
	}
	var out []*Address
	src := "A"
	for i, ip := range ips {
		if i >= maxAddrsPerTgt {
			break
		}
		if strings.Contains(ip, ":") && len(out) == 0 {
			src = "AAAA"
		}
		out = append(out, newAddress(up, t, ip, t.Port, t.Weight, t.Host))
	}
	if ttl == 0 {
		src = "hosts"
	}
	return out, src, ttl, nil
}
