package router

import (
	"strings"
)

// trieNode is a node of a radix tree over path keys. ranks lists, in
// ascending rank order, the matchers whose index key ends at this node.
type trieNode struct {
	label    string
	indices  string // first byte of each child's label
	children []*trieNode
	ranks    []int32
}

func (n *trieNode) add(rank int32) {
	if k := len(n.ranks); k > 0 && n.ranks[k-1] == rank {
		return
	}
	n.ranks = append(n.ranks, rank)
}

// insert adds rank under key. Ranks must be inserted in ascending order.
func (n *trieNode) insert(key string, rank int32) {
	for {
		if key == "" {
			n.add(rank)
			return
		}
		i := strings.IndexByte(n.indices, key[0])
		if i < 0 {
			c := &trieNode{label: key}
			c.add(rank)
			n.indices += key[:1]
			n.children = append(n.children, c)
			return
		}
		c := n.children[i]
		l := commonPrefix(key, c.label)
		if l < len(c.label) {
			mid := &trieNode{label: c.label[:l], indices: c.label[l : l+1], children: []*trieNode{c}}
			c.label = c.label[l:]
			n.children[i] = mid
			c = mid
		}
		key = key[l:]
		n = c
	}
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// collect appends the rank lists of every node whose key is a prefix of path.
func (n *trieNode) collect(path string, lists [][]int32) [][]int32 {
	if len(n.ranks) > 0 {
		lists = append(lists, n.ranks)
	}
	for path != "" {
		i := strings.IndexByte(n.indices, path[0])
		if i < 0 {
			return lists
		}
		c := n.children[i]
		if !strings.HasPrefix(path, c.label) {
			return lists
		}
		path = path[len(c.label):]
		n = c
		if len(n.ranks) > 0 {
			lists = append(lists, n.ranks)
		}
	}
	return lists
}

// hostIndex narrows the candidates by host: each bucket is a path trie.
type hostIndex struct {
	exact  map[string]*trieNode // plain hosts (lowercase, port stripped)
	suffix map[string]*trieNode // "*.x.com" under ".x.com"
	prefix map[string]*trieNode // "x.*" under "x."
	other  *trieNode            // wildcards of unusual shape ("*", "*x.com"): always tried
	any    *trieNode            // routes without hosts
}

func buildIndex(ms []matcher) hostIndex {
	idx := hostIndex{}
	bucket := func(m map[string]*trieNode, k string) *trieNode {
		t := m[k]
		if t == nil {
			t = &trieNode{}
			m[k] = t
		}
		return t
	}
	for i := range ms {
		m := &ms[i]
		rank := int32(i)
		var tries []*trieNode
		if len(m.hosts) == 0 {
			if idx.any == nil {
				idx.any = &trieNode{}
			}
			tries = append(tries, idx.any)
		}
		for _, h := range m.hosts {
			switch {
			case h.kind == hostExact:
				if idx.exact == nil {
					idx.exact = map[string]*trieNode{}
				}
				tries = append(tries, bucket(idx.exact, h.value))
			case h.kind == hostSuffix && strings.HasPrefix(h.value, "."):
				if idx.suffix == nil {
					idx.suffix = map[string]*trieNode{}
				}
				tries = append(tries, bucket(idx.suffix, h.value))
			case h.kind == hostPrefix && strings.HasSuffix(h.value, "."):
				if idx.prefix == nil {
					idx.prefix = map[string]*trieNode{}
				}
				tries = append(tries, bucket(idx.prefix, h.value))
			default:
				if idx.other == nil {
					idx.other = &trieNode{}
				}
				tries = append(tries, idx.other)
			}
		}
		for _, t := range tries {
			if len(m.paths) == 0 {
				t.insert("", rank)
				continue
			}
			for _, p := range m.paths {
				t.insert(p.lit, rank)
			}
		}
	}
	return idx
}

// candidates appends the rank lists that may hold a matcher for host/path.
func (idx *hostIndex) candidates(host, path string, lists [][]int32) [][]int32 {
	if idx.any != nil {
		lists = idx.any.collect(path, lists)
	}
	if idx.other != nil {
		lists = idx.other.collect(path, lists)
	}
	if host == "" {
		return lists
	}
	if idx.exact != nil {
		if t := idx.exact[host]; t != nil {
			lists = t.collect(path, lists)
		}
	}
	if idx.suffix != nil || idx.prefix != nil {
		for i := 0; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if idx.suffix != nil {
				if t := idx.suffix[host[i:]]; t != nil {
					lists = t.collect(path, lists)
				}
			}
			if idx.prefix != nil {
				if t := idx.prefix[host[:i+1]]; t != nil {
					lists = t.collect(path, lists)
				}
			}
		}
	}
	return lists
}
