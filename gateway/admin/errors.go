package admin

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"luagate/declarative"
)

// Kong's error codes (Kong/kong:kong/db/errors.lua).
const (
	codeSchemaViolation     = 2
	codeForeignKeyViolation = 4
	codeUniqueViolation     = 5
	codeNotFound            = 6
	codeInvalidOffset       = 7
	codeOperationUnsup      = 12
	codeDeclarativeConfig   = 14
)

// declarativeError is the 400 answer of POST /config for a config that does
// not load (spec 2.4): {code: 14, name, message, fields[, flattened_errors]}.
// input is the posted text, used to fill the flattened entities.
func declarativeError(err error, flatten bool, input map[string]any) *apiError {
	var tree map[string]any
	var ve *declarative.ValidationError
	if errors.As(err, &ve) {
		tree = ve.KongTree()
	} else {
		tree = map[string]any{"error": err.Error()}
	}
	body := map[string]any{"code": codeDeclarativeConfig, "name": "invalid declarative configuration"}
	if flatten {
		flat := flattenErrors(tree, input)
		if flat == nil {
			flat = []any{}
		}
		body["flattened_errors"] = flat
	}
	body["fields"] = tree
	body["message"] = "declarative config is invalid: " + luaDump(tree)
	return &apiError{status: 400, body: body}
}

// childLists are the one-to-many relationships a kong.yml entity nests:
// collection -> child collection -> the child's foreign key field.
var childLists = map[string][][2]string{
	"services":     {{"routes", "service"}, {"plugins", "service"}},
	"routes":       {{"plugins", "route"}},
	"consumers":    {{"plugins", "consumer"}},
	"upstreams":    {{"targets", "upstream"}},
	"certificates": {{"snis", "certificate"}},
}

// flattenErrors is Kong's flatten_errors (Kong/kong:kong/db/errors.lua): it
// drains the errors of every entity section out of tree into one item per
// entity, nested children hoisted with their parent's {id}. A string error
// at an entity's place becomes an entity error (Kong/kong#12167).
func flattenErrors(tree map[string]any, input map[string]any) []any {
	var out []any
	for _, section := range sortedKeys(tree) {
		errs, ok := tree[section].([]any)
		if !ok || childLists[section] == nil && kinds[section] == nil {
			continue
		}
		entities, ok := input[section].([]any)
		if !ok {
			continue
		}
		rest := make([]any, len(errs))
		kept := false
		for i, e := range errs {
			if e == nil {
				continue
			}
			if i < len(entities) {
				if ent, ok := entities[i].(map[string]any); ok {
					addEntityErrors(section, ent, e, &out)
					continue
				}
			}
			rest[i], kept = e, true
		}
		if kept {
			tree[section] = rest
		} else {
			delete(tree, section)
		}
	}
	return out
}

func addEntityErrors(kind string, entity map[string]any, errT any, out *[]any) {
	entity = shallowCopy(entity)
	var errs []any
	switch e := errT.(type) {
	case string:
		errs = append(errs, map[string]any{"type": "entity", "message": e})
	case map[string]any:
		e = shallowCopy(e)
		var pk any
		if id, ok := entity["id"].(string); ok && isUUID(id) {
			pk = map[string]any{"id": id}
		}
		for _, rel := range childLists[kind] {
			child, fkField := rel[0], rel[1]
			items, ok := entity[child].([]any)
			if !ok {
				continue
			}
			delete(entity, child)
			childErrs, _ := e[child].([]any)
			delete(e, child)
			for i, ce := range childErrs {
				if ce == nil || i >= len(items) {
					continue
				}
				item, ok := items[i].(map[string]any)
				if !ok {
					continue
				}
				item = shallowCopy(item)
				if _, set := item[fkField]; !set && pk != nil {
					item[fkField] = pk
				}
				addEntityErrors(child, item, ce, out)
			}
		}
		if len(e) == 0 {
			return
		}
		errs = categorize(e, "", errs)
	default:
		return
	}
	if len(errs) == 0 {
		return
	}
	item := map[string]any{"entity_type": singular(kind), "entity": entity, "errors": errs}
	if n, ok := entity["name"].(string); ok && n != "" {
		item["entity_name"] = n
	}
	if id, ok := entity["id"].(string); ok && isUUID(id) {
		item["entity_id"] = id
	}
	if tags, ok := entity["tags"].([]any); ok {
		good := true
		for _, t := range tags {
			if _, ok := t.(string); !ok {
				good = false
			}
		}
		if good {
			item["entity_tags"] = tags
		}
	}
	*out = append(*out, item)
}

// categorize turns an entity's error tree into field and entity errors,
// fields named by their dotted path (list positions 1-based).
func categorize(errT any, ns string, out []any) []any {
	join := func(k string) string {
		if ns == "" {
			return k
		}
		return ns + "." + k
	}
	switch e := errT.(type) {
	case map[string]any:
		for _, k := range sortedKeys(e) {
			v := e[k]
			if k == "@entity" {
				out = entityErrs(v, out)
				continue
			}
			if s, ok := v.(string); ok {
				out = append(out, map[string]any{"type": "field", "field": join(k), "message": s})
				continue
			}
			out = categorize(v, join(k), out)
		}
	case []any:
		for i, v := range e {
			if v == nil {
				continue
			}
			k := strconv.Itoa(i + 1)
			if s, ok := v.(string); ok {
				out = append(out, map[string]any{"type": "field", "field": join(k), "message": s})
				continue
			}
			out = categorize(v, join(k), out)
		}
	case string:
		out = append(out, map[string]any{"type": "field", "field": ns, "message": e})
	}
	return out
}

