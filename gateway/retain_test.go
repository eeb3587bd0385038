package gateway

import (
	"strings"
	"testing"
)

// TestLuaKeepsRequestStrings: strings the PDK hands to Lua may be kept
// across requests (a closure's upvalue, a cache table). They must not be
// views into the pooled request's buffers, which the next request
// overwrites.
func TestLuaKeepsRequestStrings(t *testing.T) {
	tg := startYAML(t, `_format_version: "3.0"
routes:
- name: keep
  paths: [/]
  plugins:
  - name: pre-function
    config:
      access:
      - |
        local kept
        return function()
          if not kept then
            kept = { kong.client.get_ip(), kong.client.get_forwarded_ip(),
              kong.request.get_header("host"), kong.request.get_path(), kong.request.get_host() }
          end
          return kong.response.exit(200, table.concat(kept, "|"))
        end
`)
	r := tg.do(t, "GET", "/a", nil, "")
	want := r.body
	if r.status != 200 || !strings.HasPrefix(want, "127.0.0.1|127.0.0.1|") || !strings.HasSuffix(want, "|/a|127.0.0.1") {
		t.Fatalf("first answer %d %q", r.status, want)
	}
	for i := 0; i < 50; i++ {
		r = tg.do(t, "GET", "/"+strings.Repeat("x", i*7)+"?q="+strings.Repeat("y", i), nil, "")
		if r.body != want {
			t.Fatalf("request %d: the string kept from the first request changed: %q, want %q", i, r.body, want)
		}
	}
}
