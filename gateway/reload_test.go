package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"luagate/declarative"
)

// versionYAML is a config whose route /v answers {"pre": ..., "post": ...}
// from two plugins of the same version: a response that mixed two
// configurations would show two different versions.
func versionYAML(v string) string {
	return fmt.Sprintf(`_format_version: "3.0"
# version %[1]s
services:
- name: svc
  url: http://127.0.0.1:9
  routes:
  - name: r
    paths:
    - /v
  plugins:
  - name: pre-function
    config:
      access:
      - kong.ctx.shared.v = "%[1]s"
  - name: post-function
    config:
      access:
      - kong.response.exit(200, { pre = kong.ctx.shared.v, post = "%[1]s" })
`, v)
}

const brokenYAML = `_format_version: "3.0"
services:
- name: svc
  host: 127.0.0.1
  port: 99999
  routes:
  - name: r
    paths:
    - v
`

// fileGateway is a running gateway loaded from a kong.yml in a temp dir.
type fileGateway struct {
	*testGateway
	path string
}

func startFileGateway(t testing.TB, text string, mod func(*Settings)) *fileGateway {
	t.Helper()
	return startFileGatewayWatch(t, text, mod, true)
}

// startFileGatewayWatch is startFileGateway with the file watcher on or off
// (off: only explicit reloads happen, so tests can count them exactly).
func startFileGatewayWatch(t testing.TB, text string, mod func(*Settings), watch bool) *fileGateway {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kong.yml")
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	s := testSettings()
	s.DeclarativeConfig = path
	if mod != nil {
		mod(&s)
	}
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.noWatch = !watch
	if err := g.LoadFile(path); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	runUntilCleanup(t, g)
	tg := &testGateway{
		g: g, proxy: g.Addrs("proxy")[0], status: g.Addrs("status")[0], admin: g.Addrs("admin")[0],
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 20 * time.Second},
	}
	return &fileGateway{testGateway: tg, path: path}
}

type versionReply struct{ Pre, Post string }

func (fg *fileGateway) version(t testing.TB) string {
	t.Helper()
	r := fg.do(t, "GET", "/v", nil, "")
	var v versionReply
	if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || v.Pre != v.Post {
		t.Fatalf("GET /v = %d %s, want 200 with one version", r.status, r.body)
	}
	return v.Pre
}

