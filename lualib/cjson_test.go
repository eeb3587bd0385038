package lualib

import (
	"fmt"
	"strings"
	"testing"

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

func TestCJSONSmoke(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"encode object", `local cjson = require "cjson"; return cjson.encode({b=1, a="x/y"})`, `{"a":"x\/y","b":1}`, ""},
		{"decode", `local cjson = require "cjson"; local t = cjson.decode('{"a":[1,2,null]}'); return t.a[2], t.a[3] == ngx.null`, `2|true`, ""},
		{"bad json", `return require("cjson").decode("x")`, "", "Expected value but found invalid token at character 1"},
	})
}
