package admin

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"luagate/declarative"
)

type op int

const (
	opCreate op = iota
	opPatch
	opPut
	opDelete
)

func opOf(method string) (op, bool) {
	switch method {
	case http.MethodPatch:
		return opPatch, true
	case http.MethodPut:
		return opPut, true
	case http.MethodDelete:
		return opDelete, true
	}
	return 0, false
}

// fkFields are the foreign keys of each writable collection, with the
// collection they reference.
var fkFields = map[string][][2]string{
	"routes":  {{"service", "services"}},
	"plugins": {{"service", "services"}, {"route", "routes"}, {"consumer", "consumers"}},
	"targets": {{"upstream", "upstreams"}},
	"snis":    {{"certificate", "certificates"}},
}

// records are the fields a PATCH merges instead of replacing.
var records = map[string]bool{"config": true, "healthchecks": true}

// entities serves /{collection}[/{id}[/{child}[/{id}]]].
func (h *Handler) entities(r *http.Request, segs []string) (int, any, error) {
	k := kinds[segs[0]]
	if k == nil || len(segs) > 4 {
		return 0, nil, errNotFound
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	ix := h.index()
	switch len(segs) {
	case 1:
		switch {
		case get:
			return page(r.URL.Query(), "/"+k.plural, ix.lists[k.plural])
		case r.Method == http.MethodPost:
			return h.write(r, opCreate, k, nil, nil, "")
		}
		return 0, nil, errMethodNotAllowed
	case 2:
		e := ix.find(k.plural, segs[1])
		if get {
			if e == nil {
				return 0, nil, errNotFound
			}
			return 200, e.obj, nil
		}
		if o, ok := opOf(r.Method); ok {
			return h.write(r, o, k, nil, e, segs[1])
		}
		return 0, nil, errMethodNotAllowed
	}
	child := kinds[segs[2]]
	if child == nil || !nestedLists[[2]string{k.plural, child.plural}] {
		return 0, nil, errNotFound
	}
	parent := ix.find(k.plural, segs[1])
	if parent == nil {
		return 0, nil, errNotFound
	}
	children := ix.children(child.plural, k.singular, parent.id)
	if len(segs) == 3 {
		switch {
		case get:
			return page(r.URL.Query(), "/"+strings.Join(segs, "/"), children)
		case r.Method == http.MethodPost:
			return h.write(r, opCreate, child, parent, nil, "")
		}
		return 0, nil, errMethodNotAllowed
	}
	var e *entity
	for _, c := range children {
		if c.id == segs[3] {
			e = c
		}
	}
	for _, c := range children {
		if e == nil && child.key != "" && c.key == segs[3] {
			e = c
		}
	}
	if get {
		if e == nil {
			return 0, nil, errNotFound
		}
		return 200, e.obj, nil
	}
	if o, ok := opOf(r.Method); ok {
		return h.write(r, o, child, parent, e, segs[3])
	}
	return 0, nil, errMethodNotAllowed
}

// readOnly is Kong's DB-less answer to an entity write (spec 4.1).
func readOnly(o op, k *kindInfo, e *entity, urlKey string) (int, any, error) {
	switch o {
	case opCreate:
		return 0, nil, unsupported(fmt.Sprintf("cannot create '%s' entities when not using a database", k.plural))
	case opPut:
		return 0, nil, unsupported(fmt.Sprintf("cannot create or update '%s' entities when not using a database", k.plural))
	case opPatch:
		if e == nil {
			return 0, nil, notFoundErr(urlKey)
		}
		if urlKey != e.id && k.key != "" {
			return 0, nil, unsupported(fmt.Sprintf("cannot update '%s' entities by '%s' when not using a database", k.plural, k.key))
		}
		return 0, nil, unsupported(fmt.Sprintf("cannot update '%s' entities when not using a database", k.plural))
	default:
		if e == nil {
			return 204, nil, nil
		}
		return 0, nil, unsupported(fmt.Sprintf("cannot remove '%s' entities when not using a database", k.plural))
	}
}

// write runs one entity write (DECISIONS row 7): edit the YAML tree of the
// running kong.yml, validate the whole text, then write and reload it.
func (h *Handler) write(r *http.Request, o op, k *kindInfo, parent, e *entity, urlKey string) (int, any, error) {
	if !h.opts.Writes || !k.writable {
		return readOnly(o, k, e, urlKey)
	}
	var b *body
	if o != opDelete {
		var err error
		if b, err = readEntityBody(r); err != nil {
			return 0, nil, err
		}
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if err := h.checkIfMatch(r); err != nil {
		return 0, nil, err
	}
	// Look the entities up again: the config may have changed meanwhile.
	ix := h.index()
	if fb, ok := h.b.(interface{ FileText() ([]byte, bool) }); ok {
		// Never overwrite an edit of kong.yml that is not loaded yet (the
		// watcher has not reloaded it, or it did not validate).
		if disk, ok := fb.FileText(); ok && !bytes.Equal(disk, ix.cfg.Raw) {
			return 0, nil, errMsg(409, "kong.yml changed on disk and that version is not the running configuration (not reloaded yet, or invalid: see GET /status); retry once it loads")
		}
	}
	if len(bytes.TrimSpace(ix.cfg.Raw)) == 0 && hashOf(ix.cfg) != declarative.EmptyConfigHash {
		// A config applied without its text: start from its export.
		text, err := declarative.Marshal(ix.cfg)
		if err != nil {
			return 0, nil, err
		}
		cfg, err := h.b.Validate(text)
		if err != nil {
			return 0, nil, fmt.Errorf("the running configuration does not reload from its export: %w", err)
		}
		ix = buildIndex(cfg)
	}
	if parent != nil {
		if parent = ix.find(parent.kind.plural, parent.id); parent == nil {
			return 0, nil, errNotFound
		}
	}
	if e != nil {
		e = ix.find(k.plural, e.id)
	}
	d, err := parseDoc(ix.cfg.Raw)
	if err != nil {
		return 0, nil, err
	}
	w := &edit{h: h, ix: ix, d: d, k: k}
	switch o {
	case opCreate:
		return w.create(b, parent, 201)
	case opPut:
		if e == nil {
			if isUUID(urlKey) {
				b.fields["id"] = urlKey
			} else if k.key != "" {
				b.fields[k.key] = urlKey
			}
			return w.create(b, parent, 200)
		}
		return w.update(b, e, urlKey, true)
	case opPatch:
		if e == nil {
			return 0, nil, errNotFound
		}
		return w.update(b, e, urlKey, false)
	default:
		if e == nil {
			return 204, nil, nil
		}
		return w.remove(e)
	}
}

// edit is one entity write in progress.
type edit struct {
	h  *Handler
	ix *index
	d  *doc
	k  *kindInfo
}

// fkKey reads a foreign key value: "name-or-id", {"id": ...} or {"name": ...}.
func fkKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case map[string]any:
		for _, f := range []string{"id", "name", "username"} {
			if s, ok := x[f].(string); ok && s != "" {
				return s, true
			}
		}
	}
	return "", false
}

