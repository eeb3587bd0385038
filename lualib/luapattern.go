package lualib

// Lua patterns, compiled once and matched without allocating.
//
// The parser and compiler follow gopher-lua's pm package (v1.1.2, MIT
// licence, github.com/yuin/gopher-lua/pm) rule for rule, so that a pattern
// means here exactly what it means to gopher-lua's own string library: the
// same instructions and the same errors. What differs is only how the work
// is done:
//   - pm parses and compiles the pattern on every call (about half the CPU of
//     a short access function); here a compiled pattern is kept per state;
//   - each character class is a 256-bit set computed once, instead of an
//     interface call per character;
//   - the backtracking VM keeps its choice points on an explicit stack (with
//     pm's limit of 1,000,000 nested choice points, "pattern/input too
//     complex") instead of the goroutine stack, and reuses its capture slice;
//   - a long match can be stopped through the state's context.
//
// TestPatternEquivalence and FuzzPatternEquivalence compare the results with
// gopher-lua's functions.

import (
	"context"
	"fmt"
)

const (
	patEOS            = -1
	patUnknownPos     = -2
	patMaxRecursion   = 1000000
	patCacheMax       = 256  // compiled patterns kept per state
	patCacheMaxKeyLen = 1024 // longer patterns are compiled on each call
)

// patError is pm's Error: a message and the position in the pattern.
type patError struct {
	pos int
	msg string
}

func (e *patError) Error() string {
	switch e.pos {
	case patEOS:
		return e.msg + " at EOS"
	case patUnknownPos:
		return e.msg
	}
	return fmt.Sprintf("%s at %d", e.msg, e.pos)
}

// ---- scanner (pm's, including its Peek/Next quirks)

type patScanState struct {
	pos     int
	started bool
}

type patScanner struct {
	src   string
	state patScanState
	saved patScanState
}

func (sc *patScanner) length() int { return len(sc.src) }

func (sc *patScanner) next() int {
	if !sc.state.started {
		sc.state.started = true
		if len(sc.src) == 0 {
			sc.state.pos = patEOS
		}
	} else {
		sc.state.pos = sc.nextPos()
	}
	if sc.state.pos == patEOS {
		return patEOS
	}
	return int(sc.src[sc.state.pos])
}

func (sc *patScanner) currentPos() int { return sc.state.pos }

func (sc *patScanner) nextPos() int {
	if sc.state.pos == patEOS || sc.state.pos >= len(sc.src)-1 {
		return patEOS
	}
	if !sc.state.started {
		return 0
	}
	return sc.state.pos + 1
}

func (sc *patScanner) peek() int {
	cureof := sc.state.pos == patEOS
	ch := sc.next()
	if !cureof {
		if sc.state.pos == patEOS {
			sc.state.pos = len(sc.src) - 1
		} else {
			sc.state.pos--
			if sc.state.pos < 0 {
				sc.state.pos = 0
				sc.state.started = false
			}
		}
	}
	return ch
}

func (sc *patScanner) save()    { sc.saved = sc.state }
func (sc *patScanner) restore() { sc.state = sc.saved }

// ---- character classes (parsed as pm does, then flattened to bit sets)

type patClass interface{ matches(ch int) bool }

type patDot struct{}

func (patDot) matches(int) bool { return true }

type patChar struct{ ch int }

func (c patChar) matches(ch int) bool { return c.ch == ch }

type patSingle struct{ class int }

func (c patSingle) matches(ch int) bool {
	ret := false
	switch c.class {
	case 'a', 'A':
		ret = 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z'
	case 'c', 'C':
		ret = (0x00 <= ch && ch <= 0x1F) || ch == 0x7F
	case 'd', 'D':
		ret = '0' <= ch && ch <= '9'
	case 'l', 'L':
		ret = 'a' <= ch && ch <= 'z'
	case 'p', 'P':
		ret = (0x21 <= ch && ch <= 0x2f) || (0x3a <= ch && ch <= 0x40) || (0x5b <= ch && ch <= 0x60) || (0x7b <= ch && ch <= 0x7e)
	case 's', 'S':
		switch ch {
		case ' ', '\f', '\n', '\r', '\t', '\v':
			ret = true
		}
	case 'u', 'U':
		ret = 'A' <= ch && ch <= 'Z'
	case 'w', 'W':
		ret = '0' <= ch && ch <= '9' || 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z'
	case 'x', 'X':
		ret = '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
	case 'z', 'Z':
		ret = ch == 0
	default:
		return ch == c.class
	}
	if 'A' <= c.class && c.class <= 'Z' {
		return !ret
	}
	return ret
}

