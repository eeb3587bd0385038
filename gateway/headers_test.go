package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"luagate/declarative"
)

func headersConfig(host string, port int) *declarative.Config {
	b := newCfg()
	svc := b.service("echo", host, port, "")
	b.route("plain", svc, func(r *declarative.Route) { r.Paths = []string{"/plain"}; r.StripPath = false })
	b.route("strip", svc, func(r *declarative.Route) { r.Paths = []string{"/strip"} })
	b.route("preserve", svc, func(r *declarative.Route) {
		r.Paths = []string{"/preserve"}
		r.PreserveHost = true
		r.StripPath = false
	})
	svc80 := b.service("port80", "localhost", 80, "")
	b.route("port80", svc80, func(r *declarative.Route) { r.Paths = []string{"/port80"} })
	return b.cfg
}

func TestUpstreamRequestHeaders(t *testing.T) {
	host, port, _ := startEcho(t)
	tg := startGateway(t, headersConfig(host, port), testSettings(), nil)
	_, proxyPort, _ := net.SplitHostPort(tg.proxy)

	r := tg.do(t, "POST", "/strip/a?q=1", map[string]string{
		"Host":               "Client.Example.com:8000",
		"X-Forwarded-For":    "10.0.0.1",
		"X-Forwarded-Proto":  "https",
		"X-Forwarded-Host":   "evil.test",
		"X-Forwarded-Prefix": "/evil",
		"X-Real-IP":          "10.9.9.9",
		"Via":                "1.0 client-proxy",
		"X-Custom":           "kept",
	}, "hello body")
	e := r.echo
	if e == nil {
		t.Fatalf("status %d body %q", r.status, r.body)
	}
	for _, tt := range []struct{ name, want string }{
		{"X-Real-IP", "127.0.0.1"},
		{"X-Forwarded-For", "10.0.0.1, 127.0.0.1"},
		{"X-Forwarded-Proto", "http"},
		{"X-Forwarded-Host", "client.example.com"},
		{"X-Forwarded-Port", proxyPort},
		{"X-Forwarded-Path", "/strip/a"},
		{"X-Forwarded-Prefix", "/strip"},
		{"Via", "1.0 client-proxy, 1.1 luagate/" + Version},
		{"X-Custom", "kept"},
		{"X-Kong-Request-Id", r.header.Get("X-Kong-Request-Id")},
	} {
		if got := e.header(tt.name); got != tt.want {
			t.Errorf("upstream %s = %q, want %q", tt.name, got, tt.want)
		}
	}
	if e.Host != net.JoinHostPort(host, strconv.Itoa(port)) {
		t.Errorf("upstream Host = %q, want the service host:port", e.Host)
	}
	if e.Method != "POST" || e.Body != "hello body" || e.URI != "/a?q=1" {
		t.Errorf("upstream saw %s %s body %q", e.Method, e.URI, e.Body)
	}

	t.Run("X-Forwarded-Prefix removed without a stripped path", func(t *testing.T) {
		r := tg.do(t, "GET", "/plain", map[string]string{"X-Forwarded-Prefix": "/evil"}, "")
		if r.echo == nil || r.echo.has("X-Forwarded-Prefix") {
			t.Errorf("X-Forwarded-Prefix sent: %v", r.echo)
		}
	})
	t.Run("preserve_host sends the client Host with its port", func(t *testing.T) {
		r := tg.do(t, "GET", "/preserve", map[string]string{"Host": "preserved.com:123"}, "")
		if r.echo == nil || r.echo.Host != "preserved.com:123" {
			t.Errorf("Host = %v", r.echo)
		}
	})
	t.Run("response headers", func(t *testing.T) {
		r := tg.do(t, "GET", "/plain", nil, "")
		if got := r.header.Get("Via"); got != "1.1 luagate/"+Version {
			t.Errorf("Via = %q", got)
		}
		if got := r.header.Get("Server"); got != "luagate/"+Version {
			t.Errorf("Server = %q", got)
		}
		for _, h := range []string{"X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency"} {
			if _, err := strconv.Atoi(r.header.Get(h)); err != nil {
				t.Errorf("%s = %q, want an integer", h, r.header.Get(h))
			}
		}
		if r.header.Get("X-Kong-Response-Latency") != "" {
			t.Errorf("X-Kong-Response-Latency on a proxied answer")
		}
		if len(r.header.Get("X-Kong-Request-Id")) != 32 {
			t.Errorf("X-Kong-Request-Id = %q", r.header.Get("X-Kong-Request-Id"))
		}
	})
	t.Run("hop-by-hop response headers removed, upstream Server and Via kept", func(t *testing.T) {
		r := tg.do(t, "GET", "/plain/__hop", nil, "")
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		for _, h := range []string{"X-Hop-Private", "Keep-Alive", "Proxy-Connection"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("%s forwarded: %q", h, v)
			}
		}
		if got := r.header.Values("Set-Cookie"); len(got) != 3 {
			t.Errorf("Set-Cookie = %q, want all three lines", got)
		}
		if got := r.header.Values("X-Multi"); len(got) != 2 {
			t.Errorf("X-Multi = %q, want both lines", got)
		}
		if got := r.header.Values("Date"); len(got) != 1 {
			t.Errorf("Date = %q, want one", got)
		}
		if r.header.Get("X-End-To-End") != "kept" {
			t.Errorf("X-End-To-End lost")
		}
		if got := r.header.Get("Server"); got != "echo-origin" {
			t.Errorf("Server = %q, want the upstream's", got)
		}
		if got := r.header.Get("Via"); got != "1.1 origin, 1.1 luagate/"+Version {
			t.Errorf("Via = %q", got)
		}
	})
	t.Run("hop-by-hop request headers removed", func(t *testing.T) {
		r := tg.do(t, "GET", "/plain", map[string]string{
			"Connection": "X-Private, keep-alive", "X-Private": "secret", "Keep-Alive": "300", "TE": "trailers",
			"Proxy-Connection": "keep-alive", "Upgrade": "h2c",
		}, "")
		if r.echo == nil {
			t.Fatalf("status %d", r.status)
		}
		for _, h := range []string{"X-Private", "Keep-Alive", "Te", "Proxy-Connection", "Upgrade"} {
			if r.echo.has(h) {
				t.Errorf("%s forwarded: %q", h, r.echo.header(h))
			}
		}
	})
	t.Run("HTTP/1.0 client", func(t *testing.T) {
		out := tg.raw(t, "GET /plain HTTP/1.0\r\nHost: old.test\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 200") && !strings.HasPrefix(out, "HTTP/1.0 200") {
			t.Fatalf("got %q", firstLine(out))
		}
		if !strings.Contains(out, `"via":["1.0 luagate/`+Version+`"]`) {
			t.Errorf("upstream Via for HTTP/1.0 not 1.0: %s", out)
		}
	})
}

