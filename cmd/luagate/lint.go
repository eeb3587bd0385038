package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"luagate/declarative"
	"luagate/functions"
	"luagate/gateway/router"
	"luagate/lualib"
)

const lintUsage = `Usage: luagate lint FILE [--format text|json]

Warnings 'config parse' does not give, for a file that parses:
  - kong.* names the PDK does not have (misspelt or unknown functions), found
    by reading the Lua code of every function (inline or .lua file), also
    through a local alias (local req = kong.request; req.get_heade(...))
  - routes that can never match: every request they accept is taken by a
    route the router tries first
  - paths that look like regexes but lack the "~" prefix in a 3.0 file (they
    are plain prefixes there)
  - plugins that can never run: disabled, or scoped to a disabled service
    (or to a route of one)
Exit 0 without warnings, 3 with warnings, 1 when the file does not parse.
`

// warning is one lint finding.
type warning struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

func cmdLint(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag2("lint", stderr, lintUsage)
	format := fs.String("format", "text", "output format: text, or json for machines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		return fail(stderr, "expected one declarative configuration file; see `luagate lint --help`")
	}
	if *format != "text" && *format != "json" {
		return fail(stderr, "--format %q is not text or json", *format)
	}
	path := pos[0]
	cfg, _, err := loadChecked(path, getenv)
	if err != nil {
		if *format == "json" {
			writeJSON(stdout, map[string]any{"ok": false, "errors": jsonErrors(path, err)})
			return 1
		}
		fmt.Fprintf(stderr, "Error: Failed parsing:\n%s\n", declarative.FormatText(err))
		return 1
	}
	ws, err := lintConfig(cfg, path)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if *format == "json" {
		if ws == nil {
			ws = []warning{}
		}
		writeJSON(stdout, map[string]any{"ok": true, "warnings": ws})
	} else {
		for _, w := range ws {
			fmt.Fprintln(stdout, w.String())
		}
		if len(ws) == 0 {
			fmt.Fprintln(stdout, "no warnings")
		} else {
			fmt.Fprintf(stdout, "%d warning(s)\n", len(ws))
		}
	}
	if len(ws) > 0 {
		return 3
	}
	return 0
}

func (w warning) String() string {
	var b strings.Builder
	b.WriteString(w.File)
	if w.Line > 0 {
		b.WriteString(":" + strconv.Itoa(w.Line))
	}
	b.WriteString(": ")
	if w.Path != "" {
		b.WriteString(w.Path + ": ")
	}
	b.WriteString(w.Message)
	return b.String()
}

// lintConfig runs every check on a loaded config; file is its path.
func lintConfig(cfg *declarative.Config, file string) ([]warning, error) {
	l := &linter{cfg: cfg, file: file, dir: filepath.Dir(file), lines: newYAMLLines(cfg.Raw)}
	l.pdk = knownPDK()
	l.luaNames()
	if err := l.shadowedRoutes(); err != nil {
		return nil, err
	}
	l.regexPaths()
	l.deadPlugins()
	sort.SliceStable(l.ws, func(i, j int) bool {
		a, b := l.ws[i], l.ws[j]
		if a.File != b.File {
			return a.File == file // the config's own warnings first
		}
		return a.Line < b.Line
	})
	return l.ws, nil
}

type linter struct {
	cfg   *declarative.Config
	file  string
	dir   string
	lines *yamlLines
	pdk   map[string]pdkNode
	ws    []warning
}

func (l *linter) warn(path, format string, a ...any) {
	l.ws = append(l.ws, warning{File: l.file, Line: l.lines.line(path), Path: path, Message: fmt.Sprintf(format, a...)})
}

// ---- kong.* names in Lua code

// pdkNode is one name of the kong table: closed tables have only the
// children listed; open ones (ctx.shared, configuration ...) accept any.
type pdkNode struct {
	table bool
	open  bool
}

