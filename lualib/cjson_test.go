package lualib

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// modState returns a plain gopher-lua state with every module of this
// package opened, the way NewState wires them.
func modState(t testing.TB, dicts *SharedDicts) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	ngx := L.NewTable()
	L.SetGlobal("ngx", ngx)
	ngx.RawSetString("null", NullValue(L))
	OpenLuaJITExtras(L)
	OpenNgxUtils(L, ngx)
	OpenNgxRe(L, ngx)
	OpenNgxShared(L, ngx, dicts)
	PreloadModules(L)
	return L
}

// modShow renders Lua values for comparisons: strings raw, numbers as Lua
// prints them, ngx.null as "null", tables as "table".
func modShow(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return modNumberString(float64(v))
	case *lua.LNilType:
		return "nil"
	case lua.LBool:
		return fmt.Sprint(bool(v))
	case *lua.LUserData:
		if v == nullValue {
			return "null"
		}
	}
	return v.Type().String()
}

// modEval runs code and returns its results joined with "|".
func modEval(L *lua.LState, code string) (string, error) {
	top := L.GetTop()
	if err := L.DoString(code); err != nil {
		L.SetTop(top)
		return "", err
	}
	var parts []string
	for i := top + 1; i <= L.GetTop(); i++ {
		parts = append(parts, modShow(L.Get(i)))
	}
	L.SetTop(top)
	return strings.Join(parts, "|"), nil
}

type modCase struct {
	name string
	code string
	want string // expected results joined with "|"
	err  string // when set, a substring of the expected error
}

func runModCases(t *testing.T, L *lua.LState, cases []modCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := modEval(L, tc.code)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("%s\n= %q, want error containing %q", tc.code, got, tc.err)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%s\nerror = %q, want it to contain %q", tc.code, err.Error(), tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nunexpected error: %v", tc.code, err)
			}
			if got != tc.want {
				t.Errorf("%s\n= %q, want %q", tc.code, got, tc.want)
			}
		})
	}
}

