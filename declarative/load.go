package declarative

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	sigsyaml "sigs.k8s.io/yaml"
)

// Options tell Load where the text came from and which plugins exist.
type Options struct {
	// Filename is used in messages and to pick the decoder by extension
	// (".json" → JSON, ".yml"/".yaml" → YAML; "" → try JSON, then YAML).
	Filename string
	// Dir is the folder relative Lua file paths resolve against
	// (normally filepath.Dir of the kong.yml path).
	Dir string
	// Registry knows the plugin kinds; nil accepts no plugins.
	Registry Registry
	// Now gives created_at/updated_at for entities that do not set them
	// (nil: time.Now). Tests pin it for stable output.
	Now func() time.Time
	// Rand is the source of random (v4) ids for entities that have neither
	// an id nor a deterministic key (nil: crypto/rand). Tests pin it.
	Rand io.Reader
}

// EmptyConfigHash is Kong's DECLARATIVE_EMPTY_CONFIG_HASH.
const EmptyConfigHash = "00000000000000000000000000000000"

// Load parses and validates a declarative config. On failure the error is a
// *ValidationError carrying every problem found, each with its path and line.
func Load(data []byte, opts Options) (*Config, error) {
	root, ferr := decode(data, opts.Filename)
	if ferr != nil {
		return nil, &ValidationError{File: opts.Filename, Errors: []*FieldError{ferr}}
	}
	l := newLoader(data, opts)
	l.run(root)
	if len(l.errs) > 0 {
		li := newLineIndex(data)
		for _, e := range l.errs {
			e.Line = li.line(e.Path)
		}
		sortErrors(l.errs)
		return nil, &ValidationError{File: opts.Filename, Errors: l.errs}
	}
	l.cfg.Hash = l.hash()
	return l.cfg, nil
}

// LoadFile reads path and calls Load with Filename and Dir set from it.
func LoadFile(path string, reg Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(data, Options{Filename: path, Dir: filepath.Dir(path), Registry: reg})
}

func parseError(msg string, line int) *FieldError {
	return &FieldError{Line: line, Message: "failed parsing declarative configuration: " + msg}
}

var yamlLineRe = regexp.MustCompile(`line (\d+): `)

// decode turns the text into a map, numbers as json.Number.
func decode(data []byte, filename string) (map[string]any, *FieldError) {
	ext := strings.ToLower(filepath.Ext(filename))
	if filename != "" && ext != ".json" && ext != ".yml" && ext != ".yaml" {
		return nil, &FieldError{Message: "unknown file type: " + filename + ". (Accepted types: json, yaml)"}
	}
	var v any
	if ext == ".json" || filename == "" {
		jerr := decodeJSON(data, &v)
		if jerr == nil {
			return asObject(v)
		}
		if ext == ".json" {
			return nil, jerr
		}
	}
	err := sigsyaml.UnmarshalStrict(data, &v, func(d *json.Decoder) *json.Decoder {
		d.UseNumber()
		return d
	})
	if err != nil {
		return nil, yamlError(data, err)
	}
	return asObject(v)
}

// yamlError turns a parser error into a FieldError with its line. When the
// YAML 1.1 parser gives no line, the YAML node parser is asked for one.
func yamlError(data []byte, err error) *FieldError {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "unmarshal errors:\n"); ok {
		// "  line 5: key \"host\" already set in map" (one per line): keep the first
		msg, _, _ = strings.Cut(strings.TrimSpace(rest), "\n")
	}
	line := 0
	if m := yamlLineRe.FindStringSubmatchIndex(msg); m != nil {
		line, _ = strconv.Atoi(msg[m[2]:m[3]])
		if m[0] == 0 {
			msg = msg[m[1]:]
		}
	} else if li := newLineIndex(data); li.err != nil {
		if m := yamlLineRe.FindStringSubmatch(li.err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
	}
	if t := bytes.TrimSpace(data); line == 0 && len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		// JSON in a YAML file: the JSON decoder knows where it broke.
		var v any
		if jerr := decodeJSON(data, &v); jerr != nil {
			line = jerr.Line
		}
	}
	return parseError(msg, line)
}

func decodeJSON(data []byte, v *any) *FieldError {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		line := 0
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte{'\n'})
		}
		return parseError(err.Error(), line)
	}
	if _, err := d.Token(); err != io.EOF {
		return parseError("invalid character after top-level value", 0)
	}
	return nil
}

func asObject(v any) (map[string]any, *FieldError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, parseError("expected an object", 0)
	}
	return m, nil
}

// luaFile is one file read through PluginEnv.ReadFile.
type luaFile struct {
	written string
	data    []byte
}

type loader struct {
	opts  Options
	data  []byte
	errs  []*FieldError
	cfg   *Config
	now   int64
	nowMs float64

	format string

	services     []*svcW
	routes       []*routeW
	plugins      []*pluginW
	consumers    []*consumerW
	upstreams    []*upstreamW
	targets      []*targetW
	certificates []*certW
	snis         []*sniW

	files   map[string]*luaFile // by absolute path
	fileSeq []*luaFile
}