// fetchJSON fetches http://addr+path and decodes the JSON body.
func fetchJSON(t testing.TB, c *http.Client, addr, path string) (int, map[string]any) {
	t.Helper()
	res, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %d %q is not JSON: %v", path, res.StatusCode, b, err)
	}
	return res.StatusCode, m
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestReloadSignalAppliesSkipsAndRejects(t *testing.T) {
	// Without the watcher: a watcher reacting to the test's own writes would
	// add attempts and skips at moments that depend on the machine's load.
	fg := startFileGatewayWatch(t, versionYAML("A"), nil, false)
	if v := fg.version(t); v != "A" {
		t.Fatalf("version = %q, want A", v)
	}
	base := fg.g.ReloadStats()
	var observed []string
	var obsMu sync.Mutex
	fg.g.SetReloadObserver(func(cfg *declarative.Config, err error) {
		obsMu.Lock()
		defer obsMu.Unlock()
		if err != nil {
			observed = append(observed, "failure")
		} else {
			observed = append(observed, "success "+cfg.Hash[:4])
		}
	})
	steps := []struct {
		name     string
		text     string // "" = leave the file alone
		wantErr  string
		want     string
		attempts uint64
		skipped  uint64
		ok       bool
	}{
		{"unchanged file is a no-op", "", "", "A", 0, 1, true},
		{"new version applies", versionYAML("B"), "", "B", 1, 1, true},
		{"invalid file keeps the running config", brokenYAML, "services[0].port: value should be between 0 and 65535", "B", 2, 1, false},
		{"same invalid file again is rejected again", "", "routes[0].paths[0]: should start with: / (fixed path) or ~/ (regex path)", "B", 3, 1, false},
		{"fixed file applies", versionYAML("C"), "", "C", 4, 1, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.text != "" {
				writeFile(t, fg.path, st.text)
			}
			err := fg.g.Reload()
			switch {
			case st.wantErr == "" && err != nil:
				t.Fatalf("Reload: %v", err)
			case st.wantErr != "" && (err == nil || !strings.Contains(declarative.FormatText(err), st.wantErr)):
				t.Fatalf("Reload error = %v, want one containing %q", err, st.wantErr)
			}
			if v := fg.version(t); v != st.want {
				t.Errorf("serving version %q, want %q", v, st.want)
			}
			stats := fg.g.ReloadStats()
			if stats.Attempts != st.attempts || stats.Skipped-base.Skipped != st.skipped || stats.LastSuccessful != st.ok {
				t.Errorf("stats = %+v, want attempts %d skipped %d successful %v", stats, st.attempts, st.skipped, st.ok)
			}
			_, status := fetchJSON(t, fg.client, fg.status, "/status")
			lg, _ := status["luagate"].(map[string]any)
			if lg == nil || lg["last_reload_successful"] != st.ok || (lg["last_reload_at"] == nil) != (st.attempts == 0) {
				t.Fatalf("/status luagate = %v, want last_reload_successful %v (a time after %d attempts)", status["luagate"], st.ok, st.attempts)
			}
			if st.ok && lg["last_reload_error"] != nil {
				t.Errorf("last_reload_error = %v after a success", lg["last_reload_error"])
			}
			if !st.ok {
				msg, _ := lg["last_reload_error"].(string)
				// every error with its file and line
				if !strings.Contains(msg, "kong.yml:5: services[0].port: value should be between 0 and 65535\n") ||
					!strings.Contains(msg, "kong.yml:9: services[0].routes[0].paths[0]: should start with") {
					t.Errorf("last_reload_error = %q, want every error with file:line", msg)
				}
			}
			for _, k := range []string{"configuration_hash", "memory", "server"} {
				if _, ok := status[k]; !ok {
					t.Errorf("/status lost Kong's %q", k)
				}
			}
		})
	}
	obsMu.Lock()
	defer obsMu.Unlock()
	if len(observed) != 4 || !strings.HasPrefix(observed[0], "success") || observed[1] != "failure" || observed[2] != "failure" || !strings.HasPrefix(observed[3], "success") {
		t.Errorf("observer saw %v, want success, failure, failure, success", observed)
	}
}

func TestReloadWithoutFile(t *testing.T) {
	g, err := New(testSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); !errors.Is(err, ErrNoConfigFile) {
		t.Fatalf("Reload without a file = %v, want ErrNoConfigFile", err)
	}
}

