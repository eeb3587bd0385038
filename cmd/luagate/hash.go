package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"luagate/declarative"
	"luagate/gateway"
)

const hashUsage = `Usage: luagate config hash FILE

Print the configuration_hash GET /status will report once FILE is deployed
(Kong's MD5 of the text, plus every referenced .lua file). The file is
validated as 'config parse' does; an invalid one prints its errors, exit 1.
`

func cmdConfigHash(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("config hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, hashUsage) }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		return fail(stderr, "expected one declarative configuration file; see `luagate config hash --help`")
	}
	cfg, _, err := loadChecked(pos[0], getenv)
	if err != nil {
		fmt.Fprintf(stderr, "Error: Failed parsing:\n%s\n", declarative.FormatText(err))
		return 1
	}
	fmt.Fprintln(stdout, cfg.Hash)
	return 0
}

// loadChecked loads FILE and compiles it as the gateway would (the same
// steps as `config parse`), with the KONG_* settings of the environment.
func loadChecked(path string, getenv func(string) string) (*declarative.Config, gateway.Settings, error) {
	settings, err := gateway.SettingsFromEnv(getenv)
	if err != nil {
		return nil, settings, err
	}
	cfg, err := declarative.LoadFile(path, gateway.Registry(settings))
	if err != nil {
		return nil, settings, err
	}
	if err := gateway.Check(cfg, settings); err != nil {
		return nil, settings, err
	}
	return cfg, settings, nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments ("FILE --format json"); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagExit is the exit code of a flag parsing error: 0 for -h.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// jsonError is one error of `config parse --format json`.
type jsonError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// jsonErrors turns a load or check error into its JSON form.
func jsonErrors(file string, err error) []jsonError {
	var ve *declarative.ValidationError
	if errors.As(err, &ve) {
		out := make([]jsonError, 0, len(ve.Errors))
		name := ve.File
		if name == "" {
			name = file
		}
		for _, fe := range ve.Errors {
			out = append(out, jsonError{File: name, Line: fe.Line, Path: fe.Path, Message: fe.Message})
		}
		return out
	}
	var out []jsonError
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, jsonError{File: file, Message: line})
		}
	}
	return out
}

// writeJSON prints v indented, with a final newline.
func writeJSON(w io.Writer, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Write(append(b, '\n'))
}

// configParseJSON is `config parse FILE --format json`: {"ok":true} (with
// "warnings" when there are some) and exit 0, or the error list and exit 1,
// always on stdout.
func configParseJSON(path string, stdout io.Writer, getenv func(string) string) int {
	cfg, _, err := loadChecked(path, getenv)
	if err != nil {
		writeJSON(stdout, jsonErrors(path, err))
		return 1
	}
	out := map[string]any{"ok": true}
	if len(cfg.Warnings) > 0 {
		out["warnings"] = cfg.Warnings
	}
	writeJSON(stdout, out)
	return 0
}

// flag2 is a FlagSet that prints usage to stderr on -h and errors.
func flag2(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		if n := countFlags(fs); n > 0 {
			fmt.Fprintln(stderr, "\nOptions:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func countFlags(fs *flag.FlagSet) int {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n
}
