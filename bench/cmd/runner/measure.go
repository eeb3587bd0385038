package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// instance is one server under test, started for one scenario and round.
type instance struct {
	server string
	p      *proc
	port   int
	dir    string
	conf   string // the config file the reloader rewrites
	data   tmplData
	tmpl   string
}

// startServer renders the scenario's config for server and starts it on the
// proxy core.
func (r *runner) startServer(server string, sc scenario, round int) (*instance, error) {
	dir := filepath.Join(r.work, fmt.Sprintf("round%d", round), sc.Name, server)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", dir, err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	in := &instance{server: server, port: ports[0], dir: dir}
	in.data = newTmplData(dir, ports[0], r.upstreamPort, r.deadPort, r.routes)
	in.data.LuaModule, in.data.NDKModule = r.luaModule, r.ndkModule
	listen := fmt.Sprintf("127.0.0.1:%d", in.port)
	upstreamURL := fmt.Sprintf("http://127.0.0.1:%d", r.upstreamPort)
	logPath := filepath.Join(dir, "stdout.log")
	gomax := []string{"GOMAXPROCS=1"}
	switch server {
	case baselineName:
		in.tmpl, in.conf = sc.NginxTmpl, filepath.Join(dir, "nginx.conf")
		if err := r.writeConfig(in, in.data, false); err != nil {
			return nil, err
		}
		in.p, err = r.procs.start(server, r.cores[0], dir, nil, logPath,
			r.nginxBin, "-p", dir+"/", "-c", in.conf, "-e", filepath.Join(dir, "error.log"))
		if err == nil {
			in.p.logs = append(in.p.logs, filepath.Join(dir, "error.log"))
		}
	case "luagate":
		in.tmpl, in.conf = sc.KongTmpl, filepath.Join(dir, "kong.yml")
		if err := r.writeConfig(in, in.data, false); err != nil {
			return nil, err
		}
		in.p, err = r.procs.start(server, r.cores[0], dir, gomax, logPath, r.bins["luagate"], "start", "-c", in.conf,
			"--proxy-listen", listen,
			"--admin-listen", fmt.Sprintf("127.0.0.1:%d", ports[1]),
			"--status-listen", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	case "goproxy":
		up := upstreamURL
		if sc.GoMode == "exit" {
			up = fmt.Sprintf("http://127.0.0.1:%d", r.deadPort)
		}
		in.p, err = r.procs.start(server, r.cores[0], dir, gomax, logPath, r.bins[server],
			"-listen", listen, "-upstream", up, "-mode", sc.GoMode, "-token", benchToken,
			"-consumer-id", consumerID, "-role", roles[0], "-filter-value", filterValue,
			"-exit-message", exitMessage, "-body-field", bodyField, "-body-value", bodyValue)
	default: // engine-*
		in.p, err = r.procs.start(server, r.cores[0], dir, gomax, logPath, r.bins[server], "-listen", listen, "-upstream", upstreamURL)
	}
	if err != nil {
		return nil, err
	}
	// Wait for the port, then give the config a moment to be in force.
	if err := waitReady(in.p, 20*time.Second, func() error { return portOpen(in.port) }); err != nil {
		r.procs.stop(in.p, 3*time.Second)
		return nil, err
	}
	c := newChecker(in.port)
	if err := waitReady(in.p, 3*time.Second, func() error { return sc.check(c, roles[0]) }); err != nil {
		r.procs.stop(in.p, 3*time.Second)
		return nil, fmt.Errorf("sanity check: %w", err)
	}
	return in, nil
}

// writeConfig renders the instance's template. With replace, the file is
// replaced the way scenario 6 asks: luagate's kong.yml in place (truncate and
// write) or by rename, nginx.conf by rename followed by SIGHUP.
func (r *runner) writeConfig(in *instance, d tmplData, replace bool) error {
	b, err := render(r.tmpl, in.tmpl, d)
	if err != nil {
		return err
	}
	if !replace || (in.server == "luagate" && r.cfg.reloadMode == "inplace") {
		if err := os.WriteFile(in.conf, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", in.conf, err)
		}
	} else {
		tmp := in.conf + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
		if err := os.Rename(tmp, in.conf); err != nil {
			return fmt.Errorf("replace %s: %w", in.conf, err)
		}
	}
	if replace && in.server == baselineName {
		if err := syscall.Kill(in.p.pid(), syscall.SIGHUP); err != nil {
			return fmt.Errorf("reload nginx (SIGHUP to %d): %w", in.p.pid(), err)
		}
	}
	return nil
}

// reloader rewrites the config every interval, alternating the two roles,
// until stop is closed. It reports how many rewrites it did, the role that
// was written last and the first error.
func (r *runner) reloader(in *instance, stop <-chan struct{}) (done func() (int, string, error)) {
	var (
		wg    sync.WaitGroup
		n     int
		last  = roles[0]
		first error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.cfg.reloadEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			d := in.data
			d.Role = roles[(n+1)%2]
			if err := r.writeConfig(in, d, true); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			n++
			last = d.Role
		}
	}()
	return func() (int, string, error) {
		wg.Wait()
		return n, last, first
	}
}

