package gateway

import (
	"strings"
	"testing"

	"luagate/declarative"
)

// routedTo returns the route name encoded in the upstream URI by
// routingConfig: every service path is "/s/<route name>".
func routedTo(e *echoed) string {
	if e == nil {
		return ""
	}
	u := strings.TrimPrefix(e.URI, "/s/")
	if u == e.URI {
		return "?" + e.URI
	}
	if i := strings.IndexAny(u, "/?"); i >= 0 {
		u = u[:i]
	}
	return u
}

func routingConfig(host string, port int) *declarative.Config {
	b := newCfg()
	add := func(name string, mod func(r *declarative.Route)) {
		svc := b.service("svc-"+name, host, port, "/s/"+name)
		b.route(name, svc, mod)
	}
	add("exact-host", func(r *declarative.Route) { r.Hosts = []string{"example.com"} })
	add("host-path", func(r *declarative.Route) { r.Hosts = []string{"example.com"}; r.Paths = []string{"/api"} })
	add("wild-suffix", func(r *declarative.Route) { r.Hosts = []string{"*.wild.test"} })
	add("wild-prefix", func(r *declarative.Route) { r.Hosts = []string{"wildprefix.*"} })
	add("plain-host", func(r *declarative.Route) { r.Hosts = []string{"plain.wild.test"} })
	add("host-port", func(r *declarative.Route) { r.Hosts = []string{"port.test:8080"} })
	add("prefix-short", func(r *declarative.Route) { r.Paths = []string{"/pp"} })
	add("prefix-long", func(r *declarative.Route) { r.Paths = []string{"/pp/long"} })
	add("regex", func(r *declarative.Route) { r.Paths = []string{`~/rx/\d+$`} })
	add("regex-low", func(r *declarative.Route) { r.Paths = []string{`~/rp/.*`} })
	add("regex-high", func(r *declarative.Route) { r.Paths = []string{`~/rp/a.*`}; r.RegexPriority = 10 })
	add("rvp-regex", func(r *declarative.Route) { r.Paths = []string{`~/rvp/x`} })
	add("rvp-prefix", func(r *declarative.Route) { r.Paths = []string{"/rvp/x/a/much/longer/prefix"} })
	add("m-post", func(r *declarative.Route) { r.Paths = []string{"/m"}; r.Methods = []string{"POST"} })
	add("m-any", func(r *declarative.Route) { r.Paths = []string{"/m"} })
	add("h-v2", func(r *declarative.Route) {
		r.Paths = []string{"/h"}
		r.Headers = map[string][]string{"x-version": {"v2", "v3"}}
	})
	add("h-any", func(r *declarative.Route) { r.Paths = []string{"/h"} })
	add("h-re", func(r *declarative.Route) {
		r.Paths = []string{"/hre"}
		r.Headers = map[string][]string{"x-re": {"~*^abc"}}
	})
	add("norm", func(r *declarative.Route) { r.Paths = []string{"/norm/x"} })
	add("case", func(r *declarative.Route) { r.Paths = []string{"/CasePath"} })
	add("https-only", func(r *declarative.Route) { r.Paths = []string{"/secure"}; r.Protocols = []string{"https"} })
	add("https-301", func(r *declarative.Route) {
		r.Paths = []string{"/redir"}
		r.Protocols = []string{"https"}
		r.HTTPSRedirectStatusCode = 301
	})
	add("https-308", func(r *declarative.Route) {
		r.Paths = []string{"/redir308"}
		r.Protocols = []string{"https"}
		r.HTTPSRedirectStatusCode = 308
	})
	add("http-only", func(r *declarative.Route) { r.Paths = []string{"/httponly"}; r.Protocols = []string{"http"} })
	add("multi", func(r *declarative.Route) { r.Paths = []string{"/multi/a", "/multi/bbbbbb"} })
	add("hosts-two", func(r *declarative.Route) { r.Hosts = []string{"one.test", "two.test"}; r.Paths = []string{"/two"} })
	add("no-strip", func(r *declarative.Route) { r.Paths = []string{"/nostrip"}; r.StripPath = false })
	b.route("serviceless", nil, func(r *declarative.Route) { r.Paths = []string{"/nosvc"} })
	off := b.service("svc-disabled", host, port, "/s/disabled")
	off.Enabled = false
	b.route("disabled", off, func(r *declarative.Route) { r.Paths = []string{"/disabled"} })
	return b.cfg
}

