package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

// These tests drive Run's loop with a fake event source inside a synctest
// bubble, so the debounce, max-wait and backstop timings are exact and the
// tests take no real time. The files themselves are real.

// fakeNotifier is a notifier whose events the test sends by hand.
type fakeNotifier struct {
	events chan fsnotify.Event
	errs   chan error

	mu   sync.Mutex
	dirs map[string]bool
}

func newFakeNotifier() *fakeNotifier {
	return &fakeNotifier{events: make(chan fsnotify.Event), errs: make(chan error), dirs: map[string]bool{}}
}

func (f *fakeNotifier) Add(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dirs[dir] = true
	return nil
}

func (f *fakeNotifier) Remove(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dirs[dir] {
		return fsnotify.ErrNonExistentWatch
	}
	delete(f.dirs, dir)
	return nil
}

func (f *fakeNotifier) WatchList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var l []string
	for d := range f.dirs {
		l = append(l, d)
	}
	return l
}

func (f *fakeNotifier) Events() <-chan fsnotify.Event { return f.events }
func (f *fakeNotifier) Errors() <-chan error          { return f.errs }
func (f *fakeNotifier) Close() error                  { return nil }

const missing = "<missing>"

func readOrMissing(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return missing
	}
	return string(b)
}

// fakeEnv is one Run inside a bubble, with kong.yml at path.
type fakeEnv struct {
	t      *testing.T
	path   string
	fake   *fakeNotifier
	w      *Watcher
	mu     sync.Mutex
	seen   []string // content of path at each onChange
	cancel context.CancelFunc
	done   chan error
}

func startFake(t *testing.T, opts Options, initial string) *fakeEnv {
	t.Helper()
	e := &fakeEnv{t: t, path: filepath.Join(t.TempDir(), "kong.yml"), fake: newFakeNotifier(), done: make(chan error, 1)}
	if initial != missing {
		if err := os.WriteFile(e.path, []byte(initial), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts.Path = e.path
	opts.Logger = slog.New(slog.DiscardHandler)
	w, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w.newNotifier = func() (notifier, error) { return e.fake, nil }
	e.w = w
	ctx, cancel := context.WithCancel(t.Context())
	e.cancel = cancel
	go func() {
		e.done <- w.Run(ctx, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.seen = append(e.seen, readOrMissing(e.path))
		})
	}()
	// Let the initial check (one debounce after start) pass.
	time.Sleep(w.maxWait + time.Millisecond)
	synctest.Wait()
	if got := e.calls(); len(got) != 0 {
		t.Fatalf("onChange called %d times before any edit: %q", len(got), got)
	}
	return e
}

func (e *fakeEnv) calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen)
}

func (e *fakeEnv) stop() {
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("Run returned %v, want nil", err)
	}
}

func (e *fakeEnv) write(s string) {
	if err := os.WriteFile(e.path, []byte(s), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fakeEnv) event(op fsnotify.Op) { e.fake.events <- fsnotify.Event{Name: e.path, Op: op} }

// step is one scripted action in a bubble.
type step func(e *fakeEnv)

func write(s string) step        { return func(e *fakeEnv) { e.write(s) } }
func event(op fsnotify.Op) step  { return func(e *fakeEnv) { e.event(op) } }
func sleep(d time.Duration) step { return func(*fakeEnv) { time.Sleep(d) } }
func notifyErr(err error) step   { return func(e *fakeEnv) { e.fake.errs <- err } }
func repeat(n int, f func(i int) step) []step {
	var s []step
	for i := range n {
		s = append(s, f(i))
	}
	return s
}

var remove step = func(e *fakeEnv) {
	if err := os.Remove(e.path); err != nil {
		e.t.Fatal(err)
	}
}

func TestLoopTiming(t *testing.T) {
	const debounce = 100 * time.Millisecond
	for _, tt := range []struct {
		name     string
		backstop time.Duration
		initial  string
		steps    []step
		want     []string // content of kong.yml seen by each onChange
	}{
		{
			name:  "truncate then write within debounce fires once with final content",
			steps: []step{write(""), event(fsnotify.Write), sleep(debounce / 2), write("v2"), event(fsnotify.Write)},
			want:  []string{"v2"},
		},
		{
			name:  "truncate then write after debounce sees the empty file",
			steps: []step{write(""), event(fsnotify.Write), sleep(debounce + time.Millisecond), write("v2"), event(fsnotify.Write)},
			want:  []string{"", "v2"},
		},
		{
			name:  "chmod-only event does not trigger a check",
			steps: []step{write("v2"), event(fsnotify.Chmod)},
			want:  nil,
		},
		{
			name:  "chmod combined with write triggers a check",
			steps: []step{write("v2"), event(fsnotify.Chmod | fsnotify.Write)},
			want:  []string{"v2"},
		},
		{
			name:  "rewrite of identical bytes",
			steps: []step{write("v1"), event(fsnotify.Write)},
			want:  nil,
		},
		{
			name:  "remove",
			steps: []step{remove, event(fsnotify.Remove)},
			want:  []string{missing},
		},
		{
			name:  "remove and re-create identical within debounce",
			steps: []step{remove, event(fsnotify.Remove), sleep(debounce / 2), write("v1"), event(fsnotify.Create)},
			want:  nil,
		},
		{
			name:    "file appears",
			initial: missing,
			steps:   []step{write("v1"), event(fsnotify.Create)},
			want:    []string{"v1"},
		},
		{
			name: "burst shorter than max wait coalesces",
			steps: repeat(15, func(i int) step {
				return func(e *fakeEnv) {
					e.write(fmt.Sprint("v", i))
					e.event(fsnotify.Write)
					time.Sleep(debounce / 2)
				}
			}),
			want: []string{"v14"},
		},
		{
			// 15 events 99ms apart last 1.485s; max wait is 1s, so the first
			// check runs 1s after the first event (after event 11, i=10).
			name: "continuous events cannot postpone the check past max wait",
			steps: repeat(15, func(i int) step {
				return func(e *fakeEnv) {
					e.write(fmt.Sprint("v", i))
					e.event(fsnotify.Write)
					time.Sleep(debounce - time.Millisecond)
				}
			}),
			want: []string{"v10", "v14"},
		},
		{
			name:  "event overflow error triggers a check",
			steps: []step{write("v2"), notifyErr(fsnotify.ErrEventOverflow)},
			want:  []string{"v2"},
		},
		{
			name:  "other notification error triggers a check",
			steps: []step{write("v2"), notifyErr(errors.New("read error"))},
			want:  []string{"v2"},
		},
		{
			name:     "backstop catches a change without event",
			backstop: 3 * time.Second,
			steps:    []step{write("v2")},
			want:     []string{"v2"},
		},
		{
			name:     "backstop does not fire for unchanged content",
			backstop: time.Second,
			steps:    []step{sleep(5 * time.Second)},
			want:     nil,
		},
		{
			name:  "no backstop: a change without event goes unseen",
			steps: []step{write("v2"), sleep(10 * time.Second)},
			want:  nil,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				backstop := tt.backstop
				if backstop == 0 {
					backstop = -1
				}
				initial := tt.initial
				if initial == "" {
					initial = "v1"
				}
				e := startFake(t, Options{Debounce: debounce, Backstop: backstop}, initial)
				defer e.stop()
				for _, s := range tt.steps {
					s(e)
				}
				time.Sleep(max(10*time.Second, 2*tt.backstop))
				synctest.Wait()
				if got := e.calls(); !slices.Equal(got, tt.want) {
					t.Errorf("onChange saw %q, want %q", got, tt.want)
				}
			})
		})
	}
}