// runWrk runs wrk on the load core and parses its output.
func (r *runner) runWrk(ctx context.Context, label string, port int, sc scenario, d time.Duration) (wrkResult, error) {
	args := []string{"-c", strconv.Itoa(r.cores[1]), "wrk",
		"-t", strconv.Itoa(r.cfg.threads), "-c", strconv.Itoa(r.cfg.conns),
		"-d", fmt.Sprintf("%ds", int(d/time.Second)), "--latency"}
	for _, h := range sc.headers() {
		args = append(args, "-H", h)
	}
	args = append(args, fmt.Sprintf("http://127.0.0.1:%d%s", port, sc.path()))
	cmd := exec.CommandContext(ctx, "taskset", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	shown := make([]string, len(args))
	for i, a := range args {
		shown[i] = a
		if strings.ContainsAny(a, " \"'") {
			shown[i] = strconv.Quote(a)
		}
	}
	fmt.Fprintf(&r.raw, "### %s\n$ taskset %s\n%s\n", label, strings.Join(shown, " "), out)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return parseWrk(string(out))
}

// measureOne starts server for the scenario, warms it up, measures one wrk
// run with the proxy's CPU and RSS, and stops it.
func (r *runner) measureOne(ctx context.Context, server string, sc scenario, round int) measurement {
	m := measurement{Scenario: sc.Name, Server: server, Round: round}
	in, err := r.startServer(server, sc, round)
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "address already in use") {
		// Another program took the port between its reservation and the bind.
		in, err = r.startServer(server, sc, round)
	}
	if err != nil {
		m.Err = "start: " + err.Error()
		return m
	}
	defer r.procs.stop(in.p, 3*time.Second)

	var finish func() (int, string, error)
	stopReload := make(chan struct{})
	if sc.Reload {
		finish = r.reloader(in, stopReload)
	}
	stopReloading := func() (int, string, error) {
		if finish == nil {
			return 0, "", nil
		}
		close(stopReload)
		n, last, err := finish()
		finish = nil
		return n, last, err
	}
	defer stopReloading()

	label := fmt.Sprintf("round %d, %s, %s", round, sc.Name, server)
	if r.cfg.warmup > 0 {
		if _, err := r.runWrk(ctx, label+" (warm-up)", in.port, sc, r.cfg.warmup); err != nil {
			m.Err = "warm-up: " + err.Error()
			return m
		}
	}
	before, err := readTreeUsage("/proc", in.p.pid())
	if err != nil {
		m.Err = "read CPU before the run: " + err.Error()
		return m
	}
	res, err := r.runWrk(ctx, label, in.port, sc, r.cfg.duration)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	after, err := readTreeUsage("/proc", in.p.pid())
	if err != nil {
		m.Err = "read CPU after the run: " + err.Error()
		return m
	}
	if in.p.exited() {
		m.Err = fmt.Sprintf("%s exited during the run (%v); log:\n%s", server, in.p.err, in.p.logTail(5))
		return m
	}
	m.RPS = res.RPS
	m.P50ms = float64(res.P50) / float64(time.Millisecond)
	m.P99ms = float64(res.P99) / float64(time.Millisecond)
	if res.Requests > 0 {
		m.CPUus = (after.CPUSeconds - before.CPUSeconds) / float64(res.Requests) * 1e6
	}
	m.RSSMiB = float64(after.RSSKiB) / 1024
	m.Errors = res.Errors()
	m.Detail = res.ErrorDetail()

	if sc.Reload {
		n, last, rerr := stopReloading()
		m.Note = fmt.Sprintf("%d config rewrites", n)
		if rerr != nil {
			m.Err = "reload: " + rerr.Error()
			return m
		}
		// The last version written must be the one in force.
		c := newChecker(in.port)
		if err := waitReady(in.p, 5*time.Second, func() error { return sc.check(c, last) }); err != nil {
			m.Problem = fmt.Sprintf("after %d config rewrites the last version (%s) is not in force: %v", n, last, err)
		}
	}
	return m
}

