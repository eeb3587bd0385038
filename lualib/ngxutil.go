package lualib

// ngxutil.go: the stateless ngx.* helpers of lua-nginx-module / lua-resty-core:
// time, base64, digests, URI escaping, query-argument encoding and
// quote_sql_str, with OpenResty's exact edge-case behaviour.

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"math"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// OpenNgxUtils installs the time, encoding and digest helpers into ngx.
func OpenNgxUtils(L *lua.LState, ngx *lua.LTable) {
	L.SetFuncs(ngx, map[string]lua.LGFunction{
		"now":             ngxNow,
		"time":            ngxTime,
		"update_time":     func(L *lua.LState) int { return 0 },
		"today":           ngxToday,
		"localtime":       ngxLocaltime,
		"utctime":         ngxUTCTime,
		"http_time":       ngxHTTPTime,
		"cookie_time":     ngxCookieTime,
		"parse_http_time": ngxParseHTTPTime,
		"encode_base64":   ngxEncodeBase64,
		"decode_base64":   ngxDecodeBase64,
		"md5":             ngxMD5,
		"md5_bin":         ngxMD5Bin,
		"sha1_bin":        ngxSHA1Bin,
		"hmac_sha1":       ngxHMACSHA1,
		"crc32_short":     ngxCRC32,
		"crc32_long":      ngxCRC32,
		"escape_uri":      ngxEscapeURI,
		"unescape_uri":    ngxUnescapeURI,
		"encode_args":     ngxEncodeArgs,
		"decode_args":     ngxDecodeArgs,
		"quote_sql_str":   ngxQuoteSQLStr,
	})
}

// modNumberString formats a number like Lua 5.1 / LuaJIT tostring ("%.14g").
func modNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return string(modAppendNumberG(nil, f, 14))
}

// modOptString is resty.core's coercion for string helpers: nil (and false)
// become "", numbers and other values go through tostring.
func modOptString(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case *lua.LNilType:
		return ""
	case lua.LBool:
		if !v {
			return ""
		}
		return "true"
	case lua.LNumber:
		return modNumberString(float64(v))
	default:
		return L.ToStringMeta(v).String()
	}
}

// modCheckString is luaL_checklstring: strings and numbers only.
func modCheckString(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return modNumberString(float64(v))
	}
	L.TypeError(n, lua.LTString)
	return ""
}

func modCheckNumber(L *lua.LState, n int) float64 {
	v := L.Get(n)
	if f, ok := modToNumber(v); ok {
		return f
	}
	L.RaiseError("number argument only")
	return 0
}

// ---------------------------------------------------------------- time

func ngxNow(L *lua.LState) int {
	L.Push(lua.LNumber(float64(time.Now().UnixMilli()) / 1000))
	return 1
}

func ngxTime(L *lua.LState) int {
	L.Push(lua.LNumber(time.Now().Unix()))
	return 1
}

func ngxToday(L *lua.LState) int {
	L.Push(lua.LString(time.Now().Format("2006-01-02")))
	return 1
}

func ngxLocaltime(L *lua.LState) int {
	L.Push(lua.LString(time.Now().Format(time.DateTime)))
	return 1
}

func ngxUTCTime(L *lua.LState) int {
	L.Push(lua.LString(time.Now().UTC().Format(time.DateTime)))
	return 1
}

const modHTTPTimeLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

func modUnixArg(L *lua.LState) time.Time {
	return time.Unix(int64(modCheckNumber(L, 1)), 0).UTC()
}

func ngxHTTPTime(L *lua.LState) int {
	L.Push(lua.LString(modUnixArg(L).Format(modHTTPTimeLayout)))
	return 1
}

// ngxCookieTime follows nginx's ngx_http_cookie_time: two-digit years up to
// 2037 (Netscape compatibility), four digits after.
func ngxCookieTime(L *lua.LState) int {
	t := modUnixArg(L)
	layout := "Mon, 02-Jan-06 15:04:05 GMT"
	if t.Year() > 2037 {
		layout = "Mon, 02-Jan-2006 15:04:05 GMT"
	}
	L.Push(lua.LString(t.Format(layout)))
	return 1
}

