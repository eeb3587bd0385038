package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"luagate/declarative"
)

// startUpgradeEcho answers an upgrade request with 101 and then echoes every
// byte; other requests get 400.
func startUpgradeEcho(t *testing.T) (string, int, chan string) {
	seen := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Method + " " + r.RequestURI + " conn=" + r.Header.Get("Connection") + " upgrade=" + r.Header.Get("Upgrade") + " key=" + r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not an upgrade", 400)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port, seen
}

func TestWebSocketUpgrade(t *testing.T) {
	host, port, seen := startUpgradeEcho(t)
	b := newCfg()
	svc := b.service("ws", host, port, "/base")
	b.route("ws", svc, func(r *declarative.Route) { r.Paths = []string{"/ws"} })
	tg := startGateway(t, b.cfg, testSettings(), nil)

	c, err := net.Dial("tcp", tg.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws/chat?x=1 HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(res.Header.Get("Connection"), "upgrade") {
		t.Fatalf("got %d %v", res.StatusCode, res.Header)
	}
	if res.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Sec-WebSocket-Accept = %q", res.Header.Get("Sec-WebSocket-Accept"))
	}
	if got := <-seen; got != "GET /base/chat?x=1 conn=Upgrade upgrade=websocket key=dGhlIHNhbXBsZSBub25jZQ==" {
		t.Errorf("upstream saw %q", got)
	}
	for i := 0; i < 3; i++ {
		msg := "frame-" + strconv.Itoa(i)
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %d: %q %v", i, buf, err)
		}
	}

	// A non-upgrade answer to an upgrade request is proxied as usual.
	r := tg.do(t, "GET", "/ws/plain", map[string]string{"Connection": "Upgrade", "Upgrade": "h2c"}, "")
	if r.status != 400 || !strings.Contains(r.body, "not an upgrade") {
		t.Errorf("non-101 answer: %d %q", r.status, r.body)
	}
}
