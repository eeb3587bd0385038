package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// HTTP/2 on "http2" TLS listeners.
//
// fasthttp speaks HTTP/1.1 only. The TLS splitter (tls.go) does the
// handshake itself and looks at the ALPN result: HTTP/1.1 connections go to
// the listener's fasthttp server as on every other listener (so websockets
// and every fasthttp path stay identical), and only connections that chose
// "h2" go to a net/http server, whose handler converts each stream into a
// fasthttp.RequestCtx and calls the very same handler (serveEdge →
// serveProxy). The alternative, a shared engine-neutral core, would mean
// rewriting the request path; the bridge keeps one proxy implementation.
//
// Cost, measured roughly on this shared 2-core machine (go test -bench):
// the conversion alone (BenchmarkH2BridgeConversion: request headers into
// a pooled RequestCtx, the answer's headers and body back) is 6-7 µs and
// 27 allocations per request, most of them net/http's header maps. End to
// end through TLS with a loopback upstream (BenchmarkTLSProxy, one
// kept-alive connection, Go's client on the same 2 cores) HTTP/1.1 takes
// 210-260 µs and HTTP/2 545-615 µs per request; most of that difference is
// the HTTP/2 framing of Go's client and server on both sides, not the
// bridge. Bodies are not copied into memory: the request body is handed
// over as a stream and the response body is copied in 32 KiB pieces
// straight from the upstream stream to the HTTP/2 stream.
//
// Limits apply as on HTTP/1.1: net/http's MaxHeaderBytes is the header
// buffer total, ReadHeaderTimeout is client_header_timeout, IdleTimeout
// 60s, and the request line and header lines are checked by serveEdge.
// Upgrade requests (websockets) are HTTP/1.1 only, as in nginx.

// h2Bridge serves the h2 side of one listener.
type h2Bridge struct {
	g       *Gateway
	l       *listener
	srv     *http.Server
	handler fasthttp.RequestHandler
	active  atomic.Int64
	max     int64
	ctxs    sync.Pool // *fasthttp.RequestCtx, reused once a stream is done
}

func newH2Bridge(g *Gateway, l *listener, h fasthttp.RequestHandler) *h2Bridge {
	b := &h2Bridge{g: g, l: l, handler: h, max: int64(g.maxConnections())}
	n, size := g.settings.headerBuffers()
	b.srv = &http.Server{
		Handler:           b,
		ReadHeaderTimeout: g.settings.ClientHeaderTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    n * size,
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelDebug),
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				g.rt.connState(fasthttp.StateNew)
				if b.active.Add(1) > b.max {
					c.Close()
				}
			case http.StateClosed, http.StateHijacked:
				b.active.Add(-1)
				g.rt.connState(fasthttp.StateClosed)
			}
		},
	}
	return b
}

func (b *h2Bridge) serve(ln net.Listener) error {
	err := b.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (b *h2Bridge) shutdown(ctx context.Context) error {
	err := b.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		b.srv.Close()
	}
	return err
}

// h2Conn stands for the HTTP/2 connection in the RequestCtx: addresses and
// the TLS state (so serverName and kong.client see the SNI).
type h2Conn struct {
	net.Conn // nil: reading or writing is never done through it
	local    net.Addr
	remote   net.Addr
	state    tls.ConnectionState
}

func (c *h2Conn) LocalAddr() net.Addr                  { return c.local }
func (c *h2Conn) RemoteAddr() net.Addr                 { return c.remote }
func (c *h2Conn) Handshake() error                     { return nil }
func (c *h2Conn) ConnectionState() tls.ConnectionState { return c.state }
func (c *h2Conn) Close() error                         { return nil }
func (c *h2Conn) SetDeadline(time.Time) error          { return nil }
func (c *h2Conn) SetReadDeadline(time.Time) error      { return nil }
func (c *h2Conn) SetWriteDeadline(time.Time) error     { return nil }

// hopHeaders are not allowed in HTTP/2 responses (RFC 9113 8.2.2).
func hopHeader(k string) bool {
	switch strings.ToLower(k) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length":
		return true
	}
	return false
}

func (b *h2Bridge) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	ctx, _ := b.ctxs.Get().(*fasthttp.RequestCtx)
	if ctx == nil {
		ctx = new(fasthttp.RequestCtx)
	}
	// The request has ended when ServeHTTP returns (the response body
	// stream, whose Close ends it, is closed below), so ctx can be reused.
	defer func() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.ResetUserValues()
		b.ctxs.Put(ctx)
	}()
	c := &h2Conn{remote: tcpAddrOf(hr.RemoteAddr)}
	if la, ok := hr.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		c.local = la
	} else {
		c.local = b.l.ln.Addr()
	}
	if hr.TLS != nil {
		c.state = *hr.TLS
	}
	ctx.Init2(c, fasthttpLogger{b.g.logger}, false)

	// Names are normalised as on HTTP/1.1 (net/http's canonical form is
	// the same), so lookups by any spelling (the PDK's get_header
	// ("authorization"), clear_header) find them.
	req := &ctx.Request
	req.Header.SetMethod(hr.Method)
	req.Header.SetRequestURI(hr.RequestURI)
	req.Header.SetHost(hr.Host)
	for k, vs := range hr.Header {
		if hopHeader(k) && !strings.EqualFold(k, "content-length") {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	// net/http closes the body itself; hiding Close keeps serveEdge's
	// re-wrapping (SetBodyStream closes the previous stream) harmless.
	body := struct{ io.Reader }{hr.Body}
	switch {
	case hr.ContentLength > 0:
		req.SetBodyStream(body, int(hr.ContentLength))
	case hr.ContentLength < 0:
		req.SetBodyStream(body, -1)
	default:
		req.Header.SetContentLength(0)
	}

	b.handler(ctx)

	resp := &ctx.Response
	h := w.Header()
	for k, v := range resp.Header.All() {
		if !hopHeader(string(k)) {
			h.Add(string(k), string(v))
		}
	}
	stream := resp.IsBodyStream()
	if !stream {
		h.Set("Content-Length", strconv.Itoa(len(resp.Body())))
	} else if cl := resp.Header.ContentLength(); cl >= 0 {
		h.Set("Content-Length", strconv.Itoa(cl))
	}
	w.WriteHeader(resp.StatusCode())
	if hr.Method == http.MethodHead {
		if stream {
			_ = resp.CloseBodyStream()
		}
		return
	}
	if !stream {
		_, _ = w.Write(resp.Body())
		return
	}
	// Copy the upstream stream chunk by chunk, flushing each one so a
	// streaming (SSE, long-poll) upstream reaches the client as it comes.
	buf := make([]byte, 32<<10)
	fl, _ := w.(http.Flusher)
	src := resp.BodyStream()
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				break
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				b.g.logger.Debug("h2: response body stream", "error", err)
			}
			break
		}
	}
	_ = resp.CloseBodyStream() // ends the request (bodyStreamer.Close)
}

func tcpAddrOf(s string) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", s); err == nil {
		return a
	}
	return &net.TCPAddr{}
}
