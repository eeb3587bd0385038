// Package watch tells the gateway when kong.yml, or a Lua file that kong.yml
// references, has changed in content.
//
// The package knows nothing of the config format. The gateway passes the path
// of kong.yml to New and, after each successful load, the absolute paths of the
// referenced Lua files to SetFiles. Run then calls its onChange callback, from
// one goroutine and never concurrently, whenever the content of one of those
// files may have changed.
//
// How it works (style.md C8):
//
//   - It watches DIRECTORIES, never the files themselves, so an editor that
//     writes a temp file and renames it over the original, vim's backup and
//     "4913" probe dance, a delete then re-create, and a Kubernetes ConfigMap
//     update (kubelet swaps the "..data" symlink, so no event names kong.yml)
//     are all seen. The watched set is the folder of every file, plus the
//     folders of every symlink on the way to its target and of the target
//     itself, re-resolved at each check. A folder that does not exist is
//     replaced by its nearest existing ancestor until it appears.
//   - Every event in a watched folder except a bare Chmod (re)starts a
//     debounce timer (Options.Debounce, 100ms by default). A steady stream of
//     events cannot postpone the check for more than ten debounce periods.
//   - When the timer fires, symlinks are resolved again, every watched file is
//     read and hashed with SHA-256, and onChange is called only if a hash
//     differs from the last one seen, or a file appeared or disappeared. A
//     touch, a chmod or a rewrite of identical bytes therefore never reloads,
//     and a truncate followed by a write within the debounce period reloads
//     once, with the final content.
//   - A periodic re-check (Options.Backstop, 5s by default) does the same
//     hashing without any event, to catch events the kernel dropped, watches
//     that could not be added, and changes that no watched folder sees.
//     If inotify is unavailable (for example fs.inotify.max_user_instances is
//     exhausted) Run logs a warning and relies on the backstop alone.
//
// The baseline hash of kong.yml is taken by New, and that of each file passed
// to SetFiles when SetFiles first sees it, so create the Watcher before the
// first load of kong.yml, and call SetFiles as soon as a load succeeds.
package watch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// DefaultDebounce is used when Options.Debounce is zero.
	DefaultDebounce = 100 * time.Millisecond
	// DefaultBackstop is used when Options.Backstop is zero.
	DefaultBackstop = 5 * time.Second
	// maxWaitFactor bounds how long a continuous stream of events can delay a
	// check: at most maxWaitFactor*Debounce after the first event of a burst.
	maxWaitFactor = 10
)

// Options configures a Watcher.
type Options struct {
	// Path is the kong.yml file. A relative path is made absolute against the
	// current directory.
	Path string
	// Debounce is how long the watcher waits after the last event before it
	// re-hashes the files. Zero means DefaultDebounce.
	Debounce time.Duration
	// Backstop is the interval of the periodic re-check that runs without any
	// event. Zero means DefaultBackstop; a negative value disables it.
	Backstop time.Duration
	// Logger receives the watcher's logs; nil discards them.
	Logger *slog.Logger
}

// Watcher watches kong.yml and the files given to SetFiles. Create it with New.
// SetFiles is safe for concurrent use; Run may be called once.
type Watcher struct {
	path     string
	debounce time.Duration
	maxWait  time.Duration
	backstop time.Duration // <= 0: disabled
	log      *slog.Logger

	// newNotifier creates the event source; tests replace it.
	newNotifier func() (notifier, error)
	// hooks lets tests observe and pace the loop; zero in production.
	hooks testHooks

	started atomic.Bool
	filesCh chan struct{} // SetFiles -> Run: the file set changed

	// setMu serialises SetFiles calls, so that between its two critical
	// sections on mu only check can touch state, and check never removes
	// entries.
	setMu sync.Mutex

	mu     sync.Mutex
	extra  []string             // SetFiles paths, cleaned and deduplicated, without path
	state  map[string]fileState // last seen state of path and of every extra file
	notify notifier             // set while Run is active, for watchedDirs

	failedAdd map[string]string // dir -> last Add error logged; loop goroutine only
}