type patSet struct {
	not     bool
	classes []patClass
}

func (s *patSet) matches(ch int) bool {
	for _, c := range s.classes {
		if c.matches(ch) {
			return !s.not
		}
	}
	return s.not
}

type patRange struct{ begin, end patClass }

func (r patRange) matches(ch int) bool {
	b, ok := r.begin.(patChar)
	if !ok {
		return false
	}
	e, ok := r.end.(patChar)
	if !ok {
		return false
	}
	return b.ch <= ch && ch <= e.ch
}

// byteSet is a class flattened over the 256 byte values.
type byteSet [4]uint64

func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

func flatten(c patClass) *byteSet {
	var s byteSet
	for ch := range 256 {
		if c.matches(ch) {
			s[ch>>6] |= 1 << (ch & 63)
		}
	}
	return &s
}

func parseClass(sc *patScanner, allowset bool) patClass {
	ch := sc.next()
	switch ch {
	case '%':
		return patSingle{sc.next()}
	case '.':
		if allowset {
			return patDot{}
		}
		return patChar{ch}
	case '[':
		if allowset {
			return parseClassSet(sc)
		}
		return patChar{ch}
	case patEOS:
		panic(&patError{sc.currentPos(), "unexpected EOS"})
	default:
		return patChar{ch}
	}
}

func parseClassSet(sc *patScanner) patClass {
	set := &patSet{}
	if sc.peek() == '^' {
		set.not = true
		sc.next()
	}
	isrange := false
	for {
		ch := sc.peek()
		switch ch {
		case patEOS:
			panic(&patError{sc.currentPos(), "unexpected EOS"})
		case ']':
			if len(set.classes) > 0 {
				sc.next()
				goto exit
			}
			fallthrough
		case '-':
			if len(set.classes) > 0 {
				sc.next()
				isrange = true
				continue
			}
			fallthrough
		default:
			set.classes = append(set.classes, parseClass(sc, false))
		}
		if isrange {
			begin := set.classes[len(set.classes)-2]
			end := set.classes[len(set.classes)-1]
			set.classes = set.classes[:len(set.classes)-2]
			set.classes = append(set.classes, patRange{begin, end})
			isrange = false
		}
	}
exit:
	if isrange {
		set.classes = append(set.classes, patChar{'-'})
	}
	return set
}

// ---- pattern tree (pm's)

type patNode any

type patSingleNode struct{ class patClass }

type patSeqNode struct {
	mustHead, mustTail bool
	nodes              []patNode
}

type patRepeatNode struct {
	kind  int
	class patClass
}

type patPosCapNode struct{}

type patCapNode struct{ pat patNode }

type patNumberNode struct{ n int }

type patBraceNode struct{ begin, end int }