// ngxParseHTTPTime accepts the three HTTP date formats nginx's
// ngx_parse_http_time knows (RFC 1123, RFC 850, asctime); nil otherwise.
func ngxParseHTTPTime(L *lua.LState) int {
	s := modCheckString(L, 1)
	for _, layout := range []string{modHTTPTimeLayout, "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006", "Mon, 02-Jan-2006 15:04:05 GMT"} {
		if t, err := time.Parse(layout, s); err == nil {
			L.Push(lua.LNumber(t.Unix()))
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

// ---------------------------------------------------------------- base64

func ngxEncodeBase64(L *lua.LState) int {
	s := modOptString(L, 1)
	enc := base64.StdEncoding
	switch v := L.Get(2).(type) {
	case *lua.LNilType:
	case lua.LBool:
		if v {
			enc = base64.RawStdEncoding
		}
	default:
		L.RaiseError("bad no_padding: boolean expected, got %s", v.Type().String())
	}
	checkStringSize(L, enc.EncodedLen(len(s)))
	L.Push(lua.LString(enc.EncodeToString([]byte(s))))
	return 1
}

var modB64Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" {
		t[c] = int8(i)
	}
	return t
}()

// modDecodeBase64 is ngx_decode_base64: input ends at the first '=',
// any other non-alphabet byte before it is an error, padding is optional
// and a length of 1 mod 4 is an error.
func modDecodeBase64(s string) (string, bool) {
	n := 0
	for n < len(s) && s[n] != '=' {
		if modB64Index[s[n]] < 0 {
			return "", false
		}
		n++
	}
	if n%4 == 1 {
		return "", false
	}
	out := make([]byte, 0, n*3/4)
	i := 0
	for ; i+4 <= n; i += 4 {
		a, b, c, d := modB64Index[s[i]], modB64Index[s[i+1]], modB64Index[s[i+2]], modB64Index[s[i+3]]
		out = append(out, byte(a)<<2|byte(b)>>4, byte(b)<<4|byte(c)>>2, byte(c)<<6|byte(d))
	}
	switch n - i {
	case 2:
		a, b := modB64Index[s[i]], modB64Index[s[i+1]]
		out = append(out, byte(a)<<2|byte(b)>>4)
	case 3:
		a, b, c := modB64Index[s[i]], modB64Index[s[i+1]], modB64Index[s[i+2]]
		out = append(out, byte(a)<<2|byte(b)>>4, byte(b)<<4|byte(c)>>2)
	}
	return string(out), true
}

func ngxDecodeBase64(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		L.RaiseError("string argument only")
	}
	out, ok := modDecodeBase64(string(s))
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(out))
	return 1
}

// ---------------------------------------------------------------- digests

func ngxMD5(L *lua.LState) int {
	sum := md5.Sum([]byte(modOptString(L, 1)))
	L.Push(lua.LString(hex.EncodeToString(sum[:])))
	return 1
}

func ngxMD5Bin(L *lua.LState) int {
	sum := md5.Sum([]byte(modOptString(L, 1)))
	L.Push(lua.LString(sum[:]))
	return 1
}

func ngxSHA1Bin(L *lua.LState) int {
	sum := sha1.Sum([]byte(modOptString(L, 1)))
	L.Push(lua.LString(sum[:]))
	return 1
}

func ngxHMACSHA1(L *lua.LState) int {
	key := modCheckString(L, 1)
	msg := modCheckString(L, 2)
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(msg))
	L.Push(lua.LString(m.Sum(nil)))
	return 1
}

func ngxCRC32(L *lua.LState) int {
	L.Push(lua.LNumber(crc32.ChecksumIEEE([]byte(modOptString(L, 1)))))
	return 1
}

// ---------------------------------------------------------------- URI

// Escape maps of ngx_http_lua_escape_uri, indexed by escape_uri's type
// argument: 0 uri, 1 args, 2 uri component (default), 3 html, 4 refresh,
// 5 memcached, 6 mail auth, 7 header name, 8 header value.
var modEscapeMaps = [...][8]uint32{
	{0xffffffff, 0x80000029, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x80000829, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0xfc00987d, 0x78000001, 0xb8000001, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x000000ad, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x00000085, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x00000021, 0, 0, 0, 0, 0, 0},
	{0xffffffff, 0x00000021, 0, 0, 0, 0, 0, 0},
	{0xffffffff, 0xfc009305, 0x38000001, 0xa8000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xfffffdff, 0x00000000, 0x00000000, 0x80000000, 0, 0, 0, 0},
}

const modEscURIComponent = 2

func modAppendEscaped(b []byte, s string, typ int) []byte {
	m := &modEscapeMaps[typ]
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if m[c>>5]&(1<<(c&0x1f)) != 0 {
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return b
}

func ngxEscapeURI(L *lua.LState) int {
	s := modOptString(L, 1)
	typ := modEscURIComponent
	switch v := L.Get(2).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		typ = int(v)
		if float64(v) < 0 || typ >= len(modEscapeMaps) {
			L.RaiseError(`"type" %s out of range`, modNumberString(float64(v)))
		}
	default:
		L.RaiseError(`"type" is not number`)
	}
	if len(s) > maxStringSize(L)/3 {
		checkStringSize(L, len(modAppendEscaped(nil, s, typ))) // %XX: up to 3 bytes per byte
	}
	L.Push(lua.LString(modAppendEscaped(nil, s, typ)))
	return 1
}

