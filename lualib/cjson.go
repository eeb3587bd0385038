package lualib

// cjson.go: lua-cjson 2.1 (OpenResty flavour) for gopher-lua, plus the
// ngx.null / cjson.null modSentinel and the Go helpers EncodeJSON / DecodeJSON.
//
// Encoding and decoding go directly between bytes and Lua values: no
// encoding/json, no reflection. Behaviour follows openresty/lua-cjson's
// lua_cjson.c (token names, error texts, sparse-array rules, modStrtod number
// syntax, NUL-terminated input), with one deliberate difference: object keys
// are written in sorted order so output is deterministic (lua-cjson uses
// table traversal order, which is unspecified).

import (
	"math"
	"slices"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

const cjVersion = "2.1.0.14"

// modSentinel marks the package-level userdata singletons. Their Value is never
// changed after package initialisation.
type modSentinel struct{ name string }

// nullValue is ngx.null and cjson.null in every state. It is immutable: its
// metatable only carries __tostring (lua-cjson's null is a NULL lightuserdata,
// which LuaJIT prints as "userdata: NULL") and __metatable, so getmetatable
// cannot hand the shared table to Lua code.
var nullValue = newModSentinel("null", "userdata: NULL")

// emptyArrayValue is cjson.empty_array (a lightuserdata in lua-cjson) that
// encodes as [].
var emptyArrayValue = newModSentinel("empty_array", "userdata: cjson.empty_array")

func newModSentinel(name, str string) *lua.LUserData {
	mt := &lua.LTable{Metatable: lua.LNil}
	// A table built without a state: a zero LTable is usable through the
	// RawSet* methods.
	mt.RawSetString("__tostring", &lua.LFunction{IsG: true, GFunction: func(L *lua.LState) int {
		L.Push(lua.LString(str))
		return 1
	}, Env: &lua.LTable{Metatable: lua.LNil}, Upvalues: []*lua.Upvalue{}})
	mt.RawSetString("__metatable", lua.LFalse)
	return &lua.LUserData{Value: &modSentinel{name: name}, Metatable: mt}
}

// NullValue returns the ngx.null / cjson.null modSentinel. It is the same value
// in every state, truthy, not equal to nil, type "userdata", tostring
// "userdata: NULL", and encodes as JSON null.
func NullValue(L *lua.LState) lua.LValue { return nullValue }

// EmptyArrayValue returns cjson.empty_array, which encodes as [].
func EmptyArrayValue(L *lua.LState) lua.LValue { return emptyArrayValue }

// Registry keys for the per-state array metatables (lua-cjson keeps them in
// the registry too, shared between cjson, cjson.safe and cjson.new()).
const (
	cjRegArrayMT      = "luagate.cjson.array_mt"
	cjRegEmptyArrayMT = "luagate.cjson.empty_array_mt"
)

func modRegistryTable(L *lua.LState, key string) *lua.LTable {
	reg, ok := L.Get(lua.RegistryIndex).(*lua.LTable)
	if !ok {
		return L.NewTable()
	}
	if t, ok := reg.RawGetString(key).(*lua.LTable); ok {
		return t
	}
	t := L.NewTable()
	reg.RawSetString(key, t)
	return t
}

// ArrayMT returns the state's cjson.array_mt: tables carrying it encode as
// JSON arrays (even when empty).
func ArrayMT(L *lua.LState) *lua.LTable { return modRegistryTable(L, cjRegArrayMT) }

func cjEmptyArrayMT(L *lua.LState) *lua.LTable { return modRegistryTable(L, cjRegEmptyArrayMT) }

// cjConfig is one cjson instance's settings (lua-cjson json_config_t).
type cjConfig struct {
	sparseConvert          bool
	sparseRatio            int
	sparseSafe             int
	encodeMaxDepth         int
	decodeMaxDepth         int
	encodeInvalidNumbers   int // 0 off, 1 on, 2 "null"
	decodeInvalidNumbers   bool
	keepBuffer             bool
	precision              int
	emptyTableAsObject     bool
	decodeArrayWithArrayMT bool
	decodeJSONNull         bool
	escapeForwardSlash     bool

	buf []byte // kept encode buffer (encode_keep_buffer)
	kvs []cjKV // scratch for sorting object keys, reused by encode
}

func cjDefaultConfig() *cjConfig {
	return &cjConfig{
		sparseRatio:          2,
		sparseSafe:           10,
		encodeMaxDepth:       1000,
		decodeMaxDepth:       1000,
		decodeInvalidNumbers: true,
		keepBuffer:           true,
		precision:            14,
		emptyTableAsObject:   true,
		decodeJSONNull:       true,
		escapeForwardSlash:   true,
	}
}

// Kong's settings (kong/globalpatches.lua for the shared cjson.safe,
// kong/tools/cjson.lua for the PDK): 16 significant digits and arrays up to
// index 2^15 however sparse.
const (
	kongCJSONPrecision  = 16
	kongCJSONSparseSafe = 1 << 15
)

// Settings of the Go helpers (those of kong.tools.cjson). They are read-only
// after initialisation (the helpers never use the kept-buffer field), so
// sharing them is safe.
var (
	cjHelperEncodeCfg = cjKongConfig(false)
	cjHelperDecodeCfg = cjKongConfig(true)
)

func cjKongConfig(arrayMT bool) *cjConfig {
	c := cjDefaultConfig()
	c.precision = kongCJSONPrecision
	c.sparseSafe = kongCJSONSparseSafe
	c.decodeArrayWithArrayMT = arrayMT
	return c
}

// cjError is an encode or decode failure with lua-cjson's message.
type cjError struct{ msg string }

func (e *cjError) Error() string { return e.msg }

// EncodeJSON encodes v the way Kong's PDK does (kong.tools.cjson: lua-cjson
// with 16 significant digits, arrays up to index 2^15 however sparse, empty
// table as {}, "/" escaped). Object keys are sorted. Errors carry
// lua-cjson's messages.
func EncodeJSON(L *lua.LState, v lua.LValue) ([]byte, error) {
	e := cjEncoder{L: L, cfg: cjHelperEncodeCfg, buf: make([]byte, 0, 128), kvs: make([]cjKV, 0, 16), max: maxStringSize(L)}
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	if e.max > 0 && len(e.buf) > e.max {
		return nil, errJSONTooLarge
	}
	return e.buf, nil
}

// DecodeJSON decodes data like kong.tools.cjson: decoded arrays carry
// cjson.array_mt so that they encode back as arrays
// (also when empty). JSON null becomes NullValue.
func DecodeJSON(L *lua.LState, data []byte) (lua.LValue, error) {
	return cjDecode(L, cjHelperDecodeCfg, string(data))
}

// ---------------------------------------------------------------- encoding

type cjKV struct {
	key string // raw key text (number keys already formatted)
	num bool   // key was a number
	val lua.LValue
}

type cjEncoder struct {
	L              *lua.LState
	cfg            *cjConfig
	buf            []byte
	kvs            []cjKV
	arrayMT        *lua.LTable
	cjEmptyArrayMT *lua.LTable
	mtLoaded       bool

	keyErr error // first bad key met by collectKV
	max    int   // MaxStringSize of the state (0: none)
}

// errJSONTooLarge stops an encoding whose text passes MaxStringSize.
var errJSONTooLarge = &cjError{msg: "Cannot serialise: " + errStringOverflow}

func (e *cjEncoder) loadMTs() {
	if !e.mtLoaded {
		e.arrayMT = ArrayMT(e.L)
		e.cjEmptyArrayMT = cjEmptyArrayMT(e.L)
		e.mtLoaded = true
	}
}

func cjEncodeErr(typ, reason string) error {
	return &cjError{msg: "Cannot serialise " + typ + ": " + reason}
}

func (e *cjEncoder) encode(v lua.LValue, depth int) error {
	if e.max > 0 && len(e.buf) > e.max {
		return errJSONTooLarge
	}
	switch v := v.(type) {
	case lua.LString:
		e.appendString(string(v))
	case lua.LNumber:
		return e.appendNumber(float64(v))
	case lua.LBool:
		if v {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case *lua.LUserData:
		switch v {
		case nullValue:
			e.buf = append(e.buf, "null"...)
		case emptyArrayValue:
			e.buf = append(e.buf, "[]"...)
		default:
			return cjEncodeErr("userdata", "type not supported")
		}
	case *lua.LTable:
		return e.encodeTable(v, depth+1)
	default:
		return cjEncodeErr(v.Type().String(), "type not supported")
	}
	return nil
}

func (e *cjEncoder) encodeTable(t *lua.LTable, depth int) error {
	if depth > e.cfg.encodeMaxDepth {
		return &cjError{msg: "Cannot serialise, excessive nesting (" + strconv.Itoa(depth) + ")"}
	}
	hasMT := false
	if mt, ok := t.Metatable.(*lua.LTable); ok {
		hasMT = true
		e.loadMTs()
		if mt == e.arrayMT {
			return e.encodeArray(t, t.Len(), depth)
		}
	}
	n, err := e.arrayLength(t)
	if err != nil {
		return err
	}
	if n > 0 || (n == 0 && !e.cfg.emptyTableAsObject) {
		return e.encodeArray(t, n, depth)
	}
	if n == 0 && hasMT && t.Metatable == e.cjEmptyArrayMT {
		e.buf = append(e.buf, "[]"...)
		return nil
	}
	return e.encodeObject(t, depth)
}

// arrayLength mirrors lua_array_length: -1 for an object, else the highest
// positive integer key. Excessively sparse arrays are an error unless
// encode_sparse_array(true) converts them to objects.
func (e *cjEncoder) arrayLength(t *lua.LTable) (int, error) {
	// The array part is read by index and the hash part with Next, whose
	// keys are already boxed: scanning allocates nothing per key (ForEach
	// would box every key).
	n := t.Len()
	maxKey, items := n, 0
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) != lua.LNil {
			items++
		}
	}
	for k, _ := cjHashStart(t, n); k != lua.LNil; k, _ = t.Next(k) {
		num, ok := k.(lua.LNumber)
		f := float64(num)
		if !ok || f < 1 || math.Floor(f) != f {
			return -1, nil
		}
		if f > float64(math.MaxInt32) {
			// lua-cjson keeps the key in an int; such keys make the array
			// hopelessly sparse anyway.
			f = float64(math.MaxInt32)
		}
		if int(f) > maxKey {
			maxKey = int(f)
		}
		items++
	}
	c := e.cfg
	if c.sparseRatio > 0 && maxKey > items*c.sparseRatio && maxKey > c.sparseSafe {
		if !c.sparseConvert {
			return 0, cjEncodeErr("table", "excessively sparse array")
		}
		return -1, nil
	}
	return maxKey, nil
}

