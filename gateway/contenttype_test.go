package gateway

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// startRawTypeUpstream answers every request with the given Content-Type
// ("" for none at all), so the proxy's handling of its absence is visible.
func startRawTypeUpstream(t *testing.T, contentType string) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{NoDefaultContentType: true, NoDefaultServerHeader: true, Handler: func(ctx *fasthttp.RequestCtx) {
		if contentType != "" {
			ctx.Response.Header.SetContentType(contentType)
		}
		ctx.SetBodyString("payload")
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// TestUpstreamContentTypePassedThrough: Kong forwards the upstream's
// Content-Type as it is, and its absence as an absence (no text/plain
// filled in), whether the body streams or is buffered for a body_filter.
func TestUpstreamContentTypePassedThrough(t *testing.T) {
	const bodyFilter = `
    plugins:
    - name: post-function
      config:
        body_filter:
        - local b = kong.response.get_raw_body()
`
	for _, tc := range []struct {
		name, upstreamType, plugins string
	}{
		{"absent, streamed", "", ""},
		{"absent, buffered", "", bodyFilter},
		{"present, streamed", "application/xml", ""},
		{"present, buffered", "application/xml", bodyFilter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, port := startRawTypeUpstream(t, tc.upstreamType)
			s := testSettings()
			yml := "_format_version: \"3.0\"\nservices:\n- name: origin\n  url: http://" + host + ":" + strconv.Itoa(port) +
				"\n  routes:\n  - name: r\n    paths: [/]\n" + strings.TrimPrefix(tc.plugins, "\n")
			tg := startGateway(t, loadYAML(t, yml, s), s, nil)
			for i := 0; i < 2; i++ { // the second answer reuses pooled objects
				raw := tg.raw(t, "GET /x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
				head, body, _ := strings.Cut(raw, "\r\n\r\n")
				if !strings.HasPrefix(head, "HTTP/1.1 200") || body != "payload" {
					t.Fatalf("answer %d: %q", i, raw)
				}
				got, has := headerValue(head, "Content-Type")
				if tc.upstreamType == "" && has {
					t.Errorf("answer %d: Content-Type %q, want none (the upstream sent none)", i, got)
				}
				if tc.upstreamType != "" && got != tc.upstreamType {
					t.Errorf("answer %d: Content-Type %q, want %q", i, got, tc.upstreamType)
				}
			}
		})
	}
}

// headerValue finds a header in a raw response head (case-insensitive).
func headerValue(head, name string) (string, bool) {
	for _, line := range strings.Split(head, "\r\n")[1:] {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
