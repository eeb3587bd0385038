package router

import (
	"fmt"
	"testing"

	"luagate/declarative"
)

// Every row of spec 3.7 (Kong/kong:spec/fixtures/router_path_handling_tests.lua,
// v0), run through the router: the route is matched, then the upstream path is
// built from the match. "any" rows run with strip_path true and false, and
// every row with a route path also runs with the path turned into a regex
// (~/[0]?...), as Kong's suite does.
func TestUpstreamPathTable(t *testing.T) {
	const any = "any"
	rows := []struct {
		service, route, strip string
		requests              []string
		want                  string
	}{
		{"/", "/", any, []string{"/route/req"}, "/route/req"},
		{"/", "/route", "false", []string{"/routereq"}, "/routereq"},
		{"/", "/route", "true", []string{"/route"}, "/"},
		{"/", "/route", "true", []string{"/route/"}, "/"},
		{"/", "/route", "true", []string{"/routereq"}, "/req"},
		{"/", "/route/", "true", []string{"/route/req"}, "/req"},
		{"/srv", "/rou", "false", []string{"/roureq"}, "/srv/roureq"},
		{"/srv", "/rou", "true", []string{"/roureq"}, "/srv/req"},
		{"/srv/", "/rou", "true", []string{"/rou"}, "/srv"},
		{"/srv/", "/rou", "false", []string{"/rou"}, "/srv/rou"},
		{"/service", "/", any, []string{"/"}, "/service"},
		{"/service", "/", any, []string{"/route/"}, "/service/route/"},
		{"/service", "/route", "true", []string{"/route"}, "/service"},
		{"/service", "/route", "true", []string{"/route/"}, "/service/"},
		{"/service", "/route", "true", []string{"/routereq"}, "/service/req"},
		{"/service", "/route", "false", []string{"/route/"}, "/service/route/"},
		{"/service", "/route/", "true", []string{"/route/"}, "/service/"},
		{"/service/", "/", any, []string{"/"}, "/service/"},
		{"/service/", "/route", "true", []string{"/route"}, "/service"},
		{"/service/", "/route", "true", []string{"/routereq"}, "/service/req"},
		{"/service/", "/route/", "true", []string{"/route/req"}, "/service/req"},
		{"/service", "", any, []string{"/route"}, "/service/route"},
		{"/service/", "", any, []string{"/"}, "/service/"},
		{"/service", "/route", "true", []string{"/route./req", "/route%2E/req", "/route../req"}, "/service/req"},
		{"/service", "/route", "false", []string{"/route%2e%2E/req"}, "/service/route../req"},
	}
	n := 0
	for _, row := range rows {
		strips := []bool{row.strip == "true"}
		if row.strip == any {
			strips = []bool{true, false}
		}
		routePaths := []string{row.route}
		if row.route != "" {
			routePaths = append(routePaths, "~/[0]?"+row.route[1:])
		}
		for _, strip := range strips {
			for _, rp := range routePaths {
				for _, raw := range row.requests {
					n++
					name := fmt.Sprintf("service=%s route=%s strip=%v req=%s", row.service, rp, strip, raw)
					t.Run(name, func(t *testing.T) {
						s := &declarative.Service{ID: id(900), Host: "up", Path: row.service, Enabled: true}
						opts := []opt{svc(s), hosts("h")}
						if rp != "" {
							opts = append(opts, paths(rp))
						}
						if !strip {
							opts = append(opts, nostrip())
						}
						rt, err := New([]*declarative.Route{R("r", 1, opts...)})
						if err != nil {
							t.Fatal(err)
						}
						norm, err := NormalizePath(raw)
						if err != nil {
							t.Fatal(err)
						}
						r := get("h", norm)
						var m Match
						if !rt.Match(&r, &m) {
							t.Fatalf("no match for %q", norm)
						}
						if got := m.UpstreamPath(norm); got != row.want {
							t.Errorf("upstream path = %q, want %q (prefix %q, strip %v)", got, row.want, m.Prefix, m.Strip)
						}
					})
				}
			}
		}
	}
	if n < 25 {
		t.Fatalf("ran %d rows", n)
	}
}

func TestUpstreamPathDirect(t *testing.T) {
	cases := []struct {
		base, req, prefix string
		strip             bool
		handling          string
		want              string
	}{
		{"", "/a b", "", false, "v0", "/a%20b"},             // null service path is "/", then encoding
		{"/", "/x\"y<z>", "", false, "v0", "/x%22y%3Cz%3E"}, // quote, < and > are encoded
		{"/", "/keep!$&'()*+,;=:@[]~%25", "", false, "v0", "/keep!$&'()*+,;=:@[]~%25"},
		{"/s", "/p/caf\u00e9", "/p", true, "v0", "/s/caf%C3%A9"}, // UTF-8 bytes, uppercase hex
		{"/s/", "/p/x", "/p", true, "v1", "/s/x"},                // v1: one slash dropped
		{"/s", "/px", "/p", true, "v1", "/sx"},                   // v1: plain concatenation
		{"/s", "/p/x", "", false, "v1", "/sp/x"},                 // v1 without strip: B + R[1:]
		{"/s", "/p/../x", "/p", true, "v1", "/s/../x"},           // v1 does not sanitize the postfix
		{"/s", "/p../x", "/p", true, "v0", "/s/x"},               // v0 drops a leading ../
		{"/s", "/p", "/p/long", true, "v0", "/s"},                // a prefix longer than the path leaves S empty
	}
	for _, c := range cases {
		if got := UpstreamPath(c.base, c.req, c.prefix, c.strip, c.handling); got != c.want {
			t.Errorf("UpstreamPath(%q, %q, %q, %v, %q) = %q, want %q", c.base, c.req, c.prefix, c.strip, c.handling, got, c.want)
		}
	}
}

func TestEscapePathNoAlloc(t *testing.T) {
	p := "/already/fine-path_~.%2F"
	if n := testing.AllocsPerRun(100, func() { _ = EscapePath(p) }); n != 0 {
		t.Errorf("EscapePath allocates %v times on a clean path", n)
	}
}

// The common shapes (service path "/", route prefix "/" or "/api/", with and
// without strip_path) give the request path back without building a string.
func TestUpstreamPathNoAlloc(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		strip  bool
		want   string
	}{
		{"/", true, "/users/1"},
		{"/", false, "/users/1"},
		{"/users/", true, "/1"},
	} {
		var got string
		if n := testing.AllocsPerRun(50, func() { got = UpstreamPath("", "/users/1", tc.prefix, tc.strip, "v0") }); n != 0 {
			t.Errorf("prefix %q strip %v: %v allocations, want 0", tc.prefix, tc.strip, n)
		}
		if got != tc.want {
			t.Errorf("prefix %q strip %v: %q, want %q", tc.prefix, tc.strip, got, tc.want)
		}
	}
}
