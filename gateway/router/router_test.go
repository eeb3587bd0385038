package router

import (
	"reflect"
	"strings"
	"testing"

	"luagate/declarative"
)

type conformanceCase struct {
	name   string
	routes []*declarative.Route
	req    Request
	want   string // route name, "" for no match

	// optional expectations, checked when set
	prefix     *string
	matched    *bool
	needsHTTPS bool
	captures   []string
	named      map[string]string
}

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }

func conformanceCases() []conformanceCase {
	disabled := &declarative.Service{ID: "5e000000-0000-4000-8000-0000000000ff", Host: "off", Enabled: false}
	return []conformanceCase{
		// ---- hosts
		{name: "exact host", routes: []*declarative.Route{R("a", 1, hosts("example.com"))}, req: get("example.com", "/"), want: "a"},
		{name: "host is case-insensitive (DECISIONS 11)", routes: []*declarative.Route{R("a", 1, hosts("example.com"))}, req: get("EXAMPLE.Com", "/x"), want: "a"},
		{name: "route host in uppercase", routes: []*declarative.Route{R("a", 1, hosts("Example.COM"))}, req: get("example.com", "/"), want: "a"},
		{name: "other host does not match", routes: []*declarative.Route{R("a", 1, hosts("example.com"))}, req: get("example.org", "/"), want: ""},
		{name: "port-less host entry matches any port", routes: []*declarative.Route{R("a", 1, hosts("example.com"))}, req: get("example.com:1234", "/"), want: "a"},
		{name: "host entry with port matches that port", routes: []*declarative.Route{R("a", 1, hosts("example.com:8080"))}, req: get("example.com:8080", "/"), want: "a"},
		{name: "host entry with port rejects another port", routes: []*declarative.Route{R("a", 1, hosts("example.com:8080"))}, req: get("example.com:8000", "/"), want: ""},
		{name: "host entry with port uses the listener port when Host has none", routes: []*declarative.Route{R("a", 1, hosts("example.com:8000"))}, req: get("example.com", "/"), want: "a"},
		{name: "host entry with port, Host without port, other listener", routes: []*declarative.Route{R("a", 1, hosts("example.com:8080"))}, req: get("example.com", "/"), want: ""},
		{name: "host entry with port matches the listener port when Host has none", routes: []*declarative.Route{R("a", 1, hosts("example.com:8080"))}, req: req("example.com", "/", withListener(8080)), want: "a"},
		{name: "suffix wildcard", routes: []*declarative.Route{R("a", 1, hosts("*.example.com"))}, req: get("api.example.com", "/"), want: "a"},
		{name: "suffix wildcard matches any depth", routes: []*declarative.Route{R("a", 1, hosts("*.example.com"))}, req: get("a.b.c.example.com", "/"), want: "a"},
		{name: "suffix wildcard does not match the bare domain", routes: []*declarative.Route{R("a", 1, hosts("*.example.com"))}, req: get("example.com", "/"), want: ""},
		{name: "suffix wildcard needs a dot boundary", routes: []*declarative.Route{R("a", 1, hosts("*.example.com"))}, req: get("badexample.com", "/"), want: ""},
		{name: "prefix wildcard", routes: []*declarative.Route{R("a", 1, hosts("example.*"))}, req: get("example.org", "/"), want: "a"},
		{name: "prefix wildcard matches several labels", routes: []*declarative.Route{R("a", 1, hosts("example.*"))}, req: get("example.co.uk", "/"), want: "a"},
		{name: "prefix wildcard does not match a subdomain", routes: []*declarative.Route{R("a", 1, hosts("example.*"))}, req: get("www.example.org", "/"), want: ""},
		{name: "wildcard is case-insensitive", routes: []*declarative.Route{R("a", 1, hosts("*.Example.com"))}, req: get("API.EXAMPLE.COM", "/"), want: "a"},
		{name: "wildcard with port: right port", routes: []*declarative.Route{R("a", 1, hosts("*.example.com:8443"))}, req: get("a.example.com:8443", "/"), want: "a"},
		{name: "wildcard with port: wrong port", routes: []*declarative.Route{R("a", 1, hosts("*.example.com:8443"))}, req: get("a.example.com:80", "/"), want: ""},
		{name: "plain host beats wildcard host", routes: []*declarative.Route{
			R("wild", 9, hosts("*.example.com")), R("plain", 1, hosts("api.example.com"))},
			req: get("api.example.com", "/"), want: "plain"},
		{name: "one wildcard entry removes the plain-host bit", routes: []*declarative.Route{
			R("mixed", 9, hosts("api.example.com", "*.other.com")), R("plain", 1, hosts("api.example.com"))},
			req: get("api.example.com", "/"), want: "plain"},
		{name: "hosts are ORed", routes: []*declarative.Route{R("a", 1, hosts("one.com", "two.com"))}, req: get("two.com", "/"), want: "a"},
		{name: "no Host header: host routes cannot match", routes: []*declarative.Route{
			R("host", 9, hosts("example.com")), R("any", 1, paths("/"))},
			req: get("", "/x"), want: "any"},
		{name: "non-numeric port stays part of the host", routes: []*declarative.Route{R("a", 1, hosts("example.com"))}, req: get("example.com:abc", "/"), want: ""},
		{name: "host+path beats a longer path alone", routes: []*declarative.Route{
			R("path", 9, paths("/very/long/prefix")), R("hostpath", 1, hosts("example.com"), paths("/"))},
			req: get("example.com", "/very/long/prefix/x"), want: "hostpath"},

		// ---- paths
		{name: "prefix is not segment-aware", routes: []*declarative.Route{R("a", 1, paths("/foo"))}, req: get("h", "/foobar"), want: "a", prefix: sp("/foo")},
		{name: "shorter path does not match", routes: []*declarative.Route{R("a", 1, paths("/foo"))}, req: get("h", "/fo"), want: ""},
		{name: "longest prefix wins", routes: []*declarative.Route{
			R("short", 9, paths("/foo")), R("long", 1, paths("/foo/bar"))},
			req: get("h", "/foo/bar/baz"), want: "long", prefix: sp("/foo/bar")},
		{name: "regex beats a longer prefix", routes: []*declarative.Route{
			R("prefix", 9, paths("/foo/bar/baz")), R("regex", 1, paths(`~/foo`))},
			req: get("h", "/foo/bar/baz"), want: "regex", prefix: sp("/foo")},
		{name: "regex is anchored at the start", routes: []*declarative.Route{R("a", 1, paths(`~/bar`))}, req: get("h", "/foo/bar"), want: ""},
		{name: "regex is not anchored at the end", routes: []*declarative.Route{R("a", 1, paths(`~/foo/\d+`))}, req: get("h", "/foo/123/x"), want: "a", prefix: sp("/foo/123")},
		{name: "regex with $ must match the whole path", routes: []*declarative.Route{R("a", 1, paths(`~/foo/\d+$`))}, req: get("h", "/foo/123/x"), want: ""},
		{name: "higher regex_priority wins", routes: []*declarative.Route{
			R("low", 9, paths(`~/api/.*`), rxp(1)), R("high", 1, paths(`~/api/v1`), rxp(5))},
			req: get("h", "/api/v1/x"), want: "high"},
		{name: "regex_priority is ignored for prefixes", routes: []*declarative.Route{
			R("prio", 1, paths("/api"), rxp(100)), R("longer", 2, paths("/api/v1"))},
			req: get("h", "/api/v1"), want: "longer"},
		{name: "negative regex_priority ranks below zero", routes: []*declarative.Route{
			R("neg", 9, paths(`~/a`), rxp(-1)), R("zero", 1, paths(`~/a`))},
			req: get("h", "/a"), want: "zero"},
		{name: "equal priority: larger id wins", routes: []*declarative.Route{
			R("small", 1, paths("/same")), R("large", 2, paths("/same"))},
			req: get("h", "/same"), want: "large"},
		{name: "equal priority: larger id wins regardless of order", routes: []*declarative.Route{
			R("large", 7, paths("/same")), R("small", 3, paths("/same"))},
			req: get("h", "/same"), want: "large"},
		{name: "named capture", routes: []*declarative.Route{R("a", 1, paths(`~/users/(?<id>\d+)`))},
			req: get("h", "/users/42/profile"), want: "a", prefix: sp("/users/42"),
			captures: []string{"/users/42", "42"}, named: map[string]string{"id": "42"}},
		{name: "unnamed captures", routes: []*declarative.Route{R("a", 1, paths(`~/(\w+)/(\d+)?x`))},
			req: get("h", "/ab/x"), want: "a", captures: []string{"/ab/x", "ab", ""}},
		{name: "regex without groups gives no captures", routes: []*declarative.Route{R("a", 1, paths(`~/r\d`))},
			req: get("h", "/r1/rest"), want: "a", prefix: sp("/r1"), captures: nil},
		{name: "strip_path false leaves no prefix", routes: []*declarative.Route{R("a", 1, paths("/foo"), nostrip())},
			req: get("h", "/foo/x"), want: "a", prefix: sp(""), matched: bp(true)},
		{name: "host-only route did not match on a path", routes: []*declarative.Route{R("a", 1, hosts("h.com"))},
			req: get("h.com", "/foo"), want: "a", prefix: sp(""), matched: bp(false)},
		{name: "root path matches everything", routes: []*declarative.Route{R("a", 1, paths("/"))}, req: get("h", "/anything/at/all"), want: "a"},
		{name: "regex alternation only anchors its first branch (Kong prepends ^)", routes: []*declarative.Route{R("a", 1, paths(`~/a|/b`))},
			req: get("h", "/x/b"), want: "a"},
		{name: "paths of one length: the one that matches is the prefix", routes: []*declarative.Route{R("a", 1, paths("/one", "/two"))},
			req: get("h", "/two/x"), want: "a", prefix: sp("/two")},
		{name: "(?i) regex folds k to the Kelvin sign like Kong's Rust regex", routes: []*declarative.Route{R("a", 1, paths(`~(?i)/kelvin`))}, req: get("h", "/\u212Aelvin"), want: "a"},
		{name: "(?i) regex prefix is compared case-insensitively", routes: []*declarative.Route{
			R("fold", 2, paths(`~(?i)/Api/V1`)), R("root", 1, paths("/"))},
			req: get("h", "/aPI/v1/x"), want: "fold", prefix: sp("/aPI/v1")},
		{name: "regex can be case-insensitive with (?i)", routes: []*declarative.Route{R("a", 1, paths(`~(?i)/CaSe`))}, req: get("h", "/case"), want: "a"},
		{name: "decoded non-ASCII path", routes: []*declarative.Route{R("a", 1, paths("/café"))}, req: get("h", mustNorm("/caf%C3%A9/x")), want: "a"},
		{name: "dot segments are resolved before matching", routes: []*declarative.Route{
			R("admin", 2, paths("/admin")), R("pub", 1, paths("/public"))},
			req: get("h", mustNorm("/admin/../public/x")), want: "pub"},
		{name: "encoded slash does not split a segment", routes: []*declarative.Route{R("a", 1, paths("/a/b"))}, req: get("h", mustNorm("/a%2fb")), want: ""},

		// ---- weights
		{name: "method+path beats path", routes: []*declarative.Route{
			R("path", 9, paths("/foo/bar")), R("mp", 1, methods("GET"), paths("/"))},
			req: get("h", "/foo/bar"), want: "mp"},
		{name: "plain host beats headers at equal weight", routes: []*declarative.Route{
			R("hdr", 9, paths("/foo"), header("x-a", "1")), R("host", 1, hosts("h"), paths("/foo"))},
			req: req("h", "/foo", withHeaders(hdr{"X-A": {"1"}})), want: "host"},
		{name: "more header names beat a longer prefix", routes: []*declarative.Route{
			R("one", 9, paths("/x/long"), header("a", "1"), header("b", "1")),
			R("two", 1, paths("/x"), header("a", "1"), header("b", "1"), header("c", "1"))},
			req: req("h", "/x/long", withHeaders(hdr{"a": {"1"}, "b": {"1"}, "c": {"1"}})), want: "two"},
		{name: "header count beats regex", routes: []*declarative.Route{
			R("regex", 9, paths(`~/p`), header("a", "1")),
			R("prefix", 1, paths("/p"), header("a", "1"), header("b", "1"))},
			req: req("h", "/p", withHeaders(hdr{"a": {"1"}, "b": {"1"}})), want: "prefix"},
		{name: "sni counts in the weight", routes: []*declarative.Route{
			R("path", 9, paths("/"), protos("https")), R("sni", 1, paths("/"), snis("a.com"), protos("https"))},
			req: req("h", "/", withTLS("a.com")), want: "sni"},

		// ---- methods
		{name: "method matches", routes: []*declarative.Route{R("a", 1, methods("GET", "POST"))}, req: req("h", "/", withMethod("POST")), want: "a"},
		{name: "method mismatch", routes: []*declarative.Route{R("a", 1, methods("GET"))}, req: req("h", "/", withMethod("DELETE")), want: ""},
		{name: "method is case-sensitive", routes: []*declarative.Route{R("a", 1, methods("GET"))}, req: req("h", "/", withMethod("get")), want: ""},

		// ---- headers
		{name: "header value compared lowercased", routes: []*declarative.Route{R("a", 1, header("x-version", "V1"))},
			req: req("h", "/", withHeaders(hdr{"X-Version": {"v1"}})), want: "a"},
		{name: "header name is case-insensitive", routes: []*declarative.Route{R("a", 1, header("X-Version", "v1"))},
			req: req("h", "/", withHeaders(hdr{"x-version": {"V1"}})), want: "a"},
		{name: "any value of a repeated header", routes: []*declarative.Route{R("a", 1, header("x-a", "two"))},
			req: req("h", "/", withHeaders(hdr{"x-a": {"one", "TWO"}})), want: "a"},
		{name: "header values of the route are ORed", routes: []*declarative.Route{R("a", 1, header("x-a", "one", "two"))},
			req: req("h", "/", withHeaders(hdr{"x-a": {"two"}})), want: "a"},
		{name: "header regex is case-insensitive", routes: []*declarative.Route{R("a", 1, header("x-a", `~*^ver-\d+$`))},
			req: req("h", "/", withHeaders(hdr{"x-a": {"VER-12"}})), want: "a"},
		{name: "header regex searches anywhere", routes: []*declarative.Route{R("a", 1, header("user-agent", `~*mobile`))},
			req: req("h", "/", withHeaders(hdr{"User-Agent": {"Foo Mobile Safari"}})), want: "a"},
		{name: "missing header", routes: []*declarative.Route{R("a", 1, header("x-a", "1"))}, req: req("h", "/", withHeaders(hdr{})), want: ""},
		{name: "header names are ANDed", routes: []*declarative.Route{R("a", 1, header("x-a", "1"), header("x-b", "2"))},
			req: req("h", "/", withHeaders(hdr{"x-a": {"1"}})), want: ""},
		{name: "underscore in route header name matches a dash", routes: []*declarative.Route{R("a", 1, header("x_version", "1"))},
			req: req("h", "/", withHeaders(hdr{"X-Version": {"1"}})), want: "a"},
		{name: "header value mismatch", routes: []*declarative.Route{R("a", 1, header("x-a", "1"))},
			req: req("h", "/", withHeaders(hdr{"x-a": {"10"}})), want: ""},
		{name: "no headers at all", routes: []*declarative.Route{R("a", 1, header("x-a", "1"))}, req: get("h", "/"), want: ""},

		// ---- snis
		{name: "sni matches over https", routes: []*declarative.Route{R("a", 1, snis("a.com"), protos("https"))}, req: req("h", "/", withTLS("a.com")), want: "a"},
		{name: "sni mismatch over https", routes: []*declarative.Route{R("a", 1, snis("a.com"), protos("https"))}, req: req("h", "/", withTLS("b.com")), want: ""},
		{name: "sni skipped over plain http (Kong#6425)", routes: []*declarative.Route{R("a", 1, snis("a.com"), protos("http", "https"))}, req: get("h", "/"), want: "a"},
		{name: "sni trailing dot ignored", routes: []*declarative.Route{R("a", 1, snis("a.com."), protos("https"))}, req: req("h", "/", withTLS("a.com")), want: "a"},
		{name: "wildcard sni", routes: []*declarative.Route{R("a", 1, snis("*.a.com"), protos("https"))}, req: req("h", "/", withTLS("x.a.com")), want: "a"},
		{name: "missing sni does not match even a catch-all sni", routes: []*declarative.Route{R("a", 1, snis("*"), protos("https"))}, req: req("h", "/", withTLS("")), want: ""},
		{name: "missing sni over https", routes: []*declarative.Route{R("a", 1, snis("a.com"), protos("https"))}, req: req("h", "/", withTLS("")), want: ""},

		// ---- protocols
		{name: "https-only route over http needs https", routes: []*declarative.Route{R("a", 1, paths("/"), protos("https"))}, req: get("h", "/"), want: "a", needsHTTPS: true},
		{name: "https-only route over https", routes: []*declarative.Route{R("a", 1, paths("/"), protos("https"))}, req: req("h", "/", withTLS("h")), want: "a"},
		{name: "http-only route does not take https", routes: []*declarative.Route{
			R("httponly", 9, paths("/x"), protos("http")), R("both", 1, paths("/"))},
			req: req("h", "/x", withTLS("h")), want: "both"},
		{name: "http-only route over http", routes: []*declarative.Route{R("a", 1, paths("/"), protos("http"))}, req: get("h", "/"), want: "a"},
		{name: "grpc route still matches an http request (proxy answers 415)", routes: []*declarative.Route{R("a", 1, paths("/"), protos("grpc", "grpcs"))}, req: get("h", "/"), want: "a"},
		{name: "grpcs-only route does not take plain http (only [https] is exempt)", routes: []*declarative.Route{R("a", 1, paths("/"), protos("grpcs"))}, req: get("h", "/"), want: ""},
		{name: "grpc-only route does not take https", routes: []*declarative.Route{R("a", 1, paths("/"), protos("grpc"))}, req: req("h", "/", withTLS("h")), want: ""},
		{name: "stream routes are not http routes", routes: []*declarative.Route{R("a", 1, snis("a.com"), protos("tls"))}, req: req("h", "/", withTLS("a.com")), want: ""},

		// ---- splitting
		{name: "split: long prefix group beats a middle route", routes: []*declarative.Route{
			R("split", 1, paths("/foo", "/foo/bar/baz")), R("mid", 9, paths("/foo/bar"))},
			req: get("h", "/foo/bar/baz/x"), want: "split", prefix: sp("/foo/bar/baz")},
		{name: "split: short prefix group loses to a middle route", routes: []*declarative.Route{
			R("split", 1, paths("/foo", "/foo/bar/baz")), R("mid", 9, paths("/foo/bar"))},
			req: get("h", "/foo/bar/x"), want: "mid"},
		{name: "split: regex group of a mixed route beats a long prefix", routes: []*declarative.Route{
			R("mixed", 1, paths("/a", `~/r\d`)), R("long", 9, paths("/r1/long/prefix"))},
			req: get("h", "/r1/long/prefix"), want: "mixed", prefix: sp("/r1")},
		{name: "split: prefix group of a mixed route ranks by its own length", routes: []*declarative.Route{
			R("mixed", 9, paths("/a", `~/r\d`)), R("longer", 1, paths("/ab"))},
			req: get("h", "/abc"), want: "longer"},
		{name: "split: derived ids break ties", routes: []*declarative.Route{
			// uuid5(ns, id(1)+"#1") ends up compared with id(2): derived ids start with hex digits > 0
			R("split", 1, paths("/x", "/yy")), R("plain", 2, paths("/x"))},
			req: get("h", "/x"), want: "split"},
		{name: "no split for one group keeps the route id", routes: []*declarative.Route{
			R("two", 1, paths("/x", "/y")), R("other", 2, paths("/x"))},
			req: get("h", "/x"), want: "other"},

		// ---- services
		{name: "routes of a disabled service are left out", routes: []*declarative.Route{
			R("off", 9, paths("/x"), svc(disabled)), R("on", 1, paths("/"))},
			req: get("h", "/x"), want: "on"},
		{name: "serviceless route matches", routes: []*declarative.Route{R("a", 1, paths("/"), svc(nil))}, req: get("h", "/"), want: "a"},
		{name: "empty router", routes: nil, req: get("h", "/"), want: ""},
	}
}

