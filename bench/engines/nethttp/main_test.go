package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestProxy(t *testing.T) {
	var seen http.Header
	var seenBody string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		seenBody = string(b)
		w.Header().Set("X-Up", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "answer:"+r.URL.RequestURI())
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	p := newProxy(target, log.New(io.Discard, "", 0))

	tests := []struct {
		name       string
		method     string
		body       string
		header     map[string]string
		wantKept   []string
		wantGone   []string
		wantUpBody string
	}{
		{name: "plain GET", method: "GET", header: map[string]string{"X-Custom": "a"}, wantKept: []string{"X-Custom"}},
		{name: "hop-by-hop removed", method: "GET",
			header:   map[string]string{"Connection": "X-Secret", "X-Secret": "s", "Keep-Alive": "1", "Te": "trailers", "X-Custom": "a"},
			wantKept: []string{"X-Custom"}, wantGone: []string{"Connection", "X-Secret", "Keep-Alive", "Te"}},
		{name: "POST body forwarded", method: "POST", body: `{"a":1}`, wantUpBody: `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen, seenBody = nil, ""
			req := httptest.NewRequest(tt.method, "http://gw.example/x?q=1", strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated || rec.Body.String() != "answer:/x?q=1" {
				t.Fatalf("got %d %q; want 201 \"answer:/x?q=1\"", rec.Code, rec.Body.String())
			}
			if rec.Header().Get("X-Up") != "1" || rec.Header().Get("Keep-Alive") != "" {
				t.Errorf("response headers %v; want X-Up kept and Keep-Alive removed", rec.Header())
			}
			for _, k := range tt.wantKept {
				if seen.Get(k) == "" {
					t.Errorf("upstream did not get %s", k)
				}
			}
			for _, k := range tt.wantGone {
				if seen.Get(k) != "" {
					t.Errorf("upstream got hop-by-hop header %s: %q", k, seen.Get(k))
				}
			}
			if seenBody != tt.wantUpBody {
				t.Errorf("upstream body %q; want %q", seenBody, tt.wantUpBody)
			}
		})
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	target, _ := url.Parse(upstream.URL)
	upstream.Close()
	p := newProxy(target, log.New(io.Discard, "", 0))
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "http://gw.example/", nil))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("status %d; want 502", rec.Code)
	}
}
