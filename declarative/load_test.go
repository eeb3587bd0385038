package declarative

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustLoad(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Load([]byte(text), testOptions("kong.yml", testdataDir))
	if err != nil {
		t.Fatalf("Load: %s", FormatText(err))
	}
	return c
}

func loadErr(t *testing.T, text string) *ValidationError {
	t.Helper()
	_, err := Load([]byte(text), testOptions("kong.yml", testdataDir))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Load error = %v, want *ValidationError", err)
	}
	return ve
}

func TestUUIDVectors(t *testing.T) {
	ns := []struct{ table, want string }{
		{"services", "90050c4f-539a-5bd9-bfb5-2ff1c430ca18"},
		{"routes", "78aafefa-16c7-5598-8955-58dc6264b27a"},
		{"plugins", "e9b79996-068a-576f-804e-98a685f0a58e"},
		{"consumers", "7e5adc17-c056-5c54-98c0-7f88774fccf6"},
		{"upstreams", "0a1e4b48-9c7e-525c-b886-13cc47838983"},
		{"targets", "4a51ee27-eee4-5094-ac5b-88999e7b3335"},
	}
	for _, tt := range ns {
		if got := formatUUID(entityNamespace(tt.table)); got != tt.want {
			t.Errorf("namespace(%q) = %s, want %s", tt.table, got, tt.want)
		}
	}
	ids := []struct{ table, key, want string }{
		{"services", "service-httpbin", "02721903-3b5a-5c99-a76a-524639a48522"},
		{"routes", "v1", "7f7e3420-3266-517c-a283-63430f203bbf"},
		{"plugins", "plugins:*:key-auth:::", "6b4f38d1-e026-540b-a5ea-8634739dd2a7"},
	}
	for _, tt := range ids {
		if got := formatUUID(uuid5(entityNamespace(tt.table), tt.key)); got != tt.want {
			t.Errorf("uuid5(%s, %q) = %s, want %s", tt.table, tt.key, got, tt.want)
		}
	}
}