func TestCJSONEncode(t *testing.T) {
	L := modState(t, nil)
	if err := L.DoString(`cjson = require "cjson"`); err != nil {
		t.Fatal(err)
	}
	runModCases(t, L, []modCase{
		{"sorted object keys", `return cjson.encode({b=1, a="x", c=true})`, `{"a":"x","b":1,"c":true}`, ""},
		{"array", `return cjson.encode({1, "two", false})`, `[1,"two",false]`, ""},
		{"empty table is object", `return cjson.encode({})`, `{}`, ""},
		{"nested", `return cjson.encode({a={b={1,2}}})`, `{"a":{"b":[1,2]}}`, ""},
		{"null sentinel", `return cjson.encode({cjson.null, ngx.null})`, `[null,null]`, ""},
		{"nil top level", `return cjson.encode(nil)`, `null`, ""},
		{"escape slash and quotes", `return cjson.encode("a/b\"c\\d")`, `"a\/b\"c\\d"`, ""},
		{"control characters", `return cjson.encode("\0\1\b\t\n\f\r\31\127")`, `"\u0000\u0001\b\t\n\f\r\u001f\u007f"`, ""},
		{"bytes above 0x7f untouched", `return cjson.encode("é\255")`, "\"é\xff\"", ""},
		{"integers without .0", `return cjson.encode({1.0, -3, 0})`, `[1,-3,0]`, ""},
		{"precision 14", `return cjson.encode({0.1, 1/3, 3.14159265358979})`, `[0.1,0.33333333333333,3.1415926535898]`, ""},
		{"large numbers use exponent", `return cjson.encode({1e15, 1e14, 123456789012345, 2^53})`, `[1e+15,1e+14,1.2345678901234e+14,9.007199254741e+15]`, ""},
		{"small numbers", `return cjson.encode({1e-5, 0.0001, 1.5e-7})`, `[1e-05,0.0001,1.5e-07]`, ""},
		{"negative zero", `return cjson.encode(-0.0)`, `-0`, ""},
		{"nan refused", `return cjson.encode(0/0)`, "", "Cannot serialise number: must not be NaN or Infinity"},
		{"inf refused", `return cjson.encode({x=1/0})`, "", "Cannot serialise number: must not be NaN or Infinity"},
		{"function refused", `return cjson.encode({f=print})`, "", "Cannot serialise function: type not supported"},
		{"userdata refused", `return cjson.encode(newproxy and newproxy() or coroutine.create(print))`, "", "type not supported"},
		{"boolean key refused", `return cjson.encode({[true]=1})`, "", "Cannot serialise boolean: table key must be a number or string"},
		{"mixed keys become object", `return cjson.encode({1, 2, x=3})`, `{"1":1,"2":2,"x":3}`, ""},
		{"float key makes object", `return cjson.encode({[1.5]="a"})`, `{"1.5":"a"}`, ""},
		{"holes become null", `return cjson.encode({1, nil, 3})`, `[1,null,3]`, ""},
		{"sparse within safe limit", `local t = {}; t[10] = 1; return cjson.encode(t)`, `[null,null,null,null,null,null,null,null,null,1]`, ""},
		{"excessively sparse", `local t = {}; t[11] = 1; return cjson.encode(t)`, "", "Cannot serialise table: excessively sparse array"},
		{"sparse ratio ok", `local t = {1,2,3,4,5,6}; t[12] = 1; return cjson.encode(t)`, `[1,2,3,4,5,6,null,null,null,null,null,1]`, ""},
		{"array_mt empty", `return cjson.encode(setmetatable({}, cjson.array_mt))`, `[]`, ""},
		{"array_mt ignores hash keys", `return cjson.encode(setmetatable({1, 2, x=1}, cjson.array_mt))`, `[1,2]`, ""},
		{"empty_array_mt", `return cjson.encode({a=setmetatable({}, cjson.empty_array_mt)})`, `{"a":[]}`, ""},
		{"empty_array_mt non-empty object", `return cjson.encode(setmetatable({x=1}, cjson.empty_array_mt))`, `{"x":1}`, ""},
		{"empty_array sentinel", `return cjson.encode({list=cjson.empty_array})`, `{"list":[]}`, ""},
		{"other metatable ignored", `return cjson.encode(setmetatable({}, {}))`, `{}`, ""},
		{"depth limit", `local t = {}; local c = t; for i = 1, 1001 do c[1] = {}; c = c[1] end; return cjson.encode(t)`, "", "Cannot serialise, excessive nesting (1001)"},
		{"depth 1000 ok", `local t = {}; local c = t; for i = 1, 999 do c[1] = {}; c = c[1] end; return #cjson.encode(t)`, "2000", ""},
		{"expects one argument", `return cjson.encode()`, "", "expected 1 argument"},
		{"no position prefix", `local ok, err = pcall(cjson.encode, print); return err`, "Cannot serialise function: type not supported", ""},
		{"number keys formatted", `return cjson.encode({[1]=1, [0.5]=2})`, `{"0.5":2,"1":1}`, ""},
	})
}