// resolveFKs resolves the foreign keys present in fields; unknown ones are
// Kong's foreign key violation. Nulls are left in fields and out of the
// result.
func (w *edit) resolveFKs(fields map[string]any) (map[string]*entity, error) {
	out := map[string]*entity{}
	for _, fk := range fkFields[w.k.plural] {
		v, ok := fields[fk[0]]
		if !ok {
			continue
		}
		if v == nil {
			continue // an explicit null: the caller decides
		}
		key, ok := fkKey(v)
		if !ok {
			return nil, schemaViolation(map[string]any{fk[0]: "expected a record with an id or a name"})
		}
		pe := w.ix.find(fk[1], key)
		if pe == nil {
			return nil, fkViolation(fk[0], fk[1], key)
		}
		out[fk[0]] = pe
	}
	return out, nil
}

func (w *edit) create(b *body, parent *entity, status int) (int, any, error) {
	f := b.fields
	if b.form {
		coerceForm(w.k.plural, f)
	}
	if err := w.noChildLists(f); err != nil {
		return 0, nil, err
	}
	if parent != nil {
		delete(f, parent.kind.singular)
	}
	for _, fk := range fkFields[w.k.plural] {
		if v, ok := f[fk[0]]; ok && v == nil {
			delete(f, fk[0])
		}
	}
	refs, err := w.resolveFKs(f)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case parent == nil && len(refs) == 1:
		for fk, pe := range refs {
			parent = pe
			delete(f, fk)
		}
	case len(refs) > 0:
		// Several scopes: a top-level entity referencing each by id.
		if parent != nil {
			f[parent.kind.singular] = parent.id
			parent = nil
		}
		for fk, pe := range refs {
			f[fk] = pe.id
		}
	}
	if _, ok := f["id"]; !ok && needsID(w.k.plural, f) {
		f["id"] = newUUID()
	}
	node, err := toNode(f)
	if err != nil {
		return 0, nil, errMsg(400, err.Error())
	}
	owner, prefix := w.d.root, ""
	if parent != nil {
		_, _, pn, err := w.d.at(parent.path)
		if err != nil {
			return 0, nil, err
		}
		owner, prefix = pn, parent.path+"."
	}
	seq := list(owner, w.k.plural)
	seq.Content = append(seq.Content, node)
	w.d.noteAppend(owner, w.k.plural, seq, node)
	path := prefix + w.k.plural + "[" + strconv.Itoa(len(seq.Content)-1) + "]"
	return w.commit(node, path, b.form, status)
}

