// Command luagate is a DB-less, Kong-compatible API gateway driven by one
// declarative kong.yml. Subcommands follow Kong's CLI:
//
//	luagate start [-c kong.yml] [--proxy-listen ...] [--admin-listen ...] [--status-listen ...] [--log-level ...]
//	luagate config parse FILE
//	luagate config diff OLD NEW
//	luagate config hash FILE
//	luagate config init [FILE]
//	luagate request [-c kong.yml] METHOD PATH [-H 'Name: value' ...] [-d BODY]
//	luagate lint FILE
//	luagate health [--status-listen ADDR]
//	luagate version
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `Usage: luagate COMMAND [OPTIONS]

A DB-less, Kong-compatible API gateway driven by one declarative kong.yml.

Commands:
  start          start the gateway on a declarative config (kong.yml)
  config parse   validate a declarative config file and print every error
  config diff    what deploying a new kong.yml changes, entity by entity
  config hash    the configuration_hash /status will report for a kong.yml
  config init    write a commented example kong.yml
  request        dry-run one request through a kong.yml (no server, no network)
  lint           warnings parse does not give (PDK names, shadowed routes, ...)
  health         ask a running gateway's status listener whether it is ready
  version        print the version

Run 'luagate COMMAND --help' for a command's options.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run dispatches a command line; it returns the process exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch args[0] {
	case "start":
		return cmdStart(args[1:], stdout, stderr, getenv)
	case "config":
		return cmdConfig(args[1:], stdout, stderr, getenv)
	case "request":
		return cmdRequest(args[1:], stdout, stderr, getenv)
	case "lint":
		return cmdLint(args[1:], stdout, stderr, getenv)
	case "health":
		return cmdHealth(args[1:], stdout, stderr, getenv)
	case "version", "--version", "-v":
		return cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "Error: unknown command %q\n\n%s", args[0], usage)
		return 1
	}
}

// fail prints an error the way Kong's CLI does and returns exit code 1.
func fail(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "Error: "+format+"\n", a...)
	return 1
}
