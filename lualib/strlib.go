package lualib

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// DefaultMaxStringSize is the largest string a single builtin call may
// produce (StateOptions.MaxStringSize).
const DefaultMaxStringSize = 16 << 20

// errStringOverflow is the message of a builtin whose result would exceed
// StateOptions.MaxStringSize (Lua's own wording for an oversized string).
const errStringOverflow = "string length overflow"

// strlib replaces the pattern functions of a state's string library
// (find, match, gmatch, gsub) with ones that keep compiled patterns, and
// bounds what string.rep, string.format, string.gsub and table.concat may
// produce. One per state; not safe for concurrent use (neither is a state).
type strlib struct {
	max    int
	cache  patternCache
	m      patMatcher
	format lua.LGFunction // gopher-lua's string.format
}

// openStrLib installs the replacements in the real string and table
// libraries of L (string methods look them up there too). Sandboxes copy
// from these tables afterwards.
func openStrLib(L *lua.LState, max int) {
	s := &strlib{max: max}
	str, ok := L.G.Global.RawGetString(lua.StringLibName).(*lua.LTable)
	if !ok {
		return
	}
	if f, ok := str.RawGetString("format").(*lua.LFunction); ok && f.IsG {
		s.format = f.GFunction
		str.RawSetString("format", L.NewFunction(s.strFormat))
	}
	str.RawSetString("find", L.NewFunction(s.strFind))
	str.RawSetString("match", L.NewFunction(s.strMatch))
	gmatch := L.NewFunction(s.strGmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch)
	str.RawSetString("gsub", L.NewFunction(s.strGsub))
	str.RawSetString("rep", L.NewFunction(s.strRep))
	if tbl, ok := L.G.Global.RawGetString(lua.TabLibName).(*lua.LTable); ok {
		tbl.RawSetString("concat", L.NewFunction(s.tabConcat))
	}
	if os, ok := L.G.Global.RawGetString(lua.OsLibName).(*lua.LTable); ok {
		if f, ok := os.RawGetString("date").(*lua.LFunction); ok && f.IsG && max > 0 {
			date := f.GFunction
			// each two-byte directive writes at most 19 bytes ("%c")
			os.RawSetString("date", L.NewFunction(func(L *lua.LState) int {
				if f, ok := L.Get(1).(lua.LString); ok && len(f) > s.max/10 {
					s.overflow(L)
				}
				return date(L)
			}))
		}
	}
	// gopher-lua makes the string library its own metatable (string.__index
	// = string), so ("").__index handed sandboxed code the real library to
	// modify for every later chunk and request of the state. Strings get a
	// metatable of their own instead, and the library loses its __index.
	mt := L.CreateTable(0, 1)
	mt.RawSetString("__index", str)
	str.RawSetString("__index", lua.LNil)
	L.SetMetatable(lua.LString(""), mt)
}

// maxStringSize is the bound of the state's builtins (0 in states that
// lualib did not create: no bound).
func maxStringSize(L *lua.LState) int {
	if p := pdkIfAny(L); p != nil {
		return p.opts.MaxStringSize
	}
	return 0
}

// checkStringSize raises "string length overflow" when a result of n bytes
// would exceed the state's MaxStringSize.
func checkStringSize(L *lua.LState, n int) {
	if max := maxStringSize(L); max > 0 && (n > max || n < 0) {
		L.RaiseError("%s (limit %d bytes)", errStringOverflow, max)
	}
}

func (s *strlib) overflow(L *lua.LState) {
	L.RaiseError("%s (limit %d bytes)", errStringOverflow, s.max)
}

func (s *strlib) pattern(L *lua.LState, p string) *luaPattern {
	pat, err := s.cache.get(p)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	return pat
}

// specials are the characters that make a find pattern more than plain
// text (Lua 5.1's SPECIALS).
const specials = "^$*+?.([%-"

// strFind and strMatch are Lua 5.1's str_find_aux: init is clamped to
// the string (an init past the end is the end), find without special
// characters (or with plain) is a plain search, no match is one nil.
func (s *strlib) strFind(L *lua.LState) int  { return s.findAux(L, true) }
func (s *strlib) strMatch(L *lua.LState) int { return s.findAux(L, false) }

func (s *strlib) findAux(L *lua.LState, find bool) int {
	str := L.CheckString(1)
	p := L.CheckString(2)
	init := L.OptInt(3, 1)
	if init < 0 {
		init = len(str) + init + 1
	}
	init--
	if init < 0 {
		init = 0
	} else if init > len(str) {
		init = len(str)
	}
	if find && (lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(p, specials)) {
		pos := strings.Index(str[init:], p)
		if pos < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + pos + 1))
		L.Push(lua.LNumber(init + pos + len(p)))
		return 2
	}
	pat := s.pattern(L, p)
	m := &s.m
	found, end := false, 0
	m.ctx = L.Context()
	err := m.each(pat, str, init, 1, func(e int) bool { found, end = true, e; return false })
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if !found {
		L.Push(lua.LNil)
		return 1
	}
	n := 0
	if find {
		L.Push(lua.LNumber(m.cap(0) + 1))
		L.Push(lua.LNumber(end))
		n = 2
	} else if m.ncaps() <= 2 {
		L.Push(lua.LString(str[m.cap(0):end]))
		return 1
	}
	for i := 2; i < m.ncaps(); i += 2 {
		if m.isPos(i) {
			L.Push(lua.LNumber(m.cap(i)))
		} else {
			L.Push(lua.LString(m.capStr(str, i)))
		}
		n++
	}
	return n
}