// needsID: entities whose id the loader would make up at random get one
// written, so that the id answered stays the id served.
func needsID(kind string, f map[string]any) bool {
	switch kind {
	case "services", "routes":
		n, _ := f["name"].(string)
		return n == ""
	case "consumers":
		n, _ := f["username"].(string)
		return n == ""
	}
	return false
}

func (w *edit) noChildLists(f map[string]any) error {
	for _, c := range w.k.children {
		if _, ok := f[c]; ok {
			return schemaViolation(map[string]any{c: "unknown field"})
		}
	}
	return nil
}

func (w *edit) update(b *body, e *entity, urlKey string, replace bool) (int, any, error) {
	f := b.fields
	if b.form {
		coerceForm(w.k.plural, f)
	}
	if err := w.noChildLists(f); err != nil {
		return 0, nil, err
	}
	if id, ok := f["id"]; ok {
		if s, _ := id.(string); s != e.id {
			return 0, nil, schemaViolation(map[string]any{"id": "cannot change the id of an existing entity"})
		}
		delete(f, "id")
	}
	owner, seq, node, err := w.d.at(e.path)
	if err != nil {
		return 0, nil, err
	}
	// The parent this entity is nested under, if any.
	var nestedFK, parentPath string
	if i := strings.LastIndexByte(e.path, '.'); i >= 0 {
		parentPath = e.path[:i]
		pk := parentPath[strings.LastIndexByte(parentPath, '.')+1:]
		pk = pk[:strings.IndexByte(pk, '[')]
		nestedFK = singular(pk)
	}
	refs, err := w.resolveFKs(f)
	if err != nil {
		return 0, nil, err
	}
	// Where the entity goes: it stays, moves under another parent, or moves
	// to the top level with references (a nested entity cannot name another
	// scope, and one whose parent is unset has no parent).
	newParent, move := "", false
	for fk, pe := range refs {
		if fk != nestedFK {
			f[fk] = pe.id // top-level form: a reference by id
		}
	}
	if nestedFK != "" {
		parentID, unset := e.parents[nestedFK], false
		newParent = parentPath
		if v, ok := f[nestedFK]; ok && v == nil {
			unset = true
			delete(f, nestedFK)
		}
		if pe, ok := refs[nestedFK]; ok {
			delete(f, nestedFK)
			parentID = pe.id
			if pe.path != parentPath {
				newParent, move = pe.path, true
			}
		}
		if unset || len(refs) > 1 || (len(refs) == 1 && refs[nestedFK] == nil) {
			newParent, move = "", true
			if !unset {
				f[nestedFK] = parentID
			}
		}
	}
	if move {
		w.d.noteRemove(seq, node)
	} else {
		w.d.noteRerender(seq, node)
	}
	if w.k.plural == "services" && !replace {
		if err := serviceURL(node, f); err != nil {
			return 0, nil, err
		}
	}
	renamed := false
	if newKey, ok := f[w.k.key].(string); ok && w.k.key != "" && e.key != "" && newKey != e.key {
		renamed = true
		if err := w.renameRefs(e, newKey); err != nil {
			return 0, nil, err
		}
	}
	// Ids derived from names or scopes (services, routes, consumers and
	// upstreams by name; plugins and targets by their cache key) would change
	// with them; an update keeps the id, so it is written down.
	if _, has := f["name"]; renamed || move || len(refs) > 0 || replace ||
		(w.k.plural == "plugins" && has) || (w.k.plural == "targets" && f["target"] != nil) {
		if mapGet(node, "id") == nil {
			node.Content = append([]*yaml.Node{strScalar("id"), strScalar(e.id)}, node.Content...)
		}
	}
	if replace {
		if !isUUID(urlKey) && w.k.key != "" {
			if _, ok := f[w.k.key]; !ok {
				f[w.k.key] = urlKey
			}
		}
		fresh, err := toNode(f)
		if err != nil {
			return 0, nil, errMsg(400, err.Error())
		}
		keep := []string{"id"}
		keep = append(keep, w.k.children...)
		for _, fk := range fkFields[w.k.plural] {
			if _, set := f[fk[0]]; !set && newParent == "" && !move {
				keep = append(keep, fk[0]) // a top-level reference PUT did not name
			}
		}
		for _, key := range keep {
			if v := mapGet(node, key); v != nil && mapGet(fresh, key) == nil {
				mapSet(fresh, key, v)
			}
		}
		fresh.HeadComment, fresh.LineComment, fresh.FootComment = node.HeadComment, node.LineComment, node.FootComment
		*node = *fresh
	} else if err := merge(node, f, records); err != nil {
		return 0, nil, errMsg(400, err.Error())
	}
	path := e.path
	if move {
		removeFrom(seq, node)
		w.d.dropEmpty(owner, w.k.plural)
		target, prefix := w.d.root, ""
		if newParent != "" {
			_, _, pn, err := w.d.at(newParent)
			if err != nil {
				return 0, nil, err
			}
			target, prefix = pn, newParent+"."
		}
		s := list(target, w.k.plural)
		s.Content = append(s.Content, node)
		w.d.noteAppend(target, w.k.plural, s, node)
		path = prefix + w.k.plural + "[" + strconv.Itoa(len(s.Content)-1) + "]"
	}
	return w.commit(node, path, b.form, 200)
}

