// Command runner is luagate's side-by-side benchmark: it builds luagate and
// the Go baselines from the tree, starts an upstream, then for every scenario
// and every server runs wrk against it over several interleaved rounds, with
// the proxy under test pinned to core 0 and the upstream and wrk to core 1.
// It prints one Markdown table (medians, and ratios to nginx + Lua measured in
// the same run) and writes it to bench/results/<UTC time>.md, with wrk's raw
// output beside it (.raw).
//
// Settings come from flags, or from the environment for make: ROUNDS,
// DURATION, WARMUP, THREADS, CONNECTIONS, SERVERS, SCENARIOS, TIMEOUT,
// LUAGATE_BIN, UPSTREAM. See bench/README.md.
//
// Exit status: 0 when every row was measured without errors; 1 when a server
// failed to start, failed a sanity check, or wrk saw errors (scenario 6 must
// have none); 2 when the setup is missing (nginx + Lua, wrk, taskset) or the
// settings are wrong. The nginx + Lua baseline is never skipped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

const baselineName = "nginx-lua"

// allServers is the table's row order within a scenario.
var allServers = []string{baselineName, "luagate", "goproxy", "engine-fasthttp", "engine-nethttp"}

type config struct {
	root        string
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	threads     int
	conns       int
	timeout     time.Duration
	servers     []string
	scenarios   []string
	luagateBin  string
	upstream    string // auto, nginx or go
	reloadEvery time.Duration
	reloadMode  string // inplace or rename
	routes      int
	resultsDir  string
	keep        bool
	moduleDir   string
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseSeconds reads "5s", "5" or "1m" as a whole number of seconds (wrk's
// -d takes whole seconds).
func parseSeconds(name, s string, allowZero bool) (time.Duration, error) {
	if _, err := strconv.Atoi(s); err == nil {
		s += "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", name, s, err)
	}
	if d%time.Second != 0 || d < 0 || (d == 0 && !allowZero) {
		return 0, fmt.Errorf("%s=%q: want a whole, positive number of seconds", name, s)
	}
	return d, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	var c config
	var rounds, threads, conns, routes int
	var duration, warmup, timeout, servers, scens string
	fs.StringVar(&c.root, "root", "", "module root (default: from `go env GOMOD`)")
	fs.IntVar(&rounds, "rounds", atoiOr(envOr("ROUNDS", "3")), "interleaved rounds (env ROUNDS)")
	fs.StringVar(&duration, "duration", envOr("DURATION", "5s"), "measured wrk run per row and round, whole seconds (env DURATION)")
	fs.StringVar(&warmup, "warmup", envOr("WARMUP", "1s"), "unmeasured wrk run before each measurement, 0 for none (env WARMUP)")
	fs.IntVar(&threads, "threads", atoiOr(envOr("THREADS", "2")), "wrk -t (env THREADS)")
	fs.IntVar(&conns, "connections", atoiOr(envOr("CONNECTIONS", "64")), "wrk -c (env CONNECTIONS)")
	fs.StringVar(&timeout, "timeout", envOr("TIMEOUT", "10m"), "hard bound on the whole run, builds included (env TIMEOUT)")
	fs.StringVar(&servers, "servers", envOr("SERVERS", strings.Join(allServers, ",")), "servers to measure; nginx-lua is always measured (env SERVERS)")
	fs.StringVar(&scens, "scenarios", envOr("SCENARIOS", "plain,auth,exit,bodyfilter,routes,reload"), "scenarios to run (env SCENARIOS)")
	fs.StringVar(&c.luagateBin, "luagate-bin", os.Getenv("LUAGATE_BIN"), "use this luagate binary instead of building ./cmd/luagate into bin/luagate (env LUAGATE_BIN)")
	fs.StringVar(&c.upstream, "upstream", envOr("UPSTREAM", "auto"), "upstream: nginx, go, or auto (nginx when installed) (env UPSTREAM)")
	fs.DurationVar(&c.reloadEvery, "reload-every", 100*time.Millisecond, "config rewrite interval in scenario 6")
	fs.StringVar(&c.reloadMode, "reload-mode", "inplace", "how scenario 6 rewrites kong.yml: inplace (truncate and write) or rename (temp file + rename)")
	fs.IntVar(&routes, "routes", 1000, "routes in scenario 5 (even)")
	fs.StringVar(&c.resultsDir, "results", "", "results folder (default <root>/bench/results)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work folder (rendered configs, server logs)")
	fs.StringVar(&c.moduleDir, "nginx-modules", envOr("NGINX_MODULES", "/usr/lib/nginx/modules"), "folder with ngx_http_lua_module.so and ndk_http_module.so")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.duration, err = parseSeconds("DURATION", duration, false); err != nil {
		return c, err
	}
	if c.warmup, err = parseSeconds("WARMUP", warmup, true); err != nil {
		return c, err
	}
	if c.timeout, err = time.ParseDuration(timeout); err != nil || c.timeout <= 0 {
		return c, fmt.Errorf("TIMEOUT=%q: want a positive duration such as 10m", timeout)
	}
	c.rounds, c.threads, c.conns, c.routes = rounds, threads, conns, routes
	switch {
	case c.rounds < 1:
		return c, fmt.Errorf("ROUNDS must be at least 1 (got %d)", c.rounds)
	case c.threads < 1 || c.conns < c.threads:
		return c, fmt.Errorf("THREADS=%d CONNECTIONS=%d: need 1 <= threads <= connections", c.threads, c.conns)
	case c.routes < 2 || c.routes%2 != 0:
		return c, fmt.Errorf("-routes=%d: want an even number >= 2", c.routes)
	case c.reloadMode != "inplace" && c.reloadMode != "rename":
		return c, fmt.Errorf("-reload-mode=%q: want inplace or rename", c.reloadMode)
	case c.upstream != "auto" && c.upstream != "nginx" && c.upstream != "go":
		return c, fmt.Errorf("UPSTREAM=%q: want auto, nginx or go", c.upstream)
	}
	c.servers = []string{baselineName}
	for _, s := range splitList(servers) {
		if !slices.Contains(allServers, s) {
			return c, fmt.Errorf("SERVERS: unknown server %q (known: %s)", s, strings.Join(allServers, ", "))
		}
		if !slices.Contains(c.servers, s) {
			c.servers = append(c.servers, s)
		}
	}
	// Keep the table's order whatever order the list was given in.
	slices.SortFunc(c.servers, func(a, b string) int { return slices.Index(allServers, a) - slices.Index(allServers, b) })
	known := scenarios(c.routes)
	for _, s := range splitList(scens) {
		if !slices.ContainsFunc(known, func(k scenario) bool { return k.Name == s }) {
			return c, fmt.Errorf("SCENARIOS: unknown scenario %q (known: plain, auth, exit, bodyfilter, routes, reload)", s)
		}
		c.scenarios = append(c.scenarios, s)
	}
	if len(c.scenarios) == 0 {
		return c, errors.New("SCENARIOS is empty")
	}
	return c, nil
}

func atoiOr(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1 // rejected by the range checks with the flag's name
	}
	return n
}

