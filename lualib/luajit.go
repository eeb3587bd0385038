package lualib

// luajit.go: the LuaJIT / OpenResty extras that Kong's sandbox exposes and
// user code expects: the bit library (32-bit semantics), table.new/clear/
// clone/isarray/isempty/nkeys/pack/unpack/move/foreach/foreachi/getn/maxn,
// the jit constants and a global unpack.

import (
	"math"
	"runtime"

	lua "github.com/yuin/gopher-lua"
)

// ljMaxUnpack bounds unpack/table.unpack results, like Lua's C stack limit
// ("too many results to unpack").
const ljMaxUnpack = 8000

// ljMaxTableNew caps table.new's preallocation so a script cannot ask
// for gigabytes up front; the table still grows on demand.
const ljMaxTableNew = 1 << 16

// OpenLuaJITExtras installs bit, jit, the table extensions and unpack.
func OpenLuaJITExtras(L *lua.LState) {
	bit := L.CreateTable(0, 12)
	L.SetFuncs(bit, map[string]lua.LGFunction{
		"tobit":   ljBitToBit,
		"tohex":   ljBitToHex,
		"bnot":    ljBitNot,
		"band":    ljBitReduce(func(a, b int32) int32 { return a & b }),
		"bor":     ljBitReduce(func(a, b int32) int32 { return a | b }),
		"bxor":    ljBitReduce(func(a, b int32) int32 { return a ^ b }),
		"lshift":  ljBitShift(func(a uint32, n uint) uint32 { return a << n }),
		"rshift":  ljBitShift(func(a uint32, n uint) uint32 { return a >> n }),
		"arshift": ljBitShift(func(a uint32, n uint) uint32 { return uint32(int32(a) >> n) }),
		"rol":     ljBitShift(func(a uint32, n uint) uint32 { return a<<n | a>>(32-n) }),
		"ror":     ljBitShift(func(a uint32, n uint) uint32 { return a>>n | a<<(32-n) }),
		"bswap":   ljBitSwap,
	})
	L.SetGlobal("bit", bit)
	modSetLoaded(L, "bit", bit)

	jit := L.CreateTable(0, 6)
	jit.RawSetString("os", lua.LString(ljOS()))
	jit.RawSetString("arch", lua.LString(ljArch()))
	jit.RawSetString("version", lua.LString("LuaJIT 2.1.1723681758"))
	jit.RawSetString("version_num", lua.LNumber(20100))
	noop := func(L *lua.LState) int { return 0 }
	L.SetFuncs(jit, map[string]lua.LGFunction{
		"on": noop, "off": noop, "flush": noop,
		"status": func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
	})
	L.SetGlobal("jit", jit)
	modSetLoaded(L, "jit", jit)

	tbl, ok := L.GetGlobal("table").(*lua.LTable)
	if !ok {
		tbl = L.NewTable()
		L.SetGlobal("table", tbl)
	}
	L.SetFuncs(tbl, map[string]lua.LGFunction{
		"new":      ljNew,
		"clear":    ljClear,
		"clone":    ljClone,
		"isarray":  ljIsArray,
		"isempty":  ljIsEmpty,
		"nkeys":    ljNKeys,
		"pack":     ljPack,
		"unpack":   ljUnpack,
		"move":     ljMove,
		"foreach":  ljForeach,
		"foreachi": ljForeachi,
		"getn":     ljGetn,
		"maxn":     ljMaxn,
	})
	L.SetGlobal("unpack", L.NewFunction(ljUnpack))
}

// modSetLoaded records a module in package.loaded (require "bit" works in
// LuaJIT) when the package library is present.
func modSetLoaded(L *lua.LState, name string, mod lua.LValue) {
	pkg, ok := L.GetGlobal("package").(*lua.LTable)
	if !ok {
		return
	}
	if loaded, ok := pkg.RawGetString("loaded").(*lua.LTable); ok {
		loaded.RawSetString(name, mod)
	}
}

func ljOS() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "OSX"
	case "windows":
		return "Windows"
	case "freebsd", "netbsd", "openbsd", "dragonfly":
		return "BSD"
	}
	return "Other"
}

func ljArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x64"
	case "386":
		return "x86"
	case "arm64":
		return "arm64"
	case "arm":
		return "arm"
	case "ppc64", "ppc64le":
		return "ppc"
	case "mips", "mipsle", "mips64", "mips64le":
		return "mips"
	}
	return runtime.GOARCH
}

// ljToBit converts a Lua number to int32 the way LuaJIT's bit.tobit does:
// round to nearest (ties to even), then wrap modulo 2^32.
func ljToBit(f float64) int32 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	f = math.RoundToEven(f)
	if f >= -(1<<62) && f <= 1<<62 {
		return int32(int64(f))
	}
	m := math.Mod(f, 1<<32)
	if m < 0 {
		m += 1 << 32
	}
	return int32(uint32(m))
}

func ljCheckBit(L *lua.LState, n int) int32 { return ljToBit(float64(L.CheckNumber(n))) }

func ljBitToBit(L *lua.LState) int {
	L.Push(lua.LNumber(ljCheckBit(L, 1)))
	return 1
}

func ljBitNot(L *lua.LState) int {
	L.Push(lua.LNumber(^ljCheckBit(L, 1)))
	return 1
}

func ljBitReduce(op func(a, b int32) int32) lua.LGFunction {
	return func(L *lua.LState) int {
		r := ljCheckBit(L, 1)
		for i := 2; i <= L.GetTop(); i++ {
			r = op(r, ljCheckBit(L, i))
		}
		L.Push(lua.LNumber(r))
		return 1
	}
}