// testHooks are called from the Run goroutine.
type testHooks struct {
	// event sees every event received (seq counts them) before filtering,
	// and may swallow it.
	event func(seq uint64, ev fsnotify.Event) (swallow bool)
	// idle is called when the loop is about to wait with no check pending:
	// every event up to seq has been handled.
	idle func(seq uint64)
	// beforeCheck is called before a check reads anything.
	beforeCheck func()
}

// New returns a Watcher for opts.Path. It records the current content hash of
// the file (which may not exist yet) as the baseline for change detection.
func New(opts Options) (*Watcher, error) {
	if opts.Path == "" {
		return nil, errors.New("watch: Options.Path is empty")
	}
	if opts.Debounce < 0 {
		return nil, fmt.Errorf("watch: Options.Debounce is negative (%s)", opts.Debounce)
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("watch: making %q absolute: %w", opts.Path, err)
	}
	w := &Watcher{
		path:        path,
		debounce:    opts.Debounce,
		backstop:    opts.Backstop,
		log:         opts.Logger,
		newNotifier: newFSNotifier,
		filesCh:     make(chan struct{}, 1),
		state:       map[string]fileState{path: hashFile(path)},
		failedAdd:   map[string]string{},
	}
	if w.debounce == 0 {
		w.debounce = DefaultDebounce
	}
	w.maxWait = maxWaitFactor * w.debounce
	if w.backstop == 0 {
		w.backstop = DefaultBackstop
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("component", "watch")
	return w, nil
}

// SetFiles replaces the set of extra files watched (absolute paths of the Lua
// files kong.yml references). Files that were not in the previous set get
// their current content as baseline, so adding a file does not by itself
// trigger onChange. It is safe to call at any time from any goroutine,
// including from inside onChange.
func (w *Watcher) SetFiles(files []string) {
	clean := make([]string, 0, len(files))
	for _, f := range files {
		if f == "" {
			continue
		}
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		} else {
			f = filepath.Clean(f)
		}
		if f != w.path {
			clean = append(clean, f)
		}
	}
	slices.Sort(clean)
	clean = slices.Compact(clean)

	w.setMu.Lock()
	defer w.setMu.Unlock()
	// Hash new files outside mu, so as not to block a check; they are few
	// and usually small.
	w.mu.Lock()
	var fresh []string
	for _, f := range clean {
		if _, ok := w.state[f]; !ok {
			fresh = append(fresh, f)
		}
	}
	w.mu.Unlock()
	sums := make(map[string]fileState, len(fresh))
	for _, f := range fresh {
		sums[f] = hashFile(f)
	}

	w.mu.Lock()
	state := make(map[string]fileState, len(clean)+1)
	state[w.path] = w.state[w.path]
	for _, f := range clean {
		if s, ok := w.state[f]; ok {
			state[f] = s
		} else {
			state[f] = sums[f]
		}
	}
	w.state = state
	w.extra = clean
	w.mu.Unlock()

	select {
	case w.filesCh <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Run watches until ctx is done, calling onChange each time the content of
// Path or of one of the files given to SetFiles may have changed, after
// debouncing. onChange is called from the goroutine that called Run, never
// concurrently; while it runs, new events are queued and handled afterwards.
// Run returns nil when ctx is done. It returns an error if it is called more
// than once, or if file notifications cannot be set up and the backstop is
// disabled.
func (w *Watcher) Run(ctx context.Context, onChange func()) error {
	if onChange == nil {
		return errors.New("watch: Run needs a non-nil onChange")
	}
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("watch: Run called more than once")
	}

	var events <-chan fsnotify.Event
	var errs <-chan error
	n, err := w.newNotifier()
	if err != nil {
		if w.backstop <= 0 {
			return fmt.Errorf("watch: starting file notifications for %s: %w", w.path, err)
		}
		w.log.Warn("file notifications unavailable, falling back to periodic re-checks",
			slog.Any("error", err), "interval_seconds", w.backstop.Seconds())
		n = nil
	} else {
		defer func() {
			w.mu.Lock()
			w.notify = nil
			w.mu.Unlock()
			if err := n.Close(); err != nil {
				w.log.Warn("closing file notifications", slog.Any("error", err))
			}
		}()
		w.mu.Lock()
		w.notify = n
		w.mu.Unlock()
		events, errs = n.Events(), n.Errors()
		w.reconcile(n, w.files())
	}

	var backstop <-chan time.Time
	if w.backstop > 0 {
		t := time.NewTicker(w.backstop)
		defer t.Stop()
		backstop = t.C
	}

	// The debounce timer. pending is true while it is armed; burstStart is
	// the time of the first event since the last check.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var (
		pending    bool
		burstStart time.Time
		seq        uint64 // events received
	)
	arm := func() {
		now := time.Now()
		if !pending {
			pending = true
			burstStart = now
		}
		d := w.debounce
		if left := burstStart.Add(w.maxWait).Sub(now); left < d {
			d = max(left, 0)
		}
		timer.Reset(d)
	}
	check := func() {
		pending = false
		timer.Stop()
		w.check(n, onChange)
	}

	// Catch changes made between New (or SetFiles) and the watches being set up.
	arm()
	for {
		if h := w.hooks.idle; h != nil && !pending {
			h(seq)
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				w.log.Error("file notifications stopped unexpectedly; relying on periodic re-checks",
					"interval_seconds", max(w.backstop, 0).Seconds())
				events = nil
				continue
			}
			seq++
			if h := w.hooks.event; h != nil && h(seq, ev) {
				continue
			}
			if ev.Op == fsnotify.Chmod {
				continue // touch, chmod: content cannot have changed
			}
			arm()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// ErrEventOverflow means events were lost; either way re-check.
			w.log.Warn("file notification error; re-checking files", slog.Any("error", err))
			arm()
		case <-w.filesCh:
			if n != nil {
				w.reconcile(n, w.files())
			}
			// A file may have changed between SetFiles and its folder being
			// watched.
			arm()
		case <-timer.C:
			check()
		case <-backstop:
			check()
		}
	}
}

