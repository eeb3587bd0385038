package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.rounds != 3 || c.duration != 5*time.Second || c.warmup != time.Second || c.threads != 2 || c.conns != 64 {
				t.Errorf("defaults = rounds %d duration %s warmup %s -t%d -c%d; want 3, 5s, 1s, 2, 64", c.rounds, c.duration, c.warmup, c.threads, c.conns)
			}
			if strings.Join(c.servers, ",") != strings.Join(allServers, ",") || len(c.scenarios) != 6 {
				t.Errorf("servers %v scenarios %v; want all", c.servers, c.scenarios)
			}
			if est := c.estimate(); est > c.timeout {
				t.Errorf("default run estimated at %s, over the default TIMEOUT %s", est, c.timeout)
			}
		}},
		{name: "env overrides", env: map[string]string{"ROUNDS": "1", "DURATION": "2", "WARMUP": "0", "SERVERS": "engine-nethttp, goproxy", "SCENARIOS": "plain"},
			check: func(t *testing.T, c config) {
				if c.rounds != 1 || c.duration != 2*time.Second || c.warmup != 0 {
					t.Errorf("rounds %d duration %s warmup %s; want 1, 2s, 0", c.rounds, c.duration, c.warmup)
				}
				if got := strings.Join(c.servers, ","); got != "nginx-lua,goproxy,engine-nethttp" {
					t.Errorf("servers = %s; want the baseline first, then table order", got)
				}
			}},
		{name: "flag beats env", env: map[string]string{"ROUNDS": "5"}, args: []string{"-rounds", "2"},
			check: func(t *testing.T, c config) {
				if c.rounds != 2 {
					t.Errorf("rounds = %d; want 2", c.rounds)
				}
			}},
		{name: "fractional duration", env: map[string]string{"DURATION": "1500ms"}, wantErr: "whole, positive number of seconds"},
		{name: "zero duration", env: map[string]string{"DURATION": "0"}, wantErr: "DURATION"},
		{name: "bad rounds", env: map[string]string{"ROUNDS": "x"}, wantErr: "ROUNDS must be at least 1"},
		{name: "unknown server", env: map[string]string{"SERVERS": "caddy"}, wantErr: `unknown server "caddy"`},
		{name: "unknown scenario", env: map[string]string{"SCENARIOS": "plain,grpc"}, wantErr: `unknown scenario "grpc"`},
		{name: "odd routes", args: []string{"-routes", "999"}, wantErr: "even number"},
		{name: "bad reload mode", args: []string{"-reload-mode", "copy"}, wantErr: "inplace or rename"},
		{name: "threads over connections", env: map[string]string{"THREADS": "8", "CONNECTIONS": "4"}, wantErr: "threads <= connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"ROUNDS", "DURATION", "WARMUP", "THREADS", "CONNECTIONS", "SERVERS", "SCENARIOS", "TIMEOUT", "LUAGATE_BIN", "UPSTREAM"} {
				t.Setenv(k, tt.env[k])
			}
			c, err := parseConfig(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig error = %v; want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestPairs(t *testing.T) {
	t.Setenv("SERVERS", "")
	t.Setenv("SCENARIOS", "")
	c, err := parseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range c.pairs() {
		count[p.sc.Name]++
		if p.server == "luagate" || p.server == baselineName {
			count[p.server]++
		}
	}
	want := map[string]int{"plain": 5, "auth": 3, "exit": 3, "bodyfilter": 3, "routes": 2, "reload": 2, "luagate": 6, baselineName: 6}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("pairs for %s = %d; want %d", k, count[k], v)
		}
	}
}
