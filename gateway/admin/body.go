package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// A request body as Kong's Admin API reads it: JSON, form-urlencoded
// (name=x&config.access[1]=...&paths[]=/a&service.id=...) or multipart.

// body is a decoded entity body.
type body struct {
	fields map[string]any
	// form is true when the values came from a form (all strings): the
	// writer may coerce them to the types validation asks for.
	form bool
}

func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// readEntityBody decodes a request body into fields.
func readEntityBody(r *http.Request) (*body, error) {
	switch mt := mediaType(r); mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		vals, files, err := readForm(r, mt)
		if err != nil {
			return nil, err
		}
		for k, v := range files {
			vals[k] = append(vals[k], v)
		}
		return &body{fields: decodeForm(vals), form: true}, nil
	default:
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			return &body{fields: map[string]any{}}, nil
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, errMsg(400, "Cannot parse JSON body")
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errMsg(400, "Cannot parse JSON body")
		}
		return &body{fields: m}, nil
	}
}

// readForm reads an urlencoded or multipart body; file parts are returned
// by field name with their content.
func readForm(r *http.Request, mt string) (url.Values, map[string]string, error) {
	if mt == "multipart/form-data" {
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, err
			}
			return nil, nil, errMsg(400, "Cannot parse multipart body: "+err.Error())
		}
		files := map[string]string{}
		if r.MultipartForm != nil {
			for name, fhs := range r.MultipartForm.File {
				for _, fh := range fhs {
					f, err := fh.Open()
					if err != nil {
						return nil, nil, err
					}
					b, err := io.ReadAll(f)
					f.Close()
					if err != nil {
						return nil, nil, err
					}
					files[name] = string(b)
				}
			}
		}
		vals := url.Values{}
		for k, v := range r.MultipartForm.Value {
			vals[k] = v
		}
		return vals, files, nil
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, err
	}
	vals, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, nil, errMsg(400, "Cannot parse form body: "+err.Error())
	}
	return vals, nil, nil
}

// formSeg is one step of a form key: a field name, an index (1-based as
// Kong writes them) or an append ("[]").
type formSeg struct {
	key    string
	index  int // >0: list index
	append bool
}

// parseFormKey splits "config.access[1]" into config, access, [1].
func parseFormKey(k string) []formSeg {
	var segs []formSeg
	for _, part := range strings.Split(k, ".") {
		name := part
		var rest string
		if i := strings.IndexByte(part, '['); i >= 0 {
			name, rest = part[:i], part[i:]
		}
		if name != "" {
			segs = append(segs, formSeg{key: name})
		}
		for strings.HasPrefix(rest, "[") {
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				break
			}
			inner := rest[1:j]
			rest = rest[j+1:]
			switch n, err := strconv.Atoi(inner); {
			case inner == "":
				segs = append(segs, formSeg{append: true})
			case err == nil && n >= 0:
				segs = append(segs, formSeg{index: n + 1}) // keep 0 usable: order only
			default:
				segs = append(segs, formSeg{key: inner})
			}
		}
	}
	return segs
}

// formList collects list items by index until decodeForm compacts them.
type formList struct {
	byIndex  map[int]any
	appended []any
}

// decodeForm turns form values into nested fields the way Kong's
// arguments decoder does: dotted keys nest, [n] and [] build lists, a
// repeated plain key becomes a list, an empty value is null.
func decodeForm(vals url.Values) map[string]any {
	root := map[string]any{}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		segs := parseFormKey(k)
		if len(segs) == 0 {
			continue
		}
		vs := vals[k]
		for _, v := range vs {
			var val any = v
			if v == "" && !segs[len(segs)-1].append && segs[len(segs)-1].index == 0 {
				val = nil
			}
			plain := len(vs) > 1 && segs[len(segs)-1].key != ""
			setForm(root, segs, val, plain)
		}
	}
	return finishForm(root).(map[string]any)
}

