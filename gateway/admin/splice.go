package admin

import (
	"bytes"
	"reflect"
	"sort"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Layout-preserving output. An entity write changes one entity (and, for a
// delete, the plugins that cascade with it); everything else in kong.yml
// should stay byte for byte. The edit code records what it did as intents;
// bytes() turns them into line splices of the original text: re-render an
// entity in place, remove an entity's lines, append an entity to a list.
// The result is checked against a full re-encoding of the edited tree and
// the full re-encoding is used whenever splicing is not possible (JSON
// files, flow-style lists, an unexpected shape) or would differ.

type intentKind int

const (
	intentRerender intentKind = iota
	intentRemove
	intentAppend
	intentDropKey
)

type intent struct {
	kind       intentKind
	node       *yaml.Node // the entity (rerender, remove, append)
	start, end int        // original line range [start, end), 0-based
	col        int        // dash column of the entity
	owner      *yaml.Node // append, drop key: the mapping holding the list
	seq        *yaml.Node // append: the list
	key        string     // append, drop key: the list's key
}

// lines of the original text, and where block entries start.
type layout struct {
	lines []string
	// entryCol[i] is the smallest column at which a block mapping key or a
	// block list item starts on line i, -1 when none.
	entryCol []int
	// seqOffset is how far list dashes sit right of their key in this
	// file: 0 ("key:\n- a") or 2 ("key:\n  - a").
	seqOffset int
}

func newLayout(raw []byte, root *yaml.Node) *layout {
	text := string(raw)
	text = strings.TrimSuffix(text, "\n")
	l := &layout{lines: strings.Split(text, "\n"), seqOffset: -1}
	l.entryCol = make([]int, len(l.lines))
	for i := range l.entryCol {
		l.entryCol[i] = -1
	}
	l.walk(root, -1)
	if l.seqOffset < 0 {
		l.seqOffset = 2
	}
	return l
}

func (l *layout) mark(line, col int) {
	i := line - 1
	if i < 0 || i >= len(l.lines) {
		return
	}
	if l.entryCol[i] < 0 || col < l.entryCol[i] {
		l.entryCol[i] = col
	}
}

// dashCol finds the column of the "-" that introduces an item whose
// content starts at (line, col); -1 when there is none.
func (l *layout) dashCol(line, col int) int {
	i := line - 1
	if i < 0 || i >= len(l.lines) {
		return -1
	}
	s := l.lines[i]
	for c := min(col-2, len(s)-1); c >= 0; c-- {
		switch s[c] {
		case '-':
			return c
		case ' ':
		default:
			return -1
		}
	}
	return -1
}

func (l *layout) walk(n *yaml.Node, keyCol int) {
	if n == nil || n.Style&yaml.FlowStyle != 0 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			l.mark(k.Line, k.Column-1)
			l.walk(n.Content[i+1], k.Column-1)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if d := l.dashCol(c.Line, c.Column-1); d >= 0 {
				l.mark(c.Line, d)
				if l.seqOffset < 0 && keyCol >= 0 {
					l.seqOffset = d - keyCol
				}
			}
			l.walk(c, -1)
		}
	}
}

// endOf is the end (exclusive, 0-based) of the block that starts on line
// start (0-based) at column col: the next entry at col or left of it,
// without the blank and comment lines just before that entry.
func (l *layout) endOf(start, col int) int {
	end := len(l.lines)
	for i := start + 1; i < len(l.lines); i++ {
		if c := l.entryCol[i]; c >= 0 && c <= col {
			end = i
			break
		}
	}
	for end > start+1 {
		t := strings.TrimSpace(l.lines[end-1])
		ind := len(l.lines[end-1]) - len(strings.TrimLeft(l.lines[end-1], " "))
		if t == "" || (strings.HasPrefix(t, "#") && ind <= col) {
			end--
			continue
		}
		break
	}
	return end
}

