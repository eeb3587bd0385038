package declarative

import (
	"errors"
	"strconv"
	"strings"
)

// FormatText renders an error from Load one problem per line (lines joined
// by "\n", no trailing newline), as
// `luagate config parse` prints it:
//
//	kong.yml:12: services[0].routes[1].paths[0]: should start with: / (fixed path) or ~/ (regex path)
//
// The file part is "<input>" for text without a file name; ":line" is left
// out when the line is unknown. Any other error is printed as is.
func FormatText(err error) string {
	if err == nil {
		return ""
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	name := ve.File
	if name == "" {
		name = "<input>"
	}
	var b strings.Builder
	for i, fe := range ve.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(name)
		if fe.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(fe.Line))
		}
		b.WriteString(": ")
		if fe.Path != "" {
			b.WriteString(fe.Path)
			b.WriteString(": ")
		}
		b.WriteString(fe.Message)
	}
	return b.String()
}

// KongTree renders the errors as Kong's nested error tree (spec 2.1): map
// keys are field names, list positions are 1-based and rendered as Kong's
// JSON does (arrays with null holes), entity-level messages go into an
// "@entity" list, and a parse error is {"error": "<message>"}.
func (e *ValidationError) KongTree() map[string]any {
	root := map[string]any{}
	for _, fe := range e.Errors {
		if fe.Path == "" {
			root["error"] = fe.Message
			continue
		}
		if fe.kong != nil {
			kongKeyed(root, fe.kong, fe.Message)
			continue
		}
		segs := splitPath(fe.Path)
		entity := isEntityPath(segs)
		if entity && strings.HasPrefix(fe.Message, "uniqueness violation: ") {
			// Kong replaces the whole entry of the second occurrence.
			entity = false
		}
		var cur any = root
		for i, s := range segs {
			last := i == len(segs)-1
			var next any
			if last && !entity {
				next = fe.Message
			}
			cur = treeStep(cur, s, next, last && !entity)
			if cur == nil {
				break
			}
		}
		if entity && cur != nil {
			if m, ok := cur.(map[string]any); ok {
				list, _ := m["@entity"].([]any)
				m["@entity"] = append(list, fe.Message)
			}
		}
	}
	return denseTree(root).(map[string]any)
}

// kongKeyed stores msg at a Kong-specific place (see FieldError.kong).
func kongKeyed(root map[string]any, where []string, msg string) {
	m := root
	for i, k := range where {
		last := i == len(where)-1
		if last {
			m[k] = msg
			return
		}
		if i == len(where)-2 && where[i+1] == "[]" {
			list, _ := m[k].([]any)
			m[k] = append(list, msg)
			return
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			if _, exists := m[k]; exists {
				return
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
}

// isEntityPath reports whether a path ends at an entity (a list element of
// an entity list), i.e. the error is an entity-level check.
func isEntityPath(segs []segment) bool {
	return len(segs) > 0 && segs[len(segs)-1].index >= 0 && len(segs) >= 2 && entityLists[segs[len(segs)-2].key]
}

var entityLists = map[string]bool{
	"services": true, "routes": true, "plugins": true, "consumers": true, "upstreams": true,
	"targets": true, "certificates": true, "snis": true,
}

// treeStep descends one segment, creating maps as needed. Indexes are kept in
// maps keyed by the 1-based number until denseTree turns them into lists.
func treeStep(cur any, s segment, leaf any, isLeaf bool) any {
	m, ok := cur.(map[string]any)
	if !ok {
		return nil // a string already sits here (e.g. a uniqueness violation)
	}
	key := s.key
	if s.index >= 0 {
		key = "#" + strconv.Itoa(s.index+1)
	}
	if isLeaf {
		if _, exists := m[key]; !exists || strings.HasPrefix(leaf.(string), "uniqueness violation: ") {
			m[key] = leaf
		}
		return nil
	}
	next, ok := m[key].(map[string]any)
	if !ok {
		if _, exists := m[key]; exists {
			return nil
		}
		next = map[string]any{}
		m[key] = next
	}
	return next
}

// denseTree turns maps whose keys are all "#n" into lists with nil holes.
func denseTree(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	numeric, max := len(m) > 0, 0
	for k := range m {
		// "#n" (n >= 1) marks a list position; a field that merely starts
		// with "#" (an unknown key such as "0[#") is a field.
		n, err := strconv.Atoi(strings.TrimPrefix(k, "#"))
		if !strings.HasPrefix(k, "#") || err != nil || n < 1 || n > 1<<20 {
			numeric = false
			break
		}
		if n > max {
			max = n
		}
	}
	if numeric {
		list := make([]any, max)
		for k, x := range m {
			n, _ := strconv.Atoi(k[1:])
			list[n-1] = denseTree(x)
		}
		return list
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[strings.TrimPrefix(k, "#")] = denseTree(x)
	}
	return out
}