// referencing lists, for each collection, the collections whose top-level
// entries may name one of its entities, and the field they use.
var referencing = map[string][][2]string{
	"services":  {{"routes", "service"}, {"plugins", "service"}},
	"routes":    {{"plugins", "route"}},
	"consumers": {{"plugins", "consumer"}},
	"upstreams": {{"targets", "upstream"}},
}

// renameRefs follows a rename: top-level entries that reference e by its
// old name now use the new one.
func (w *edit) renameRefs(e *entity, newKey string) error {
	for _, ref := range referencing[w.k.plural] {
		for _, c := range w.ix.children(ref[0], w.k.singular, e.id) {
			if strings.Contains(c.path, ".") {
				continue // nested: no reference written
			}
			_, cseq, cn, err := w.d.at(c.path)
			if err != nil {
				return err
			}
			v := mapGet(cn, ref[1])
			if v != nil && v.Kind == yaml.MappingNode {
				v = mapGet(v, w.k.key)
			}
			if v != nil && v.Kind == yaml.ScalarNode && v.Value == e.key {
				w.d.noteRerender(cseq, cn)
				v.Value = newKey
			}
		}
	}
	return nil
}

func (w *edit) remove(e *entity) (int, any, error) {
	if w.k.plural == "services" {
		if len(w.ix.children("routes", "service", e.id)) > 0 {
			return 0, nil, referencedBy("services", "routes")
		}
	}
	type loc struct{ owner, seq, node *yaml.Node }
	var locs []loc
	add := func(path string) error {
		o, s, n, err := w.d.at(path)
		if err != nil {
			return err
		}
		locs = append(locs, loc{o, s, n})
		return nil
	}
	if err := add(e.path); err != nil {
		return 0, nil, err
	}
	// Cascade (Kong's on_delete): plugins of the entity and targets of an
	// upstream declared elsewhere in the file go with it.
	for _, dep := range [][2]string{{"plugins", w.k.singular}, {"targets", w.k.singular}} {
		for _, c := range w.ix.children(dep[0], dep[1], e.id) {
			if !strings.HasPrefix(c.path, e.path+".") {
				if err := add(c.path); err != nil {
					return 0, nil, err
				}
			}
		}
	}
	for _, l := range locs {
		w.d.noteRemove(l.seq, l.node)
		removeFrom(l.seq, l.node)
	}
	for _, l := range locs {
		for i := 0; i+1 < len(l.owner.Content); i += 2 {
			if l.owner.Content[i+1] == l.seq {
				w.d.dropEmpty(l.owner, l.owner.Content[i].Value)
				break
			}
		}
	}
	text, err := w.d.bytes()
	if err != nil {
		return 0, nil, err
	}
	if _, err := w.h.b.Validate(text); err != nil {
		return 0, nil, w.entityError(err, e.path)
	}
	if _, err := w.h.b.Write(text); err != nil {
		return 0, nil, w.entityError(err, e.path)
	}
	w.h.log.Info("entity deleted through the Admin API", "entity", w.k.singular, "id", e.id)
	return 204, nil, nil
}

