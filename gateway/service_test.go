package gateway

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"luagate/declarative"
	"luagate/lualib"
)

// TestServiceOverrides covers kong.service.set_target / set_upstream /
// set_timeouts, an exit in header_filter and client_max_body_size.
func TestServiceOverrides(t *testing.T) {
	host, port, _ := startEcho(t)
	host2, port2, hits2 := startEcho(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()

	b := newCfg()
	svc := b.service("echo", host, port, "")
	rTarget := b.route("target", svc, func(r *declarative.Route) { r.Paths = []string{"/target"}; r.StripPath = false })
	rUp := b.route("up", svc, func(r *declarative.Route) { r.Paths = []string{"/up"}; r.StripPath = false })
	rTO := b.route("timeouts", svc, func(r *declarative.Route) { r.Paths = []string{"/to"}; r.StripPath = false })
	rHF := b.route("hf-exit", svc, func(r *declarative.Route) { r.Paths = []string{"/hf"}; r.StripPath = false })
	deadSvc := b.service("dead", "127.0.0.1", deadPort, "")
	deadSvc.Retries = 0
	rNoRetry := b.route("noretry", deadSvc, func(r *declarative.Route) { r.Paths = []string{"/noretry"} })
	ups := &declarative.Upstream{ID: b.id(), Name: "second", Algorithm: "round-robin", Slots: 10000, HostHeader: "balanced.test"}
	b.cfg.Upstreams = append(b.cfg.Upstreams, ups)
	b.cfg.Targets = append(b.cfg.Targets, &declarative.Target{ID: b.id(), Target: fmt.Sprintf("%s:%d", host2, port2), Weight: 100, Upstream: ups})

	runners := map[*declarative.Plugin]runner{}
	on := func(r *declarative.Route, phases lualib.Phase, fn func(lualib.Phase, lualib.Exchange) error) {
		runners[plugin(b, "pre-function", func(p *declarative.Plugin) { p.Route = r })] = &fakeRunner{phases: phases, fn: fn}
	}
	on(rTarget, lualib.PhaseAccess, func(_ lualib.Phase, ex lualib.Exchange) error {
		ex.SetTarget(host2, port2)
		return nil
	})
	var upErr atomic.Value
	on(rUp, lualib.PhaseAccess, func(_ lualib.Phase, ex lualib.Exchange) error {
		if err := ex.SetUpstream("missing"); err == nil || !strings.Contains(err.Error(), "could not find an Upstream named 'missing'") {
			upErr.Store(fmt.Sprint("SetUpstream(missing) = ", err))
		}
		return ex.SetUpstream("second")
	})
	on(rTO, lualib.PhaseAccess, func(_ lualib.Phase, ex lualib.Exchange) error {
		ex.SetTimeouts(time.Second, time.Second, 100*time.Millisecond)
		return nil
	})
	on(rHF, lualib.PhaseHeaderFilter, func(_ lualib.Phase, ex lualib.Exchange) error {
		ex.Exit(418, []byte("teapot"), [][2]string{{"X-HF", "exit"}}, lualib.SourceExit)
		return nil
	})
	var tries atomic.Int32
	on(rNoRetry, lualib.PhaseAccess|lualib.PhaseLog, func(ph lualib.Phase, ex lualib.Exchange) error {
		if ph == lualib.PhaseAccess {
			ex.SetRetries(3)
			return nil
		}
		if s, ok := ex.Serialize()["tries"].([]any); ok {
			tries.Store(int32(len(s)))
		}
		return nil
	})

	s := testSettings()
	s.ClientMaxBodySize = 1024
	var closed atomic.Int32
	tg := startGateway(t, b.cfg, s, fakeFactory(runners, &closed))

	t.Run("set_target", func(t *testing.T) {
		before := hits2.Load()
		r := tg.do(t, "GET", "/target", nil, "")
		if r.echo == nil || hits2.Load() != before+1 || r.echo.Host != net.JoinHostPort(host2, strconv.Itoa(port2)) {
			t.Errorf("got %d %v", r.status, r.echo)
		}
	})
	t.Run("set_upstream with host_header", func(t *testing.T) {
		before := hits2.Load()
		r := tg.do(t, "GET", "/up", nil, "")
		// Kong appends a non-default port to host_header too (spec 3.8, set_host_header).
		if r.echo == nil || hits2.Load() != before+1 || r.echo.Host != net.JoinHostPort("balanced.test", strconv.Itoa(port2)) {
			t.Errorf("got %d %v", r.status, r.echo)
		}
		if v := upErr.Load(); v != nil {
			t.Error(v)
		}
	})
	t.Run("set_timeouts", func(t *testing.T) {
		r := tg.do(t, "GET", "/to/__sleep/1000", nil, "")
		if r.status != 504 {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("exit in header_filter replaces the upstream answer", func(t *testing.T) {
		r := tg.do(t, "GET", "/hf", nil, "")
		if r.status != 418 || r.body != "teapot" || r.header.Get("X-HF") != "exit" {
			t.Errorf("got %d %q %v", r.status, r.body, r.header)
		}
	})
	t.Run("set_retries counts tries", func(t *testing.T) {
		r := tg.do(t, "GET", "/noretry", nil, "")
		if r.status != 502 || tries.Load() != 4 {
			t.Errorf("status %d, tries %d, want 502 after 4 tries", r.status, tries.Load())
		}
	})
	t.Run("client_max_body_size", func(t *testing.T) {
		r := tg.do(t, "POST", "/target", nil, strings.Repeat("x", 2048))
		if r.status != 413 || !strings.HasPrefix(r.body, "Payload too large\nrequest_id: ") {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
}

// An upstream that closes every keep-alive connection after one answer
// (without saying so): the next request finds a stale pooled connection and
// is retried on a new one, POST bodies included (as nginx does).
func TestStaleKeepAliveRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 64<<10)
				n, _ := c.Read(buf)
				body := "got " + strconv.Itoa(n) + " bytes"
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				time.Sleep(20 * time.Millisecond)
			}(c)
		}
	}()
	b := newCfg()
	svc := b.service("flaky", "127.0.0.1", ln.Addr().(*net.TCPAddr).Port, "")
	b.route("flaky", svc, func(r *declarative.Route) { r.Paths = []string{"/flaky"} })
	tg := startGateway(t, b.cfg, testSettings(), nil)
	for i := 0; i < 5; i++ {
		r := tg.do(t, "POST", "/flaky", nil, strings.Repeat("p", 100))
		if r.status != 200 || !strings.HasPrefix(r.body, "got ") {
			t.Fatalf("POST %d: %d %q", i, r.status, r.body)
		}
		time.Sleep(60 * time.Millisecond) // let the upstream close the idle connection
	}
}