// The check runs exactly one debounce period after the last event.
func TestLoopDebounceDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const debounce = 100 * time.Millisecond
		e := startFake(t, Options{Debounce: debounce, Backstop: -1}, "v1")
		defer e.stop()
		e.write("v2")
		e.event(fsnotify.Write)
		time.Sleep(debounce / 2)
		e.event(fsnotify.Write)
		time.Sleep(debounce - time.Nanosecond)
		synctest.Wait()
		if got := e.calls(); len(got) != 0 {
			t.Fatalf("onChange called %d times before the debounce period ended, want 0", len(got))
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := e.calls(); !slices.Equal(got, []string{"v2"}) {
			t.Fatalf("onChange saw %q at the end of the debounce period, want [v2]", got)
		}
	})
}

// The defaults apply when Options leaves Debounce and Backstop zero.
func TestLoopDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := startFake(t, Options{}, "v1")
		defer e.stop()
		if e.w.debounce != DefaultDebounce || e.w.backstop != DefaultBackstop {
			t.Fatalf("debounce, backstop = %v, %v; want %v, %v", e.w.debounce, e.w.backstop, DefaultDebounce, DefaultBackstop)
		}
		e.write("v2") // no event: only the backstop can see it
		// startFake let maxWait+1ms pass; the first tick is DefaultBackstop after Run started.
		time.Sleep(DefaultBackstop - e.w.maxWait - 2*time.Millisecond)
		synctest.Wait()
		if got := e.calls(); len(got) != 0 {
			t.Fatalf("onChange called before the backstop interval: %q", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := e.calls(); !slices.Equal(got, []string{"v2"}) {
			t.Fatalf("onChange saw %q after the backstop interval, want [v2]", got)
		}
	})
}

// A file that changes between SetFiles and its folder being watched is caught
// by the check that SetFiles schedules; the fake notifier sees the folders.
func TestLoopSetFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := startFake(t, Options{Debounce: 10 * time.Millisecond, Backstop: -1}, "v1")
		defer e.stop()
		other := t.TempDir()
		lua := filepath.Join(other, "fn.lua")
		if err := os.WriteFile(lua, []byte("return 1"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.w.SetFiles([]string{lua})
		if err := os.WriteFile(lua, []byte("return 2"), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := e.calls(); len(got) != 1 {
			t.Errorf("onChange called %d times after the Lua file changed, want 1", len(got))
		}
		dirs := e.w.watchedDirs()
		if want := []string{filepath.Dir(e.path), other}; !sameSet(dirs, want) {
			t.Errorf("watched folders = %q, want %q", dirs, want)
		}

		e.w.SetFiles(nil)
		time.Sleep(time.Second)
		synctest.Wait()
		if dirs, want := e.w.watchedDirs(), []string{filepath.Dir(e.path)}; !sameSet(dirs, want) {
			t.Errorf("after SetFiles(nil) watched folders = %q, want %q", dirs, want)
		}
		if err := os.WriteFile(lua, []byte("return 3"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.event(fsnotify.Write)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := e.calls(); len(got) != 1 {
			t.Errorf("onChange called %d times in all, want 1 (a file no longer in the set changed)", len(got))
		}
	})
}

func sameSet(got, want []string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}
