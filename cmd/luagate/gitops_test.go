package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"luagate/declarative"
	"luagate/gateway"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/cli/")

const cliData = "../../testdata/cli"

// normalize makes outputs stable across machines and versions: latencies
// and the version string.
func normalize(s string) string {
	s = latencyRE.ReplaceAllString(s, "${1}<ms>")
	s = strings.ReplaceAll(s, "luagate/"+gateway.Version, "luagate/<version>")
	return s
}

// latencyRE matches latency headers in text ("Name: 3") and in JSON
// (["Name",\n "3"]).
var latencyRE = regexp.MustCompile(`(X-Kong-(?:Response|Upstream|Proxy)-Latency(?:: |",\s*"))\d+`)

// TestGitOpsCommandsGolden runs every GitOps command on good and bad inputs
// and compares exit code, stdout and stderr with testdata/cli/*.golden
// (go test ./cmd/luagate -run Golden -update rewrites them).
func TestGitOpsCommandsGolden(t *testing.T) {
	v1, v2 := cliData+"/v1/kong.yml", cliData+"/v2/kong.yml"
	bad, lint := cliData+"/bad.yml", cliData+"/lint.yml"
	for _, tt := range []struct {
		name string
		args []string
		exit int
	}{
		{"parse-json-ok", []string{"config", "parse", v1, "--format", "json"}, 0},
		{"parse-json-errors", []string{"config", "parse", "--format", "json", bad}, 1},
		{"parse-json-missing-file", []string{"config", "parse", cliData + "/nope.yml", "--format", "json"}, 1},
		{"parse-bad-format", []string{"config", "parse", v1, "--format", "xml"}, 1},

		{"hash", []string{"config", "hash", v1}, 0},
		{"hash-errors", []string{"config", "hash", bad}, 1},
		{"hash-usage", []string{"config", "hash"}, 1},

		{"diff-equal", []string{"config", "diff", v1, v1}, 0},
		{"diff-equal-json", []string{"config", "diff", v1, v1, "--format", "json"}, 0},
		{"diff-changed", []string{"config", "diff", v1, v2}, 2},
		{"diff-changed-json", []string{"config", "diff", v1, v2, "--format", "json"}, 2},
		{"diff-reverse", []string{"config", "diff", v2, v1}, 2},
		{"diff-errors", []string{"config", "diff", v1, bad}, 1},
		{"diff-usage", []string{"config", "diff", v1}, 1},

		{"request-function-answers", []string{"request", "-c", v1, "GET", "/hello"}, 0},
		{"request-proxied", []string{"request", "-c", v1, "POST", "/echo/items?page=2", "-H", "X-Trace: abc", "-H", "Content-Type: text/plain", "-d", "hello"}, 0},
		{"request-transform", []string{"request", "-c", v1, "POST", "/transform", "-H", "Content-Type: application/json",
			"-d", `{"input":"hello"}`, "--upstream-status", "201", "--upstream-header", "Content-Type: application/json", "--upstream-body", `{"id":7}`}, 0},
		{"request-auth-file-401", []string{"request", "-c", v1, "GET", "/secure"}, 0},
		{"request-auth-file-ok", []string{"request", "-c", v1, "GET", "/secure", "-H", "Authorization: Bearer secret-token-123"}, 0},
		{"request-redis-refused", []string{"request", "-c", v1, "GET", "/cache"}, 0},
		{"request-https-service", []string{"request", "-c", v1, "GET", "/legacy/x"}, 0},
		{"request-no-route", []string{"request", "-c", v1, "GET", "/nope", "-H", "Accept: application/json"}, 0},
		{"request-json", []string{"request", "-c", v1, "GET", "/hello", "--format", "json"}, 0},
		{"request-bad-header", []string{"request", "-c", v1, "GET", "/hello", "-H", "no colon"}, 1},
		{"request-bad-path", []string{"request", "-c", v1, "GET", "hello"}, 1},
		{"request-usage", []string{"request", "-c", v1, "GET"}, 1},
		{"request-bad-config", []string{"request", "-c", bad, "GET", "/"}, 1},

		{"lint-clean", []string{"lint", v1}, 0},
		{"lint-warnings", []string{"lint", lint}, 3},
		{"lint-warnings-json", []string{"lint", lint, "--format", "json"}, 3},
		{"lint-errors", []string{"lint", bad}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, nil, tt.args...)
			if code != tt.exit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.exit, out, errs)
			}
			got := normalize("exit " + strconv.Itoa(code) + "\n--- stdout\n" + out + "--- stderr\n" + errs)
			golden := filepath.Join(cliData, tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update after checking):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestConfigHashIsWhatTheGatewayReports checks `config hash` against the
