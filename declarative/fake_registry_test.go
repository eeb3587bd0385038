package declarative

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fakeRegistry knows "pre-function" (schema below), "key-auth" (no schema)
// and "no-consumer" (cannot be scoped to a consumer).
type fakeRegistry struct{}

func (fakeRegistry) Lookup(name string) (PluginKind, bool) {
	switch name {
	case "pre-function", "serverless-functions":
		return PluginKind{Name: name, Priority: 1000000, Schema: preFunctionSchema{}}, true
	case "key-auth":
		return PluginKind{Name: name, Priority: 1250}, true
	case "any-config":
		return PluginKind{Name: name, Priority: 1, Schema: anySchema{}}, true
	case "no-consumer":
		return PluginKind{Name: name, Priority: 10, Schema: preFunctionSchema{}, NoConsumer: true}, true
	}
	return PluginKind{}, false
}

// anySchema accepts every config and returns it as the typed config.
type anySchema struct{}

func (anySchema) Validate(cfg map[string]any, _ *PluginEnv) (any, []*FieldError) { return cfg, nil }

// preFunctionSchema is a stand-in for the Lua schema: phases are lists of
// strings; an entry ending in ".lua" is read through env.ReadFile; a key
// "bad" is rejected; defaults add an empty "access" list.
type preFunctionSchema struct{}

var phases = map[string]bool{"access": true, "header_filter": true, "body_filter": true, "log": true, "rewrite": true, "certificate": true}

func (preFunctionSchema) Validate(cfg map[string]any, env *PluginEnv) (any, []*FieldError) {
	var errs []*FieldError
	var files []string
	// Keys in sorted order (the real schema reads phases in a fixed order):
	// map order would make the files, and so the hash, random.
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		v := cfg[k]
		switch {
		case k == "bad":
			errs = append(errs, &FieldError{Path: "bad", Message: "unknown field"})
		case k == "whole":
			errs = append(errs, &FieldError{Message: "config rejected as a whole"})
		case phases[k]:
			list, ok := v.([]any)
			if !ok {
				errs = append(errs, &FieldError{Path: k, Message: "expected an array"})
				continue
			}
			for i, e := range list {
				s, ok := e.(string)
				if !ok {
					errs = append(errs, &FieldError{Path: k + "[" + itoa(i) + "]", Message: "expected a string"})
					continue
				}
				if strings.HasSuffix(s, ".lua") && !strings.ContainsAny(s, " \n\t") {
					if _, err := env.ReadFile(s); err != nil {
						errs = append(errs, &FieldError{Path: k + "[" + itoa(i) + "]", Message: "file '" + s + "' not found"})
						continue
					}
					files = append(files, s)
				}
			}
		default:
			errs = append(errs, &FieldError{Path: k, Message: "unknown field"})
		}
	}
	if cfg != nil {
		if _, ok := cfg["access"]; !ok {
			cfg["access"] = []any{}
		}
	}
	return files, errs
}

func itoa(i int) string { return strconv.Itoa(i) }

// testOptions pins time and randomness so output is stable.
func testOptions(name, dir string) Options {
	return Options{
		Filename: name,
		Dir:      dir,
		Registry: fakeRegistry{},
		Now:      func() time.Time { return time.Unix(1700000000, 0) },
		Rand:     rand.NewChaCha8([32]byte{1, 2, 3}),
	}
}
