package functions

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"luagate/declarative"
	"luagate/lualib"
)

func kind(t *testing.T, s Settings, name string) declarative.PluginKind {
	t.Helper()
	for _, k := range Kinds(s) {
		if k.Name == name {
			return k
		}
	}
	t.Fatalf("no kind %q", name)
	return declarative.PluginKind{}
}

// testEnv reads files from dir through ReadFile, as the loader does.
func testEnv(dir, name string) *declarative.PluginEnv {
	return &declarative.PluginEnv{Dir: dir, Name: name, ReadFile: func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return os.ReadFile(p)
	}}
}

func errStrings(errs []*declarative.FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestKinds(t *testing.T) {
	want := map[string]int{PreFunction: 1000000, PostFunction: -1000, ServerlessFunctions: 1000000}
	ks := Kinds(Settings{})
	if len(ks) != len(want) {
		t.Fatalf("got %d kinds, want %d", len(ks), len(want))
	}
	for _, k := range ks {
		if p, ok := want[k.Name]; !ok || p != k.Priority || !k.NoConsumer || k.Schema == nil {
			t.Errorf("kind %+v: want priority %d, NoConsumer, a schema", k, p)
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "functions"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"functions/ok.lua":  "return function(conf)\n  kong.log.err('x')\nend\n",
		"functions/bad.lua": "local a = 1\n\nlocal = 2\n",
		"functions/eof.lua": "if true then\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("x", 50) + "("
	tests := []struct {
		name   string
		plugin string
		mode   string
		cfg    map[string]any
		want   []string // nil: valid
	}{
		{"one access function", PreFunction, "", map[string]any{"access": []any{"kong.log.err('hi')"}}, nil},
		{"return value is not checked", PreFunction, "", map[string]any{"log": []any{`return "hello-world"`}}, nil},
		{"code is never run", PreFunction, "", map[string]any{"access": []any{`error("x")`}}, nil},
		{"empty config", PreFunction, "", map[string]any{}, []string{msgAtLeastOne}},
		{"nil config", PreFunction, "", nil, []string{msgAtLeastOne}},
		{"all arrays empty", PostFunction, "", map[string]any{
			"certificate": []any{}, "rewrite": []any{}, "access": []any{},
			"header_filter": []any{}, "body_filter": []any{}, "log": []any{}}, []string{msgAtLeastOne}},
		{"not an array", PreFunction, "", map[string]any{"access": "return 1"}, []string{"access: expected an array"}},
		{"not a string", PreFunction, "", map[string]any{"rewrite": []any{"return 1", 7}}, []string{"rewrite[1]: expected a string"}},
		{"unknown field", PreFunction, "", map[string]any{"acces": []any{"x()"}, "access": []any{"y()"}}, []string{"acces: unknown field"}},
		{"unknown field only", PreFunction, "", map[string]any{"ws_close": []any{"x()"}}, []string{"ws_close: unknown field", msgAtLeastOne}},
		{"eof in pre-function", PreFunction, "", map[string]any{"access": []any{"print("}},
			[]string{`access[0]: error parsing pre-function: [string "print("]:1: unexpected symbol near '<eof>'`}},
		{"eof in post-function", PostFunction, "", map[string]any{"header_filter": []any{"return 1", "print("}},
			[]string{`header_filter[1]: error parsing post-function: [string "print("]:1: unexpected symbol near '<eof>'`}},
		{"serverless-functions names itself", ServerlessFunctions, "", map[string]any{"log": []any{"x("}},
			[]string{`log[0]: error parsing serverless-functions: [string "x("]:1: unexpected symbol near '<eof>'`}},
		{"chunk id cut at newline", PreFunction, "", map[string]any{"access": []any{"local a = 1\nfoo("}},
			[]string{`access[0]: error parsing pre-function: [string "local a = 1..."]:2: unexpected symbol near '<eof>'`}},
		{"chunk id of a leading newline", PreFunction, "", map[string]any{"access": []any{"\nfoo("}},
			[]string{`access[0]: error parsing pre-function: [string "..."]:2: unexpected symbol near '<eof>'`}},
		{"chunk id cut at 45 bytes", PreFunction, "", map[string]any{"access": []any{long}},
			[]string{`access[0]: error parsing pre-function: [string "` + long[:45] + `..."]:1: unexpected symbol near '<eof>'`}},
		{"unexpected symbol mid-line", PreFunction, "", map[string]any{"access": []any{"local = 1"}},
			[]string{`access[0]: error parsing pre-function: [string "local = 1"]:1: unexpected symbol near '='`}},
		{"unfinished string", PreFunction, "", map[string]any{"access": []any{`x = "abc`}},
			[]string{`access[0]: error parsing pre-function: [string "x = "abc"]:1: unfinished string near '"abc'`}},
		{"legacy functions alias", PreFunction, "", map[string]any{"functions": []any{"x()"}}, nil},
		{"legacy functions with access", PreFunction, "", map[string]any{"functions": []any{"x()"}, "access": []any{"y()"}},
			[]string{msgExclusive}},
		{"legacy functions with empty access", PreFunction, "", map[string]any{"functions": []any{"x()"}, "access": []any{}}, nil},
		{"file entry", PreFunction, "", map[string]any{"access": []any{"functions/ok.lua"}}, nil},
		{"missing file", PreFunction, "", map[string]any{"access": []any{"functions/auth.lua"}},
			[]string{"access[0]: file 'functions/auth.lua' not found"}},
		{"file syntax error names file and line", PreFunction, "", map[string]any{"access": []any{"functions/bad.lua"}},
			[]string{"access[0]: error parsing pre-function: functions/bad.lua:3: unexpected symbol near '='"}},
		{"file eof error", PostFunction, "", map[string]any{"log": []any{"functions/eof.lua"}},
			[]string{"log[0]: error parsing post-function: functions/eof.lua:2: 'end' expected (to close 'if' at line 1) near '<eof>'"}},
		{"unclosed function over lines", PreFunction, "", map[string]any{"access": []any{"return function(conf)\n  for i = 1, 3 do\n  end\n"}},
			[]string{`access[0]: error parsing pre-function: [string "return function(conf)..."]:4: 'end' expected (to close 'function' at line 1) near '<eof>'`}},
		{"unclosed while over lines", PreFunction, "", map[string]any{"access": []any{"while true do\n  if x then y() end\n"}},
			[]string{`access[0]: error parsing pre-function: [string "while true do..."]:3: 'end' expected (to close 'while' at line 1) near '<eof>'`}},
		{"unclosed repeat over lines", PreFunction, "", map[string]any{"access": []any{"repeat\n  x()\n"}},
			[]string{`access[0]: error parsing pre-function: [string "repeat..."]:3: 'until' expected (to close 'repeat' at line 1) near '<eof>'`}},
		{"unclosed block", PreFunction, "", map[string]any{"access": []any{"if x then y()"}},
			[]string{`access[0]: error parsing pre-function: [string "if x then y()"]:1: 'end' expected near '<eof>'`}},
		{"unclosed nested blocks", PreFunction, "", map[string]any{"access": []any{"return function() if x then"}},
			[]string{`access[0]: error parsing pre-function: [string "return function() if x then"]:1: 'end' expected near '<eof>'`}},
		{"unclosed repeat", PreFunction, "", map[string]any{"access": []any{"repeat x()"}},
			[]string{`access[0]: error parsing pre-function: [string "repeat x()"]:1: 'until' expected near '<eof>'`}},
		{"unclosed call", PreFunction, "", map[string]any{"access": []any{"f(a"}},
			[]string{`access[0]: error parsing pre-function: [string "f(a"]:1: ')' expected near '<eof>'`}},
		{"unclosed table over lines", PreFunction, "", map[string]any{"access": []any{"local t = {\n  a = 1"}},
			[]string{`access[0]: error parsing pre-function: [string "local t = {..."]:2: '}' expected (to close '{' at line 1) near '<eof>'`}},
		{"unclosed table, no field yet", PreFunction, "", map[string]any{"access": []any{"local t = {"}},
			[]string{`access[0]: error parsing pre-function: [string "local t = {"]:1: unexpected symbol near '<eof>'`}},
		{"unclosed index", PreFunction, "", map[string]any{"access": []any{"x = t[1"}},
			[]string{`access[0]: error parsing pre-function: [string "x = t[1"]:1: ']' expected near '<eof>'`}},
		{"dangling assignment", PreFunction, "", map[string]any{"access": []any{"x ="}},
			[]string{`access[0]: error parsing pre-function: [string "x ="]:1: unexpected symbol near '<eof>'`}},
		{"a path with a space is source", PreFunction, "", map[string]any{"access": []any{"x = a.lua"}}, nil},
		{"untrusted_lua off", PreFunction, "off", map[string]any{"access": []any{"x()"}},
			[]string{"plugin 'pre-function' cannot run: " + msgOff}},
		{"untrusted_lua invalid", PreFunction, "maybe", map[string]any{"access": []any{"x()"}},
			[]string{`untrusted_lua has an invalid value: "maybe"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := kind(t, Settings{UntrustedLua: tt.mode}, tt.plugin)
			cfg, errs := k.Schema.Validate(tt.cfg, testEnv(dir, tt.plugin))
			got := errStrings(errs)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors:\n got %q\nwant %q", got, tt.want)
			}
			if tt.want == nil {
				c, ok := cfg.(*Config)
				if !ok || len(c.Functions) == 0 {
					t.Fatalf("Validate returned %#v, want a *Config with functions", cfg)
				}
				for _, fn := range c.Functions {
					if fn.Proto == nil {
						t.Errorf("function %s[%d] has no proto", fn.Field, fn.Index)
					}
				}
			}
		})
	}
}

func TestSchemaConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.lua"), []byte("return function() end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"access":        []any{"a()", "f.lua"},
		"log":           []any{"c()"},
		"header_filter": []any{"b()"},
	}
	v, errs := kind(t, Settings{}, PostFunction).Schema.Validate(cfg, testEnv(dir, PostFunction))
	if errs != nil {
		t.Fatal(errStrings(errs))
	}
	c := v.(*Config)
	type fn struct {
		phase       lualib.Phase
		field, name string
		index       int
		file        string
	}
	var got []fn
	for _, f := range c.Functions {
		got = append(got, fn{f.Phase, f.Field, f.Name, f.Index, f.File})
	}
	want := []fn{
		{lualib.PhaseAccess, "access", `[string "a()"]`, 0, ""},
		{lualib.PhaseAccess, "access", "f.lua", 1, "f.lua"},
		{lualib.PhaseHeaderFilter, "header_filter", `[string "b()"]`, 0, ""},
		{lualib.PhaseLog, "log", `[string "c()"]`, 0, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("functions\n got %+v\nwant %+v", got, want)
	}
	if wantMask := lualib.PhaseAccess | lualib.PhaseHeaderFilter | lualib.PhaseLog; c.Phases() != wantMask {
		t.Errorf("Phases() = %b, want %b", c.Phases(), wantMask)
	}
	// defaults are filled in place
	for _, f := range []string{"certificate", "rewrite", "body_filter"} {
		if a, ok := cfg[f].([]any); !ok || len(a) != 0 {
			t.Errorf("default of %s = %#v, want []any{}", f, cfg[f])
		}
	}
	// the main chunk does not build an "arg" table per call
	for _, f := range c.Functions {
		if f.Proto.IsVarArg&0x4 != 0 {
			t.Errorf("%s: VarArgNeedsArg still set", f.Name)
		}
	}
}

func TestChunkID(t *testing.T) {
	s48 := strings.Repeat("a", 48)
	tests := []struct{ src, want string }{
		{"print(", `[string "print("]`},
		{"a\tb", `[string "a..."]`},
		{"\n", `[string "..."]`},
		{"", `[string ""]`},
		{s48, `[string "` + s48 + `"]`},
		{s48 + "b", `[string "` + s48[:45] + `..."]`},
		{"local a = 1\nfoo(", `[string "local a = 1..."]`},
	}
	for _, tt := range tests {
		if got := chunkID(tt.src); got != tt.want {
			t.Errorf("chunkID(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestIsFilePath(t *testing.T) {
	tests := map[string]bool{
		"functions/auth.lua": true, "/abs/x.lua": true, "x.lua": true,
		".lua": false, "a .lua": false, "x.lua\n": false, "return 'x.lua'": false, "x.luac": false,
	}
	for in, want := range tests {
		if got := isFilePath(in); got != want {
			t.Errorf("isFilePath(%q) = %v, want %v", in, got, want)
		}
	}
}
