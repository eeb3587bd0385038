package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"luagate/declarative"
)

const dryRunYML = `_format_version: "3.0"
services:
- name: echo
  url: http://127.0.0.1:9000/base
  routes:
  - name: echo
    paths: [/echo]
  - name: hello
    paths: [/hello]
    plugins:
    - name: pre-function
      config:
        access:
        - kong.response.exit(201, { message = 'hi' }, { ["X-From"] = "lua" })
  - name: rewrite
    paths: [/rw]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          kong.service.request.set_header("X-Added", kong.request.get_header("X-Client") or "yes")
          kong.service.request.set_raw_body("changed")
    - name: post-function
      config:
        header_filter:
        - kong.response.set_header("X-Post", tostring(kong.response.get_status()))
  - name: redis
    paths: [/redis]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local redis = require "resty.redis"
          local red = redis:new()
          local ok, err = red:connect("127.0.0.1", 6379)
          kong.response.exit(200, { ok = ok, err = err })
  - name: http
    paths: [/http]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local httpc = require("resty.http").new()
          local res, err = httpc:request_uri("http://127.0.0.1:1/")
          kong.response.exit(200, { err = err })
  - name: lambda
    paths: [/lambda]
    plugins:
    - name: aws-lambda
      config:
        function_name: greet
        aws_region: us-east-1
        aws_key: AKIDEXAMPLE
        aws_secret: secret
- name: tls
  url: https://secure.example:8443
  routes:
  - name: tls
    paths: [/tls]
- name: balanced
  host: backend
  routes:
  - name: balanced
    paths: [/balanced]
upstreams:
- name: backend
  healthchecks:
    active:
      http_path: /health
      healthy:
        interval: 1
      unhealthy:
        interval: 1
  targets:
  - target: b1.dryrun.invalid:8080
plugins:
- name: post-function
  config:
    log:
    - kong.log.notice("logged")
`

