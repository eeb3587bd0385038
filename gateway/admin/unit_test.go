package admin

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"luagate/declarative"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kong.yml")
	if err := os.WriteFile(path, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != "new\n" || fi.Mode().Perm() != 0o640 {
		t.Errorf("after write: %q mode %v, want \"new\\n\" 0640", b, fi.Mode().Perm())
	}

	// A symlink (as Kubernetes ConfigMaps use) is followed: the target changes.
	target := filepath.Join(dir, "real.yml")
	os.WriteFile(target, []byte("t\n"), 0o600)
	link := filepath.Join(dir, "link.yml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("via link\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "via link\n" {
		t.Errorf("target = %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
}

// TestWriteFileAtomicCrash: a write that fails (or a process that dies)
// between the temp file and the rename leaves kong.yml as it was and no
// temp file behind.
func TestWriteFileAtomicCrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook func(tmp string) error
	}{
		{"failure before rename", func(string) error { return errors.New("injected: disk gone") }},
		{"temp file vanished", func(tmp string) error { os.Remove(tmp); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "kong.yml")
			os.WriteFile(path, []byte("old content\n"), 0o600)
			var seen string
			err := writeFileAtomic(path, []byte("new content\n"), func(tmp string) error {
				seen = tmp
				if b, _ := os.ReadFile(tmp); string(b) != "new content\n" {
					t.Errorf("temp file holds %q before the rename", b)
				}
				if filepath.Dir(tmp) != dir {
					t.Errorf("temp file %s is not next to kong.yml", tmp)
				}
				return tc.hook(tmp)
			})
			if err == nil {
				t.Fatal("write succeeded")
			}
			if b, _ := os.ReadFile(path); string(b) != "old content\n" {
				t.Errorf("kong.yml = %q after a failed write", b)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("folder holds %v, want only kong.yml (temp was %s)", names, seen)
			}
		})
	}
}

