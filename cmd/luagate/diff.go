package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"luagate/declarative"
)

const diffUsage = `Usage: luagate config diff OLD NEW [--format text|json]

Show what deploying NEW over OLD changes, entity by entity: added and
removed entities, and every changed field (plugin configs field by field;
referenced .lua files by content). Both files are validated first.
Entities are matched by id (Kong's deterministic ids: a renamed entity is
removed and added). Exit 0 when equal, 2 when different, 1 on error.
`

// field is one comparable field of an entity: its name and its value
// rendered as JSON (so values of any type compare and print alike).
type field struct {
	name  string
	value string
}

// entity is one entity of a config, flattened for comparison.
type entity struct {
	kind   string // service, route, plugin, ...
	id     string
	label  string // how users know it: service "echo", plugin "pre-function" (route "hello")
	fields []field
}

// change is one difference between the configs.
type change struct {
	Op     string        `json:"op"` // added, removed, changed
	Kind   string        `json:"kind"`
	ID     string        `json:"id,omitempty"`
	Label  string        `json:"label"`
	Fields []fieldChange `json:"fields,omitempty"`
}

type fieldChange struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old"` // null when the field is new
	New   json.RawMessage `json:"new"` // null when the field is gone
}

func cmdConfigDiff(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag2("config diff", stderr, diffUsage)
	format := fs.String("format", "text", "output format: text, or json for machines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 2 {
		return fail(stderr, "expected two declarative configuration files, OLD and NEW; see `luagate config diff --help`")
	}
	if *format != "text" && *format != "json" {
		return fail(stderr, "--format %q is not text or json", *format)
	}
	var cfgs [2]*declarative.Config
	for i, p := range pos {
		cfg, _, err := loadChecked(p, getenv)
		if err != nil {
			fmt.Fprintf(stderr, "Error: Failed parsing %s:\n%s\n", p, declarative.FormatText(err))
			return 1
		}
		cfgs[i] = cfg
	}
	changes, err := diffConfigs(cfgs[0], filepath.Dir(pos[0]), cfgs[1], filepath.Dir(pos[1]))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if changes == nil {
		changes = []change{}
	}
	if *format == "json" {
		writeJSON(stdout, map[string]any{
			"equal":    len(changes) == 0,
			"old_hash": cfgs[0].Hash,
			"new_hash": cfgs[1].Hash,
			"changes":  changes,
		})
	} else {
		writeDiffText(stdout, cfgs[0].Hash, cfgs[1].Hash, changes)
	}
	if len(changes) > 0 {
		return 2
	}
	return 0
}

func writeDiffText(w io.Writer, oldHash, newHash string, changes []change) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "no differences (configuration_hash %s)\n", newHash)
		return
	}
	fmt.Fprintf(w, "configuration_hash: %s -> %s\n", oldHash, newHash)
	var added, removed, changed int
	for _, c := range changes {
		switch c.Op {
		case "added":
			added++
			fmt.Fprintf(w, "+ %s\n", c.Label)
		case "removed":
			removed++
			fmt.Fprintf(w, "- %s\n", c.Label)
		default:
			changed++
			fmt.Fprintf(w, "~ %s\n", c.Label)
			for _, f := range c.Fields {
				fmt.Fprintf(w, "    %s: %s -> %s\n", f.Field, showValue(f.Old), showValue(f.New))
			}
		}
	}
	fmt.Fprintf(w, "%d added, %d removed, %d changed\n", added, removed, changed)
}

