package declarative

import (
	"encoding/json"
	"strconv"
)

// field is one field of a small nested-record schema (used for upstream
// healthchecks). Values are stored with numbers as json.Number.
type field struct {
	name   string
	kind   byte // 'i' integer, 'n' number, 'b' boolean, 'e' enum, 's' string, 'l' integer list, 'h' headers, 'r' record
	lo, hi float64
	def    any
	enum   []string
	sub    []field
}

func numList(ns ...int) []any {
	out := make([]any, len(ns))
	for i, n := range ns {
		out[i] = json.Number(strconv.Itoa(n))
	}
	return out
}

func rangeList(lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

var healthchecksSchema = []field{
	{name: "active", kind: 'r', sub: []field{
		{name: "type", kind: 'e', enum: []string{"tcp", "http", "https", "grpc", "grpcs"}, def: "http"},
		{name: "timeout", kind: 'n', lo: 0, hi: 65535, def: json.Number("1")},
		{name: "concurrency", kind: 'i', lo: 1, hi: 1<<31 - 1, def: json.Number("10")},
		{name: "http_path", kind: 's', def: "/"},
		{name: "https_sni", kind: 's'},
		{name: "https_verify_certificate", kind: 'b', def: true},
		{name: "headers", kind: 'h'},
		{name: "healthy", kind: 'r', sub: []field{
			{name: "interval", kind: 'n', lo: 0, hi: 65535, def: json.Number("0")},
			{name: "http_statuses", kind: 'l', lo: 200, hi: 999, def: numList(200, 302)},
			{name: "successes", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
		}},
		{name: "unhealthy", kind: 'r', sub: []field{
			{name: "interval", kind: 'n', lo: 0, hi: 65535, def: json.Number("0")},
			{name: "http_statuses", kind: 'l', lo: 200, hi: 999, def: numList(429, 404, 500, 501, 502, 503, 504, 505)},
			{name: "tcp_failures", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
			{name: "timeouts", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
			{name: "http_failures", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
		}},
	}},
	{name: "passive", kind: 'r', sub: []field{
		{name: "type", kind: 'e', enum: []string{"tcp", "http", "https", "grpc", "grpcs"}, def: "http"},
		{name: "healthy", kind: 'r', sub: []field{
			{name: "http_statuses", kind: 'l', lo: 200, hi: 999,
				def: numList(append(append(rangeList(200, 208), 226), rangeList(300, 308)...)...)},
			{name: "successes", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
		}},
		{name: "unhealthy", kind: 'r', sub: []field{
			{name: "http_statuses", kind: 'l', lo: 200, hi: 999, def: numList(429, 500, 503)},
			{name: "tcp_failures", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
			{name: "timeouts", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
			{name: "http_failures", kind: 'i', lo: 0, hi: 255, def: json.Number("0")},
		}},
	}},
	{name: "threshold", kind: 'n', lo: 0, hi: 100, def: json.Number("0")},
}

// record validates r.m[key] against fields and returns it with defaults
// filled in (a fresh map; the input is not modified).
func (l *loader) record(r *rec, key string, fields []field) map[string]any {
	v, ok := r.m[key]
	var m map[string]any
	if ok && v != nil {
		m, ok = v.(map[string]any)
		if !ok {
			r.err(key, "expected a record")
			m = nil
		}
	}
	sub := &rec{l: l, m: m, path: r.at(key)}
	if m == nil {
		sub.m = map[string]any{}
	}
	allowed := make(map[string]bool, len(fields))
	for _, f := range fields {
		allowed[f.name] = true
	}
	sub.checkKeys(allowed)
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if f.kind == 'r' {
			out[f.name] = l.record(sub, f.name, f.sub)
			continue
		}
		val := f.def
		if d, ok := val.([]any); ok {
			val = append([]any(nil), d...)
		}
		if sub.has(f.name) {
			switch f.kind {
			case 'i':
				if n, ok := sub.integer(f.name, int64(f.lo), int64(f.hi)); ok {
					val = json.Number(strconv.FormatInt(n, 10))
				}
			case 'n':
				if n, ok := sub.number(f.name); ok {
					if n < f.lo || n > f.hi {
						sub.err(f.name, "value should be between "+strconv.FormatFloat(f.lo, 'f', -1, 64)+" and "+strconv.FormatFloat(f.hi, 'f', -1, 64))
					} else {
						val = sub.m[f.name]
					}
				}
			case 'b':
				val = sub.boolean(f.name, f.def == true)
			case 'e':
				if s, ok := sub.enum(f.name, f.enum); ok {
					val = s
				}
			case 's':
				if s, ok := sub.str(f.name); ok {
					val = s
				}
			case 'l':
				val = l.intList(sub, f)
			case 'h':
				hm, ok := sub.m[f.name].(map[string]any)
				if !ok {
					sub.err(f.name, "expected a map")
					break
				}
				hs := &rec{l: l, m: hm, path: sub.at(f.name)}
				cp := make(map[string]any, len(hm))
				for _, k := range sortedKeys(hm) {
					if vals, ok := hs.strList(k, false, nil); ok {
						cp[k] = toAnyList(vals)
					}
				}
				val = cp
			}
		}
		out[f.name] = val
	}
	return out
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (l *loader) intList(r *rec, f field) any {
	arr, ok := r.m[f.name].([]any)
	if !ok {
		r.err(f.name, "expected an array")
		return f.def
	}
	out := make([]any, 0, len(arr))
	for i, e := range arr {
		p := r.at(f.name) + "[" + strconv.Itoa(i) + "]"
		n, ok := toInt(e)
		if !ok {
			l.add(p, "expected an integer")
			continue
		}
		if float64(n) < f.lo || float64(n) > f.hi {
			l.add(p, "value should be between "+strconv.FormatFloat(f.lo, 'f', -1, 64)+" and "+strconv.FormatFloat(f.hi, 'f', -1, 64))
			continue
		}
		out = append(out, json.Number(strconv.FormatInt(n, 10)))
	}
	return out
}