// commit validates the edited document (coercing form strings to the types
// validation asks for), writes it and answers with the entity at path.
func (w *edit) commit(node *yaml.Node, path string, form bool, status int) (int, any, error) {
	for attempt := 0; ; attempt++ {
		text, err := w.d.bytes()
		if err != nil {
			return 0, nil, err
		}
		_, err = w.h.b.Validate(text)
		if err != nil {
			var ve *declarative.ValidationError
			if form && attempt < 8 && errors.As(err, &ve) && coerceFromErrors(node, path, ve) {
				continue
			}
			return 0, nil, w.entityError(err, path)
		}
		cfg, err := w.h.b.Write(text)
		if err != nil {
			return 0, nil, w.entityError(err, path)
		}
		for _, e := range buildIndex(cfg).lists[w.k.plural] {
			if e.path == path {
				w.h.log.Info("entity written through the Admin API", "entity", w.k.singular, "id", e.id)
				return status, e.obj, nil
			}
		}
		return 0, nil, fmt.Errorf("the written %s is not at %s in the reloaded config", w.k.singular, path)
	}
}

var pathTokRe = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// nodeAtPath finds the node under an entity for a loader error path
// relative to it ("config.timeout", "config.access[0]").
func nodeAtPath(m *yaml.Node, rel string) *yaml.Node {
	cur := m
	for _, tok := range pathTokRe.FindAllString(rel, -1) {
		if strings.HasPrefix(tok, "[") {
			n, _ := strconv.Atoi(tok[1 : len(tok)-1])
			if cur.Kind != yaml.SequenceNode || n >= len(cur.Content) {
				return nil
			}
			cur = cur.Content[n]
			continue
		}
		if cur = mapGet(cur, tok); cur == nil {
			return nil
		}
	}
	return cur
}

