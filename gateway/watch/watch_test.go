package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// These tests use real fsnotify on a t.TempDir(). They never sleep for a
// fixed time. Two devices make them deterministic on a loaded machine:
//
//   - edit runs a multi-step edit while holding a gate that every check waits
//     on, so no check can observe a half-done edit however the scheduler
//     delays the test goroutine. (The debounce that normally gives this
//     guarantee is tested with exact fake time in loop_test.go.)
//   - sync creates a sentinel file in the kong.yml folder and waits until the
//     watcher has received its event and is idle: no check pending or
//     running. inotify delivers the events of one instance in order, so every
//     earlier event has then been handled, and onChange called if it was due.
//     The watcher swallows sentinel events, so they never cause a check: a
//     change whose own events failed to cause one is not hidden by sync.

const (
	testDebounce = 20 * time.Millisecond
	pollLimit    = 10 * time.Second
)

type harness struct {
	t    *testing.T
	dir  string // folder of kong.yml
	path string // kong.yml
	w    *Watcher

	gate sync.Mutex

	mu       sync.Mutex
	sentinel map[string]uint64 // sentinel base name -> event seq
	idle     uint64            // seq of the last idle report
	seen     []string          // content of path at each onChange
	inflight atomic.Int32
	syncs    int

	onChange func() // extra work in onChange, set before start
	cancel   context.CancelFunc
	done     chan error
}

// newHarness makes a folder; the caller creates files, then calls start.
func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, dir: dir, path: filepath.Join(dir, "kong.yml"), sentinel: map[string]uint64{}, done: make(chan error, 1)}
}

func (h *harness) start(opts Options) {
	h.t.Helper()
	if opts.Path == "" {
		opts.Path = h.path
	}
	if opts.Debounce == 0 {
		opts.Debounce = testDebounce
	}
	if opts.Backstop == 0 {
		opts.Backstop = -1 // only the tests of the backstop use it
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	w, err := New(opts)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.w = w
	w.hooks = testHooks{
		event: func(seq uint64, ev fsnotify.Event) bool {
			base := filepath.Base(ev.Name)
			if !strings.HasPrefix(base, ".sync-") {
				return false
			}
			if ev.Has(fsnotify.Create) {
				h.mu.Lock()
				h.sentinel[base] = seq
				h.mu.Unlock()
			}
			return true // so that sentinels never cause a check themselves
		},
		idle: func(seq uint64) {
			h.mu.Lock()
			h.idle = seq
			h.mu.Unlock()
		},
		beforeCheck: func() {
			// Wait for a running edit to finish.
			h.gate.Lock()
			//lint:ignore SA2001 the empty critical section is the point: it waits for edit
			h.gate.Unlock()
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		h.done <- w.Run(ctx, func() {
			if h.inflight.Add(1) != 1 {
				h.t.Error("onChange called concurrently")
			}
			defer h.inflight.Add(-1)
			h.mu.Lock()
			h.seen = append(h.seen, readOrMissing(h.path))
			h.mu.Unlock()
			if h.onChange != nil {
				h.onChange()
			}
		})
	}()
	h.t.Cleanup(h.stop)
	h.waitWatched(h.dir)
	h.sync()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(pollLimit):
		h.t.Errorf("Run did not return within %v of cancel", pollLimit)
	}
}

// poll waits until cond holds, failing the test after pollLimit.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", pollLimit, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) waitWatched(dirs ...string) {
	h.t.Helper()
	poll(h.t, fmt.Sprintf("watched folders to include %q", dirs), func() bool {
		got := h.w.watchedDirs()
		for _, d := range dirs {
			if !slices.Contains(got, d) {
				return false
			}
		}
		return true
	})
}

func (h *harness) waitNotWatched(dir string) {
	h.t.Helper()
	poll(h.t, fmt.Sprintf("folder %q to be unwatched", dir), func() bool {
		return !slices.Contains(h.w.watchedDirs(), dir)
	})
}

