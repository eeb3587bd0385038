package lualib

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// registryKey is where a state keeps its *pdk (as LUserData) in the registry.
const registryKey = "luagate.pdk"

// registrySlot is the registry's array index holding the same userdata:
// pdkOf runs several times per phase (Bind, SetPlugin, SetPhase, Unbind), and
// an array read is much cheaper than hashing registryKey into the registry's
// string map (about 2.5% of a request's CPU in the bearer-token scenario).
// Nothing else keeps integer keys in the registry; a state where the slot
// was taken falls back to registryKey.
const registrySlot = 1

// pdk is the per-state half of the PDK: built once by NewState, reused by
// every request bound to the state. The Go functions registered in kong.* and
// ngx.* are method values on it, so binding a request is a field store.
type pdk struct {
	L    *lua.LState
	opts StateOptions

	// per request (reset by Unbind)
	ex         Exchange
	phase      Phase
	plugin     string
	instance   string
	shared     *lua.LTable            // kong.ctx.shared, lazily
	ngxCtx     *lua.LTable            // ngx.ctx, lazily
	pluginCtx  map[string]*lua.LTable // kong.ctx.plugin per plugin instance, lazily
	out        []byte                 // ngx.say/ngx.print output; never reused across requests
	serialize  []serializeValue       // kong.log.set_serialize_value
	consumer   lua.LValue             // cached kong.client.get_consumer() table
	credential lua.LValue
	route      lua.LValue // cached kong.router.get_route()
	service    lua.LValue

	// per state
	inspectOff bool
	exitUD     *lua.LUserData // the early-exit sentinel
	null       lua.LValue     // ngx.null / cjson.null
	headersMT  *lua.LTable    // case-insensitive lookup for header tables
	arrayMT    *lua.LTable    // marks decoded JSON arrays (re-encode as [])
	kong, ngx  *lua.LTable
	config     *lua.LTable // kong.configuration
	logger     *slog.Logger

	// scratch of kong.response.exit/error, reused by every call: the
	// Exchange copies what it keeps (Exchange.Exit)
	jsonBuf   []byte      // encodeJSONScratch's output
	jsonKVs   []cjKV      // encodeJSONScratch's object keys
	exitLines [][2]string // exitArgs' header lines

	io        *ioState          // resty.redis/resty.http connections of the request (redis.go), lazily
	exitPanic func(*lua.LState) // p.panicExit, bound once (raiseExit)
	exitErr   *lua.ApiError     // what panicExit raises, built once
	prevPanic func(*lua.LState) // L.Panic while an exit unwinds
}

func pdkOf(L *lua.LState) *pdk {
	if p := pdkIfAny(L); p != nil {
		return p
	}
	panic("lualib: state was not created by lualib.NewState")
}

