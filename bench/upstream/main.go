// Command upstream is the benchmark's origin when nginx is not installed: a
// fasthttp server that answers every request with the same small JSON document
// and echoes X-Consumer-ID / X-Consumer-Role as X-Upstream-Consumer /
// X-Upstream-Role, like bench/nginx/upstream.conf.tmpl.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	body := flag.String("body", `{"origin":"upstream","items":[1,2,3],"ok":true}`, "JSON body of every answer")
	flag.Parse()

	handler := newHandler([]byte(*body))
	srv := &fasthttp.Server{
		Handler:       handler,
		Name:          "bench-upstream",
		NoDefaultDate: true,
	}
	if err := srv.ListenAndServe(*listen); err != nil {
		fmt.Fprintf(os.Stderr, "upstream: listen on %s: %v\n", *listen, err)
		os.Exit(1)
	}
}

// newHandler answers payload as JSON and echoes the consumer headers.
func newHandler(payload []byte) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		if v := ctx.Request.Header.Peek("X-Consumer-ID"); len(v) > 0 {
			ctx.Response.Header.SetBytesV("X-Upstream-Consumer", v)
		}
		if v := ctx.Request.Header.Peek("X-Consumer-Role"); len(v) > 0 {
			ctx.Response.Header.SetBytesV("X-Upstream-Role", v)
		}
		ctx.SetBody(payload)
	}
}
