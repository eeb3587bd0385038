// Command nethttp is the engine-choice record's net/http candidate: a minimal
// hand-tuned plain proxy on net/http (server and client) without
// httputil.ReverseProxy: one tuned Transport, RoundTrip called directly,
// hop-by-hop headers removed, pooled copy buffers.
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// hopHeaders are the RFC 9110 hop-by-hop headers a proxy must not forward.
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

type proxy struct {
	target    *url.URL
	transport *http.Transport
	buffers   sync.Pool
	errLog    *log.Logger
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, in *http.Request) {
	out := in.Clone(in.Context())
	out.RequestURI = ""
	out.URL.Scheme = p.target.Scheme
	out.URL.Host = p.target.Host
	out.Close = false
	if in.ContentLength == 0 {
		out.Body = nil
	}
	removeHopHeaders(out.Header)

	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.errLog.Printf("upstream %s: %v", p.target.Host, err)
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	dst := w.Header()
	for k, vv := range resp.Header {
		dst[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	bufp := p.buffers.Get().(*[]byte)
	_, err = io.CopyBuffer(w, resp.Body, *bufp)
	p.buffers.Put(bufp)
	if err != nil {
		// The status line is gone: abort the connection so the client sees it.
		panic(http.ErrAbortHandler)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "upstream base URL")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("nethttp: -upstream %q: %v", *upstream, err)
	}
	errLog := log.New(os.Stderr, "nethttp: ", 0)
	p := newProxy(target, errLog)
	srv := &http.Server{
		Addr:              *listen,
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       75 * time.Second,
		ErrorLog:          errLog,
	}
	log.Fatal(srv.ListenAndServe())
}

// newProxy returns a proxy to target with the tuned Transport.
func newProxy(target *url.URL, errLog *log.Logger) *proxy {
	return &proxy{
		target: target,
		transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true,
			ResponseHeaderTimeout: 30 * time.Second,
			WriteBufferSize:       16 << 10,
			ReadBufferSize:        16 << 10,
		},
		buffers: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }},
		errLog:  errLog,
	}
}
