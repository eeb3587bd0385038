package router

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"luagate/declarative"
)

var _ Headers = (*fasthttp.RequestHeader)(nil)

// The proxy passes &ctx.Request.Header: header names in any case and repeated
// headers must work through fasthttp's normalizing PeekAll.
func TestFasthttpHeaders(t *testing.T) {
	rt, err := New([]*declarative.Route{
		R("multi", 3, header("x-multi", "b")),
		R("under", 2, header("x_version", "v1")),
		R("root", 1, paths("/")),
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		raw  string
		want string
	}{
		{"GET / HTTP/1.1\r\nHost: h\r\nx-multi: a\r\nX-MULTI: B\r\n\r\n", "multi"},
		{"GET / HTTP/1.1\r\nHost: h\r\nX-Version: V1\r\n\r\n", "under"},
		{"GET / HTTP/1.1\r\nHost: h\r\nX-Version: v2\r\n\r\n", "root"},
	}
	for _, c := range cases {
		var h fasthttp.RequestHeader
		if err := h.Read(bufioReader(c.raw)); err != nil {
			t.Fatal(err)
		}
		q := req(string(h.Host()), string(h.RequestURI()), withHeaders(&h))
		var m Match
		if !rt.Match(&q, &m) || m.Route.Name != c.want {
			t.Errorf("%q: matched %v, want %s", c.raw, m.Route, c.want)
		}
		if n := testing.AllocsPerRun(50, func() { rt.Match(&q, &m) }); n != 0 {
			t.Errorf("%q: %v allocations per match", c.raw, n)
		}
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