// sync waits until every file system event before it has been handled.
func (h *harness) sync() {
	h.t.Helper()
	h.syncs++
	name := fmt.Sprintf(".sync-%d", h.syncs)
	writeFile(h.t, filepath.Join(h.dir, name), "")
	poll(h.t, "the watcher to handle sentinel "+name, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		seq, ok := h.sentinel[name]
		return ok && h.idle >= seq
	})
}

// edit runs fn so that no check can observe its intermediate states.
func (h *harness) edit(fn func()) {
	h.gate.Lock()
	defer h.gate.Unlock()
	fn()
}

func (h *harness) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// wantCalls syncs and checks the contents of kong.yml seen by onChange.
func (h *harness) wantCalls(want ...string) {
	h.t.Helper()
	h.sync()
	if got := h.calls(); !slices.Equal(got, want) {
		h.t.Errorf("onChange saw %q, want %q", got, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestEdits(t *testing.T) {
	for _, tt := range []struct {
		name    string
		initial string // missing: no file
		edit    func(t *testing.T, path string)
		want    []string // content of kong.yml seen by each onChange
	}{
		{
			name: "in-place write",
			edit: func(t *testing.T, p string) { writeFile(t, p, "v2") },
			want: []string{"v2"},
		},
		{
			name: "truncate then write",
			edit: func(t *testing.T, p string) {
				must(t, os.Truncate(p, 0))
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				must(t, err)
				_, err = f.WriteString("v2")
				must(t, err)
				must(t, f.Close())
			},
			want: []string{"v2"},
		},
		{
			name: "append",
			edit: func(t *testing.T, p string) {
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				must(t, err)
				_, err = f.WriteString("+")
				must(t, err)
				must(t, f.Close())
			},
			want: []string{"v1+"},
		},
		{
			name: "write temp file then rename over",
			edit: func(t *testing.T, p string) {
				writeFile(t, p+".tmp123", "v2")
				must(t, os.Rename(p+".tmp123", p))
			},
			want: []string{"v2"},
		},
		{
			name: "vim: 4913 probe, backup by rename, write new file, delete backup",
			edit: func(t *testing.T, p string) {
				probe := filepath.Join(filepath.Dir(p), "4913")
				writeFile(t, probe, "")
				must(t, os.Remove(probe))
				must(t, os.Rename(p, p+"~"))
				writeFile(t, p, "v2")
				must(t, os.Remove(p+"~"))
			},
			want: []string{"v2"},
		},
		{
			name: "vim: backup by copy, write in place, delete backup",
			edit: func(t *testing.T, p string) {
				writeFile(t, p+"~", "v1")
				writeFile(t, p, "v2")
				must(t, os.Remove(p+"~"))
			},
			want: []string{"v2"},
		},
		{
			name: "vim: 4913 probe only",
			edit: func(t *testing.T, p string) {
				probe := filepath.Join(filepath.Dir(p), "4913")
				writeFile(t, probe, "")
				must(t, os.Remove(probe))
			},
			want: nil,
		},
		{
			name: "delete",
			edit: func(t *testing.T, p string) { must(t, os.Remove(p)) },
			want: []string{missing},
		},
		{
			name: "delete then re-create with new content",
			edit: func(t *testing.T, p string) {
				must(t, os.Remove(p))
				writeFile(t, p, "v2")
			},
			want: []string{"v2"},
		},
		{
			name: "delete then re-create with identical content",
			edit: func(t *testing.T, p string) {
				must(t, os.Remove(p))
				writeFile(t, p, "v1")
			},
			want: nil,
		},
		{
			name:    "file appears",
			initial: missing,
			edit:    func(t *testing.T, p string) { writeFile(t, p, "v1") },
			want:    []string{"v1"},
		},
		{
			name: "touch",
			edit: func(t *testing.T, p string) {
				now := time.Now().Add(time.Hour)
				must(t, os.Chtimes(p, now, now))
			},
			want: nil,
		},
		{
			name: "chmod",
			edit: func(t *testing.T, p string) { must(t, os.Chmod(p, 0o600)) },
			want: nil,
		},
		{
			name: "rewrite of identical bytes",
			edit: func(t *testing.T, p string) { writeFile(t, p, "v1") },
			want: nil,
		},
		{
			name: "burst of writes",
			edit: func(t *testing.T, p string) {
				for i := range 20 {
					writeFile(t, p, fmt.Sprint("v", i))
				}
			},
			want: []string{"v19"},
		},
		{
			name: "other file in the folder",
			edit: func(t *testing.T, p string) {
				writeFile(t, filepath.Join(filepath.Dir(p), "README"), "hello")
				must(t, os.Rename(filepath.Join(filepath.Dir(p), "README"), filepath.Join(filepath.Dir(p), "README.md")))
			},
			want: nil,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.initial != missing {
				writeFile(t, h.path, "v1")
			}
			h.start(Options{})
			h.edit(func() { tt.edit(t, h.path) })
			h.wantCalls(tt.want...)
		})
	}
}

// Edits one after the other each fire, whatever the edit style.
func TestSuccessiveEdits(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	h.start(Options{})
	writeFile(t, h.path, "v2")
	h.wantCalls("v2")
	must(t, os.Remove(h.path))
	h.wantCalls("v2", missing)
	writeFile(t, h.path, "v3")
	h.wantCalls("v2", missing, "v3")
	h.edit(func() {
		writeFile(t, h.path+".new", "v4")
		must(t, os.Rename(h.path+".new", h.path))
	})
	h.wantCalls("v2", missing, "v3", "v4")
}

// kubelet's AtomicWriter layout: kong.yml -> ..data/kong.yml, ..data -> ..<timestamp>.
type configMap struct {
	t   *testing.T
	dir string
	n   int
	cur string // current timestamped folder
}

// update publishes files the way kubelet does: a new timestamped folder, a
// ..data_tmp symlink to it renamed over ..data, then the old folder removed.
func (c *configMap) update(files map[string]string) {
	c.n++
	ts := fmt.Sprintf("..2026_11_25_00_00_%02d.%d", c.n, 100+c.n)
	must(c.t, os.Mkdir(filepath.Join(c.dir, ts), 0o755))
	for name, content := range files {
		must(c.t, os.MkdirAll(filepath.Dir(filepath.Join(c.dir, ts, name)), 0o755))
		writeFile(c.t, filepath.Join(c.dir, ts, name), content)
	}
	must(c.t, os.Symlink(ts, filepath.Join(c.dir, "..data_tmp")))
	must(c.t, os.Rename(filepath.Join(c.dir, "..data_tmp"), filepath.Join(c.dir, "..data")))
	if c.cur != "" {
		must(c.t, os.RemoveAll(filepath.Join(c.dir, c.cur)))
	} else {
		// One link per top-level name: "functions/auth.lua" gets
		// functions -> ..data/functions.
		for name := range files {
			top, _, _ := strings.Cut(name, "/")
			if _, err := os.Lstat(filepath.Join(c.dir, top)); err == nil {
				continue
			}
			must(c.t, os.Symlink(filepath.Join("..data", top), filepath.Join(c.dir, top)))
		}
	}
	c.cur = ts
}

func TestConfigMapUpdate(t *testing.T) {
	h := newHarness(t)
	cm := &configMap{t: t, dir: h.dir}
	cm.update(map[string]string{"kong.yml": "v1", "other.yml": "a"})
	h.start(Options{})
	h.waitWatched(h.dir, filepath.Join(h.dir, cm.cur))

	old := cm.cur
	h.edit(func() { cm.update(map[string]string{"kong.yml": "v2", "other.yml": "a"}) })
	h.wantCalls("v2")
	// The removed folder is no longer watched, the new one is.
	h.waitWatched(filepath.Join(h.dir, cm.cur))
	h.waitNotWatched(filepath.Join(h.dir, old))

	// Only another key changed: kong.yml's content is the same.
	h.edit(func() { cm.update(map[string]string{"kong.yml": "v2", "other.yml": "b"}) })
	h.wantCalls("v2")

	// Updates without the edit gate: each is seen, however the events split.
	cm.update(map[string]string{"kong.yml": "v3", "other.yml": "b"})
	h.sync()
	cm.update(map[string]string{"kong.yml": "v4", "other.yml": "b"})
	h.wantCalls("v2", "v3", "v4")
}

// A Lua file mounted from a ConfigMap as a nested item, with kong.yml
// elsewhere: functions -> ..data/functions, ..data -> ..<timestamp>.
func TestConfigMapNestedLuaItem(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	cmDir := t.TempDir()
	cm := &configMap{t: t, dir: cmDir}
	cm.update(map[string]string{"functions/auth.lua": "return 1", "functions/other.lua": "return 0"})
	lua := filepath.Join(cmDir, "functions", "auth.lua")
	h.start(Options{})
	h.w.SetFiles([]string{lua})
	h.waitWatched(cmDir, filepath.Join(cmDir, cm.cur, "functions"))
	h.sync()

	for i, tt := range []struct {
		name  string
		files map[string]string
		want  int // onChange calls so far
	}{
		{"referenced file changed", map[string]string{"functions/auth.lua": "return 2", "functions/other.lua": "return 0"}, 1},
		{"only another item changed", map[string]string{"functions/auth.lua": "return 2", "functions/other.lua": "return 1"}, 1},
		{"referenced file removed", map[string]string{"functions/other.lua": "return 1"}, 2},
		{"referenced file back", map[string]string{"functions/auth.lua": "return 3", "functions/other.lua": "return 1"}, 3},
	} {
		h.edit(func() { cm.update(tt.files) })
		h.sync()
		if got := len(h.calls()); got != tt.want {
			t.Fatalf("step %d (%s): onChange called %d times in all, want %d", i, tt.name, got, tt.want)
		}
	}
}

// A referenced Lua file in another folder, edited in the ways editors do.
func TestLuaFileInOtherFolder(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	lib := t.TempDir()
	lua := filepath.Join(lib, "auth.lua")
	writeFile(t, lua, "return 1")
	h.start(Options{})
	h.w.SetFiles([]string{lua})
	h.waitWatched(lib)
	h.sync()

	steps := []struct {
		name string
		edit func()
		want int // onChange calls so far
	}{
		{"in-place write", func() { writeFile(t, lua, "return 2") }, 1},
		{"identical rewrite", func() { writeFile(t, lua, "return 2") }, 1},
		{"touch", func() { now := time.Now().Add(time.Hour); must(t, os.Chtimes(lua, now, now)) }, 1},
		{"rename over", func() {
			writeFile(t, lua+".swp", "return 3")
			must(t, os.Rename(lua+".swp", lua))
		}, 2},
		{"delete", func() { must(t, os.Remove(lua)) }, 3},
		{"re-create", func() { writeFile(t, lua, "return 4") }, 4},
	}
	for _, s := range steps {
		h.edit(s.edit)
		h.sync()
		if got := len(h.calls()); got != s.want {
			t.Fatalf("after %s: onChange called %d times in all, want %d", s.name, got, s.want)
		}
	}
}

// A Lua file that is a symlink into another folder: editing the target in
// place is seen because the target's folder is watched too.
func TestSymlinkedLuaFile(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	shared := t.TempDir()
	target := filepath.Join(shared, "fn.lua")
	writeFile(t, target, "return 1")
	link := filepath.Join(h.dir, "fn.lua")
	must(t, os.Symlink(target, link))
	h.start(Options{})
	h.w.SetFiles([]string{link})
	h.waitWatched(h.dir, shared)
	h.sync()

	writeFile(t, target, "return 2")
	h.sync()
	if got := len(h.calls()); got != 1 {
		t.Fatalf("after editing the symlink target: onChange called %d times, want 1", got)
	}
}

func TestSetFilesChangesWatchedFolders(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	a, b := t.TempDir(), t.TempDir()
	luaA, luaB := filepath.Join(a, "a.lua"), filepath.Join(b, "b.lua")
	writeFile(t, luaA, "return 'a'")
	writeFile(t, luaB, "return 'b'")
	h.start(Options{})
	if got, want := h.w.watchedDirs(), []string{h.dir}; !slices.Equal(got, want) {
		t.Fatalf("watched folders = %q, want %q", got, want)
	}

	h.w.SetFiles([]string{luaA, luaB, luaA, h.path}) // duplicates and kong.yml itself are ignored
	h.waitWatched(h.dir, a, b)
	h.sync()
	if got := len(h.calls()); got != 0 {
		t.Fatalf("SetFiles alone triggered %d onChange calls, want 0", got)
	}

	h.w.SetFiles([]string{luaB})
	h.waitNotWatched(a)
	writeFile(t, luaA, "return 'a2'") // no longer referenced
	h.sync()
	if got := len(h.calls()); got != 0 {
		t.Fatalf("editing a file dropped from the set: onChange called %d times, want 0", got)
	}
	writeFile(t, luaB, "return 'b2'")
	h.sync()
	if got := len(h.calls()); got != 1 {
		t.Fatalf("editing a file in the set: onChange called %d times, want 1", got)
	}

	h.w.SetFiles(nil)
	h.waitNotWatched(b)
	if got, want := h.w.watchedDirs(), []string{h.dir}; !slices.Equal(got, want) {
		t.Errorf("after SetFiles(nil) watched folders = %q, want %q", got, want)
	}
}

// A referenced file whose folder does not exist yet, or is removed and
// re-created: the nearest existing ancestor is watched meanwhile.
func TestFolderAppearsAndDisappears(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	lib := t.TempDir() // not otherwise watched
	fnDir := filepath.Join(lib, "functions", "auth")
	lua := filepath.Join(fnDir, "auth.lua")
	h.start(Options{})
	h.w.SetFiles([]string{lua})
	h.waitWatched(lib)
	h.sync()

	h.edit(func() {
		must(t, os.MkdirAll(fnDir, 0o755))
		writeFile(t, lua, "return 1")
	})
	h.sync()
	if got := len(h.calls()); got != 1 {
		t.Fatalf("file created in a new folder: onChange called %d times, want 1", got)
	}
	h.waitWatched(fnDir)

	must(t, os.RemoveAll(filepath.Join(lib, "functions")))
	h.sync()
	if got := len(h.calls()); got != 2 {
		t.Fatalf("folder removed: onChange called %d times, want 2", got)
	}
	h.waitNotWatched(fnDir)
	h.waitWatched(lib)

	// Without the edit gate: the folders and file appear step by step.
	must(t, os.MkdirAll(fnDir, 0o755))
	writeFile(t, lua, "return 2")
	h.sync()
	poll(t, "the re-created file to be seen", func() bool { return len(h.calls()) == 3 })
	writeFile(t, lua, "return 3")
	h.sync()
	if got := len(h.calls()); got != 4 {
		t.Fatalf("edit in the re-created folder: onChange called %d times, want 4", got)
	}
}

// With file notifications unavailable, the backstop alone sees changes.
func TestBackstopWithoutNotifications(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kong.yml")
	writeFile(t, path, "v1")
	w, err := New(Options{Path: path, Debounce: testDebounce, Backstop: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.newNotifier = func() (notifier, error) { return nil, errors.New("inotify disabled for the test") }
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, func() { calls.Add(1) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	}()

	writeFile(t, path, "v2")
	poll(t, "the backstop to see the change", func() bool { return calls.Load() == 1 })
	if got := w.watchedDirs(); got != nil {
		t.Errorf("watched folders without notifications = %q, want none", got)
	}
}

// A lost event (here: the only watched folder is one that never changes) is
// caught by the backstop while notifications work.
func TestBackstopCatchesLostEvent(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	h.start(Options{Backstop: 10 * time.Millisecond})
	// Drop the watch behind the watcher's back; the next check restores it.
	h.w.mu.Lock()
	n := h.w.notify
	h.w.mu.Unlock()
	h.edit(func() {
		must(t, n.Remove(h.dir))
		writeFile(t, h.path, "v2")
	})
	poll(t, "the backstop to see the change", func() bool { return len(h.calls()) == 1 })
	h.waitWatched(h.dir)
	h.wantCalls("v2")
}

func TestRunErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kong.yml")
	t.Run("notifications unavailable and no backstop", func(t *testing.T) {
		w, err := New(Options{Path: path, Backstop: -1})
		if err != nil {
			t.Fatal(err)
		}
		w.newNotifier = func() (notifier, error) { return nil, errors.New("too many open files") }
		err = w.Run(context.Background(), func() {})
		if err == nil || !strings.Contains(err.Error(), "too many open files") || !strings.Contains(err.Error(), path) {
			t.Errorf("Run error = %v, want one naming the cause and %s", err, path)
		}
	})
	t.Run("second Run", func(t *testing.T) {
		w, err := New(Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := w.Run(ctx, func() {}); err != nil {
			t.Fatalf("first Run = %v, want nil", err)
		}
		if err := w.Run(ctx, func() {}); err == nil || !strings.Contains(err.Error(), "more than once") {
			t.Errorf("second Run error = %v, want 'more than once'", err)
		}
	})
	t.Run("nil onChange", func(t *testing.T) {
		w, err := New(Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Run(context.Background(), nil); err == nil {
			t.Error("Run(nil) = nil, want an error")
		}
	})
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"empty path", Options{}, "Options.Path is empty"},
		{"negative debounce", Options{Path: "kong.yml", Debounce: -time.Second}, "Options.Debounce is negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) error = %v, want %q", tt.opts, err, tt.want)
			}
		})
	}
}

func TestRelativePathIsMadeAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	w, err := New(Options{Path: "kong.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "kong.yml"); w.path != want {
		t.Errorf("path = %q, want %q", w.path, want)
	}
	w.SetFiles([]string{"functions/a.lua"})
	if got, want := w.files(), []string{filepath.Join(dir, "kong.yml"), filepath.Join(dir, "functions", "a.lua")}; !slices.Equal(got, want) {
		t.Errorf("files() = %q, want %q", got, want)
	}
}

// The gateway calls SetFiles after each reload, often from inside onChange,
// and possibly from other goroutines at the same time. Run with -race.
func TestSetFilesConcurrentAndFromOnChange(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.path, "v1")
	lib := t.TempDir()
	var files []string
	for i := range 4 {
		f := filepath.Join(lib, fmt.Sprintf("f%d.lua", i))
		writeFile(t, f, "return 0")
		files = append(files, f)
	}
	h.onChange = func() { h.w.SetFiles(files) }
	h.start(Options{})

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				h.w.SetFiles(files[:(i+j)%len(files)+1])
			}
		})
	}
	writeFile(t, h.path, "v2")
	wg.Wait()
	h.w.SetFiles(files)
	h.waitWatched(lib)
	h.wantCalls("v2")

	writeFile(t, files[3], "return 1")
	h.sync()
	if got := len(h.calls()); got != 2 {
		t.Errorf("after editing %s: onChange called %d times in all, want 2", files[3], got)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		h := newHarness(t)
		writeFile(t, h.path, "v1")
		lua := filepath.Join(t.TempDir(), "fn.lua")
		writeFile(t, lua, "return 1")
		h.start(Options{Backstop: 5 * time.Millisecond})
		h.w.SetFiles([]string{lua})
		writeFile(t, h.path, "v2")
		h.wantCalls("v2")
		h.stop()
	}
	var after int
	deadline := time.Now().Add(pollLimit)
	for after = runtime.NumGoroutine(); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(time.Millisecond)
	}
	if after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Run returned\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func TestWatchDirs(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	mk := func(p string) string {
		p = filepath.Join(root, p)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		writeFile(t, p, "x")
		return p
	}
	link := func(target, name string) string {
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.Symlink(target, p))
		return p
	}
	plain := mk("a/kong.yml")
	otherFile := mk("b/fn.lua")
	linked := link(filepath.Join(root, "b", "fn.lua"), "c/fn.lua")
	mk("cm/..2026_01_01/kong.yml")
	link("..2026_01_01", "cm/..data")
	cmFile := link("..data/kong.yml", "cm/kong.yml")
	link(filepath.Join(root, "a"), "alias")
	viaDirLink := filepath.Join(root, "alias", "kong.yml")
	dangling := link(filepath.Join(root, "nowhere", "x.lua"), "d/x.lua")
	link("../b/fn.lua", "e/mid.lua")
	chain := link("../e/mid.lua", "f/fn.lua")
	mk("nested/..2026_01_01/functions/auth.lua")
	link("..2026_01_01", "nested/..data")
	link("..data/functions", "nested/functions")
	nestedItem := filepath.Join(root, "nested", "functions", "auth.lua")

	for _, tt := range []struct {
		name  string
		files []string
		want  []string // relative to root
	}{
		{"plain file", []string{plain}, []string{"a"}},
		{"missing file in existing folder", []string{filepath.Join(root, "a", "gone.lua")}, []string{"a"}},
		{"missing folders: nearest existing ancestor", []string{filepath.Join(root, "a", "x", "y", "f.lua")}, []string{"a"}},
		{"two folders", []string{plain, otherFile}, []string{"a", "b"}},
		{"symlink into another folder", []string{linked}, []string{"b", "c"}},
		{"kubelet layout", []string{cmFile}, []string{"cm", "cm/..2026_01_01"}},
		{"folder reached through a symlink: the link's folder too", []string{viaDirLink}, []string{".", "a"}},
		{"chain of relative symlinks", []string{chain}, []string{"b", "e", "f"}},
		{"kubelet nested item", []string{nestedItem}, []string{"nested", "nested/..2026_01_01/functions"}},
		{"dangling symlink: the target folder's nearest ancestor", []string{dangling}, []string{".", "d"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for d := range watchDirs(tt.files) {
				rel, err := filepath.Rel(root, d)
				must(t, err)
				got = append(got, filepath.ToSlash(rel))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("watchDirs(%q) = %q, want %q", tt.files, got, tt.want)
			}
		})
	}
}