func TestDecodeForm(t *testing.T) {
	for _, tc := range []struct {
		name string
		form string
		want string // JSON
	}{
		{"plain", "name=x&host=example.com", `{"host":"example.com","name":"x"}`},
		{"dotted", "service.id=abc", `{"service":{"id":"abc"}}`},
		{"indexed list", "config.access[2]=b&config.access[1]=a", `{"config":{"access":["a","b"]}}`},
		{"append list", "paths[]=/a&paths[]=/b", `{"paths":["/a","/b"]}`},
		{"repeated key", "paths=/a&paths=/b", `{"paths":["/a","/b"]}`},
		{"single stays scalar", "paths=/a", `{"paths":"/a"}`},
		{"empty is null", "name=&tags[]=", `{"name":null,"tags":[""]}`},
		{"nested records in list", "config.rules[1].name=a&config.rules[1].v=1", `{"config":{"rules":[{"name":"a","v":"1"}]}}`},
		{"seed curl", "name=serverless-functions&config.access[1]=" + url.QueryEscape("return kong.response.exit(200, { message = 'Hello World from Kong!' })"),
			`{"config":{"access":["return kong.response.exit(200, { message = 'Hello World from Kong!' })"]},"name":"serverless-functions"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(decodeForm(vals))
			if string(got) != tc.want {
				t.Errorf("decodeForm(%q) = %s, want %s", tc.form, got, tc.want)
			}
		})
	}
}

func TestCoerceForm(t *testing.T) {
	f := map[string]any{"port": "8080", "strip_path": "false", "paths": "/a", "name": "42", "headers": map[string]any{"x": "1"}}
	coerceForm("routes", f)
	got, _ := json.Marshal(f)
	want := `{"headers":{"x":["1"]},"name":"42","paths":["/a"],"port":8080,"strip_path":false}`
	if string(got) != want {
		t.Errorf("coerceForm = %s, want %s", got, want)
	}
	p := map[string]any{"config": map[string]any{"access": "x()", "other": "1"}}
	coerceForm("plugins", p)
	if got, _ := json.Marshal(p); string(got) != `{"config":{"access":["x()"],"other":"1"}}` {
		t.Errorf("plugin coerceForm = %s", got)
	}
}

func TestLuaDump(t *testing.T) {
	for _, tc := range []struct {
		in   string // JSON
		want string
	}{
		{`{"services":[{"host":"required field missing","port":"value should be between 0 and 65535"}]}`,
			`{services={{host="required field missing",port="value should be between 0 and 65535"}}}`},
		{`{"services":[null,"uniqueness violation: x"]}`, `{services={[2]="uniqueness violation: x"}}`},
		{`{"error":"a \"q\""}`, `{error="a \"q\""}`},
		{`{"routes":[{"@entity":["must set one"]}]}`, `{routes={{["@entity"]={"must set one"}}}}`},
	} {
		var v any
		json.Unmarshal([]byte(tc.in), &v)
		if got := luaDump(v); got != tc.want {
			t.Errorf("luaDump(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestFlattenErrors(t *testing.T) {
	// spec 2.5 #12 and #14, plus a nested route and a uniqueness string
	var tree, input map[string]any
	json.Unmarshal([]byte(`{
		"foo": "unknown field",
		"services": [
			{"@entity": ["failed conditional validation given value of field 'protocol'"], "path": "value must be null",
			 "routes": [{"paths": ["should start with: / (fixed path) or ~/ (regex path)"]}]},
			"uniqueness violation: 'services' entity with name set to 'a' already declared"
		]}`), &tree)
	json.Unmarshal([]byte(`{
		"foo": 1,
		"services": [
			{"name": "a", "id": "0855b320-0dd2-547d-891d-601e9b38647f", "protocol": "tcp", "path": "/p", "tags": ["t"],
			 "routes": [{"name": "r", "paths": ["bla"]}]},
			{"name": "a", "host": "x"}
		]}`), &input)
	flat := flattenErrors(tree, input)
	got, _ := json.Marshal(flat)
	want := `[` +
		`{"entity":{"name":"r","paths":["bla"],"service":{"id":"0855b320-0dd2-547d-891d-601e9b38647f"}},"entity_name":"r","entity_type":"route","errors":[{"field":"paths.1","message":"should start with: / (fixed path) or ~/ (regex path)","type":"field"}]},` +
		`{"entity":{"id":"0855b320-0dd2-547d-891d-601e9b38647f","name":"a","path":"/p","protocol":"tcp","tags":["t"]},"entity_id":"0855b320-0dd2-547d-891d-601e9b38647f","entity_name":"a","entity_tags":["t"],"entity_type":"service","errors":[{"message":"failed conditional validation given value of field 'protocol'","type":"entity"},{"field":"path","message":"value must be null","type":"field"}]},` +
		`{"entity":{"host":"x","name":"a"},"entity_name":"a","entity_type":"service","errors":[{"message":"uniqueness violation: 'services' entity with name set to 'a' already declared","type":"entity"}]}` +
		`]`
	if string(got) != want {
		t.Errorf("flattened =\n%s\nwant\n%s", got, want)
	}
	if !reflect.DeepEqual(tree, map[string]any{"foo": "unknown field"}) {
		t.Errorf("fields left = %v, want only the top-level error", tree)
	}
}

func TestSchemaViolationMessage(t *testing.T) {
	e := schemaViolation(map[string]any{"host": "required field missing"})
	if e.body["message"] != "schema violation (host: required field missing)" {
		t.Errorf("message = %v", e.body["message"])
	}
	e = schemaViolation(map[string]any{"@entity": []any{"must set one"}, "paths": []any{"bad"}, "config": map[string]any{"x": "y"}})
	if e.body["message"] != "3 schema violations (must set one; config.x: y; paths.1: bad)" {
		t.Errorf("message = %v", e.body["message"])
	}
}

func TestDeclarativeErrorBody(t *testing.T) {
	ve := &declarative.ValidationError{Errors: []*declarative.FieldError{{Path: "services[0].host", Message: "required field missing"}}}
	e := declarativeError(ve, false, nil)
	b, _ := json.Marshal(e.body)
	want := `{"code":14,"fields":{"services":[{"host":"required field missing"}]},"message":"declarative config is invalid: {services={{host=\"required field missing\"}}}","name":"invalid declarative configuration"}`
	if string(b) != want {
		t.Errorf("body = %s\nwant   %s", b, want)
	}
}

func TestDocEditKeepsComments(t *testing.T) {
	src := "_format_version: \"3.0\"\n# head\nservices:\n- name: a # line\n  host: x\n"
	d, err := parseDoc([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, seq, n, err := d.at("services[0]")
	if err != nil || mapGet(n, "name").Value != "a" || len(seq.Content) != 1 {
		t.Fatalf("at = %v, %v", n, err)
	}
	if err := merge(n, map[string]any{"port": json.Number("81")}, records); err != nil {
		t.Fatal(err)
	}
	out, err := d.bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"# head", "# line", "port: 81", "host: x"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if _, _, _, err := d.at("services[3]"); err == nil {
		t.Error("at(services[3]) found something")
	}
	// an empty file gets a format version
	d, _ = parseDoc(nil)
	out, _ = d.bytes()
	if string(out) != "_format_version: \"3.0\"\n" {
		t.Errorf("empty doc = %q", out)
	}
}

// TestCoerceFromErrors: form strings inside a plugin config take the type
// validation asks for (Kong converts form values by the schema).
func TestCoerceFromErrors(t *testing.T) {
	d, err := parseDoc([]byte("_format_version: \"3.0\"\nplugins:\n- name: p\n  config:\n    timeout: \"10\"\n    ratio: \"0.5\"\n    on: \"true\"\n    list: x\n    name: abc\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, node, err := d.at("plugins[0]")
	if err != nil {
		t.Fatal(err)
	}
	ve := &declarative.ValidationError{Errors: []*declarative.FieldError{
		{Path: "plugins[0].config.timeout", Message: "expected an integer"},
		{Path: "plugins[0].config.ratio", Message: "expected a number"},
		{Path: "plugins[0].config.on", Message: "expected a boolean"},
		{Path: "plugins[0].config.list", Message: "expected an array"},
		{Path: "plugins[0].config.name", Message: "expected an integer"}, // not a number: left alone
		{Path: "plugins[1].config.x", Message: "expected an integer"},    // another entity
	}}
	if !coerceFromErrors(node, "plugins[0]", ve) {
		t.Fatal("nothing coerced")
	}
	var got map[string]any
	if err := node.Decode(&got); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got["config"])
	if want := `{"list":["x"],"name":"abc","on":true,"ratio":0.5,"timeout":10}`; string(b) != want {
		t.Errorf("config = %s, want %s", b, want)
	}
	if coerceFromErrors(node, "plugins[0]", &declarative.ValidationError{Errors: []*declarative.FieldError{{Path: "plugins[0].config.name", Message: "expected an integer"}}}) {
		t.Error("coerced a non-number")
	}
}

// exitingBackend is a Backend of a draining node.
type exitingBackend struct{}

func (exitingBackend) Config() *declarative.Config                  { return &declarative.Config{} }
func (exitingBackend) Info() map[string]any                         { return map[string]any{} }
func (exitingBackend) Status(string, int) (map[string]any, error)   { return map[string]any{}, nil }
func (exitingBackend) Validate([]byte) (*declarative.Config, error) { return nil, errors.New("no") }
func (exitingBackend) Write([]byte) (*declarative.Config, error)    { return nil, errors.New("no") }
func (exitingBackend) Exiting() bool                                { return true }

func TestPostConfigWhileExiting(t *testing.T) {
	h := New(exitingBackend{}, Options{Writes: true})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/config", strings.NewReader("_format_version: \"3.0\"\n")))
	if rec.Code != 503 || rec.Body.String() != `{"message":"Kong currently exiting"}` {
		t.Errorf("POST /config while exiting = %d %s", rec.Code, rec.Body)
	}
	// an empty config's hash is 32 zeros
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	if !strings.Contains(rec.Body.String(), `"configuration_hash":"00000000000000000000000000000000"`) {
		t.Errorf("GET /status = %s", rec.Body)
	}
}

// memBackend keeps the config in memory, validated by the real loader
// (no plugin kinds).
type memBackend struct{ cfg *declarative.Config }

func (m *memBackend) Config() *declarative.Config                { return m.cfg }
func (m *memBackend) Info() map[string]any                       { return map[string]any{} }
func (m *memBackend) Status(string, int) (map[string]any, error) { return map[string]any{}, nil }
func (m *memBackend) Validate(text []byte) (*declarative.Config, error) {
	return declarative.Load(text, declarative.Options{})
}
func (m *memBackend) Write(text []byte) (*declarative.Config, error) {
	cfg, err := m.Validate(text)
	if err == nil {
		m.cfg = cfg
	}
	return cfg, err
}

// TestWriteOnConfigWithoutText: a config applied programmatically (no raw
// text) is exported first, so a write keeps its entities.
func TestWriteOnConfigWithoutText(t *testing.T) {
	cfg, err := declarative.Load([]byte("_format_version: \"3.0\"\nservices:\n- name: old\n  host: example.com\n"), declarative.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stripped := *cfg
	stripped.Raw = nil
	for _, s := range stripped.Services {
		s.Path0 = ""
	}
	b := &memBackend{cfg: &stripped}
	h := New(b, Options{Writes: true})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/services", strings.NewReader(`{"name":"new","host":"h.example"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	if rec.Code != 201 {
		t.Fatalf("POST /services = %d %s", rec.Code, rec.Body)
	}
	var names []string
	for _, s := range b.cfg.Services {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "old,new" {
		t.Errorf("services after the write = %v, want old,new", names)
	}
}

// TestWriteKeepsJSONFiles: a kong.json stays JSON after an entity write.
func TestWriteKeepsJSONFiles(t *testing.T) {
	cfg, err := declarative.Load([]byte(`{"_format_version": "3.0", "services": [{"name": "old", "host": "example.com"}]}`), declarative.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &memBackend{cfg: cfg}
	h := New(b, Options{Writes: true})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("PATCH", "/services/old", strings.NewReader("port=8080"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"port":8080`) {
		t.Fatalf("PATCH = %d %s", rec.Code, rec.Body)
	}
	var v map[string]any
	if err := json.Unmarshal(b.cfg.Raw, &v); err != nil {
		t.Fatalf("kong.json is no longer JSON: %v\n%s", err, b.cfg.Raw)
	}
	if got, _ := json.Marshal(v["services"]); string(got) != `[{"host":"example.com","name":"old","port":8080}]` {
		t.Errorf("services = %s", got)
	}
}
