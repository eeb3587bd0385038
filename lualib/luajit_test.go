package lualib

import "testing"

func TestBitLibrary(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"tobit wraps", `return bit.tobit(0xffffffff), bit.tobit(2^32 + 1), bit.tobit(-1)`, `-1|1|-1`, ""},
		{"tobit rounds", `return bit.tobit(1.5), bit.tobit(2.5)`, `2|2`, ""},
		{"tohex", `return bit.tohex(1), bit.tohex(255, 2), bit.tohex(-1, -8), bit.tohex(0x12345678, 4)`, `00000001|ff|FFFFFFFF|5678`, ""},
		{"band bor bxor", `return bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(5, 3)`, `3|7|6`, ""},
		{"bnot", `return bit.bnot(0)`, `-1`, ""},
		{"shifts", `return bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.lshift(1, 33)`, `-2147483648|15|-16|2`, ""},
		{"rotates", `return bit.rol(0x12345678, 12), bit.ror(0x12345678, 12)`, `1164411171|1736516421`, ""},
		{"bswap", `return bit.tohex(bit.bswap(0x12345678))`, `78563412`, ""},
		{"string numbers", `return bit.band("12", 4)`, `4`, ""},
		{"bad arg", `return bit.band({})`, "", "number expected"},
		{"require bit", `return require("bit") == bit`, `true`, ""},
	})
}

func TestTableExtras(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"new", `local t = table.new(10, 2); t[1] = 1; return #t, type(table.new(1e9, 0))`, `1|table`, ""},
		{"clear", `local t = {1, 2, a = 3}; local mt = {}; setmetatable(t, mt); table.clear(t); return next(t), getmetatable(t) == mt`, `nil|true`, ""},
		{"clone shallow", `local inner = {}; local t = setmetatable({1, x = inner}, {}); local c = table.clone(t); return c[1], c.x == inner, c ~= t, getmetatable(c)`, `1|true|true|nil`, ""},
		{"isarray", `return table.isarray({1, 2, 3}), table.isarray({}), table.isarray({1, nil, 3}), table.isarray({a = 1}), table.isarray({[2] = 1})`, `true|true|false|false|false`, ""},
		{"isempty", `return table.isempty({}), table.isempty({false}), table.isempty({a = 1})`, `true|false|false`, ""},
		{"nkeys", `return table.nkeys({1, 2, a = 1, b = 2}), table.nkeys({})`, `4|0`, ""},
		{"pack", `local p = table.pack(1, nil, 3); return p.n, p[1], p[2], p[3]`, `3|1|nil|3`, ""},
		{"unpack", `return table.unpack({1, 2, 3}, 2)`, `2|3`, ""},
		{"global unpack", `return unpack({1, 2, 3}, 2, 3)`, `2|3`, ""},
		{"unpack empty range", `return select("#", unpack({1}, 3, 2))`, `0`, ""},
		{"unpack too many", `return unpack({}, 1, 1e7)`, "", "too many results to unpack"},
		{"move", `local a = {1, 2, 3, 4, 5}; table.move(a, 1, 3, 3); return table.concat(a, ",")`, `1,2,1,2,3`, ""},
		{"move overlap backwards", `local a = {1, 2, 3, 4, 5}; table.move(a, 2, 5, 1); return table.concat(a, ",")`, `2,3,4,5,5`, ""},
		{"move to other", `local b = table.move({1, 2}, 1, 2, 2, {9}); return table.concat(b, ",")`, `9,1,2`, ""},
		{"foreach", `local n = 0; table.foreach({a = 1, b = 2}, function(k, v) n = n + v end); return n`, `3`, ""},
		{"foreach early return", `return table.foreach({10, 20, 30}, function(k, v) if v == 20 then return k end end)`, `2`, ""},
		{"foreachi", `local s = ""; table.foreachi({"a", "b", x = "c"}, function(i, v) s = s .. i .. v end); return s`, `1a2b`, ""},
		{"getn maxn", `local t = {1, 2, 3}; t[10] = 1; return table.getn({1, 2}), table.maxn(t)`, `2|10`, ""},
	})
}

func TestJitTable(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"constants", `return type(jit.os), type(jit.arch), jit.version_num, jit.version:sub(1, 6)`, `string|string|20100|LuaJIT`, ""},
		{"status", `return jit.status()`, `false`, ""},
	})
}