// hash of the snapshot a gateway builds from the same file (what /status
// shows), for a file with a referenced .lua file.
func TestConfigHashIsWhatTheGatewayReports(t *testing.T) {
	for _, file := range []string{cliData + "/v1/kong.yml", cliData + "/v2/kong.yml", "../../kong.yml"} {
		code, out, errs := runCLI(t, nil, "config", "hash", file)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", file, code, errs)
		}
		g, err := gateway.New(gateway.DefaultSettings(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.LoadFile(file); err != nil {
			t.Fatal(declarative.FormatText(err))
		}
		if got, want := strings.TrimSpace(out), g.Current().Hash(); got != want || len(got) != 32 {
			t.Errorf("%s: config hash = %q, the gateway reports %q", file, got, want)
		}
	}
}

// TestConfigDiffDetectsLuaFileEdits: the same kong.yml text with an edited
// .lua file differs (and by that file only).
func TestConfigDiffDetectsLuaFileEdits(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a/functions", "b/functions"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	yml := "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://x.internal\n  routes:\n  - name: r\n    paths: [/]\n    plugins:\n    - name: pre-function\n      config:\n        access: [functions/f.lua]\n"
	for _, d := range []string{"a", "b"} {
		os.WriteFile(filepath.Join(dir, d, "kong.yml"), []byte(yml), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "a/functions/f.lua"), []byte("local x = 1\nkong.log.info(x)\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b/functions/f.lua"), []byte("local x = 2\nkong.log.info(x)\n"), 0o644)
	code, out, errs := runCLI(t, nil, "config", "diff", filepath.Join(dir, "a/kong.yml"), filepath.Join(dir, "b/kong.yml"), "--format", "json")
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s %s", code, out, errs)
	}
	var got struct {
		Equal   bool
		Changes []change
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Equal || len(got.Changes) != 1 || got.Changes[0].Kind != "lua file" || got.Changes[0].ID != "functions/f.lua" ||
		len(got.Changes[0].Fields) != 1 || got.Changes[0].Fields[0].Field != "line 1" {
		t.Errorf("changes = %+v", got.Changes)
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		pos, hdr string
	}{
		{[]string{"GET", "/x", "-H", "A: 1"}, "GET /x", "A: 1"},
		{[]string{"-H", "A: 1", "GET", "-H", "B: 2", "/x"}, "GET /x", "A: 1|B: 2"},
		{[]string{"GET", "--", "-H"}, "GET -H", ""},
	} {
		fs := flag2("t", os.Stderr, "")
		var h headerFlag
		fs.Var(&h, "H", "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil {
			t.Fatal(err)
		}
		var hs []string
		for _, kv := range h {
			hs = append(hs, kv[0]+": "+kv[1])
		}
		if strings.Join(pos, " ") != tt.pos || strings.Join(hs, "|") != tt.hdr {
			t.Errorf("%q: positional %q headers %q", tt.args, pos, hs)
		}
	}
}

func TestEditDistanceAndSuggestions(t *testing.T) {
	l := &linter{pdk: knownPDK()}
	for _, tt := range []struct{ name, want string }{
		{"kong.request.get_header", ""},
		{"kong.request.get_hedaer", "unknown PDK name kong.request.get_hedaer (did you mean kong.request.get_header?)"},
		{"kong.ctx.shared.anything.at.all", ""},
		{"kong.ctx.shraed", "unknown PDK name kong.ctx.shraed (did you mean kong.ctx.shared?)"},
		{"kong.configuration.whatever", ""},
		{"kong.log.info", ""},
		{"kong.nope", `unknown PDK name kong.nope (did you mean kong.node?)`},
		{"kong.service.request.zzzzzzzzz", `unknown PDK name kong.service.request.zzzzzzzzz (kong.service.request has no field "zzzzzzzzz")`},
		{"kong.request.get_header.x", ""}, // a field of a function result: not the PDK's business
	} {
		msg, _ := l.checkName(tt.name)
		if msg != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, msg, tt.want)
		}
	}
}