func parsePattern(sc *patScanner, toplevel bool) *patSeqNode {
	pat := &patSeqNode{}
	if toplevel {
		if sc.peek() == '^' {
			sc.next()
			pat.mustHead = true
		}
	}
	for {
		ch := sc.peek()
		switch ch {
		case '%':
			sc.save()
			sc.next()
			switch sc.peek() {
			case '0':
				panic(&patError{sc.currentPos(), "invalid capture index"})
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				pat.nodes = append(pat.nodes, &patNumberNode{sc.next() - 48})
			case 'b':
				sc.next()
				b := sc.next()
				pat.nodes = append(pat.nodes, &patBraceNode{b, sc.next()})
			default:
				sc.restore()
				pat.nodes = append(pat.nodes, &patSingleNode{parseClass(sc, true)})
			}
		case '.', '[', ']':
			pat.nodes = append(pat.nodes, &patSingleNode{parseClass(sc, true)})
		case ')':
			if toplevel {
				panic(&patError{sc.currentPos(), "invalid ')'"})
			}
			return pat
		case '(':
			sc.next()
			if sc.peek() == ')' {
				sc.next()
				pat.nodes = append(pat.nodes, &patPosCapNode{})
			} else {
				ret := &patCapNode{parsePattern(sc, false)}
				if sc.peek() != ')' {
					panic(&patError{sc.currentPos(), "unfinished capture"})
				}
				sc.next()
				pat.nodes = append(pat.nodes, ret)
			}
		case '*', '+', '-', '?':
			sc.next()
			if len(pat.nodes) > 0 {
				if sp, ok := pat.nodes[len(pat.nodes)-1].(*patSingleNode); ok {
					pat.nodes[len(pat.nodes)-1] = &patRepeatNode{ch, sp.class}
					continue
				}
			}
			pat.nodes = append(pat.nodes, &patSingleNode{patChar{ch}})
		case '$':
			if toplevel && (sc.nextPos() == sc.length()-1 || sc.nextPos() == patEOS) {
				pat.mustTail = true
			} else {
				pat.nodes = append(pat.nodes, &patSingleNode{patChar{ch}})
			}
			sc.next()
		case patEOS:
			sc.next()
			return pat
		default:
			sc.next()
			pat.nodes = append(pat.nodes, &patSingleNode{patChar{ch}})
		}
	}
}

// ---- program

type patOp uint8

const (
	opChar patOp = iota
	opMatch
	opTailMatch
	opJmp
	opSplit
	opSave
	opPSave
	opBrace
	opNumber
)

type patInst struct {
	op   patOp
	set  *byteSet
	arg1 int
	arg2 int
}

// luaPattern is a compiled pattern; immutable, so it may be shared.
type luaPattern struct {
	insts    []patInst
	mustHead bool
}

type patCompiler struct {
	insts   []patInst
	capture int
}

func (c *patCompiler) compile(p patNode) {
	switch pat := p.(type) {
	case *patSingleNode:
		c.insts = append(c.insts, patInst{op: opChar, set: flatten(pat.class), arg1: -1, arg2: -1})
	case *patSeqNode:
		for _, n := range pat.nodes {
			c.compile(n)
		}
	case *patRepeatNode:
		idx := len(c.insts)
		set := flatten(pat.class)
		switch pat.kind {
		case '*':
			c.insts = append(c.insts,
				patInst{op: opSplit, arg1: idx + 1, arg2: idx + 3},
				patInst{op: opChar, set: set, arg1: -1, arg2: -1},
				patInst{op: opJmp, arg1: idx, arg2: -1})
		case '+':
			c.insts = append(c.insts,
				patInst{op: opChar, set: set, arg1: -1, arg2: -1},
				patInst{op: opSplit, arg1: idx, arg2: idx + 2})
		case '-':
			c.insts = append(c.insts,
				patInst{op: opSplit, arg1: idx + 3, arg2: idx + 1},
				patInst{op: opChar, set: set, arg1: -1, arg2: -1},
				patInst{op: opJmp, arg1: idx, arg2: -1})
		case '?':
			c.insts = append(c.insts,
				patInst{op: opSplit, arg1: idx + 1, arg2: idx + 2},
				patInst{op: opChar, set: set, arg1: -1, arg2: -1})
		}
	case *patPosCapNode:
		c.insts = append(c.insts, patInst{op: opPSave, arg1: c.capture, arg2: -1})
		c.capture += 2
	case *patCapNode:
		c0, c1 := c.capture, c.capture+1
		c.capture += 2
		c.insts = append(c.insts, patInst{op: opSave, arg1: c0, arg2: -1})
		c.compile(pat.pat)
		c.insts = append(c.insts, patInst{op: opSave, arg1: c1, arg2: -1})
	case *patBraceNode:
		c.insts = append(c.insts, patInst{op: opBrace, arg1: pat.begin, arg2: pat.end})
	case *patNumberNode:
		c.insts = append(c.insts, patInst{op: opNumber, arg1: pat.n, arg2: -1})
	}
}

