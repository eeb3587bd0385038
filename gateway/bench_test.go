package gateway

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// startFastUpstream is a minimal fasthttp origin (a static small answer),
// so the benchmark measures the proxy rather than the origin.
func startFastUpstream(b *testing.B) (string, int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"ok":true,"service":"bench"}`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown() })
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

const benchLua = `
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local auth = kong.request.get_header("authorization")
          if not auth or auth:sub(1, 7) ~= "Bearer " or auth:sub(8) ~= "secret-token" then
            return kong.response.exit(401, { message = "Unauthorized" })
          end
          kong.service.request.set_header("X-User", "alice")
          kong.service.request.set_header("X-Authenticated", "true")
        header_filter:
        - kong.response.set_header("X-Served-By", "luagate")
`

// benchExit answers from the access phase (scenario 3: no upstream call).
const benchExit = `
    plugins:
    - name: pre-function
      config:
        access:
        - return kong.response.exit(200, { message = "hello" })
`

var benchCases = []struct {
	name, plugins string
}{
	{"plain", ""},
	{"pre-function", benchLua},
	{"exit", benchExit},
}

// benchGateway starts a gateway for one benchmark case in front of the
// fast origin and returns a client for it and a request that passes.
func benchGateway(b *testing.B, host string, port int, plugins string) (*fasthttp.HostClient, *fasthttp.Request) {
	s := testSettings()
	yml := "_format_version: \"3.0\"\nservices:\n- name: origin\n  url: http://" + host + ":" + strconv.Itoa(port) +
		"\n  routes:\n  - name: r\n    paths: [/]\n" + strings.TrimPrefix(plugins, "\n")
	cfg := loadYAML(b, yml, s)
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	tg := runGateway(b, g, cfg)
	c := &fasthttp.HostClient{Addr: tg.proxy, MaxConns: 64}
	req := fasthttp.AcquireRequest()
	req.SetRequestURI("http://" + tg.proxy + "/bench?x=1")
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Header.Set("User-Agent", "bench/1.0")
	req.Header.Set("Accept", "*/*")
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
		b.Fatalf("warm-up: %v %d %s", err, resp.StatusCode(), resp.Body())
	}
	return c, req
}

// BenchmarkProxy measures one request end to end over loopback: client ->
// proxy -> origin -> proxy -> client, all in this process (allocs/op count
// the fasthttp client and origin too). One request at a time: ns/op is
// mostly loopback latency.
func BenchmarkProxy(b *testing.B) {
	host, port := startFastUpstream(b)
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			c, req := benchGateway(b, host, port, bc.plugins)
			resp := fasthttp.AcquireResponse()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.Do(req, resp); err != nil {
					b.Fatal(err)
				}
				if resp.StatusCode() != 200 {
					b.Fatalf("status %d", resp.StatusCode())
				}
			}
		})
	}
}

// BenchmarkProxyParallel is BenchmarkProxy with 32 requests in flight, so
// the CPUs are busy and ns/op tracks CPU per request (client, proxy and
// origin together: the proxy's share of a change shows diluted).
func BenchmarkProxyParallel(b *testing.B) {
	host, port := startFastUpstream(b)
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			c, req := benchGateway(b, host, port, bc.plugins)
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rq := fasthttp.AcquireRequest()
				req.CopyTo(rq)
				resp := fasthttp.AcquireResponse()
				for pb.Next() {
					if err := c.Do(rq, resp); err != nil {
						b.Error(err)
						return
					}
					if resp.StatusCode() != 200 {
						b.Errorf("status %d", resp.StatusCode())
						return
					}
				}
			})
		})
	}
}
