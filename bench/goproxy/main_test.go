package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func upstream(t *testing.T, seen *http.Header) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*seen = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"origin":"upstream","ok":true}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

var opts = options{token: "tok", consumerID: "c-1", role: "admin", filterValue: "1", exitMessage: "hi", bodyField: "gateway", bodyValue: "bench"}

func TestModes(t *testing.T) {
	tests := []struct {
		mode       string
		auth       string
		wantStatus int
		wantBody   map[string]any
		wantHeader map[string]string
		wantSeen   map[string]string // upstream request headers; nil: upstream not called
	}{
		{mode: "plain", wantStatus: 200, wantBody: map[string]any{"origin": "upstream"}, wantSeen: map[string]string{"X-Consumer-ID": ""}},
		{mode: "auth", auth: "Bearer tok", wantStatus: 200, wantHeader: map[string]string{"X-Bench-Filter": "1"},
			wantSeen: map[string]string{"X-Consumer-ID": "c-1", "X-Consumer-Role": "admin", "Authorization": "Bearer tok"}},
		{mode: "auth", auth: "Bearer nope", wantStatus: 401, wantBody: map[string]any{"message": "Unauthorized"}, wantHeader: map[string]string{"X-Bench-Filter": "1"}},
		{mode: "auth", wantStatus: 401, wantBody: map[string]any{"message": "Unauthorized"}},
		{mode: "exit", wantStatus: 200, wantBody: map[string]any{"message": "hi"}, wantHeader: map[string]string{"Content-Type": "application/json; charset=utf-8"}},
		{mode: "bodyfilter", wantStatus: 200, wantBody: map[string]any{"origin": "upstream", "ok": true, "gateway": "bench"}, wantSeen: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.auth, func(t *testing.T) {
			var seen http.Header
			o := opts
			o.mode = tt.mode
			h, err := newHandler(upstream(t, &seen), o)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "http://gw.example/", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d; want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("response header %s = %q; want %q", k, got, v)
				}
			}
			if tt.wantBody != nil {
				var got map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("body %q: %v", rec.Body.String(), err)
				}
				for k, v := range tt.wantBody {
					if got[k] != v {
						t.Errorf("body field %s = %v; want %v", k, got[k], v)
					}
				}
				if cl := rec.Header().Get("Content-Length"); cl != "" && cl != strconv.Itoa(rec.Body.Len()) {
					t.Errorf("Content-Length %s; body has %d bytes", cl, rec.Body.Len())
				}
			}
			if tt.wantSeen == nil && seen != nil {
				t.Errorf("upstream was called: %v", seen)
			}
			for k, v := range tt.wantSeen {
				if got := seen.Get(k); got != v {
					t.Errorf("upstream header %s = %q; want %q", k, got, v)
				}
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	for _, tt := range []struct {
		o       options
		wantErr string
	}{
		{options{mode: "grpc"}, `unknown -mode "grpc"`},
		{options{mode: "auth"}, "needs -token"},
	} {
		if _, err := newHandler(u, tt.o); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("newHandler(%+v) error = %v; want %q", tt.o, err, tt.wantErr)
		}
	}
}