// cjHashStart returns the first entry after the array part 1..n (n is
// t.Len(), so everything after it in the array part is nil).
func cjHashStart(t *lua.LTable, n int) (lua.LValue, lua.LValue) {
	if n == 0 {
		return t.Next(lua.LNil)
	}
	return t.Next(lua.LNumber(n))
}

func (e *cjEncoder) encodeArray(t *lua.LTable, n, depth int) error {
	e.buf = append(e.buf, '[')
	for i := 1; i <= n; i++ {
		if i > 1 {
			e.buf = append(e.buf, ',')
		}
		if err := e.encode(t.RawGetInt(i), depth); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *cjEncoder) encodeObject(t *lua.LTable, depth int) error {
	start := len(e.kvs)
	e.keyErr = nil
	n := t.Len()
	for i := 1; i <= n; i++ {
		if v := t.RawGetInt(i); v != lua.LNil {
			e.collectKV(lua.LNumber(i), v)
		}
	}
	for k, v := cjHashStart(t, n); k != lua.LNil; k, v = t.Next(k) {
		e.collectKV(k, v)
	}
	if keyErr := e.keyErr; keyErr != nil {
		e.kvs = e.kvs[:start]
		return keyErr
	}
	end := len(e.kvs)
	slices.SortFunc(e.kvs[start:end], func(a, b cjKV) int { return strings.Compare(a.key, b.key) })
	e.buf = append(e.buf, '{')
	for i := start; i < end; i++ {
		kv := e.kvs[i]
		if i > start {
			e.buf = append(e.buf, ',')
		}
		if kv.num {
			e.buf = append(e.buf, '"')
			e.buf = append(e.buf, kv.key...)
			e.buf = append(e.buf, '"')
		} else {
			e.appendString(kv.key)
		}
		e.buf = append(e.buf, ':')
		if err := e.encode(kv.val, depth); err != nil {
			e.kvs = e.kvs[:start]
			return err
		}
	}
	e.buf = append(e.buf, '}')
	clear(e.kvs[start:end])
	e.kvs = e.kvs[:start]
	return nil
}

// collectKV adds one entry of the object being encoded.
func (e *cjEncoder) collectKV(k, v lua.LValue) {
	if e.keyErr != nil {
		return
	}
	switch k := k.(type) {
	case lua.LString:
		e.kvs = append(e.kvs, cjKV{key: string(k), val: v})
	case lua.LNumber:
		s, err := e.numberText(float64(k))
		if err != nil {
			e.keyErr = err
			return
		}
		e.kvs = append(e.kvs, cjKV{key: s, num: true, val: v})
	default:
		e.keyErr = cjEncodeErr(k.Type().String(), "table key must be a number or string")
	}
}

const cjHexLower = "0123456789abcdef"

func (e *cjEncoder) appendString(s string) {
	b := append(e.buf, '"')
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '/' && c != 0x7f {
			continue
		}
		if c == '/' && !e.cfg.escapeForwardSlash {
			continue
		}
		b = append(b, s[last:i]...)
		last = i + 1
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '/':
			b = append(b, '\\', '/')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', cjHexLower[c>>4], cjHexLower[c&0xf])
		}
	}
	b = append(b, s[last:]...)
	e.buf = append(b, '"')
}