func TestCJSONConfig(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"empty table as array", `local c = require("cjson").new(); c.encode_empty_table_as_object(false); return c.encode({a={}})`, `{"a":[]}`, ""},
		{"config returns value", `local c = require("cjson").new(); return c.encode_empty_table_as_object(), c.encode_empty_table_as_object("off")`, `true|false`, ""},
		{"precision", `local c = require("cjson").new(); c.encode_number_precision(16); return c.encode({0.1+0.2, 1/3})`, `[0.3,0.3333333333333333]`, ""},
		{"precision range", `local c = require("cjson").new(); return c.encode_number_precision(17)`, "", "expected integer between 1 and 16"},
		{"sparse convert", `local c = require("cjson").new(); c.encode_sparse_array(true); local t = {}; t[20] = "x"; return c.encode(t)`, `{"20":"x"}`, ""},
		{"sparse config returns three", `local c = require("cjson").new(); return c.encode_sparse_array(nil, 3, 20)`, `false|3|20`, ""},
		{"sparse ratio 0 allows all", `local c = require("cjson").new(); c.encode_sparse_array(false, 0); local t = {}; t[12] = 1; return #c.encode(t)`, "58", ""},
		{"invalid numbers on", `local c = require("cjson").new(); c.encode_invalid_numbers(true); return c.encode({0/0 ~= 0/0 and 1/0 or 0, -1/0})`, `[Infinity,-Infinity]`, ""},
		{"invalid numbers null", `local c = require("cjson").new(); return c.encode_invalid_numbers("null"), c.encode({1/0})`, `null|[null]`, ""},
		{"forward slash off", `local c = require("cjson").new(); c.encode_escape_forward_slash(false); return c.encode("a/b")`, `"a/b"`, ""},
		{"max depth", `local c = require("cjson").new(); c.encode_max_depth(2); return c.encode({{{1}}})`, "", "Cannot serialise, excessive nesting (3)"},
		{"decode max depth", `local c = require("cjson").new(); c.decode_max_depth(2); return c.decode("[[[1]]]")`, "", "Found too many nested data structures (3) at character 3"},
		{"instances independent", `local a = require("cjson"); local b = a.new(); b.encode_empty_table_as_object(false); return a.encode({}), b.encode({})`, `{}|[]`, ""},
		{"safe separate from cjson", `local a = require("cjson"); local s = require("cjson.safe"); s.encode_empty_table_as_object(false); return a.encode({}), s.encode({})`, `{}|[]`, ""},
		{"shared array_mt", `return require("cjson").array_mt == require("cjson.safe").array_mt`, "true", ""},
		{"too many args", `return require("cjson").encode_max_depth(1, 2)`, "", "found too many arguments"},
		{"bad option", `return require("cjson").encode_keep_buffer("maybe")`, "", "invalid option"},
		{"null identity", `local c = require("cjson"); return c.null == ngx.null, type(c.null), tostring(c.null), c.null ~= nil, not not c.null`, `true|userdata|userdata: NULL|true|true`, ""},
		{"module fields", `local c = require("cjson"); return c._NAME, require("cjson.safe")._NAME, type(c._VERSION)`, `cjson|cjson.safe|string`, ""},
		{"kong cjson.safe precision 16", `return require("cjson.safe").encode({1/3, 2^53})`, `[0.3333333333333333,9007199254740992]`, ""},
		{"kong cjson.safe sparse 2^15", `local t = {}; t[32768] = 1; local s = require("cjson.safe").encode(t); local t2 = {}; t2[32769] = 1; return #s, require("cjson.safe").encode(t2)`, `163838|nil|Cannot serialise table: excessively sparse array`, ""},
		{"cjson keeps defaults", `return require("cjson").encode(1/3), require("cjson.safe").new().encode(1/3)`, `0.33333333333333|0.33333333333333`, ""},
		{"kong settings are readable", `return require("cjson.safe").encode_number_precision(), require("cjson.safe").encode_sparse_array()`, `16|false|2|32768`, ""},
		{"getmetatable of null is protected", `return getmetatable(ngx.null)`, `false`, ""},
	})
}