// supports says whether a server takes part in a scenario.
func supports(server string, sc scenario) bool {
	switch server {
	case baselineName, "luagate":
		return true
	case "goproxy":
		return sc.GoMode != ""
	default: // engine-*
		return sc.Engines
	}
}

// pairs lists the (scenario, server) pairs to measure, in table order.
func (c config) pairs() []struct {
	sc     scenario
	server string
} {
	var out []struct {
		sc     scenario
		server string
	}
	for _, sc := range scenarios(c.routes) {
		if !slices.Contains(c.scenarios, sc.Name) {
			continue
		}
		for _, s := range c.servers {
			if supports(s, sc) {
				out = append(out, struct {
					sc     scenario
					server string
				}{sc, s})
			}
		}
	}
	return out
}

// estimate is the expected run time: wrk time plus about 1.5 s to start,
// check and stop each server (2.5 s with reloads), plus builds.
func (c config) estimate() time.Duration {
	var per time.Duration
	for _, p := range c.pairs() {
		per += c.warmup + c.duration + 1500*time.Millisecond
		if p.sc.Reload {
			per += time.Second
		}
	}
	return time.Duration(c.rounds)*per + 45*time.Second
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if est := cfg.estimate(); est > cfg.timeout {
		fmt.Fprintf(stderr, "bench: this run would take about %s, more than TIMEOUT=%s: lower ROUNDS, DURATION or SCENARIOS, or raise TIMEOUT\n",
			est.Round(time.Second), cfg.timeout)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	r, err := newRunner(ctx, cfg, stderr)
	if r != nil {
		defer r.close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	return r.runAll(ctx, stdout)
}

// runner holds what one benchmark run owns: settings, binaries, the
// processes it started and where its files go.
type runner struct {
	cfg          config
	log          io.Writer
	procs        *procSet
	tmpl         *template.Template
	work         string
	bins         map[string]string
	nginxBin     string
	luaModule    string
	ndkModule    string
	cores        [2]int // proxy core, upstream + wrk core
	upstream     *proc
	upstreamKind string
	upstreamPort int
	deadPort     int
	routes       []routeDef
	raw          strings.Builder
	started      time.Time
	notes        []string
}

func newRunner(ctx context.Context, cfg config, log io.Writer) (*runner, error) {
	r := &runner{cfg: cfg, log: log, procs: newProcSet(), bins: map[string]string{}, started: time.Now().UTC(), cores: [2]int{0, 1}}
	if err := r.preflight(); err != nil {
		return nil, err
	}
	var err error
	if r.tmpl, err = templates(); err != nil {
		return nil, err
	}
	if r.work, err = os.MkdirTemp("", "luagate-bench-"); err != nil {
		return nil, fmt.Errorf("make work folder: %w", err)
	}
	r.routes = makeRoutes(cfg.routes)
	if err := r.buildAll(ctx); err != nil {
		return r, err
	}
	if err := r.startUpstream(); err != nil {
		return r, err
	}
	return r, nil
}

func (r *runner) close() {
	r.procs.stopAll()
	if r.work != "" && !r.cfg.keep {
		_ = os.RemoveAll(r.work)
	} else if r.work != "" {
		fmt.Fprintf(r.log, "bench: work folder kept: %s\n", r.work)
	}
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "bench: "+format+"\n", args...)
}

// preflight finds the tools; a missing nginx + Lua is an error, never a skip.
func (r *runner) preflight() error {
	if r.cfg.root == "" {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			return fmt.Errorf("cannot find the module root (go env GOMOD: %q, %v): run from the luagate tree or pass -root", gomod, err)
		}
		r.cfg.root = filepath.Dir(gomod)
	}
	if r.cfg.resultsDir == "" {
		r.cfg.resultsDir = filepath.Join(r.cfg.root, "bench", "results")
	}
	var missing []string
	for _, tool := range []string{"wrk", "taskset", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			nginx, err = "/usr/sbin/nginx", nil
		}
	}
	if err != nil {
		missing = append(missing, "nginx")
	}
	r.nginxBin = nginx
	r.luaModule = filepath.Join(r.cfg.moduleDir, "ngx_http_lua_module.so")
	r.ndkModule = filepath.Join(r.cfg.moduleDir, "ndk_http_module.so")
	for _, m := range []string{r.luaModule, r.ndkModule} {
		if _, err := os.Stat(m); err != nil {
			missing = append(missing, m+" (libnginx-mod-http-lua)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the nginx + Lua baseline or the load tools are not installed (missing: %s); run `make bench-deps` (apt-get install nginx libnginx-mod-http-lua lua-cjson wrk). The baseline is never skipped", strings.Join(missing, ", "))
	}
	if n := runtime.NumCPU(); n < 2 {
		r.cores = [2]int{0, 0}
		r.notes = append(r.notes, fmt.Sprintf("only %d CPU available: proxy, upstream and wrk share core 0, so figures are not comparable with 2-core runs", n))
	}
	if r.cfg.upstream == "auto" {
		r.cfg.upstream = "nginx"
	}
	return nil
}

