package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"luagate/declarative"
	"luagate/gateway/admin"
	"luagate/gateway/watch"
)

// The reload loop (style.md C8). One goroutine, started by Run, owns every
// configuration change after startup: the file watcher, SIGHUP (Reload)
// and Admin API writes (WriteConfig) all send it requests. While the loop is
// not running (before Run, after it returns) the same requests are handled
// in the caller, under the same lock, so they are serialised either way.

// ReloadStats are the reload counters and the outcome of the last reload,
// for GET /status and metrics.
type ReloadStats struct {
	Attempts  uint64 // reloads that loaded a config (no-ops excluded)
	Successes uint64
	Failures  uint64
	Skipped   uint64 // no-op reloads: same configuration hash

	// LastReloadAt is when the last attempt finished (zero before any).
	LastReloadAt time.Time
	// LastSuccessful is true when the last attempt was applied (and true
	// before any attempt).
	LastSuccessful bool
	// LastError is the rendered error of the last attempt ("" on success).
	LastError string
	// LastSuccessAt is when a config was last applied by a reload.
	LastSuccessAt time.Time
}

// reloadState is the Gateway's reload machinery; its zero value is ready.
type reloadState struct {
	mu sync.Mutex // held while a reload is handled

	statsMu sync.Mutex
	stats   ReloadStats

	running atomic.Pointer[reloadLoop] // set while the loop goroutine runs
	watcher atomic.Pointer[watch.Watcher]

	// beforeSwap, when set (tests), runs after a new snapshot is built and
	// the file is written, before the swap.
	beforeSwap func()

	observer atomic.Pointer[func(cfg *declarative.Config, err error)]
}

// SetReloadObserver registers f (nil removes it), called from the reload
// loop after every reload attempt, no-ops excluded: with the applied config
// on success, with the error otherwise (for metrics). f must not block.
func (g *Gateway) SetReloadObserver(f func(cfg *declarative.Config, err error)) {
	if f == nil {
		g.reload.observer.Store(nil)
		return
	}
	g.reload.observer.Store(&f)
}

type reloadLoop struct {
	reqs chan *reloadReq
	kick chan struct{} // file changed: coalesced, newest wins
	done chan struct{}
}

// reloadReq is one request to the loop.
type reloadReq struct {
	source string // "watch", "signal", "admin"
	// text, when non-nil, is a new kong.yml to validate, write atomically
	// and apply (Admin API). nil means "read the file again".
	text  []byte
	reply chan reloadResult
}

type reloadResult struct {
	cfg     *declarative.Config // the config serving after the request
	changed bool
	err     error
}

// ErrNoConfigFile is returned by Reload when no declarative config file is set.
var ErrNoConfigFile = errors.New("reload: no declarative config file")

// ReloadStats returns a copy of the reload counters.
func (g *Gateway) ReloadStats() ReloadStats {
	g.reload.statsMu.Lock()
	defer g.reload.statsMu.Unlock()
	s := g.reload.stats
	if s.Attempts == 0 {
		s.LastSuccessful = true
	}
	return s
}

// reloadStatus is the "luagate" object of GET /status.
func (g *Gateway) reloadStatus() map[string]any {
	st := g.ReloadStats()
	var at, lastErr any
	if !st.LastReloadAt.IsZero() {
		at = st.LastReloadAt.UTC().Format(time.RFC3339Nano)
	}
	if st.LastError != "" {
		lastErr = st.LastError
	}
	return map[string]any{
		"last_reload_at":         at,
		"last_reload_successful": st.LastSuccessful,
		"last_reload_error":      lastErr,
		"reloads_total":          st.Attempts,
		"reloads_failed_total":   st.Failures,
	}
}

// ConfigPath is the kong.yml the gateway reloads from: the file LoadFile
// loaded last, else settings.DeclarativeConfig ("" when none).
func (g *Gateway) ConfigPath() string {
	g.pathMu.Lock()
	defer g.pathMu.Unlock()
	if g.path != "" {
		return g.path
	}
	return g.settings.DeclarativeConfig
}

