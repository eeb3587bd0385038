package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// shutdownGrace bounds how long Run waits for in-flight requests.
const shutdownGrace = 10 * time.Second

// listener is one bound address with its server.
type listener struct {
	kind    string // "proxy", "admin", "status"
	scheme  string
	port    int
	portStr string
	ln      net.Listener
	srv     *fasthttp.Server
	split   *tlsSplitter // ssl listeners (tls.go)
	h2      *h2Bridge    // http2 listeners (h2.go)
}

// Addrs returns the bound addresses of the listeners of a kind ("proxy",
// "admin", "status") once Run has bound them (see Started).
func (g *Gateway) Addrs(kind string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, l := range g.listeners {
		if l.kind == kind {
			out = append(out, l.ln.Addr().String())
		}
	}
	return out
}

// Started is closed once Run has bound every listener.
func (g *Gateway) Started() <-chan struct{} { return g.started }

// Run binds the proxy, admin and status listeners and serves until ctx is
// cancelled; then it stops accepting, waits (bounded) for in-flight
// requests and closes the current snapshot.
func (g *Gateway) Run(ctx context.Context) error {
	var ls []*listener
	bind := func(kind string, specs []Listen, handler func(*listener) fasthttp.RequestHandler) error {
		for _, spec := range specs {
			ln, err := net.Listen("tcp", spec.Addr)
			if err != nil {
				return fmt.Errorf("%s_listen %s: %w", kind, spec.Addr, err)
			}
			_, ps, _ := net.SplitHostPort(ln.Addr().String())
			port, _ := strconv.Atoi(ps)
			l := &listener{kind: kind, scheme: "http", port: port, portStr: ps, ln: ln}
			l.srv = g.newServer(kind, handler(l))
			if err := g.setupListener(l, spec, l.srv.Handler); err != nil { // tls.go
				ln.Close()
				return fmt.Errorf("%s_listen %s: %w", kind, spec.Addr, err)
			}
			ls = append(ls, l)
		}
		return nil
	}
	err := errors.Join(
		bind("proxy", g.proxyListen, func(l *listener) fasthttp.RequestHandler {
			return func(ctx *fasthttp.RequestCtx) { g.serveEdge(l, ctx) }
		}),
		bind("admin", g.adminListen, func(*listener) fasthttp.RequestHandler { return g.serveAdmin }),
		bind("status", g.statusListen, func(*listener) fasthttp.RequestHandler { return g.serveStatus }),
	)
	if err != nil {
		for _, l := range ls {
			l.ln.Close()
		}
		return err
	}
	g.mu.Lock()
	g.listeners = ls
	g.mu.Unlock()
	defer g.startLifecycle(ctx)() // reload loop, file watcher, Admin API (reload.go)
	close(g.started)

	errc := make(chan error, len(ls))
	var wg sync.WaitGroup
	for _, l := range ls {
		g.logger.Info("listening", "listener", l.kind, "address", l.ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.serve(); err != nil {
				errc <- fmt.Errorf("%s listener %s: %w", l.kind, l.ln.Addr(), err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	g.draining.Store(true)
	g.logger.Info("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), g.settings.drainTimeout())
	defer cancel()
	for _, l := range ls {
		if err := l.shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			g.logger.Warn("shutdown", "listener", l.kind, "error", err)
		}
	}
	wg.Wait()
	if s := g.cur.Load(); s != nil {
		s.Close()
		select {
		case <-s.Done():
		case <-sctx.Done():
			g.logger.Warn("shutdown: requests still running after the grace period")
		}
	}
	g.rt.luaStates.Close()
	return runErr
}

func (g *Gateway) newServer(kind string, h fasthttp.RequestHandler) *fasthttp.Server {
	n, size := g.settings.headerBuffers()
	s := &fasthttp.Server{
		Handler:                      h,
		Name:                         serverToken,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		ReadBufferSize:               n * size, // large_client_header_buffers: the whole request head
		ReadTimeout:                  g.settings.ClientHeaderTimeout,
		IdleTimeout:                  60 * time.Second,
		Concurrency:                  g.maxConnections(),
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{g.logger},
		ConnState: func(_ net.Conn, st fasthttp.ConnState) {
			g.rt.connState(st)
		},
	}
	if kind == "proxy" {
		s.StreamRequestBody = true
		s.MaxRequestBodySize = g.settings.ClientBodyBufferSize
		if s.MaxRequestBodySize <= 0 {
			s.MaxRequestBodySize = 8 << 10
		}
		s.ErrorHandler = g.proxyErrorHandler
		s.HeaderReceived = g.headerReceived // tls.go: early 413
	}
	if kind == "admin" {
		// Room above the Admin API's own limit, which answers 413 in JSON.
		s.MaxRequestBodySize = int(max(g.settings.AdminMaxBodySize, 10<<20)) + 1<<20
	}
	return s
}

// proxyErrorHandler answers requests fasthttp could not parse, like
// nginx's error_page through Kong's handler (400, 408, 414, 494 as 400;
// edgeStatus in tls.go).
func (g *Gateway) proxyErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	g.edgeError(ctx, edgeStatus(err), "")
	g.logger.Info("bad request", "error", err)
}

func (rt *Runtime) connState(st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		rt.accepted.Add(1)
		rt.active.Add(1)
	case fasthttp.StateHijacked, fasthttp.StateClosed:
		rt.active.Add(-1)
		rt.handled.Add(1)
	}
}

// fasthttpLogger sends fasthttp's own messages to slog at debug level.
type fasthttpLogger struct {
	l interface{ Debug(string, ...any) }
}

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}
