package main

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestHandlerEchoesConsumerHeaders(t *testing.T) {
	h := newHandler([]byte(`{"ok":true}`))
	tests := []struct {
		name     string
		headers  map[string]string
		wantEcho map[string]string
	}{
		{"no consumer", nil, map[string]string{"X-Upstream-Consumer": "", "X-Upstream-Role": ""}},
		{"consumer and role", map[string]string{"X-Consumer-ID": "c-1", "X-Consumer-Role": "admin"},
			map[string]string{"X-Upstream-Consumer": "c-1", "X-Upstream-Role": "admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req fasthttp.Request
			req.SetRequestURI("http://up/")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, nil, nil)
			h(&ctx)
			if string(ctx.Response.Body()) != `{"ok":true}` || string(ctx.Response.Header.ContentType()) != "application/json" {
				t.Errorf("answer %q (%s); want the JSON payload", ctx.Response.Body(), ctx.Response.Header.ContentType())
			}
			for k, v := range tt.wantEcho {
				if got := string(ctx.Response.Header.Peek(k)); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
		})
	}
}
