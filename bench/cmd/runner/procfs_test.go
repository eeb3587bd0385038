package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// statLine builds a /proc/<pid>/stat line with the given name, ppid and times.
func statLine(pid int, name string, ppid int, utime, stime, cutime, cstime uint64) string {
	return fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 %d %d %d %d 20 0 1 0 100 1000 200",
		pid, name, ppid, pid, pid, utime, stime, cutime, cstime)
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"plain", statLine(10, "nginx", 1, 100, 50, 7, 3), procStat{PPID: 1, Ticks: 160}, false},
		{"name with spaces and parens", statLine(11, "nginx: worker (x) y", 10, 1, 2, 3, 4), procStat{PPID: 10, Ticks: 10}, false},
		{"no paren", "10 nginx S 1", procStat{}, true},
		{"short", "10 (nginx) S 1 2 3", procStat{}, true},
		{"bad number", "10 (nginx) S 1 10 10 0 -1 0 0 0 0 0 x 1 1 1 20", procStat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcStat error = %v; want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseProcStat = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"Name:\tnginx\nVmPeak:\t  9000 kB\nVmRSS:\t   13312 kB\nRssAnon:\t 100 kB\n", 13312, false},
		{"Name:\tzombie\nState:\tZ (zombie)\n", 0, false},
		{"VmRSS:\t12 MB\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseVmRSS(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseVmRSS(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestReadTreeUsage builds a fake /proc: a master (100) with two workers
// (101, 102), a grandchild (103), and an unrelated process (200).
func TestReadTreeUsage(t *testing.T) {
	root := t.TempDir()
	write := func(pid, ppid int, ticks [4]uint64, rssKiB int) {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := statLine(pid, "p", ppid, ticks[0], ticks[1], ticks[2], ticks[3])
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		status := fmt.Sprintf("Name:\tp\nVmRSS:\t%d kB\n", rssKiB)
		if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(100, 1, [4]uint64{100, 50, 30, 20}, 4096) // 200 ticks incl. reaped workers
	write(101, 100, [4]uint64{300, 100, 0, 0}, 8192)
	write(102, 100, [4]uint64{10, 0, 0, 0}, 1024)
	write(103, 101, [4]uint64{5, 5, 0, 0}, 0)
	write(200, 1, [4]uint64{9999, 9999, 0, 0}, 99999)
	if err := os.WriteFile(filepath.Join(root, "uptime"), []byte("1 2"), 0o644); err != nil {
		t.Fatal(err)
	}

	u, err := readTreeUsage(root, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := 6.2; math.Abs(u.CPUSeconds-want) > 1e-9 { // (200+400+10+10)/100
		t.Errorf("CPUSeconds = %v; want %v", u.CPUSeconds, want)
	}
	if u.RSSKiB != 4096+8192+1024 || u.Procs != 4 {
		t.Errorf("RSSKiB, Procs = %d, %d; want %d, 4", u.RSSKiB, u.Procs, 4096+8192+1024)
	}

	single, err := readTreeUsage(root, 102)
	if err != nil {
		t.Fatal(err)
	}
	if single.CPUSeconds != 0.1 || single.RSSKiB != 1024 || single.Procs != 1 {
		t.Errorf("leaf usage = %+v; want 0.1 s, 1024 KiB, 1 process", single)
	}

	if _, err := readTreeUsage(root, 999); err == nil {
		t.Error("readTreeUsage of a missing pid: want an error")
	}
}

func TestReadTreeUsageSelf(t *testing.T) {
	u, err := readTreeUsage("/proc", os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if u.RSSKiB == 0 || u.Procs < 1 {
		t.Errorf("own usage = %+v; want a resident size and at least one process", u)
	}
}