func TestRouterConformance(t *testing.T) {
	host, port, _ := startEcho(t)
	s := testSettings()
	s.TrustedIPs = []string{"127.0.0.1"}
	tg := startGateway(t, routingConfig(host, port), s, nil)

	type hdrs = map[string]string
	tests := []struct {
		name    string
		method  string
		host    string
		path    string
		headers hdrs
		route   string // expected route (by upstream URI), "" for an error status
		status  int
		uri     string // expected upstream URI when set
	}{
		{name: "exact host", host: "example.com", path: "/anything", route: "exact-host", uri: "/s/exact-host/anything"},
		{name: "exact host is case-insensitive (DECISIONS 11)", host: "EXAMPLE.com", path: "/x", route: "exact-host"},
		{name: "exact host with any port", host: "example.com:9999", path: "/x", route: "exact-host"},
		{name: "host and path beat host only", host: "example.com", path: "/api/v1", route: "host-path", uri: "/s/host-path/v1"},
		{name: "host and path: path is a plain prefix", host: "example.com", path: "/apiv1", route: "host-path", uri: "/s/host-path/v1"},
		{name: "host only when path does not match", host: "example.com", path: "/ap", route: "exact-host"},
		{name: "wildcard suffix", host: "a.wild.test", path: "/", route: "wild-suffix"},
		{name: "wildcard suffix any depth", host: "a.b.c.wild.test", path: "/", route: "wild-suffix"},
		{name: "wildcard suffix not the bare domain", host: "wild.test", path: "/zzz", status: 404},
		{name: "plain host beats wildcard", host: "plain.wild.test", path: "/", route: "plain-host"},
		{name: "wildcard prefix", host: "wildprefix.org", path: "/", route: "wild-prefix"},
		{name: "wildcard prefix any tld", host: "wildprefix.co.uk", path: "/", route: "wild-prefix"},
		{name: "host with port matches that port", host: "port.test:8080", path: "/", route: "host-port"},
		{name: "host with port: other port is 404", host: "port.test:8081", path: "/zz", status: 404},
		{name: "host with port: no port uses the listener port", host: "port.test", path: "/zz", status: 404},
		{name: "prefix", path: "/pp", route: "prefix-short", uri: "/s/prefix-short"},
		{name: "prefix is not segment aware", path: "/ppx", route: "prefix-short", uri: "/s/prefix-short/x"},
		{name: "longer prefix wins", path: "/pp/long/x", route: "prefix-long", uri: "/s/prefix-long/x"},
		{name: "longer prefix needs its text", path: "/pp/lon", route: "prefix-short", uri: "/s/prefix-short/lon"},
		{name: "regex", path: "/rx/123", route: "regex", uri: "/s/regex"},
		{name: "regex anchored at start only but $ honoured", path: "/rx/123a", status: 404},
		{name: "regex not anchored inside", path: "/a/rx/1", status: 404},
		{name: "regex_priority wins among regexes", path: "/rp/abc", route: "regex-high"},
		{name: "lower regex when higher does not match", path: "/rp/zzz", route: "regex-low"},
		{name: "regex beats longer prefix", path: "/rvp/x/a/much/longer/prefix", route: "rvp-regex"},
		{name: "method route wins for its method", method: "POST", path: "/m", route: "m-post"},
		{name: "method route skipped for other method", method: "GET", path: "/m", route: "m-any"},
		{name: "header route wins with header", path: "/h", headers: hdrs{"X-Version": "v2"}, route: "h-v2"},
		{name: "header values are ORed", path: "/h", headers: hdrs{"X-Version": "v3"}, route: "h-v2"},
		{name: "header value compared lowercased", path: "/h", headers: hdrs{"X-Version": "V2"}, route: "h-v2"},
		{name: "header mismatch falls back", path: "/h", headers: hdrs{"X-Version": "v1"}, route: "h-any"},
		{name: "no header falls back", path: "/h", route: "h-any"},
		{name: "header regex case-insensitive", path: "/hre", headers: hdrs{"X-Re": "ABCdef"}, route: "h-re"},
		{name: "header regex mismatch falls back to a shorter prefix", path: "/hre", headers: hdrs{"X-Re": "xabc"}, route: "h-any", uri: "/s/h-any/re"},
		{name: "normalization decodes unreserved", path: "/norm/%78", route: "norm", uri: "/s/norm"},
		{name: "normalization removes dot segments", path: "/norm/y/../x/z", route: "norm", uri: "/s/norm/z"},
		{name: "normalization merges slashes", path: "//norm//x", route: "norm"},
		{name: "path matching is case-sensitive", path: "/casepath", status: 404},
		{name: "multiple paths: first", path: "/multi/a1", route: "multi", uri: "/s/multi/1"},
		{name: "multiple paths: second", path: "/multi/bbbbbb/2", route: "multi", uri: "/s/multi/2"},
		{name: "two hosts: second", host: "two.test", path: "/two/x", route: "hosts-two", uri: "/s/hosts-two/x"},
		{name: "strip_path false keeps the path", path: "/nostrip/a", route: "no-strip", uri: "/s/no-strip/nostrip/a"},
		{name: "query string passed raw", path: "/pp/q?a=1&b=%20x&c", route: "prefix-short", uri: "/s/prefix-short/q?a=1&b=%20x&c"},
		{name: "http-only route over http", path: "/httponly", route: "http-only"},
		{name: "trusted X-Forwarded-Proto https satisfies https-only", path: "/secure", headers: hdrs{"X-Forwarded-Proto": "https"}, route: "https-only"},
		{name: "no route", path: "/nothing/here", status: 404},
		{name: "disabled service's routes are not routed", path: "/disabled", status: 404},
		{name: "serviceless route", path: "/nosvc", status: 503},
		{name: "https-only over http gives 426", path: "/secure", status: 426},
		{name: "https-only with 301", path: "/redir/x?y=1", status: 301},
		{name: "https-only with 308", path: "/redir308", status: 308},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			h := hdrs{}
			for k, v := range tt.headers {
				h[k] = v
			}
			if tt.host != "" {
				h["Host"] = tt.host
			} else {
				h["Host"] = "no-host-route.test"
			}
			r := tg.do(t, method, tt.path, h, "")
			if tt.route != "" {
				if r.status != 200 || r.echo == nil {
					t.Fatalf("%s %s (Host %s): status %d, body %q; want route %s", method, tt.path, h["Host"], r.status, r.body, tt.route)
				}
				if got := routedTo(r.echo); got != tt.route {
					t.Errorf("routed to %q (upstream uri %q), want %q", got, r.echo.URI, tt.route)
				}
				if tt.uri != "" && r.echo.URI != tt.uri {
					t.Errorf("upstream uri = %q, want %q", r.echo.URI, tt.uri)
				}
				return
			}
			if r.status != tt.status {
				t.Fatalf("status = %d (body %q), want %d", r.status, r.body, tt.status)
			}
		})
	}
}