// knownPDK walks the kong table of a real PDK state.
func knownPDK() map[string]pdkNode {
	L := lualib.NewState(lualib.StateOptions{})
	defer L.Close()
	out := map[string]pdkNode{}
	seen := map[*lua.LTable]bool{}
	var walk func(t *lua.LTable, prefix string)
	walk = func(t *lua.LTable, prefix string) {
		n := pdkNode{table: true}
		if mt, ok := L.GetMetatable(t).(*lua.LTable); ok && mt.RawGetString("__index") != lua.LNil {
			n.open = true
		}
		if t.Len() == 0 && isEmpty(t) {
			n.open = true
		}
		out[prefix] = n
		if seen[t] || n.open {
			return
		}
		seen[t] = true
		t.ForEach(func(k, v lua.LValue) {
			ks, ok := k.(lua.LString)
			if !ok {
				return
			}
			p := prefix + "." + string(ks)
			if tt, ok := v.(*lua.LTable); ok {
				walk(tt, p)
				return
			}
			out[p] = pdkNode{}
		})
	}
	if k, ok := L.GetGlobal("kong").(*lua.LTable); ok {
		walk(k, "kong")
	}
	// kong.ctx is built per request; its two tables are the plugin's own.
	out["kong.ctx"] = pdkNode{table: true}
	out["kong.ctx.shared"] = pdkNode{table: true, open: true}
	out["kong.ctx.plugin"] = pdkNode{table: true, open: true}
	return out
}

func isEmpty(t *lua.LTable) bool {
	k, _ := t.Next(lua.LNil)
	return k == lua.LNil
}

// luaNames checks the kong.* names of every Lua function.
func (l *linter) luaNames() {
	for _, p := range l.cfg.Plugins {
		c, ok := p.Config.(*functions.Config)
		if !ok {
			continue
		}
		for _, fn := range c.Functions {
			place := fmt.Sprintf("%s.config.%s[%d]", p.Path0, fn.Field, fn.Index)
			var src []byte
			file, base := l.file, 0
			if fn.File != "" {
				f := fn.File
				if !filepath.IsAbs(f) {
					f = filepath.Join(l.dir, f)
				}
				b, err := os.ReadFile(f)
				if err != nil {
					l.warn(place, "cannot read %s: %v", fn.File, err)
					continue
				}
				src, file = b, f // as a path from here, like the config's own
			} else {
				s, ok := rawEntry(p.RawConfig, fn.Field, fn.Index)
				if !ok {
					continue
				}
				src = []byte(s)
				base = l.lines.contentLine(place)
			}
			chunk, err := parse.Parse(strings.NewReader(string(src)), fn.Name)
			if err != nil {
				continue // the loader compiled it: cannot happen
			}
			for _, u := range kongUses(chunk) {
				msg, bad := l.checkName(u.name)
				if !bad {
					continue
				}
				w := warning{File: file, Path: place, Message: msg}
				if fn.File != "" {
					w.Line = u.line
				} else if base > 0 {
					w.Line = base + u.line - 1
				}
				l.ws = append(l.ws, w)
			}
		}
	}
}

func rawEntry(cfg map[string]any, field string, i int) (string, bool) {
	list, ok := cfg[field].([]any)
	if !ok || i >= len(list) {
		return "", false
	}
	s, ok := list[i].(string)
	return s, ok
}

// checkName reports a kong.* chain the PDK does not have.
func (l *linter) checkName(name string) (string, bool) {
	parts := strings.Split(name, ".")
	cur := parts[0]
	for _, p := range parts[1:] {
		node := l.pdk[cur]
		if !node.table || node.open {
			return "", false
		}
		next := cur + "." + p
		if _, ok := l.pdk[next]; !ok {
			msg := fmt.Sprintf("unknown PDK name %s", next)
			if s := l.suggest(cur, p); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			} else {
				msg += fmt.Sprintf(" (%s has no field %q)", cur, p)
			}
			return msg, true
		}
		cur = next
	}
	return "", false
}

