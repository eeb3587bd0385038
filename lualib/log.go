package lualib

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// kong.log (spec §2.6).

type serializeValue struct {
	path []string
	val  lua.LValue
	mode string // "set", "add", "replace"
}

var levelNames = [...]string{"stderr", "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "level" + strconv.Itoa(int(l))
}

func (l Level) slog() slog.Level {
	switch {
	case l <= LevelErr:
		return slog.LevelError
	case l == LevelWarn:
		return slog.LevelWarn
	case l == LevelDebug:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func (p *pdk) openLog() {
	L := p.L
	t := p.sub(p.kong, "log")
	for _, lv := range []Level{LevelDebug, LevelInfo, LevelNotice, LevelWarn, LevelErr, LevelCrit, LevelAlert, LevelEmerg} {
		p.set(t, lv.String(), p.logAt(lv))
	}
	mt := L.CreateTable(0, 4)
	notice := p.logAt(LevelNotice)
	mt.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		L.Remove(1) // the kong.log table itself
		return notice(L)
	}))
	L.SetMetatable(t, mt)

	insp := p.sub(t, "inspect")
	p.set(insp, "on", func(L *lua.LState) int { p.inspectOff = false; return 0 })
	p.set(insp, "off", func(L *lua.LState) int { p.inspectOff = true; return 0 })
	imt := L.CreateTable(0, 4)
	imt.RawSetString("__call", L.NewFunction(p.logInspect))
	L.SetMetatable(insp, imt)

	p.set(t, "deprecation", p.logDeprecation)
	p.set(t, "serialize", p.logSerialize)
	p.set(t, "set_serialize_value", p.logSetSerializeValue)
}

// enabled reports whether a line at level l would be written.
func (p *pdk) enabled(l Level) bool { return l <= p.opts.LogLevel }

// log writes one line (with the caller's position) if its level is enabled.
func (p *pdk) log(L *lua.LState, l Level, msg string) {
	if !p.enabled(l) {
		return
	}
	if w := strings.TrimSuffix(L.Where(1), ":"); w != "" {
		msg = w + " " + msg
	}
	p.emit(l, msg)
}

func (p *pdk) emit(l Level, msg string) {
	if p.ex != nil {
		p.ex.Log(l, p.plugin, msg)
		return
	}
	p.logger.Log(context.Background(), l.slog(), msg, "plugin", p.plugin, "level", l.String())
}

// concatArgs tostring's the stack values from index from on, with no separator.
func (p *pdk) concatArgs(L *lua.LState, from int) string {
	top := L.GetTop()
	if top == from {
		return p.tostring(L.Get(from))
	}
	var b strings.Builder
	for i := from; i <= top; i++ {
		b.WriteString(p.tostring(L.Get(i)))
	}
	return b.String()
}

func (p *pdk) logAt(l Level) lua.LGFunction {
	return func(L *lua.LState) int {
		if !p.enabled(l) {
			return 0
		}
		p.log(L, l, p.concatArgs(L, 1))
		return 0
	}
}

func (p *pdk) logDeprecation(L *lua.LState) int {
	if !p.enabled(LevelWarn) {
		return 0
	}
	top := L.GetTop()
	var opts *lua.LTable
	if t, ok := L.Get(top).(*lua.LTable); ok && top > 1 {
		opts = t
		top--
	}
	var b strings.Builder
	for i := 1; i <= top; i++ {
		b.WriteString(p.tostring(L.Get(i)))
	}
	if opts != nil {
		after, removal := opts.RawGetString("after"), opts.RawGetString("removal")
		switch {
		case after != lua.LNil && removal != lua.LNil:
			b.WriteString(" (deprecated after " + p.tostring(after) + ", scheduled for removal in " + p.tostring(removal) + ")")
		case after != lua.LNil:
			b.WriteString(" (deprecated after " + p.tostring(after) + ")")
		case removal != lua.LNil:
			b.WriteString(" (scheduled for removal in " + p.tostring(removal) + ")")
		}
	}
	p.log(L, LevelWarn, b.String())
	return 0
}