// showValue prints a JSON value on one line ("(none)" for a missing one),
// long strings shortened.
func showValue(v json.RawMessage) string {
	if v == nil {
		return "(none)"
	}
	s := string(v)
	if len(s) > 120 {
		s = s[:100] + "…(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}

// diffConfigs compares two loaded configs. dirs are the folders of the
// files (Lua files are compared by their path relative to them).
func diffConfigs(a *declarative.Config, adir string, b *declarative.Config, bdir string) ([]change, error) {
	ea, err := entities(a, adir)
	if err != nil {
		return nil, err
	}
	eb, err := entities(b, bdir)
	if err != nil {
		return nil, err
	}
	index := func(es []entity) map[string]*entity {
		m := make(map[string]*entity, len(es))
		for i := range es {
			m[es[i].kind+"\x00"+es[i].id] = &es[i]
		}
		return m
	}
	ia, ib := index(ea), index(eb)
	var out []change
	// Removed and changed, in OLD's order; then added, in NEW's order.
	for _, e := range ea {
		n, ok := ib[e.kind+"\x00"+e.id]
		if !ok {
			out = append(out, change{Op: "removed", Kind: e.kind, ID: e.id, Label: e.label})
			continue
		}
		if fc := diffFields(e.fields, n.fields); len(fc) > 0 {
			if e.kind == "lua file" && len(fc) > maxLineChanges {
				fc = []fieldChange{{Field: "lines", Old: rawJSON(len(e.fields)), New: rawJSON(len(n.fields))},
					{Field: "changed lines", Old: nil, New: rawJSON(len(fc))}}
			}
			out = append(out, change{Op: "changed", Kind: e.kind, ID: e.id, Label: n.label, Fields: fc})
		}
	}
	for _, e := range eb {
		if _, ok := ia[e.kind+"\x00"+e.id]; !ok {
			out = append(out, change{Op: "added", Kind: e.kind, ID: e.id, Label: e.label})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return kindOrder[out[i].Kind] < kindOrder[out[j].Kind] })
	return out, nil
}

var kindOrder = map[string]int{"service": 0, "route": 1, "consumer": 2, "plugin": 3, "upstream": 4, "target": 5,
	"certificate": 6, "sni": 7, "lua file": 8}

func diffFields(a, b []field) []fieldChange {
	mb := make(map[string]string, len(b))
	for _, f := range b {
		mb[f.name] = f.value
	}
	ma := make(map[string]bool, len(a))
	var out []fieldChange
	for _, f := range a {
		ma[f.name] = true
		nv, ok := mb[f.name]
		switch {
		case !ok:
			out = append(out, fieldChange{Field: f.name, Old: json.RawMessage(f.value)})
		case nv != f.value:
			out = append(out, fieldChange{Field: f.name, Old: json.RawMessage(f.value), New: json.RawMessage(nv)})
		}
	}
	for _, f := range b {
		if !ma[f.name] {
			out = append(out, fieldChange{Field: f.name, New: json.RawMessage(f.value)})
		}
	}
	return out
}

// entities flattens a config into comparable entities.
func entities(c *declarative.Config, dir string) ([]entity, error) {
	var out []entity
	for _, s := range c.Services {
		e := entity{kind: "service", id: s.ID, label: "service " + named(s.Name, s.ID)}
		e.add("name", s.Name).add("protocol", s.Protocol).add("host", s.Host).add("port", s.Port).add("path", s.Path).
			add("retries", s.Retries).add("connect_timeout", s.ConnectTimeout).add("write_timeout", s.WriteTimeout).
			add("read_timeout", s.ReadTimeout).add("enabled", s.Enabled).add("tags", s.Tags).add("tls_verify", s.TLSVerify).
			add("tls_verify_depth", s.TLSVerifyDepth).add("ca_certificates", s.CACertificates).add("client_certificate", s.ClientCertificate)
		out = append(out, e)
	}
	for _, r := range c.Routes {
		e := entity{kind: "route", id: r.ID, label: "route " + named(r.Name, r.ID)}
		svc := ""
		if r.Service != nil {
			svc = named(r.Service.Name, r.Service.ID)
		}
		e.add("name", r.Name).add("service", svc).add("protocols", r.Protocols).add("methods", r.Methods).add("hosts", r.Hosts).
			add("paths", r.Paths).add("headers", r.Headers).add("snis", r.SNIs).add("https_redirect_status_code", r.HTTPSRedirectStatusCode).
			add("regex_priority", r.RegexPriority).add("strip_path", r.StripPath).add("path_handling", r.PathHandling).
			add("preserve_host", r.PreserveHost).add("request_buffering", r.RequestBuffering).add("response_buffering", r.ResponseBuffering).
			add("tags", r.Tags).add("sources", r.Sources).add("destinations", r.Destinations)
		out = append(out, e)
	}
	for _, cn := range c.Consumers {
		e := entity{kind: "consumer", id: cn.ID, label: "consumer " + named(cn.Username, cn.ID)}
		e.add("username", cn.Username).add("custom_id", cn.CustomID).add("tags", cn.Tags)
		out = append(out, e)
	}
	for _, p := range c.Plugins {
		e := entity{kind: "plugin", id: p.ID, label: "plugin " + pluginLabel(p)}
		e.add("name", p.Name).add("instance_name", p.InstanceName).add("enabled", p.Enabled).add("protocols", p.Protocols).add("tags", p.Tags)
		if p.Service != nil {
			e.add("service", named(p.Service.Name, p.Service.ID))
		}
		if p.Route != nil {
			e.add("route", named(p.Route.Name, p.Route.ID))
		}
		if p.Consumer != nil {
			e.add("consumer", named(p.Consumer.Username, p.Consumer.ID))
		}
		flatten("config", p.RawConfig, &e)
		out = append(out, e)
	}
	for _, u := range c.Upstreams {
		e := entity{kind: "upstream", id: u.ID, label: "upstream " + named(u.Name, u.ID)}
		e.add("name", u.Name).add("algorithm", u.Algorithm).add("hash_on", u.HashOn).add("hash_fallback", u.HashFallback).
			add("hash_on_header", u.HashOnHeader).add("hash_fallback_header", u.HashFallbackHeader).add("hash_on_cookie", u.HashOnCookie).
			add("hash_on_cookie_path", u.HashOnCookiePath).add("hash_on_query_arg", u.HashOnQueryArg).
			add("hash_fallback_query_arg", u.HashFallbackQueryArg).add("hash_on_uri_capture", u.HashOnURICapture).
			add("hash_fallback_uri_capture", u.HashFallbackURICapture).add("slots", u.Slots).add("host_header", u.HostHeader).
			add("client_certificate", u.ClientCertificate).add("use_srv_name", u.UseSRVName).add("tags", u.Tags)
		flatten("healthchecks", u.Healthchecks, &e)
		out = append(out, e)
	}
	for _, t := range c.Targets {
		up := ""
		if t.Upstream != nil {
			up = named(t.Upstream.Name, t.Upstream.ID)
		}
		e := entity{kind: "target", id: t.ID, label: fmt.Sprintf("target %q (upstream %s)", t.Target, up)}
		e.add("target", t.Target).add("weight", t.Weight).add("tags", t.Tags).add("upstream", up)
		out = append(out, e)
	}
	for _, ct := range c.Certificates {
		e := entity{kind: "certificate", id: ct.ID, label: "certificate " + ct.ID}
		// Keys are never printed: a digest shows that they changed.
		e.add("cert", ct.Cert).add("key", secret(ct.Key)).add("cert_alt", ct.CertAlt).add("key_alt", secret(ct.KeyAlt)).add("tags", ct.Tags)
		out = append(out, e)
	}
	for _, s := range c.SNIs {
		e := entity{kind: "sni", id: s.ID, label: fmt.Sprintf("sni %q", s.Name)}
		cert := ""
		if s.Certificate != nil {
			cert = s.Certificate.ID
		}
		e.add("name", s.Name).add("certificate", cert).add("tags", s.Tags)
		out = append(out, e)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for _, f := range c.Files {
		rel, err := filepath.Rel(dir, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = f
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		e := entity{kind: "lua file", id: filepath.ToSlash(rel), label: "lua file " + filepath.ToSlash(rel)}
		for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			e.add("line "+strconv.Itoa(i+1), line)
		}
		out = append(out, e)
	}
	return out, nil
}

// maxLineChanges is how many changed lines of a Lua file are listed one by
// one; beyond it the file is summarised.
const maxLineChanges = 20

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (e *entity) add(name string, v any) *entity {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(strconv.Quote(fmt.Sprint(v)))
	}
	e.fields = append(e.fields, field{name, string(b)})
	return e
}

// flatten adds the leaves of a config map as fields ("config.access[0]").
func flatten(prefix string, v any, e *entity) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			e.add(prefix, map[string]any{})
		}
		for _, k := range keys {
			flatten(prefix+"."+k, x[k], e)
		}
	case []any:
		if len(x) == 0 {
			e.add(prefix, []any{})
		}
		for i, item := range x {
			flatten(prefix+"["+strconv.Itoa(i)+"]", item, e)
		}
	default:
		e.add(prefix, v)
	}
}

func secret(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// named quotes a name, or gives the id when there is none.
func named(name, id string) string {
	if name != "" {
		return strconv.Quote(name)
	}
	return id
}

func pluginLabel(p *declarative.Plugin) string {
	var scope []string
	if p.Service != nil {
		scope = append(scope, "service "+named(p.Service.Name, p.Service.ID))
	}
	if p.Route != nil {
		scope = append(scope, "route "+named(p.Route.Name, p.Route.ID))
	}
	if p.Consumer != nil {
		scope = append(scope, "consumer "+named(p.Consumer.Username, p.Consumer.ID))
	}
	if len(scope) == 0 {
		scope = []string{"global"}
	}
	name := strconv.Quote(p.Name)
	if p.InstanceName != "" {
		name += " " + strconv.Quote(p.InstanceName)
	}
	return name + " (" + strings.Join(scope, ", ") + ")"
}