func entityErrs(v any, out []any) []any {
	switch e := v.(type) {
	case string:
		out = append(out, map[string]any{"type": "entity", "message": e})
	case []any:
		for _, x := range e {
			out = entityErrs(x, out)
		}
	}
	return out
}

func singular(kind string) string {
	if k := kinds[kind]; k != nil {
		return k.singular
	}
	return strings.TrimSuffix(kind, "s")
}

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidRe.MatchString(s) }

var luaIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// luaDump renders v as Penlight's pretty.write(v, "") does for error
// trees: no white space, array items first, then keys in sorted order,
// identifier keys bare, other keys as ["k"], list holes as explicit [n]=.
func luaDump(v any) string {
	var b strings.Builder
	dump(&b, v)
	return b.String()
}

func dump(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("nil")
	case string:
		b.WriteString(luaQuote(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case []any:
		b.WriteByte('{')
		sparse := false
		for _, e := range x {
			if e == nil {
				sparse = true
			}
		}
		first := true
		for i, e := range x {
			if e == nil {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			if sparse {
				fmt.Fprintf(b, "[%d]=", i+1)
			}
			dump(b, e)
		}
		b.WriteByte('}')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			if luaIdent.MatchString(k) {
				b.WriteString(k)
			} else {
				b.WriteString("[" + luaQuote(k) + "]")
			}
			b.WriteByte('=')
			dump(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, x)
	}
}

func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// schemaViolation is Kong's code-2 error for an entity write: fields is
// the entity's own error tree.
func schemaViolation(fields map[string]any) *apiError {
	var buf []string
	buf = entityMsgs(fields["@entity"], buf)
	for _, k := range sortedKeys(fields) {
		if k == "@entity" {
			continue
		}
		switch v := fields[k].(type) {
		case string:
			buf = append(buf, k+": "+v)
		case map[string]any:
			for _, sk := range sortedKeys(v) {
				buf = append(buf, k+"."+sk+": "+flatText(v[sk]))
			}
		case []any:
			for i, e := range v {
				if e != nil {
					buf = append(buf, k+"."+strconv.Itoa(i+1)+": "+flatText(e))
				}
			}
		}
	}
	msg := ""
	if len(buf) == 1 {
		msg = "schema violation (" + buf[0] + ")"
	} else {
		msg = fmt.Sprintf("%d schema violations (%s)", len(buf), strings.Join(buf, "; "))
	}
	return &apiError{status: 400, body: map[string]any{
		"code": codeSchemaViolation, "name": "schema violation", "message": msg, "fields": fields,
	}}
}

func entityMsgs(v any, buf []string) []string {
	switch e := v.(type) {
	case string:
		buf = append(buf, e)
	case []any:
		for _, x := range e {
			buf = entityMsgs(x, buf)
		}
	}
	return buf
}

func flatText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return luaDump(v)
}

// uniquenessRe parses the loader's uniqueness message.
var uniquenessRe = regexp.MustCompile(`^uniqueness violation: '([a-z_]+)' entity with ([a-z_ ]+) set to '(.*)' already declared$`)

// uniqueViolation is Kong's 409 for a duplicate unique field.
func uniqueViolation(field, value string) *apiError {
	return &apiError{status: 409, body: map[string]any{
		"code": codeUniqueViolation, "name": "unique constraint violation",
		"message": fmt.Sprintf("UNIQUE violation detected on '{%s=%s}'", field, luaQuote(value)),
		"fields":  map[string]any{field: value},
	}}
}

// notFoundErr is Kong's code-6 404 for a missing entity in an update.
func notFoundErr(key string) *apiError {
	field := "id"
	if !isUUID(key) {
		field = "name"
	}
	return &apiError{status: 404, body: map[string]any{
		"code": codeNotFound, "name": "not found",
		"message": fmt.Sprintf("could not find the entity with primary key '{%s=%s}'", field, luaQuote(key)),
		"fields":  map[string]any{field: key},
	}}
}

// fkViolation is Kong's 400 for a foreign key that references nothing.
func fkViolation(field, parentKind, key string) *apiError {
	kf := "id"
	if !isUUID(key) {
		kf = kinds[parentKind].key
	}
	return &apiError{status: 400, body: map[string]any{
		"code": codeForeignKeyViolation, "name": "foreign key violation",
		"message": fmt.Sprintf("the foreign key '{%s=%s}' does not reference an existing '%s' entity.", kf, luaQuote(key), parentKind),
		"fields":  map[string]any{field: map[string]any{kf: key}},
	}}
}

// referencedBy is Kong's 400 when deleting an entity others still need.
func referencedBy(parentKind, childKind string) *apiError {
	return &apiError{status: 400, body: map[string]any{
		"code": codeForeignKeyViolation, "name": "foreign key violation",
		"message": fmt.Sprintf("an existing '%s' entity references this '%s' entity", childKind, parentKind),
		"fields":  map[string]any{"@referenced_by": childKind},
	}}
}

// unsupported is Kong's DB-less 405 (spec 4.1), for KONG_ADMIN_WRITES=off.
func unsupported(msg string) *apiError {
	return &apiError{status: 405, body: map[string]any{
		"code": codeOperationUnsup, "name": "operation unsupported", "message": msg,
	}}
}
