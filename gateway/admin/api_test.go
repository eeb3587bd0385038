package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"

	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"luagate/gateway"
)

// fixture is the kong.yml the API tests start from; UPSTREAM is replaced
// by a live echo server.
const fixture = `_format_version: "3.0"
# top comment kept
services:
- name: my-service
  url: http://UPSTREAM
  routes:
  - name: hello
    paths:
    - /hello
  - name: other
    paths: [/other]
  plugins:
  - name: pre-function
    config:
      access:
      - kong.service.request.set_header("x-pre", "1")
- name: second # a comment on second
  host: example.com
  tags: [b, c]
consumers:
- username: alice
plugins:
- name: post-function
  route: other
  config:
    log:
    - kong.log.info("x")
upstreams:
- name: up1
  targets:
  - target: 127.0.0.1:9001
  - target: 127.0.0.1:9002
    weight: 50
`

type node struct {
	g      *gateway.Gateway
	path   string
	admin  string
	proxy  string
	status string
	c      *http.Client
}

func startNode(t *testing.T, mod func(*gateway.Settings)) *node {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"upstream": true, "path": r.URL.Path, "x-pre": r.Header.Get("x-pre")})
	}))
	t.Cleanup(up.Close)
	path := filepath.Join(t.TempDir(), "kong.yml")
	text := strings.ReplaceAll(fixture, "UPSTREAM", up.Listener.Addr().String())
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := gateway.DefaultSettings()
	s.ProxyListen = []string{"127.0.0.1:0"}
	s.AdminListen = []string{"127.0.0.1:0"}
	s.StatusListen = []string{"127.0.0.1:0"}
	s.DeclarativeConfig = path
	if mod != nil {
		mod(&s)
	}
	g, err := gateway.New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.LoadFile(path); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	select {
	case <-g.Started():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("Run did not return")
		}
	})
	return &node{g: g, path: path, admin: g.Addrs("admin")[0], proxy: g.Addrs("proxy")[0],
		status: g.Addrs("status")[0], c: &http.Client{Timeout: 20 * time.Second}}
}

type reply struct {
	status int
	body   []byte
	json   map[string]any
	header http.Header
}