// compilePattern parses and compiles a Lua pattern (pm's Find, first half).
func compilePattern(p string) (pat *luaPattern, err error) {
	defer func() {
		if v := recover(); v != nil {
			pe, ok := v.(*patError)
			if !ok {
				panic(v)
			}
			err = pe
		}
	}()
	seq := parsePattern(&patScanner{src: p}, true)
	c := &patCompiler{insts: []patInst{{op: opSave, arg1: 0, arg2: -1}}, capture: 2}
	c.compile(seq)
	if seq.mustTail {
		c.insts = append(c.insts, patInst{op: opSave, arg1: 1, arg2: -1}, patInst{op: opTailMatch, arg1: -1, arg2: -1})
	}
	c.insts = append(c.insts, patInst{op: opSave, arg1: 1, arg2: -1}, patInst{op: opMatch, arg1: -1, arg2: -1})
	return &luaPattern{insts: c.insts, mustHead: seq.mustHead}, nil
}

// ---- matching

// patMatcher holds the scratch of one match attempt: the captures (pm's
// MatchData layout: position<<1, low bit set for position captures) and
// the backtracking stack. Reused across calls; callers copy what they need
// before calling back into Lua.
type patMatcher struct {
	caps  []uint32
	stack []patFrame
	// ctx, when set, is looked at every 64K steps: a backtracking match can
	// take a very long time in one call ("a*a*a*b" on a long subject), and
	// the state's time limit and heap check act through this context.
	ctx   context.Context
	steps uint32
}

// patFrame is a pending choice point: resume at pc/sp (split), or restore
// capture slot to old (save) and go on failing.
type patFrame struct {
	pc   int32
	slot int32 // -1: split; >= 0: save
	sp   int
	old  uint32
}

func (m *patMatcher) ncaps() int                    { return len(m.caps) }
func (m *patMatcher) isPos(i int) bool              { return m.caps[i]&1 == 1 }
func (m *patMatcher) cap(i int) int                 { return int(m.caps[i] >> 1) }
func (m *patMatcher) capStr(s string, i int) string { return s[m.cap(i):m.cap(i+1)] }

func (m *patMatcher) setCapture(s, pos int) uint32 {
	for s >= len(m.caps) {
		m.caps = append(m.caps, 0)
	}
	v := m.caps[s]
	m.caps[s] = uint32(pos) << 1
	return v
}

func (m *patMatcher) addPosCapture(s, pos int) {
	for s+1 >= len(m.caps) {
		m.caps = append(m.caps, 0)
	}
	m.caps[s] = uint32(pos)<<1 | 1
	m.caps[s+1] = uint32(pos)<<1 | 1
}