// check re-resolves the watched folders, hashes every file and calls onChange
// if any state differs from the recorded one.
func (w *Watcher) check(n notifier, onChange func()) {
	if h := w.hooks.beforeCheck; h != nil {
		h()
	}
	files := w.files()
	if n != nil {
		// Before reading, so that a change after the read is an event.
		w.reconcile(n, files)
	}
	sums := make([]fileState, len(files))
	for i, f := range files {
		sums[i] = hashFile(f)
	}

	var changed []string
	w.mu.Lock()
	for i, f := range files {
		old, ok := w.state[f]
		if !ok {
			continue // dropped by a concurrent SetFiles
		}
		if old != sums[i] {
			w.state[f] = sums[i]
			changed = append(changed, f)
		}
	}
	w.mu.Unlock()

	if len(changed) > 0 {
		w.log.Info("watched files changed", "files", changed)
		onChange()
	}
}

// files returns Path followed by the extra files.
func (w *Watcher) files() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{w.path}, w.extra...)
}

// reconcile makes the set of watched folders match what files need.
func (w *Watcher) reconcile(n notifier, files []string) {
	want := watchDirs(files)
	have := map[string]bool{}
	for _, d := range n.WatchList() {
		have[d] = true
	}
	for d := range have {
		if !want[d] {
			// The folder may already be gone, which removed the watch.
			if err := n.Remove(d); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
				w.log.Debug("removing folder watch", "dir", d, slog.Any("error", err))
			}
		}
	}
	for d := range want {
		if have[d] {
			continue
		}
		if err := n.Add(d); err != nil {
			if msg := err.Error(); w.failedAdd[d] != msg {
				w.failedAdd[d] = msg
				w.log.Warn("cannot watch folder; changes in it are seen by the periodic re-check only",
					"dir", d, slog.Any("error", err))
			}
			continue
		}
		delete(w.failedAdd, d)
	}
	for d := range w.failedAdd {
		if !want[d] {
			delete(w.failedAdd, d)
		}
	}
}

