package functions

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"luagate/declarative"
)

// kindRegistry is the gateway's registry reduced to this package's kinds.
type kindRegistry []declarative.PluginKind

func (r kindRegistry) Lookup(name string) (declarative.PluginKind, bool) {
	for _, k := range r {
		if k.Name == name {
			return k, true
		}
	}
	return declarative.PluginKind{}, false
}

// The schemas through the real loader: error paths as users see them.
func TestThroughLoader(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "functions/ok.lua", "return function() end\n")
	writeFile(t, dir, "functions/bad.lua", "local x = \n\n\nlocal = 1\n")
	const head = "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://127.0.0.1:9000\n  plugins:\n"
	tests := []struct {
		name   string
		plugin string
		mode   string
		want   []string
	}{
		{"valid inline and file", "  - name: pre-function\n    config:\n      access:\n      - kong.log.err('x')\n      - functions/ok.lua\n", "", nil},
		{"missing file", "  - name: pre-function\n    config:\n      access:\n      - functions/auth.lua\n", "",
			[]string{"services[0].plugins[0].config.access[0]: file 'functions/auth.lua' not found"}},
		{"file compile error", "  - name: post-function\n    config:\n      log:\n      - functions/bad.lua\n", "",
			[]string{"services[0].plugins[0].config.log[0]: error parsing post-function: functions/bad.lua:4: unexpected symbol near 'local'"}},
		{"inline compile error", "  - name: serverless-functions\n    config:\n      header_filter:\n      - \"print(\"\n", "",
			[]string{`services[0].plugins[0].config.header_filter[0]: error parsing serverless-functions: [string "print("]:1: unexpected symbol near '<eof>'`}},
		{"nothing configured", "  - name: pre-function\n    config: {}\n", "",
			[]string{"services[0].plugins[0].config: " + msgAtLeastOne}},
		{"untrusted_lua off", "  - name: pre-function\n    config:\n      access:\n      - x()\n", "off",
			[]string{"services[0].plugins[0].config: plugin 'pre-function' cannot run: " + msgOff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := declarative.Load([]byte(head+tt.plugin), declarative.Options{
				Filename: "kong.yml", Dir: dir, Registry: kindRegistry(Kinds(Settings{UntrustedLua: tt.mode})),
			})
			var got []string
			var ve *declarative.ValidationError
			if errors.As(err, &ve) {
				for _, fe := range ve.Errors {
					got = append(got, fe.Error())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors\n got %q\nwant %q", got, tt.want)
			}
			if tt.want != nil {
				return
			}
			c, ok := cfg.Plugins[0].Config.(*Config)
			if !ok || len(c.Functions) != 2 {
				t.Fatalf("Plugin.Config = %#v", cfg.Plugins[0].Config)
			}
			if len(cfg.Files) != 1 || !strings.HasSuffix(cfg.Files[0], "functions/ok.lua") {
				t.Errorf("Config.Files = %q, want the referenced file", cfg.Files)
			}
		})
	}
}
