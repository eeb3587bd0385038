// Command goproxy is the Go standard-library baseline: a net/http server in
// front of httputil.ReverseProxy with a tuned Transport and a pooled copy
// buffer. Besides plain proxying (-mode plain) it does the benchmark's other
// scenarios in Go code, without Lua: -mode auth (bearer token check, two
// upstream headers, one response header), -mode exit (answers a JSON message
// itself) and -mode bodyfilter (decodes the upstream JSON, adds a field).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

type options struct {
	mode        string
	token       string
	consumerID  string
	role        string
	filterValue string
	exitMessage string
	bodyField   string
	bodyValue   string
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "upstream base URL")
	var o options
	flag.StringVar(&o.mode, "mode", "plain", "plain, auth, exit or bodyfilter")
	flag.StringVar(&o.token, "token", "", "bearer token accepted by -mode auth")
	flag.StringVar(&o.consumerID, "consumer-id", "", "X-Consumer-ID sent upstream by -mode auth")
	flag.StringVar(&o.role, "role", "", "X-Consumer-Role sent upstream by -mode auth")
	flag.StringVar(&o.filterValue, "filter-value", "1", "X-Bench-Filter response header value (-mode auth)")
	flag.StringVar(&o.exitMessage, "exit-message", "hello", "message answered by -mode exit")
	flag.StringVar(&o.bodyField, "body-field", "gateway", "field added by -mode bodyfilter")
	flag.StringVar(&o.bodyValue, "body-value", "bench", "value of the added field")
	flag.Parse()

	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("goproxy: -upstream %q: %v", *upstream, err)
	}
	h, err := newHandler(target, o)
	if err != nil {
		log.Fatalf("goproxy: %v", err)
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       75 * time.Second,
		ErrorLog:          log.New(os.Stderr, "goproxy: ", 0),
	}
	log.Fatal(srv.ListenAndServe())
}

// newTransport is the tuned Transport: the default keeps only 2 idle
// connections per host, which costs more than half of the throughput.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 30 * time.Second,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { v := make([]byte, 32<<10); return &v }}}
}

func newHandler(target *url.URL, o options) (http.Handler, error) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			if o.mode == "auth" {
				pr.Out.Header.Set("X-Consumer-ID", o.consumerID)
				pr.Out.Header.Set("X-Consumer-Role", o.role)
			}
		},
		Transport:  newTransport(),
		BufferPool: newBufferPool(),
		ErrorLog:   log.New(os.Stderr, "goproxy: ", 0),
	}
	switch o.mode {
	case "plain":
		return rp, nil
	case "auth":
		if o.token == "" {
			return nil, fmt.Errorf("-mode auth needs -token")
		}
		rp.ModifyResponse = func(resp *http.Response) error {
			resp.Header.Set("X-Bench-Filter", o.filterValue)
			return nil
		}
		want := "Bearer " + o.token
		unauthorized := []byte(`{"message":"Unauthorized"}`)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != want {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("X-Bench-Filter", o.filterValue)
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write(unauthorized)
				return
			}
			rp.ServeHTTP(w, r)
		}), nil
	case "exit":
		body, err := json.Marshal(map[string]string{"message": o.exitMessage})
		if err != nil {
			return nil, err
		}
		body = append(body, '\n')
		length := strconv.Itoa(len(body))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Set("Content-Length", length)
			_, _ = w.Write(body)
		}), nil
	case "bodyfilter":
		rp.ModifyResponse = func(resp *http.Response) error {
			raw, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return fmt.Errorf("read upstream body: %w", err)
			}
			var data map[string]any
			if err := json.Unmarshal(raw, &data); err != nil {
				return fmt.Errorf("decode upstream body: %w", err)
			}
			data[o.bodyField] = o.bodyValue
			out, err := json.Marshal(data)
			if err != nil {
				return fmt.Errorf("encode body: %w", err)
			}
			resp.Body = io.NopCloser(bytes.NewReader(out))
			resp.ContentLength = int64(len(out))
			resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
			return nil
		}
		return rp, nil
	default:
		return nil, fmt.Errorf("unknown -mode %q (want plain, auth, exit or bodyfilter)", o.mode)
	}
}