// modUnescapeURIComponent is ngx_http_lua_unescape_uri with the component
// type: %XX with two hex digits is decoded, anything else after '%' is
// kept literally, and '+' becomes a space.
func modUnescapeURIComponent(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && modIsHex(s[i+1]) && modIsHex(s[i+2]):
			b = append(b, byte(modHexVal(s[i+1])<<4|modHexVal(s[i+2])))
			i += 2
		case c == '+':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func ngxUnescapeURI(L *lua.LState) int {
	L.Push(lua.LString(modUnescapeURIComponent(modOptString(L, 1))))
	return 1
}

// ngxEncodeArgs is ngx.encode_args: keys must be strings; string and number
// values give key=value, true gives a bare key, false is dropped, and a
// table gives one pair per element. Keys and values are escaped as URI
// components. Keys are written in sorted order (OpenResty uses table order).
func ngxEncodeArgs(L *lua.LState) int {
	t := L.CheckTable(1)
	type pair struct {
		key string
		val lua.LValue
	}
	var pairs []pair
	t.ForEach(func(k, v lua.LValue) {
		ks, ok := k.(lua.LString)
		if !ok {
			L.RaiseError(`attempt to use a non-string key in the "args" option table`)
		}
		pairs = append(pairs, pair{string(ks), v})
	})
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	var b []byte
	emit := func(key string, v lua.LValue) {
		var val string
		switch v := v.(type) {
		case lua.LBool:
			if !v {
				return
			}
			if len(b) > 0 {
				b = append(b, '&')
			}
			b = modAppendEscaped(b, key, modEscURIComponent)
			return
		case lua.LString:
			val = string(v)
		case lua.LNumber:
			val = modNumberString(float64(v))
		default:
			L.RaiseError("attempt to use %s as query arg value", v.Type().String())
		}
		if len(b) > 0 {
			b = append(b, '&')
		}
		b = modAppendEscaped(b, key, modEscURIComponent)
		b = append(b, '=')
		b = modAppendEscaped(b, val, modEscURIComponent)
		checkStringSize(L, len(b))
	}
	for _, p := range pairs {
		if sub, ok := p.val.(*lua.LTable); ok {
			sub.ForEach(func(_, v lua.LValue) { emit(p.key, v) })
			continue
		}
		emit(p.key, p.val)
	}
	L.Push(lua.LString(b))
	return 1
}

// DecodeArgs parses a query string the way ngx.decode_args and
// ngx.req.get_uri_args do, into t (key → string, true for a bare key, or an
// array for repeated keys). max <= 0 means no limit. It reports whether the
// limit truncated the result.
func DecodeArgs(L *lua.LState, t *lua.LTable, s string, max int) (truncated bool) {
	count := 0
	set := func(k string, v lua.LValue) {
		if k == "" {
			return
		}
		switch old := t.RawGetString(k).(type) {
		case *lua.LNilType:
			t.RawSetString(k, v)
		case *lua.LTable:
			old.Append(v)
		default:
			arr := L.CreateTable(4, 0)
			arr.RawSetInt(1, old)
			arr.RawSetInt(2, v)
			t.RawSetString(k, arr)
		}
	}
	start := 0
	key := ""
	parsingValue := false
	for p := 0; p < len(s); p++ {
		switch {
		case s[p] == '=' && !parsingValue:
			key = modUnescapeURIComponent(s[start:p])
			start = p + 1
			parsingValue = true
		case s[p] == '&':
			part := modUnescapeURIComponent(s[start:p])
			start = p + 1
			if parsingValue {
				set(key, lua.LString(part))
				parsingValue = false
			} else {
				set(part, lua.LTrue)
			}
			count++
			if max > 0 && count == max {
				return true
			}
		}
	}
	if start != len(s) || parsingValue {
		part := modUnescapeURIComponent(s[start:])
		if parsingValue {
			set(key, lua.LString(part))
		} else {
			set(part, lua.LTrue)
		}
	}
	return false
}

func ngxDecodeArgs(L *lua.LState) int {
	s := modCheckString(L, 1)
	max := 100
	if L.GetTop() >= 2 {
		max = L.CheckInt(2)
	}
	t := L.CreateTable(0, 4)
	if DecodeArgs(L, t, s, max) {
		L.Push(t)
		L.Push(lua.LString("truncated"))
		return 2
	}
	L.Push(t)
	return 1
}

// ngxQuoteSQLStr is ngx.quote_sql_str (MySQL quoting).
func ngxQuoteSQLStr(L *lua.LState) int {
	s := modCheckString(L, 1)
	b := make([]byte, 0, len(s)+2)
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b = append(b, '\\', '0')
		case '\b':
			b = append(b, '\\', 'b')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case 0x1a:
			b = append(b, '\\', 'Z')
		case '\\', '\'', '"':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	b = append(b, '\'')
	L.Push(lua.LString(b))
	return 1
}