// logInspect writes "<source>:<function>:<line> <inspected values>" at
// notice, the values inspect.lua-rendered and separated by spaces (Kong's
// own format for kong.log.inspect, t/01-pdk/02-log/02-inspect.t).
func (p *pdk) logInspect(L *lua.LState) int {
	if p.inspectOff || !p.enabled(LevelNotice) {
		return 0
	}
	top := L.GetTop()
	parts := make([]string, 0, top-1)
	for i := 2; i <= top; i++ { // 1 is the inspect table (__call)
		parts = append(parts, p.inspect(L.Get(i)))
	}
	src, fn, line := "?", "main", 0
	if dbg, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("Snl", dbg, lua.LNil); err == nil {
			src, line = dbg.Source, dbg.CurrentLine
			if dbg.Name != "" {
				fn = dbg.Name
			}
		}
	}
	p.emit(LevelNotice, src+":"+fn+":"+strconv.Itoa(line)+" "+strings.Join(parts, " "))
	return 0
}

// ---- inspect.lua-style rendering

func (p *pdk) inspect(v lua.LValue) string {
	var b strings.Builder
	ids := map[lua.LValue]int{}
	p.putValue(&b, v, 0, ids, map[*lua.LTable]bool{})
	return b.String()
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9')) {
			return false
		}
	}
	switch s {
	case "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
		"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while":
		return false
	}
	return true
}