// strGmatch returns an iterator that finds the next match when called (pm
// computes them all up front; the sequence is the same).
func (s *strlib) strGmatch(L *lua.LState) int {
	str := L.CheckString(1)
	pat := s.pattern(L, L.CheckString(2))
	pos, done := 0, false
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if done {
			return 0
		}
		m := &s.m
		found, end := false, 0
		m.ctx = L.Context()
		err := m.each(pat, str, pos, 1, func(e int) bool { found, end = true, e; return false })
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		if !found {
			done = true
			return 0
		}
		// the next attempt starts where pm's loop would: after the match,
		// or one further for an empty match; an anchored pattern stops
		start := m.cap(0)
		pos = max(start+1, end)
		if pat.mustHead {
			done = true
		}
		if m.ncaps() == 2 {
			L.Push(lua.LString(str[start:end]))
			return 1
		}
		for i := 2; i < m.ncaps(); i += 2 {
			if m.isPos(i) {
				L.Push(lua.LNumber(m.cap(i)))
			} else {
				L.Push(lua.LString(m.capStr(str, i)))
			}
		}
		return m.ncaps()/2 - 1
	}))
	return 1
}

// strGsub is gopher-lua's string.gsub (replacement strings with %0-%9 and
// %%, tables, functions; a false or nil replacement keeps the match),
// built in one pass and bounded by MaxStringSize. As in Lua 5.1 a max n
// of 0 or less replaces nothing.
func (s *strlib) strGsub(L *lua.LState) int {
	str := L.CheckString(1)
	p := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.CheckAny(3)
	limit := L.OptInt(4, -1)
	if L.Get(4) != lua.LNil && limit <= 0 {
		L.SetTop(1)
		L.Push(lua.LNumber(0))
		return 2
	}
	pat := s.pattern(L, p)
	var b strings.Builder
	last, count := 0, 0
	var caps [20]uint32
	var matchErr error
	s.m.ctx = L.Context()
	err := s.m.each(pat, str, 0, limit, func(end int) bool {
		// copy the captures out: a replacement function may match again
		c := append(caps[:0], s.m.caps...)
		m := capView{c}
		start := m.cap(0)
		count++
		var rep string
		keep := false
		switch r := repl.(type) {
		case lua.LString:
			rep, matchErr = gsubString(str, string(r), m, end)
		case *lua.LTable:
			idx := 0
			if len(c) > 2 {
				idx = 2
			}
			var v lua.LValue
			if m.isPos(idx) {
				v = L.GetTable(r, lua.LNumber(m.cap(idx)))
			} else {
				v = L.GetField(r, str[m.cap(idx):m.cap(idx+1)])
			}
			keep = lua.LVIsFalse(v)
			rep = lua.LVAsString(v)
		case *lua.LFunction:
			L.Push(r)
			nargs := 0
			if len(c) > 2 {
				for i := 2; i < len(c); i += 2 {
					if m.isPos(i) {
						L.Push(lua.LNumber(m.cap(i)))
					} else {
						L.Push(lua.LString(str[m.cap(i):m.cap(i+1)]))
					}
					nargs++
				}
			} else {
				L.Push(lua.LString(str[start:end]))
				nargs++
			}
			L.Call(nargs, 1)
			v := L.Get(-1)
			L.Pop(1)
			keep = lua.LVIsFalse(v)
			rep = lua.LVAsString(v)
		}
		if matchErr != nil {
			return false
		}
		if keep {
			return true
		}
		if b.Len()+(start-last)+len(rep) > s.max && s.max > 0 {
			matchErr = errOverflow
			return false
		}
		b.WriteString(str[last:start])
		b.WriteString(rep)
		last = end
		return true
	})
	if err == nil {
		err = matchErr
	}
	if err == errOverflow {
		s.overflow(L)
	} else if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if count == 0 {
		L.SetTop(1)
		L.Push(lua.LNumber(0))
		return 2
	}
	if s.max > 0 && b.Len()+len(str)-last > s.max {
		s.overflow(L)
	}
	b.WriteString(str[last:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(count))
	return 2
}

type gsubError string

func (e gsubError) Error() string { return string(e) }

var errOverflow error = gsubError(errStringOverflow)

// capView reads a copy of a match's captures.
type capView struct{ c []uint32 }

func (v capView) isPos(i int) bool { return v.c[i]&1 == 1 }
func (v capView) cap(i int) int    { return int(v.c[i] >> 1) }

// gsubString expands a replacement string as gopher-lua does: "%%" is "%",
// "%d" a capture (%0 and, without captures, %1 the whole match; a position
// capture as its number), any other "%c" stays as is, a final "%" too.
func gsubString(str, repl string, m capView, end int) (string, error) {
	if strings.IndexByte(repl, '%') < 0 {
		return repl, nil
	}
	b := make([]byte, 0, len(repl)+16)
	for i := 0; i < len(repl); {
		c := repl[i]
		if c != '%' || i == len(repl)-1 {
			b = append(b, c)
			i++
			continue
		}
		d := repl[i+1]
		i += 2
		switch {
		case d == '%':
			b = append(b, '%')
		case '0' <= d && d <= '9':
			idx := 2 * int(d-'0')
			if idx > 2 && idx >= len(m.c) {
				return "", gsubError("invalid capture index")
			}
			if idx >= len(m.c) && idx == 2 {
				idx = 0
			}
			if m.isPos(idx) {
				b = append(b, lua.LNumber(m.cap(idx)).String()...)
			} else if idx == 0 {
				b = append(b, str[m.cap(0):end]...)
			} else {
				b = append(b, str[m.cap(idx):m.cap(idx+1)]...)
			}
		default:
			b = append(b, '%', d)
		}
	}
	return string(b), nil
}

// strRep is string.rep bounded by MaxStringSize.
func (s *strlib) strRep(L *lua.LState) int {
	str := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || len(str) == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	if s.max > 0 && n > s.max/len(str) {
		s.overflow(L)
	}
	L.Push(lua.LString(strings.Repeat(str, n)))
	return 1
}

// tabConcat is gopher-lua's table.concat (same index rules and errors),
// built in one pass, bounded by MaxStringSize and not limited by the
// registry size; the result is always a string.
func (s *strlib) tabConcat(L *lua.LState) int {
	tbl := L.CheckTable(1)
	sep := L.OptString(2, "")
	n := tbl.Len()
	i := L.OptInt(3, 1)
	j := L.OptInt(4, n)
	if L.GetTop() == 3 && (i > n || i < 1) {
		L.Push(lua.LString(""))
		return 1
	}
	i = max(min(i, n), 1)
	j = min(j, n)
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	var b strings.Builder
	for k := i; k <= j; k++ {
		v := tbl.RawGetInt(k)
		if !lua.LVCanConvToString(v) {
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type().String(), k)
		}
		e := lua.LVAsString(v)
		if s.max > 0 && b.Len()+len(e)+len(sep) > s.max {
			s.overflow(L)
		}
		b.WriteString(e)
		if k != j {
			b.WriteString(sep)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// strFormat is gopher-lua's string.format after a bound of its output
// (formatBound) was checked against MaxStringSize.
func (s *strlib) strFormat(L *lua.LState) int {
	if s.max > 0 {
		f := L.CheckString(1)
		if formatBound(f, L) > s.max {
			s.overflow(L)
		}
	}
	return s.format(L)
}

// formatBound is an upper bound of what fmt.Sprintf (which gopher-lua's
// string.format calls with the Lua values) writes for format f and the
// arguments 2.. of L: the format's own bytes, every directive's width and
// precision (fmt refuses more than 1e6) and each argument's size for its
// verb.
func formatBound(f string, L *lua.LState) int {
	const maxWidth = 1000000
	bound, arg := 0, 2
	next := func() lua.LValue {
		v := L.Get(arg)
		arg++
		return v
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			bound++
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("+-# 0", f[i]) >= 0 {
			i++
		}
		num := func() {
			if i < len(f) && f[i] == '*' {
				next()
				bound += maxWidth
				i++
				return
			}
			w := 0
			for i < len(f) && '0' <= f[i] && f[i] <= '9' {
				if w <= maxWidth {
					w = w*10 + int(f[i]-'0')
				}
				i++
			}
			bound += min(w, maxWidth)
		}
		if i < len(f) && f[i] == '[' {
			// explicit argument indexes: count every argument for every verb
			total := 0
			for k := 2; k <= L.GetTop(); k++ {
				total += argBound(L.Get(k), 'q')
			}
			return bound + len(f)*(total+2*maxWidth+64)
		}
		num()
		if i < len(f) && f[i] == '.' {
			i++
			num()
		}
		if i >= len(f) {
			bound += 16
			break
		}
		if f[i] == '%' {
			bound++
			continue
		}
		bound += 32 + argBound(next(), f[i])
	}
	for ; arg <= L.GetTop(); arg++ { // %!(EXTRA ...)
		bound += 32 + argBound(L.Get(arg), 'v')
	}
	return bound
}

func argBound(v lua.LValue, verb byte) int {
	switch v := v.(type) {
	case lua.LString:
		switch verb {
		case 'q', 'x', 'X', 'U':
			return 10*len(v) + 2
		}
		return len(v)
	case lua.LNumber, lua.LBool, *lua.LNilType:
		return 400
	case *lua.LTable:
		n := 0
		v.ForEach(func(_, _ lua.LValue) { n++ })
		return 64*n + 4096
	}
	return 4096
}