func TestTrustedIPs(t *testing.T) {
	host, port, _ := startEcho(t)
	s := testSettings()
	s.TrustedIPs = []string{"127.0.0.0/8"}
	s.RealIPHeader = "X-Forwarded-For"
	tg := startGateway(t, headersConfig(host, port), s, nil)
	r := tg.do(t, "GET", "/plain", map[string]string{
		"X-Forwarded-For":    "203.0.113.7",
		"X-Forwarded-Proto":  "https",
		"X-Forwarded-Host":   "public.example",
		"X-Forwarded-Port":   "443",
		"X-Forwarded-Path":   "/public/plain",
		"X-Forwarded-Prefix": "/public",
	}, "")
	e := r.echo
	if e == nil {
		t.Fatalf("status %d", r.status)
	}
	for _, tt := range []struct{ name, want string }{
		{"X-Real-IP", "203.0.113.7"},
		{"X-Forwarded-For", "203.0.113.7, 203.0.113.7"},
		{"X-Forwarded-Proto", "https"},
		{"X-Forwarded-Host", "public.example"},
		{"X-Forwarded-Port", "443"},
		{"X-Forwarded-Path", "/public/plain"},
		{"X-Forwarded-Prefix", "/public"},
	} {
		if got := e.header(tt.name); got != tt.want {
			t.Errorf("upstream %s = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestUpstreamFailures(t *testing.T) {
	host, port, hits := startEcho(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()

	b := newCfg()
	deadSvc := b.service("dead", "127.0.0.1", deadPort, "")
	deadSvc.Retries = 2
	b.route("dead", deadSvc, func(r *declarative.Route) { r.Paths = []string{"/dead"} })
	slow := b.service("slow", host, port, "")
	slow.ReadTimeout = 200
	slow.Retries = 0
	b.route("slow", slow, func(r *declarative.Route) { r.Paths = []string{"/slow"}; r.StripPath = false })
	dns := b.service("dns", "no-such-host.invalid", 80, "")
	dns.Retries = 0
	b.route("dns", dns, func(r *declarative.Route) { r.Paths = []string{"/dns"} })
	up5 := b.service("up5", host, port, "")
	b.route("up5", up5, func(r *declarative.Route) { r.Paths = []string{"/up5"}; r.StripPath = false })
	// an upstream entity: a dead target and a live one; retries reach the live one
	ups := &declarative.Upstream{ID: b.id(), Name: "pool", Algorithm: "round-robin", Slots: 10000}
	b.cfg.Upstreams = append(b.cfg.Upstreams, ups)
	b.cfg.Targets = append(b.cfg.Targets,
		&declarative.Target{ID: b.id(), Target: fmt.Sprintf("127.0.0.1:%d", deadPort), Weight: 100, Upstream: ups},
		&declarative.Target{ID: b.id(), Target: fmt.Sprintf("%s:%d", host, port), Weight: 100, Upstream: ups},
	)
	poolSvc := b.service("poolsvc", "pool", 80, "")
	b.route("pool", poolSvc, func(r *declarative.Route) { r.Paths = []string{"/pool"} })
	tg := startGateway(t, b.cfg, testSettings(), nil)

	t.Run("connection refused is 502, text/plain by default", func(t *testing.T) {
		r := tg.do(t, "GET", "/dead", nil, "")
		want := "An invalid response was received from the upstream server\nrequest_id: " + r.header.Get("X-Kong-Request-Id") + "\n"
		if r.status != 502 || r.body != want {
			t.Errorf("got %d %q, want 502 %q", r.status, r.body, want)
		}
	})
	t.Run("502 follows Accept", func(t *testing.T) {
		r := tg.do(t, "GET", "/dead", map[string]string{"Accept": "application/json"}, "")
		if r.status != 502 || !strings.HasPrefix(r.body, "{\n  \"message\":\"An invalid response was received from the upstream server\"") {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("502 follows Content-Type without Accept", func(t *testing.T) {
		r := tg.do(t, "POST", "/dead", map[string]string{"Content-Type": "application/json"}, "{}")
		if r.status != 502 || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("got %d %q", r.status, r.header.Get("Content-Type"))
		}
	})
	t.Run("read timeout is 504", func(t *testing.T) {
		start := time.Now()
		r := tg.do(t, "GET", "/slow/__sleep/2000", nil, "")
		if r.status != 504 || !strings.HasPrefix(r.body, "The upstream server is timing out\n") {
			t.Errorf("got %d %q", r.status, r.body)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("took %v, the read timeout is 200ms", d)
		}
	})
	t.Run("DNS failure is 503 name resolution failed (JSON, Kong error)", func(t *testing.T) {
		r := tg.do(t, "GET", "/dns", nil, "")
		if r.status != 503 || !strings.Contains(r.body, `"message":"name resolution failed"`) {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("upstream 5xx passes through", func(t *testing.T) {
		r := tg.do(t, "GET", "/up5/__status/503", nil, "")
		if r.status != 503 || r.echo == nil {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("retries move to the next target", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			before := hits.Load()
			r := tg.do(t, "GET", "/pool/x", nil, "")
			if r.status != 200 || hits.Load() != before+1 {
				t.Fatalf("request %d: status %d, hits %d->%d", i, r.status, before, hits.Load())
			}
		}
	})
}

func TestStreamingBodies(t *testing.T) {
	host, port, _ := startEcho(t)
	cfg := headersConfig(host, port)
	drip := &declarative.Service{ID: "00000000-0000-4000-8000-999999999999", Name: "drip", Protocol: "http", Host: host, Port: port,
		Retries: 5, ConnectTimeout: 1000, WriteTimeout: 1000, ReadTimeout: 300, Enabled: true}
	cfg.Services = append(cfg.Services, drip)
	cfg.Routes = append(cfg.Routes, &declarative.Route{ID: "00000000-0000-4000-8000-999999999998", Name: "drip",
		Protocols: []string{"http"}, Paths: []string{"/drip"}, StripPath: false, Service: drip, HTTPSRedirectStatusCode: 426})
	tg := startGateway(t, cfg, testSettings(), nil)

	t.Run("read_timeout is between reads, not for the whole body", func(t *testing.T) {
		// 8 chunks 100ms apart: 800ms in total, each gap well under 300ms
		r := tg.do(t, "GET", "/drip/__drip/8/100", nil, "")
		if r.status != 200 || len(r.body) != 800 {
			t.Errorf("got %d, %d bytes", r.status, len(r.body))
		}
	})
	t.Run("HEAD keeps the upstream Content-Length and sends no body", func(t *testing.T) {
		out := tg.raw(t, "HEAD /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		head, body, _ := strings.Cut(out, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 200") || body != "" {
			t.Errorf("got head %q body %q", head, body)
		}
		if strings.Contains(head, "Content-Length: 0\r\n") || !strings.Contains(head, "Content-Length: ") {
			t.Errorf("Content-Length not the upstream's: %q", head)
		}
	})

	t.Run("large response streams intact", func(t *testing.T) {
		const n = 8 << 20
		r := tg.do(t, "GET", "/plain/__big/"+strconv.Itoa(n), nil, "")
		if r.status != 200 || len(r.body) != n {
			t.Fatalf("status %d, %d bytes, want %d", r.status, len(r.body), n)
		}
		if r.body[n-16:] != "0123456789abcdef" {
			t.Errorf("tail = %q", r.body[n-16:])
		}
	})
	t.Run("large request body streams intact", func(t *testing.T) {
		body := strings.Repeat("x", 3<<20) + "END"
		r := tg.do(t, "POST", "/plain", nil, body)
		if r.echo == nil || len(r.echo.Body) != len(body) || !strings.HasSuffix(r.echo.Body, "END") {
			t.Fatalf("status %d, upstream got %d bytes", r.status, len(r.echo.Body))
		}
	})
	t.Run("chunked request body", func(t *testing.T) {
		c, err := net.Dial("tcp", tg.proxy)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "POST /plain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
		for i := 0; i < 50; i++ {
			chunk := strings.Repeat(string(rune('a'+i%26)), 1000)
			fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		fmt.Fprintf(c, "0\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e echoed
		if err := json.NewDecoder(res.Body).Decode(&e); err != nil || res.StatusCode != 200 {
			t.Fatalf("status %d, decode: %v", res.StatusCode, err)
		}
		if len(e.Body) != 50000 || e.Body[49000:49001] != "x" {
			t.Errorf("upstream got %d bytes", len(e.Body))
		}
	})
	t.Run("keep-alive reuse after streamed answers", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			r := tg.do(t, "GET", "/plain/__big/100000", nil, "")
			if r.status != 200 || len(r.body) != 100000 {
				t.Fatalf("request %d: %d, %d bytes", i, r.status, len(r.body))
			}
		}
	})
}

func TestDebugHeader(t *testing.T) {
	host, port, _ := startEcho(t)
	s := testSettings()
	s.AllowDebugHeader = true
	cfg := headersConfig(host, port)
	tg := startGateway(t, cfg, s, nil)
	r := tg.do(t, "GET", "/plain", map[string]string{"Kong-Debug": "1"}, "")
	if r.header.Get("Kong-Route-Name") != "plain" || r.header.Get("Kong-Service-Name") != "echo" ||
		r.header.Get("Kong-Route-Id") != cfg.Routes[0].ID || r.header.Get("Kong-Service-Id") != cfg.Services[0].ID {
		t.Errorf("debug headers: %v", r.header)
	}
	if r := tg.do(t, "GET", "/plain", nil, ""); r.header.Get("Kong-Route-Id") != "" {
		t.Errorf("debug headers without Kong-Debug")
	}
}

// curl sends "Expect: 100-continue" with bodies over 1 KiB: the proxy
// answers the interim response itself and does not forward Expect.
func TestExpectContinue(t *testing.T) {
	host, port, _ := startEcho(t)
	tg := startGateway(t, headersConfig(host, port), testSettings(), nil)
	c, err := net.Dial("tcp", tg.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	body := strings.Repeat("e", 5000)
	fmt.Fprintf(c, "POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", len(body))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("interim response: %q %v", line, err)
	}
	br.ReadString('\n') // blank line after 100 Continue
	io.WriteString(c, body)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e echoed
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d: %v", res.StatusCode, err)
	}
	if len(e.Body) != len(body) || e.has("Expect") {
		t.Errorf("upstream got %d bytes, Expect forwarded: %v", len(e.Body), e.has("Expect"))
	}
}

// nginx answers oversized request headers with 494, which Kong's error
// handler sends as 400 "Request header or cookie too large".
func TestOversizedHeaders(t *testing.T) {
	host, port, _ := startEcho(t)
	tg := startGateway(t, headersConfig(host, port), testSettings(), nil)
	out := tg.raw(t, "GET /plain HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 40<<10)+"\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 400") || !strings.Contains(out, "Request header or cookie too large\nrequest_id: ") {
		t.Errorf("got %.200q", out)
	}
}

// startFixedUpstream answers every request with the given status line, a
// repeated header and a two-byte body; an HTTP/1.0 one closes the
// connection after its answer, an HTTP/1.1 one keeps it.
func startFixedUpstream(t *testing.T, statusLine string) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resp := statusLine + "\r\nContent-Type: text/plain\r\nX-A: 1\r\nX-B: b\r\nX-A: 2\r\nContent-Length: 2\r\n\r\nok"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if line == "\r\n" {
							break
						}
					}
					if _, err := io.WriteString(c, resp); err != nil || strings.HasPrefix(statusLine, "HTTP/1.0") {
						return
					}
				}
			}()
		}
	}()
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// What belongs to the upstream's connection (HTTP/1.0, its reason phrase,
// its closing) does not leak into the client's response; the answer's
// headers keep their order.
func TestUpstreamConnectionNotForwarded(t *testing.T) {
	for _, statusLine := range []string{"HTTP/1.1 200 Fine By Me", "HTTP/1.0 200 Fine By Me"} {
		t.Run(statusLine, func(t *testing.T) {
			host, port := startFixedUpstream(t, statusLine)
			s := testSettings()
			yml := "_format_version: \"3.0\"\nservices:\n- name: origin\n  url: http://" + host + ":" + strconv.Itoa(port) +
				"\n  routes:\n  - name: r\n    paths: [/]\n"
			tg := startGateway(t, loadYAML(t, yml, s), s, nil)
			c, err := net.Dial("tcp", tg.proxy)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for i := range 2 { // the second request proves the client connection stayed open
				if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.Proto != "HTTP/1.1" || res.Status != "200 OK" || string(body) != "ok" {
					t.Errorf("request %d: %s %s %q, want HTTP/1.1 200 OK \"ok\"", i, res.Proto, res.Status, body)
				}
				if got := strings.Join(res.Header.Values("X-A"), ","); got != "1,2" || res.Header.Get("X-B") != "b" {
					t.Errorf("request %d: X-A %q X-B %q", i, got, res.Header.Get("X-B"))
				}
				if res.Close || res.Header.Get("Connection") != "" {
					t.Errorf("request %d: the client connection is closed (Connection %q)", i, res.Header.Get("Connection"))
				}
			}
		})
	}
}

// The names the proxy writes are spelt as net/http canonicalises them (and
// fasthttp normalises them): the HTTP/2 bridge stores net/http's spelling
// with normalising off, where another spelling would miss the client's copy.
func TestHeaderNamesCanonical(t *testing.T) {
	for _, name := range []string{hdrXRealIP, hdrXForwardedFor, hdrXForwardedProto, hdrXForwardedHost, hdrXForwardedPort,
		hdrXForwardedPath, hdrXForwardedPrefix, hdrVia, hdrServer, hdrRequestID, hdrUpstreamLatency, hdrProxyLatency,
		hdrResponseLatency, hdrUpstreamStatus, hdrConnection, hdrUpgrade, hdrLocation, hdrAccept, hdrContentType} {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q)", name, c)
		}
	}
}