// matchAt runs the program from src[sp]: pm's recursiveVM with the
// recursion made explicit. It returns whether it matched and where the
// match ended; the captures are in m.caps. It panics with *patError like pm.
func (m *patMatcher) matchAt(p *luaPattern, src string, sp int) (bool, int) {
	m.caps = m.caps[:0]
	stack := m.stack[:0]
	insts := p.insts
	pc := 0
	for {
		if m.steps++; m.steps&(1<<16-1) == 0 && m.ctx != nil && m.ctx.Err() != nil {
			panic(&patError{patUnknownPos, m.ctx.Err().Error()})
		}
		in := &insts[pc]
		ok := true
		switch in.op {
		case opChar:
			if sp >= len(src) || !in.set.has(src[sp]) {
				ok = false
				break
			}
			pc++
			sp++
			continue
		case opMatch:
			m.keep(stack)
			return true, sp
		case opTailMatch:
			if sp >= len(src) {
				m.keep(stack)
				return true, sp
			}
			ok = false
		case opJmp:
			pc = in.arg1
			continue
		case opSplit:
			// pm counts nested calls: the top one is level 1, each
			// pending choice point adds one
			if len(stack)+2 > patMaxRecursion {
				panic(&patError{patUnknownPos, "pattern/input too complex"})
			}
			stack = append(stack, patFrame{pc: int32(in.arg2), slot: -1, sp: sp})
			pc = in.arg1
			continue
		case opSave:
			if len(stack)+2 > patMaxRecursion {
				panic(&patError{patUnknownPos, "pattern/input too complex"})
			}
			old := m.setCapture(in.arg1, sp)
			stack = append(stack, patFrame{slot: int32(in.arg1), sp: sp, old: old})
			pc++
			continue
		case opPSave:
			m.addPosCapture(in.arg1, sp+1)
			pc++
			continue
		case opBrace:
			if sp >= len(src) || int(src[sp]) != in.arg1 {
				ok = false
				break
			}
			count := 1
			matched := false
			for sp = sp + 1; sp < len(src); sp++ {
				if int(src[sp]) == in.arg2 {
					count--
				}
				if count == 0 {
					pc++
					sp++
					matched = true
					break
				}
				if int(src[sp]) == in.arg1 {
					count++
				}
			}
			if matched {
				continue
			}
			ok = false
		case opNumber:
			idx := in.arg1 * 2
			if idx >= len(m.caps)-1 {
				panic(&patError{patUnknownPos, "invalid capture index"})
			}
			// a back reference to a position capture is empty, as in pm
			// (which slices src at the position and panics past the end)
			a, b := m.cap(idx), m.cap(idx+1)
			if m.isPos(idx) {
				a, b = 0, 0
			}
			if a > b || b > len(src) {
				ok = false
				break
			}
			capture := src[a:b]
			for i := 0; i < len(capture); i++ {
				if i+sp >= len(src) || capture[i] != src[i+sp] {
					ok = false
					break
				}
			}
			if ok {
				pc++
				sp += len(capture)
				continue
			}
		default:
			panic("lualib: bad pattern instruction")
		}
		// fail: unwind to the latest split, restoring saved captures
		for {
			if len(stack) == 0 {
				m.keep(stack)
				return false, sp
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.slot >= 0 {
				m.caps[f.slot] = f.old
				continue
			}
			pc, sp = int(f.pc), f.sp
			break
		}
	}
}

// keep holds on to the backtracking stack for the next match unless a
// long match made it large (a pooled state would keep it forever).
func (m *patMatcher) keep(stack []patFrame) {
	if cap(stack) > 1<<14 {
		stack = nil
	}
	m.stack = stack
}

// patternMatches reports pm.Find's matches one by one: from offset, each
// attempt that matches is passed to yield (start = capture 0, end); after a
// match the next attempt starts at its end (or one further when it was
// empty). An anchored pattern makes one attempt. limit < 0: no limit.
func (m *patMatcher) each(p *luaPattern, src string, offset, limit int, yield func(end int) bool) (err error) {
	defer func() {
		if v := recover(); v != nil {
			pe, ok := v.(*patError)
			if !ok {
				panic(v)
			}
			err = pe
		}
	}()
	n := 0
	for sp := offset; sp <= len(src); {
		ok, nsp := m.matchAt(p, src, sp)
		sp++
		if ok {
			if sp < nsp {
				sp = nsp
			}
			n++
			if !yield(nsp) {
				return nil
			}
		}
		if n == limit || p.mustHead {
			break
		}
	}
	return nil
}

// patternCache keeps a state's compiled patterns (and parse errors). It is
// bounded: when full it starts over.
type patternCache struct {
	m map[string]patternEntry
}

type patternEntry struct {
	pat *luaPattern
	err error
}

func (c *patternCache) get(p string) (*luaPattern, error) {
	if e, ok := c.m[p]; ok {
		return e.pat, e.err
	}
	pat, err := compilePattern(p)
	if len(p) <= patCacheMaxKeyLen {
		if c.m == nil || len(c.m) >= patCacheMax {
			c.m = make(map[string]patternEntry, 16)
		}
		c.m[p] = patternEntry{pat, err}
	}
	return pat, err
}