func newState(opts StateOptions) *lua.LState {
	if opts.LogLevel == 0 {
		opts.LogLevel = LevelNotice
	}
	if opts.Version == "" {
		opts.Version = "3.9.1"
	}
	if opts.WorkerCount == 0 {
		opts.WorkerCount = 1
	}
	if opts.RegistrySize == 0 && opts.RegistryMaxSize == 0 {
		// small and growable: a pooled state stays small (performance anchors)
		opts.RegistrySize, opts.RegistryMaxSize = 1024, 256*1024
	}
	if opts.MaxStringSize == 0 {
		opts.MaxStringSize = DefaultMaxStringSize
	}
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   opts.CallStackSize,
		RegistrySize:    opts.RegistrySize,
		RegistryMaxSize: opts.RegistryMaxSize,
	})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.OsLibName, lua.OpenOs},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	// cached patterns and bounded results (strlib.go)
	openStrLib(L, opts.MaxStringSize)
	p := &pdk{L: L, opts: opts, pluginCtx: map[string]*lua.LTable{}}
	p.logger = opts.Logger
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	p.exitUD = L.NewUserData()
	p.exitUD.Value = ErrExit
	p.exitPanic = p.panicExit
	p.exitErr = &lua.ApiError{Type: lua.ApiErrorRun, Object: p.exitUD, StackTrace: exitTrace}
	ud := L.NewUserData()
	ud.Value = p
	L.G.Registry.RawSetString(registryKey, ud)
	if L.G.Registry.RawGetInt(registrySlot) == lua.LNil {
		L.G.Registry.RawSetInt(registrySlot, ud)
	}

	g := L.G.Global
	g.RawSetString("pcall", L.NewFunction(p.pcall))
	g.RawSetString("xpcall", L.NewFunction(p.xpcall))
	// tostring formats numbers as Lua 5.1 does (%.14g: tostring(0.1+0.2) is
	// "0.3", 1e15 is "1e+15"); gopher-lua's own uses Go's shortest form.
	if orig, ok := g.RawGetString("tostring").(*lua.LFunction); ok {
		g.RawSetString("tostring", L.NewFunction(func(L *lua.LState) int {
			if n, ok := L.Get(1).(lua.LNumber); ok {
				L.Push(lua.LString(formatNumber(float64(n))))
				return 1
			}
			L.CheckAny(1)
			L.Push(orig)
			L.Push(L.Get(1))
			L.Call(1, 1)
			return 1
		}))
	}
	// coroutine.resume returns (false, err) for an error in the coroutine;
	// the exit sentinel must go on unwinding instead.
	if co, ok := g.RawGetString("coroutine").(*lua.LTable); ok {
		if orig, ok := co.RawGetString("resume").(*lua.LFunction); ok {
			co.RawSetString("resume", L.NewFunction(func(L *lua.LState) int {
				L.Insert(orig, 1)
				L.Call(L.GetTop()-1, lua.MultRet)
				if L.GetTop() >= 2 && L.Get(1) == lua.LFalse && mustReraise(L, L.Get(2)) {
					L.Error(L.Get(2), 0)
				}
				return L.GetTop()
			}))
		}
	}

	p.headersMT = L.CreateTable(0, 4)
	p.headersMT.RawSetString("__index", L.NewFunction(headersIndex))

	p.ngx = L.CreateTable(0, 128)
	p.kong = L.CreateTable(0, 24)
	g.RawSetString("ngx", p.ngx)
	g.RawSetString("kong", p.kong)

	// modules owned by lualib's modules work (cjson, ngx.re, ngx utils ...)
	openModules(p, L)
	p.openNgx()
	p.openKong()
	return L
}

// ---- the exit sentinel and pcall/xpcall that cannot swallow it

// raiseExit unwinds to the phase's PCall with the exit sentinel. It goes
// through L.Error (which closes the open upvalues) with a panic function
// whose error already carries a StackTrace, so the catching PCall does not
// build a Lua traceback (about 1.5 µs and a dozen allocations per exit) for
// what is not an error. The state's own panic function is put back first.
func (p *pdk) raiseExit(L *lua.LState) {
	p.prevPanic = L.Panic
	L.Panic = p.exitPanic
	L.Error(p.exitUD, 0)
}

// exitTrace stands for the traceback of the exit sentinel (never shown).
const exitTrace = "(early exit)"

func (p *pdk) panicExit(L *lua.LState) {
	L.Panic, p.prevPanic = p.prevPanic, nil
	panic(p.exitErr) // its Object is p.exitUD, what raiseExit pushed
}

func isExitValue(v lua.LValue) bool {
	ud, ok := v.(*lua.LUserData)
	return ok && ud.Value == ErrExit
}

func isExit(err error) bool {
	if err == nil {
		return false
	}
	if ae, ok := err.(*lua.ApiError); ok { // the common case, without errors.As's allocation
		return isExitValue(ae.Object)
	}
	if errors.Is(err, ErrExit) {
		return true
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		return isExitValue(ae.Object)
	}
	return false
}

// mustReraise reports whether an error caught by pcall must go on: the exit
// sentinel, or the state's context being done (time limit).
func mustReraise(L *lua.LState, obj lua.LValue) bool {
	if isExitValue(obj) {
		return true
	}
	if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
		return true
	}
	return false
}

