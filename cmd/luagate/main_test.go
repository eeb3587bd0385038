package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestConfigInitWritesParsableExampleAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kong.yml")
	if code, _, errs := runCLI(t, nil, "config", "init", path); code != 0 {
		t.Fatalf("config init: exit %d, stderr %q", code, errs)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, initTemplate) {
		t.Fatalf("config init wrote %d bytes, want the %d-byte template", len(got), len(initTemplate))
	}
	if code, out, errs := runCLI(t, nil, "config", "parse", path); code != 0 || out != "parse successful\n" {
		t.Fatalf("config parse of the init template: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	os.WriteFile(path, []byte("mine"), 0o644)
	code, _, errs := runCLI(t, nil, "config", "init", path)
	if code != 1 {
		t.Fatalf("second init: exit %d, want 1", code)
	}
	want := "Error: " + path + " already exists.\nWill not overwrite it.\n"
	if errs != want {
		t.Fatalf("second init stderr = %q, want %q", errs, want)
	}
	if b, _ := os.ReadFile(path); string(b) != "mine" {
		t.Fatalf("existing file was changed to %q", b)
	}
}

func TestConfigParseReportsEveryErrorWithItsPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kong.yml")
	os.WriteFile(path, []byte(`_format_version: "3.0"
services:
- name: a
  host: example.com
  port: 99999
  routes:
  - name: r
    paths: [nope]
- name: b
`), 0o644)
	code, out, errs := runCLI(t, nil, "config", "parse", path)
	if code != 1 || out != "" {
		t.Fatalf("exit %d stdout %q, want 1 and nothing", code, out)
	}
	for _, want := range []string{
		"Error: Failed parsing:",
		path + ":5: services[0].port: value should be between 0 and 65535",
		path + ":8: services[0].routes[0].paths[0]: should start with: / (fixed path) or ~/ (regex path)",
		path + ":9: services[1].host: required field missing",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestConfigParseUsage(t *testing.T) {
	code, _, errs := runCLI(t, nil, "config", "parse")
	if code != 1 || !strings.Contains(errs, "expected a declarative configuration file") {
		t.Fatalf("exit %d stderr %q", code, errs)
	}
	if code, _, _ := runCLI(t, nil, "nonsense"); code != 1 {
		t.Fatalf("unknown command: exit %d, want 1", code)
	}
}

func TestExampleKongYMLParses(t *testing.T) {
	code, out, errs := runCLI(t, nil, "config", "parse", "../../kong.yml")
	if code != 0 || out != "parse successful\n" {
		t.Fatalf("root kong.yml: exit %d stdout %q stderr %q", code, out, errs)
	}
}

func TestHealth(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status/ready" {
			http.NotFound(w, r)
			return
		}
		if !ready {
			w.WriteHeader(503)
			w.Write([]byte(`{"message":"no configuration available (configuration hash is not initialized)"}`))
			return
		}
		w.Write([]byte(`{"message":"ready"}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	code, out, errs := runCLI(t, nil, "health", "--status-listen", addr)
	if code != 0 || !strings.Contains(out, "luagate is healthy at http://"+addr) {
		t.Fatalf("ready: exit %d stdout %q stderr %q", code, out, errs)
	}
	ready = false
	code, _, errs = runCLI(t, map[string]string{"KONG_STATUS_LISTEN": addr}, "health")
	if code != 1 || !strings.Contains(errs, "is not ready (503)") {
		t.Fatalf("not ready: exit %d stderr %q", code, errs)
	}
	srv.Close()
	code, _, errs = runCLI(t, nil, "health", "--status-listen", addr)
	if code != 1 || !strings.Contains(errs, "Error: luagate is not running at http://"+addr) {
		t.Fatalf("down: exit %d stderr %q", code, errs)
	}
}

func TestStatusURL(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"127.0.0.1:8007", "http://127.0.0.1:8007", ""},
		{"0.0.0.0:8100", "http://127.0.0.1:8100", ""},
		{"0.0.0.0:8100 ssl", "https://127.0.0.1:8100", ""},
		{"off", "", "no status listener configured"},
		{"nonsense", "", "invalid status listen address"},
	} {
		got, err := statusURL(tt.in)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("statusURL(%q) = %q, %v; want %q, error containing %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "luagate ") || !strings.Contains(out, "Kong 3.") {
		t.Fatalf("version: exit %d %q", code, out)
	}
}

// TestHealthOverTLS: an `ssl` status listener usually serves the generated
// self-signed certificate; the probe must still get its answer.
func TestHealthOverTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"message":"ready"}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	code, out, errs := runCLI(t, map[string]string{"KONG_STATUS_LISTEN": addr + " ssl"}, "health")
	if code != 0 || !strings.Contains(out, "luagate is healthy at https://"+addr) {
		t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
	}
}
