package gateway

import (
	"fmt"
	"sort"
	"sync/atomic"
	"testing"

	"luagate/declarative"
	"luagate/lualib"
)

// TestRoutingDetails covers encoded paths, header-name spelling, regex
// captures (kong.request.get_uri_captures) and the route/service views.
func TestRoutingDetails(t *testing.T) {
	host, port, _ := startEcho(t)
	b := newCfg()
	svc := b.service("echo", host, port, "")
	b.route("slash", svc, func(r *declarative.Route) { r.Paths = []string{"/a/b"}; r.StripPath = false })
	b.route("enc", svc, func(r *declarative.Route) { r.Paths = []string{"/enc"}; r.StripPath = false })
	b.route("underscore", svc, func(r *declarative.Route) {
		r.Paths = []string{"/hdr"}
		r.StripPath = false
		r.Headers = map[string][]string{"x_api_version": {"2"}}
	})
	rCap := b.route("captures", svc, func(r *declarative.Route) {
		r.Paths = []string{`~/users/(?<id>\d+)/(\w+)$`}
		r.StripPath = false
	})
	runners := map[*declarative.Plugin]runner{
		plugin(b, "pre-function", func(p *declarative.Plugin) { p.Route = rCap }): &fakeRunner{phases: lualib.PhaseAccess, fn: func(_ lualib.Phase, ex lualib.Exchange) error {
			un, named := ex.URICaptures()
			keys := make([]string, 0, len(named))
			for k, v := range named {
				keys = append(keys, k+"="+v)
			}
			sort.Strings(keys)
			route, svc := ex.RouteInfo(), ex.ServiceInfo()
			ex.Exit(200, []byte(fmt.Sprintf("%q %v route=%v service=%v", un, keys, route["name"], svc["name"])), nil, lualib.SourceExit)
			return nil
		}},
	}
	var closed atomic.Int32
	tg := startGateway(t, b.cfg, testSettings(), fakeFactory(runners, &closed))

	for _, tt := range []struct {
		name, path string
		headers    map[string]string
		status     int
		uri        string // upstream URI, or the body for exits
	}{
		{name: "encoded slash is not a separator", path: "/a%2Fb", status: 404},
		{name: "plain path", path: "/a/b", status: 200, uri: "/a/b"},
		{name: "encoded unreserved decoded upstream", path: "/enc/%7Euser", status: 200, uri: "/enc/~user"},
		{name: "encoded reserved kept with uppercase hex", path: "/enc/a%2fb", status: 200, uri: "/enc/a%2Fb"},
		{name: "space re-encoded", path: "/enc/a%20b", status: 200, uri: "/enc/a%20b"},
		{name: "utf-8 kept encoded", path: "/enc/caf%C3%A9", status: 200, uri: "/enc/caf%C3%A9"},
		{name: "header name with underscore matches the dashed header", path: "/hdr", headers: map[string]string{"X-Api-Version": "2"}, status: 200, uri: "/hdr"},
		{name: "header route without the header", path: "/hdr", status: 404},
		{name: "regex captures", path: "/users/42/posts", status: 200, uri: `["/users/42/posts" "42" "posts"] [id=42] route=captures service=echo`},
		{name: "regex anchored at the end", path: "/users/42/posts/x", status: 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.do(t, "GET", tt.path, tt.headers, "")
			if r.status != tt.status {
				t.Fatalf("status %d (%q), want %d", r.status, r.body, tt.status)
			}
			if tt.uri == "" {
				return
			}
			got := r.body
			if r.echo != nil {
				got = r.echo.URI
			}
			if got != tt.uri {
				t.Errorf("got %q, want %q", got, tt.uri)
			}
		})
	}
	if n := closed.Load(); n != 0 {
		t.Errorf("the Lua set was closed %d times while its snapshot served", n)
	}
}
