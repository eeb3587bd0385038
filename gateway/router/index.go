package router

import (
	"strings"
	"unicode"
	"unicode/utf8"
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

// pathIndex holds the matchers of one host bucket in two radix trees: exact
// keys (prefix paths, and the literal prefix of regexes) and case-folded
// keys (regexes whose required prefix goes on through (?i) literals), walked
// with the case-folded request path.
type pathIndex struct {
	exact trieNode
	fold  *trieNode
}

func (pi *pathIndex) collect(path, foldPath string, lists [][]int32) [][]int32 {
	lists = pi.exact.collect(path, lists)
	if pi.fold != nil {
		lists = pi.fold.collect(foldPath, lists)
	}
	return lists
}

// hostIndex narrows the candidates by host, then by path.
type hostIndex struct {
	exact  map[string]*pathIndex // plain hosts (lowercase, port stripped)
	suffix map[string]*pathIndex // "*.x.com" under ".x.com"
	prefix map[string]*pathIndex // "x.*" under "x."
	other  *pathIndex            // wildcards of unusual shape ("*", "*x.com"): always tried
	any    *pathIndex            // routes without hosts
	// hasFold is set when some regex is indexed by a case-folded key, so
	// Match must compute the folded path.
	hasFold bool
}

func buildIndex(ms []matcher) hostIndex {
	idx := hostIndex{}
	bucket := func(m *map[string]*pathIndex, k string) *pathIndex {
		if *m == nil {
			*m = map[string]*pathIndex{}
		}
		t := (*m)[k]
		if t == nil {
			t = &pathIndex{}
			(*m)[k] = t
		}
		return t
	}
	for i := range ms {
		m := &ms[i]
		rank := int32(i)
		var buckets []*pathIndex
		if len(m.hosts) == 0 {
			if idx.any == nil {
				idx.any = &pathIndex{}
			}
			buckets = append(buckets, idx.any)
		}
		for _, h := range m.hosts {
			switch {
			case h.kind == hostExact:
				buckets = append(buckets, bucket(&idx.exact, h.value))
			case h.kind == hostSuffix && strings.HasPrefix(h.value, "."):
				buckets = append(buckets, bucket(&idx.suffix, h.value))
			case h.kind == hostPrefix && strings.HasSuffix(h.value, "."):
				buckets = append(buckets, bucket(&idx.prefix, h.value))
			default:
				if idx.other == nil {
					idx.other = &pathIndex{}
				}
				buckets = append(buckets, idx.other)
			}
		}
		for _, b := range buckets {
			if len(m.paths) == 0 {
				b.exact.insert("", rank)
				continue
			}
			for _, p := range m.paths {
				if p.re == nil {
					b.exact.insert(p.lit, rank)
					continue
				}
				for _, k := range p.keys {
					if len(k.fold) > utf8.RuneCountInString(k.lit) {
						if b.fold == nil {
							b.fold = &trieNode{}
						}
						b.fold.insert(foldRunesKey(k.fold), rank)
						idx.hasFold = true
						continue
					}
					b.exact.insert(k.lit, rank)
				}
			}
		}
	}
	return idx
}

// foldRunesKey is the canonical folded form of a required prefix.
func foldRunesKey(pre []foldRune) string {
	b := make([]byte, 0, len(pre))
	for _, fr := range pre {
		b = utf8.AppendRune(b, foldCanon(fr.r))
	}
	return string(b)
}

// foldCanon maps a rune to one representative of its case-folding orbit
// (ASCII letters to lowercase), so two runes match each other under (?i)
// exactly when their canonical forms are equal.
func foldCanon(r rune) rune {
	if r < utf8.RuneSelf {
		// the smallest rune of an ASCII letter's orbit is its uppercase form
		// (even for k and s, whose orbits hold U+212A and U+017F)
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}

// foldPath returns the canonical folded form of path; it allocates only when
// the path has an uppercase ASCII letter or a non-ASCII byte. Invalid UTF-8
// folds like U+FFFD, as package regexp reads it.
func foldPath(path string) string {
	i := 0
	for i < len(path) {
		c := path[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
		i++
	}
	if i == len(path) {
		return path
	}
	b := make([]byte, 0, len(path)+8)
	b = append(b, path[:i]...)
	for i < len(path) {
		r, n := rune(path[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(path[i:])
		}
		b = utf8.AppendRune(b, foldCanon(r))
		i += n
	}
	return string(b)
}

// candidates appends the rank lists that may hold a matcher for host/path.
func (idx *hostIndex) candidates(host, path, fpath string, lists [][]int32) [][]int32 {
	if idx.any != nil {
		lists = idx.any.collect(path, fpath, lists)
	}
	if idx.other != nil {
		lists = idx.other.collect(path, fpath, lists)
	}
	if host == "" {
		return lists
	}
	if idx.exact != nil {
		if t := idx.exact[host]; t != nil {
			lists = t.collect(path, fpath, lists)
		}
	}
	if idx.suffix != nil || idx.prefix != nil {
		for i := 0; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if idx.suffix != nil {
				if t := idx.suffix[host[i:]]; t != nil {
					lists = t.collect(path, fpath, lists)
				}
			}
			if idx.prefix != nil {
				if t := idx.prefix[host[:i+1]]; t != nil {
					lists = t.collect(path, fpath, lists)
				}
			}
		}
	}
	return lists
}
