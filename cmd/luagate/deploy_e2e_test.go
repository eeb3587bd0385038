package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// configMapDir lays out a folder as the kubelet mounts a ConfigMap: the
// files live in a timestamped folder, "..data" links to it, and each key
// is a link through "..data".
type configMapDir struct {
	t   *testing.T
	dir string
	gen int
}

func (c *configMapDir) publish(files map[string]string) {
	c.t.Helper()
	c.gen++
	ts := fmt.Sprintf("..2026_11_26_00_00_%02d.%09d", c.gen, c.gen)
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		c.t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(c.dir, ts, name), []byte(body), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(c.dir, "..data"))
	// The kubelet's atomic swap: a new ..data_tmp link renamed over ..data.
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(c.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	if old != "" {
		os.RemoveAll(filepath.Join(c.dir, old))
	}
}

// startGateway runs the real binary and returns its proxy and status
// addresses; the process is killed at cleanup.
func startGateway(t *testing.T, bin, conf string, env ...string) (cmd *exec.Cmd, proxy, status string, logs *syncBuffer) {
	t.Helper()
	proxy, status = freeAddr(t), freeAddr(t)
	logs = &syncBuffer{}
	cmd = exec.Command(bin, "start", "-c", conf, "--proxy-listen", proxy, "--admin-listen", "off", "--status-listen", status)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("gateway output:\n%s", logs.String())
		}
	})
	waitHTTP(t, "http://"+status+"/status/ready", 200)
	return cmd, proxy, status, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func statusHash(t *testing.T, status string) string {
	t.Helper()
	resp, err := http.Get("http://" + status + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Hash string `json:"configuration_hash"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Hash
}

// TestConfigMapSwapReloadsWithoutRestart mounts kong.yml and a .lua file
// the way Kubernetes does, swaps the ConfigMap (..data link), and expects
// the running binary to serve the new config within a few seconds, with
// /status reporting the hash `config hash` predicts.
func TestConfigMapSwapReloadsWithoutRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, _ := buildBinaries(t)
	cm := &configMapDir{t: t, dir: t.TempDir()}
	conf := func(version string) map[string]string {
		return map[string]string{
			"kong.yml": `_format_version: "3.0"
services:
- name: app
  url: http://127.0.0.1:1
  routes:
  - name: version
    paths: [/version]
    plugins:
    - name: pre-function
      config:
        access:
        - greet.lua
`,
			"greet.lua": `return kong.response.exit(200, { version = "` + version + `" })` + "\n",
		}
	}
	cm.publish(conf("one"))
	confPath := filepath.Join(cm.dir, "kong.yml")
	_, proxy, status, _ := startGateway(t, bin, confPath)

	get := func() string {
		resp, err := http.Get("http://" + proxy + "/version")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	if got := get(); got != `{"version":"one"}` {
		t.Fatalf("before the swap: %s", got)
	}
	startHash := statusHash(t, status)

	cm.publish(conf("two"))
	_, want, _ := runCLI(t, nil, "config", "hash", confPath)
	want = strings.TrimSpace(want)
	if want == startHash {
		t.Fatalf("the new config has the old hash %s", want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for get() != `{"version":"two"}` {
		if time.Now().After(deadline) {
			t.Fatalf("the swapped ConfigMap was not served within 5s: %s", get())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := statusHash(t, status); got != want {
		t.Errorf("/status configuration_hash = %s, config hash said %s", got, want)
	}

	// A broken swap keeps the last good config serving.
	broken := conf("three")
	broken["kong.yml"] = strings.Replace(broken["kong.yml"], "paths: [/version]", "paths: [version]", 1)
	cm.publish(broken)
	time.Sleep(1500 * time.Millisecond)
	if got := get(); got != `{"version":"two"}` {
		t.Errorf("after a broken swap: %s, want the last good config", got)
	}
}

// TestSIGTERMDrainsInFlightRequests runs bounded loopback load through the
// real binary against a slow upstream, sends SIGTERM in the middle, and
// checks that every request the upstream received got its 200 back, that
// /status/ready said 503 while draining, and that the process exited 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, _ := buildBinaries(t)

	// The upstream records every request id it receives and answers slowly.
	var mu sync.Mutex
	received := map[string]bool{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received[r.Header.Get("X-Load-Id")] = true
		mu.Unlock()
		time.Sleep(500 * time.Millisecond)
		w.Write([]byte("ok"))
	})}
	go up.Serve(ln)
	t.Cleanup(func() { up.Close() })

	conf := filepath.Join(t.TempDir(), "kong.yml")
	os.WriteFile(conf, []byte(`_format_version: "3.0"
services:
- name: slow
  url: http://`+ln.Addr().String()+`
  routes:
  - name: slow
    paths: [/]
`), 0o644)
	gw, proxy, status, _ := startGateway(t, bin, conf, "KONG_DRAIN_TIMEOUT=5")
	exited := make(chan error, 1)
	go func() { exited <- gw.Wait() }()

	const workers = 8
	var (
		ok      atomic.Int64
		results sync.Map // load id -> outcome
		wg      sync.WaitGroup
		stop    atomic.Bool
	)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 200; i++ {
				id := strconv.Itoa(w) + "-" + strconv.Itoa(i)
				req, _ := http.NewRequest("GET", "http://"+proxy+"/x", nil)
				req.Header.Set("X-Load-Id", id)
				resp, err := client.Do(req)
				if err != nil {
					results.Store(id, err.Error())
					if isRefused(err) {
						return // the listener is closed: the node is gone
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && string(b) == "ok" {
					ok.Add(1)
					results.Store(id, "200")
				} else {
					results.Store(id, fmt.Sprintf("%d %s", resp.StatusCode, b))
				}
			}
		}()
	}

	time.Sleep(700 * time.Millisecond) // load is running, requests are in flight
	if err := gw.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// While in-flight requests finish, readiness says draining.
	sawDraining := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !sawDraining; {
		resp, err := http.Get("http://" + status + "/status/ready")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sawDraining = resp.StatusCode == 503 && strings.Contains(string(b), "draining")
		}
		if !sawDraining {
			time.Sleep(20 * time.Millisecond)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("gateway exit after SIGTERM: %v, want exit status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit within 10s of SIGTERM")
	}
	stop.Store(true)
	wg.Wait()

	if !sawDraining {
		t.Error("/status/ready never answered 503 draining after SIGTERM")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(received) < workers || ok.Load() < workers {
		t.Fatalf("too little load: upstream got %d requests, %d answered 200", len(received), ok.Load())
	}
	for id := range received {
		if v, _ := results.Load(id); v != "200" {
			t.Errorf("request %s reached the upstream but the client got %v", id, v)
		}
	}
	t.Logf("%d requests answered 200, %d reached the upstream, none lost", ok.Load(), len(received))
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