func loadDryRunConfig(t *testing.T) *declarative.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kong.yml")
	if err := os.WriteFile(path, []byte(dryRunYML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := declarative.LoadFile(path, Registry(DefaultSettings()))
	if err != nil {
		t.Fatal(declarative.FormatText(err))
	}
	return cfg
}

func header(hs [][2]string, name string) (string, bool) {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

func TestDryRun(t *testing.T) {
	cfg := loadDryRunConfig(t)
	for _, tt := range []struct {
		name  string
		req   DryRunRequest
		check func(t *testing.T, r *DryRunResult)
	}{
		{"proxied with strip_path and query", DryRunRequest{Method: "POST", Target: "/echo/a/b?x=1", Headers: [][2]string{{"X-Test", "1"}}, Body: []byte("payload")},
			func(t *testing.T, r *DryRunResult) {
				if r.Route == nil || r.Route.Name != "echo" || r.Route.Service.Name != "echo" || r.Route.StripPrefix != "/echo" {
					t.Fatalf("route = %+v", r.Route)
				}
				u := r.Upstream
				if u == nil {
					t.Fatal("no upstream request captured")
				}
				if u.URL != "http://127.0.0.1:9000/base/a/b?x=1" || u.Method != "POST" || u.Body != "payload" || u.Target != "127.0.0.1:9000" {
					t.Errorf("upstream = %+v", u)
				}
				for name, want := range map[string]string{"X-Test": "1", "Host": "127.0.0.1:9000", "X-Forwarded-Prefix": "/echo",
					"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "localhost", "X-Forwarded-Port": "8000", "X-Real-IP": "127.0.0.1"} {
					if got, _ := header(u.Headers, name); got != want {
						t.Errorf("upstream %s = %q, want %q", name, got, want)
					}
				}
				if r.Response.Status != 200 {
					t.Errorf("status %d", r.Response.Status)
				}
				if v, _ := header(r.Response.Headers, "Via"); !strings.Contains(v, "luagate") {
					t.Errorf("Via = %q", v)
				}
				// only the global log function
				if len(r.Trace) != 1 || r.Trace[0].Plugin != "post-function" || r.Trace[0].Phase != "log" {
					t.Errorf("trace = %+v", r.Trace)
				}
			}},
		{"function answers by itself", DryRunRequest{Target: "/hello"},
			func(t *testing.T, r *DryRunResult) {
				if r.Upstream != nil {
					t.Errorf("upstream called: %+v", r.Upstream)
				}
				if r.Response.Status != 201 || r.Response.Body != `{"message":"hi"}` {
					t.Errorf("response = %+v", r.Response)
				}
				if v, _ := header(r.Response.Headers, "X-From"); v != "lua" {
					t.Errorf("X-From = %q", v)
				}
				if len(r.Trace) != 2 || r.Trace[0].Phase != "access" || r.Trace[0].Exit != 201 || r.Trace[1].Phase != "log" {
					t.Errorf("trace = %+v", r.Trace)
				}
				if len(r.Plugins) != 2 || r.Plugins[0].Name != "pre-function" || r.Plugins[0].Scope != "route" || r.Plugins[1].Scope != "global" {
					t.Errorf("plugins = %+v", r.Plugins)
				}
			}},
		{"request and response rewriting", DryRunRequest{Target: "/rw", UpstreamStatus: 202, UpstreamBody: []byte("up")},
			func(t *testing.T, r *DryRunResult) {
				if r.Upstream == nil || r.Upstream.Body != "changed" {
					t.Fatalf("upstream = %+v", r.Upstream)
				}
				if v, _ := header(r.Upstream.Headers, "X-Added"); v != "yes" {
					t.Errorf("X-Added = %q", v)
				}
				if v, _ := header(r.Response.Headers, "X-Post"); v != "202" || r.Response.Body != "up" || r.Response.Status != 202 {
					t.Errorf("response = %+v", r.Response)
				}
				var phases []string
				for _, s := range r.Trace {
					phases = append(phases, s.Plugin+":"+s.Phase)
				}
				// the route's post-function replaces the global one (log included)
				if got := strings.Join(phases, " "); got != "pre-function:access post-function:header_filter" {
					t.Errorf("trace = %s", got)
				}
			}},
		{"header names match in any case, as on the proxy", DryRunRequest{Target: "/rw", Headers: [][2]string{{"x-client", "lower"}}},
			func(t *testing.T, r *DryRunResult) {
				if v, _ := header(r.Upstream.Headers, "X-Added"); v != "lower" {
					t.Errorf("X-Added = %q, want the client's x-client", v)
				}
			}},
		{"resty.redis is refused", DryRunRequest{Target: "/redis"},
			func(t *testing.T, r *DryRunResult) {
				if r.Response.Status != 500 || len(r.Trace) == 0 || !strings.Contains(r.Trace[0].Error, "resty.redis is not available in a dry run") {
					t.Errorf("response %+v trace %+v", r.Response, r.Trace)
				}
				if len(r.Errors) == 0 || !strings.Contains(r.Errors[0], "not available in a dry run") {
					t.Errorf("errors = %q", r.Errors)
				}
			}},
		{"resty.http is refused", DryRunRequest{Target: "/http"},
			func(t *testing.T, r *DryRunResult) {
				if r.Response.Status != 500 || !strings.Contains(r.Trace[0].Error, "resty.http is not available in a dry run") {
					t.Errorf("response %+v trace %+v", r.Response, r.Trace)
				}
			}},
		{"aws-lambda is refused", DryRunRequest{Target: "/lambda"},
			func(t *testing.T, r *DryRunResult) {
				if r.Upstream != nil || r.Response.Status != 500 || len(r.Trace) == 0 || r.Trace[0].Plugin != "aws-lambda" ||
					!strings.Contains(r.Trace[0].Error, "aws-lambda (it invokes a Lambda function over the network) is not available in a dry run") {
					t.Errorf("response %+v trace %+v upstream %+v", r.Response, r.Trace, r.Upstream)
				}
			}},
		{"https service", DryRunRequest{Target: "/tls/x"},
			func(t *testing.T, r *DryRunResult) {
				if r.Upstream == nil || r.Upstream.URL != "https://secure.example:8443/x" {
					t.Fatalf("upstream = %+v errors %q", r.Upstream, r.Errors)
				}
				if v, _ := header(r.Upstream.Headers, "Host"); v != "secure.example:8443" {
					t.Errorf("Host = %q", v)
				}
			}},
		{"upstream entity: no DNS, no probes", DryRunRequest{Target: "/balanced/x"},
			func(t *testing.T, r *DryRunResult) {
				if r.Upstream == nil || r.Upstream.Target != "b1.dryrun.invalid:8080" || r.Upstream.URL != "http://b1.dryrun.invalid:8080/x" {
					t.Fatalf("upstream = %+v, response %+v, errors %q", r.Upstream, r.Response, r.Errors)
				}
			}},
		{"no route", DryRunRequest{Target: "/nope", Headers: [][2]string{{"Accept", "application/json"}}},
			func(t *testing.T, r *DryRunResult) {
				if r.Route != nil || r.Upstream != nil || r.Response.Status != 404 || !strings.Contains(r.Response.Body, "no Route matched") {
					t.Errorf("result = %+v", r)
				}
				if len(r.Plugins) != 1 || r.Plugins[0].Scope != "global" {
					t.Errorf("plugins = %+v", r.Plugins)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DryRun(cfg, DefaultSettings(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

// TestDryRunLeavesTheConfigAlone: the copy without active checks is the
// dry run's own.
func TestDryRunLeavesTheConfigAlone(t *testing.T) {
	cfg := loadDryRunConfig(t)
	before := fmt.Sprint(cfg.Upstreams[0].Healthchecks)
	c := withoutActiveChecks(cfg)
	if c == cfg || c.Upstreams[0] == cfg.Upstreams[0] || c.Targets[0].Upstream != c.Upstreams[0] {
		t.Fatal("withoutActiveChecks did not copy the upstreams and re-point the targets")
	}
	if after := fmt.Sprint(cfg.Upstreams[0].Healthchecks); after != before {
		t.Errorf("the caller's healthchecks changed:\n%s\n%s", before, after)
	}
	act := c.Upstreams[0].Healthchecks["active"].(map[string]any)
	for _, side := range []string{"healthy", "unhealthy"} {
		if v := act[side].(map[string]any)["interval"]; fmt.Sprint(v) != "0" {
			t.Errorf("%s interval %v in the copy", side, v)
		}
	}
	if _, err := DryRun(cfg, DefaultSettings(), DryRunRequest{Target: "/balanced"}); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprint(cfg.Upstreams[0].Healthchecks); after != before {
		t.Errorf("DryRun changed the caller's healthchecks")
	}
}

func TestDryRunBadInput(t *testing.T) {
	cfg := loadDryRunConfig(t)
	for _, req := range []DryRunRequest{
		{Target: "nope"},
		{Method: "G ET", Target: "/"},
		{Target: "/", Scheme: "ftp"},
		{Target: "/", ClientIP: "not-an-ip"},
		{Target: "/echo", Headers: [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "websocket"}}},
	} {
		if _, err := DryRun(cfg, DefaultSettings(), req); err == nil {
			t.Errorf("%+v: no error", req)
		}
	}
}

func TestDryRunRequestIDIsStable(t *testing.T) {
	cfg := loadDryRunConfig(t)
	a, err := DryRun(cfg, DefaultSettings(), DryRunRequest{Target: "/echo"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DryRun(cfg, DefaultSettings(), DryRunRequest{Target: "/echo"})
	ida, _ := header(a.Upstream.Headers, "X-Kong-Request-Id")
	idb, _ := header(b.Upstream.Headers, "X-Kong-Request-Id")
	if len(ida) != 32 || ida != idb {
		t.Errorf("request ids %q and %q, want the same 32 characters", ida, idb)
	}
}

// TestDrainTimeoutSetting: KONG_DRAIN_TIMEOUT bounds the SIGTERM drain
// (cmd/luagate's TestSIGTERMDrainsInFlightRequests runs it for real).
func TestDrainTimeoutSetting(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want time.Duration
		bad  bool
	}{
		{"", 10 * time.Second, false},
		{"30", 30 * time.Second, false},
		{"1.5", 1500 * time.Millisecond, false},
		{"2m", 2 * time.Minute, false},
		{"soon", 0, true},
		{"-1", 0, true},
	} {
		s, err := SettingsFromEnv(func(k string) string {
			if k == "KONG_DRAIN_TIMEOUT" {
				return tt.env
			}
			return ""
		})
		if tt.bad {
			if err == nil || !strings.Contains(err.Error(), "KONG_DRAIN_TIMEOUT") {
				t.Errorf("%q: error %v, want one naming KONG_DRAIN_TIMEOUT", tt.env, err)
			}
			continue
		}
		if err != nil || s.drainTimeout() != tt.want {
			t.Errorf("%q: drain timeout %v (%v), want %v", tt.env, s.drainTimeout(), err, tt.want)
		}
	}
}