func (p *pdk) pcall(L *lua.LState) int {
	L.CheckAny(1)
	v := L.Get(1)
	if v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	nargs := L.GetTop() - 1
	if err := L.PCall(nargs, lua.MultRet, nil); err != nil {
		var obj lua.LValue = lua.LString(err.Error())
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			obj = ae.Object
		}
		if mustReraise(L, obj) {
			L.Error(obj, 0)
		}
		L.Push(lua.LFalse)
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

func (p *pdk) xpcall(L *lua.LState) int {
	fn := L.CheckFunction(1)
	handler := L.CheckFunction(2)
	// the handler is not called for the exit sentinel, so it stays intact
	guard := L.NewFunction(func(L *lua.LState) int {
		obj := L.Get(1)
		if mustReraise(L, obj) {
			L.Push(obj)
			return 1
		}
		L.Push(handler)
		L.Push(obj)
		L.Call(1, 1)
		return 1
	})
	top := L.GetTop()
	L.Push(fn)
	if err := L.PCall(0, lua.MultRet, guard); err != nil {
		var obj lua.LValue = lua.LString(err.Error())
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			obj = ae.Object
		}
		if mustReraise(L, obj) {
			L.Error(obj, 0)
		}
		L.Push(lua.LFalse)
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, top+1)
	return L.GetTop() - top
}

// ---- registration helpers

func (p *pdk) set(t *lua.LTable, name string, fn lua.LGFunction) {
	t.RawSetString(name, p.L.NewFunction(fn))
}

func (p *pdk) sub(t *lua.LTable, name string) *lua.LTable {
	s := p.L.CreateTable(0, 16)
	t.RawSetString(name, s)
	return s
}

// ---- argument helpers (Kong's texts, raised at the caller's position)

func typeName(v lua.LValue) string {
	return v.Type().String()
}

// checkMax validates an optional max_args/max_headers argument (1..1000).
func checkMax(L *lua.LState, n int, what string, def int) int {
	v := L.Get(n)
	if v == lua.LNil {
		return def
	}
	num, ok := v.(lua.LNumber)
	if !ok {
		raise(L, "%s must be a number", what)
	}
	if num < 1 {
		raise(L, "%s must be >= 1", what)
	}
	if num > 1000 {
		raise(L, "%s must be <= 1000", what)
	}
	return int(num)
}

func isInt(n lua.LNumber) bool {
	f := float64(n)
	return !math.IsInf(f, 0) && f == math.Trunc(f)
}

// quoteName renders a header name the way Lua's %q would.
func quoteName(v lua.LValue) string {
	return strconv.Quote(lua.LVAsString(v))
}

// headerValues validates a header value (Kong's validate_header) and returns
// it as one value or an array. tableForm selects the wording used by
// set_headers and exit.
func headerValues(L *lua.LState, name lua.LValue, v lua.LValue, tableForm bool) (one string, many []string) {
	if _, ok := name.(lua.LString); !ok {
		raise(L, "invalid header name %s: got %s, expected string", quoteName(name), typeName(name))
	}
	switch x := v.(type) {
	case lua.LString:
		if x == "" {
			return " ", nil
		}
		return string(x), nil
	case lua.LNumber:
		return formatNumber(float64(x)), nil
	case lua.LBool:
		if x {
			return "true", nil
		}
		return "false", nil
	case *lua.LTable:
		n := seqLen(x)
		many = make([]string, 0, n)
		for i := 1; i <= n; i++ {
			e := x.RawGetInt(i)
			s, ok := e.(lua.LString)
			if !ok {
				raise(L, "invalid header value in array %s: got %s, expected string", quoteName(name), typeName(e))
			}
			if s == "" {
				s = " "
			}
			many = append(many, string(s))
		}
		return "", many
	}
	if tableForm {
		raise(L, "invalid header value for %s: got %s, expected string, number, boolean or array of strings", quoteName(name), typeName(v))
	}
	raise(L, "invalid header value for %s: got %s, expected array of string, string, number or boolean", quoteName(name), typeName(v))
	return "", nil
}

// ---- Go <-> Lua values

// toLua converts entity-like Go values (from the Exchange) to Lua values.
func (p *pdk) toLua(v any) lua.LValue {
	L := p.L
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case lua.LValue:
		return x
	case string:
		return lua.LString(x)
	case []byte:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case uint16:
		return lua.LNumber(x)
	case uint32:
		return lua.LNumber(x)
	case uint64:
		return lua.LNumber(x)
	case float32:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, p.toLua(e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, lua.LString(e))
		}
		return t
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(p.toLua(e))
		}
		if len(x) == 0 {
			L.SetMetatable(t, p.arrayMT)
		}
		return t
	case []string:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(lua.LString(e))
		}
		if len(x) == 0 {
			L.SetMetatable(t, p.arrayMT)
		}
		return t
	case []map[string]any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(p.toLua(e))
		}
		return t
	case fmt.Stringer:
		return lua.LString(x.String())
	}
	return lua.LString(fmt.Sprint(v))
}

