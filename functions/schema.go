package functions

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"luagate/declarative"
	"luagate/lualib"
)

// Plugin names and priorities (spec 1.1, 1.3; DECISIONS row 1).
const (
	PreFunction         = "pre-function"
	PostFunction        = "post-function"
	ServerlessFunctions = "serverless-functions"

	PreFunctionPriority  = 1000000
	PostFunctionPriority = -1000
)

// phaseFields are the config fields in Kong's order, with their phases.
var phaseFields = [...]struct {
	name  string
	phase lualib.Phase
}{
	{"certificate", lualib.PhaseCertificate},
	{"rewrite", lualib.PhaseRewrite},
	{"access", lualib.PhaseAccess},
	{"header_filter", lualib.PhaseHeaderFilter},
	{"body_filter", lualib.PhaseBodyFilter},
	{"log", lualib.PhaseLog},
}

// legacyField is the 2.x name of access (spec 1.1), accepted as an alias.
const legacyField = "functions"

const (
	msgAtLeastOne = "at least one of these fields must be non-empty: 'config.certificate', " +
		"'config.rewrite', 'config.access', 'config.header_filter', 'config.body_filter', 'config.log'"
	msgExclusive = "these sets are mutually exclusive: ('config.functions'), ('config.access')"
	msgOff       = "loading of untrusted Lua code disabled because 'untrusted_lua' config option is set to 'off'"
)

// Config is the typed config of one Lua plugin instance, stored in
// declarative.Plugin.Config. It is read-only after validation.
type Config struct {
	Plugin    string      // plugin name as written
	Functions []*Function // every function, by phase (Kong's order), then array order
	phases    lualib.Phase
}

// Phases is the mask of phases that have at least one function.
func (c *Config) Phases() lualib.Phase { return c.phases }

// Function is one compiled entry of a phase array.
type Function struct {
	Phase lualib.Phase
	Field string // config field it came from: "access", "functions", ...
	Index int    // 0-based index in that array
	Name  string // chunk name: [string "..."] or the file path as written
	File  string // the path as written for a file entry, "" for inline source
	Proto *lua.FunctionProto
}

// Kinds returns the plugin kinds this package implements, for the gateway's
// registry: pre-function (1000000), post-function (-1000),
// serverless-functions (1000000). Their schemas compile every Lua entry
// (inline source or a .lua file path, DECISIONS row 2) and store a *Config in
// declarative.Plugin.Config.
func Kinds(s Settings) []declarative.PluginKind {
	mode, log := s.UntrustedLua, s.Logger
	return []declarative.PluginKind{
		{Name: PreFunction, Priority: PreFunctionPriority, Schema: schema{PreFunction, mode, log}, NoConsumer: true},
		{Name: PostFunction, Priority: PostFunctionPriority, Schema: schema{PostFunction, mode, log}, NoConsumer: true},
		{Name: ServerlessFunctions, Priority: PreFunctionPriority, Schema: schema{ServerlessFunctions, mode, log}, NoConsumer: true},
	}
}

// schema validates and compiles the config of one Lua plugin kind.
type schema struct {
	name string // kind name, used in "error parsing <name>: ..."
	mode string // untrusted_lua
	log  *slog.Logger
}

// Validate checks the config, fills the phase defaults ({}) into cfg and
// returns a *Config with every entry compiled (never run).
func (sc schema) Validate(cfg map[string]any, env *declarative.PluginEnv) (any, []*declarative.FieldError) {
	var errs []*declarative.FieldError
	fail := func(path, msg string) {
		errs = append(errs, &declarative.FieldError{Path: path, Message: msg})
	}
	if mode := sc.mode; mode != "" && mode != "on" && mode != "off" && mode != "sandbox" {
		fail("", fmt.Sprintf("untrusted_lua has an invalid value: %q", mode))
		return nil, errs
	}
	name := sc.name
	if env != nil && env.Name != "" {
		name = env.Name
	}
	out := &Config{Plugin: name}

	known := map[string]bool{legacyField: true}
	for _, f := range phaseFields {
		known[f.name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		if !known[k] {
			fail(k, "unknown field")
		}
	}

	nonEmpty := func(field string) bool {
		a, ok := cfg[field].([]any)
		return ok && len(a) > 0
	}
	if nonEmpty(legacyField) {
		if nonEmpty("access") {
			fail("", msgExclusive)
		} else if sc.log != nil {
			sc.log.Warn(fmt.Sprintf("[%s] 'config.functions' will be deprecated in favour of 'config.access'", name))
		}
	}

	found := false
	for _, f := range phaseFields {
		fields := []string{f.name}
		if f.name == "access" {
			fields = []string{legacyField, "access"}
		}
		for _, field := range fields {
			v, present := cfg[field]
			if !present || v == nil {
				continue
			}
			arr, ok := v.([]any)
			if !ok {
				fail(field, "expected an array")
				continue
			}
			for i, e := range arr {
				path := field + "[" + strconv.Itoa(i) + "]"
				src, ok := e.(string)
				if !ok {
					fail(path, "expected a string")
					continue
				}
				found = true
				fn, msg := sc.compileEntry(name, src, env)
				if msg != "" {
					fail(path, msg)
					continue
				}
				fn.Phase, fn.Field, fn.Index = f.phase, field, i
				out.Functions = append(out.Functions, fn)
				out.phases |= f.phase
			}
		}
	}
	if !found && !hasTypeError(errs) {
		fail("", msgAtLeastOne)
	}
	if sc.mode == "off" && found {
		fail("", fmt.Sprintf("plugin '%s' cannot run: %s", name, msgOff))
	}
	if cfg != nil {
		for _, f := range phaseFields {
			if _, ok := cfg[f.name]; !ok {
				cfg[f.name] = []any{}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// hasTypeError reports a wrong-typed phase field: Kong does not run the
// entity checks then.
func hasTypeError(errs []*declarative.FieldError) bool {
	for _, e := range errs {
		if e.Path != "" && e.Message != "unknown field" {
			return true
		}
	}
	return false
}

// compileEntry compiles one array element: inline source, or a .lua path
// read through env.ReadFile. It returns the error message for the element.
func (sc schema) compileEntry(plugin, entry string, env *declarative.PluginEnv) (*Function, string) {
	name, src, file := chunkID(entry), entry, ""
	if isFilePath(entry) {
		data, err := readFile(env, entry)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Sprintf("file '%s' not found", entry)
		}
		if err != nil {
			return nil, fmt.Sprintf("file '%s' cannot be read: %v", entry, unwrapPathError(err))
		}
		name, src, file = entry, string(data), entry
	}
	proto, err := compileChunk(src, name)
	if err != nil {
		return nil, "error parsing " + plugin + ": " + err.Error()
	}
	return &Function{Name: name, File: file, Proto: proto}, ""
}

func readFile(env *declarative.PluginEnv, path string) ([]byte, error) {
	if env != nil && env.ReadFile != nil {
		return env.ReadFile(path)
	}
	if env != nil && env.Dir != "" && !filepath.IsAbs(path) {
		path = filepath.Join(env.Dir, path)
	}
	return os.ReadFile(path)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