// itemRange is the original line range and dash column of a list item.
func (d *doc) itemRange(seq, node *yaml.Node) (start, end, col int, ok bool) {
	if d.lay == nil || node.Line == 0 || seq.Style&yaml.FlowStyle != 0 || node.Style&yaml.FlowStyle != 0 {
		return 0, 0, 0, false
	}
	col = d.lay.dashCol(node.Line, node.Column-1)
	if col < 0 {
		return 0, 0, 0, false
	}
	start = node.Line - 1
	return start, d.lay.endOf(start, col), col, true
}

// noteRerender records that the entity node (in seq) changed in place.
// Call it before changing the node.
func (d *doc) noteRerender(seq, node *yaml.Node) {
	s, e, c, ok := d.itemRange(seq, node)
	if !ok {
		d.fallback = true
		return
	}
	d.intents = append(d.intents, intent{kind: intentRerender, node: node, start: s, end: e, col: c})
}

// noteRemove records that the entity node is removed from seq. Call it
// before removing.
func (d *doc) noteRemove(seq, node *yaml.Node) {
	s, e, c, ok := d.itemRange(seq, node)
	if !ok {
		d.fallback = true
		return
	}
	d.intents = append(d.intents, intent{kind: intentRemove, node: node, start: s, end: e, col: c})
}

// noteAppend records that node was appended to the list seq under key of
// mapping owner.
func (d *doc) noteAppend(owner *yaml.Node, key string, seq, node *yaml.Node) {
	d.intents = append(d.intents, intent{kind: intentAppend, node: node, owner: owner, seq: seq, key: key})
}

// noteDropKey records that key (an emptied list) was removed from owner.
// Call it before removing.
func (d *doc) noteDropKey(owner *yaml.Node, key string) {
	for i := 0; i+1 < len(owner.Content); i += 2 {
		k := owner.Content[i]
		if k.Value != key {
			continue
		}
		if d.lay == nil || k.Line == 0 {
			d.fallback = true
			return
		}
		start := k.Line - 1
		d.intents = append(d.intents, intent{kind: intentDropKey, owner: owner, key: key, start: start, end: d.lay.endOf(start, k.Column-1), col: k.Column - 1})
		return
	}
}

type splice struct {
	start, end int // lines replaced, [start, end); start == end inserts
	text       []string
	seq        int // order of insertions at the same place
}

// renderItem encodes node as one list item at a dash column.
func renderItem(node *yaml.Node, col int, compact bool) ([]string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if compact {
		enc.CompactSeqIndent()
	}
	err := enc.Encode(&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{node}})
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return nil, err
	}
	pad := strings.Repeat(" ", col)
	out := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i, s := range out {
		if s != "" {
			out[i] = pad + s
		}
	}
	return out, nil
}

// entityRange finds the original range of an entity mapping that is an
// item of some list, by searching the tree.
func (d *doc) entityRange(m *yaml.Node) (start, end, col int, ok bool) {
	var seq *yaml.Node
	var find func(n *yaml.Node) bool
	find = func(n *yaml.Node) bool {
		for _, c := range n.Content {
			if c == m && n.Kind == yaml.SequenceNode {
				seq = n
				return true
			}
			if find(c) {
				return true
			}
		}
		return false
	}
	if !find(d.root) {
		return 0, 0, 0, false
	}
	return d.itemRange(seq, m)
}

