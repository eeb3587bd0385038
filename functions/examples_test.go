package functions

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"luagate/declarative"
	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

const examplesDir = "../testdata/examples"

// loadExample reads one example kong.yml and returns its plugins, validated
// by this package's schemas (the loader's job, done here without it).
func loadExample(t *testing.T, file string) []*declarative.Plugin {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(examplesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var doc struct {
		Services []struct {
			Name    string
			Plugins []struct {
				Name   string
				Config map[string]any
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []*declarative.Plugin
	for _, svc := range doc.Services {
		for _, p := range svc.Plugins {
			k := kind(t, Settings{}, p.Name)
			c, errs := k.Schema.Validate(p.Config, testEnv(examplesDir, p.Name))
			if errs != nil {
				t.Fatalf("%s: %v", file, errStrings(errs))
			}
			out = append(out, &declarative.Plugin{ID: svc.Name, Name: p.Name, Enabled: true, RawConfig: p.Config, Config: c})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no plugin", file)
	}
	return out
}

// TestExamplesCompile keeps every example file loadable.
func TestExamplesCompile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yml"))
	if err != nil || len(files) < 8 {
		t.Fatalf("examples: %v %v", files, err)
	}
	readme, err := os.ReadFile(filepath.Join(examplesDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		loadExample(t, filepath.Base(f))
		if !strings.Contains(string(readme), "`"+filepath.Base(f)+"`") {
			t.Errorf("README.md does not list %s", filepath.Base(f))
		}
	}
}

// exampleRequest describes one request through an example's plugin with
// the real PDK (lualib) and what the function must do with it.
type exampleRequest struct {
	name    string
	prepare func(ex *lualibtest.FakeExchange)
	// expectations
	exit     int    // status of kong.response.exit, 0 for none
	body     string // substring of the exit body or, with no exit, of the checked body
	upHeader [2]string
	check    func(t *testing.T, ex *lualibtest.FakeExchange)
}

func jsonRequest(method, path, body string) func(*lualibtest.FakeExchange) {
	return func(ex *lualibtest.FakeExchange) {
		ex.ReqMethod, ex.ReqRawPath = method, path
		ex.AddHeader("Content-Type", "application/json")
		ex.Body = []byte(body)
	}
}

func TestExamplesWithPDK(t *testing.T) {
	tests := []struct {
		file     string
		reqs     []exampleRequest
		phaseSet []lualib.Phase
	}{
		{file: "hello-world.yml", reqs: []exampleRequest{
			{name: "hello", exit: 200, body: `"message":"Hello World from Kong!"`},
		}},
		{file: "request-transformer.yml", reqs: []exampleRequest{
			{name: "uppercase", prepare: jsonRequest("POST", "/transform", `{"operation":"uppercase","input":"hello"}`),
				check: func(t *testing.T, ex *lualibtest.FakeExchange) {
					if !strings.Contains(string(ex.UpBody), `"input":"HELLO"`) {
						t.Errorf("upstream body = %s", ex.UpBody)
					}
				}},
			{name: "other operation passes", prepare: jsonRequest("POST", "/transform", `{"operation":"reverse","input":"hello"}`),
				check: func(t *testing.T, ex *lualibtest.FakeExchange) {
					if ex.UpBodySet {
						t.Errorf("body was replaced: %s", ex.UpBody)
					}
				}},
			{name: "no body passes"},
		}},
		{file: "response-headers.yml", phaseSet: []lualib.Phase{lualib.PhaseHeaderFilter}, reqs: []exampleRequest{
			{name: "header added", check: func(t *testing.T, ex *lualibtest.FakeExchange) {
				if v, _ := ex.ResponseHeader("X-Processed-By"); v != "Kong-Serverless" {
					t.Errorf("X-Processed-By = %q", v)
				}
			}},
		}},
		{file: "response-body.yml", phaseSet: []lualib.Phase{lualib.PhaseBodyFilter}, reqs: []exampleRequest{
			{name: "json body", prepare: func(ex *lualibtest.FakeExchange) { ex.RespBody = []byte(`{"a":1}`) },
				check: func(t *testing.T, ex *lualibtest.FakeExchange) {
					var got map[string]any
					if err := json.Unmarshal(ex.RespBody, &got); err != nil || got["a"] != 1.0 || got["processed_at"] == nil {
						t.Errorf("body = %s (%v)", ex.RespBody, err)
					}
				}},
			{name: "text body passes", prepare: func(ex *lualibtest.FakeExchange) { ex.RespBody = []byte("plain") },
				check: func(t *testing.T, ex *lualibtest.FakeExchange) {
					if string(ex.RespBody) != "plain" {
						t.Errorf("body = %s", ex.RespBody)
					}
				}},
		}},
		{file: "bearer-auth.yml", reqs: []exampleRequest{
			{name: "no header", exit: 401, body: `"message":"Authentication required"`},
			{name: "not bearer", prepare: header("Authorization", "Basic abc"), exit: 401, body: `"message":"Invalid token format"`},
			{name: "unknown token", prepare: header("Authorization", "Bearer nope"), exit: 403, body: `"message":"Invalid credentials"`},
			{name: "valid token", prepare: header("Authorization", "Bearer secret-token-123"), upHeader: [2]string{"X-Consumer-Role", "admin"},
				check: func(t *testing.T, ex *lualibtest.FakeExchange) {
					if v, _ := ex.UpstreamHeader("X-Consumer-ID"); v != "user-123" {
						t.Errorf("X-Consumer-ID = %q", v)
					}
				}},
		}},
		{file: "content-filter.yml", reqs: []exampleRequest{
			{name: "script", prepare: jsonRequest("POST", "/api/notes", `{"text":"<script>alert(1)</script>"}`),
				exit: 400, body: `"error":"Malicious content detected"`},
			{name: "missing email", prepare: jsonRequest("POST", "/api/users", `{"name":"Ann"}`),
				exit: 400, body: `"error":"Missing required field: email"`},
			{name: "bad email", prepare: jsonRequest("POST", "/api/users", `{"name":"Ann","email":"ann@bad"}`),
				exit: 400, body: `"error":"Invalid email format"`},
			{name: "valid user", prepare: jsonRequest("POST", "/api/users", `{"name":"Ann","email":"ann.lee+x@example.com"}`)},
			{name: "GET is not validated", prepare: func(ex *lualibtest.FakeExchange) { ex.ReqRawPath = "/api/users" }},
		}},
		{file: "logging.yml", reqs: []exampleRequest{
			{name: "normal", upHeader: [2]string{"X-Logged", "true"}},
			{name: "failure", prepare: header("X-Fail", "yes"), exit: 500, body: `"error":"Internal error"`},
		}},
		{file: "file-function.yml", reqs: []exampleRequest{
			{name: "from file", exit: 200, body: `"message":"Hello from greeting.lua"`},
			{name: "again", exit: 200, body: `"phases":1`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			plugins := loadExample(t, tt.file)
			set, err := NewSet(&declarative.Config{Plugins: plugins}, Settings{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			h := set.Handler(plugins[0])
			phases := tt.phaseSet
			if phases == nil {
				phases = []lualib.Phase{lualib.PhaseAccess}
			}
			for _, rq := range tt.reqs {
				t.Run(rq.name, func(t *testing.T) {
					ex := newEx()
					if rq.prepare != nil {
						rq.prepare(ex)
					}
					var lease *Lease
					for _, ph := range phases {
						ex.CurPhase = ph
						if err := h.Run(ph, ex, &lease); err != nil {
							t.Fatal(err)
						}
					}
					lease.Release()
					exit := ex.LastExit()
					switch {
					case rq.exit == 0 && exit != nil:
						t.Errorf("unexpected exit %d %s", exit.Status, exit.Body)
					case rq.exit != 0 && exit == nil:
						t.Errorf("no exit, want %d", rq.exit)
					case rq.exit != 0:
						if exit.Status != rq.exit || !strings.Contains(string(exit.Body), rq.body) {
							t.Errorf("exit %d %s, want %d with %s", exit.Status, exit.Body, rq.exit, rq.body)
						}
					}
					if rq.upHeader[0] != "" {
						if v, _ := ex.UpstreamHeader(rq.upHeader[0]); v != rq.upHeader[1] {
							t.Errorf("upstream %s = %q, want %q", rq.upHeader[0], v, rq.upHeader[1])
						}
					}
					if rq.check != nil {
						rq.check(t, ex)
					}
				})
			}
		})
	}
}

func header(name, value string) func(*lualibtest.FakeExchange) {
	return func(ex *lualibtest.FakeExchange) { ex.AddHeader(name, value) }
}