func (e *cjEncoder) numberText(f float64) (string, error) {
	n := len(e.buf)
	if err := e.appendNumber(f); err != nil {
		return "", err
	}
	s := string(e.buf[n:])
	e.buf = e.buf[:n]
	return s, nil
}

func (e *cjEncoder) appendNumber(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		switch e.cfg.encodeInvalidNumbers {
		case 0:
			return cjEncodeErr("number", "must not be NaN or Infinity")
		case 1:
			switch {
			case math.IsNaN(f):
				e.buf = append(e.buf, "NaN"...)
			case f < 0:
				e.buf = append(e.buf, "-Infinity"...)
			default:
				e.buf = append(e.buf, "Infinity"...)
			}
		default:
			e.buf = append(e.buf, "null"...)
		}
		return nil
	}
	e.buf = modAppendNumberG(e.buf, f, e.cfg.precision)
	return nil
}

// modAppendNumberG formats f like C's "%.<prec>g" (what lua-cjson and Lua 5.1's
// tostring use): integral values have no ".0", exponents have a sign and at
// least two digits.
func modAppendNumberG(b []byte, f float64, prec int) []byte {
	return strconv.AppendFloat(b, f, 'g', prec, 64)
}

// ---------------------------------------------------------------- decoding

type cjTok uint8