// spliced renders the intents over the original text; ok is false when it
// cannot.
func (d *doc) spliced() (string, bool) {
	if d.lay == nil || d.fallback || d.json {
		return "", false
	}
	var out []splice
	inside := func(line int, except *intent) bool {
		for i := range d.intents {
			it := &d.intents[i]
			if it != except && (it.kind == intentRerender || it.kind == intentDropKey) && line > it.start && line < it.end {
				return true
			}
		}
		return false
	}
	// Appends grouped by list.
	type group struct {
		owner *yaml.Node
		seq   *yaml.Node
		key   string
		nodes []*yaml.Node
	}
	var groups []*group
	for i := range d.intents {
		it := &d.intents[i]
		switch it.kind {
		case intentRerender:
			text, err := renderItem(it.node, it.col, d.compact())
			if err != nil {
				return "", false
			}
			out = append(out, splice{start: it.start, end: it.end, text: text, seq: i})
		case intentRemove:
			if inside(it.start, it) {
				continue // within a re-rendered or dropped block
			}
			out = append(out, splice{start: it.start, end: it.end, seq: i})
		case intentDropKey:
			out = append(out, splice{start: it.start, end: it.end, seq: i})
		case intentAppend:
			var g *group
			for _, x := range groups {
				if x.seq == it.seq {
					g = x
				}
			}
			if g == nil {
				g = &group{owner: it.owner, seq: it.seq, key: it.key}
				groups = append(groups, g)
			}
			g.nodes = append(g.nodes, it.node)
		}
	}
	for gi, g := range groups {
		// The last item of the list that came from the file.
		var last *yaml.Node
		for _, c := range g.seq.Content {
			if c.Line > 0 {
				last = c
			}
		}
		var at, col int
		var head []string
		switch {
		case last != nil:
			s, e, c, ok := d.itemRange(g.seq, last)
			if !ok {
				return "", false
			}
			if inside(s, nil) {
				continue // the owner is re-rendered whole
			}
			at, col = e, c
		default:
			// A new or emptied list: where the owner's entries end.
			keyCol, end, ok := d.ownerEnd(g.owner)
			if !ok {
				return "", false
			}
			if inside(max(end-1, 0), nil) {
				continue
			}
			// An existing "key:" / "key: []" line is replaced.
			for i := 0; i+1 < len(g.owner.Content); i += 2 {
				if k := g.owner.Content[i]; k.Value == g.key && k.Line > 0 {
					s := k.Line - 1
					out = append(out, splice{start: s, end: d.lay.endOf(s, k.Column-1), seq: 1000 + gi})
				}
			}
			at, col = end, keyCol+d.lay.seqOffset
			head = []string{strings.Repeat(" ", keyCol) + g.key + ":"}
		}
		text := head
		for _, n := range g.nodes {
			lines, err := renderItem(n, col, d.compact())
			if err != nil {
				return "", false
			}
			text = append(text, lines...)
		}
		out = append(out, splice{start: at, end: at, text: text, seq: 2000 + gi})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].start != out[j].start {
			return out[i].start < out[j].start
		}
		return out[i].seq < out[j].seq
	})
	var b strings.Builder
	pos := 0
	for _, s := range out {
		if s.start < pos {
			return "", false // overlapping edits
		}
		for ; pos < s.start; pos++ {
			b.WriteString(d.lay.lines[pos])
			b.WriteByte('\n')
		}
		for _, t := range s.text {
			b.WriteString(t)
			b.WriteByte('\n')
		}
		pos = max(pos, s.end)
	}
	for ; pos < len(d.lay.lines); pos++ {
		b.WriteString(d.lay.lines[pos])
		b.WriteByte('\n')
	}
	return b.String(), true
}

// compact reports whether the file puts list dashes under their key's
// first letter ("key:\n- a"), as Kong's examples do.
func (d *doc) compact() bool { return d.lay != nil && d.lay.seqOffset == 0 }

// ownerEnd gives the key column of a mapping from the file and the line
// where its block ends.
func (d *doc) ownerEnd(m *yaml.Node) (keyCol, end int, ok bool) {
	var first *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Line > 0 {
			first = m.Content[i]
			break
		}
	}
	if first == nil {
		return 0, 0, false
	}
	if m == d.root {
		end := len(d.lay.lines)
		for end > 0 && strings.TrimSpace(d.lay.lines[end-1]) == "" {
			end--
		}
		return first.Column - 1, end, true
	}
	s, e, _, ok := d.entityRange(m)
	if !ok {
		return 0, 0, false
	}
	_ = s
	return first.Column - 1, e, true
}

// sameYAML reports whether two texts decode to the same value.
func sameYAML(a, b []byte) bool {
	var va, vb any
	if yaml.Unmarshal(a, &va) != nil || yaml.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