func TestCJSONDecode(t *testing.T) {
	L := modState(t, nil)
	if err := L.DoString(`cjson = require "cjson"; safe = require "cjson.safe"`); err != nil {
		t.Fatal(err)
	}
	runModCases(t, L, []modCase{
		{"object", `local t = cjson.decode('{"a":1,"b":"x","c":true,"d":null}'); return t.a, t.b, t.c, t.d`, `1|x|true|null`, ""},
		{"array", `local t = cjson.decode('[1, 2.5, "3"]'); return #t, t[1], t[2], t[3]`, `3|1|2.5|3`, ""},
		{"scalar", `return cjson.decode('"hi"'), cjson.decode(' 42 '), cjson.decode('true')`, `hi|42|true`, ""},
		{"number argument", `return cjson.decode(123)`, `123`, ""},
		{"escapes", `return cjson.decode('"a\\n\\t\\"\\\\\\/\\b\\f\\r"')`, "a\n\t\"\\/\b\f\r", ""},
		{"unicode escape", `return cjson.decode('"\\u00e9\\u20ac"')`, "é€", ""},
		{"surrogate pair", `return cjson.decode('"\\ud83d\\ude00"')`, "😀", ""},
		{"lone low surrogate", `return cjson.decode('"\\ude00"')`, "", "Expected value but found invalid unicode escape code at character 2"},
		{"bad escape", `return cjson.decode('"\\q"')`, "", "Expected value but found invalid escape code at character 2"},
		{"invalid token", `return cjson.decode('x')`, "", "Expected value but found invalid token at character 1"},
		{"empty string", `return cjson.decode('')`, "", "Expected value but found T_END at character 1"},
		{"unterminated object", `return cjson.decode('{')`, "", "Expected object key string but found T_END at character 2"},
		{"unterminated string", `return cjson.decode('"abc')`, "", "Expected value but found unexpected end of string at character 5"},
		{"missing colon", `return cjson.decode('{"a" 1}')`, "", "Expected colon but found T_NUMBER at character 6"},
		{"trailing comma array", `return cjson.decode('[1,]')`, "", "Expected value but found T_ARR_END at character 4"},
		{"trailing garbage", `return cjson.decode('[1] x')`, "", "Expected the end but found invalid token at character 5"},
		{"missing comma", `return cjson.decode('{"a":1 "b":2}')`, "", "Expected comma or object end but found T_STRING at character 8"},
		{"array missing comma", `return cjson.decode('[1 2]')`, "", "Expected comma or array end but found T_NUMBER at character 4"},
		{"non-string key", `return cjson.decode('{1:2}')`, "", "Expected object key string but found T_NUMBER at character 2"},
		{"utf16 refused", `return cjson.decode('\0a')`, "", "JSON parser does not support UTF-16 or UTF-32"},
		{"NUL ends input", `return cjson.decode('[1]\0zzz')[1]`, "1", ""},
		{"strtod extras by default", `local t = cjson.decode('[0x10, 1e2, -Infinity, 010]'); return t[1], t[2], t[3], t[4]`, `16|100|-inf|10`, ""},
		{"nan decodes", `local v = cjson.decode('nan'); return v ~= v`, "true", ""},
		{"strict numbers", `local c = cjson.new(); c.decode_invalid_numbers(false); return c.decode('0x10')`, "", "Expected value but found invalid number at character 1"},
		{"strict numbers inf", `local c = cjson.new(); c.decode_invalid_numbers(false); return c.decode('[Infinity]')`, "", "Expected value but found invalid token at character 2"},
		{"lone minus", `return cjson.decode('-')`, "", "Expected value but found invalid number at character 1"},
		{"exponent without digits", `return cjson.decode('1e')`, "", "Expected the end but found invalid token at character 2"},
		{"big number", `return cjson.decode('1e400')`, "inf", ""},
		{"depth 1000 ok", `return type(cjson.decode(string.rep("[", 1000) .. string.rep("]", 1000)))`, "table", ""},
		{"depth 1001", `return cjson.decode(string.rep("[", 1001) .. string.rep("]", 1001))`, "", "Found too many nested data structures (1001) at character 1001"},
		{"array_mt off by default", `return getmetatable(cjson.decode('[]')) == nil`, "true", ""},
		{"array_mt on", `local c = cjson.new(); c.decode_array_with_array_mt(true); local t = c.decode('{"a":[]}'); return getmetatable(t.a) == c.array_mt, c.encode(t)`, `true|{"a":[]}`, ""},
		{"json null off", `local c = cjson.new(); c.decode_json_null(false); local t = c.decode('[1,null,3]'); return t[2], t[3]`, `nil|3`, ""},
		{"safe decode", `return safe.decode('{')`, `nil|Expected object key string but found T_END at character 2`, ""},
		{"safe encode", `return safe.encode(print)`, `nil|Cannot serialise function: type not supported`, ""},
		{"safe decode bad type", `return safe.decode(true)`, `nil|bad argument #1 to 'decode' (string expected, got boolean)`, ""},
		{"safe still checks arg count", `return safe.decode()`, "", "expected 1 argument"},
		{"safe new stays safe", `return safe.new().decode('x')`, `nil|Expected value but found invalid token at character 1`, ""},
		{"duplicate keys last wins", `return cjson.decode('{"a":1,"a":2}').a`, "2", ""},
		{"round trip", `return cjson.encode(cjson.decode('{"b":[1,2,{"c":null}],"a":"\\/"}'))`, `{"a":"\/","b":[1,2,{"c":null}]}`, ""},
	})
}

