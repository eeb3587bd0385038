package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"luagate/declarative"
	"luagate/gateway"
)

const requestUsage = `Usage: luagate request [-c kong.yml] METHOD PATH [-H 'Name: value' ...] [-d BODY]

A dry run without a server: serve one request through the configuration's
router and plugin chain (the real Lua functions) with an in-memory capture in
place of the upstream. Prints the matched route, the plugin chain in
priority order, every handler that ran, what the upstream would receive (URL,
headers, body) and the response. Nothing leaves the process: resty.redis,
resty.http and aws-lambda fail with "not available in a dry run".
Exit 0 when the request ran (whatever its status), 1 on a bad config or input.
`

// headerFlag collects repeated -H 'Name: value' flags.
type headerFlag [][2]string

func (h *headerFlag) String() string { return "" }
func (h *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("header %q is not 'Name: value'", v)
	}
	*h = append(*h, [2]string{name, strings.TrimSpace(value)})
	return nil
}

func cmdRequest(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	settings, err := gateway.SettingsFromEnv(getenv)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fs := flag2("request", stderr, requestUsage)
	conf := fs.String("c", settings.DeclarativeConfig, "declarative config file (KONG_DECLARATIVE_CONFIG)")
	var headers headerFlag
	fs.Var(&headers, "H", "a request header 'Name: value' (repeatable)")
	data := fs.String("d", "", "request body; @FILE reads it from FILE, @- from stdin")
	https := fs.Bool("https", false, "the request arrives on an https listener")
	upStatus := fs.Int("upstream-status", 200, "status the captured upstream answers")
	upBody := fs.String("upstream-body", "", "body the captured upstream answers; @FILE reads it from FILE")
	var upHeaders headerFlag
	fs.Var(&upHeaders, "upstream-header", "a header the captured upstream answers with (repeatable)")
	format := fs.String("format", "text", "output format: text, or json for machines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 2 {
		return fail(stderr, "expected METHOD and PATH; see `luagate request --help`")
	}
	if *conf == "" {
		return fail(stderr, "no declarative config: pass -c kong.yml or set KONG_DECLARATIVE_CONFIG")
	}
	if *format != "text" && *format != "json" {
		return fail(stderr, "--format %q is not text or json", *format)
	}
	body, err := readData(*data)
	if err != nil {
		return fail(stderr, "-d: %v", err)
	}
	ub, err := readData(*upBody)
	if err != nil {
		return fail(stderr, "--upstream-body: %v", err)
	}
	cfg, err := declarative.LoadFile(*conf, gateway.Registry(settings))
	if err != nil {
		fmt.Fprintf(stderr, "Error: Failed parsing:\n%s\n", declarative.FormatText(err))
		return 1
	}
	req := gateway.DryRunRequest{Method: pos[0], Target: pos[1], Headers: headers, Body: body,
		UpstreamStatus: *upStatus, UpstreamHeaders: upHeaders, UpstreamBody: ub}
	if *https {
		req.Scheme = "https"
	}
	res, err := gateway.DryRun(cfg, settings, req)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %s\n", declarative.FormatText(err))
		return 1
	}
	if *format == "json" {
		writeJSON(stdout, res)
		return 0
	}
	writeDryRun(stdout, res)
	return 0
}

// readData is curl's -d: text, @FILE, or @- for stdin.
func readData(v string) ([]byte, error) {
	switch {
	case v == "@-":
		return io.ReadAll(os.Stdin)
	case strings.HasPrefix(v, "@"):
		return os.ReadFile(v[1:])
	}
	return []byte(v), nil
}

func writeDryRun(w io.Writer, r *gateway.DryRunResult) {
	if r.Route == nil {
		fmt.Fprintln(w, "route: none matched")
	} else {
		line := "route: " + named(r.Route.Name, r.Route.ID)
		if r.Route.Service != nil {
			line += " (service " + named(r.Route.Service.Name, r.Route.Service.ID) + ")"
		} else {
			line += " (no service)"
		}
		if r.Route.StripPrefix != "" {
			line += ", strips " + strconv.Quote(r.Route.StripPrefix)
		}
		fmt.Fprintln(w, line)
	}

	fmt.Fprintln(w, "\nplugins, in priority order:")
	if len(r.Plugins) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, p := range r.Plugins {
		fmt.Fprintf(w, "  %-22s %8d  %-14s %s\n", p.Name, p.Priority, p.Scope, strings.Join(p.Phases, ", "))
	}

	fmt.Fprintln(w, "\nran:")
	if len(r.Trace) == 0 {
		fmt.Fprintln(w, "  (nothing)")
	}
	for _, s := range r.Trace {
		line := fmt.Sprintf("  %-22s %s", s.Plugin, s.Phase)
		if s.Exit != 0 {
			line += fmt.Sprintf(" -> exit %d", s.Exit)
		}
		if s.Error != "" {
			line += " -> error: " + firstLine(s.Error)
		}
		fmt.Fprintln(w, line)
	}

	if r.Upstream == nil {
		fmt.Fprintln(w, "\nupstream: not called")
	} else {
		u := r.Upstream
		fmt.Fprintf(w, "\nupstream: %s %s\n", u.Method, u.URL)
		writeHeaders(w, u.Headers)
		writeBody(w, u.Body)
	}

	fmt.Fprintf(w, "\nresponse: %d\n", r.Response.Status)
	writeHeaders(w, r.Response.Headers)
	writeBody(w, r.Response.Body)

	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "\nerrors:")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %s\n", firstLine(e))
		}
	}
}

func writeHeaders(w io.Writer, hs [][2]string) {
	for _, h := range hs {
		fmt.Fprintf(w, "  %s: %s\n", h[0], h[1])
	}
}

func writeBody(w io.Writer, body string) {
	if body == "" {
		fmt.Fprintln(w, "  (no body)")
		return
	}
	fmt.Fprintln(w)
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// firstLine drops Lua stack tracebacks from an error message.
func firstLine(s string) string {
	if i := strings.Index(s, "\nstack traceback:"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "\n", " ")
}