// runAll measures every pair over the rounds, prints the table and writes
// the results file. It returns the exit status.
func (r *runner) runAll(ctx context.Context, stdout io.Writer) int {
	pairs := r.cfg.pairs()
	var ms []measurement
	failed := map[string]int{} // scenario/server -> round it failed in
	aborted := ""
rounds:
	for round := 1; round <= r.cfg.rounds; round++ {
		for _, sc := range scenarios(r.cfg.routes) {
			var servers []string
			for _, p := range pairs {
				if p.sc.Name == sc.Name {
					servers = append(servers, p.server)
				}
			}
			if len(servers) == 0 {
				continue
			}
			// Interleave: each round starts the scenario at another server.
			k := (round - 1) % len(servers)
			servers = append(servers[k:], servers[:k]...)
			for _, server := range servers {
				if ctx.Err() != nil {
					aborted = fmt.Sprintf("run stopped in round %d: %v", round, context.Cause(ctx))
					if errors.Is(ctx.Err(), context.DeadlineExceeded) {
						aborted += fmt.Sprintf(" (TIMEOUT=%s)", r.cfg.timeout)
					}
					break rounds
				}
				key := sc.Name + "/" + server
				if fr, ok := failed[key]; ok {
					ms = append(ms, measurement{Scenario: sc.Name, Server: server, Round: round, Err: fmt.Sprintf("not run: failed in round %d", fr)})
					continue
				}
				m := r.measureOne(ctx, server, sc, round)
				if !m.ok() {
					failed[key] = round
					r.logf("round %d/%d %-10s %-16s FAILED: %s", round, r.cfg.rounds, sc.Name, server, m.Err)
				} else {
					r.logf("round %d/%d %-10s %-16s %9.0f req/s  p99 %6.2f ms  %5.1f µs/req  %5.1f MiB  errors %d %s",
						round, r.cfg.rounds, sc.Name, server, m.RPS, m.P99ms, m.CPUus, m.RSSMiB, m.Errors, m.Note)
				}
				ms = append(ms, m)
			}
		}
	}
	titles := map[string]string{}
	var scNames []string
	for _, sc := range scenarios(r.cfg.routes) {
		titles[sc.Name] = sc.Title
		if slices.Contains(r.cfg.scenarios, sc.Name) {
			scNames = append(scNames, sc.Name)
		}
	}
	rows := summarize(ms, scNames, r.cfg.servers, baselineName)
	problems := findProblems(rows)
	if aborted != "" {
		problems = append([]string{aborted}, problems...)
	}
	table := markdownTable(rows, titles)
	doc := r.document(table, problems, ms)

	if err := os.MkdirAll(r.cfg.resultsDir, 0o755); err != nil {
		r.logf("cannot write results: %v", err)
	} else {
		stamp := r.started.Format("2006-01-02T150405Z")
		md := filepath.Join(r.cfg.resultsDir, stamp+".md")
		if err := os.WriteFile(md, []byte(doc), 0o644); err != nil {
			r.logf("cannot write %s: %v", md, err)
		} else {
			r.logf("results written to %s", md)
		}
		raw := filepath.Join(r.cfg.resultsDir, stamp+".raw")
		if err := os.WriteFile(raw, []byte(r.raw.String()), 0o644); err != nil {
			r.logf("cannot write %s: %v", raw, err)
		}
	}
	fmt.Fprint(stdout, "\n"+table)
	if len(problems) > 0 {
		fmt.Fprintln(stdout, "\nProblems:")
		for _, p := range problems {
			fmt.Fprintln(stdout, "- "+oneLine(p))
		}
		return 1
	}
	return 0
}