func TestEncodeDecodeJSONHelpers(t *testing.T) {
	L := modState(t, nil)
	v, err := DecodeJSON(L, []byte(`{"list":[],"obj":{},"n":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeJSON(L, v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"list":[],"n":[1,2],"obj":{}}`; got != want {
		t.Errorf("round trip = %s, want %s", got, want)
	}
	if out, err := EncodeJSON(L, lua.LNumber(1.0/3)); err != nil || string(out) != "0.3333333333333333" {
		t.Errorf("EncodeJSON(1/3) = %s, %v; want Kong's 16 digits", out, err)
	}
	sparse := L.NewTable()
	sparse.RawSetInt(100, lua.LTrue)
	if out, err := EncodeJSON(L, sparse); err != nil || len(out) != 5*99+6 {
		t.Errorf("EncodeJSON(sparse index 100) = %.20s..., %v; want an array (Kong allows 2^15)", out, err)
	}
	if _, err := DecodeJSON(L, []byte(`{"a":`)); err == nil || err.Error() != "Expected value but found T_END at character 6" {
		t.Errorf("DecodeJSON error = %v", err)
	}
	if _, err := EncodeJSON(L, L.NewFunction(func(*lua.LState) int { return 0 })); err == nil || err.Error() != "Cannot serialise function: type not supported" {
		t.Errorf("EncodeJSON error = %v", err)
	}
	// The helpers' arrays share the state's cjson.array_mt.
	if err := L.DoString(`arr_mt = require("cjson").array_mt`); err != nil {
		t.Fatal(err)
	}
	tbl := v.(*lua.LTable).RawGetString("list").(*lua.LTable)
	if tbl.Metatable != L.GetGlobal("arr_mt") {
		t.Errorf("decoded array does not carry cjson.array_mt")
	}
}

func FuzzCJSONDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}],"c":"\u00e9\/"}`, `[]`, `{}`, `"x"`, `1e5`, `[0x1F, -Infinity]`, `{"a":`, "\"\\ud83d\\ude00\"", `[[[[]]]]`, `[1,null,true,false,"\n"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		v, err := DecodeJSON(L, data)
		if err != nil {
			return
		}
		cfg := cjDefaultConfig()
		cfg.encodeInvalidNumbers = 1 // decoded NaN/Inf must survive the round trip
		cfg.precision = 17
		cfg.sparseRatio = 0
		enc := func(v lua.LValue) []byte {
			e := cjEncoder{L: L, cfg: cfg}
			if err := e.encode(v, 0); err != nil {
				t.Fatalf("encode after decode of %q: %v", data, err)
			}
			return e.buf
		}
		first := enc(v)
		v2, err := DecodeJSON(L, first)
		if err != nil {
			t.Fatalf("decode of re-encoded %q (from %q): %v", first, data, err)
		}
		if second := enc(v2); string(second) != string(first) {
			t.Fatalf("not stable: %q then %q (input %q)", first, second, data)
		}
	})
}

func BenchmarkCJSONEncode(b *testing.B) {
	L := modState(b, nil)
	if err := L.DoString(`obj = {id = 42, name = "alice", roles = {"admin", "dev"}, active = true, score = 12.5}`); err != nil {
		b.Fatal(err)
	}
	obj := L.GetGlobal("obj")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeJSON(L, obj); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCJSONDecode(b *testing.B) {
	L := modState(b, nil)
	data := []byte(`{"id":42,"name":"alice","roles":["admin","dev"],"active":true,"score":12.5}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(L, data); err != nil {
			b.Fatal(err)
		}
	}
}

func luaString(s string) lua.LString { return lua.LString(s) }

// TestModuleScripts runs testdata/modules_lua/*.lua with an assert_eq helper
// (a folder of their own: testdata/*.lua are the PDK scripts of pdk_test.go).
func TestModuleScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/modules_lua/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no module scripts found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			L := modState(t, NewSharedDicts(map[string]int{"limits": 1 << 20}))
			L.SetGlobal("assert_eq", L.NewFunction(func(L *lua.LState) int {
				got, want := L.Get(1), L.Get(2)
				if !L.Equal(got, want) {
					L.RaiseError("%s: got %s (%s), want %s (%s)", L.OptString(3, "assert_eq"),
						modShow(got), got.Type(), modShow(want), want.Type())
				}
				return 0
			}))
			if err := L.DoFile(file); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNullSharedAcrossStates checks that the one ngx.null/cjson.null value is
// used safely by states running in parallel (run with -race).
func TestNullSharedAcrossStates(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			L := modState(t, nil)
			for i := 0; i < 50; i++ {
				got, err := modEval(L, `local c = require "cjson"; return tostring(ngx.null), c.null == ngx.null, c.encode({ngx.null}), c.decode("null") == ngx.null`)
				if err != nil || got != "userdata: NULL|true|[null]|true" {
					t.Errorf("got %q, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// cjson.decode stays linear in the number of numbers: strtod used to look
// for a NUL in the whole rest of the document for each number (minutes for
// a 16 MiB array).
func TestDecodeManyNumbersIsLinear(t *testing.T) {
	L := NewState(StateOptions{})
	defer L.Close()
	start := time.Now()
	if err := L.DoString(`local s = "[" .. string.rep("1.5e3,", 299999) .. "0]"
		local t = require("cjson").decode(s)
		assert(#t == 300000 and t[1] == 1500 and t[300000] == 0)`); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("decoding 300000 numbers took %v", d)
	}
}