func inspectString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\` + strconv.Itoa(int(c)))
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func typeOrder(v lua.LValue) int {
	switch v.Type() {
	case lua.LTNumber:
		return 1
	case lua.LTBool:
		return 2
	case lua.LTString:
		return 3
	case lua.LTTable:
		return 4
	case lua.LTFunction:
		return 5
	case lua.LTUserData:
		return 6
	}
	return 7
}

func (p *pdk) ref(kind string, v lua.LValue, ids map[lua.LValue]int) string {
	id, ok := ids[v]
	if !ok {
		id = len(ids) + 1
		ids[v] = id
	}
	return "<" + kind + " " + strconv.Itoa(id) + ">"
}

func (p *pdk) putValue(b *strings.Builder, v lua.LValue, level int, ids map[lua.LValue]int, seen map[*lua.LTable]bool) {
	switch x := v.(type) {
	case lua.LString:
		b.WriteString(inspectString(string(x)))
	case lua.LNumber, lua.LBool, *lua.LNilType:
		b.WriteString(p.tostring(v))
	case *lua.LFunction:
		b.WriteString(p.ref("function", v, ids))
	case *lua.LUserData:
		b.WriteString(p.ref("userdata", v, ids))
	case *lua.LState:
		b.WriteString(p.ref("thread", v, ids))
	case *lua.LTable:
		if seen[x] || level > 100 {
			b.WriteString(p.ref("table", v, ids))
			return
		}
		seen[x] = true
		defer delete(seen, x)
		n := seqLen(x)
		var keys []lua.LValue
		x.ForEach(func(k, _ lua.LValue) {
			if kn, ok := k.(lua.LNumber); ok && isInt(kn) && kn >= 1 && int(kn) <= n {
				return
			}
			keys = append(keys, k)
		})
		sort.Slice(keys, func(i, j int) bool {
			oi, oj := typeOrder(keys[i]), typeOrder(keys[j])
			if oi != oj {
				return oi < oj
			}
			if a, ok := keys[i].(lua.LNumber); ok {
				return a < keys[j].(lua.LNumber)
			}
			return keys[i].String() < keys[j].String()
		})
		mt, _ := p.L.GetMetatable(x).(*lua.LTable)
		tab := func(l int) {
			b.WriteString("\n")
			b.WriteString(strings.Repeat("  ", l))
		}
		b.WriteString("{")
		count := 0
		for i := 1; i <= n; i++ {
			if count > 0 {
				b.WriteString(",")
			}
			b.WriteString(" ")
			p.putValue(b, x.RawGetInt(i), level+1, ids, seen)
			count++
		}
		for _, k := range keys {
			if count > 0 {
				b.WriteString(",")
			}
			tab(level + 1)
			if ks, ok := k.(lua.LString); ok && isIdentifier(string(ks)) {
				b.WriteString(string(ks))
			} else {
				b.WriteString("[")
				p.putValue(b, k, level+1, ids, seen)
				b.WriteString("]")
			}
			b.WriteString(" = ")
			p.putValue(b, x.RawGet(k), level+1, ids, seen)
			count++
		}
		if mt != nil {
			if count > 0 {
				b.WriteString(",")
			}
			tab(level + 1)
			b.WriteString("<metatable> = ")
			p.putValue(b, mt, level+1, ids, seen)
		}
		if len(keys) > 0 || mt != nil {
			tab(level)
		} else if n > 0 {
			b.WriteString(" ")
		}
		b.WriteString("}")
	default:
		b.WriteString(p.tostring(v))
	}
}

// ---- serialize and set_serialize_value

func (p *pdk) logSerialize(L *lua.LState) int {
	p.check(L, PhaseLog)
	ex := p.exchange(L)
	t, ok := p.toLua(ex.Serialize()).(*lua.LTable)
	if !ok {
		t = L.CreateTable(0, 4)
	}
	for _, sv := range p.serialize {
		if !validSerializeValue(sv.val, map[*lua.LTable]bool{}) {
			raise(L, "value must be nil, a number, string, boolean or a non-self-referencial table containing numbers, string and booleans")
		}
		applySerialize(L, t, sv)
	}
	L.Push(t)
	return 1
}

func validSerializeValue(v lua.LValue, seen map[*lua.LTable]bool) bool {
	switch x := v.(type) {
	case *lua.LNilType, lua.LNumber, lua.LString, lua.LBool:
		return true
	case *lua.LTable:
		if seen[x] {
			return false
		}
		seen[x] = true
		ok := true
		x.ForEach(func(k, e lua.LValue) {
			if ok && (!validSerializeValue(k, seen) || !validSerializeValue(e, seen)) {
				ok = false
			}
		})
		delete(seen, x)
		return ok
	}
	return false
}

func applySerialize(L *lua.LState, root *lua.LTable, sv serializeValue) {
	t := root
	for i, k := range sv.path {
		last := i == len(sv.path)-1
		cur := t.RawGetString(k)
		if last {
			switch sv.mode {
			case "add":
				if cur == lua.LNil {
					t.RawSetString(k, sv.val)
				}
			case "replace":
				if cur != lua.LNil {
					t.RawSetString(k, sv.val)
				}
			default:
				t.RawSetString(k, sv.val)
			}
			return
		}
		next, ok := cur.(*lua.LTable)
		if !ok {
			if sv.mode == "replace" {
				return
			}
			next = L.CreateTable(0, 4)
			t.RawSetString(k, next)
		}
		t = next
	}
}

// splitKey splits a dotted key; "\." is a literal dot.
func splitKey(key string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '\\' && i+1 < len(key) && key[i+1] == '.' {
			cur.WriteByte('.')
			i++
			continue
		}
		if c == '.' {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(parts, cur.String())
}

func (p *pdk) logSetSerializeValue(L *lua.LState) int {
	p.check(L, phasesCTX)
	key, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "key must be a string")
	}
	mode := "set"
	switch o := L.Get(3).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		switch m := o.RawGetString("mode").(type) {
		case *lua.LNilType:
		case lua.LString:
			mode = string(m)
		default:
			mode = ""
		}
	default:
		raise(L, "options must be a table")
	}
	if mode != "set" && mode != "add" && mode != "replace" {
		raise(L, "mode must be 'set', 'add' or 'replace'")
	}
	p.serialize = append(p.serialize, serializeValue{splitKey(string(key)), L.Get(2), mode})
	return 0
}
