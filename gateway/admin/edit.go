package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// doc is kong.yml as a YAML node tree, edited in place so that comments and
// every entity the edit does not touch are kept.
type doc struct {
	top  *yaml.Node // the document node
	root *yaml.Node // its mapping
	json bool       // the file is JSON: write JSON back

	lay      *layout  // the original text, for splicing (nil: none)
	intents  []intent // what the edit did (splice.go)
	fallback bool     // splicing impossible: re-encode the whole tree
}

// parseDoc parses the running config's text. An empty text gives a new
// document with _format_version "3.0".
func parseDoc(raw []byte) (*doc, error) {
	d := &doc{}
	trimmed := bytes.TrimSpace(raw)
	d.json = len(trimmed) > 0 && trimmed[0] == '{'
	var top yaml.Node
	if len(trimmed) > 0 {
		if err := yaml.Unmarshal(raw, &top); err != nil {
			return nil, fmt.Errorf("parsing the running kong.yml: %w", err)
		}
	}
	if top.Kind != yaml.DocumentNode || len(top.Content) == 0 {
		top = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	d.top, d.root = &top, top.Content[0]
	if d.root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the running kong.yml is not a mapping")
	}
	if mapGet(d.root, "_format_version") == nil {
		d.root.Content = append([]*yaml.Node{strScalar("_format_version"), strScalar("3.0")}, d.root.Content...)
		d.fallback = true
	}
	if d.json {
		unflow(d.root) // re-encoded below as JSON anyway
	} else if len(trimmed) > 0 && d.root.Style&yaml.FlowStyle == 0 {
		d.lay = newLayout(raw, d.root)
	}
	return d, nil
}

// bytes encodes the document: YAML with two-space indentation, or JSON for
// a JSON file.
func (d *doc) bytes() ([]byte, error) {
	if d.json {
		var v any
		if err := d.root.Decode(&v); err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(jsonSafe(v), "", "  ")
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if d.compact() {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(d.top); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	full := buf.Bytes()
	if s, ok := d.spliced(); ok && sameYAML([]byte(s), full) {
		return []byte(s), nil
	}
	return full, nil
}

// dropEmpty removes key from m when its list became empty.
func (d *doc) dropEmpty(m *yaml.Node, key string) {
	if s := mapGet(m, key); s != nil && s.Kind == yaml.SequenceNode && len(s.Content) == 0 {
		d.noteDropKey(m, key)
		mapDel(m, key)
	}
}

// jsonSafe turns map[string]any trees from yaml.v3 into JSON-encodable ones.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonSafe(e)
		}
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonSafe(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonSafe(e)
		}
	}
	return v
}

func unflow(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	for _, c := range n.Content {
		unflow(c)
	}
}

// at returns the node at an entity path ("services[0].routes[1]") with the
// sequence holding it and the mapping holding that sequence.
func (d *doc) at(path string) (owner, seq, node *yaml.Node, err error) {
	cur := d.root
	for _, part := range strings.Split(path, ".") {
		name, idx, ok := strings.Cut(part, "[")
		if !ok {
			return nil, nil, nil, fmt.Errorf("entity path %q: no index", path)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("entity path %q: %w", path, err)
		}
		if cur.Kind != yaml.MappingNode {
			return nil, nil, nil, fmt.Errorf("entity path %q: %q is not in a mapping", path, name)
		}
		s := mapGet(cur, name)
		if s == nil || s.Kind != yaml.SequenceNode || n >= len(s.Content) {
			return nil, nil, nil, fmt.Errorf("entity path %q: no such entry in kong.yml", path)
		}
		owner, seq, cur = cur, s, s.Content[n]
	}
	return owner, seq, cur, nil
}

// list returns the sequence under key in mapping m, created when missing.
func list(m *yaml.Node, key string) *yaml.Node {
	if s := mapGet(m, key); s != nil {
		if s.Kind == yaml.SequenceNode {
			s.Style &^= yaml.FlowStyle
			return s
		}
		// null or empty: make it a list
		*s = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		return s
	}
	s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	m.Content = append(m.Content, strScalar(key), s)
	return s
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			// keep the comments that were on the old value
			v.HeadComment, v.LineComment = m.Content[i+1].HeadComment, m.Content[i+1].LineComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, strScalar(key), v)
}

func mapDel(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// removeFrom removes node from seq (by identity); false when absent.
func removeFrom(seq, node *yaml.Node) bool {
	for i, c := range seq.Content {
		if c == node {
			seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
			return true
		}
	}
	return false
}

func strScalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

// keyOrder puts the identifying fields of an entity first.
var keyOrder = map[string]int{
	"id": 1, "name": 2, "username": 3, "custom_id": 4, "instance_name": 5, "target": 6, "url": 7,
	"protocol": 8, "host": 9, "port": 10, "path": 11,
	"config": 90, "routes": 95, "plugins": 96, "targets": 97, "snis": 98,
}

// toNode turns a decoded JSON/form value into a YAML node.
func toNode(v any) (*yaml.Node, error) {
	switch x := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case string:
		return strScalar(x), nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}, nil
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: string(x)}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: string(x)}, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(x), 10)}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			c, err := toNode(e)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			oi, oj := keyOrder[keys[i]], keyOrder[keys[j]]
			if oi == 0 {
				oi = 50
			}
			if oj == 0 {
				oj = 50
			}
			if oi != oj {
				return oi < oj
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			c, err := toNode(x[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, strScalar(k), c)
		}
		return n, nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

// merge applies a PATCH body to an entity mapping: records (config,
// healthchecks) merge key by key, every other field is replaced. A nil
// records merges every map (inside a record).
func merge(m *yaml.Node, fields map[string]any, records map[string]bool) error {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fields[k]
		if sub, ok := v.(map[string]any); ok && (records == nil || records[k]) {
			if old := mapGet(m, k); old != nil && old.Kind == yaml.MappingNode {
				if err := merge(old, sub, nil); err != nil {
					return err
				}
				continue
			}
		}
		n, err := toNode(v)
		if err != nil {
			return err
		}
		mapSet(m, k, n)
	}
	return nil
}
