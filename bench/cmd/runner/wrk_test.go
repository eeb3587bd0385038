package main

import (
	"strings"
	"testing"
	"time"
)

const wrkClean = `Running 5s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  345.67us  12.34ms   90.12%
    Req/Sec    31.23k     1.23k   35.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.30ms
     99%    2.10ms
  312345 requests in 5.00s, 45.67MB read
Requests/sec:  62469.00
Transfer/sec:      9.13MB
`

const wrkErrors = `Running 1s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Latency Distribution
     50%    6.41ms
     75%   14.47ms
     90%   24.88ms
     99%    1.50s
  7601 requests in 1.01s, 1.97MB read
  Socket errors: connect 1, read 139, write 2, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:   7526.82
Transfer/sec:      1.95MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    wrkResult
		wantErr string
	}{
		{name: "clean", out: wrkClean, want: wrkResult{
			Requests: 312345, Elapsed: 5 * time.Second, RPS: 62469, P50: 812 * time.Microsecond, P99: 2100 * time.Microsecond,
		}},
		{name: "errors", out: wrkErrors, want: wrkResult{
			Requests: 7601, Elapsed: 1010 * time.Millisecond, RPS: 7526.82, P50: 6410 * time.Microsecond, P99: 1500 * time.Millisecond,
			NonOK: 5, Connect: 1, Read: 139, Write: 2, Timeout: 3,
		}},
		{name: "no latency distribution", out: strings.ReplaceAll(strings.ReplaceAll(wrkClean, "50%", "x"), "99%", "y"),
			wantErr: "latency distribution"},
		{name: "empty", out: "", wantErr: "request count, Requests/sec, latency"},
		{name: "bad socket errors", out: wrkClean + "  Socket errors: connect 1, bogus 2\n", wantErr: `unknown kind "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseWrk error = %v; want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWrk: %v", err)
			}
			if got != tt.want {
				t.Errorf("parseWrk = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestWrkErrorsAndDetail(t *testing.T) {
	r, err := parseWrk(wrkErrors)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Errors(); got != 150 {
		t.Errorf("Errors() = %d; want 150", got)
	}
	if got, want := r.ErrorDetail(), "non-2xx/3xx 5, connect 1, read 139, write 2, timeout 3"; got != want {
		t.Errorf("ErrorDetail() = %q; want %q", got, want)
	}
	clean, _ := parseWrk(wrkClean)
	if clean.Errors() != 0 || clean.ErrorDetail() != "" {
		t.Errorf("clean run: Errors %d, detail %q; want 0 and empty", clean.Errors(), clean.ErrorDetail())
	}
}

func TestParseWrkDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"812.00us", 812 * time.Microsecond, false},
		{"1.52ms", 1520 * time.Microsecond, false},
		{"5.00s", 5 * time.Second, false},
		{"1.50m", 90 * time.Second, false},
		{"2.00h", 2 * time.Hour, false},
		{"12", 0, true},
		{"ms", 0, true},
		{"-1.0ms", 0, true},
	}
	for _, tt := range tests {
		got, err := parseWrkDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