// req sends an Admin API request; body is a string (sent with ctype), a
// url.Values (form) or any other value (JSON).
func (n *node) req(t *testing.T, method, target string, body any, hdr ...string) *reply {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case rawBody:
		rd, ctype = strings.NewReader(b.text), b.ctype
	default:
		j, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	r, err := http.NewRequest(method, "http://"+n.admin+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := n.c.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	out := &reply{status: res.StatusCode, header: res.Header}
	out.body, _ = io.ReadAll(res.Body)
	if len(out.body) > 0 {
		json.Unmarshal(out.body, &out.json)
	}
	return out
}

type rawBody struct{ ctype, text string }

func (n *node) proxyGet(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := n.c.Get("http://" + n.proxy + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (n *node) file(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(n.path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// get walks a decoded JSON value: "data.0.name".
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func TestSeedCurlServerlessFunction(t *testing.T) {
	n := startNode(t, nil)
	// curl -X POST http://localhost:8001/services/my-service/plugins \
	//   --data "name=serverless-functions" \
	//   --data "config.access[1]=return kong.response.exit(200, { message = 'Hello World from Kong!' })"
	form := url.Values{
		"name":             {"serverless-functions"},
		"config.access[1]": {"return kong.response.exit(200, { message = 'Hello World from Kong!' })"},
	}
	r := n.req(t, "POST", "/services/my-service/plugins", form)
	if r.status != 201 {
		t.Fatalf("POST = %d %s, want 201", r.status, r.body)
	}
	svcID := get(n.req(t, "GET", "/services/my-service", nil).json, "id")
	if get(r.json, "name") != "serverless-functions" || get(r.json, "service.id") != svcID ||
		get(r.json, "config.access.0") != "return kong.response.exit(200, { message = 'Hello World from Kong!' })" ||
		get(r.json, "enabled") != true || get(r.json, "route") != nil {
		t.Errorf("created plugin = %s", r.body)
	}
	code, body := n.proxyGet(t, "/hello")
	if code != 200 || strings.TrimSpace(body) != `{"message":"Hello World from Kong!"}` {
		t.Errorf("GET /hello after the write = %d %s", code, body)
	}
	file := n.file(t)
	t.Logf("kong.yml after the write:\n%s", file)
	for _, want := range []string{"name: serverless-functions", "return kong.response.exit(200, { message = 'Hello World from Kong!' })", "# top comment kept", "# a comment on second"} {
		if !strings.Contains(file, want) {
			t.Errorf("kong.yml lacks %q:\n%s", want, file)
		}
	}
	// the plugin is nested under its service in the file
	if i, j := strings.Index(file, "name: my-service"), strings.Index(file, "name: serverless-functions"); i < 0 || j < i || j > strings.Index(file, "name: second") {
		t.Errorf("the plugin is not under my-service:\n%s", file)
	}
	// GET /services/my-service/plugins shows both
	if l := get(n.req(t, "GET", "/services/my-service/plugins", nil).json, "data"); len(l.([]any)) != 2 {
		t.Errorf("service plugins = %v", l)
	}
}

func TestReadEndpoints(t *testing.T) {
	n := startNode(t, nil)
	svc := n.req(t, "GET", "/services/my-service", nil).json
	svcID, _ := svc["id"].(string)
	plugins := n.req(t, "GET", "/plugins", nil).json
	plugID, _ := get(plugins, "data.0.id").(string)
	first := n.req(t, "GET", "/services?size=1", nil).json
	next, _ := first["next"].(string)

	for _, tc := range []struct {
		name, method, path string
		status             int
		want               map[string]any // path in the JSON -> value ("*" = present, non-null)
	}{
		{"root", "GET", "/", 200, map[string]any{"tagline": "Welcome to kong", "plugins.available_on_server.pre-function": "*"}},
		{"status", "GET", "/status", 200, map[string]any{"configuration_hash": "*", "server.total_requests": "*", "luagate.last_reload_successful": true}},
		{"services", "GET", "/services", 200, map[string]any{"data.0.name": "my-service", "data.1.name": "second", "next": nil}},
		{"service page 1", "GET", "/services?size=1", 200, map[string]any{"data.0.name": "my-service", "next": "*", "offset": "*"}},
		{"service page 2", "GET", next, 200, map[string]any{"data.0.name": "second", "next": nil}},
		{"bad offset", "GET", "/services?offset=bad!", 400, map[string]any{"code": 7.0, "name": "invalid offset", "message": "'bad!' is not a valid offset: bad base64 encoding"}},
		{"bad size", "GET", "/services?size=0", 400, map[string]any{"code": 9.0}},
		{"tags and", "GET", "/services?tags=b,c", 200, map[string]any{"data.0.name": "second", "data.1": nil}},
		{"tags and misses", "GET", "/services?tags=b,x", 200, map[string]any{"data.0": nil}},
		{"tags or", "GET", "/services?tags=x/c", 200, map[string]any{"data.0.name": "second", "data.1": nil}},
		{"tags mixed", "GET", "/services?tags=a,b/c", 400, map[string]any{"code": 11.0}},
		{"service by name", "GET", "/services/my-service", 200, map[string]any{"id": svcID, "protocol": "http", "host": "127.0.0.1", "path": nil, "tags": nil, "client_certificate": nil, "retries": 5.0, "enabled": true}},
		{"service by id", "GET", "/services/" + svcID, 200, map[string]any{"name": "my-service"}},
		{"missing service", "GET", "/services/nope", 404, map[string]any{"message": "Not found"}},
		{"route", "GET", "/routes/hello", 200, map[string]any{"service.id": svcID, "paths.0": "/hello", "methods": nil, "strip_path": true, "protocols.0": "http"}},
		{"routes", "GET", "/routes", 200, map[string]any{"data.0.name": "hello", "data.1.name": "other"}},
		{"service routes", "GET", "/services/my-service/routes", 200, map[string]any{"data.1.name": "other"}},
		{"service route item", "GET", "/services/my-service/routes/other", 200, map[string]any{"name": "other"}},
		{"service routes of other service", "GET", "/services/second/routes", 200, map[string]any{"data.0": nil}},
		{"service plugins", "GET", "/services/my-service/plugins", 200, map[string]any{"data.0.name": "pre-function", "data.0.consumer": nil}},
		{"route plugins", "GET", "/routes/hello/plugins", 200, map[string]any{"data.0": nil}},
		{"route plugins of other", "GET", "/routes/other/plugins", 200, map[string]any{"data.0.name": "post-function", "data.0.route.id": "*", "data.0.service": nil}},
		{"plugins", "GET", "/plugins", 200, map[string]any{"data.0.name": "pre-function", "data.1.name": "post-function"}},
		{"plugin", "GET", "/plugins/" + plugID, 200, map[string]any{"name": "pre-function", "service.id": svcID, "config.access.0": `kong.service.request.set_header("x-pre", "1")`}},
		{"consumer", "GET", "/consumers/alice", 200, map[string]any{"username": "alice", "custom_id": nil}},
		{"consumer plugins", "GET", "/consumers/alice/plugins", 200, map[string]any{"data.0": nil, "next": nil}},
		{"upstreams", "GET", "/upstreams", 200, map[string]any{"data.0.name": "up1", "data.0.algorithm": "round-robin", "data.0.slots": 10000.0}},
		{"targets", "GET", "/upstreams/up1/targets", 200, map[string]any{"data.0.target": "127.0.0.1:9001", "data.0.weight": 100.0, "data.1.weight": 50.0, "data.0.upstream.id": "*"}},
		{"target item", "GET", "/upstreams/up1/targets/127.0.0.1:9002", 200, map[string]any{"weight": 50.0}},
		{"unknown collection", "GET", "/nope", 404, map[string]any{"message": "Not found"}},
		{"unknown nesting", "GET", "/services/my-service/targets", 404, map[string]any{"message": "Not found"}},
		{"PUT on a collection", "PUT", "/services", 405, map[string]any{"message": "Method not allowed"}},
		{"POST on an item", "POST", "/services/my-service", 405, map[string]any{"message": "Method not allowed"}},
		{"POST /status", "POST", "/status", 405, map[string]any{"message": "Method not allowed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := n.req(t, tc.method, tc.path, nil)
			if r.status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.status)
			}
			for p, want := range tc.want {
				got := get(r.json, p)
				if want == "*" {
					if got == nil {
						t.Errorf("%s: missing in %s", p, r.body)
					}
					continue
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v (body %s)", p, got, want, r.body)
				}
			}
		})
	}
	// every field present, with nulls
	r := n.req(t, "GET", "/routes/hello", nil)
	for _, k := range []string{"id", "name", "protocols", "methods", "hosts", "paths", "headers", "snis", "sources", "destinations", "https_redirect_status_code", "regex_priority", "strip_path", "path_handling", "preserve_host", "request_buffering", "response_buffering", "tags", "service", "created_at", "updated_at"} {
		if _, ok := r.json[k]; !ok {
			t.Errorf("route lacks %q: %s", k, r.body)
		}
	}
}

func TestGetConfigAndStatusHash(t *testing.T) {
	n := startNode(t, nil)
	r := n.req(t, "GET", "/config", nil)
	cfg, _ := r.json["config"].(string)
	if r.status != 200 || !strings.Contains(cfg, `_format_version: "3.0"`) || !strings.Contains(cfg, "name: my-service") {
		t.Fatalf("GET /config = %d %s", r.status, r.body)
	}
	st := n.req(t, "GET", "/status", nil).json
	if h, _ := st["configuration_hash"].(string); len(h) != 32 || h == strings.Repeat("0", 32) {
		t.Errorf("configuration_hash = %q", h)
	}
	// an empty config reports 32 zeros
	if r := n.req(t, "POST", "/config", rawBody{"application/yaml", "_format_version: \"3.0\"\n"}); r.status != 201 {
		t.Fatalf("POST empty config = %d %s", r.status, r.body)
	}
	if h := n.req(t, "GET", "/status", nil).json["configuration_hash"]; h != strings.Repeat("0", 32) {
		t.Errorf("configuration_hash of an empty config = %v", h)
	}
}

func multipartBody(t *testing.T, field, filename, content string) rawBody {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if filename != "" {
		fw, err := w.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, content)
	} else {
		w.WriteField(field, content)
	}
	w.Close()
	return rawBody{w.FormDataContentType(), buf.String()}
}

const simpleYAML = `_format_version: "3.0"
services:
- name: posted
  url: http://127.0.0.1:9
  routes:
  - name: posted-route
    paths: [/posted]
`

func TestPostConfig(t *testing.T) {
	n := startNode(t, nil)
	jsonCfg := `{"_format_version":"3.0","services":[{"name":"from-json","host":"example.com"}]}`
	for _, tc := range []struct {
		name   string
		query  string
		body   any
		status int
		check  func(t *testing.T, r *reply)
	}{
		{"json object with _format_version", "", rawBody{"application/json", jsonCfg}, 201, func(t *testing.T, r *reply) {
			svcs, _ := r.json["services"].(map[string]any)
			if len(svcs) != 1 {
				t.Fatalf("services = %v", r.json["services"])
			}
			for id, s := range svcs {
				if get(s, "name") != "from-json" || get(s, "id") != id {
					t.Errorf("service %s = %v", id, s)
				}
			}
		}},
		{"unchanged with check_hash", "?check_hash=1", rawBody{"application/json", jsonCfg}, 304, nil},
		{"json field config", "", map[string]any{"config": simpleYAML}, 201, func(t *testing.T, r *reply) {
			if len(r.json["routes"].(map[string]any)) != 1 {
				t.Errorf("routes = %v", r.json["routes"])
			}
		}},
		{"form field config", "", url.Values{"config": {strings.Replace(simpleYAML, "posted-route", "form-route", 1)}}, 201, nil},
		{"multipart file", "", multipartBody(t, "config", "kong.yml", strings.Replace(simpleYAML, "posted-route", "multi-route", 1)), 201, nil},
		{"raw yaml", "", rawBody{"application/yaml", simpleYAML}, 201, nil},
		{"check_hash same text", "?check_hash=1", rawBody{"application/yaml", simpleYAML}, 304, nil},
		{"empty body", "", rawBody{"application/yaml", "  \n"}, 400, func(t *testing.T, r *reply) {
			if string(r.body) != `{"message":"expected a declarative configuration"}` {
				t.Errorf("body = %s", r.body)
			}
		}},
		{"bobby tables", "", url.Values{"config": {"bobby tables"}}, 400, func(t *testing.T, r *reply) {
			want := `{"code":14,"fields":{"error":"failed parsing declarative configuration: expected an object"},"message":"declarative config is invalid: {error=\"failed parsing declarative configuration: expected an object\"}","name":"invalid declarative configuration"}`
			if string(r.body) != want {
				t.Errorf("body = %s\nwant  %s", r.body, want)
			}
		}},
		{"invalid entities", "", rawBody{"application/yaml", "_format_version: \"3.0\"\nservices:\n- name: foo\n"}, 400, func(t *testing.T, r *reply) {
			if r.json["message"] != `declarative config is invalid: {services={{host="required field missing"}}}` ||
				get(r.json, "fields.services.0.host") != "required field missing" || r.json["flattened_errors"] != nil {
				t.Errorf("body = %s", r.body)
			}
		}},
		{"flatten_errors", "?flatten_errors=1", rawBody{"application/yaml", "_format_version: \"3.0\"\nservices:\n- name: foo\n  routes:\n  - name: r\n    paths: [bla]\nfoo: 1\n"}, 400, func(t *testing.T, r *reply) {
			flat, _ := r.json["flattened_errors"].([]any)
			if len(flat) != 2 {
				t.Fatalf("flattened_errors = %s", r.body)
			}
			byType := map[string]any{}
			for _, f := range flat {
				byType[get(f, "entity_type").(string)] = f
			}
			if get(byType["service"], "entity_name") != "foo" || get(byType["service"], "errors.0.field") != "host" ||
				get(byType["service"], "errors.0.type") != "field" || get(byType["service"], "entity.routes") != nil {
				t.Errorf("service item = %v", byType["service"])
			}
			if get(byType["route"], "errors.0.field") != "paths.1" || get(byType["route"], "entity.name") != "r" {
				t.Errorf("route item = %v", byType["route"])
			}
			// only top-level problems stay in fields
			if f, _ := r.json["fields"].(map[string]any); len(f) != 1 || f["foo"] != "unknown field" {
				t.Errorf("fields = %v", r.json["fields"])
			}
			if r.json["message"] != `declarative config is invalid: {foo="unknown field"}` {
				t.Errorf("message = %v", r.json["message"])
			}
		}},
		{"if-match mismatch", "", rawBody{"application/yaml", simpleYAML + "# changed\n"}, 412, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.status == 412 {
				hdr = []string{"If-Match", `"0123456789abcdef0123456789abcdef"`}
			}
			before := n.file(t)
			r := n.req(t, "POST", "/config"+tc.query, tc.body, hdr...)
			if r.status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status != 201 && n.file(t) != before {
				t.Error("a rejected POST /config changed kong.yml")
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	// the last accepted config serves and is on disk
	if code, _ := n.proxyGet(t, "/posted"); code != 502 && code != 503 && code != 504 {
		// the upstream port 9 is closed: Kong answers 502; a 404 would mean the route is missing
		t.Errorf("GET /posted = %d, want a proxy error from the route", code)
	}
	if n.file(t) != simpleYAML {
		t.Errorf("kong.yml = %q, want the posted text", n.file(t))
	}
}

func TestBodyLimit(t *testing.T) {
	n := startNode(t, func(s *gateway.Settings) { s.AdminMaxBodySize = 1 << 10 })
	big := simpleYAML + "# " + strings.Repeat("x", 2<<10) + "\n"
	r := n.req(t, "POST", "/config", rawBody{"application/yaml", big})
	if r.status != 413 {
		t.Fatalf("POST of 2 KiB with a 1 KiB limit = %d %s, want 413", r.status, r.body)
	}
}

func TestAdminToken(t *testing.T) {
	n := startNode(t, func(s *gateway.Settings) { s.AdminToken = "s3cret" })
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"basic scheme", "Basic s3cret", 401},
		{"right token", "Bearer s3cret", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			r := n.req(t, "GET", "/services", nil, hdr...)
			if r.status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 401 && string(r.body) != `{"message":"Unauthorized"}` {
				t.Errorf("body = %s", r.body)
			}
		})
	}
	// writes and pprof need it too
	if r := n.req(t, "POST", "/services", map[string]any{"name": "x", "host": "example.com"}); r.status != 401 {
		t.Errorf("unauthenticated write = %d", r.status)
	}
	if r := n.req(t, "GET", "/debug/pprof/cmdline", nil); r.status != 401 {
		t.Errorf("unauthenticated pprof = %d", r.status)
	}
	if r := n.req(t, "GET", "/debug/pprof/cmdline", nil, "Authorization", "Bearer s3cret"); r.status != 200 {
		t.Errorf("authenticated pprof = %d", r.status)
	}
}

func TestWritesOff(t *testing.T) {
	n := startNode(t, func(s *gateway.Settings) { s.AdminWrites = false })
	routeID, _ := n.req(t, "GET", "/routes/hello", nil).json["id"].(string)
	before := n.file(t)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		message            string
	}{
		{"create", "POST", "/routes", map[string]any{"paths": []string{"/x"}}, 405, "cannot create 'routes' entities when not using a database"},
		{"nested create", "POST", "/services/my-service/plugins", url.Values{"name": {"pre-function"}}, 405, "cannot create 'plugins' entities when not using a database"},
		{"put", "PUT", "/routes/" + routeID, map[string]any{"paths": []string{"/x"}}, 405, "cannot create or update 'routes' entities when not using a database"},
		{"patch by id", "PATCH", "/routes/" + routeID, map[string]any{"paths": []string{"/x"}}, 405, "cannot update 'routes' entities when not using a database"},
		{"patch by name", "PATCH", "/routes/hello", map[string]any{"paths": []string{"/x"}}, 405, "cannot update 'routes' entities by 'name' when not using a database"},
		{"patch missing", "PATCH", "/routes/nope", map[string]any{"paths": []string{"/x"}}, 404, "could not find the entity with primary key '{name=\"nope\"}'"},
		{"delete", "DELETE", "/routes/hello", nil, 405, "cannot remove 'routes' entities when not using a database"},
		{"delete missing", "DELETE", "/routes/nope", nil, 204, ""},
		{"post config", "POST", "/config", rawBody{"application/yaml", simpleYAML}, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := n.req(t, tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 405 && get(r.json, "code") != 12.0 {
				t.Errorf("body = %s, want code 12", r.body)
			}
			if tc.message != "" && r.json["message"] != tc.message {
				t.Errorf("message = %v, want %q", r.json["message"], tc.message)
			}
		})
	}
	if n.file(t) != before {
		t.Error("kong.yml changed with writes off")
	}
}

func TestEntityWrites(t *testing.T) {
	n := startNode(t, nil)
	svcID, _ := n.req(t, "GET", "/services/my-service", nil).json["id"].(string)
	prePlugin, _ := get(n.req(t, "GET", "/services/my-service/plugins", nil).json, "data.0.id").(string)
	var thirdID any // set when "third" is created

	steps := []struct {
		name, method, path string
		body               any
		status             int
		want               map[string]any
		fileHas, fileLacks []string
		after              func(t *testing.T)
	}{
		{name: "create service json", method: "POST", path: "/services", body: map[string]any{"name": "third", "url": "http://example.org:8080/base"},
			status: 201, want: map[string]any{"name": "third", "host": "example.org", "port": 8080.0, "path": "/base", "protocol": "http"},
			fileHas: []string{"name: third", "# top comment kept", "# a comment on second"},
			after:   func(t *testing.T) { thirdID = n.req(t, "GET", "/services/third", nil).json["id"] }},
		{name: "duplicate name", method: "POST", path: "/services", body: map[string]any{"name": "third", "host": "example.com"},
			status: 409, want: map[string]any{"code": 5.0, "name": "unique constraint violation", "fields.name": "third"}},
		{name: "invalid service", method: "POST", path: "/services", body: map[string]any{"name": "fourth", "port": 99999},
			status: 400, want: map[string]any{"code": 2.0, "name": "schema violation", "fields.host": "required field missing",
				"fields.port": "value should be between 0 and 65535",
				"message":     "2 schema violations (host: required field missing; port: value should be between 0 and 65535)"},
			fileLacks: []string{"fourth"}},
		{name: "route by form with service.name", method: "POST", path: "/routes",
			body:   url.Values{"name": {"r2"}, "paths[]": {"/r2"}, "service.name": {"second"}, "strip_path": {"false"}, "methods": {"GET", "POST"}},
			status: 201, want: map[string]any{"name": "r2", "paths.0": "/r2", "strip_path": false, "methods.1": "POST", "service.id": "*"}},
		{name: "route under a service, repeated paths", method: "POST", path: "/services/second/routes",
			body: url.Values{"paths": {"/x", "/y"}}, status: 201, want: map[string]any{"paths.0": "/x", "paths.1": "/y", "name": nil}},
		{name: "route with unknown service", method: "POST", path: "/routes", body: map[string]any{"paths": []string{"/z"}, "service": map[string]any{"id": "6f4a0c8e-0000-4000-8000-000000000000"}},
			status: 400, want: map[string]any{"code": 4.0, "message": "the foreign key '{id=\"6f4a0c8e-0000-4000-8000-000000000000\"}' does not reference an existing 'services' entity."}},
		{name: "invalid route", method: "POST", path: "/routes", body: url.Values{"paths": {"nope"}},
			status: 400, want: map[string]any{"code": 2.0, "fields.paths.0": "should start with: / (fixed path) or ~/ (regex path)"}},
		{name: "patch service port by form", method: "PATCH", path: "/services/second", body: url.Values{"port": {"8443"}, "protocol": {"https"}},
			status: 200, want: map[string]any{"port": 8443.0, "protocol": "https", "host": "example.com", "name": "second"},
			fileHas: []string{"port: 8443", "# a comment on second"}},
		{name: "patch path of a url service", method: "PATCH", path: "/services/my-service", body: map[string]any{"path": "/base"},
			status: 200, want: map[string]any{"path": "/base", "host": "127.0.0.1", "protocol": "http", "port": "*"},
			fileLacks: []string{"url: http://127.0.0.1"}},
		{name: "patch url replaces the parts", method: "PATCH", path: "/services/second", body: map[string]any{"url": "https://example.net/x"},
			status: 200, want: map[string]any{"protocol": "https", "host": "example.net", "port": 443.0, "path": "/x"},
			fileHas: []string{"url: https://example.net/x"}, fileLacks: []string{"port: 8443"}},
		{name: "patch plugin config merges", method: "PATCH", path: "/plugins/" + prePlugin, body: map[string]any{"config": map[string]any{"header_filter": []string{"kong.response.set_header('x-h', '1')"}}},
			status: 200, want: map[string]any{"config.access.0": `kong.service.request.set_header("x-pre", "1")`, "config.header_filter.0": "kong.response.set_header('x-h', '1')"}},
		{name: "patch missing", method: "PATCH", path: "/services/nope", body: map[string]any{"port": 1}, status: 404, want: map[string]any{"message": "Not found"}},
		{name: "put creates consumer", method: "PUT", path: "/consumers/bob", body: map[string]any{"custom_id": "b-1"},
			status: 200, want: map[string]any{"username": "bob", "custom_id": "b-1"}},
		{name: "put replaces consumer", method: "PUT", path: "/consumers/bob", body: map[string]any{"tags": []string{"t"}},
			status: 200, want: map[string]any{"username": "bob", "custom_id": nil, "tags.0": "t"}},
		{name: "target by form", method: "POST", path: "/upstreams/up1/targets", body: url.Values{"target": {"127.0.0.1:9003"}, "weight": {"7"}},
			status: 201, want: map[string]any{"target": "127.0.0.1:9003", "weight": 7.0, "upstream.id": "*"}},
		{name: "delete service with routes", method: "DELETE", path: "/services/my-service", status: 400,
			want: map[string]any{"code": 4.0, "message": "an existing 'routes' entity references this 'services' entity"}},
		{name: "delete consumer", method: "DELETE", path: "/consumers/alice", status: 204, fileLacks: []string{"alice"}},
		{name: "delete missing", method: "DELETE", path: "/consumers/alice", status: 204},
		{name: "delete route cascades its top-level plugin", method: "DELETE", path: "/routes/other", status: 204,
			fileLacks: []string{"/other", "post-function"},
			after: func(t *testing.T) {
				if code, _ := n.proxyGet(t, "/other"); code != 404 {
					t.Errorf("GET /other after deleting its route = %d", code)
				}
				if l := get(n.req(t, "GET", "/plugins", nil).json, "data").([]any); len(l) != 1 {
					t.Errorf("plugins after the delete = %v", l)
				}
			}},
		{name: "nested plugin of unknown service", method: "POST", path: "/services/nope/plugins", body: url.Values{"name": {"pre-function"}}, status: 404},
		{name: "unknown plugin", method: "POST", path: "/services/my-service/plugins", body: url.Values{"name": {"nope"}},
			status: 400, want: map[string]any{"code": 2.0, "fields.name": "plugin 'nope' not enabled; add it to the 'plugins' configuration property"}},
		{name: "move route to another service", method: "PATCH", path: "/routes/r2", body: map[string]any{"service": map[string]any{"id": svcID}},
			status: 200, want: map[string]any{"service.id": svcID, "name": "r2"}},
		{name: "rename keeps the id", method: "PATCH", path: "/services/third", body: map[string]any{"name": "third-renamed"},
			status: 200, want: map[string]any{"name": "third-renamed", "id": "*"},
			after: func(t *testing.T) {
				if r := n.req(t, "GET", "/services/third-renamed", nil); r.status != 200 || r.json["id"] != thirdID {
					t.Errorf("renamed service id = %v, want %v", r.json["id"], thirdID)
				}
			}},
		{name: "unset a nested route's service", method: "PATCH", path: "/routes/r2", body: map[string]any{"service": nil},
			status: 200, want: map[string]any{"service": nil, "name": "r2", "paths.0": "/r2"}},
		{name: "scope a nested plugin to a route too", method: "PATCH", path: "/plugins/" + prePlugin, body: url.Values{"route.name": {"hello"}},
			status: 200, want: map[string]any{"id": prePlugin, "service.id": svcID, "route.id": "*", "config.access.0": `kong.service.request.set_header("x-pre", "1")`},
			fileHas: []string{"service: " + svcID}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := n.file(t)
			r := n.req(t, st.method, st.path, st.body)
			if r.status != st.status {
				t.Fatalf("%s %s = %d %s, want %d", st.method, st.path, r.status, r.body, st.status)
			}
			for p, want := range st.want {
				got := get(r.json, p)
				if want == "*" {
					if got == nil {
						t.Errorf("%s missing in %s", p, r.body)
					}
					continue
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v (body %s)", p, got, want, r.body)
				}
			}
			file := n.file(t)
			if st.status >= 400 && file != before {
				t.Errorf("a rejected write changed kong.yml:\n%s", file)
			}
			for _, s := range st.fileHas {
				if !strings.Contains(file, s) {
					t.Errorf("kong.yml lacks %q:\n%s", s, file)
				}
			}
			for _, s := range st.fileLacks {
				if strings.Contains(file, s) {
					t.Errorf("kong.yml still has %q:\n%s", s, file)
				}
			}
			if st.status < 300 && st.method != "DELETE" {
				// what was answered is what serves
				id, _ := r.json["id"].(string)
				coll := strings.Split(strings.Trim(st.path, "/"), "/")
				kind := coll[len(coll)-1]
				if len(coll) == 2 && st.method != "POST" {
					kind = coll[0]
				}
				if kind != "targets" {
					if g := n.req(t, "GET", "/"+kind+"/"+id, nil); g.status != 200 || !bytes.Equal(g.body, r.body) {
						t.Errorf("GET /%s/%s = %d %s, want the write's answer %s", kind, id, g.status, g.body, r.body)
					}
				}
			}
			if st.after != nil {
				st.after(t)
			}
		})
	}
}

