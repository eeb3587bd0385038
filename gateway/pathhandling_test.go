package gateway

import (
	"fmt"
	"testing"

	"luagate/declarative"
)

// TestUpstreamPathJoin runs Kong's router_path_handling_tests (spec 3.7,
// path_handling v0 as traditional_compatible uses) through the proxy, with
// each row's route path as a prefix and as the equivalent regex.
func TestUpstreamPathJoin(t *testing.T) {
	host, port, _ := startEcho(t)
	rows := []struct {
		svcPath, routePath string
		strip              bool
		req, want          string
	}{
		{"/", "/", true, "/route/req", "/route/req"},
		{"/", "/", false, "/route/req", "/route/req"},
		{"/", "/route", false, "/routereq", "/routereq"},
		{"/", "/route", true, "/route", "/"},
		{"/", "/route", true, "/route/", "/"},
		{"/", "/route", true, "/routereq", "/req"},
		{"/", "/route/", true, "/route/req", "/req"},
		{"/srv", "/rou", false, "/roureq", "/srv/roureq"},
		{"/srv", "/rou", true, "/roureq", "/srv/req"},
		{"/srv/", "/rou", true, "/rou", "/srv"},
		{"/srv/", "/rou", false, "/rou", "/srv/rou"},
		{"/service", "/", true, "/", "/service"},
		{"/service", "/", false, "/", "/service"},
		{"/service", "/", true, "/route/", "/service/route/"},
		{"/service", "/route", true, "/route", "/service"},
		{"/service", "/route", true, "/route/", "/service/"},
		{"/service", "/route", true, "/routereq", "/service/req"},
		{"/service", "/route", false, "/route/", "/service/route/"},
		{"/service", "/route/", true, "/route/", "/service/"},
		{"/service/", "/", true, "/", "/service/"},
		{"/service/", "/route", true, "/route", "/service"},
		{"/service/", "/route", true, "/routereq", "/service/req"},
		{"/service/", "/route/", true, "/route/req", "/service/req"},
		{"/service", "", true, "/route", "/service/route"},
		{"/service/", "", true, "/", "/service/"},
		{"/service", "/route", true, "/route./req", "/service/req"},
		{"/service", "/route", true, "/route%2E/req", "/service/req"},
		{"/service", "/route", true, "/route../req", "/service/req"},
		{"/service", "/route", false, "/route%2e%2E/req", "/service/route../req"},
		{"", "/route", true, "/route/a%20b", "/a%20b"},
		{"/s p", "/route", true, "/route", "/s%20p"},
	}
	b := newCfg()
	type tc struct {
		name, host, req, want string
	}
	var cases []tc
	for i, row := range rows {
		for _, regex := range []bool{false, true} {
			if regex && (row.routePath == "" || row.routePath == "/") {
				continue
			}
			h := fmt.Sprintf("row%d-%v.test", i, regex)
			svc := b.service(h, host, port, row.svcPath)
			b.route(h, svc, func(r *declarative.Route) {
				r.Hosts = []string{h}
				r.StripPath = row.strip
				switch {
				case row.routePath == "":
				case regex:
					// "~/[0]?route": the same match text, as Kong's fixture does
					r.Paths = []string{"~/[0]?" + row.routePath[1:]}
				default:
					r.Paths = []string{row.routePath}
				}
			})
			name := fmt.Sprintf("service=%q route=%q strip=%v regex=%v req=%q", row.svcPath, row.routePath, row.strip, regex, row.req)
			cases = append(cases, tc{name, h, row.req, row.want})
		}
	}
	tg := startGateway(t, b.cfg, testSettings(), nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tg.do(t, "GET", c.req, map[string]string{"Host": c.host}, "")
			if r.echo == nil {
				t.Fatalf("status %d body %q", r.status, r.body)
			}
			if r.echo.URI != c.want {
				t.Errorf("upstream uri = %q, want %q", r.echo.URI, c.want)
			}
		})
	}
}