// suggest is the closest sibling of a misspelt name (edit distance <= 2,
// or a case-insensitive match).
func (l *linter) suggest(parent, name string) string {
	best, bestD := "", 3
	for k := range l.pdk {
		if !strings.HasPrefix(k, parent+".") || strings.Contains(k[len(parent)+1:], ".") {
			continue
		}
		cand := k[len(parent)+1:]
		d := editDistance(strings.ToLower(name), strings.ToLower(cand))
		if d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// kongUse is one kong.a.b chain in the code.
type kongUse struct {
	name string
	line int
}

// kongUses finds every maximal kong.x.y chain of constant keys (method
// calls included: kong.log:info is kong.log.info), also through a local
// alias (local req = kong.service.request; req.set_heder(...)). A local
// named kong hides the global from there on; such chunks are skipped.
func kongUses(chunk []ast.Stmt) []kongUse {
	var out []kongUse
	shadowed := false
	aliases := kongAliases(chunk)
	var visit func(node any) bool
	visit = func(node any) bool {
		if shadowed {
			return false
		}
		switch n := node.(type) {
		case *ast.LocalAssignStmt:
			if slices.Contains(n.Names, "kong") {
				shadowed = true
			}
		case *ast.AttrGetExpr:
			if name, ok := kongChainExpr(n, aliases); ok {
				out = append(out, kongUse{name, n.Line()})
				// the keys may hold expressions of their own
				for e := ast.Expr(n); ; {
					a, ok := e.(*ast.AttrGetExpr)
					if !ok {
						break
					}
					if _, isStr := a.Key.(*ast.StringExpr); !isStr {
						walkAST(reflect.ValueOf(a.Key), visit)
					}
					e = a.Object
				}
				return false
			}
		case *ast.FuncCallExpr:
			if n.Receiver != nil && n.Method != "" {
				if name, ok := kongChainExpr(n.Receiver, aliases); ok {
					out = append(out, kongUse{name + "." + n.Method, n.Line()})
					for _, a := range n.Args {
						walkAST(reflect.ValueOf(a), visit)
					}
					return false
				}
			}
		}
		return true
	}
	walkAST(reflect.ValueOf(chunk), visit)
	if shadowed {
		return nil
	}
	return out
}

// walkAST calls visit for every node (non-nil pointer) under v, parents
// before children; visit returns false to skip a node's children.
func walkAST(v reflect.Value, visit func(node any) bool) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			walkAST(v.Elem(), visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkAST(v.Index(i), visit)
		}
	case reflect.Pointer:
		if !v.IsNil() && visit(v.Interface()) {
			walkAST(v.Elem(), visit)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkAST(v.Field(i), visit)
			}
		}
	}
}

// kongChainExpr renders kong.a.b for an attribute chain rooted at the
// global kong, or at a local alias of a kong chain, up to the first
// non-constant key.
func kongChainExpr(e ast.Expr, aliases map[string]string) (string, bool) {
	var keys []string
	for {
		switch x := e.(type) {
		case *ast.AttrGetExpr:
			s, ok := x.Key.(*ast.StringExpr)
			if !ok {
				keys = keys[:0] // a dynamic key: keep the part before it
			} else {
				keys = append(keys, s.Value)
			}
			e = x.Object
			continue
		case *ast.IdentExpr:
			root := "kong"
			if x.Value != "kong" {
				if root = aliases[x.Value]; root == "" {
					return "", false
				}
			}
			parts := []string{root}
			for i := len(keys) - 1; i >= 0; i-- {
				parts = append(parts, keys[i])
			}
			return strings.Join(parts, "."), true
		}
		return "", false
	}
}

