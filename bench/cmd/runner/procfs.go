package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. It is 100
// on every Linux architecture Go supports (the kernel fixes it for userspace).
const clockTicks = 100

// procStat is the part of /proc/<pid>/stat the harness needs.
type procStat struct {
	PPID  int
	Ticks uint64 // utime + stime + cutime + cstime
}

// parseProcStat reads one /proc/<pid>/stat line. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after the last ')'.
func parseProcStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("proc stat %q: no ')' after the command name", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): field N is f[N-3]. utime..cstime are 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the command name, want at least 15", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("proc stat: ppid %q: %w", f[1], err)
	}
	var ticks uint64
	for _, v := range f[11:15] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("proc stat: cpu time %q: %w", v, err)
		}
		ticks += n
	}
	return procStat{PPID: ppid, Ticks: ticks}, nil
}

// parseVmRSS returns VmRSS in KiB from /proc/<pid>/status text; 0 when the
// line is absent (a zombie or kernel thread).
func parseVmRSS(s string) (uint64, error) {
	for _, line := range strings.Split(s, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("proc status: VmRSS line %q: want \"<n> kB\"", line)
		}
		return strconv.ParseUint(f[0], 10, 64)
	}
	return 0, nil
}

// treeUsage is the CPU time and resident memory of a process and all its
// descendants (nginx's master and workers; one process for Go servers).
type treeUsage struct {
	CPUSeconds float64
	RSSKiB     uint64
	Procs      int
}

// readTreeUsage sums utime+stime+cutime+cstime and VmRSS over pid and its
// descendants. The c* times keep the CPU of workers that exited (nginx
// reloads) once the master has reaped them, so deltas stay right.
func readTreeUsage(procRoot string, pid int) (treeUsage, error) {
	root, err := readStatFile(procRoot, pid)
	if err != nil {
		return treeUsage{}, err
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return treeUsage{}, fmt.Errorf("list %s: %w", procRoot, err)
	}
	children := map[int][]int{}
	stats := map[int]procStat{pid: root}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		st, err := readStatFile(procRoot, p)
		if err != nil {
			continue // exited while we looked
		}
		stats[p] = st
		children[st.PPID] = append(children[st.PPID], p)
	}
	var u treeUsage
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		u.Procs++
		u.CPUSeconds += float64(stats[p].Ticks) / clockTicks
		if b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(p), "status")); err == nil {
			if rss, err := parseVmRSS(string(b)); err == nil {
				u.RSSKiB += rss
			}
		}
		queue = append(queue, children[p]...)
	}
	return u, nil
}

func readStatFile(procRoot string, pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	return parseProcStat(string(b))
}