func TestReadyFollowsLoadAndDrain(t *testing.T) {
	g, err := New(testSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if why := g.Ready(); !strings.Contains(why, "not initialized") {
		t.Errorf("Ready before any load = %q, want not initialized", why)
	}
	path := filepath.Join(t.TempDir(), "kong.yml")
	writeFile(t, path, versionYAML("A"))
	if err := g.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if why := g.Ready(); why != "" {
		t.Errorf("Ready after load = %q, want ready", why)
	}
	writeFile(t, path, brokenYAML)
	if g.Reload() == nil {
		t.Fatal("broken reload succeeded")
	}
	if why := g.Ready(); why != "" {
		t.Errorf("Ready after a rejected reload = %q, want ready (old config serves)", why)
	}
	g.draining.Store(true)
	if why := g.Ready(); why != "draining" {
		t.Errorf("Ready while draining = %q", why)
	}
}

// waitVersion polls until the gateway serves want (the watcher debounces).
func (fg *fileGateway) waitVersion(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := fg.version(t)
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %q, want %q", v, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatcherReloadsOnEdit(t *testing.T) {
	fg := startFileGateway(t, versionYAML("A"), nil)
	fg.waitVersion(t, "A")

	writeFile(t, fg.path, versionYAML("B"))
	fg.waitVersion(t, "B")

	// A broken edit: B keeps serving and /status says why.
	writeFile(t, fg.path, brokenYAML)
	deadline := time.Now().Add(10 * time.Second)
	for fg.g.ReloadStats().LastSuccessful {
		if time.Now().After(deadline) {
			t.Fatal("the broken edit was never rejected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v := fg.version(t); v != "B" {
		t.Fatalf("after a broken edit serving %q, want B", v)
	}
	_, st := fetchJSON(t, fg.client, fg.status, "/status")
	lg := st["luagate"].(map[string]any)
	if msg, _ := lg["last_reload_error"].(string); !strings.Contains(msg, "services[0].port") {
		t.Errorf("last_reload_error = %q", msg)
	}
	if code, _ := fetchJSON(t, fg.client, fg.status, "/status/ready"); code != 200 {
		t.Errorf("/status/ready = %d after a rejected edit, want 200", code)
	}

	// An editor's rename-over also counts.
	tmp := fg.path + ".swp"
	writeFile(t, tmp, versionYAML("C"))
	if err := os.Rename(tmp, fg.path); err != nil {
		t.Fatal(err)
	}
	fg.waitVersion(t, "C")
	if !fg.g.ReloadStats().LastSuccessful {
		t.Error("LastSuccessful still false after a good edit")
	}
}

// TestReloadNoLeak: Kong/kong#6547 (memory grows with every reload). 1,000
// reloads alternating between two configs with Lua functions, each snapshot
// used by a request: every replaced snapshot must close (Lua states and
// upstream clients released), goroutines stay flat and the heap returns
// near its baseline.
func TestReloadNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 reloads")
	}
	fg := startFileGateway(t, versionYAML("A"), nil)
	texts := [2][]byte{[]byte(versionYAML("A")), []byte(versionYAML("B"))}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// Warm up: connection pools, the client, caches.
	for i := 0; i < 20; i++ {
		if _, err := fg.g.WriteConfig(texts[i%2]); err != nil {
			t.Fatal(err)
		}
		fg.version(t)
	}
	baseGoroutines := runtime.NumGoroutine()
	baseHeap := heap()

	const n = 1000
	var dones []<-chan struct{}
	for i := 0; i < n; i++ {
		old := fg.g.Current()
		if _, err := fg.g.WriteConfig(texts[i%2]); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		dones = append(dones, old.Done())
		if want := string("AB"[i%2]); fg.version(t) != want {
			t.Fatalf("reload %d: not serving %s", i, want)
		}
	}
	for i, d := range dones {
		select {
		case <-d:
		case <-time.After(5 * time.Second):
			t.Fatalf("snapshot replaced by reload %d never closed", i)
		}
	}
	if st := fg.g.ReloadStats(); st.Successes < n || st.Failures != 0 {
		t.Errorf("stats = %+v, want %d successes", st, n)
	}
	dones = nil
	time.Sleep(50 * time.Millisecond)
	g := runtime.NumGoroutine()
	h := heap()
	t.Logf("goroutines %d -> %d, heap %d KiB -> %d KiB after %d reloads", baseGoroutines, g, baseHeap>>10, h>>10, n)
	if g > baseGoroutines+5 {
		t.Errorf("goroutines grew from %d to %d over %d reloads", baseGoroutines, g, n)
	}
	// Bound: 4 MiB over baseline (one config's snapshot is a few KiB; a
	// leak of one snapshot or Lua state per reload would be tens of MiB).
	if h > baseHeap+4<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB over %d reloads (bound: +4096 KiB)", baseHeap>>10, h>>10, n)
	}

	// Kong/kong#5732: rejected configs must not leave state behind either.
	bad := []byte(brokenYAML)
	for i := 0; i < 300; i++ {
		if _, err := fg.g.WriteConfig(bad); err == nil {
			t.Fatal("broken config accepted")
		}
	}
	h2 := heap()
	t.Logf("heap %d KiB after 300 rejected configs", h2>>10)
	if h2 > h+2<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB over 300 rejected configs (bound: +2048 KiB)", h>>10, h2>>10)
	}
	if g := runtime.NumGoroutine(); g > baseGoroutines+5 {
		t.Errorf("goroutines %d after rejected configs, baseline %d", g, baseGoroutines)
	}
}