func TestGeneratedIDs(t *testing.T) {
	c := mustLoad(t, `
_format_version: "3.0"
services:
- name: service-httpbin
  host: httpbin.org
  routes:
  - name: v1
    paths: [/v1]
  - paths: [/unnamed]
    plugins:
    - name: key-auth
  plugins:
  - name: key-auth
plugins:
- name: key-auth
- name: pre-function
  service: service-httpbin
- name: pre-function
  service: {id: 02721903-3b5a-5c99-a76a-524639a48522}
  route: v1
upstreams:
- name: u
  targets: [{target: 10.0.0.1}]
- name: u2
  targets: [{target: 10.0.0.1}]
`)
	v5 := func(table, key string) string { return formatUUID(uuid5(entityNamespace(table), key)) }
	svc := "02721903-3b5a-5c99-a76a-524639a48522"
	if c.Services[0].ID != svc || c.Routes[0].ID != "7f7e3420-3266-517c-a283-63430f203bbf" {
		t.Fatalf("service/route ids = %s/%s", c.Services[0].ID, c.Routes[0].ID)
	}
	byPath := map[string]*Plugin{}
	for _, p := range c.Plugins {
		byPath[p.Path0] = p
	}
	tests := []struct{ path, want string }{
		{"services[0].plugins[0]", v5("plugins", "plugins:*:key-auth::"+svc+":")},
		{"plugins[0]", "6b4f38d1-e026-540b-a5ea-8634739dd2a7"},
		{"plugins[1]", v5("plugins", "plugins:*:pre-function::service-httpbin:")},
		// a table reference adds no segment (Kong quirk)
		{"plugins[2]", v5("plugins", "plugins:*:pre-function:v1:")},
	}
	for _, tt := range tests {
		if got := byPath[tt.path].ID; got != tt.want {
			t.Errorf("%s id = %s, want %s", tt.path, got, tt.want)
		}
	}
	// plugin under an unnamed route: random v4
	if id := byPath["services[0].routes[1].plugins[0]"].ID; id[14] != '4' {
		t.Errorf("plugin under unnamed route id %s is not v4", id)
	}
	if c.Routes[1].ID[14] != '4' {
		t.Errorf("unnamed route id %s is not v4", c.Routes[1].ID)
	}
	t0, t1 := c.Targets[0], c.Targets[1]
	if t0.ID == t1.ID {
		t.Errorf("same target under different upstreams got the same id %s", t0.ID)
	}
	if want := v5("targets", "targets:*:"+c.Upstreams[0].ID+":10.0.0.1"); t0.ID != want {
		t.Errorf("target id = %s, want %s", t0.ID, want)
	}
	// ids are stable across loads
	c2 := mustLoad(t, string(c.Raw))
	if c2.Plugins[0].ID != c.Plugins[0].ID || c2.Targets[0].ID != t0.ID {
		t.Error("deterministic ids changed between loads")
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/foo/bar", "/foo/bar"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/../a", "/a"},
		{"/a//b///c", "/a/b/c"},
		{"/%7euser", "/~user"},
		{"/a%2fb", "/a%2Fb"},
		{"/%2e%2e/x", "/x"},
		{"/a%20b", "/a b"},
		{"/a/b/..", "/a/"},
		{"/a/.", "/a/"},
	}
	for _, tt := range tests {
		if got := NormalizePath(tt.in); got != tt.want {
			t.Errorf("NormalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMigratePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/regex.+", "~/regex.+"},
		{"/prefix", "/prefix"},
		{"/a/./b", "/a/b"},
		{"/%7Efoo", "/~foo"},
		{"/users/\\d+", "~/users/\\d+"},
		{"/x(y)%2E%2F%41", "~/x(y)\\.%2FA"},
		{"/v%7C1$", "~/v\\|1$"},
	}
	for _, tt := range tests {
		if got := migratePath(tt.in); got != tt.want {
			t.Errorf("migratePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoutePathError(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", ""},
		{"/abcd~user~2", ""},
		{"/ovo/", ""},
		{"~/users/(?<id>\\d+)", ""},
		{"~/(?P<id>x)", ""},
		{"foo", "should start with: / (fixed path) or ~/ (regex path)"},
		{"~foo", "should start with: / (fixed path) or ~/ (regex path)"},
		{"//foo/bar", "must not have empty segments"},
		{"/foo/bar//", "must not have empty segments"},
		{"/some%2Gwords", "invalid url-encoded value: '%2G'"},
		{"/some%20words%", "invalid url-encoded value: '%'"},
		{"/some%20words%a", "invalid url-encoded value: '%a'"},
		{"/a/./b", "non-normalized path, consider use '/a/b' instead"},
		{"/%80", `invalid path: "/%80" (not valid UTF-8 once percent-decoded)`},
		{"/caf\xc3", `invalid path: "/caf\xc3" (not valid UTF-8 once percent-decoded)`},
		{"/caf%C3%A9", "non-normalized path, consider use '/café' instead"},
		{"~/a(b", "invalid regex: '/a(b' (missing closing ): `/a(b`)"},
		{"~/(a)\\1", "invalid regex: '/(a)\\1' (invalid escape sequence: `\\1`)"},
	}
	for _, tt := range tests {
		if got := routePathError(tt.in); got != tt.want {
			t.Errorf("routePathError(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHostValidation(t *testing.T) {
	invalid := []string{"/example", ".example", "example:", "mock;bin", "example.com/org", "example-.org",
		"example.org-", "hello..example.com", "hello-.example.com"}
	for _, h := range invalid {
		if got, want := routeHostError(h), "invalid hostname: "+h; got != want {
			t.Errorf("routeHostError(%q) = %q, want %q", h, got, want)
		}
	}
	valid := []string{"hello.com", "1991.io", "HELLO.com", "example.123", "example_api.com", "localhost",
		"example.com:8080", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n", "example.*", "*.example.org",
		"*.example.org:321", "10.0.0.1", "10.0.0.1:80", "[::1]:80"}
	for _, h := range valid {
		if got := routeHostError(h); got != "" {
			t.Errorf("routeHostError(%q) = %q, want valid", h, got)
		}
	}
	svc := []struct{ in, want string }{
		{"example.com", ""},
		{"10.0.0.1", ""},
		{"::1", ""},
		{"example.com:80", "must not have a port"},
		{"example.com:999999", "must not have a port"},
		{"exa mple", "invalid value: exa mple"},
	}
	for _, tt := range svc {
		if got := serviceHostError(tt.in); got != tt.want {
			t.Errorf("serviceHostError(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTargets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.20.30.40", "10.20.30.40:8000"},
		{"10.20.30.40:80", "10.20.30.40:80"},
		{"example.com", "example.com:8000"},
		{"::1", "[::1]:8000"},
		{"[::1]:9000", "[::1]:9000"},
	}
	for _, tt := range tests {
		if got, ok := normalizeTarget(tt.in); !ok || got != tt.want {
			t.Errorf("normalizeTarget(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestServiceURLShorthand(t *testing.T) {
	tests := []struct {
		url, proto, host string
		port             int
		path             string
	}{
		{"https://example.com:8000/hello/world", "https", "example.com", 8000, "/hello/world"},
		{"http://example.com", "http", "example.com", 80, ""},
		{"https://example.com", "https", "example.com", 443, ""},
		{"http://example.com/a?q=1", "http", "example.com", 80, "/a"},
		{"grpc://grpc.local:50051", "grpc", "grpc.local", 50051, ""},
		{"http://[::1]:81/x", "http", "::1", 81, "/x"},
	}
	for _, tt := range tests {
		c := mustLoad(t, "_format_version: \"3.0\"\nservices:\n- url: "+tt.url+"\n  host: ignored.example\n  port: 1\n")
		s := c.Services[0]
		if s.Protocol != tt.proto || s.Host != tt.host || s.Port != tt.port || s.Path != tt.path {
			t.Errorf("url %s: got %s/%s/%d/%q, want %s/%s/%d/%q", tt.url, s.Protocol, s.Host, s.Port, s.Path,
				tt.proto, tt.host, tt.port, tt.path)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, `
_format_version: "3.0"
services:
- host: example.com
  routes:
  - paths: [/]
    headers: {X-Foo: [a], x-foo: [b]}
upstreams:
- name: u
  targets: [{target: a.example}]
`)
	s, r, u, tg := c.Services[0], c.Routes[0], c.Upstreams[0], c.Targets[0]
	if s.Protocol != "http" || s.Port != 80 || s.Retries != 5 || s.ConnectTimeout != 60000 ||
		s.ReadTimeout != 60000 || s.WriteTimeout != 60000 || !s.Enabled || s.Path != "" {
		t.Errorf("service defaults wrong: %+v", s)
	}
	if !reflect.DeepEqual(r.Protocols, []string{"http", "https"}) || !r.StripPath || r.PreserveHost ||
		r.RegexPriority != 0 || r.PathHandling != "v0" || r.HTTPSRedirectStatusCode != 426 ||
		!r.RequestBuffering || !r.ResponseBuffering || r.Service != s {
		t.Errorf("route defaults wrong: %+v", r)
	}
	if got := r.Headers["x-foo"]; !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("headers x-foo = %v, want lowercased merge [a b]", got)
	}
	if u.Algorithm != "round-robin" || u.HashOn != "none" || u.HashFallback != "none" || u.Slots != 10000 ||
		u.HashOnCookiePath != "/" {
		t.Errorf("upstream defaults wrong: %+v", u)
	}
	if tg.Weight != 100 || tg.Target != "a.example:8000" || tg.Upstream != u {
		t.Errorf("target defaults wrong: %+v", tg)
	}
	active := u.Healthchecks["active"].(map[string]any)
	if active["http_path"] != "/" || active["concurrency"] != json.Number("10") {
		t.Errorf("healthchecks defaults wrong: %v", active)
	}
	if c.Routes[0].CreatedAt != 1700000000 {
		t.Errorf("created_at = %d, want pinned clock", c.Routes[0].CreatedAt)
	}
	// grpc routes default strip_path to false
	g := mustLoad(t, "_format_version: \"3.0\"\nroutes:\n- protocols: [grpc]\n  paths: [/x]\n")
	if g.Routes[0].StripPath {
		t.Error("grpc route strip_path defaulted to true")
	}
}

func TestUpstreamHashOnShorthand(t *testing.T) {
	tests := []struct{ yaml, algo, hashOn string }{
		{"hash_on: ip", "consistent-hashing", "ip"},
		{"algorithm: consistent-hashing\n  hash_on: none", "round-robin", "none"},
		{"algorithm: least-connections", "least-connections", "none"},
		{"algorithm: latency\n  hash_on: none", "latency", "none"},
		{"algorithm: round-robin\n  hash_on: consumer", "consistent-hashing", "consumer"},
		{"algorithm: consistent-hashing", "consistent-hashing", "none"},
	}
	for _, tt := range tests {
		c := mustLoad(t, "_format_version: \"3.0\"\nupstreams:\n- name: u\n  "+tt.yaml+"\n")
		u := c.Upstreams[0]
		if u.Algorithm != tt.algo || u.HashOn != tt.hashOn {
			t.Errorf("%q: algorithm/hash_on = %s/%s, want %s/%s", tt.yaml, u.Algorithm, u.HashOn, tt.algo, tt.hashOn)
		}
	}
}

func TestReferencesResolved(t *testing.T) {
	c := mustLoad(t, `
_format_version: "3.0"
services:
- name: s1
  host: a.example
- id: 5abfe322-9fc1-4e0e-bfa3-007f5b9ac4b4
  host: b.example
routes:
- name: by-name
  paths: [/a]
  service: s1
- name: by-id-string
  paths: [/b]
  service: 5abfe322-9fc1-4e0e-bfa3-007f5b9ac4b4
- name: by-id-table
  paths: [/c]
  service: {id: 5ABFE322-9FC1-4E0E-BFA3-007F5B9AC4B4}
consumers:
- username: alice
plugins:
- name: key-auth
  route: by-name
  consumer: alice
`)
	if c.Routes[0].Service != c.Services[0] || c.Routes[1].Service != c.Services[1] || c.Routes[2].Service != c.Services[1] {
		t.Error("route service references not resolved")
	}
	p := c.Plugins[0]
	if p.Route != c.Routes[0] || p.Consumer != c.Consumers[0] || p.Service != nil {
		t.Errorf("plugin scope = %v/%v/%v", p.Service, p.Route, p.Consumer)
	}
}

func TestFormatVersion(t *testing.T) {
	c := mustLoad(t, "services:\n- host: example.com\n")
	if c.FormatVersion != "3.0" || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "_format_version") {
		t.Errorf("missing version: FormatVersion=%q warnings=%q", c.FormatVersion, c.Warnings)
	}
	for _, v := range []string{"1.1", "2.1"} {
		c := mustLoad(t, "_format_version: \""+v+"\"\nroutes:\n- paths: [\"/regex.+\", /prefix]\n")
		if want := []string{"~/regex.+", "/prefix"}; !reflect.DeepEqual(c.Routes[0].Paths, want) {
			t.Errorf("%s: paths = %q, want %q", v, c.Routes[0].Paths, want)
		}
		if c.FormatVersion != "3.0" {
			t.Errorf("%s: FormatVersion = %q, want 3.0", v, c.FormatVersion)
		}
	}
	c = mustLoad(t, "_format_version: \"3.0\"\nroutes:\n- paths: [\"/regex.+\"]\n")
	if c.Routes[0].Paths[0] != "/regex.+" {
		t.Errorf("3.0 path changed: %q", c.Routes[0].Paths[0])
	}
}

func TestPluginConfigNumbers(t *testing.T) {
	for _, tt := range []struct{ name, text string }{
		{"kong.yml", "_format_version: \"3.0\"\nplugins:\n- name: any-config\n  config:\n    num: 12345678901234567890\n    f: 1.5\n    nested: {list: [1, 2]}\n"},
		{"kong.json", `{"_format_version": "3.0", "plugins": [{"name": "any-config", "config": {"num": 12345678901234567890, "f": 1.5, "nested": {"list": [1, 2]}}}]}`},
	} {
		c, err := Load([]byte(tt.text), testOptions(tt.name, ""))
		if err != nil {
			t.Fatalf("%s: %s", tt.name, FormatText(err))
		}
		cfg := c.Plugins[0].RawConfig
		if cfg["num"] != json.Number("12345678901234567890") || cfg["f"] != json.Number("1.5") {
			t.Errorf("%s: num=%#v f=%#v, want json.Number", tt.name, cfg["num"], cfg["f"])
		}
		list := cfg["nested"].(map[string]any)["list"].([]any)
		if list[0] != json.Number("1") {
			t.Errorf("%s: nested list[0] = %#v", tt.name, list[0])
		}
		if !reflect.DeepEqual(c.Plugins[0].Config, cfg) {
			t.Errorf("%s: Plugin.Config is not what the schema returned", tt.name)
		}
	}
}

func TestSchemaErrorsAndRegistry(t *testing.T) {
	text := "_format_version: \"3.0\"\nplugins:\n- name: key-auth\n"
	_, err := Load([]byte(text), Options{Filename: "kong.yml"}) // nil registry
	if got := FormatText(err); got != "kong.yml:3: plugins[0].name: plugin 'key-auth' not enabled; add it to the 'plugins' configuration property" {
		t.Errorf("nil registry: %q", got)
	}
	ve := loadErr(t, "_format_version: \"3.0\"\nplugins:\n- name: pre-function\n  config:\n    bad: 1\n    whole: 1\n")
	var paths []string
	for _, e := range ve.Errors {
		paths = append(paths, e.Path+"="+e.Message)
	}
	// sorted by line: the config key (line 4) before its "bad" entry (line 5)
	want := []string{"plugins[0].config=config rejected as a whole", "plugins[0].config.bad=unknown field"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("schema errors = %q, want %q", paths, want)
	}
}

func TestLuaFilesAndHash(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fn"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("fn/a.lua", "return 1")
	write("fn/b.lua", "return 2")
	text := `_format_version: "3.0"
plugins:
- name: pre-function
  config:
    access: [fn/a.lua, fn/b.lua, fn/a.lua]
    log: [fn/b.lua]
`
	write("kong.yml", text)
	c, err := LoadFile(filepath.Join(dir, "kong.yml"), fakeRegistry{})
	if err != nil {
		t.Fatal(FormatText(err))
	}
	wantFiles := []string{filepath.Join(dir, "fn/a.lua"), filepath.Join(dir, "fn/b.lua")}
	if !reflect.DeepEqual(c.Files, wantFiles) {
		t.Errorf("Files = %q, want %q", c.Files, wantFiles)
	}
	h := md5.New()
	h.Write([]byte(text))
	h.Write([]byte("fn/a.luareturn 1fn/b.luareturn 2"))
	if want := hex.EncodeToString(h.Sum(nil)); c.Hash != want {
		t.Errorf("Hash = %s, want %s", c.Hash, want)
	}
	if string(c.Raw) != text {
		t.Error("Raw not set to the input text")
	}

	// no Lua files: plain md5 of the text
	plain := "_format_version: \"3.0\"\nservices:\n- host: example.com\n"
	sum := md5.Sum([]byte(plain))
	if c := mustLoad(t, plain); c.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("plain hash = %s", c.Hash)
	}
	// no entities: 32 zeros
	if c := mustLoad(t, "_format_version: \"3.0\"\n_comment: nothing\n"); c.Hash != EmptyConfigHash {
		t.Errorf("empty hash = %s", c.Hash)
	}
}

func TestLinesAndSorting(t *testing.T) {
	ve := loadErr(t, `_format_version: "3.0"
services:
- name: b
  host: example.com
  routes:
  - paths:
    - /ok
    - bad
- name: a
routes:
- paths: [x]
`)
	var got []string
	for _, e := range ve.Errors {
		got = append(got, strings.TrimSpace(FormatText(&ValidationError{File: "f", Errors: []*FieldError{e}})))
	}
	want := []string{
		"f:8: services[0].routes[0].paths[1]: should start with: / (fixed path) or ~/ (regex path)",
		"f:9: services[1].host: required field missing",
		"f:11: routes[0].paths[0]: should start with: / (fixed path) or ~/ (regex path)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJSONInput(t *testing.T) {
	text := "{\n  \"_format_version\": \"3.0\",\n  \"services\": [\n    {\"name\": \"s\", \"port\": 99999}\n  ]\n}\n"
	_, err := Load([]byte(text), testOptions("kong.json", ""))
	got := FormatText(err)
	want := "kong.json:4: services[0].host: required field missing\nkong.json:4: services[0].port: value should be between 0 and 65535"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Load([]byte("{\n\"a\": 1,\n}"), testOptions("kong.json", ""))
	if got := FormatText(err); !strings.HasPrefix(got, "kong.json:3: failed parsing declarative configuration: ") {
		t.Errorf("JSON syntax error: %q", got)
	}
	// no file name: JSON first, then YAML
	if _, err := Load([]byte("_format_version: \"3.0\"\n"), Options{}); err != nil {
		t.Errorf("YAML without file name: %v", err)
	}
	_, err = Load([]byte("[]"), Options{})
	if got := FormatText(err); got != "<input>: failed parsing declarative configuration: expected an object" {
		t.Errorf("array without file name: %q", got)
	}
	_, err = Load([]byte("{}"), Options{Filename: "kong.conf"})
	if got := FormatText(err); got != "kong.conf: unknown file type: kong.conf. (Accepted types: json, yaml)" {
		t.Errorf("unknown extension: %q", got)
	}
}

func TestKongTree(t *testing.T) {
	ve := loadErr(t, `_format_version: "3.0"
foo: 1
services:
- name: foo
  host: example.com
  routes:
  - preserve_host: true
- name: foo
  host: example.com
`)
	b, err := json.Marshal(ve.KongTree())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"foo":"unknown field","services":[{"routes":[{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}]},"uniqueness violation: 'services' entity with name set to 'foo' already declared"]}`
	if string(b) != want {
		t.Errorf("KongTree = %s\nwant %s", b, want)
	}
}

func TestKongTreeKeyedErrors(t *testing.T) {
	ve := loadErr(t, `_format_version: "3.0"
plugins:
- name: key-auth
  service: svc1
  consumer: my-consumer
consumers:
- username: foo
  custom_id: conflict
- username: bar
  custom_id: conflict
`)
	id := formatUUID(uuid5(entityNamespace("plugins"), "plugins:*:key-auth::svc1:my-consumer"))
	b, _ := json.Marshal(ve.KongTree())
	want := `{"consumers":{"bar":"uniqueness violation: 'consumers' entity with custom_id set to 'conflict' already declared"},` +
		`"plugins":{"` + id + `":["invalid reference 'service: svc1' (no such entry in 'services')",` +
		`"invalid reference 'consumer: my-consumer' (no such entry in 'consumers')"]}}`
	if string(b) != want {
		t.Errorf("KongTree = %s\nwant %s", b, want)
	}
}

func TestMarshalRoundTripCounts(t *testing.T) {
	for _, f := range fixtures(t, "*.good.yml") {
		c, err := loadFixture(t, f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Load(out, testOptions("rt.yml", testdataDir))
		if err != nil {
			t.Fatalf("%s: %s", f, FormatText(err))
		}
		if entityCount(c) != entityCount(c2) {
			t.Errorf("%s: %v entities before, %v after", f, entityCount(c), entityCount(c2))
		}
	}
}

func entityCount(c *Config) [8]int {
	return [8]int{len(c.Services), len(c.Routes), len(c.Plugins), len(c.Consumers), len(c.Upstreams),
		len(c.Targets), len(c.Certificates), len(c.SNIs)}
}

func TestWarnings(t *testing.T) {
	c := mustLoad(t, `_format_version: "3.0"
vaults:
- name: env
consumers:
- username: a
  keyauth_credentials:
  - key: k
routes:
- paths: [/]
  path_handling: v1
`)
	want := []string{
		"'vaults' entities are not supported by luagate and were ignored",
		"routes[0].path_handling: 'v1' is deprecated and is not honoured by the traditional_compatible router; use 'v0'",
		"consumers[0].keyauth_credentials: 'keyauth_credentials' entities are not supported by luagate and were ignored",
	}
	if !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", c.Warnings, want)
	}
}