func TestConcurrentWritesAndIfMatch(t *testing.T) {
	n := startNode(t, nil)
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("c%d", i), "host": "example.com"})
			res, err := http.Post("http://"+n.admin+"/services", "application/json", bytes.NewReader(body))
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 201 {
				errs <- fmt.Sprintf("%d %s", res.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if l := get(n.req(t, "GET", "/services", nil).json, "data").([]any); len(l) != 12 {
		t.Errorf("%d services after 10 concurrent creates, want 12", len(l))
	}
	st := n.req(t, "GET", "/status", nil)
	hash, _ := st.json["configuration_hash"].(string)
	if st.header.Get("ETag") != `"`+hash+`"` {
		t.Errorf("ETag = %q, want the configuration hash %q", st.header.Get("ETag"), hash)
	}
	if r := n.req(t, "PATCH", "/services/c1", map[string]any{"port": 81}, "If-Match", `"`+strings.Repeat("a", 32)+`"`); r.status != 412 {
		t.Errorf("stale If-Match = %d %s, want 412", r.status, r.body)
	}
	if r := n.req(t, "PATCH", "/services/c1", map[string]any{"port": 81}, "If-Match", `"`+hash+`"`); r.status != 200 {
		t.Errorf("current If-Match = %d %s, want 200", r.status, r.body)
	}
}

func TestPprofStillServed(t *testing.T) {
	n := startNode(t, nil)
	res, err := n.c.Get("http://" + n.admin + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("/debug/pprof/cmdline = %d", res.StatusCode)
	}
}

// TestWritesKeepLayout: an entity write changes only the lines of that
// entity; comments, flow lists and the file's list style stay.
func TestWritesKeepLayout(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		body               any
		edit               func(orig string) string
	}{
		{"patch adds a field", "PATCH", "/services/second", map[string]any{"port": 8443},
			func(o string) string {
				return strings.Replace(o, "  tags: [b, c]\n", "  tags: [b, c]\n  port: 8443\n", 1)
			}},
		{"delete cascades and drops an emptied list", "DELETE", "/routes/other", nil,
			func(o string) string {
				o = strings.Replace(o, "  - name: other\n    paths: [/other]\n", "", 1)
				return strings.Replace(o, "plugins:\n- name: post-function\n  route: other\n  config:\n    log:\n    - kong.log.info(\"x\")\n", "", 1)
			}},
		{"create appends to a list", "POST", "/consumers", map[string]any{"username": "bob"},
			func(o string) string {
				return strings.Replace(o, "- username: alice\n", "- username: alice\n- username: bob\n", 1)
			}},
		{"create adds a nested list", "POST", "/services/second/routes", map[string]any{"name": "r9", "paths": []string{"/r9"}},
			func(o string) string {
				return strings.Replace(o, "  tags: [b, c]\n", "  tags: [b, c]\n  routes:\n  - name: r9\n    paths:\n    - /r9\n", 1)
			}},
		{"delete the only consumer", "DELETE", "/consumers/alice", nil,
			func(o string) string { return strings.Replace(o, "consumers:\n- username: alice\n", "", 1) }},
		{"rename follows references", "PATCH", "/routes/other", map[string]any{"name": "renamed"},
			func(o string) string {
				o = strings.Replace(o, "  - name: other\n", "  - id: ROUTE-ID\n    name: renamed\n", 1)
				return strings.Replace(o, "  route: other\n", "  route: renamed\n", 1)
			}},
		{"delete a target", "DELETE", "/upstreams/up1/targets/127.0.0.1:9001", nil,
			func(o string) string { return strings.Replace(o, "  - target: 127.0.0.1:9001\n", "", 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, nil)
			orig := n.file(t)
			routeID, _ := n.req(t, "GET", "/routes/other", nil).json["id"].(string)
			r := n.req(t, tc.method, tc.path, tc.body)
			if r.status >= 300 {
				t.Fatalf("%s %s = %d %s", tc.method, tc.path, r.status, r.body)
			}
			want := strings.ReplaceAll(tc.edit(orig), "ROUTE-ID", routeID)
			if want == orig {
				t.Fatal("test edit changed nothing")
			}
			if got := n.file(t); got != want {
				t.Errorf("kong.yml =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestWriteRefusedWhileFileEditPending: an edit of kong.yml that is not the
// running config (here an invalid one the watcher rejects) is never
// overwritten by an entity write.
func TestWriteRefusedWhileFileEditPending(t *testing.T) {
	n := startNode(t, nil)
	broken := n.file(t) + "bogus_key: 1\n"
	if err := os.WriteFile(n.path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r := n.req(t, "POST", "/consumers", map[string]any{"username": "carol"})
	if r.status != 409 || !strings.Contains(fmt.Sprint(r.json["message"]), "changed on disk") {
		t.Fatalf("write over a pending edit = %d %s, want 409", r.status, r.body)
	}
	if n.file(t) != broken {
		t.Error("the pending edit was overwritten")
	}
	// Once the file is valid again and reloaded, writes go through.
	fixed := strings.Replace(broken, "bogus_key: 1\n", "", 1) + "# fixed\n"
	if err := os.WriteFile(n.path, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.g.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := n.req(t, "POST", "/consumers", map[string]any{"username": "carol"}); r.status != 201 {
		t.Fatalf("write after the reload = %d %s", r.status, r.body)
	}
	if !strings.Contains(n.file(t), "# fixed") || !strings.Contains(n.file(t), "username: carol") {
		t.Errorf("kong.yml = %s", n.file(t))
	}
}