// buildAll compiles luagate (into <root>/bin/luagate, as `make build` does)
// and the Go baselines (into the work folder).
func (r *runner) buildAll(ctx context.Context) error {
	targets := map[string]string{}
	if slices.Contains(r.cfg.servers, "luagate") {
		if r.cfg.luagateBin != "" {
			if st, err := os.Stat(r.cfg.luagateBin); err != nil || st.IsDir() {
				return fmt.Errorf("LUAGATE_BIN=%s is not a file (%v)", r.cfg.luagateBin, err)
			}
			r.bins["luagate"] = r.cfg.luagateBin
		} else {
			targets["luagate"] = "./cmd/luagate"
		}
	}
	if slices.Contains(r.cfg.servers, "goproxy") {
		targets["goproxy"] = "./bench/goproxy"
	}
	if slices.Contains(r.cfg.servers, "engine-fasthttp") {
		targets["engine-fasthttp"] = "./bench/engines/fasthttp"
	}
	if slices.Contains(r.cfg.servers, "engine-nethttp") {
		targets["engine-nethttp"] = "./bench/engines/nethttp"
	}
	if r.cfg.upstream == "go" {
		targets["upstream"] = "./bench/upstream"
	}
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		out := filepath.Join(r.work, "bin", name)
		if name == "luagate" {
			out = filepath.Join(r.cfg.root, "bin", "luagate")
		}
		r.logf("building %s (%s)", name, targets[name])
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, targets[name])
		cmd.Dir = r.cfg.root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s (go build -o %s %s): %v\n%s", name, out, targets[name], err, b)
		}
		r.bins[name] = out
	}
	return nil
}

