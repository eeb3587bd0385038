package declarative

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// rec wraps one decoded map (an entity or a nested record) with its path,
// and records errors on the loader as fields are read.
type rec struct {
	l    *loader
	m    map[string]any
	path string
}

func (r *rec) at(key string) string {
	if r.path == "" {
		return key
	}
	return r.path + "." + key
}

func (r *rec) err(key, msg string) { r.l.add(r.at(key), msg) }

func (r *rec) entityErr(msg string) { r.l.add(r.path, msg) }

// checkKeys reports every key that is not in allowed as "unknown field";
// _comment and _ignore are accepted everywhere.
func (r *rec) checkKeys(allowed map[string]bool) {
	for k, v := range r.m {
		if allowed[k] {
			continue
		}
		switch k {
		case "_comment":
			if _, ok := v.(string); !ok && v != nil {
				r.err(k, "expected a string")
			}
		case "_ignore":
			if _, ok := v.([]any); !ok && v != nil {
				r.err(k, "expected an array")
			}
		default:
			r.err(k, "unknown field")
		}
	}
}

// has reports whether key is present and not null.
func (r *rec) has(key string) bool {
	v, ok := r.m[key]
	return ok && v != nil
}

func (r *rec) str(key string) (string, bool) {
	v, ok := r.m[key]
	if !ok || v == nil {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		r.err(key, "expected a string")
		return "", false
	}
	if s == "" {
		r.err(key, "length must be at least 1")
		return "", false
	}
	return s, true
}

// required reads a string that must be present.
func (r *rec) required(key string) (string, bool) {
	if !r.has(key) {
		r.err(key, "required field missing")
		return "", false
	}
	return r.str(key)
}

func (r *rec) enum(key string, allowed []string) (string, bool) {
	s, ok := r.str(key)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	r.err(key, "expected one of: "+strings.Join(allowed, ", "))
	return "", false
}

// toInt converts a decoded number to an integer.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return 0, false
		}
		return int64(f), true
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<62 {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func (r *rec) integer(key string, lo, hi int64) (int64, bool) {
	v, ok := r.m[key]
	if !ok || v == nil {
		return 0, false
	}
	n, ok := toInt(v)
	if !ok {
		r.err(key, "expected an integer")
		return 0, false
	}
	if n < lo || n > hi {
		r.err(key, "value should be between "+strconv.FormatInt(lo, 10)+" and "+strconv.FormatInt(hi, 10))
		return 0, false
	}
	return n, true
}

func (r *rec) number(key string) (float64, bool) {
	v, ok := r.m[key]
	if !ok || v == nil {
		return 0, false
	}
	n, ok := toFloat(v)
	if !ok {
		r.err(key, "expected a number")
		return 0, false
	}
	return n, true
}

func (r *rec) boolean(key string, def bool) bool {
	v, ok := r.m[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		r.err(key, "expected a boolean")
		return def
	}
	return b
}

func (r *rec) optBool(key string) *bool {
	v, ok := r.m[key]
	if !ok || v == nil {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		r.err(key, "expected a boolean")
		return nil
	}
	return &b
}

// strList reads an array (or set) of non-empty strings, running check on
// each element. Invalid elements are reported and left out.
func (r *rec) strList(key string, set bool, check func(string) string) ([]string, bool) {
	v, ok := r.m[key]
	if !ok || v == nil {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		if set {
			r.err(key, "expected a set")
		} else {
			r.err(key, "expected an array")
		}
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		switch {
		case !ok:
			r.l.add(r.at(key)+"["+strconv.Itoa(i)+"]", "expected a string")
			continue
		case s == "":
			r.l.add(r.at(key)+"["+strconv.Itoa(i)+"]", "length must be at least 1")
			continue
		}
		if check != nil {
			if msg := check(s); msg != "" {
				r.l.add(r.at(key)+"["+strconv.Itoa(i)+"]", msg)
				continue
			}
		}
		if set && containsStr(out, s) {
			continue
		}
		out = append(out, s)
	}
	return out, true
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *rec) tags() []string {
	t, _ := r.strList("tags", true, tagError)
	return t
}

// name reads a name-typed field (typedefs.utf8_name).
func (r *rec) name(key string) string {
	s, ok := r.str(key)
	if !ok {
		return ""
	}
	if msg := nameError(s); msg != "" {
		r.err(key, msg)
		return ""
	}
	return s
}

// id reads an optional uuid.
func (r *rec) id() string {
	s, ok := r.str("id")
	if !ok {
		return ""
	}
	if !isUUID(s) {
		r.err("id", "expected a valid UUID")
		return ""
	}
	return strings.ToLower(s)
}

func (r *rec) timestamp(key string, def int64) int64 {
	if n, ok := r.integer(key, 0, math.MaxInt64); ok {
		return n
	}
	return def
}

// children returns the records of a nested entity list (services[0].routes).
func (r *rec) children(key string) []*rec {
	v, ok := r.m[key]
	if !ok || v == nil {
		return nil
	}
	return r.l.list(v, r.at(key))
}

// mustBeNull reports each listed key that is set to a non-null value.
func (r *rec) mustBeNull(keys ...string) {
	for _, k := range keys {
		if r.has(k) {
			r.err(k, "value must be null")
		}
	}
}

// nonEmpty reports whether key holds a non-empty value.
func (r *rec) nonEmpty(key string) bool {
	switch v := r.m[key].(type) {
	case nil:
		return false
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	case string:
		return v != ""
	}
	return true
}

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