// kongAliases finds the locals that name a kong chain of constant keys
// (local resp = kong.response) and keep it: a name bound once in the chunk
// (as a local, parameter, loop variable or local function) and never
// assigned. Anything less certain is not followed, so an alias never
// makes lint report a name the code does not use.
func kongAliases(chunk []ast.Stmt) map[string]string {
	bound := map[string]int{}
	assigned := map[string]bool{}
	candidates := map[string]string{}
	walkAST(reflect.ValueOf(chunk), func(node any) bool {
		switch n := node.(type) {
		case *ast.LocalAssignStmt:
			for i, name := range n.Names {
				bound[name]++
				if i < len(n.Exprs) {
					if chain, ok := constKongChain(n.Exprs[i]); ok {
						candidates[name] = chain
					}
				}
			}
		case *ast.ParList:
			for _, name := range n.Names {
				bound[name]++
			}
		case *ast.NumberForStmt:
			bound[n.Name]++
		case *ast.GenericForStmt:
			for _, name := range n.Names {
				bound[name]++
			}
		case *ast.AssignStmt:
			for _, lhs := range n.Lhs {
				if id, ok := lhs.(*ast.IdentExpr); ok {
					assigned[id.Value] = true
				}
			}
		case *ast.FuncName:
			if id, ok := n.Func.(*ast.IdentExpr); ok {
				assigned[id.Value] = true
			}
		}
		return true
	})
	aliases := map[string]string{}
	for name, chain := range candidates {
		if name != "kong" && bound[name] == 1 && !assigned[name] {
			aliases[name] = chain
		}
	}
	return aliases
}

// constKongChain is kong.a.b when e is that chain with constant keys only.
func constKongChain(e ast.Expr) (string, bool) {
	var keys []string
	for {
		switch x := e.(type) {
		case *ast.AttrGetExpr:
			s, ok := x.Key.(*ast.StringExpr)
			if !ok {
				return "", false
			}
			keys = append(keys, s.Value)
			e = x.Object
			continue
		case *ast.IdentExpr:
			if x.Value != "kong" || len(keys) == 0 {
				return "", false
			}
			slices.Reverse(keys)
			return "kong." + strings.Join(keys, "."), true
		}
		return "", false
	}
}

// ---- routes

// shadowedRoutes finds routes whose every sample request (built from the
// route's own methods, hosts, paths and headers) is matched by another
// route first. Routes with regex paths, SNIs or stream protocols are not
// sampled.
func (l *linter) shadowedRoutes() error {
	rt, err := router.New(l.cfg.Routes)
	if err != nil {
		return fmt.Errorf("building the router: %w", err)
	}
	for _, r := range l.cfg.Routes {
		samples, ok := routeSamples(r)
		if !ok {
			continue
		}
		var by []string
		seen := map[*declarative.Route]bool{}
		shadowed := true
		for _, s := range samples {
			var m router.Match
			if !rt.Match(s, &m) || m.Route == r {
				shadowed = false
				break
			}
			if !seen[m.Route] {
				seen[m.Route] = true
				by = append(by, fmt.Sprintf("%s (%s)", named(m.Route.Name, m.Route.ID), m.Route.Path0))
			}
		}
		if shadowed && len(by) > 0 {
			s := samples[0]
			l.warn(r.Path0, "route %s can never match: requests like %s %s%s are taken first by %s",
				named(r.Name, r.ID), s.Method, s.Host, s.Path, strings.Join(by, ", "))
		}
	}
	return nil
}