const (
	tObjBegin cjTok = iota
	tObjEnd
	tArrBegin
	tArrEnd
	tString
	tNumber
	tBoolean
	tNull
	tColon
	tComma
	tEnd
	tWhitespace
	tError
	tUnknown
)

var cjTokNames = [...]string{
	"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING",
	"T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END",
	"T_WHITESPACE", "T_ERROR", "T_UNKNOWN",
}

var cjCh2Tok = func() (t [256]cjTok) {
	for i := range t {
		t[i] = tError
	}
	t['{'], t['}'], t['['], t[']'] = tObjBegin, tObjEnd, tArrBegin, tArrEnd
	t[','], t[':'], t[0] = tComma, tColon, tEnd
	t[' '], t['\t'], t['\n'], t['\r'] = tWhitespace, tWhitespace, tWhitespace, tWhitespace
	for _, c := range "fiInNt\"+-0123456789" {
		t[c] = tUnknown
	}
	return t
}()

type cjToken struct {
	typ   cjTok
	index int
	str   string
	num   float64
	b     bool
	err   string
}

type cjDecoder struct {
	L       *lua.LState
	cfg     *cjConfig
	data    string
	pos     int
	depth   int
	tmp     []byte
	arrayMT *lua.LTable
	values  int // decoded so far: the state's context is checked every 1<<14
}

func cjDecode(L *lua.LState, cfg *cjConfig, data string) (v lua.LValue, err error) {
	if len(data) >= 2 && (data[0] == 0 || data[1] == 0) {
		return nil, &cjError{msg: "JSON parser does not support UTF-16 or UTF-32"}
	}
	d := cjDecoder{L: L, cfg: cfg, data: data}
	if cfg.decodeArrayWithArrayMT {
		d.arrayMT = ArrayMT(L)
	}
	var tok cjToken
	d.next(&tok)
	v, err = d.value(&tok)
	if err != nil {
		return nil, err
	}
	d.next(&tok)
	if tok.typ != tEnd {
		return nil, d.parseErr("the end", &tok)
	}
	return v, nil
}

func (d *cjDecoder) at(i int) byte {
	if i < len(d.data) {
		return d.data[i]
	}
	return 0
}

func (d *cjDecoder) parseErr(exp string, tok *cjToken) error {
	found := cjTokNames[tok.typ]
	if tok.typ == tError {
		found = tok.err
	}
	return &cjError{msg: "Expected " + exp + " but found " + found + " at character " + strconv.Itoa(tok.index+1)}
}

func (d *cjDecoder) setErr(tok *cjToken, msg string) {
	tok.typ = tError
	tok.index = d.pos
	tok.err = msg
}

func (d *cjDecoder) next(tok *cjToken) {
	var c byte
	for {
		c = d.at(d.pos)
		tok.typ = cjCh2Tok[c]
		if tok.typ != tWhitespace {
			break
		}
		d.pos++
	}
	tok.index = d.pos
	switch tok.typ {
	case tError:
		d.setErr(tok, "invalid token")
		return
	case tEnd:
		return
	case tUnknown:
	default:
		d.pos++
		return
	}
	rest := d.data[d.pos:]
	switch {
	case c == '"':
		d.stringToken(tok)
	case c == '-' || (c >= '0' && c <= '9'):
		if !d.cfg.decodeInvalidNumbers && cjInvalidNumber(rest) {
			d.setErr(tok, "invalid number")
			return
		}
		d.numberToken(tok)
	case strings.HasPrefix(rest, "true"):
		tok.typ, tok.b = tBoolean, true
		d.pos += 4
	case strings.HasPrefix(rest, "false"):
		tok.typ, tok.b = tBoolean, false
		d.pos += 5
	case strings.HasPrefix(rest, "null"):
		tok.typ = tNull
		d.pos += 4
	case d.cfg.decodeInvalidNumbers && cjInvalidNumber(rest):
		d.numberToken(tok)
	default:
		d.setErr(tok, "invalid token")
	}
}

