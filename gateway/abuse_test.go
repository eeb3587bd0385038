package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAbuseRequestParsing sends exact bytes and checks nginx's answer, that
// the connection is closed after a rejected request and that the upstream
// never receives a request smuggled behind it.
func TestAbuseRequestParsing(t *testing.T) {
	u := startRecorder(t)
	tg := edgeGateway(t, u, testSettings())
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tt := range []struct {
		name   string
		req    string
		status int
		body   string // start of the body
	}{
		// request lines
		{"no target or version", "GET\r\n\r\n", 400, "Bad request\n"},
		{"extra token", "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "Bad request\n"},
		{"binary garbage", "\x00\x01\x02\r\n\r\n", 400, "Bad request\n"},
		{"unknown major version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP Version Not Supported\n"},
		{"nonsense version", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400, "Bad request\n"},
		{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400, "Bad request\n"},
		{"two Host headers", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "Bad request\n"},
		{"NUL in path", "GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad request\n"},
		{"NUL in header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, "Bad request\n"},
		{"NUL in header name", "GET / HTTP/1.1\r\nHost: x\r\nX\x00A: b\r\n\r\n", 400, "Bad request\n"},
		{"invalid UTF-8 in path", "GET /a\xff\xfeb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "{\n  \"message\":\"no Route matched with those values\""},
		{"obs-fold continuation line", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", 400, "Bad request\n"},
		{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n", 400, "Bad request\n"},
		// request smuggling: each is followed by a second request that
		// must never reach the upstream
		{"CL then TE", "POST /cl-te HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"TE then CL", "POST /te-cl HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"two Content-Lengths", "POST /cl-cl HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd" + smuggled, 400, "Bad request\n"},
		{"Content-Length list", "POST /cl-list HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd" + smuggled, 400, "Bad request\n"},
		{"negative Content-Length", "POST /cl-neg HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"TE not chunked", "POST /te-gzip HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"TE chunked not last", "POST /te-list HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"TE lookalike", "POST /te-x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"TE with space before colon", "POST /te-sp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"chunk size garbage", "POST /chunk-zzz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n" + smuggled, 400, "Bad request\n"},
		{"chunk longer than its size", "POST /chunk-long HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n" + smuggled, 400, "Bad request\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, tg.proxy, 0, tt.req)
			if r.status != tt.status || !strings.HasPrefix(r.body, tt.body) {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
			if !r.closed {
				t.Errorf("connection left open after a rejected request")
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let any stray upstream request land
	for _, uri := range u.seen() {
		t.Errorf("the upstream received %s whole", uri)
	}

	// A well-formed request pipelined behind a good one is served in order
	// (the positive control for the cases above).
	c, err := net.Dial("tcp", tg.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	all, _ := io.ReadAll(c)
	if n := strings.Count(string(all), "HTTP/1.1 200 OK"); n != 2 {
		t.Errorf("pipelined pair: %d answers:\n%s", n, all)
	}
	if got := strings.Join(u.seen(), " "); got != "/one /two" {
		t.Errorf("upstream saw %q, want \"/one /two\"", got)
	}
}

// liveGoroutines counts goroutines, leaving out fasthttp's idle pool
// workers (kept up to MaxIdleWorkerDuration for reuse, serving nothing),
// its periodic cleaners, which come and go with traffic, and the test's
// upstream servers and clients.
func liveGoroutines() (int, string) {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var kept []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "(*workerPool).workerFunc") && !strings.Contains(g, "serveConn"),
			strings.Contains(g, "connsCleaner"), strings.Contains(g, "tcpAddrsClean"),
			strings.Contains(g, "liveGoroutines"),
			// the test's own upstream servers and clients: idle keep-alive
			// connections of the gateway's upstream pool and of test clients
			strings.Contains(g, "(*connReader).Read"), strings.Contains(g, "(*persistConn)"):
			continue
		}
		n++
		kept = append(kept, g)
	}
	return n, strings.Join(kept, "\n\n")
}

// goroutinesSettle waits (bounded) until the live goroutine count is back
// near base and reports the count it ended at, with the stacks.
func goroutinesSettle(base int) (int, string) {
	n, stacks := liveGoroutines()
	for deadline := time.Now().Add(5 * time.Second); n > base+2 && time.Now().Before(deadline); n, stacks = liveGoroutines() {
		time.Sleep(50 * time.Millisecond)
	}
	return n, stacks
}

// TestAbuseVanishingClients: clients that leave mid-request or mid-response
// (plain and TLS) leave no goroutine behind and do not disturb the others.
func TestAbuseVanishingClients(t *testing.T) {
	host, port, _ := startEcho(t)
	u := startRecorder(t)
	c := genCert(t, "a.test", false)
	s := testSettings()
	s.ClientHeaderTimeout = time.Second
	s.ClientBodyTimeout = time.Second
	s.ProxyListen = []string{"127.0.0.1:0", "127.0.0.1:0 ssl http2"}
	yml := fmt.Sprintf("_format_version: \"3.0\"\nservices:\n- name: echo\n  url: http://%s:%d\n  routes:\n  - name: e\n    paths: [/e]\n- name: rec\n  url: http://%s:%d\n  routes:\n  - name: r\n    paths: [/r]\ncertificates:\n%s",
		host, port, u.host, u.port, certYAML(c, "a.test"))
	g, err := New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(loadKongYML(t, g, yml)); err != nil {
		t.Fatal(err)
	}
	tg := startGatewayWith(t, g)
	plain, secure := g.Addrs("proxy")[0], g.Addrs("proxy")[1]

	// warm up both listeners (pools, h2 server, TLS state), then measure
	for _, cl := range []string{"http://" + plain, "https://" + secure} {
		res, err := httpsClient("a.test", true).Get(cl + "/e/warm")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	tg.client.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	base, _ := liveGoroutines()

	dial := func(secureConn bool) net.Conn {
		if secureConn {
			c, err := tls.Dial("tcp", secure, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		c, err := net.Dial("tcp", plain)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	scenarios := []struct {
		name string
		run  func(c net.Conn)
	}{
		{"leaves during the headers", func(c net.Conn) { io.WriteString(c, "GET /e HTTP/1.1\r\nHo") }},
		{"leaves during a streamed body", func(c net.Conn) {
			io.WriteString(c, "POST /r/body HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("b", 20000))
			time.Sleep(20 * time.Millisecond)
		}},
		{"leaves during a chunked body", func(c net.Conn) {
			io.WriteString(c, "POST /r/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n"+strings.Repeat("b", 9000))
			time.Sleep(20 * time.Millisecond)
		}},
		{"leaves during a streamed response", func(c net.Conn) {
			io.WriteString(c, "GET /e/__drip/50/20 HTTP/1.1\r\nHost: x\r\n\r\n")
			buf := make([]byte, 300)
			io.ReadAtLeast(c, buf, 300)
		}},
		{"leaves during a big response", func(c net.Conn) {
			io.WriteString(c, "GET /e/__big/2000000 HTTP/1.1\r\nHost: x\r\n\r\n")
			buf := make([]byte, 1000)
			io.ReadAtLeast(c, buf, 1000)
		}},
		{"leaves before the answer", func(c net.Conn) {
			io.WriteString(c, "GET /e/__sleep/200 HTTP/1.1\r\nHost: x\r\n\r\n")
		}},
	}
	const rounds = 3
	var wg sync.WaitGroup
	for _, sc := range scenarios {
		for _, sec := range []bool{false, true} {
			for range rounds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := dial(sec)
					c.SetDeadline(time.Now().Add(5 * time.Second))
					sc.run(c)
					c.Close()
				}()
			}
		}
	}
	wg.Wait()

	// The gateway still serves, on both listeners.
	for _, cl := range []string{"http://" + plain, "https://" + secure} {
		hc := httpsClient("a.test", true)
		res, err := hc.Get(cl + "/e/after")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s after the abuse: %d", cl, res.StatusCode)
		}
		hc.CloseIdleConnections()
	}
	if n, stacks := goroutinesSettle(base); n > base+2 {
		t.Errorf("goroutines: %d before, %d after the vanishing clients\n%s", base, n, stacks)
	}
	if st := g.Runtime(); st == nil {
		t.Fatal("no runtime")
	}
}

// TestAbuseTLSHandshakes: junk instead of a ClientHello, a handshake that
// stalls and a flood of unfinished handshakes are all dropped; the listener
// keeps serving.
func TestAbuseTLSHandshakes(t *testing.T) {
	c := genCert(t, "a.test", false)
	s := testSettings()
	s.ClientHeaderTimeout = 300 * time.Millisecond
	tg := tlsGateway(t, s, "ssl http2", proxyYAML(t, c, "a.test"))
	real := func() {
		t.Helper()
		hc := httpsClient("a.test", true)
		defer hc.CloseIdleConnections()
		res, err := hc.Get("https://" + tg.proxy + "/both")
		if err != nil {
			t.Fatalf("a real client: %v", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.ProtoMajor != 2 {
			t.Errorf("a real client: %d %s", res.StatusCode, res.Proto)
		}
	}
	real() // warm up: servers, pools
	time.Sleep(100 * time.Millisecond)
	base, _ := liveGoroutines()
	for _, junk := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x16\x03\x01\x00\x05hello", ""} {
		conn, err := net.Dial("tcp", tg.proxy)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, junk)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		start := time.Now()
		b, _ := io.ReadAll(conn)
		conn.Close()
		if time.Since(start) > 2*time.Second {
			t.Errorf("junk %q: connection kept %v", junk, time.Since(start))
		}
		if strings.Contains(string(b), "200 OK") {
			t.Errorf("junk %q was answered: %q", junk, b)
		}
	}
	var held []net.Conn
	for range 50 {
		conn, err := net.Dial("tcp", tg.proxy)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	real()                             // served during the flood
	time.Sleep(500 * time.Millisecond) // past the handshake timeout
	for _, conn := range held {
		conn.Close()
	}
	if n, stacks := goroutinesSettle(base); n > base+2 {
		t.Errorf("goroutines: %d before, %d after unfinished handshakes\n%s", base, n, stacks)
	}
}