// submit hands req to the loop and waits for the answer; without a running
// loop it handles req itself.
func (g *Gateway) submit(req *reloadReq) reloadResult {
	if l := g.reload.running.Load(); l != nil {
		req.reply = make(chan reloadResult, 1)
		select {
		case l.reqs <- req:
			select {
			case res := <-req.reply:
				return res
			case <-l.done:
				// the loop stopped; it answers what it took before leaving
				select {
				case res := <-req.reply:
					return res
				default:
				}
			}
		case <-l.done:
		}
	}
	return g.handleReload(req)
}

// startLifecycle starts the reload loop and the file watcher, and installs
// the Admin API handler when none is set. Run calls it once its listeners
// are bound; the returned function stops both and waits for them.
func (g *Gateway) startLifecycle(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	l := &reloadLoop{reqs: make(chan *reloadReq), kick: make(chan struct{}, 1), done: make(chan struct{})}
	g.reload.running.Store(l)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(l.done)
		defer g.reload.running.CompareAndSwap(l, nil)
		g.runReloadLoop(ctx, l)
	}()

	if path := g.ConfigPath(); path != "" && !g.noWatch {
		w, err := watch.New(watch.Options{Path: path, Logger: g.logger.With("component", "watch")})
		if err != nil {
			g.logger.Error("not watching the declarative config file", "file", path, "error", err)
		} else {
			if cfg := g.Current().Config(); len(cfg.Files) > 0 {
				w.SetFiles(cfg.Files)
			}
			g.reload.watcher.Store(w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := w.Run(ctx, func() {
					select {
					case l.kick <- struct{}{}:
					default: // a reload is already pending; it reads the newest file
					}
				})
				if err != nil {
					g.logger.Error("file watcher stopped", "file", path, "error", err)
				}
			}()
			// A change between the initial load and the watcher's baseline
			// would otherwise go unseen; a no-op when nothing changed.
			l.kick <- struct{}{}
		}
	}
	if g.AdminHandler == nil {
		g.AdminHandler = g.newAdminHandler()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (g *Gateway) runReloadLoop(ctx context.Context, l *reloadLoop) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
			g.handleReload(&reloadReq{source: "watch"})
		case req := <-l.reqs:
			req.reply <- g.handleReload(req)
		}
	}
}

// Reload reloads the declarative config file (the last one loaded with
// LoadFile, else settings.DeclarativeConfig) through the reload loop and
// waits for the outcome. A failure is logged and returned; the running
// configuration stays. An unchanged file is a successful no-op.
func (g *Gateway) Reload() error {
	return g.submit(&reloadReq{source: "signal"}).err
}

// WriteConfig validates text as the new kong.yml, writes it atomically
// (temp file, fsync, rename) and applies it through the reload loop; it
// returns once the new snapshot serves requests. An invalid text changes
// nothing and returns the *declarative.ValidationError. Without a config
// file the text is applied in memory only.
func (g *Gateway) WriteConfig(text []byte) (*declarative.Config, error) {
	if text == nil {
		text = []byte{}
	}
	res := g.submit(&reloadReq{source: "admin", text: text})
	return res.cfg, res.err
}

// ValidateConfig loads text as if it were the config file (same file
// name, folder and plugin registry) without applying it.
func (g *Gateway) ValidateConfig(text []byte) (*declarative.Config, error) {
	path := g.ConfigPath()
	opts := declarative.Options{Registry: g.Registry(), Filename: path}
	if path != "" {
		opts.Dir = filepath.Dir(path)
	} else if wd, err := os.Getwd(); err == nil {
		opts.Dir = wd
	}
	return declarative.Load(text, opts)
}