func TestHashFileStates(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	writeFile(t, a, "same")
	writeFile(t, b, "same")
	if hashFile(a) != hashFile(b) {
		t.Error("files with identical bytes hash differently")
	}
	writeFile(t, b, "diff")
	if hashFile(a) == hashFile(b) {
		t.Error("files with different bytes hash the same")
	}
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "")
	if got := hashFile(filepath.Join(dir, "nope")); got.status != statusMissing {
		t.Errorf("missing file status = %d, want statusMissing", got.status)
	}
	if hashFile(empty) == hashFile(filepath.Join(dir, "nope")) {
		t.Error("an empty file and a missing file compare equal")
	}
	if got := hashFile(dir); got.status != statusError {
		t.Errorf("folder status = %d, want statusError", got.status)
	}
}

// Concurrent SetFiles calls must leave a real baseline for every file: a
// missing one would make the next check report a change that did not happen.
func TestSetFilesConcurrentBaselines(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Options{Path: filepath.Join(dir, "kong.yml")})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := range 6 {
		f := filepath.Join(dir, fmt.Sprintf("f%d.lua", i))
		writeFile(t, f, fmt.Sprint("return ", i))
		files = append(files, f)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				if (i+j)%2 == 0 {
					w.SetFiles(files)
				} else {
					w.SetFiles(files[i : i+2])
				}
			}
		})
	}
	wg.Wait()
	w.SetFiles(files)
	for _, f := range files {
		if got, want := w.state[f], hashFile(f); got != want {
			t.Errorf("baseline of %s = %+v, want %+v", filepath.Base(f), got, want)
		}
	}
}
