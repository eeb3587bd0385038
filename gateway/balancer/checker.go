package balancer

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// checker runs an upstream's active health checks: every
// active.healthy.interval it probes the healthy addresses, every
// active.unhealthy.interval the unhealthy ones, at most active.concurrency
// at a time. It reads the addresses from the group's current balancer, so
// a reload that keeps the active config keeps the goroutine.
type checker struct {
	reg    *Registry
	key    string
	cfg    ActiveConfig
	src    atomic.Pointer[Balancer]
	cancel context.CancelFunc
	done   chan struct{}
}

func startChecker(r *Registry, b *Balancer) *checker {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checker{reg: r, key: b.spec.Health.activeKey(), cfg: b.spec.Health.Active, cancel: cancel, done: make(chan struct{})}
	c.src.Store(b)
	go c.run(ctx)
	return c
}

// stop cancels the checker and waits for it (and its probes) to end.
func (c *checker) stop() {
	c.cancel()
	<-c.done
}

func (c *checker) run(ctx context.Context) {
	defer close(c.done)
	defer func() {
		if v := recover(); v != nil {
			c.reg.log.Error("[healthchecks] active checker panicked", "panic", v)
		}
	}()
	var hc, uc <-chan time.Time
	if d := c.cfg.Healthy.Interval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		hc = t.C
	}
	if d := c.cfg.Unhealthy.Interval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		uc = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hc:
			c.round(ctx, true)
		case <-uc:
			c.round(ctx, false)
		}
	}
}

// round probes every address whose health is `healthy`, and waits for them.
func (c *checker) round(ctx context.Context, healthy bool) {
	b := c.src.Load()
	r := b.ring.Load()
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	seen := map[*state]bool{}
	for _, a := range r.addrs {
		if a.st.healthy() != healthy || seen[a.st] {
			continue
		}
		seen[a.st] = true
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			o, ok := c.probe(ctx, b, a)
			if !ok || ctx.Err() != nil {
				return
			}
			if a.st.report(o, &c.cfg.Healthy, &c.cfg.Unhealthy) {
				c.reg.logChange(b.spec.Name, a, "active")
			}
		})
	}
	wg.Wait()
}

// probe checks one address: a TCP connect for type tcp, else an HTTP/1.0
// GET of http_path (over TLS for https/grpcs). ok is false when the answer
// counts for nothing (a status in neither list).
func (c *checker) probe(ctx context.Context, b *Balancer, a *Address) (outcome, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", a.Addr)
	if err != nil {
		return failureOf(err), true
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	typ := c.cfg.Type
	if typ == "tcp" {
		return outSuccess, true
	}
	host := a.Host
	if b.spec.HostHeader != "" {
		host = b.spec.HostHeader
	}
	if typ == "https" || typ == "grpcs" {
		sni := c.cfg.HTTPSSNI
		if sni == "" {
			sni = host
		}
		tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: !c.cfg.HTTPSVerifyCertificate}) //nolint:gosec // https_verify_certificate=false
		if err := tc.HandshakeContext(ctx); err != nil {
			return failureOf(err), true
		}
		conn = tc
	}
	hostHdr := host
	if (typ == "http" || typ == "grpc") && a.Port != 80 || (typ == "https" || typ == "grpcs") && a.Port != 443 {
		hostHdr = net.JoinHostPort(host, itoa(a.Port))
	}
	var sb strings.Builder
	sb.WriteString("GET " + c.cfg.HTTPPath + " HTTP/1.0\r\nHost: " + hostHdr + "\r\nUser-Agent: luagate-healthcheck\r\nConnection: close\r\n")
	for _, h := range c.cfg.Headers {
		sb.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	sb.WriteString("\r\n")
	if _, err := conn.Write([]byte(sb.String())); err != nil {
		return failureOf(err), true
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 4096), nil)
	if err != nil {
		return failureOf(err), true
	}
	resp.Body.Close()
	switch {
	case statusIn(c.cfg.Healthy.HTTPStatuses, resp.StatusCode):
		return outSuccess, true
	case statusIn(c.cfg.Unhealthy.HTTPStatuses, resp.StatusCode):
		return outHTTPFailure, true
	}
	return 0, false
}

func failureOf(err error) outcome {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return outTimeout
	}
	return outTCPFailure
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