func mustNorm(p string) string {
	n, err := NormalizePath(p)
	if err != nil {
		panic(err)
	}
	return n
}

func TestConformance(t *testing.T) {
	cases := conformanceCases()
	if len(cases) < 60 {
		t.Fatalf("only %d conformance cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := New(tc.routes)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			r := tc.req
			var m Match
			ok := rt.Match(&r, &m)
			got := ""
			if ok {
				got = m.Route.Name
			}
			if got != tc.want {
				t.Fatalf("Match(%s %q %q) = %q, want %q", r.Method, r.Host, r.Path, got, tc.want)
			}
			// the reference implementation must agree on every case
			ref, rok := newRef(tc.routes).match(&r)
			if rok != ok || (ok && ref.route != m.Route) {
				t.Errorf("reference disagrees: got %v %v", rok, ref.route)
			}
			if !ok {
				return
			}
			if tc.prefix != nil && m.Prefix != *tc.prefix {
				t.Errorf("Prefix = %q, want %q", m.Prefix, *tc.prefix)
			}
			if tc.matched != nil && m.MatchedPath != *tc.matched {
				t.Errorf("MatchedPath = %v, want %v", m.MatchedPath, *tc.matched)
			}
			if m.NeedsHTTPS != tc.needsHTTPS {
				t.Errorf("NeedsHTTPS = %v, want %v", m.NeedsHTTPS, tc.needsHTTPS)
			}
			if tc.captures != nil || strings.Contains(tc.name, "no captures") {
				if !reflect.DeepEqual(m.Captures, tc.captures) {
					t.Errorf("Captures = %q, want %q", m.Captures, tc.captures)
				}
			}
			if tc.named != nil && !reflect.DeepEqual(m.Named, tc.named) {
				t.Errorf("Named = %v, want %v", m.Named, tc.named)
			}
			if m.Service != m.Route.Service {
				t.Errorf("Service = %v, want the route's", m.Service)
			}
		})
	}
}