// cjInvalidNumber mirrors json_is_invalid_number: numbers modStrtod accepts
// but JSON does not (leading +, hex, leading zeros, inf, nan).
func cjInvalidNumber(s string) bool {
	p := 0
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	if at(p) == '+' {
		return true
	}
	if at(p) == '-' {
		p++
	}
	if at(p) == '0' {
		c2 := at(p + 1)
		return c2|0x20 == 'x' || (c2 >= '0' && c2 <= '9')
	} else if at(p) <= '9' {
		return false
	}
	rest := s[p:]
	return modHasPrefixFold(rest, "inf") || modHasPrefixFold(rest, "nan")
}

// cjNumberByte reports whether strtod may read c as part of a number
// (digits, hex digits, signs, '.', exponents, inf/infinity/nan(...)).
func cjNumberByte(c byte) bool {
	return modIsAlnum(c) || c == '+' || c == '-' || c == '.' || c == '_' || c == '(' || c == ')'
}

func modHasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (d *cjDecoder) numberToken(tok *cjToken) {
	// strtod only ever reads these bytes: stopping at the first other one
	// gives the same result and keeps decoding linear (modStrtod looks for
	// a NUL in all it is given: the whole rest of a large document per
	// number made cjson.decode quadratic, minutes for a 16 MiB array).
	end := d.pos
	for end < len(d.data) && cjNumberByte(d.data[end]) {
		end++
	}
	f, n := modStrtod(d.data[d.pos:end])
	if n == 0 {
		d.setErr(tok, "invalid number")
		return
	}
	tok.typ = tNumber
	tok.num = f
	d.pos += n
}

