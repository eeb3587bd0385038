package declarative

import (
	"sort"
	"strconv"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// segment is one step of an error path: a map key or a list index.
type segment struct {
	key   string
	index int // -1 for a key
}

// splitPath parses "services[0].routes[1].paths[0]" into segments.
func splitPath(p string) []segment {
	var segs []segment
	i := 0
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
		case '[':
			j := i + 1
			for j < len(p) && p[j] != ']' {
				j++
			}
			n, err := strconv.Atoi(p[i+1 : j])
			if err != nil {
				segs = append(segs, segment{key: p[i+1 : j], index: -1})
			} else {
				segs = append(segs, segment{index: n})
			}
			i = j + 1
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			segs = append(segs, segment{key: p[i:j], index: -1})
			i = j
		}
	}
	return segs
}

// lineIndex maps error paths to lines using the YAML node tree.
type lineIndex struct {
	root *yaml.Node
	err  error // the node parser's error, if any
}

func newLineIndex(data []byte) *lineIndex {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return &lineIndex{err: err}
	}
	return &lineIndex{root: doc.Content[0]}
}

// line returns the line of the deepest node the path reaches: the key's line
// for a map field, the item's line for a list element, and for a missing
// field the line of the entity that should hold it.
func (li *lineIndex) line(path string) int {
	n := li.root
	if n == nil {
		return 0
	}
	best := n.Line
	for _, s := range splitPath(path) {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		line := 0
		if s.index >= 0 {
			if n.Kind == yaml.SequenceNode && s.index < len(n.Content) {
				next = n.Content[s.index]
				line = next.Line
			}
		} else if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s.key {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return best
		}
		n, best = next, line
	}
	return best
}

// comparePaths orders paths segment by segment, indexes numerically.
func comparePaths(a, b string) int {
	if a == b {
		return 0
	}
	sa, sb := splitPath(a), splitPath(b)
	for i := 0; i < len(sa) && i < len(sb); i++ {
		x, y := sa[i], sb[i]
		switch {
		case x.index >= 0 && y.index >= 0:
			if x.index != y.index {
				if x.index < y.index {
					return -1
				}
				return 1
			}
		case x.index >= 0:
			return -1
		case y.index >= 0:
			return 1
		case x.key != y.key:
			if x.key < y.key {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(sa) < len(sb):
		return -1
	case len(sa) > len(sb):
		return 1
	}
	if a < b {
		return -1
	}
	return 1
}

// sortErrors orders errors by line, then path, then message.
func sortErrors(errs []*FieldError) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if c := comparePaths(a.Path, b.Path); c != 0 {
			return c < 0
		}
		return a.Message < b.Message
	})
}
