package router

import (
	"fmt"
	"testing"

	"luagate/declarative"
)

// benchRoutes builds n routes of one shape; the returned request matches the
// lowest-priority route of the set, so every higher-priority candidate that
// the index cannot rule out is tried first.
func benchRoutes(kind string, n int) ([]*declarative.Route, Request) {
	routes := make([]*declarative.Route, 0, n)
	for i := 0; i < n; i++ {
		seg := fmt.Sprintf("/svc-%06d", i)
		var rt *declarative.Route
		switch kind {
		case "prefix":
			// equal length: ties go to the larger id, so route 0 is last
			rt = R("p", i+1, paths(seg+"/api", seg+"/v2"))
		case "mixed":
			// every other route is a regex; regexes outrank prefixes, so the
			// lowest-priority route is the first prefix route
			if i%2 == 0 {
				rt = R("p", i+1, paths(seg+"/api"))
			} else {
				rt = R("x", i+1, paths(`~`+seg+`/items/(?<id>\d+)`), rxp(i%5))
			}
		case "hosts":
			rt = R("h", i+1, hosts(fmt.Sprintf("h%06d.example.com", i)), paths("/"))
		case "regex-fold":
			// case-insensitive regexes: indexed by their case-folded prefix
			rt = R("x", n-i, paths(`~(?i)`+seg+`/items`))
		case "regex-alt":
			// alternations are expanded into index keys (/v1/svc-…, /v2/svc-…)
			rt = R("x", n-i, paths(`~/(?:v1|v2)`+seg+`/items`))
		case "regex-scan":
			// no literal prefix beyond "/": every regex is tried in priority
			// order before the last one matches, as in Kong's ATC router
			rt = R("x", n-i, paths(`~/(?<tenant>[^/]+)`+seg+`/items`))
		}
		routes = append(routes, rt)
	}
	req := get("api.test", "/svc-000000/api/users")
	switch kind {
	case "hosts":
		req = get("h000000.example.com", "/svc-000000/api/users")
	case "regex-fold":
		req = get("api.test", fmt.Sprintf("/SVC-%06d/Items", n-1))
	case "regex-alt":
		req = get("api.test", fmt.Sprintf("/v2/svc-%06d/items", n-1))
	case "regex-scan":
		req = get("api.test", fmt.Sprintf("/acme/svc-%06d/items", n-1))
	}
	return routes, req
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		for _, kind := range []string{"prefix", "mixed", "hosts", "regex-fold", "regex-alt", "regex-scan"} {
			if kind == "regex-scan" && n > 1000 {
				continue
			}
			b.Run(fmt.Sprintf("routes=%d/%s", n, kind), func(b *testing.B) {
				routes, q := benchRoutes(kind, n)
				rt, err := New(routes)
				if err != nil {
					b.Fatal(err)
				}
				var m Match
				if !rt.Match(&q, &m) || m.Route != lowest(routes, kind) {
					b.Fatalf("request %q does not hit the lowest-priority route", q.Path)
				}
				b.ReportAllocs()
				for b.Loop() {
					rt.Match(&q, &m)
				}
			})
		}
	}
}

func lowest(routes []*declarative.Route, kind string) *declarative.Route {
	if kind == "regex-fold" || kind == "regex-alt" || kind == "regex-scan" {
		return routes[len(routes)-1]
	}
	return routes[0]
}

func BenchmarkNew(b *testing.B) {
	routes, _ := benchRoutes("mixed", 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(routes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, p := range []string{"/api/v1/users/42", "/api/%7Ev1/../users/./42//x"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = NormalizePath(p)
			}
		})
	}
}