func routeSamples(r *declarative.Route) ([]*router.Request, bool) {
	if len(r.SNIs) > 0 || len(r.Sources) > 0 || len(r.Destinations) > 0 {
		return nil, false
	}
	scheme := ""
	for _, p := range r.Protocols {
		if p == "http" || p == "https" {
			if scheme == "" || p == "http" {
				scheme = p
			}
		}
	}
	if scheme == "" && len(r.Protocols) > 0 {
		return nil, false
	}
	if scheme == "" {
		scheme = "http"
	}
	methods := r.Methods
	if len(methods) == 0 {
		// any method: shadowed only when every method is taken
		methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}
	}
	hosts := []string{}
	for _, h := range r.Hosts {
		switch {
		case strings.HasPrefix(h, "*."):
			h = "sample" + h[1:]
		case strings.HasSuffix(h, ".*"):
			h = h[:len(h)-2] + ".sample"
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		hosts = []string{"luagate-lint.invalid"}
	}
	paths := []string{}
	for _, p := range r.Paths {
		if strings.HasPrefix(p, "~") {
			return nil, false
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	var hdr fasthttp.RequestHeader
	for name, vals := range r.Headers {
		if len(vals) == 0 || strings.HasPrefix(vals[0], "~*") {
			return nil, false
		}
		hdr.Add(name, vals[0])
	}
	var out []*router.Request
	for _, m := range methods {
		for _, h := range hosts {
			for _, p := range paths {
				out = append(out, &router.Request{Method: m, Host: h, Path: p, Scheme: scheme, ListenerPort: 8000, Headers: &hdr})
				if len(out) >= 64 {
					return out, true
				}
			}
		}
	}
	return out, true
}

// regexPaths flags 3.0 paths that look like regexes but lack "~".
func (l *linter) regexPaths() {
	if v := l.lines.formatVersion(); v != "" && v != "3.0" {
		return // 1.1/2.1 paths were converted by the loader
	}
	for _, r := range l.cfg.Routes {
		for i, p := range r.Paths {
			if strings.HasPrefix(p, "~") || !strings.ContainsAny(p, `()[]*+?$^|\{}`) {
				continue
			}
			l.warn(fmt.Sprintf("%s.paths[%d]", r.Path0, i),
				"path \"%s\" looks like a regex but has no \"~\" prefix: with _format_version 3.0 it is a plain prefix (write \"~%s\" for a regex)", p, p)
		}
	}
}

// deadPlugins flags plugins that can never run.
func (l *linter) deadPlugins() {
	for _, p := range l.cfg.Plugins {
		switch {
		case !p.Enabled:
			l.warn(p.Path0, "plugin %s never runs: it is disabled (enabled: false)", strconv.Quote(p.Name))
		case p.Service != nil && !p.Service.Enabled:
			l.warn(p.Path0, "plugin %s never runs: its service %s is disabled", strconv.Quote(p.Name), named(p.Service.Name, p.Service.ID))
		case p.Route != nil && p.Route.Service != nil && !p.Route.Service.Enabled:
			l.warn(p.Path0, "plugin %s never runs: its route %s belongs to the disabled service %s",
				strconv.Quote(p.Name), named(p.Route.Name, p.Route.ID), named(p.Route.Service.Name, p.Route.Service.ID))
		}
	}
}

// ---- YAML lines

// yamlLines finds the line of an entity path in the config text.
type yamlLines struct {
	root *yaml.Node
}

func newYAMLLines(raw []byte) *yamlLines {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 {
		return &yamlLines{}
	}
	return &yamlLines{root: doc.Content[0]}
}

func (y *yamlLines) node(path string) *yaml.Node {
	n := y.root
	if n == nil {
		return nil
	}
	for _, seg := range strings.Split(path, ".") {
		key, rest, _ := strings.Cut(seg, "[")
		if key != "" {
			if n.Kind != yaml.MappingNode {
				return nil
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				return nil
			}
			n = next
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return n
}

// line is the 1-based line of path, 0 when unknown.
func (y *yamlLines) line(path string) int {
	if n := y.node(path); n != nil {
		return n.Line
	}
	return 0
}

// contentLine is the line where the text of a scalar starts: the line
// after "- |" for block scalars.
func (y *yamlLines) contentLine(path string) int {
	n := y.node(path)
	if n == nil {
		return 0
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1
	}
	return n.Line
}

func (y *yamlLines) formatVersion() string {
	if y.root == nil || y.root.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(y.root.Content); i += 2 {
		if y.root.Content[i].Value == "_format_version" {
			return y.root.Content[i+1].Value
		}
	}
	return ""
}
