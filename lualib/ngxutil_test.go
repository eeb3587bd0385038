package lualib

import (
	"testing"
)

func TestNgxBase64(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"encode", `return ngx.encode_base64("hello")`, `aGVsbG8=`, ""},
		{"encode no padding", `return ngx.encode_base64("hello", true)`, `aGVsbG8`, ""},
		{"encode padding false", `return ngx.encode_base64("hi", false)`, `aGk=`, ""},
		{"encode nil", `return ngx.encode_base64(nil)`, ``, ""},
		{"encode number", `return ngx.encode_base64(12)`, `MTI=`, ""},
		{"encode bad no_padding", `return ngx.encode_base64("a", 1)`, "", "bad no_padding: boolean expected, got number"},
		{"decode", `return ngx.decode_base64("aGVsbG8=")`, `hello`, ""},
		{"decode unpadded", `return ngx.decode_base64("aGVsbG8")`, `hello`, ""},
		{"decode stops at =", `return ngx.decode_base64("YQ==garbage")`, `a`, ""},
		{"decode invalid char", `return ngx.decode_base64("a-b_")`, `nil`, ""},
		{"decode bad length", `return ngx.decode_base64("abcde")`, `nil`, ""},
		{"decode empty", `return ngx.decode_base64("")`, ``, ""},
		{"decode non-string", `return ngx.decode_base64(12)`, "", "string argument only"},
		{"jwt style", `local s = "eyJzdWIiOiIxMjM0In0"; s = s:gsub("-", "+"):gsub("_", "/"); return ngx.decode_base64(s)`, `{"sub":"1234"}`, ""},
	})
}

func TestNgxDigests(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"md5", `return ngx.md5("hello")`, `5d41402abc4b2a76b9719d911017c592`, ""},
		{"md5 nil", `return ngx.md5(nil)`, `d41d8cd98f00b204e9800998ecf8427e`, ""},
		{"md5_bin", `return #ngx.md5_bin("hello"), ngx.md5_bin("hello"):byte(1)`, `16|93`, ""},
		{"sha1_bin", `local s = ngx.sha1_bin("abc"); return #s, (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))`, `20|a9993e364706816aba3e25717850c26c9cd0d89d`, ""},
		{"hmac_sha1", `local s = ngx.hmac_sha1("key", "The quick brown fox jumps over the lazy dog"); return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))`, `de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9`, ""},
		{"crc32", `return ngx.crc32_short("hello"), ngx.crc32_long("hello")`, `907060870|907060870`, ""},
	})
}

func TestNgxURI(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"escape component", `return ngx.escape_uri("a b&c=d/é?#%+")`, `a%20b%26c%3Dd%2F%C3%A9%3F%23%25%2B`, ""},
		{"unreserved kept", `return ngx.escape_uri("AZaz09-._~!*'()")`, `AZaz09-._~!*'()`, ""},
		{"escape type 0", `return ngx.escape_uri("a b/c?d#e&f", 0)`, `a%20b/c%3Fd%23e&f`, ""},
		{"escape nil", `return ngx.escape_uri(nil)`, ``, ""},
		{"escape bad type", `return ngx.escape_uri("a", 42)`, "", `"type" 42 out of range`},
		{"unescape", `return ngx.unescape_uri("a%20b+c%2F%zz%4")`, `a b c/%zz%4`, ""},
		{"unescape lowercase hex", `return ngx.unescape_uri("%c3%a9")`, `é`, ""},
		{"encode_args", `return ngx.encode_args({foo = 3, ["b r"] = "hello world"})`, `b%20r=hello%20world&foo=3`, ""},
		{"encode_args booleans", `return ngx.encode_args({a = true, b = false, c = "x"})`, `a&c=x`, ""},
		{"encode_args arrays", `return ngx.encode_args({t = {"v1", true, false, 2}})`, `t=v1&t&t=2`, ""},
		{"encode_args empty", `return ngx.encode_args({})`, ``, ""},
		{"encode_args float", `return ngx.encode_args({n = 0.1, m = 1e20})`, `m=1e%2B20&n=0.1`, ""},
		{"encode_args bad key", `return ngx.encode_args({"x"})`, "", `attempt to use a non-string key in the "args" option table`},
		{"encode_args bad value", `return ngx.encode_args({f = print})`, "", "attempt to use function as query arg value"},
		{"decode_args", `local a = ngx.decode_args("a=1&b&c=&a=2&d=x+y%21"); return a.a[1], a.a[2], a.b, a.c, a.d`, `1|2|true||x y!`, ""},
		{"decode_args empty keys ignored", `local a = ngx.decode_args("=1&&x=2"); local n = 0; for _ in pairs(a) do n = n + 1 end; return n, a.x`, `1|2`, ""},
		{"decode_args default max 100", `local t = {}; for i = 1, 120 do t[i] = "k" .. i .. "=v" end; local a, err = ngx.decode_args(table.concat(t, "&")); local n = 0; for _ in pairs(a) do n = n + 1 end; return n, err`, `100|truncated`, ""},
		{"decode_args max", `local a, err = ngx.decode_args("a=1&b=2&c=3", 2); return a.a, a.b, a.c, err`, `1|2|nil|truncated`, ""},
		{"decode_args max 0 unlimited", `local t = {}; for i = 1, 150 do t[i] = "k" .. i end; local a, err = ngx.decode_args(table.concat(t, "&"), 0); local n = 0; for _ in pairs(a) do n = n + 1 end; return n, err`, `150|nil`, ""},
		{"decode_args last pair not truncated", `local a, err = ngx.decode_args("a=1", 1); return a.a, err`, `1|nil`, ""},
		{"quote_sql_str", `return ngx.quote_sql_str("a'b\"c\\d\n\r\t\0\26")`, `'a\'b\"c\\d\n\r\t\0\Z'`, ""},
	})
}

func TestNgxTime(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"http_time", `return ngx.http_time(1290079655)`, `Thu, 18 Nov 2010 11:27:35 GMT`, ""},
		{"cookie_time", `return ngx.cookie_time(1290079655)`, `Thu, 18-Nov-10 11:27:35 GMT`, ""},
		{"cookie_time after 2037", `return ngx.cookie_time(2240524800)`, `Mon, 31-Dec-2040 00:00:00 GMT`, ""},
		{"parse rfc1123", `return ngx.parse_http_time("Thu, 18 Nov 2010 11:27:35 GMT")`, `1290079655`, ""},
		{"parse rfc850", `return ngx.parse_http_time("Thursday, 18-Nov-10 11:27:35 GMT")`, `1290079655`, ""},
		{"parse asctime", `return ngx.parse_http_time("Thu Nov 18 11:27:35 2010")`, `1290079655`, ""},
		{"parse garbage", `return ngx.parse_http_time("yesterday")`, `nil`, ""},
		{"now has ms resolution", `local n = ngx.now(); return n > 1.7e9, n * 1000 == math.floor(n * 1000 + 0.5) or math.abs(n * 1000 - math.floor(n * 1000 + 0.5)) < 1e-3`, `true|true`, ""},
		{"time integer", `local t = ngx.time(); return t == math.floor(t), math.abs(t - ngx.now()) < 2`, `true|true`, ""},
		{"formats", `return #ngx.today(), #ngx.localtime(), #ngx.utctime(), ngx.update_time()`, `10|19|19`, ""},
		{"http_time bad arg", `return ngx.http_time("x")`, "", "number argument only"},
	})
}