// TestErrorAnswers checks the bodies and headers of Kong-generated answers.
func TestErrorAnswers(t *testing.T) {
	host, port, _ := startEcho(t)
	tg := startGateway(t, routingConfig(host, port), testSettings(), nil)

	t.Run("404 JSON by default", func(t *testing.T) {
		r := tg.do(t, "GET", "/nothing", nil, "")
		id := r.header.Get("X-Kong-Request-Id")
		if len(id) != 32 {
			t.Fatalf("X-Kong-Request-Id = %q, want 32 hex", id)
		}
		want := "{\n  \"message\":\"no Route matched with those values\",\n  \"request_id\":\"" + id + "\"\n}"
		if r.status != 404 || r.body != want {
			t.Errorf("got %d %q, want 404 %q", r.status, r.body, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if s := r.header.Get("Server"); s != "luagate/"+Version {
			t.Errorf("Server = %q", s)
		}
		if r.header.Get("X-Kong-Response-Latency") == "" {
			t.Errorf("no X-Kong-Response-Latency")
		}
		if r.header.Get("Via") != "" {
			t.Errorf("Via on a Kong-generated answer: %q", r.header.Get("Via"))
		}
	})

	for _, tt := range []struct {
		accept, ctype string
		wantBody      string // with %ID% for the request id
	}{
		{"text/plain", "text/plain; charset=utf-8", "no Route matched with those values\nrequest_id: %ID%\n"},
		{"text/*", "text/plain; charset=utf-8", "no Route matched with those values\nrequest_id: %ID%\n"},
		{"application/json", "application/json; charset=utf-8", "{\n  \"message\":\"no Route matched with those values\",\n  \"request_id\":\"%ID%\"\n}"},
		{"*/*", "application/json; charset=utf-8", ""},
		{"image/png", "application/json; charset=utf-8", ""},
		{"application/xml", "application/xml; charset=utf-8", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>no Route matched with those values</message>\n  <requestid>%ID%</requestid>\n</error>\n"},
		{"text/html", "text/html; charset=utf-8", "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>no Route matched with those values.</p>\n    <p>request_id: %ID%</p>\n  </body>\n</html>\n"},
		{"text/html;q=0.5, application/xml", "application/xml; charset=utf-8", ""},
		{"text/html;q=0.9, application/xml;q=0.8", "text/html; charset=utf-8", ""},
		{"application/xml;q=0.8, text/plain;q=0.8", "application/xml; charset=utf-8", ""},
		{"text/plain; charset=utf-8; q=0.1, application/json;q=0.05", "text/plain; charset=utf-8", ""},
	} {
		t.Run("404 Accept "+tt.accept, func(t *testing.T) {
			r := tg.do(t, "GET", "/nothing", map[string]string{"Accept": tt.accept}, "")
			if r.status != 404 {
				t.Fatalf("status %d", r.status)
			}
			if ct := r.header.Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", ct, tt.ctype)
			}
			if tt.wantBody != "" {
				want := strings.ReplaceAll(tt.wantBody, "%ID%", r.header.Get("X-Kong-Request-Id"))
				if r.body != want {
					t.Errorf("body = %q, want %q", r.body, want)
				}
			}
		})
	}

	t.Run("503 serviceless", func(t *testing.T) {
		r := tg.do(t, "GET", "/nosvc", map[string]string{"Accept": "text/plain"}, "")
		want := "no Service found with those values\nrequest_id: " + r.header.Get("X-Kong-Request-Id") + "\n"
		if r.status != 503 || r.body != want {
			t.Errorf("got %d %q, want 503 %q", r.status, r.body, want)
		}
	})
	t.Run("426 body and upgrade headers", func(t *testing.T) {
		r := tg.do(t, "GET", "/secure", nil, "")
		if r.status != 426 || !strings.Contains(r.body, `"message":"Please use HTTPS protocol"`) {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if got := r.header.Get("Upgrade"); got != "TLS/1.2, HTTP/1.1" {
			t.Errorf("Upgrade = %q", got)
		}
		if got := r.header.Get("Connection"); !strings.EqualFold(got, "Upgrade") {
			t.Errorf("Connection = %q", got)
		}
	})
	t.Run("301 redirect with Location and empty body", func(t *testing.T) {
		r := tg.do(t, "GET", "/redir/x?y=1", map[string]string{"Host": "Secure.Example.com:8000"}, "")
		if r.status != 301 || r.body != "" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if got := r.header.Get("Location"); got != "https://secure.example.com/redir/x?y=1" {
			t.Errorf("Location = %q", got)
		}
	})
	t.Run("HTTP/1.1 without Host is 400", func(t *testing.T) {
		out := tg.raw(t, "GET /pp HTTP/1.1\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 400") {
			t.Errorf("got %q", firstLine(out))
		}
	})
}

func firstLine(s string) string {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
