package main

import (
	"io"
	"log"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// serve runs h on an in-memory listener and returns a HostClient dialing it.
func serve(t *testing.T, h fasthttp.RequestHandler) *fasthttp.HostClient {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	return &fasthttp.HostClient{Addr: "upstream", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}

func call(h fasthttp.RequestHandler, method, uri, body string, headers map[string]string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.SetBodyString(body)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h(&ctx)
	return &ctx
}

func TestHandler(t *testing.T) {
	var seen fasthttp.RequestHeader
	var seenBody string
	client := serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Request.Header.CopyTo(&seen)
		seenBody = string(ctx.PostBody())
		ctx.Response.Header.Set("X-Up", "1")
		ctx.Response.Header.Set("Keep-Alive", "timeout=5")
		ctx.SetStatusCode(fasthttp.StatusCreated)
		ctx.SetBodyString("answer:" + string(ctx.RequestURI()))
	})
	h := newHandler(client, log.New(io.Discard, "", 0))

	tests := []struct {
		name     string
		method   string
		body     string
		headers  map[string]string
		wantKept []string
		wantGone []string
	}{
		{name: "plain GET", method: "GET", headers: map[string]string{"X-Custom": "a"}, wantKept: []string{"X-Custom"}},
		{name: "hop-by-hop removed", method: "GET",
			headers:  map[string]string{"Connection": "X-Secret", "X-Secret": "s", "Keep-Alive": "1", "Te": "trailers", "X-Custom": "a"},
			wantKept: []string{"X-Custom"}, wantGone: []string{"X-Secret", "Keep-Alive", "Te"}},
		{name: "POST body forwarded", method: "POST", body: `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen.Reset()
			seenBody = ""
			ctx := call(h, tt.method, "http://gw.example/x?q=1", tt.body, tt.headers)
			resp := &ctx.Response
			if resp.StatusCode() != fasthttp.StatusCreated || string(resp.Body()) != "answer:/x?q=1" {
				t.Fatalf("got %d %q; want 201 \"answer:/x?q=1\"", resp.StatusCode(), resp.Body())
			}
			if string(resp.Header.Peek("X-Up")) != "1" || len(resp.Header.Peek("Keep-Alive")) != 0 {
				t.Errorf("response headers:\n%s\nwant X-Up kept, Keep-Alive removed", resp.Header.String())
			}
			for _, k := range tt.wantKept {
				if len(seen.Peek(k)) == 0 {
					t.Errorf("upstream did not get %s", k)
				}
			}
			for _, k := range tt.wantGone {
				if v := seen.Peek(k); len(v) != 0 {
					t.Errorf("upstream got hop-by-hop header %s: %q", k, v)
				}
			}
			if seenBody != tt.body {
				t.Errorf("upstream body %q; want %q", seenBody, tt.body)
			}
		})
	}
}

func TestHandlerUpstreamDown(t *testing.T) {
	ln := fasthttputil.NewInmemoryListener()
	_ = ln.Close()
	client := &fasthttp.HostClient{Addr: "upstream", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	ctx := call(newHandler(client, log.New(io.Discard, "", 0)), "GET", "http://gw.example/", "", nil)
	if got := ctx.Response.StatusCode(); got != fasthttp.StatusBadGateway {
		t.Errorf("status %d; want 502", got)
	}
}