// handleReload runs one request; it holds reload.mu throughout.
func (g *Gateway) handleReload(req *reloadReq) (res reloadResult) {
	rs := &g.reload
	rs.mu.Lock()
	defer rs.mu.Unlock()
	path := g.ConfigPath()
	log := g.logger.With("source", req.source)

	var cfg *declarative.Config
	var err error
	if req.text != nil {
		cfg, err = g.ValidateConfig(req.text)
	} else {
		if path == "" {
			return reloadResult{cfg: g.Current().Config(), err: ErrNoConfigFile}
		}
		cfg, err = declarative.LoadFile(path, g.Registry())
	}
	cur := g.Current().Config()
	if err == nil && cfg.Hash == g.Current().Hash() && g.loaded.Load() && (req.text == nil || path == "" || sameFile(path, req.text)) {
		rs.statsMu.Lock()
		rs.stats.Skipped++
		rs.statsMu.Unlock()
		log.Debug("configuration unchanged, reload skipped", "configuration_hash", cfg.Hash)
		return reloadResult{cfg: cur}
	}
	if err == nil {
		err = g.swapIn(cfg, path, req.text)
	}
	g.recordReload(err)
	if f := rs.observer.Load(); f != nil {
		if err != nil {
			(*f)(nil, err)
		} else {
			(*f)(cfg, nil)
		}
	}
	if err != nil {
		file := path
		if file == "" {
			file = "<input>"
		}
		log.Error("reload failed, keeping the running configuration", "file", file, "configuration_hash", g.Current().Hash())
		var ve *declarative.ValidationError
		if errors.As(err, &ve) {
			for _, fe := range ve.Errors {
				one := &declarative.ValidationError{File: ve.File, Errors: []*declarative.FieldError{fe}}
				log.Error("invalid declarative config", "error", declarative.FormatText(one))
			}
		} else {
			log.Error("reload error", "error", err)
		}
		return reloadResult{cfg: cur, err: err}
	}
	if w := rs.watcher.Load(); w != nil {
		w.SetFiles(cfg.Files)
	}
	return reloadResult{cfg: cfg, changed: true}
}

// sameFile reports whether the file at path holds exactly text.
func sameFile(path string, text []byte) bool {
	b, err := os.ReadFile(path)
	return err == nil && string(b) == string(text)
}

// swapIn builds a snapshot of cfg, writes text to path when text is set,
// then makes the snapshot current; the old one closes after its last
// request. Any failure leaves the running snapshot and the file untouched.
func (g *Gateway) swapIn(cfg *declarative.Config, path string, text []byte) error {
	s, err := build(cfg, g.rt, g.lf)
	if err != nil {
		return err
	}
	if text != nil && path != "" {
		if err := admin.WriteFileAtomic(path, text); err != nil {
			s.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if h := g.reload.beforeSwap; h != nil {
		h()
	}
	g.applyMu.Lock()
	old := g.cur.Swap(s)
	g.loaded.Store(true)
	g.applyMu.Unlock()
	g.rt.configApplied(s) // metrics (observe.go)
	if old != nil {
		old.Close()
	}
	for _, w := range cfg.Warnings {
		g.logger.Warn(w)
	}
	g.logger.Info("configuration reloaded", "configuration_hash", s.hash, "services", len(cfg.Services), "routes", len(cfg.Routes), "plugins", len(cfg.Plugins))
	return nil
}

func (g *Gateway) recordReload(err error) {
	g.rt.metrics.RecordReload(err)
	rs := &g.reload
	rs.statsMu.Lock()
	defer rs.statsMu.Unlock()
	now := time.Now()
	rs.stats.Attempts++
	rs.stats.LastReloadAt = now
	if err != nil {
		rs.stats.Failures++
		rs.stats.LastSuccessful = false
		rs.stats.LastError = declarative.FormatText(err)
		return
	}
	rs.stats.Successes++
	rs.stats.LastSuccessful = true
	rs.stats.LastError = ""
	rs.stats.LastSuccessAt = now
}