func TestReloadMissingFileKeepsServing(t *testing.T) {
	fg := startFileGateway(t, versionYAML("A"), nil)
	if err := os.Remove(fg.path); err != nil {
		t.Fatal(err)
	}
	err := fg.g.Reload()
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Reload of a deleted file = %v, want a not-exist error", err)
	}
	if v := fg.version(t); v != "A" {
		t.Errorf("serving %q after the file vanished, want A", v)
	}
	if st := fg.g.ReloadStats(); st.LastSuccessful || !strings.Contains(st.LastError, "kong.yml") {
		t.Errorf("stats = %+v, want a failure naming the file", st)
	}
}

// TestReloadUnderLoad: Kong/kong#6811, #5898: no failed request and no mixed
// configuration while the config is swapped 100+ times, invalid versions
// included.
func TestReloadUnderLoad(t *testing.T) {
	fg := startFileGateway(t, versionYAML("A"), nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var total, failed atomic.Int64
	var firstErr atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				total.Add(1)
				res, err := fg.client.Get("http://" + fg.proxy + "/v")
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var v versionReply
				if res.StatusCode != 200 || json.Unmarshal(b, &v) != nil || v.Pre != v.Post || (v.Pre != "A" && v.Pre != "B") {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", res.StatusCode, b))
				}
			}
		}()
	}
	swaps, rejected := 0, 0
	for i := 0; i < 120; i++ {
		text := versionYAML(string("AB"[i%2]))
		if i%10 == 9 {
			text = brokenYAML
		}
		_, err := fg.g.WriteConfig([]byte(text))
		switch {
		case text == brokenYAML && err == nil:
			t.Fatalf("swap %d: broken config accepted", i)
		case text == brokenYAML:
			rejected++
		case err != nil:
			t.Fatalf("swap %d: %v", i, err)
		default:
			swaps++
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d swaps, %d rejected configs", total.Load(), swaps, rejected)
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed or mixed versions; first: %v", f, total.Load(), firstErr.Load())
	}
	if swaps < 100 || total.Load() < 200 {
		t.Fatalf("too little load: %d swaps, %d requests", swaps, total.Load())
	}
}

