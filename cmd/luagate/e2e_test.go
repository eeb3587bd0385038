package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce             sync.Once
	binDir              string
	binLuagate, binEcho string
	binErr              error
)

// TestMain removes the binaries the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinaries compiles luagate and echo-upstream once per test process.
func buildBinaries(t *testing.T) (luagate, echo string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "luagate-bin-"); binErr != nil {
			return
		}
		binLuagate, binEcho = filepath.Join(binDir, "luagate"), filepath.Join(binDir, "echo-upstream")
		for bin, pkg := range map[string]string{binLuagate: ".", binEcho: "../echo-upstream"} {
			if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binLuagate, binEcho
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within 15s", url, want)
}

// TestRootKongYMLEndToEnd serves the repository's example kong.yml with the
// real binaries (gateway and demo upstream) and runs the README's requests.
func TestRootKongYMLEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	luagateBin, echoBin := buildBinaries(t)
	upAddr, proxyAddr, adminAddr, statusAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)

	up := exec.Command(echoBin, "-listen", upAddr)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Process.Kill(); up.Wait() })

	// The example as shipped, pointed at this test's upstream port and with
	// its .lua path made absolute (the copy lives in a temp folder).
	src, err := os.ReadFile("../../kong.yml")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	text := strings.ReplaceAll(string(src), "127.0.0.1:9000", upAddr)
	text = strings.ReplaceAll(text, "- testdata/examples/", "- "+root+"/testdata/examples/")
	conf := filepath.Join(t.TempDir(), "kong.yml")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	gw := exec.Command(luagateBin, "start", "-c", conf,
		"--proxy-listen", proxyAddr, "--admin-listen", adminAddr, "--status-listen", statusAddr)
	gw.Stdout, gw.Stderr = &logs, &logs
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Wait() }()
	t.Cleanup(func() {
		gw.Process.Kill()
		if t.Failed() {
			t.Logf("gateway output:\n%s", logs.String())
		}
	})
	waitHTTP(t, "http://"+statusAddr+"/status/ready", 200)

	if code, out, _ := runCLI(t, map[string]string{"KONG_STATUS_LISTEN": statusAddr}, "health"); code != 0 {
		t.Errorf("luagate health: exit %d, %q", code, out)
	}

	type echoed struct {
		Method  string              `json:"method"`
		URI     string              `json:"uri"`
		Headers map[string][]string `json:"headers"`
		Body    string              `json:"body"`
	}
	for _, tt := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		// check inspects the answer; the upstream's echo is decoded when the
		// answer came from it.
		check func(t *testing.T, h http.Header, body []byte)
	}{
		{name: "hello world", method: "GET", path: "/hello", status: 200, check: func(t *testing.T, h http.Header, body []byte) {
			wantJSON(t, body, `{"message":"Hello World from Kong!"}`)
			if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		}},
		{name: "plain proxy strips the prefix, keeps the raw query", method: "GET", path: "/echo/anything?x=1&y=%20", status: 200, check: func(t *testing.T, h http.Header, body []byte) {
			var e echoed
			json.Unmarshal(body, &e)
			if e.URI != "/anything?x=1&y=%20" {
				t.Errorf("upstream URI = %q", e.URI)
			}
			if len(e.Headers["X-Kong-Request-Id"]) != 1 || h.Get("X-Kong-Request-Id") != e.Headers["X-Kong-Request-Id"][0] {
				t.Errorf("request id: upstream %v, client %q", e.Headers["X-Kong-Request-Id"], h.Get("X-Kong-Request-Id"))
			}
			if !strings.Contains(h.Get("Via"), "luagate/") {
				t.Errorf("Via = %q", h.Get("Via"))
			}
		}},
		{name: "no route", method: "GET", path: "/nope", status: 404, check: func(t *testing.T, h http.Header, body []byte) {
			if !strings.Contains(string(body), `"message":"no Route matched with those values"`) {
				t.Errorf("body %s", body)
			}
		}},
		{name: "bearer: missing", method: "GET", path: "/secure", status: 401, check: bodyIs(`{"message":"Authentication required"}`)},
		{name: "bearer: basic", method: "GET", path: "/secure", header: map[string]string{"Authorization": "Basic abc"}, status: 401, check: bodyIs(`{"message":"Invalid token format"}`)},
		{name: "bearer: wrong token", method: "GET", path: "/secure", header: map[string]string{"Authorization": "Bearer nope"}, status: 403, check: bodyIs(`{"message":"Invalid credentials"}`)},
		{name: "bearer: valid", method: "GET", path: "/secure", header: map[string]string{"Authorization": "Bearer secret-token-123"}, status: 200, check: func(t *testing.T, h http.Header, body []byte) {
			var e echoed
			json.Unmarshal(body, &e)
			if got := e.Headers["X-Consumer-Id"]; len(got) != 1 || got[0] != "user-123" {
				t.Errorf("X-Consumer-ID upstream = %v", got)
			}
			if got := e.Headers["X-Consumer-Role"]; len(got) != 1 || got[0] != "admin" {
				t.Errorf("X-Consumer-Role upstream = %v", got)
			}
			if h.Get("X-Processed-By") != "Kong-Serverless" {
				t.Errorf("X-Processed-By = %q", h.Get("X-Processed-By"))
			}
		}},
		{name: "transformer", method: "POST", path: "/transform", body: `{"operation":"uppercase","input":"hello"}`, header: map[string]string{"Content-Type": "application/json"}, status: 200, check: func(t *testing.T, h http.Header, body []byte) {
			var e echoed
			json.Unmarshal(body, &e)
			wantJSON(t, []byte(e.Body), `{"operation":"uppercase","input":"HELLO"}`)
		}},
		{name: "response header", method: "GET", path: "/headers", status: 200, check: func(t *testing.T, h http.Header, body []byte) {
			if h.Get("X-Processed-By") != "Kong-Serverless" {
				t.Errorf("X-Processed-By = %q", h.Get("X-Processed-By"))
			}
		}},
		{name: "response body", method: "GET", path: "/body", status: 200, check: func(t *testing.T, h http.Header, body []byte) {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			at, ok := m["processed_at"].(float64)
			if now := float64(time.Now().Unix()); !ok || at < now-60 || at > now+60 {
				t.Errorf("processed_at = %v", m["processed_at"])
			}
			if m["method"] != "GET" {
				t.Errorf("upstream fields lost: %v", m)
			}
		}},
		{name: "content filter: script", method: "POST", path: "/api/anything", body: "<script>alert(1)</script>", status: 400, check: bodyIs(`{"error":"Malicious content detected"}`)},
		{name: "content filter: missing name", method: "POST", path: "/api/users", body: `{"email":"a@b.co"}`, header: map[string]string{"Content-Type": "application/json"}, status: 400, check: bodyIs(`{"error":"Missing required field: name"}`)},
		{name: "content filter: bad email", method: "POST", path: "/api/users", body: `{"name":"Ann","email":"bad"}`, header: map[string]string{"Content-Type": "application/json"}, status: 400, check: bodyIs(`{"error":"Invalid email format"}`)},
		{name: "content filter: valid", method: "POST", path: "/api/users", body: `{"name":"Ann","email":"ann@example.com"}`, header: map[string]string{"Content-Type": "application/json"}, status: 200},
		{name: "logged: pcall failure", method: "GET", path: "/logged", header: map[string]string{"X-Fail": "yes"}, status: 500, check: bodyIs(`{"error":"Internal error"}`)},
		{name: "logged: ok", method: "GET", path: "/logged", status: 200, check: func(t *testing.T, h http.Header, body []byte) {
			var e echoed
			json.Unmarshal(body, &e)
			if got := e.Headers["X-Logged"]; len(got) != 1 || got[0] != "true" {
				t.Errorf("X-Logged upstream = %v", got)
			}
		}},
		{name: "function from a file", method: "GET", path: "/from-file", status: 200, check: bodyIs(`{"message":"Hello from greeting.lua","phases":1}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+proxyAddr+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if tt.check != nil {
				tt.check(t, resp.Header, body)
			}
		})
	}

	// SIGTERM: drain and exit 0.
	gw.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gateway did not exit within 20s of SIGTERM")
	}
}

func bodyIs(want string) func(t *testing.T, h http.Header, body []byte) {
	return func(t *testing.T, h http.Header, body []byte) { t.Helper(); wantJSON(t, body, want) }
}

// wantJSON compares two JSON documents by value.
func wantJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("answer is not JSON: %q", got)
	}
	json.Unmarshal([]byte(want), &w)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("body = %s, want %s", got, want)
	}
}
