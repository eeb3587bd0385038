package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process the runner started, in its own process group so that
// stopping it also stops what it forked (nginx workers).
type proc struct {
	name string
	cmd  *exec.Cmd
	logs []string // files worth showing when it fails
	done chan struct{}
	err  error // set before done closes
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// procSet tracks every started process so that all of them are stopped on
// exit, whatever the path out of the runner.
type procSet struct {
	mu    sync.Mutex
	procs map[*proc]struct{}
}

func newProcSet() *procSet { return &procSet{procs: map[*proc]struct{}{}} }

// start runs bin pinned to one core (taskset execs it, so the pid is bin's),
// with stdout and stderr in logPath.
func (s *procSet) start(name string, core int, dir string, env []string, logPath string, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command("taskset", append([]string{"-c", strconv.Itoa(core), bin}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, logs: []string{logPath}, done: make(chan struct{})}
	s.mu.Lock()
	s.procs[p] = struct{}{}
	s.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (s *procSet) stop(p *proc, grace time.Duration) {
	if p == nil {
		return
	}
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Workers that outlived their master (SIGKILL) are still in the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	s.mu.Lock()
	delete(s.procs, p)
	s.mu.Unlock()
}

// stopAll stops every process still tracked.
func (s *procSet) stopAll() {
	s.mu.Lock()
	var ps []*proc
	for p := range s.procs {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.stop(p, 3*time.Second)
		}()
	}
	wg.Wait()
}

// logTail is the last lines of the process's log files, for error messages.
func (p *proc) logTail(lines int) string {
	var parts []string
	for _, path := range p.logs {
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			continue
		}
		ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(ls) > lines {
			ls = ls[len(ls)-lines:]
		}
		for i, l := range ls {
			if len(l) > 240 {
				ls[i] = l[:240] + "…"
			}
		}
		parts = append(parts, path+":\n  "+strings.Join(ls, "\n  "))
	}
	if len(parts) == 0 {
		return "(no log output)"
	}
	return strings.Join(parts, "\n")
}

// waitReady polls check until it passes, the process dies or timeout ends.
func waitReady(p *proc, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%s exited during start-up (%v); log:\n%s", p.name, p.err, p.logTail(5))
		}
		if last = check(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w; log:\n%s", p.name, timeout, last, p.logTail(5))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePorts reserves n distinct loopback ports by listening on port 0, then
// releases them for the servers to bind.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// portOpen reports whether something accepts TCP connections on port.
func portOpen(port int) error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
