package declarative

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/declarative")

const testdataDir = "../testdata/declarative"

func fixtures(t testing.TB, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join(testdataDir, p))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatalf("no fixtures for %v", patterns)
	}
	return out
}

func loadFixture(t testing.TB, path string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Load(data, testOptions(filepath.Base(path), testdataDir))
}

func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// TestGoldenBad loads every *.bad.yml: each must fail, and FormatText must
// match its *.bad.golden byte for byte.
func TestGoldenBad(t *testing.T) {
	files := fixtures(t, "*.bad.yml")
	if len(files) < 35 {
		t.Errorf("only %d invalid fixtures, want at least 35", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := loadFixture(t, f)
			if err == nil {
				t.Fatalf("loaded without error (%d services)", len(cfg.Services))
			}
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			checkGolden(t, strings.TrimSuffix(f, ".yml")+".golden", []byte(FormatText(err)+"\n"))
		})
	}
}

// TestGoldenGood loads every *.good.* file: each must load, its Marshal
// output (warnings first, as comments) must match *.good.golden, and loading
// that output again must give the same output (round trip is a fixed point).
func TestGoldenGood(t *testing.T) {
	for _, f := range fixtures(t, "*.good.yml", "*.good.json") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := loadFixture(t, f)
			if err != nil {
				t.Fatalf("load: %s", FormatText(err))
			}
			out, err := Marshal(cfg)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var b bytes.Buffer
			for _, w := range cfg.Warnings {
				b.WriteString("# warning: " + w + "\n")
			}
			b.Write(out)
			golden := f[:len(f)-len(filepath.Ext(f))] + ".golden"
			checkGolden(t, golden, b.Bytes())

			again, err := Load(out, testOptions("roundtrip.yml", testdataDir))
			if err != nil {
				t.Fatalf("reload of Marshal output: %s", FormatText(err))
			}
			out2, err := Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, out2) {
				t.Errorf("Marshal(Load(Marshal(c))) differs from Marshal(c):\n%s\n---\n%s", out2, out)
			}
		})
	}
}
