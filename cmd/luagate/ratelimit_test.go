package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRedis runs a real redis-server on a free loopback port for one test.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not installed: .ci/run installs it with make test-deps")
		}
		t.Skip("redis-server not installed (make test-deps installs it)")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRateLimitSharedAcrossReplicas runs the documentation's rate-limiting
// example (testdata/examples/rate-limiting.yml) on two gateway processes that
// share one real Redis: a client alternating between them gets exactly the
// tier's limit per window in total, then 429s (issue 7).
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateways and a redis-server")
	}
	luagateBin, echoBin := buildBinaries(t)
	redisAddr := startRedis(t)
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	upAddr := freeAddr(t)
	up := exec.Command(echoBin, "-listen", upAddr)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Process.Kill(); up.Wait() })

	src, err := os.ReadFile("../../testdata/examples/rate-limiting.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(src), "127.0.0.1:9000", upAddr)
	text = strings.ReplaceAll(text, `red:connect("127.0.0.1", 6379)`, `red:connect("127.0.0.1", `+redisPort+`)`)
	if !strings.Contains(text, redisPort) {
		t.Fatal("the example no longer connects with red:connect(\"127.0.0.1\", 6379)")
	}
	conf := filepath.Join(t.TempDir(), "kong.yml")
	os.WriteFile(conf, []byte(text), 0o644)

	var proxies []string
	for i := 0; i < 2; i++ {
		proxy, status := freeAddr(t), freeAddr(t)
		var logs bytes.Buffer
		gw := exec.Command(luagateBin, "start", "-c", conf, "--proxy-listen", proxy, "--admin-listen", "off", "--status-listen", status)
		gw.Stdout, gw.Stderr = &logs, &logs
		if err := gw.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			gw.Process.Kill()
			gw.Wait()
			if t.Failed() {
				t.Logf("gateway %d output:\n%s", i, logs.String())
			}
		})
		waitHTTP(t, "http://"+status+"/status/ready", 200)
		proxies = append(proxies, proxy)
	}

	// The example counts per minute window; stay clear of a window's end so
	// the whole run falls inside one.
	if s := time.Now().Second(); s > 45 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	window := time.Now().Unix() / 60

	do := func(i int, tier string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", "http://"+proxies[i%2]+"/limited", nil)
		if tier != "" {
			req.Header.Set("X-API-Tier", tier)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header, string(body)
	}

	const limit = 10 // the free tier
	passed := 0
	for i := 0; i < 2*limit+5; i++ {
		code, h, body := do(i, "")
		switch code {
		case 200:
			passed++
			if got, want := h.Get("X-RateLimit-Remaining"), strconv.Itoa(limit-passed); got != want {
				t.Errorf("request %d (gateway %d): X-RateLimit-Remaining = %q, want %q", i, i%2, got, want)
			}
		case 429:
			if passed != limit {
				t.Fatalf("request %d: 429 after %d passed, want %d", i, passed, limit)
			}
			if !strings.Contains(body, `"message":"Rate limit exceeded"`) || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Limit") != "10" {
				t.Errorf("429 answer: headers %v body %s", h, body)
			}
		default:
			t.Fatalf("request %d: status %d: %s", i, code, body)
		}
	}
	if passed != limit {
		t.Errorf("%d requests passed across both gateways, want exactly %d", passed, limit)
	}
	// Another tier has its own counter.
	if code, h, _ := do(0, "premium"); code != 200 || h.Get("X-RateLimit-Limit") != "1000" || h.Get("X-RateLimit-Remaining") != "999" {
		t.Errorf("premium: %d, limit %q remaining %q", code, h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"))
	}
	if w := time.Now().Unix() / 60; w != window {
		t.Fatalf("the run crossed a minute window (%d -> %d); counts are not comparable", window, w)
	}
}