// coerceFromErrors converts form strings inside the entity that validation
// says have the wrong type (Kong converts form values by the schema; we
// learn the schema from the loader's messages). It reports whether it
// changed anything.
func coerceFromErrors(node *yaml.Node, path string, ve *declarative.ValidationError) bool {
	changed := false
	for _, fe := range ve.Errors {
		rel, ok := strings.CutPrefix(fe.Path, path+".")
		if !ok {
			continue
		}
		n := nodeAtPath(node, rel)
		if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			continue
		}
		switch fe.Message {
		case "expected an integer":
			if _, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
				n.Tag, n.Style, changed = "!!int", 0, true
			}
		case "expected a number":
			if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
				n.Tag, n.Style, changed = "!!float", 0, true
				if _, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
					n.Tag = "!!int"
				}
			}
		case "expected a boolean":
			if v, ok := parseBool(n.Value); ok {
				n.Tag, n.Value, n.Style, changed = "!!bool", strconv.FormatBool(v), 0, true
			}
		case "expected an array", "expected a set":
			item := *n
			*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{&item}}
			changed = true
		}
	}
	return changed
}

// entityError turns a failed validation of an edited document into Kong's
// answer for an entity write: 409 for a uniqueness violation, else a
// code-2 schema violation whose fields are the entity's own errors
// (errors elsewhere in the file are listed under "@entity" with their
// place).
func (w *edit) entityError(err error, path string) error {
	var ve *declarative.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var own []*declarative.FieldError
	var entityMsgs, others []any
	for _, fe := range ve.Errors {
		if m := uniquenessRe.FindStringSubmatch(fe.Message); m != nil && (fe.Path == path || strings.HasPrefix(fe.Path, path+".")) {
			field := m[2]
			if field == "primary key" {
				field = "id"
			}
			return uniqueViolation(field, m[3])
		}
		switch {
		case fe.Path == path:
			entityMsgs = append(entityMsgs, fe.Message)
		case strings.HasPrefix(fe.Path, path+"."):
			own = append(own, &declarative.FieldError{Path: fe.Path[len(path)+1:], Message: fe.Message})
		default:
			others = append(others, fe.Error())
		}
	}
	fields := map[string]any{}
	if len(own) > 0 {
		fields = (&declarative.ValidationError{Errors: own}).KongTree()
	}
	if all := append(entityMsgs, others...); len(all) > 0 {
		fields["@entity"] = all
	}
	return schemaViolation(fields)
}

// urlParts are the service fields the url shorthand sets.
var urlParts = []string{"protocol", "host", "port", "path"}

// serviceURL keeps a PATCH of a service meaningful next to the url
// shorthand, which the loader lets win over protocol, host, port and path:
// a new url drops those fields; a change of one of them expands the url
// already in the file into the four fields first.
func serviceURL(node *yaml.Node, f map[string]any) error {
	if _, ok := f["url"]; ok {
		for _, k := range urlParts {
			mapDel(node, k)
		}
		return nil
	}
	old := mapGet(node, "url")
	if old == nil || old.Kind != yaml.ScalarNode {
		return nil
	}
	touched := false
	for _, k := range urlParts {
		if _, ok := f[k]; ok {
			touched = true
		}
	}
	if !touched {
		return nil
	}
	u, err := url.Parse(old.Value)
	if err != nil {
		return schemaViolation(map[string]any{"url": "could not parse url. " + err.Error()})
	}
	proto := u.Scheme
	if proto == "" {
		proto = "http"
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if proto == "https" {
			port = "443"
		}
	}
	parts := []*yaml.Node{strScalar("protocol"), strScalar(proto), strScalar("host"), strScalar(u.Hostname()),
		strScalar("port"), {Kind: yaml.ScalarNode, Tag: "!!int", Value: port}}
	if p := u.EscapedPath(); p != "" {
		parts = append(parts, strScalar("path"), strScalar(p))
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "url" {
			rest := append(parts, node.Content[i+2:]...)
			node.Content = append(node.Content[:i], rest...)
			break
		}
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
