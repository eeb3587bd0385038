package declarative

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FuzzLoad: no input may panic; whatever loads must survive Marshal and load
// again with the same number of entities of each kind.
func FuzzLoad(f *testing.F) {
	for _, p := range fixtures(f, "*.yml", "*.json") {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(data, testOptions("fuzz.yml", testdataDir))
		if err != nil {
			_ = FormatText(err)
			if ve, ok := err.(*ValidationError); ok {
				_ = ve.KongTree()
			}
			return
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		c2, err := Load(out, testOptions("fuzz.yml", testdataDir))
		if err != nil {
			t.Fatalf("reload of Marshal output failed: %s\n%s", FormatText(err), out)
		}
		if entityCount(c) != entityCount(c2) {
			t.Fatalf("entities %v, after round trip %v", entityCount(c), entityCount(c2))
		}
	})
}

// genConfig builds a config with n services, each with routesPer routes and
// one plugin.
func genConfig(n, routesPer int) []byte {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "- name: svc-%d\n  url: http://backend-%d.internal:8080/api\n  retries: 3\n  tags: [gen]\n  plugins:\n  - name: key-auth\n  routes:\n", i, i)
		for j := 0; j < routesPer; j++ {
			fmt.Fprintf(&b, "  - name: r-%d-%d\n    paths: [/s%d/r%d, \"~/s%d/x%d/(?<id>\\\\d+)$\"]\n    methods: [GET, POST]\n    hosts: [api.example.com]\n    headers:\n      x-version: [v%d]\n", i, j, i, j, i, j, j)
		}
	}
	return []byte(b.String())
}

func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{500} {
		data := genConfig(n, 2)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Load(data, testOptions("bench.yml", "")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLoad10kRoutes checks a large file loads correctly and in reasonable
// time (the bound is loose: the machine is shared).
func TestLoad10kRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	data := genConfig(1000, 10)
	start, cpu0 := time.Now(), cpuTime()
	c, err := Load(data, testOptions("big.yml", ""))
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if err != nil {
		t.Fatal(FormatText(err))
	}
	if len(c.Routes) != 10000 || len(c.Services) != 1000 || len(c.Plugins) != 1000 {
		t.Fatalf("got %d routes, %d services, %d plugins", len(c.Routes), len(c.Services), len(c.Plugins))
	}
	t.Logf("10,000 routes (%d KiB) loaded in %v wall, %v CPU", len(data)/1024, elapsed, cpu)
	// CPU time, not wall time: the test machine is shared. It includes the
	// garbage collector's work on other threads.
	if cpu > 5*time.Second {
		t.Errorf("load used %v of CPU", cpu)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
