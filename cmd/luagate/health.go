package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"luagate/gateway"
)

func cmdHealth(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	settings, err := gateway.SettingsFromEnv(getenv)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	def := ""
	if len(settings.StatusListen) > 0 {
		def = settings.StatusListen[0]
	}
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("status-listen", def, "the status listener of the gateway to ask (KONG_STATUS_LISTEN)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	base, err := statusURL(*addr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	// The status listener is this node's own: with `ssl` it often serves the
	// generated self-signed certificate, which a health probe cannot verify.
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probing our own listener
	}}
	resp, err := client.Get(base + "/status/ready")
	if err != nil {
		return fail(stderr, "luagate is not running at %s", base)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(stderr, "luagate at %s is not ready (%d): %s", base, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "luagate.......running\n\nluagate is healthy at %s\n", base)
	return 0
}

// statusURL turns a Kong listen entry ("127.0.0.1:8007", "0.0.0.0:8007 ssl")
// into the URL to ask.
func statusURL(listen string) (string, error) {
	fields := strings.Fields(strings.TrimSpace(listen))
	if len(fields) == 0 || fields[0] == "off" {
		return "", fmt.Errorf("no status listener configured (KONG_STATUS_LISTEN is off); pass --status-listen ADDR")
	}
	host, port, err := net.SplitHostPort(fields[0])
	if err != nil {
		return "", fmt.Errorf("invalid status listen address %q: %v", fields[0], err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	scheme := "http"
	for _, f := range fields[1:] {
		if f == "ssl" {
			scheme = "https"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}