func ljBitShift(op func(a uint32, n uint) uint32) lua.LGFunction {
	return func(L *lua.LState) int {
		a := uint32(ljCheckBit(L, 1))
		n := uint(ljCheckBit(L, 2)) & 31
		L.Push(lua.LNumber(int32(op(a, n))))
		return 1
	}
}

func ljBitSwap(L *lua.LState) int {
	a := uint32(ljCheckBit(L, 1))
	a = a>>24 | (a>>8)&0xff00 | (a<<8)&0xff0000 | a<<24
	L.Push(lua.LNumber(int32(a)))
	return 1
}

func ljBitToHex(L *lua.LState) int {
	x := uint32(ljCheckBit(L, 1))
	n := int32(8)
	if L.Get(2) != lua.LNil {
		n = ljCheckBit(L, 2)
	}
	digits := "0123456789abcdef"
	if n < 0 {
		n = -n
		digits = "0123456789ABCDEF"
	}
	if n > 8 {
		n = 8
	}
	var buf [8]byte
	for i := n - 1; i >= 0; i-- {
		buf[i] = digits[x&15]
		x >>= 4
	}
	L.Push(lua.LString(buf[:n]))
	return 1
}

func ljNew(L *lua.LState) int {
	narr := L.CheckInt(1)
	nrec := L.CheckInt(2)
	narr = min(max(narr, 0), ljMaxTableNew)
	nrec = min(max(nrec, 0), ljMaxTableNew)
	L.Push(L.CreateTable(narr, nrec))
	return 1
}

func ljTableKeys(t *lua.LTable) []lua.LValue {
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	return keys
}

func ljClear(L *lua.LState) int {
	t := L.CheckTable(1)
	for _, k := range ljTableKeys(t) {
		t.RawSet(k, lua.LNil)
	}
	return 0
}

func ljClone(L *lua.LState) int {
	t := L.CheckTable(1)
	c := L.CreateTable(t.Len(), 0)
	t.ForEach(func(k, v lua.LValue) { c.RawSet(k, v) })
	L.Push(c)
	return 1
}

func ljIsArray(L *lua.LState) int {
	t := L.CheckTable(1)
	count, maxKey := 0, 0
	ok := true
	t.ForEach(func(k, _ lua.LValue) {
		n, isNum := k.(lua.LNumber)
		if !ok || !isNum || float64(n) < 1 || float64(n) != math.Trunc(float64(n)) || float64(n) > math.MaxInt32 {
			ok = false
			return
		}
		count++
		maxKey = max(maxKey, int(n))
	})
	L.Push(lua.LBool(ok && count == maxKey))
	return 1
}

func ljIsEmpty(L *lua.LState) int {
	t := L.CheckTable(1)
	k, _ := t.Next(lua.LNil)
	L.Push(lua.LBool(k == lua.LNil))
	return 1
}

func ljNKeys(L *lua.LState) int {
	t := L.CheckTable(1)
	n := 0
	t.ForEach(func(_, _ lua.LValue) { n++ })
	L.Push(lua.LNumber(n))
	return 1
}

func ljPack(L *lua.LState) int {
	n := L.GetTop()
	t := L.CreateTable(n, 1)
	for i := 1; i <= n; i++ {
		t.RawSetInt(i, L.Get(i))
	}
	t.RawSetString("n", lua.LNumber(n))
	L.Push(t)
	return 1
}

func ljUnpack(L *lua.LState) int {
	t := L.CheckTable(1)
	i := L.OptInt(2, 1)
	j := L.OptInt(3, t.Len())
	if i > j {
		return 0
	}
	if j-i >= ljMaxUnpack {
		L.RaiseError("too many results to unpack")
	}
	for k := i; k <= j; k++ {
		L.Push(t.RawGetInt(k))
	}
	return j - i + 1
}

// ljMove is Lua 5.3's table.move(a1, f, e, t [,a2]).
func ljMove(L *lua.LState) int {
	a1 := L.CheckTable(1)
	f := L.CheckInt(2)
	e := L.CheckInt(3)
	t := L.CheckInt(4)
	a2 := a1
	if L.GetTop() >= 5 {
		a2 = L.CheckTable(5)
	}
	if e >= f {
		if !(f > 0 || e < math.MaxInt32+f) {
			L.ArgError(3, "too many elements to move")
		}
		if t > e || t <= f || a1 != a2 {
			for i := 0; i <= e-f; i++ {
				a2.RawSetInt(t+i, a1.RawGetInt(f+i))
			}
		} else {
			for i := e - f; i >= 0; i-- {
				a2.RawSetInt(t+i, a1.RawGetInt(f+i))
			}
		}
	}
	L.Push(a2)
	return 1
}

func ljForeach(L *lua.LState) int {
	t := L.CheckTable(1)
	fn := L.CheckFunction(2)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		L.Push(fn)
		L.Push(k)
		L.Push(v)
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

func ljForeachi(L *lua.LState) int {
	t := L.CheckTable(1)
	fn := L.CheckFunction(2)
	n := t.Len()
	for i := 1; i <= n; i++ {
		L.Push(fn)
		L.Push(lua.LNumber(i))
		L.Push(t.RawGetInt(i))
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

func ljGetn(L *lua.LState) int {
	L.Push(lua.LNumber(L.CheckTable(1).Len()))
	return 1
}

func ljMaxn(L *lua.LState) int {
	t := L.CheckTable(1)
	m := 0.0
	t.ForEach(func(k, _ lua.LValue) {
		if n, ok := k.(lua.LNumber); ok && float64(n) > m {
			m = float64(n)
		}
	})
	L.Push(lua.LNumber(m))
	return 1
}
