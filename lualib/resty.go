package lualib

// resty.go: the small lua-resty-string modules user functions require:
// resty.sha1/sha224/sha256/sha384/sha512/md5 (new/update/final/reset),
// resty.string (to_hex, atoi) and resty.random (bytes).

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

const restyHashType = "luagate.resty.hash"

type restyHash struct{ h hash.Hash }

// preloadResty registers the resty.* helper modules in package.preload.
func preloadResty(L *lua.LState, preload *lua.LTable) {
	hashes := map[string]func() hash.Hash{
		"resty.md5":    md5.New,
		"resty.sha1":   sha1.New,
		"resty.sha224": sha256.New224,
		"resty.sha256": sha256.New,
		"resty.sha384": sha512.New384,
		"resty.sha512": sha512.New,
	}
	for name, ctor := range hashes {
		L.SetField(preload, name, L.NewFunction(func(L *lua.LState) int {
			L.Push(newRestyHashModule(L, ctor))
			return 1
		}))
	}
	L.SetField(preload, "resty.string", L.NewFunction(func(L *lua.LState) int {
		m := L.CreateTable(0, 3)
		L.SetFuncs(m, map[string]lua.LGFunction{"to_hex": restyToHex, "atoi": restyAtoi})
		m.RawSetString("_VERSION", lua.LString("0.16"))
		L.Push(m)
		return 1
	}))
	L.SetField(preload, "ngx.base64", L.NewFunction(func(L *lua.LState) int {
		m := L.CreateTable(0, 3)
		L.SetFuncs(m, map[string]lua.LGFunction{
			"encode_base64url": ngxEncodeBase64URL,
			"decode_base64url": ngxDecodeBase64URL,
		})
		m.RawSetString("version", lua.LString("0.1.0"))
		L.Push(m)
		return 1
	}))
	L.SetField(preload, "resty.random", L.NewFunction(func(L *lua.LState) int {
		m := L.CreateTable(0, 2)
		L.SetFuncs(m, map[string]lua.LGFunction{"bytes": restyRandomBytes})
		m.RawSetString("_VERSION", lua.LString("0.16"))
		L.Push(m)
		return 1
	}))
	preloadRedis(L, preload)
	preloadHTTP(L, preload)
}

func restyHashMeta(L *lua.LState) *lua.LTable {
	mt, isNew := L.NewTypeMetatable(restyHashType), false
	if mt.RawGetString("__index") == lua.LNil {
		isNew = true
	}
	if isNew {
		methods := L.CreateTable(0, 3)
		L.SetFuncs(methods, map[string]lua.LGFunction{
			"update": restyHashUpdate,
			"final":  restyHashFinal,
			"reset":  restyHashReset,
		})
		mt.RawSetString("__index", methods)
	}
	return mt
}

func newRestyHashModule(L *lua.LState, ctor func() hash.Hash) *lua.LTable {
	m := L.CreateTable(0, 2)
	m.RawSetString("_VERSION", lua.LString("0.16"))
	m.RawSetString("new", L.NewFunction(func(L *lua.LState) int {
		ud := L.NewUserData()
		ud.Value = &restyHash{h: ctor()}
		ud.Metatable = restyHashMeta(L)
		L.Push(ud)
		return 1
	}))
	return m
}

func checkRestyHash(L *lua.LState) *restyHash {
	ud, ok := L.Get(1).(*lua.LUserData)
	if ok {
		if h, ok := ud.Value.(*restyHash); ok {
			return h
		}
	}
	L.ArgError(1, "hash object expected (call it as h:update(s))")
	return nil
}

func restyHashUpdate(L *lua.LState) int {
	h := checkRestyHash(L)
	s := L.CheckString(2)
	h.h.Write([]byte(s))
	L.Push(lua.LTrue)
	return 1
}

func restyHashFinal(L *lua.LState) int {
	h := checkRestyHash(L)
	L.Push(lua.LString(h.h.Sum(nil)))
	return 1
}

func restyHashReset(L *lua.LState) int {
	h := checkRestyHash(L)
	h.h.Reset()
	L.Push(lua.LTrue)
	return 1
}

// ngxEncodeBase64URL is ngx.base64.encode_base64url: URL-safe alphabet, no
// padding; the argument must be a string.
func ngxEncodeBase64URL(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		L.RaiseError("string argument only")
	}
	L.Push(lua.LString(base64.RawURLEncoding.EncodeToString([]byte(s))))
	return 1
}

// ngxDecodeBase64URL is ngx.base64.decode_base64url: URL-safe alphabet,
// padding optional; invalid input gives nil, "invalid input".
func ngxDecodeBase64URL(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		L.RaiseError("string argument only")
	}
	in := strings.TrimRight(string(s), "=")
	out, err := base64.RawURLEncoding.DecodeString(in)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("invalid input"))
		return 2
	}
	L.Push(lua.LString(out))
	return 1
}

func restyToHex(L *lua.LState) int {
	L.Push(lua.LString(hex.EncodeToString([]byte(L.CheckString(1)))))
	return 1
}

// restyAtoi is C's atoi: optional leading white space and sign, then digits;
// anything else stops the conversion (no digits gives 0).
func restyAtoi(L *lua.LState) int {
	s := L.CheckString(1)
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n int32
	for ; i < len(s) && modIsDigit(s[i]); i++ {
		n = n*10 + int32(s[i]-'0')
	}
	if neg {
		n = -n
	}
	L.Push(lua.LNumber(n))
	return 1
}

// restyRandomBytes is resty.random.bytes(len, strong): both modes read the
// operating system's CSPRNG.
func restyRandomBytes(L *lua.LState) int {
	n := L.CheckInt(1)
	if n < 0 {
		L.ArgError(1, "length must not be negative")
	}
	if n > 1<<20 {
		L.ArgError(1, "length too large")
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(b))
	return 1
}
