package lualib

import "testing"

func TestRestyModules(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"sha256", `local sha256 = require "resty.sha256"; local str = require "resty.string"; local h = sha256:new(); h:update("hel"); h:update("lo"); return str.to_hex(h:final())`, `2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824`, ""},
		{"sha256 reset", `local h = require("resty.sha256"):new(); h:update("x"); h:reset(); h:update("hello"); return require("resty.string").to_hex(h:final())`, `2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824`, ""},
		{"md5", `local h = require("resty.md5"):new(); h:update("hello"); return require("resty.string").to_hex(h:final())`, `5d41402abc4b2a76b9719d911017c592`, ""},
		{"sha1", `local h = require("resty.sha1"):new(); return h:update("abc"), require("resty.string").to_hex(h:final())`, `true|a9993e364706816aba3e25717850c26c9cd0d89d`, ""},
		{"sha512 length", `local h = require("resty.sha512"):new(); h:update("a"); return #h:final()`, `64`, ""},
		{"dot call is an error", `local h = require("resty.sha256"):new(); return h.update("x")`, "", "hash object expected"},
		{"atoi", `local s = require "resty.string"; return s.atoi("  42abc"), s.atoi("-7"), s.atoi("x")`, `42|-7|0`, ""},
		{"random bytes", `local r = require "resty.random"; local a, b = r.bytes(16), r.bytes(16, true); return #a, #b, a ~= b`, `16|16|true`, ""},
		{"base64url", `local b = require "ngx.base64"; return b.encode_base64url("\255\254?>"), b.decode_base64url("__4_Pg"), b.decode_base64url("__4_Pg==")`, "__4_Pg|\xff\xfe?>|\xff\xfe?>", ""},
		{"base64url invalid", `return require("ngx.base64").decode_base64url("a+b")`, `nil|invalid input`, ""},
		{"base64url non-string", `return require("ngx.base64").encode_base64url(1)`, "", "string argument only"},
		{"random zero", `return #require("resty.random").bytes(0)`, `0`, ""},
	})
}