// modStrtod parses the longest prefix of s that C's modStrtod accepts (decimal,
// hexadecimal, inf/infinity, nan; optional sign) and returns the value and
// the number of bytes used (0: no conversion). The input stops at a NUL.
func modStrtod(s string) (float64, int) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	p := 0
	neg := false
	if p < len(s) && (s[p] == '+' || s[p] == '-') {
		neg = s[p] == '-'
		p++
	}
	sign := 1.0
	if neg {
		sign = -1
	}
	rest := s[p:]
	switch {
	case modHasPrefixFold(rest, "infinity"):
		return sign * math.Inf(1), p + 8
	case modHasPrefixFold(rest, "inf"):
		return sign * math.Inf(1), p + 3
	case modHasPrefixFold(rest, "nan"):
		n := p + 3
		if n < len(s) && s[n] == '(' {
			j := n + 1
			for j < len(s) && (modIsAlnum(s[j]) || s[j] == '_') {
				j++
			}
			if j < len(s) && s[j] == ')' {
				n = j + 1
			}
		}
		return math.NaN(), n
	}
	if len(rest) >= 3 && rest[0] == '0' && rest[1]|0x20 == 'x' && (modIsHex(rest[2]) || (rest[2] == '.' && len(rest) > 3 && modIsHex(rest[3]))) {
		j := 2
		for j < len(rest) && modIsHex(rest[j]) {
			j++
		}
		if j < len(rest) && rest[j] == '.' {
			j++
			for j < len(rest) && modIsHex(rest[j]) {
				j++
			}
		}
		mant := rest[:j]
		exp := "p0"
		if j < len(rest) && rest[j]|0x20 == 'p' {
			k := j + 1
			if k < len(rest) && (rest[k] == '+' || rest[k] == '-') {
				k++
			}
			if k < len(rest) && modIsDigit(rest[k]) {
				for k < len(rest) && modIsDigit(rest[k]) {
					k++
				}
				exp = rest[j:k]
				j = k
			}
		}
		f, err := strconv.ParseFloat(mant+exp, 64)
		if err != nil && !modIsRangeErr(err) {
			return 0, 0
		}
		return sign * f, p + j
	}
	j := 0
	digits := 0
	for j < len(rest) && modIsDigit(rest[j]) {
		j++
		digits++
	}
	if j < len(rest) && rest[j] == '.' {
		j++
		for j < len(rest) && modIsDigit(rest[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0
	}
	if j < len(rest) && rest[j]|0x20 == 'e' {
		k := j + 1
		if k < len(rest) && (rest[k] == '+' || rest[k] == '-') {
			k++
		}
		if k < len(rest) && modIsDigit(rest[k]) {
			for k < len(rest) && modIsDigit(rest[k]) {
				k++
			}
			j = k
		}
	}
	f, err := strconv.ParseFloat(rest[:j], 64)
	if err != nil && !modIsRangeErr(err) {
		return 0, 0
	}
	return sign * f, p + j
}

func modIsRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func modIsDigit(c byte) bool { return c >= '0' && c <= '9' }
func modIsHex(c byte) bool {
	return modIsDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}
func modIsAlnum(c byte) bool { return modIsDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func modHexVal(c byte) int {
	switch {
	case modIsDigit(c):
		return int(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return int(c|0x20-'a') + 10
	}
	return -1
}

func (d *cjDecoder) hex4(i int) int {
	v := 0
	for k := 0; k < 4; k++ {
		h := modHexVal(d.at(i + k))
		if h < 0 {
			return -1
		}
		v = v<<4 | h
	}
	return v
}

func (d *cjDecoder) stringToken(tok *cjToken) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes.
	for {
		c := d.at(d.pos)
		if c == '"' {
			tok.typ = tString
			tok.str = d.data[start:d.pos]
			d.pos++
			return
		}
		if c == 0 || c == '\\' {
			break
		}
		d.pos++
	}
	d.tmp = append(d.tmp[:0], d.data[start:d.pos]...)
	for {
		c := d.at(d.pos)
		if c == '"' {
			break
		}
		if c == 0 {
			d.setErr(tok, "unexpected end of string")
			return
		}
		if c == '\\' {
			esc := d.at(d.pos + 1)
			switch esc {
			case '"', '\\', '/':
				c = esc
			case 'b':
				c = '\b'
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'f':
				c = '\f'
			case 'r':
				c = '\r'
			case 'u':
				if !d.unicodeEscape() {
					d.setErr(tok, "invalid unicode escape code")
					return
				}
				continue
			default:
				d.setErr(tok, "invalid escape code")
				return
			}
			d.pos++
		}
		d.tmp = append(d.tmp, c)
		d.pos++
	}
	d.pos++
	tok.typ = tString
	tok.str = string(d.tmp)
}

func (d *cjDecoder) unicodeEscape() bool {
	cp := d.hex4(d.pos + 2)
	if cp < 0 {
		return false
	}
	escLen := 6
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 {
			return false
		}
		if d.at(d.pos+6) != '\\' || d.at(d.pos+7) != 'u' {
			return false
		}
		lo := d.hex4(d.pos + 8)
		if lo < 0 || lo&0xFC00 != 0xDC00 {
			return false
		}
		cp = ((cp&0x3FF)<<10 | (lo & 0x3FF)) + 0x10000
		escLen = 12
	}
	switch {
	case cp <= 0x7F:
		d.tmp = append(d.tmp, byte(cp))
	case cp <= 0x7FF:
		d.tmp = append(d.tmp, byte(cp>>6|0xC0), byte(cp&0x3F|0x80))
	case cp <= 0xFFFF:
		d.tmp = append(d.tmp, byte(cp>>12|0xE0), byte(cp>>6&0x3F|0x80), byte(cp&0x3F|0x80))
	default:
		d.tmp = append(d.tmp, byte(cp>>18|0xF0), byte(cp>>12&0x3F|0x80), byte(cp>>6&0x3F|0x80), byte(cp&0x3F|0x80))
	}
	d.pos += escLen
	return true
}

func (d *cjDecoder) descend() error {
	d.depth++
	if d.depth > d.cfg.decodeMaxDepth {
		return &cjError{msg: "Found too many nested data structures (" + strconv.Itoa(d.depth) + ") at character " + strconv.Itoa(d.pos)}
	}
	return nil
}

func (d *cjDecoder) value(tok *cjToken) (lua.LValue, error) {
	// A large document is one long Go call: let the time limit and the heap
	// check (which cancel the state's context) stop it part way.
	if d.values++; d.values&(1<<14-1) == 0 {
		if ctx := d.L.Context(); ctx != nil && ctx.Err() != nil {
			return nil, &cjError{msg: "Cannot decode: " + ctx.Err().Error()}
		}
	}
	switch tok.typ {
	case tString:
		return lua.LString(tok.str), nil
	case tNumber:
		return lua.LNumber(tok.num), nil
	case tBoolean:
		return lua.LBool(tok.b), nil
	case tNull:
		if d.cfg.decodeJSONNull {
			return nullValue, nil
		}
		return lua.LNil, nil
	case tObjBegin:
		return d.object()
	case tArrBegin:
		return d.array()
	}
	return nil, d.parseErr("value", tok)
}

func (d *cjDecoder) object() (lua.LValue, error) {
	if err := d.descend(); err != nil {
		return nil, err
	}
	t := d.L.CreateTable(0, 4)
	var tok cjToken
	d.next(&tok)
	if tok.typ == tObjEnd {
		d.depth--
		return t, nil
	}
	for {
		if tok.typ != tString {
			return nil, d.parseErr("object key string", &tok)
		}
		key := tok.str
		d.next(&tok)
		if tok.typ != tColon {
			return nil, d.parseErr("colon", &tok)
		}
		d.next(&tok)
		v, err := d.value(&tok)
		if err != nil {
			return nil, err
		}
		t.RawSetString(key, v)
		d.next(&tok)
		if tok.typ == tObjEnd {
			d.depth--
			return t, nil
		}
		if tok.typ != tComma {
			return nil, d.parseErr("comma or object end", &tok)
		}
		d.next(&tok)
	}
}

func (d *cjDecoder) array() (lua.LValue, error) {
	if err := d.descend(); err != nil {
		return nil, err
	}
	t := d.L.CreateTable(4, 0)
	if d.arrayMT != nil {
		t.Metatable = d.arrayMT
	}
	var tok cjToken
	d.next(&tok)
	if tok.typ == tArrEnd {
		d.depth--
		return t, nil
	}
	for i := 1; ; i++ {
		v, err := d.value(&tok)
		if err != nil {
			return nil, err
		}
		t.RawSetInt(i, v)
		d.next(&tok)
		if tok.typ == tArrEnd {
			d.depth--
			return t, nil
		}
		if tok.typ != tComma {
			return nil, d.parseErr("comma or array end", &tok)
		}
		d.next(&tok)
	}
}

// ---------------------------------------------------------------- module

// PreloadModules registers cjson, cjson.safe, ngx.re (split), ngx.base64,
// resty.sha1/sha224/sha256/sha384/sha512/md5, resty.string and resty.random
// in package.preload.
func PreloadModules(L *lua.LState) {
	preload := modPackagePreload(L)
	L.SetField(preload, "cjson", L.NewFunction(func(L *lua.LState) int {
		L.Push(newCJSONModule(L, false, cjDefaultConfig()))
		return 1
	}))
	L.SetField(preload, "cjson.safe", L.NewFunction(func(L *lua.LState) int {
		// Kong's globalpatches configure the shared cjson.safe instance
		// (only that one: cjson and cjson.safe.new() keep the defaults).
		cfg := cjDefaultConfig()
		cfg.precision = kongCJSONPrecision
		cfg.sparseSafe = kongCJSONSparseSafe
		L.Push(newCJSONModule(L, true, cfg))
		return 1
	}))
	preloadNgxRe(L, preload)
	preloadResty(L, preload)
}

func modPackagePreload(L *lua.LState) *lua.LTable {
	pkg, ok := L.GetGlobal("package").(*lua.LTable)
	if !ok {
		L.Push(L.NewFunction(lua.OpenPackage))
		L.Push(lua.LString(lua.LoadLibName))
		L.Call(1, 0)
		pkg = L.GetGlobal("package").(*lua.LTable)
	}
	preload, ok := L.GetField(pkg, "preload").(*lua.LTable)
	if !ok {
		preload = L.NewTable()
		L.SetField(pkg, "preload", preload)
	}
	return preload
}

func newCJSONModule(L *lua.LState, safe bool, cfg *cjConfig) *lua.LTable {
	m := L.CreateTable(0, 24)
	set := func(name string, fn lua.LGFunction) { m.RawSetString(name, L.NewFunction(fn)) }

	set("encode", func(L *lua.LState) int {
		if L.GetTop() != 1 {
			L.ArgError(1, "expected 1 argument")
		}
		e := cjEncoder{L: L, cfg: cfg, kvs: cfg.kvs[:0], max: maxStringSize(L)}
		if cfg.keepBuffer {
			e.buf = cfg.buf[:0]
		}
		err := e.encode(L.Get(1), 0)
		if err == nil && e.max > 0 && len(e.buf) > e.max {
			err = errJSONTooLarge
		}
		if cfg.keepBuffer && cap(e.buf) <= 1<<20 {
			cfg.buf = e.buf[:0]
		}
		if err != nil {
			// error paths skip the per-object clearing: drop references
			clear(e.kvs[:cap(e.kvs)])
		}
		if cap(e.kvs) <= 1024 {
			cfg.kvs = e.kvs[:0]
		}
		if err != nil {
			return cjFail(L, safe, err)
		}
		L.Push(lua.LString(e.buf))
		return 1
	})
	set("decode", func(L *lua.LState) int {
		if L.GetTop() != 1 {
			L.ArgError(1, "expected 1 argument")
		}
		var s string
		switch v := L.Get(1).(type) {
		case lua.LString:
			s = string(v)
		case lua.LNumber:
			s = modNumberString(float64(v))
		default:
			msg := "bad argument #1 to 'decode' (string expected, got " + v.Type().String() + ")"
			if safe {
				L.Push(lua.LNil)
				L.Push(lua.LString(msg))
				return 2
			}
			L.RaiseError("%s", msg)
		}
		v, err := cjDecode(L, cfg, s)
		if err != nil {
			return cjFail(L, safe, err)
		}
		L.Push(v)
		return 1
	})
	boolOpt := func(name string, p *bool) {
		set(name, func(L *lua.LState) int {
			cjsonArgInit(L, 1)
			*p = cjsonEnumBool(L, 1, *p)
			L.Push(lua.LBool(*p))
			return 1
		})
	}
	intOpt := func(name string, p *int, lo, hi int) {
		set(name, func(L *lua.LState) int {
			cjsonArgInit(L, 1)
			cjsonIntOpt(L, 1, p, lo, hi)
			return 1
		})
	}
	boolOpt("encode_empty_table_as_object", &cfg.emptyTableAsObject)
	boolOpt("decode_array_with_array_mt", &cfg.decodeArrayWithArrayMT)
	boolOpt("decode_json_null", &cfg.decodeJSONNull)
	boolOpt("decode_invalid_numbers", &cfg.decodeInvalidNumbers)
	boolOpt("encode_escape_forward_slash", &cfg.escapeForwardSlash)
	set("encode_keep_buffer", func(L *lua.LState) int {
		cjsonArgInit(L, 1)
		cfg.keepBuffer = cjsonEnumBool(L, 1, cfg.keepBuffer)
		if !cfg.keepBuffer {
			cfg.buf = nil
		}
		L.Push(lua.LBool(cfg.keepBuffer))
		return 1
	})
	intOpt("encode_max_depth", &cfg.encodeMaxDepth, 1, math.MaxInt32)
	intOpt("decode_max_depth", &cfg.decodeMaxDepth, 1, math.MaxInt32)
	intOpt("encode_number_precision", &cfg.precision, 1, 16)
	set("encode_sparse_array", func(L *lua.LState) int {
		cjsonArgInit(L, 3)
		L.SetTop(3)
		cfg.sparseConvert = cjsonEnumBool(L, 1, cfg.sparseConvert)
		cjsonIntOpt(L, 2, &cfg.sparseRatio, 0, math.MaxInt32)
		cjsonIntOpt(L, 3, &cfg.sparseSafe, 0, math.MaxInt32)
		L.SetTop(3)
		L.Push(lua.LBool(cfg.sparseConvert))
		L.Push(lua.LNumber(cfg.sparseRatio))
		L.Push(lua.LNumber(cfg.sparseSafe))
		return 3
	})
	set("encode_invalid_numbers", func(L *lua.LState) int {
		cjsonArgInit(L, 1)
		switch v := L.Get(1).(type) {
		case *lua.LNilType:
		case lua.LBool:
			cfg.encodeInvalidNumbers = 0
			if v {
				cfg.encodeInvalidNumbers = 1
			}
		default:
			cfg.encodeInvalidNumbers = L.CheckOption(1, []string{"off", "on", "null"})
		}
		switch cfg.encodeInvalidNumbers {
		case 0:
			L.Push(lua.LFalse)
		case 1:
			L.Push(lua.LTrue)
		default:
			L.Push(lua.LString("null"))
		}
		return 1
	})
	set("new", func(L *lua.LState) int {
		L.Push(newCJSONModule(L, safe, cjDefaultConfig()))
		return 1
	})
	m.RawSetString("null", nullValue)
	m.RawSetString("empty_array", emptyArrayValue)
	m.RawSetString("array_mt", ArrayMT(L))
	m.RawSetString("empty_array_mt", cjEmptyArrayMT(L))
	name := "cjson"
	if safe {
		name = "cjson.safe"
	}
	m.RawSetString("_NAME", lua.LString(name))
	m.RawSetString("_VERSION", lua.LString(cjVersion))
	return m
}

func cjFail(L *lua.LState, safe bool, err error) int {
	if safe {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	// lua-cjson raises from C, so the message has no position prefix.
	L.Error(lua.LString(err.Error()), 0)
	return 0
}

func cjsonArgInit(L *lua.LState, n int) {
	if L.GetTop() > n {
		L.ArgError(n+1, "found too many arguments")
	}
}

func cjsonEnumBool(L *lua.LState, i int, cur bool) bool {
	switch v := L.Get(i).(type) {
	case *lua.LNilType:
		return cur
	case lua.LBool:
		return bool(v)
	default:
		return L.CheckOption(i, []string{"off", "on"}) == 1
	}
}

func cjsonIntOpt(L *lua.LState, i int, p *int, lo, hi int) {
	if L.Get(i) != lua.LNil {
		v := L.CheckInt(i)
		if v < lo || v > hi {
			// lua-cjson reports the range error against argument 1.
			L.ArgError(1, "expected integer between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
		}
		*p = v
	}
	L.Push(lua.LNumber(*p))
}