// TestWatcherReloadsOnLuaFileEdit: DECISIONS rows 2 and 13: a function
// given as a file is watched, and editing it changes the hash and reloads.
func TestWatcherReloadsOnLuaFileEdit(t *testing.T) {
	dir := t.TempDir()
	lua := filepath.Join(dir, "functions", "v.lua")
	if err := os.MkdirAll(filepath.Dir(lua), 0o755); err != nil {
		t.Fatal(err)
	}
	body := func(v string) string {
		return fmt.Sprintf("kong.response.exit(200, { pre = %q, post = %q })\n", v, v)
	}
	writeFile(t, lua, body("A"))
	text := `_format_version: "3.0"
services:
- name: svc
  url: http://127.0.0.1:9
  routes:
  - name: r
    paths:
    - /v
  plugins:
  - name: pre-function
    config:
      access:
      - functions/v.lua
`
	path := filepath.Join(dir, "kong.yml")
	writeFile(t, path, text)
	s := testSettings()
	s.DeclarativeConfig = path
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.LoadFile(path); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-g.Started()
	lg := &fileGateway{testGateway: &testGateway{g: g, proxy: g.Addrs("proxy")[0], status: g.Addrs("status")[0],
		client: &http.Client{Timeout: 10 * time.Second}}, path: path}
	lg.waitVersion(t, "A")
	hashA := g.Current().Hash()

	writeFile(t, lua, body("B"))
	lg.waitVersion(t, "B")
	if g.Current().Hash() == hashA {
		t.Error("editing the Lua file did not change configuration_hash")
	}
	// A syntax error in the file is rejected with its place; B keeps serving.
	writeFile(t, lua, "kong.response.exit(200, {\n")
	deadline := time.Now().Add(10 * time.Second)
	for g.ReloadStats().LastSuccessful {
		if time.Now().After(deadline) {
			t.Fatal("the broken Lua file was never rejected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v := lg.version(t); v != "B" {
		t.Errorf("serving %q after a broken Lua edit, want B", v)
	}
	if e := g.ReloadStats().LastError; !strings.Contains(e, "v.lua") {
		t.Errorf("LastError = %q, want the file named", e)
	}
}

// TestOldSnapshotClosesAfterItsLastRequest: a request in flight during a
// reload finishes on its snapshot, which closes only afterwards.
func TestOldSnapshotClosesAfterItsLastRequest(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer up.Close()
	cfg := func(tag string) string {
		return fmt.Sprintf("_format_version: \"3.0\"\n# %s\nservices:\n- name: s\n  url: http://%s\n  routes:\n  - name: r\n    paths: [/]\n    strip_path: false\n", tag, up.Listener.Addr())
	}
	fg := startFileGateway(t, cfg("one"), nil)
	old := fg.g.Current()
	type result struct {
		r   *resp
		err error
	}
	got := make(chan result, 1)
	go func() {
		res, err := fg.client.Get("http://" + fg.proxy + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{r: &resp{status: res.StatusCode, body: string(b)}}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	if _, err := fg.g.WriteConfig([]byte(cfg("two"))); err != nil {
		t.Fatal(err)
	}
	if fg.g.Current() == old {
		t.Fatal("no new snapshot")
	}
	select {
	case <-old.Done():
		t.Fatal("the old snapshot closed under an in-flight request")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	r := <-got
	if r.err != nil || r.r.status != 200 || r.r.body != "upstream /slow" {
		t.Fatalf("in-flight request = %+v", r)
	}
	select {
	case <-old.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the old snapshot did not close after its last request")
	}
}

// BenchmarkWriteConfig: one validated, fsynced and swapped reload of a
// config with two Lua functions.
func BenchmarkWriteConfig(b *testing.B) {
	fg := startFileGateway(b, versionYAML("A"), nil)
	texts := [2][]byte{[]byte(versionYAML("A")), []byte(versionYAML("B"))}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := fg.g.WriteConfig(texts[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// A reload hands the retired snapshot's Lua states to the new one instead
// of building them again; the functions that run are the new config's.
func TestReloadRecyclesLuaStates(t *testing.T) {
	fg := startFileGatewayWatch(t, versionYAML("A"), nil, false)
	rc := fg.g.rt.luaStates
	// reload to v and wait until the snapshot it replaced has retired
	reload := func(v string) {
		t.Helper()
		old := fg.g.Current()
		writeFile(t, fg.path, versionYAML(v))
		if err := fg.g.Reload(); err != nil {
			t.Fatal(err)
		}
		if got := fg.version(t); got != v {
			t.Fatalf("version = %q, want %q (a recycled state ran an old function?)", got, v)
		}
		select {
		case <-old.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the replaced snapshot did not retire")
		}
	}
	if v := fg.version(t); v != "A" {
		t.Fatalf("version = %q, want A", v)
	}
	reload("B")
	n := rc.Idle() // A's states
	if n < 1 {
		t.Fatalf("no state kept from the retired snapshot")
	}
	// C's set takes one of them when it is built; B's one state returns
	reload("C")
	if got := rc.Idle(); got != n {
		t.Errorf("%d states idle after the next reload, want %d (one taken, one returned)", got, n)
	}
}
