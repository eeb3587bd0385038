package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"luagate/declarative"
)

// recUpstream is an upstream that records the URI of every request whose
// body it read whole.
type recUpstream struct {
	mu   sync.Mutex
	uris []string
	host string
	port int
}

func (u *recUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.uris...)
}

func startRecorder(t testing.TB) *recUpstream {
	t.Helper()
	u := &recUpstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		if err == nil { // a request counts once its body arrived whole
			u.uris = append(u.uris, r.RequestURI)
		}
		u.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/big/") { // a body of that many bytes, written as read
			size, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/big/"))
			w.Header().Set("Content-Length", strconv.Itoa(size))
			chunk := make([]byte, 64<<10)
			for size > 0 {
				n := min(size, len(chunk))
				if _, err := w.Write(chunk[:n]); err != nil {
					return
				}
				size -= n
			}
			return
		}
		if strings.HasPrefix(r.URL.Path, "/bighdr/") {
			size, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bighdr/"))
			w.Header().Set("X-Big", strings.Repeat("h", size))
		}
		fmt.Fprintf(w, "ok %d %v", n, err)
	}))
	t.Cleanup(srv.Close)
	h, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	u.host = h
	u.port, _ = strconv.Atoi(p)
	return u
}

// edgeGateway proxies every path to u with settings s.
func edgeGateway(t testing.TB, u *recUpstream, s Settings) *testGateway {
	t.Helper()
	b := newCfg()
	svc := b.service("s", u.host, u.port, "")
	b.route("r", svc, func(r *declarative.Route) { r.Paths = []string{"/"} })
	return startGateway(t, b.cfg, s, nil)
}

// rawResult is what a raw exchange gave.
type rawResult struct {
	status  int
	head    string
	body    string
	closed  bool // the gateway closed the connection after the answer
	elapsed time.Duration
}

