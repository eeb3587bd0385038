package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"luagate/declarative"
	"luagate/gateway"
)

//go:embed init.yml
var initTemplate []byte

const configUsage = `Usage: luagate config COMMAND [OPTIONS]

Commands:
  parse FILE [--format text|json]
                 validate FILE as luagate/Kong would load it; prints 'parse successful'
                 or every error with its place (file:line: path: message), exit 1;
                 --format json prints {"ok":true} or [{file,line,path,message}]
  diff OLD NEW   what deploying NEW over OLD changes, entity by entity;
                 exit 0 when equal, 2 when different, 1 on error
  hash FILE      the configuration_hash /status will report once FILE is deployed
  init [FILE]    write a commented example to FILE (default ./kong.yml); never overwrites
`

func cmdConfig(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 1
	}
	switch args[0] {
	case "parse":
		return cmdConfigParse(args[1:], stdout, stderr, getenv)
	case "init":
		return cmdConfigInit(args[1:], stdout, stderr)
	case "diff":
		return cmdConfigDiff(args[1:], stdout, stderr, getenv)
	case "hash":
		return cmdConfigHash(args[1:], stdout, stderr, getenv)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "Error: unknown config command %q\n\n%s", args[0], configUsage)
		return 1
	}
}

func cmdConfigParse(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("config parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text, or json for machines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		return fail(stderr, "expected a declarative configuration file; see `luagate config --help`")
	}
	switch *format {
	case "text":
	case "json":
		return configParseJSON(pos[0], stdout, getenv)
	default:
		return fail(stderr, "--format %q is not text or json", *format)
	}
	settings, err := gateway.SettingsFromEnv(getenv)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	path := pos[0]
	cfg, err := declarative.LoadFile(path, gateway.Registry(settings))
	if err != nil {
		fmt.Fprintf(stderr, "Error: Failed parsing:\n%s\n", declarative.FormatText(err))
		return 1
	}
	// Compile every Lua function as the gateway would, so a parse that
	// succeeds here never fails at start.
	if err := gateway.Check(cfg, settings); err != nil {
		fmt.Fprintf(stderr, "Error: Failed parsing:\n%s\n", declarative.FormatText(err))
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	fmt.Fprintln(stdout, "parse successful")
	return 0
}

func cmdConfigInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	path := "kong.yml"
	if fs.NArg() > 0 {
		path = fs.Arg(0)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	// O_EXCL: never overwrite, even if the file appears between check and write.
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fail(stderr, "%s already exists.\nWill not overwrite it.", abs)
	}
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if _, err := f.Write(initTemplate); err != nil {
		f.Close()
		os.Remove(abs)
		return fail(stderr, "writing %s: %v", abs, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(abs)
		return fail(stderr, "writing %s: %v", abs, err)
	}
	return 0
}