// fromLua converts a Lua value to plain Go (map[string]any, []any, string,
// float64, bool, nil). Self references and functions become nil.
func (p *pdk) fromLua(v lua.LValue, depth int) any {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return float64(x)
	case lua.LBool:
		return bool(x)
	case *lua.LTable:
		if depth > 100 {
			return nil
		}
		n := seqLen(x)
		isArr := n > 0
		if isArr {
			x.ForEach(func(k, _ lua.LValue) {
				if kn, ok := k.(lua.LNumber); !ok || !isInt(kn) || kn < 1 || int(kn) > n {
					isArr = false
				}
			})
		}
		if isArr {
			out := make([]any, n)
			for i := 1; i <= n; i++ {
				out[i-1] = p.fromLua(x.RawGetInt(i), depth+1)
			}
			return out
		}
		m := map[string]any{}
		x.ForEach(func(k, e lua.LValue) {
			switch k.(type) {
			case lua.LString, lua.LNumber:
				m[k.String()] = p.fromLua(e, depth+1)
			}
		})
		return m
	}
	return nil
}

// headerTable builds a headers table: lower-case keys, repeated headers as
// arrays, case-insensitive lookup. It returns "truncated" past max entries.
func (p *pdk) headerTable(visit func(func(name, value string)), max int) (*lua.LTable, bool) {
	L := p.L
	t := L.CreateTable(0, 8)
	n := 0
	truncated := false
	visit(func(name, value string) {
		if truncated {
			return
		}
		if n >= max {
			truncated = true
			return
		}
		n++
		k := lowerASCII(name)
		switch old := t.RawGetString(k).(type) {
		case lua.LString:
			arr := L.CreateTable(2, 0)
			arr.Append(old)
			arr.Append(lua.LString(value))
			t.RawSetString(k, arr)
		case *lua.LTable:
			old.Append(lua.LString(value))
		default:
			t.RawSetString(k, lua.LString(value))
		}
	})
	L.SetMetatable(t, p.headersMT)
	return t, truncated
}

// headersIndex is the __index of header tables: case-insensitive, "_" as "-".
func headersIndex(L *lua.LState) int {
	t := L.CheckTable(1)
	k, ok := L.Get(2).(lua.LString)
	if !ok {
		return 0
	}
	norm := normalizeHeaderName(string(k))
	if norm == string(k) {
		return 0
	}
	L.Push(t.RawGetString(norm))
	return 1
}

func normalizeHeaderName(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || c == '_' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				switch c := b[j]; {
				case 'A' <= c && c <= 'Z':
					b[j] = c + 'a' - 'A'
				case c == '_':
					b[j] = '-'
				}
			}
			return string(b)
		}
	}
	return s
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// sortedKeys returns a table's keys sorted by their string form.
func sortedKeys(t *lua.LTable) []lua.LValue {
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

// tostring is Lua's tostring (honouring __tostring).
func (p *pdk) tostring(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return formatNumber(float64(x))
	case *lua.LNilType:
		return "nil"
	case lua.LBool:
		if x {
			return "true"
		}
		return "false"
	}
	if v == p.null {
		return "userdata: NULL"
	}
	return p.L.ToStringMeta(v).String()
}

// formatNumber formats like Lua 5.1's tostring (%.14g): integers of up to
// 14 digits print as such, larger ones in exponent form.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e14 {
		return strconv.FormatInt(int64(f), 10)
	}
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

// seqLen is the length of the sequence 1..n of non-nil values (gopher-lua's
// Len can count nil holes of the array part).
func seqLen(t *lua.LTable) int {
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	return n
}

// raise raises a Lua error the way Kong's error(msg, 2) does: prefixed with
// the position of the Lua code that called the PDK function, or with no
// position when the caller is a Go function (pcall(kong.x.y, ...)).
func raise(L *lua.LState, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	if dbg, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("S", dbg, lua.LNil); err == nil && dbg.What == "G" {
			L.Error(lua.LString(msg), 0)
		}
	}
	L.Error(lua.LString(msg), 1)
}