// findProblems lists rows that failed or saw errors. nginx's own errors under
// reload (SIGHUP every 100 ms closes keep-alive connections) are reported in
// the table but do not fail the run: the zero-error rule is luagate's.
func findProblems(rows []row) []string {
	var out []string
	for _, r := range rows {
		for _, f := range r.Failures {
			out = append(out, fmt.Sprintf("%s/%s: %s", r.Scenario, r.Server, f))
		}
		if r.Errors > 0 && !(r.Server == baselineName && r.Scenario == "reload") {
			out = append(out, fmt.Sprintf("%s/%s: %d errors (%s)", r.Scenario, r.Server, r.Errors, strings.Join(r.Detail, "; ")))
		}
	}
	return out
}

// document is the results file: settings, the table, problems, every round.
func (r *runner) document(table string, problems []string, ms []measurement) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# luagate benchmark, %s\n\n", r.started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- load: `wrk -t%d -c%d -d%s --latency` (keep-alive) after a %s warm-up; %d interleaved round(s)\n",
		r.cfg.threads, r.cfg.conns, r.cfg.duration, r.cfg.warmup, r.cfg.rounds)
	fmt.Fprintf(&b, "- pinning: proxy under test on core %d (GOMAXPROCS=1, nginx 1 worker); upstream (%s) and wrk on core %d\n",
		r.cores[0], r.upstreamKind, r.cores[1])
	fmt.Fprintf(&b, "- machine: %s, %d CPUs, Linux %s; %s; %s; runner %s\n",
		cpuModel(), runtime.NumCPU(), firstLine("/proc/sys/kernel/osrelease"), toolVersion(r.nginxBin, "-v"), toolVersion("wrk", "-v"), runtime.Version())
	if r.cfg.luagateBin != "" {
		fmt.Fprintf(&b, "- luagate: the binary %s (LUAGATE_BIN); tree at %s\n", r.cfg.luagateBin, gitDescribe(r.cfg.root))
	} else {
		fmt.Fprintf(&b, "- luagate: built from the tree at %s\n", gitDescribe(r.cfg.root))
	}
	fmt.Fprintf(&b, "- scenario 6 rewrites the config every %s (%s for kong.yml; nginx: rename + SIGHUP)\n", r.cfg.reloadEvery, r.cfg.reloadMode)
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	b.WriteString("\nEach cell: median over rounds, and in brackets the median of the same-round ratios to nginx + Lua in the same scenario " +
		"(req/s: higher is better; latency, CPU µs per request and RSS: lower is better). errors: wrk's non-2xx/3xx answers plus socket errors, summed over rounds.\n\n")
	b.WriteString(table)
	if len(problems) > 0 {
		b.WriteString("\n## Problems\n\n")
		for _, p := range problems {
			b.WriteString("- " + oneLine(p) + "\n")
		}
	}
	b.WriteString("\n## Every round\n\n")
	b.WriteString(roundsTable(ms))
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	l, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(l)
}

func toolVersion(bin string, arg string) string {
	out, _ := exec.Command(bin, arg).CombinedOutput()
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if l == "" {
		return filepath.Base(bin) + " (version unknown)"
	}
	l, _, _ = strings.Cut(l, " Copyright")
	return strings.TrimSpace(strings.TrimPrefix(l, "nginx version:"))
}

func gitDescribe(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown commit"
	}
	return "commit " + strings.TrimSpace(string(out))
}