// exchange writes parts (waiting gap between them), then reads one response
// and checks whether the connection is closed afterwards.
func exchange(t testing.TB, addr string, gap time.Duration, parts ...string) rawResult {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for i, p := range parts {
		if i > 0 && gap > 0 {
			time.Sleep(gap)
		}
		if _, err := io.WriteString(c, p); err != nil {
			break // the gateway may have answered and closed already
		}
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return rawResult{status: 0, closed: true, elapsed: time.Since(start)}
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	r := rawResult{status: res.StatusCode, body: string(b), elapsed: time.Since(start)}
	var hb strings.Builder
	res.Header.Write(&hb)
	r.head = hb.String()
	if res.StatusCode < 400 && !res.Close {
		return r // kept alive: not waited for
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	r.closed = err == io.EOF || (err != nil && !isTimeoutErr(err))
	return r
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestLimitsHeaderBuffers(t *testing.T) {
	u := startRecorder(t)
	s := testSettings()
	s.LargeClientHeaderBuffers = "4 1k"
	tg := edgeGateway(t, u, s)
	hdr := func(n int, line string) string { return strings.Repeat(line, n) }
	for _, tt := range []struct {
		name    string
		req     string
		status  int
		body    string // start of the body
		reached bool   // the upstream got it
	}{
		{"request line within one buffer", "GET /" + strings.Repeat("a", 900) + " HTTP/1.1\r\nHost: x\r\n\r\n", 200, "ok", true},
		{"request line over one buffer", "GET /" + strings.Repeat("a", 1100) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI too long\n", false},
		{"request line over all buffers", "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI too long\n", false},
		{"header line over one buffer", "GET / HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 1100) + "\r\n\r\n", 400, "Request header or cookie too large\n", false},
		{"header line over all buffers", "GET / HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 5000) + "\r\n\r\n", 400, "Request header or cookie too large\n", false},
		{"headers over all buffers", "GET / HTTP/1.1\r\nHost: x\r\n" + hdr(6, "X-A: "+strings.Repeat("v", 900)+"\r\n") + "\r\n", 400, "Request header or cookie too large\n", false},
		{"absurd header count", "GET / HTTP/1.1\r\nHost: x\r\n" + hdr(5000, "X: y\r\n") + "\r\n", 400, "Request header or cookie too large\n", false},
		{"many small headers fit", "GET / HTTP/1.1\r\nHost: x\r\n" + hdr(300, "X: y\r\n") + "\r\n", 200, "ok", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(u.seen())
			r := exchange(t, tg.proxy, 0, tt.req)
			if r.status != tt.status || !strings.HasPrefix(r.body, tt.body) {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
			if reached := len(u.seen()) > before; reached != tt.reached {
				t.Errorf("upstream reached: %v, want %v", reached, tt.reached)
			}
			if tt.status >= 400 {
				if !r.closed {
					t.Errorf("connection left open after %d", tt.status)
				}
				if !strings.Contains(r.body, "request_id: ") || !strings.Contains(r.head, "text/plain; charset=utf-8") {
					t.Errorf("not Kong's error page: %s %q", r.head, r.body)
				}
			}
		})
	}
	// The format follows Accept, as Kong's error handler does.
	r := exchange(t, tg.proxy, 0, "GET /"+strings.Repeat("a", 1100)+" HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n")
	if r.status != 414 || !strings.HasPrefix(r.body, "{\n  \"message\":\"URI too long\",\n  \"request_id\":\"") {
		t.Errorf("414 with Accept json: %d %q", r.status, r.body)
	}
}

func TestLimitsBodySize(t *testing.T) {
	u := startRecorder(t)
	s := testSettings()
	s.ClientMaxBodySize = 1000
	tg := edgeGateway(t, u, s)
	chunked := func(n int) string {
		return fmt.Sprintf("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", n, strings.Repeat("b", n))
	}
	for _, tt := range []struct {
		name   string
		parts  []string
		status int
		body   string
	}{
		{"declared length within", []string{"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("b", 1000)}, 200, "ok 1000 <nil>"},
		// answered at once: the client is still holding its body back
		{"declared length over", []string{"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nb"}, 413, "Payload too large\n"},
		{"chunked within", []string{chunked(1000)}, 200, "ok 1000 <nil>"},
		{"chunked over", []string{chunked(5000)}, 413, "Payload too large\n"},
		{"chunked over in many chunks", []string{"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("100\r\n"+strings.Repeat("z", 256)+"\r\n", 40) + "0\r\n\r\n"}, 413, "Payload too large\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, tg.proxy, 0, tt.parts...)
			if r.status != tt.status || !strings.HasPrefix(r.body, tt.body) {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
			if tt.status == 413 && !r.closed {
				t.Error("connection left open after 413")
			}
			if r.elapsed > 3*time.Second {
				t.Errorf("answer took %v", r.elapsed)
			}
		})
	}
	// Bodies stream, so an over-limit chunked body may have started
	// upstream, but it is cut off there and never arrives whole.
	if got := strings.Join(u.seen(), " "); got != "/a /c" {
		t.Errorf("the upstream received whole: %s; want only the two requests within the limit", got)
	}
}

func TestLimitsTimeouts(t *testing.T) {
	u := startRecorder(t)
	s := testSettings()
	s.ClientHeaderTimeout = 300 * time.Millisecond
	s.ClientBodyTimeout = time.Second // well above the test's 150 ms gaps, for a loaded machine
	tg := edgeGateway(t, u, s)
	head := "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n"
	drip := func(n int, chunk string) []string {
		p := []string{head + strings.Repeat("f", 9000)}
		for range n {
			p = append(p, chunk)
		}
		return p
	}
	for _, tt := range []struct {
		name   string
		gap    time.Duration
		parts  []string
		status int
		max    time.Duration
	}{
		{"silent connection", 0, []string{""}, 408, 2 * time.Second},
		{"headers never finish", 0, []string{"GET / HTTP/1.1\r\nHost: x\r\n"}, 408, 2 * time.Second},
		{"slow-loris header drip", 100 * time.Millisecond, strings.Split("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n", ""), 408, 3 * time.Second},
		{"body stalls", 0, []string{head + strings.Repeat("f", 12000)}, 408, 3 * time.Second},
		// live body: each gap is below client_body_timeout, the total is
		// well above both timeouts
		{"slow but live body", 150 * time.Millisecond, drip(11, strings.Repeat("f", 1000)), 200, 5 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, tg.proxy, tt.gap, tt.parts...)
			if r.status != tt.status {
				t.Fatalf("got %d %q after %v, want %d", r.status, r.body, r.elapsed, tt.status)
			}
			if r.elapsed > tt.max {
				t.Errorf("took %v, want under %v", r.elapsed, tt.max)
			}
			if tt.status == 408 && (!r.closed || !strings.HasPrefix(r.body, "Request timeout\n")) {
				t.Errorf("408: closed=%v body %q", r.closed, r.body)
			}
			if tt.status == 200 && r.body != "ok 20000 <nil>" {
				t.Errorf("upstream got %q", r.body)
			}
		})
	}
}

// A bare LF ends lines of the first request head as nginx accepts it; the
// body and CRLF requests pass byte for byte.
func TestBareLFHead(t *testing.T) {
	u := startRecorder(t)
	s := testSettings()
	s.ClientHeaderTimeout = 3 * time.Second // a regression would wait for it
	tg := edgeGateway(t, u, s)
	for _, tt := range []struct {
		name  string
		parts []string
		body  string
	}{
		{"bare LF", []string{"GET /a HTTP/1.1\nHost: x\nConnection: close\n\n"}, "ok 0 <nil>"},
		{"mixed line ends", []string{"GET /b HTTP/1.1\r\nHost: x\nConnection: close\r\n\n"}, "ok 0 <nil>"},
		{"leading empty line", []string{"\nGET /c HTTP/1.1\nHost: x\nConnection: close\n\n"}, "ok 0 <nil>"},
		{"body with LFs untouched", []string{"POST /d HTTP/1.1\nHost: x\nContent-Length: 6\nConnection: close\n\na\n\nb\n\n"}, "ok 6 <nil>"},
		{"CRLF head, body with LFs", []string{"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\n\na\n"}, "ok 4 <nil>"},
		{"head split across reads", []string{"GET /f HTTP/1.1\nHo", "st: x\r", "\nConnection: close\n", "\n"}, "ok 0 <nil>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, tg.proxy, 30*time.Millisecond, tt.parts...)
			if r.status != 200 || r.body != tt.body {
				t.Errorf("got %d %q after %v, want 200 %q", r.status, r.body, r.elapsed, tt.body)
			}
		})
	}
	if got := strings.Join(u.seen(), " "); got != "/a /b /c /d /e /f" {
		t.Errorf("upstream saw %s", got)
	}
}

func TestHeadFix(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		buf      int // the reader's buffer; 0: as long as the input
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\n\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\n\n", 0},
		{"GET / HTTP/1.1\nHost: x\n\nbody\n\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\n\n", 0},
		{"GET / HTTP/1.1\nHost: x\n\nGET / HTTP/1.1\nHost: y\n\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\nHost: y\n\n", 0},
		{"\r\n\nGET / HTTP/1.1\nA: b\n\n", "\r\n\r\nGET / HTTP/1.1\r\nA: b\r\n\r\n", 0},
		{"GET / HTTP/1.1\nHost: x\n\nbody", "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", 4}, // converted bytes overflow the buffer
		{"GET / HTTP/1.1\r\nHost: x\r\n\nrest", "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest", 1},
	} {
		// read the input in pieces of every size up to 7 bytes
		for piece := 1; piece <= 7; piece++ {
			bufSize := tt.buf
			if bufSize == 0 {
				bufSize = piece
			}
			if out := runHeadFix([]byte(tt.in), []int{piece}, bufSize); string(out) != tt.want {
				t.Errorf("%q in pieces of %d: %q, want %q", tt.in, piece, out, tt.want)
			}
		}
	}
}

// runHeadFix passes in through a fresh headFix in reads of the given
// sizes (cycled) into a buffer of bufSize, as edgeConn.Read does.
func runHeadFix(in []byte, sizes []int, bufSize int) []byte {
	h := headFix{on: true}
	var out []byte
	for i := 0; len(in) > 0 || len(h.pending) > 0; i++ {
		p := make([]byte, bufSize)
		var n int
		if len(h.pending) > 0 {
			n = copy(p, h.pending)
			h.pending = h.pending[n:]
		} else {
			n = copy(p, in[:min(max(sizes[i%len(sizes)], 1), len(in))])
			in = in[n:]
			if h.on {
				n = h.fix(p, n)
			}
		}
		out = append(out, p[:n]...)
	}
	return out
}

// FuzzHeadFix: only CRs are ever added, never where a CR already precedes a
// LF, input without a bare LF passes unchanged, and how the bytes arrive
// (read sizes, buffer size) does not change the result.
func FuzzHeadFix(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\nHost: x\n\nbody\n\n"), uint8(3), uint8(16))
	f.Add([]byte("\r\n\nGET / HTTP/1.1\r\nA: b\n\r\nrest\n"), uint8(1), uint8(4))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\n\n"), uint8(7), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, piece, buf uint8) {
		whole := runHeadFix(in, []int{len(in) + 1}, len(in)+1)
		if got := runHeadFix(in, []int{int(piece), int(piece)/2 + 1}, int(buf)+1); !bytes.Equal(got, whole) {
			t.Fatalf("read in pieces: %q, whole: %q", got, whole)
		}
		if !bytes.Equal(bytes.ReplaceAll(whole, []byte("\r"), nil), bytes.ReplaceAll(in, []byte("\r"), nil)) {
			t.Fatalf("more than CRs changed: %q -> %q", in, whole)
		}
		if bytes.Contains(whole, []byte("\r\r\n")) && !bytes.Contains(in, []byte("\r\r\n")) {
			t.Fatalf("a CR added after a CR: %q -> %q", in, whole)
		}
		bare := false
		for i, b := range in {
			if b == '\n' && (i == 0 || in[i-1] != '\r') {
				bare = true
			}
		}
		if !bare && !bytes.Equal(whole, in) {
			t.Fatalf("no bare LF, yet changed: %q -> %q", in, whole)
		}
	})
}

// send_timeout: a client that stops reading its response loses the
// connection and the request ends; one that reads slowly but steadily gets
// the whole body however long it takes.
func TestLimitsSendTimeout(t *testing.T) {
	u := startRecorder(t)
	s := testSettings()
	s.SendTimeout = time.Second
	tg := edgeGateway(t, u, s)
	inflight := func() int64 { return tg.g.rt.inflight.Load() }

	t.Run("stalled reader", func(t *testing.T) {
		c, err := net.Dial("tcp", tg.proxy)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// far more than the socket buffers hold; never read
		if _, err := io.WriteString(c, "GET /big/1073741824 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for inflight() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if inflight() == 0 {
			t.Fatal("the request never started")
		}
		start := time.Now()
		for inflight() != 0 && time.Since(start) < 15*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		if n := inflight(); n != 0 {
			t.Fatalf("the request still runs %v after the client stopped reading (send_timeout 1s)", time.Since(start))
		}
		// the gateway closed the connection: what was buffered drains, then EOF
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("after the timeout: %v, want the connection closed", err)
		}
	})

	t.Run("slow but steady reader", func(t *testing.T) {
		c, err := net.Dial("tcp", tg.proxy)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		const size = 8 << 20
		if _, err := io.WriteString(c, "GET /big/"+strconv.Itoa(size)+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		start := time.Now()
		var got int
		buf := make([]byte, 128<<10)
		for {
			n, err := io.ReadFull(c, buf)
			got += n
			if err != nil {
				break
			}
			time.Sleep(40 * time.Millisecond) // 3 MiB/s: the transfer outlasts send_timeout
		}
		if elapsed := time.Since(start); elapsed < 1500*time.Millisecond {
			t.Logf("transfer took only %v; the test did not outlast send_timeout", elapsed)
		}
		if got < size {
			t.Errorf("received %d bytes, want the whole body of %d plus the head", got, size)
		}
	})
}

func TestLimitsMaxConnections(t *testing.T) {
	u := startRecorder(t)
	s := testSettings()
	s.MaxConnections = 2
	tg := edgeGateway(t, u, s)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", tg.proxy)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("held connection: %v", err)
		}
		held = append(held, c)
	}
	r := exchange(t, tg.proxy, 0, "GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
	if r.status == 200 || !r.closed {
		t.Fatalf("third connection over the limit served: %d closed=%v", r.status, r.closed)
	}
	held[0].Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		r = exchange(t, tg.proxy, 0, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
		if r.status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.status != 200 {
		t.Errorf("after a connection closed a new one is still refused: %d", r.status)
	}
}

func TestLimitsUpstreamHeaders(t *testing.T) {
	u := startRecorder(t)
	tg := edgeGateway(t, u, testSettings())
	for _, tt := range []struct {
		size, status int
	}{{1000, 200}, {14000, 200}, {40000, 502}} {
		r := exchange(t, tg.proxy, 0, fmt.Sprintf("GET /bighdr/%d HTTP/1.1\r\nHost: x\r\n\r\n", tt.size))
		if r.status != tt.status {
			t.Errorf("upstream header of %d bytes: %d, want %d (%q)", tt.size, r.status, tt.status, r.body)
		}
	}
}

func TestEdgeSettingsFromEnv(t *testing.T) {
	s, err := SettingsFromEnv(func(k string) string {
		return map[string]string{
			"KONG_PROXY_LISTEN":                           "0.0.0.0:8000, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
			"KONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT":       "5s",
			"KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT":         "7",
			"KONG_NGINX_HTTP_SEND_TIMEOUT":                "90s",
			"KONG_NGINX_HTTP_LARGE_CLIENT_HEADER_BUFFERS": "8 16k",
			"KONG_NGINX_EVENTS_WORKER_CONNECTIONS":        "1024",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.ClientHeaderTimeout != 5*time.Second || s.ClientBodyTimeout != 7*time.Second || s.SendTimeout != 90*time.Second || s.MaxConnections != 1024 {
		t.Errorf("timeouts/connections: %v %v %v %d", s.ClientHeaderTimeout, s.ClientBodyTimeout, s.SendTimeout, s.MaxConnections)
	}
	if n, size := s.headerBuffers(); n != 8 || size != 16<<10 {
		t.Errorf("header buffers %d x %d", n, size)
	}
	ls, err := ParseListen("proxy_listen", s.ProxyListen)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].SSL || ls[0].HTTP2 || !ls[1].SSL || !ls[1].HTTP2 || ls[1].Backlog != 16384 {
		t.Errorf("listen entries: %+v", ls)
	}
	d := DefaultSettings()
	if n, size := d.headerBuffers(); n != 4 || size != 8<<10 || d.ClientHeaderTimeout != 60*time.Second || d.ClientBodyTimeout != 60*time.Second || d.SendTimeout != 60*time.Second {
		t.Errorf("defaults: %d x %d, %v, %v", n, size, d.ClientHeaderTimeout, d.ClientBodyTimeout)
	}
	for env, want := range map[string]string{
		"KONG_NGINX_EVENTS_WORKER_CONNECTIONS":        `"many" is not "auto" or a positive integer`,
		"KONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT":       `KONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT: "many"`,
		"KONG_NGINX_HTTP_LARGE_CLIENT_HEADER_BUFFERS": `"many" is not "<number> <size>"`,
	} {
		if _, err := SettingsFromEnv(func(k string) string {
			if k == env {
				return "many"
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=many: %v, want %q", env, err, want)
		}
	}
}
