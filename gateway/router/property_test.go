package router

import (
	"math/rand/v2"
	"strings"
	"testing"

	"luagate/declarative"
)

var (
	poolHosts   = []string{"a.com", "b.com", "A.com", "*.a.com", "*.com", "a.*", "x.a.com:8080", "a.com:8000", "*.a.com:8443", "b.*:8000", "*"}
	poolPaths   = []string{"/", "/a", "/ab", "/a/b", "/b", "/abc/d", `~/a/\d+`, `~/(a|b)/x`, "~/a", "~(?i)/A", "~/a|/b", "~/(?<n>[ab])", "~/ab?c", "~/", `~/a/(\d+)?`, `~(?i)/aB/x`, `~(?i)/s\d`, `~/(?:x|y)?z`, `~(?i)/(A|b)c`, `~/a\d+`}
	poolMethods = []string{"GET", "POST", "PUT"}
	poolHNames  = []string{"x-a", "x_b", "X-C"}
	poolHVals   = []string{"1", "v", `~*^v\d$`, "V", "~*x"}
	poolSNIs    = []string{"a.com", "*.a.com", "b.com.", "A.COM", "*"}
	poolProtos  = [][]string{{"http", "https"}, {"http", "https"}, {"http"}, {"https"}, {"grpc", "grpcs"}, {"grpcs"}, {"grpc"}, {"tls"}, nil}

	reqHosts   = []string{"a.com", "A.COM", "x.a.com", "x.a.com:8080", "a.org", "b.com:8000", "", "a.com:abc", "y.x.a.com:8443", "b.net", "a.com:8000", "B.com"}
	reqPaths   = []string{"/", "/z", "/xz", "/Bc", "/ac", "/a12", "/AB/X", "/\u017F1", "/S2", "/a", "/ab", "/a/1", "/a/b", "/b/x", "/abc/d", "/A", "/c", "/a/b/c", "/ab/x", "/abc", "/a/", "/x/b"}
	reqSNIs    = []string{"", "a.com", "x.a.com", "b.com", "A.com."}
	reqHValues = []string{"1", "V", "v1", "x", "nope", "VX"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func some(r *rand.Rand, pool []string, max int) []string {
	n := r.IntN(max + 1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = pick(r, pool)
	}
	return out
}

func randomRoutes(r *rand.Rand, n int) []*declarative.Route {
	disabled := &declarative.Service{ID: id(999), Enabled: false}
	routes := make([]*declarative.Route, n)
	for i := range routes {
		rt := R("r"+id(i), r.IntN(3*n)) // ids may collide: ties then fall back to input order in both
		rt.Name = "route" + string(rune('A'+i%26)) + id(i)
		rt.Hosts = some(r, poolHosts, 2)
		rt.Paths = some(r, poolPaths, 3)
		rt.Methods = some(r, poolMethods, 2)
		if r.IntN(3) == 0 {
			rt.Headers = map[string][]string{}
			for _, name := range some(r, poolHNames, 2) {
				rt.Headers[name] = some(r, poolHVals, 2)
			}
		}
		if r.IntN(4) == 0 {
			rt.SNIs = some(r, poolSNIs, 2)
		}
		rt.Protocols = pick(r, poolProtos)
		rt.RegexPriority = r.IntN(4) - 1
		rt.StripPath = r.IntN(3) != 0
		if r.IntN(15) == 0 {
			rt.Service = disabled
		} else if r.IntN(15) == 0 {
			rt.Service = nil
		}
		routes[i] = rt
	}
	return routes
}

func randomRequest(r *rand.Rand) Request {
	q := Request{
		Method:       pick(r, poolMethods),
		Host:         pick(r, reqHosts),
		Path:         pick(r, reqPaths),
		Scheme:       "http",
		ListenerPort: 8000,
	}
	if r.IntN(3) == 0 {
		q.Scheme, q.ListenerPort, q.SNI = "https", 8443, pick(r, reqSNIs)
	}
	if r.IntN(2) == 0 {
		h := hdr{}
		for _, name := range some(r, []string{"X-A", "x-b", "X_B", "x-c"}, 3) {
			h[name] = some(r, reqHValues, 2)
		}
		q.Headers = h
	}
	return q
}

// checkAgainstRef compares one request on the fast router with the reference.
func checkAgainstRef(t *testing.T, rt *Router, ref *refRouter, q Request) {
	t.Helper()
	var m Match
	ok := rt.Match(&q, &m)
	want, wok := ref.match(&q)
	if ok != wok || (ok && m.Route != want.route) {
		var got, exp string
		if ok {
			got = m.Route.Name
		}
		if wok {
			exp = want.route.Name
		}
		t.Fatalf("request %+v: router picked %q (%v), reference %q (%v)", q, got, ok, exp, wok)
	}
	if !ok {
		return
	}
	wantPrefix := ""
	if want.matchedPath && want.route.StripPath {
		wantPrefix = want.text
	}
	if m.MatchedPath != want.matchedPath || m.Prefix != wantPrefix || m.NeedsHTTPS != want.needsHTTPS {
		t.Fatalf("request %+v on %s: got matched=%v prefix=%q https=%v, reference matched=%v prefix=%q https=%v",
			q, m.Route.Name, m.MatchedPath, m.Prefix, m.NeedsHTTPS, want.matchedPath, wantPrefix, want.needsHTTPS)
	}
}

func TestMatchEqualsReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sets, reqs := 300, 200
	if testing.Short() {
		sets = 50
	}
	for s := 0; s < sets; s++ {
		routes := randomRoutes(r, 1+r.IntN(40))
		rt, err := New(routes)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ref := newRef(routes)
		for i := 0; i < reqs; i++ {
			checkAgainstRef(t, rt, ref, randomRequest(r))
		}
	}
}

func TestMatchDoesNotAllocateForPrefixRoutes(t *testing.T) {
	var routes []*declarative.Route
	for i := 0; i < 100; i++ {
		routes = append(routes, R("p", i, paths("/svc"+id(i)), hosts("api.example.com", "*.example.org")))
	}
	routes = append(routes, R("hdr", 500, paths("/h"), header("x-a", "1", "~*^v")))
	rt, err := New(routes)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []Request{
		get("api.example.com", "/svc"+id(3)+"/x"),
		get("x.example.org:8000", "/svc"+id(50)),
		get("nothing.test", "/nope"),
		req("h", "/h", withHeaders(noAllocHeaders{"x-a": [][]byte{[]byte("V2")}})),
	} {
		var m Match
		if n := testing.AllocsPerRun(100, func() { rt.Match(&q, &m) }); n != 0 {
			t.Errorf("Match(%q, %q) allocates %v times", q.Host, q.Path, n)
		}
	}
}

// noAllocHeaders looks names up exactly (lowercase keys) without allocating.
type noAllocHeaders map[string][][]byte

func (h noAllocHeaders) PeekAll(key string) [][]byte { return h[key] }

func TestNewRejectsBadRegex(t *testing.T) {
	bad := R("bad", 1, paths(`~/(unclosed`))
	bad.Path0 = "services[0].routes[3]"
	_, err := New([]*declarative.Route{bad})
	if err == nil || !containsAll(err.Error(), "services[0].routes[3]", "paths", "(unclosed") {
		t.Errorf("New error = %v, want one naming the route and the regex", err)
	}
	_, err = New([]*declarative.Route{R("bad", 1, header("x-a", "~*(["))})
	if err == nil || !containsAll(err.Error(), "headers.x-a", "invalid regex") {
		t.Errorf("New error = %v, want one naming the header", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

func TestConcurrentMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	routes := randomRoutes(r, 200)
	rt, err := New(routes)
	if err != nil {
		t.Fatal(err)
	}
	ref := newRef(routes)
	reqs := make([]Request, 500)
	for i := range reqs {
		reqs[i] = randomRequest(r)
	}
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			var m Match
			for _, q := range reqs {
				rt.Match(&q, &m)
			}
		}()
	}
	for _, q := range reqs {
		checkAgainstRef(t, rt, ref, q)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func TestCapturesSurviveReuse(t *testing.T) {
	rt, err := New([]*declarative.Route{R("a", 1, paths(`~/u/(?<id>\d+)`))})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Len() != 1 {
		t.Errorf("Len() = %d, want 1", rt.Len())
	}
	var m Match
	q1, q2 := get("h", "/u/1"), get("h", "/u/2")
	rt.Match(&q1, &m)
	caps, named := m.Captures, m.Named
	rt.Match(&q2, &m)
	if caps[1] != "1" || named["id"] != "1" || m.Captures[1] != "2" || m.Named["id"] != "2" {
		t.Errorf("captures of the first match changed after reuse: %q %v, second %q %v", caps, named, m.Captures, m.Named)
	}
	q3 := get("h", "/nope")
	if rt.Match(&q3, &m) || m.Route != nil || m.Captures != nil || m.Named != nil {
		t.Errorf("a failed match left data in m: %+v", m)
	}
}

// TestRoutePath: the route path that matched, as written (aws-lambda's
// API Gateway resource), for prefix and regex paths of a split route.
func TestRoutePath(t *testing.T) {
	rt, err := New([]*declarative.Route{R("a", 1, paths("/orders", `~/items/\d+$`, "/orders/archive")), R("h", 1, hosts("only.host"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ host, path, want string }{
		{"h", "/orders/1", "/orders"},
		{"h", "/orders/archive/2", "/orders/archive"},
		{"h", "/items/42", `~/items/\d+$`},
		{"only.host", "/anything", ""},
	} {
		var m Match
		q := get(tt.host, tt.path)
		if !rt.Match(&q, &m) {
			t.Fatalf("%s%s: no match", tt.host, tt.path)
		}
		if m.RoutePath != tt.want || m.MatchedPath != (tt.want != "") {
			t.Errorf("%s%s: RoutePath %q (matched path %v), want %q", tt.host, tt.path, m.RoutePath, m.MatchedPath, tt.want)
		}
	}
}
