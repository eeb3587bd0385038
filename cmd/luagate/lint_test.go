package main

import (
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"
)

// kongUses follows local aliases of kong chains only where the alias is
// certain: bound once, never assigned.
func TestKongUsesAliases(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string // the uses found, in order
	}{
		{"direct", `kong.response.exit(200)`, []string{"kong.response.exit"}},
		{"alias", "local resp = kong.response\nresp.exitt(401)", []string{"kong.response", "kong.response.exitt"}},
		{"alias method call", "local log = kong.log\nlog:infoo('x')", []string{"kong.log", "kong.log.infoo"}},
		{"alias of an alias is not followed", "local s = kong.service\nlocal r = s.request\nr.set_heder('a', 'b')", []string{"kong.service", "kong.service.request"}},
		{"reassigned alias", "local resp = kong.response\nresp = {}\nresp.exitt(401)", []string{"kong.response"}},
		{"name bound twice", "local resp = kong.response\nlocal function f(resp) return resp.exitt(1) end", []string{"kong.response"}},
		{"dynamic key", "local req = kong[x]\nreq.foo()", []string{"kong"}},
		{"other tables", "local t = ngx.req\nt.get_headers()", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			chunk, err := parse.Parse(strings.NewReader(tt.src), "test")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range kongUses(chunk) {
				got = append(got, u.name)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("uses %q, want %q", got, tt.want)
			}
		})
	}
}
