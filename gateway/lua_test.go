package gateway

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"luagate/declarative"
)

// loadYAML loads a kong.yml text with the real plugin registry.
func loadYAML(t testing.TB, yml string, s Settings) *declarative.Config {
	t.Helper()
	cfg, err := declarative.Load([]byte(yml), declarative.Options{Filename: "kong.yml", Dir: t.TempDir(), Registry: Registry(s)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

// syncBuffer is a concurrency-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const luaConfig = `_format_version: "3.0"
plugins:
- name: pre-function
  config:
    rewrite:
    - |
      if kong.request.get_header("x-break-rewrite") then error("rewrite broke") end
services:
- name: echo
  url: http://ECHO
  routes:
  - name: auth
    paths: [/auth]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local auth = kong.request.get_header("authorization")
          if auth ~= "Bearer secret" then
            return kong.response.exit(401, { message = "nope" })
          end
          kong.service.request.set_header("X-User", "bob")
          kong.ctx.shared.who = "bob"
        header_filter:
        - kong.response.set_header("X-Who", tostring(kong.ctx.shared.who))
  - name: err
    paths: [/err]
    plugins:
    - name: pre-function
      config:
        access:
        - local x = nil; x.boom()
    - name: post-function
      config:
        access:
        - kong.service.request.set_header("X-Post", "ran")
        header_filter:
        - kong.response.set_header("X-Source", kong.response.get_source())
  - name: body
    paths: [/body]
    strip_path: false
    plugins:
    - name: post-function
      config:
        body_filter:
        - |
          local body = kong.response.get_raw_body()
          if body then kong.response.set_raw_body(string.upper(body)) end
  - name: info
    paths: [/info]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          return kong.response.exit(200, {
            path = kong.request.get_path(),
            raw_query = kong.request.get_raw_query(),
            host = kong.request.get_host(),
            method = kong.request.get_method(),
            ip = kong.client.get_ip(),
            fwd = kong.client.get_forwarded_ip(),
            id = kong.request.get_header("x-kong-request-id") or "none",
          })
  - name: rewrite-path
    paths: [/rp]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          kong.service.request.set_path("/new/path")
          kong.service.request.set_raw_query("a=b")
          kong.service.request.set_method("PUT")
  - name: error-fn
    paths: [/kerr]
    plugins:
    - name: pre-function
      config:
        access:
        - return kong.response.error(403)
  - name: counter
    paths: [/count]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local n = 0
          return function()
            n = n + 1
            kong.response.set_header("X-Count", n)
          end
  - name: shared
    paths: [/shared]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local n, err = ngx.shared.my_cache:incr("hits", 1, 0)
          return kong.response.exit(200, tostring(n) .. (err or ""))
  - name: logs
    paths: [/logs]
    plugins:
    - name: post-function
      config:
        log:
        - |
          local s = kong.log.serialize()
          kong.log.notice("served ", s.request.uri, " status ", s.response.status)
`

func TestLuaEndToEnd(t *testing.T) {
	host, port, hits := startEcho(t)
	s := testSettings()
	s.LuaSharedDicts = map[string]int{"my_cache": 1 << 20}
	cfg := loadYAML(t, strings.ReplaceAll(luaConfig, "ECHO", host+":"+strconv.Itoa(port)), s)
	var logs syncBuffer
	g, err := New(s, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	tg := runGateway(t, g, cfg)

	t.Run("access exit without credentials", func(t *testing.T) {
		before := hits.Load()
		r := tg.do(t, "GET", "/auth", nil, "")
		if r.status != 401 || r.body != `{"message":"nope"}` || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("got %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
		}
		if r.header.Get("X-Who") != "nil" {
			t.Errorf("header_filter did not run after the exit: X-Who = %q", r.header.Get("X-Who"))
		}
		if hits.Load() != before {
			t.Errorf("upstream reached")
		}
	})
	t.Run("access passes, upstream header and kong.ctx.shared", func(t *testing.T) {
		r := tg.do(t, "GET", "/auth", map[string]string{"Authorization": "Bearer secret"}, "")
		if r.echo == nil || r.echo.header("X-User") != "bob" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if r.header.Get("X-Who") != "bob" {
			t.Errorf("X-Who = %q (kong.ctx.shared across phases)", r.header.Get("X-Who"))
		}
	})
	t.Run("runtime error in access: 500, later access plugins skipped, header_filter runs", func(t *testing.T) {
		r := tg.do(t, "GET", "/err", nil, "")
		want := "{\n  \"message\":\"An unexpected error occurred\",\n  \"request_id\":\"" + r.header.Get("X-Kong-Request-Id") + "\"\n}"
		if r.status != 500 || r.body != want {
			t.Errorf("got %d %q", r.status, r.body)
		}
		if r.header.Get("X-Source") != "error" {
			t.Errorf("X-Source = %q, want error", r.header.Get("X-Source"))
		}
		if !strings.Contains(logs.String(), "attempt to index") {
			t.Errorf("the Lua error was not logged: %s", logs.String())
		}
	})
	t.Run("runtime error in global rewrite: 500 text/plain", func(t *testing.T) {
		r := tg.do(t, "GET", "/auth", map[string]string{"X-Break-Rewrite": "1"}, "")
		if r.status != 500 || !strings.HasPrefix(r.body, "An unexpected error occurred\nrequest_id: ") {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("body_filter sees and replaces the whole body", func(t *testing.T) {
		r := tg.do(t, "GET", "/body/x", nil, "")
		if r.status != 200 || !strings.Contains(r.body, `"URI":"/BODY/X"`) {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("request view", func(t *testing.T) {
		r := tg.do(t, "GET", "/info/a%20b?x=1&y", map[string]string{"Host": "Info.Test:8000"}, "")
		for _, want := range []string{`"path":"\/info\/a b"`, `"raw_query":"x=1&y"`, `"host":"info.test"`, `"method":"GET"`, `"ip":"127.0.0.1"`, `"fwd":"127.0.0.1"`, `"id":"none"`} {
			if !strings.Contains(r.body, want) && !strings.Contains(r.body, strings.ReplaceAll(want, `\/`, `/`)) {
				t.Errorf("body %q lacks %s", r.body, want)
			}
		}
	})
	t.Run("service request path, query and method", func(t *testing.T) {
		r := tg.do(t, "GET", "/rp/old?q=1", nil, "")
		if r.echo == nil || r.echo.URI != "/new/path?a=b" || r.echo.Method != "PUT" {
			t.Errorf("upstream saw %v", r.echo)
		}
	})
	t.Run("kong.response.error is templated", func(t *testing.T) {
		r := tg.do(t, "GET", "/kerr", map[string]string{"Accept": "text/plain"}, "")
		if r.status != 403 || r.body != "Forbidden\nrequest_id: "+r.header.Get("X-Kong-Request-Id")+"\n" {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("returned function keeps its upvalues", func(t *testing.T) {
		last := 0
		for i := 0; i < 3; i++ {
			r := tg.do(t, "GET", "/count", nil, "")
			n, err := strconv.Atoi(r.header.Get("X-Count"))
			if err != nil || n < 1 {
				t.Fatalf("X-Count = %q", r.header.Get("X-Count"))
			}
			last = n
		}
		if last < 2 {
			t.Errorf("counter did not persist: %d", last)
		}
	})
	t.Run("ngx.shared outlives requests and states", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			r := tg.do(t, "GET", "/shared", nil, "")
			if r.status != 200 || r.body != strconv.Itoa(i) {
				t.Fatalf("request %d: %d %q", i, r.status, r.body)
			}
		}
	})
	t.Run("log phase with kong.log.serialize", func(t *testing.T) {
		r := tg.do(t, "GET", "/logs/z?k=v", nil, "")
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		out := logs.String()
		if !strings.Contains(out, "served /logs/z?k=v status 200") || !strings.Contains(out, `"request_id":"`+r.header.Get("X-Kong-Request-Id")+`"`) {
			t.Errorf("log line missing: %s", out)
		}
	})
}

// runGateway starts an already created gateway with cfg.
func runGateway(t testing.TB, g *Gateway, cfg *declarative.Config) *testGateway {
	t.Helper()
	if err := g.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	return startGatewayWith(t, g)
}