// startUpstream starts the origin on the wrk core and reserves a port that
// nothing listens on (the exit scenario's service).
func (r *runner) startUpstream() error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	r.upstreamPort, r.deadPort = ports[0], ports[1]
	dir := filepath.Join(r.work, "upstream")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	switch r.cfg.upstream {
	case "nginx":
		d := newTmplData(dir, 0, r.upstreamPort, r.deadPort, nil)
		conf, err := render(r.tmpl, "upstream.conf.tmpl", d)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		r.upstream, err = r.procs.start("upstream (nginx)", r.cores[1], dir, nil, filepath.Join(dir, "stdout.log"),
			r.nginxBin, "-p", dir+"/", "-c", path, "-e", filepath.Join(dir, "error.log"))
		if err != nil {
			return err
		}
		r.upstream.logs = append(r.upstream.logs, filepath.Join(dir, "error.log"))
	case "go":
		r.upstream, err = r.procs.start("upstream (Go)", r.cores[1], dir, []string{"GOMAXPROCS=1"}, filepath.Join(dir, "stdout.log"),
			r.bins["upstream"], "-listen", fmt.Sprintf("127.0.0.1:%d", r.upstreamPort), "-body", upstreamBody)
		if err != nil {
			return err
		}
	}
	r.upstreamKind = r.cfg.upstream
	c := newChecker(r.upstreamPort)
	return waitReady(r.upstream, 10*time.Second, func() error {
		a, err := c.get("/", "X-Consumer-ID: "+consumerID)
		if err != nil {
			return err
		}
		if err := expect("upstream GET /", a, 200, map[string]string{"X-Upstream-Consumer": consumerID}); err != nil {
			return err
		}
		return expectJSON("upstream GET /", a.body, map[string]any{"origin": "upstream"})
	})
}