func setForm(cur any, segs []formSeg, val any, repeated bool) {
	for i, s := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			key := s.key
			if key == "" {
				key = strconv.Itoa(s.index)
			}
			if last {
				if repeated {
					l, _ := c[key].(*formList)
					if l == nil {
						l = &formList{byIndex: map[int]any{}}
						c[key] = l
					}
					l.appended = append(l.appended, val)
					return
				}
				c[key] = val
				return
			}
			next := c[key]
			if segs[i+1].key == "" { // next is an index: a list
				if _, ok := next.(*formList); !ok {
					next = &formList{byIndex: map[int]any{}}
					c[key] = next
				}
			} else if _, ok := next.(map[string]any); !ok {
				next = map[string]any{}
				c[key] = next
			}
			cur = next
		case *formList:
			if last {
				if s.append {
					c.appended = append(c.appended, val)
				} else {
					c.byIndex[s.index] = val
				}
				return
			}
			var next any
			if s.append {
				next = map[string]any{}
				if segs[i+1].key == "" {
					next = &formList{byIndex: map[int]any{}}
				}
				c.appended = append(c.appended, next)
			} else {
				next = c.byIndex[s.index]
				if next == nil {
					next = map[string]any{}
					if segs[i+1].key == "" {
						next = &formList{byIndex: map[int]any{}}
					}
					c.byIndex[s.index] = next
				}
			}
			cur = next
		default:
			return
		}
	}
}

func finishForm(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = finishForm(e)
		}
		return x
	case *formList:
		idx := make([]int, 0, len(x.byIndex))
		for i := range x.byIndex {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		out := make([]any, 0, len(idx)+len(x.appended))
		for _, i := range idx {
			out = append(out, finishForm(x.byIndex[i]))
		}
		for _, e := range x.appended {
			out = append(out, finishForm(e))
		}
		return out
	}
	return v
}

// Entity fields whose form strings are converted before validation.
var (
	intFields = map[string]bool{
		"port": true, "retries": true, "connect_timeout": true, "write_timeout": true, "read_timeout": true,
		"tls_verify_depth": true, "https_redirect_status_code": true, "regex_priority": true, "weight": true,
		"slots": true,
	}
	boolFields = map[string]bool{
		"enabled": true, "tls_verify": true, "strip_path": true, "preserve_host": true,
		"request_buffering": true, "response_buffering": true, "use_srv_name": true,
	}
	listFields = map[string]bool{
		"protocols": true, "methods": true, "hosts": true, "paths": true, "snis": true, "tags": true,
		"ca_certificates": true,
	}
	// functionPhases are the list fields of the Lua function plugins' config.
	functionPhases = map[string]bool{
		"certificate": true, "rewrite": true, "access": true, "header_filter": true, "body_filter": true,
		"log": true, "ws_handshake": true, "ws_client_frame": true, "ws_upstream_frame": true, "ws_close": true,
	}
)

// coerceForm converts the top-level form strings of an entity to the types
// of Kong's schema (numbers, booleans, lists), and the function phases of
// the Lua plugins to lists.
func coerceForm(kind string, f map[string]any) {
	for k, v := range f {
		s, isStr := v.(string)
		switch {
		case intFields[k] && isStr:
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				f[k] = json.Number(strconv.FormatInt(n, 10))
			}
		case boolFields[k] && isStr:
			if b, ok := parseBool(s); ok {
				f[k] = b
			}
		case listFields[k] && isStr:
			f[k] = []any{s}
		case k == "headers":
			if m, ok := v.(map[string]any); ok {
				for hk, hv := range m {
					if s, ok := hv.(string); ok {
						m[hk] = []any{s}
					}
				}
			}
		}
	}
	if kind == "plugins" {
		if cfg, ok := f["config"].(map[string]any); ok {
			for k, v := range cfg {
				if s, ok := v.(string); ok && functionPhases[k] {
					cfg[k] = []any{s}
				}
			}
		}
	}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1", "on", "yes":
		return true, true
	case "false", "0", "off", "no":
		return false, true
	}
	return false, false
}