func newLoader(data []byte, opts Options) *loader {
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	return &loader{
		opts:  opts,
		data:  data,
		cfg:   &Config{Raw: data, FormatVersion: "3.0"},
		now:   now.Unix(),
		nowMs: float64(now.UnixMilli()) / 1000,
		files: map[string]*luaFile{},
	}
}

func (l *loader) add(path, msg string) {
	l.errs = append(l.errs, &FieldError{Path: path, Message: msg})
}

func (l *loader) warn(msg string) { l.cfg.Warnings = append(l.cfg.Warnings, msg) }

// list turns a decoded array of entities into records.
func (l *loader) list(v any, path string) []*rec {
	arr, ok := v.([]any)
	if !ok {
		l.add(path, "expected an array")
		return nil
	}
	out := make([]*rec, 0, len(arr))
	for i, e := range arr {
		p := path + "[" + strconv.Itoa(i) + "]"
		m, ok := e.(map[string]any)
		if !ok {
			l.add(p, "expected a record")
			continue
		}
		out = append(out, &rec{l: l, m: m, path: p})
	}
	return out
}

// credentialKeys are Kong plugin DAOs that may be nested in consumers.
var credentialKeys = []string{
	"keyauth_credentials", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets", "acls",
	"oauth2_credentials", "oauth2_tokens", "oauth2_authorization_codes",
}

// knownUnsupported are Kong entity keys luagate accepts with a warning and
// ignores (no luagate feature uses them).
var knownUnsupported = append([]string{
	"workspaces", "ca_certificates", "parameters", "vaults", "key_sets", "keys", "filter_chains",
}, credentialKeys...)

func (l *loader) run(root map[string]any) {
	top := &rec{l: l, m: root}
	l.formatVersion(top)
	if v, ok := root["_transform"]; ok && v != nil {
		if _, ok := v.(bool); !ok {
			top.err("_transform", "expected a boolean")
		}
	}
	allowed := keySet("_format_version", "_transform", "services", "routes", "plugins", "consumers",
		"upstreams", "targets", "certificates", "snis")
	for _, k := range knownUnsupported {
		if top.has(k) {
			l.warn("'" + k + "' entities are not supported by luagate and were ignored")
		}
		allowed[k] = true
	}
	top.checkKeys(allowed)

	// Certificates first: services and upstreams reference them.
	for _, r := range top.children("certificates") {
		l.certificate(r)
	}
	for _, r := range top.children("snis") {
		l.sni(r, nil)
	}
	for _, r := range top.children("upstreams") {
		l.upstream(r)
	}
	for _, r := range top.children("targets") {
		l.target(r, nil)
	}
	for _, r := range top.children("services") {
		l.service(r)
	}
	for _, r := range top.children("routes") {
		l.route(r, nil)
	}
	for _, r := range top.children("consumers") {
		l.consumer(r)
	}
	for _, r := range top.children("plugins") {
		l.plugin(r, "", nil)
	}
	l.assignIDs()
	l.checkUnique()
	l.resolve()
	l.collect()
}

func (l *loader) formatVersion(top *rec) {
	v, ok := top.m["_format_version"]
	if !ok || v == nil {
		l.warn("_format_version is missing; assuming \"3.0\"")
		l.format = "3.0"
		return
	}
	s, ok := v.(string)
	if !ok {
		top.err("_format_version", "expected a string")
		l.format = "3.0"
		return
	}
	switch s {
	case "1.1", "2.1", "3.0":
		l.format = s
	default:
		top.err("_format_version", "expected one of: 1.1, 2.1, 3.0")
		l.format = "3.0"
	}
}

// readFile is PluginEnv.ReadFile: it resolves p against Options.Dir and
// records the file for Config.Files and the hash.
func (l *loader) readFile(p string) ([]byte, error) {
	full := p
	if !filepath.IsAbs(full) {
		full = filepath.Join(l.opts.Dir, p)
	}
	abs, err := filepath.Abs(full)
	if err != nil {
		return nil, err
	}
	if f, ok := l.files[abs]; ok {
		return f.data, nil
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	f := &luaFile{written: p, data: data}
	l.files[abs] = f
	l.fileSeq = append(l.fileSeq, f)
	l.cfg.Files = append(l.cfg.Files, abs)
	return data, nil
}

// hash is DECISIONS row 13.
func (l *loader) hash() string {
	c := l.cfg
	if len(c.Services)+len(c.Routes)+len(c.Plugins)+len(c.Consumers)+len(c.Upstreams)+
		len(c.Targets)+len(c.Certificates)+len(c.SNIs) == 0 {
		return EmptyConfigHash
	}
	h := md5.New()
	h.Write(l.data)
	for _, f := range l.fileSeq {
		io.WriteString(h, f.written)
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}