// watchedDirs returns the folders currently watched, sorted (for tests and
// diagnostics). It is nil when Run is not active.
func (w *Watcher) watchedDirs() []string {
	w.mu.Lock()
	n := w.notify
	w.mu.Unlock()
	if n == nil {
		return nil
	}
	dirs := n.WatchList()
	slices.Sort(dirs)
	return dirs
}

// watchDirs returns the folders to watch for files. See addFileDirs.
func watchDirs(files []string) map[string]bool {
	dirs := map[string]bool{}
	for _, f := range files {
		addFileDirs(dirs, f)
	}
	return dirs
}

// maxSymlinkHops bounds symlink chains, as the kernel's ELOOP limit does.
const maxSymlinkHops = 40

// addFileDirs adds the folders in which a change can change what reading path
// returns: the folder of path, of each symlink on the way to its target
// (following the chain link by link), of each symlinked folder in those paths
// (kubelet's nested items: functions -> ..data/functions) and of the final
// target. Each folder is added with symlinks resolved, so that a swapped
// folder symlink yields a new name to watch, or as its nearest existing
// ancestor when it does not exist.
func addFileDirs(dirs map[string]bool, path string) {
	p := path
	for range maxSymlinkHops {
		dir := filepath.Dir(p)
		dirs[existingDir(dir)] = true
		for a := dir; filepath.Dir(a) != a; a = filepath.Dir(a) {
			if fi, err := os.Lstat(a); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				dirs[existingDir(filepath.Dir(a))] = true
			}
		}
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			// Relative to the folder holding the link, as the kernel
			// resolves it: physically, not lexically.
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				dir = real
			}
			target = filepath.Join(dir, target)
		}
		p = target
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		dirs[existingDir(filepath.Dir(real))] = true
	}
}

// existingDir returns dir with symlinks resolved, or the nearest ancestor of
// dir that exists as a folder, resolved.
func existingDir(dir string) string {
	for {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				return real
			}
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// fileState is what a check compares: whether the file could be read, and
// the SHA-256 of its content.
type fileState struct {
	status fileStatus
	sum    [sha256.Size]byte
}

type fileStatus uint8

const (
	statusOK      fileStatus = iota + 1
	statusMissing            // does not exist (or a dangling symlink)
	statusError              // exists but cannot be read; sum hashes the error text
)

func hashFile(path string) fileState {
	f, err := os.Open(path)
	if err != nil {
		return errState(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return errState(err)
	}
	s := fileState{status: statusOK}
	h.Sum(s.sum[:0])
	return s
}

func errState(err error) fileState {
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{status: statusMissing}
	}
	var pe *fs.PathError
	msg := err.Error()
	if errors.As(err, &pe) {
		msg = pe.Err.Error() // the path is the same every time; keep the cause
	}
	return fileState{status: statusError, sum: sha256.Sum256([]byte(msg))}
}

// notifier is the part of *fsnotify.Watcher that Run uses.
type notifier interface {
	Add(dir string) error
	Remove(dir string) error
	WatchList() []string
	Events() <-chan fsnotify.Event
	Errors() <-chan error
	Close() error
}

type fsNotifier struct{ *fsnotify.Watcher }

func newFSNotifier() (notifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return fsNotifier{w}, nil
}

func (n fsNotifier) Events() <-chan fsnotify.Event { return n.Watcher.Events }
func (n fsNotifier) Errors() <-chan error          { return n.Watcher.Errors }
