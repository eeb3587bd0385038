// Command fasthttp is the engine-choice record's fasthttp candidate: a
// fasthttp server whose handler forwards the request it parsed to one
// fasthttp.HostClient (a keep-alive pool to the upstream) and sends back the
// response it read, with hop-by-hop headers removed both ways.
package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Upgrade",
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "upstream base URL")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("fasthttp: -upstream %q: not a URL with a host (%v)", *upstream, err)
	}
	errLog := log.New(os.Stderr, "fasthttp: ", 0)
	client := &fasthttp.HostClient{
		Addr:                          target.Host,
		MaxConns:                      1024,
		MaxIdleConnDuration:           90 * time.Second,
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  30 * time.Second,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
	}
	handler := newHandler(client, errLog)
	srv := &fasthttp.Server{
		Handler:                       handler,
		Name:                          "bench-fasthttp",
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 false,
		IdleTimeout:                   75 * time.Second,
		ReadTimeout:                   30 * time.Second,
		DisableHeaderNamesNormalizing: true,
		Logger:                        errLog,
	}
	if err := srv.ListenAndServe(*listen); err != nil {
		log.Fatalf("fasthttp: listen on %s: %v", *listen, err)
	}
}

// newHandler forwards each request to client and answers with what it got,
// 502 when the upstream cannot be reached.
func newHandler(client *fasthttp.HostClient, errLog *log.Logger) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		resp := &ctx.Response
		removeHopHeaders(&req.Header)
		// The client connection stays open; the upstream one is the pool's.
		req.Header.ResetConnectionClose()
		if err := client.Do(req, resp); err != nil {
			errLog.Printf("upstream %s: %v", client.Addr, err)
			resp.Reset()
			resp.SetStatusCode(fasthttp.StatusBadGateway)
			return
		}
		for _, h := range hopHeaders {
			resp.Header.Del(h)
		}
		resp.Header.ResetConnectionClose()
	}
}

// removeHopHeaders deletes the fixed hop-by-hop headers and those that the
// Connection header names.
func removeHopHeaders(h *fasthttp.RequestHeader) {
	if conn := h.Peek("Connection"); len(conn) > 0 {
		for _, name := range strings.Split(string(conn), ",") {
			if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, "close") && !strings.EqualFold(name, "keep-alive") {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}
