package lualib

import (
	"strings"
	"sync"
	"testing"
)

func TestNgxReMatch(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"whole and groups", `local m = ngx.re.match("hello, 1234", "([0-9])[0-9]+"); return m[0], m[1], #m`, `1234|1|1`, ""},
		{"no match", `return ngx.re.match("hello", "[0-9]+")`, `nil`, ""},
		{"named captures", `local m = ngx.re.match("hello, 1234", "(?<num>[0-9]+)"); return m[0], m[1], m.num`, `1234|1234|1234`, ""},
		{"python named", `local m = ngx.re.match("k=v", "(?P<k>\\w+)=(?'v'\\w+)"); return m.k, m.v, m[2]`, `k|v|v`, ""},
		{"unmatched group is false", `local m = ngx.re.match("b", "(a)?(b)"); return m[1], m[2]`, `false|b`, ""},
		{"trailing unmatched group false", `local m = ngx.re.match("a", "(a)|(b)"); return m[1], m[2]`, `a|false`, ""},
		{"docs example", `local m = ngx.re.match("hello, world", "(world)|(hello)|(?<named>howdy)"); return m[0], m[1], m[2], m[3], m.named`, `hello|false|hello|false|false`, ""},
		{"nil subject is tostring'ed", `return ngx.re.match(nil, "ni")[0]`, `ni`, ""},
		{"unmatched named is false", `local m = ngx.re.match("b", "(?<x>a)?(b)"); return m.x`, `false`, ""},
		{"case insensitive", `return ngx.re.match("HELLO", "hello", "i")[0]`, `HELLO`, ""},
		{"d is leftmost-longest", `return ngx.re.match("abcd", "ab|abcd", "d")[0], ngx.re.match("abcd", "ab|abcd")[0]`, `abcd|ab`, ""},
		{"jo options ignored", `return ngx.re.match("abc", "b", "jo")[0]`, `b`, ""},
		{"multiline", `local m = ngx.re.match("a\nb", "^b", "m"); return m[0]`, `b`, ""},
		{"no multiline", `return ngx.re.match("a\nb", "^b")`, `nil`, ""},
		{"dotall", `return ngx.re.match("a\nb", "a.b", "s")[0] == "a\nb", ngx.re.match("a\nb", "a.b")`, `true|nil`, ""},
		{"extended", `return ngx.re.match("abc123", [[
			([a-z]+)  # letters
			(\d+)     # digits
		]], "x")[2]`, `123`, ""},
		{"anchored", `return ngx.re.match("xab", "ab", "a"), ngx.re.match("abx", "ab", "a")[0]`, `nil|ab`, ""},
		{"ctx pos", `local ctx = {pos = 3}; local m = ngx.re.match("1a2b3", "[0-9]", "", ctx); return m[0], ctx.pos`, `2|4`, ""},
		{"ctx pos updated from start", `local ctx = {}; ngx.re.match("ab12", "[0-9]+", nil, ctx); return ctx.pos`, `5`, ""},
		{"ctx pos no match unchanged", `local ctx = {pos = 2}; local m = ngx.re.match("ab", "x", nil, ctx); return m, ctx.pos`, `nil|2`, ""},
		{"ctx pos keeps ^ meaning", `local ctx = {pos = 2}; return ngx.re.match("aab", "^a", nil, ctx)`, `nil`, ""},
		{"ctx pos keeps \\b meaning", `local ctx = {pos = 2}; return ngx.re.match("abc def", "\\bb", nil, ctx), ngx.re.match("abc def", "\\bd", nil, {pos = 2})[0]`, `nil|d`, ""},
		{"ctx pos with anchored", `return ngx.re.match("xxab", "ab", "a", {pos = 3})[0], ngx.re.match("xxab", "ab", "a", {pos = 2})`, `ab|nil`, ""},
		{"res table reused", `local res = {stale = 1}; local m = ngx.re.match("ab", "(a)(b)", nil, nil, res); return m == res, res.stale, res[2]`, `true|1|b`, ""},
		{"dup names need D", `return ngx.re.match("ab", "(?<x>a)(?<x>b)")`, "nil|failed to compile regex \"(?<x>a)(?<x>b)\": two named subpatterns have the same name (PCRE option D allows it)", ""},
		{"dup names with D", `local m = ngx.re.match("ab", "(?<x>a)(?<x>b)", "D"); return #m.x, m.x[1], m.x[2]`, `2|a|b`, ""},
		{"unknown flag raises", `return ngx.re.match("a", "a", "z")`, "", `unknown flag "z"`},
		{"number subject", `return ngx.re.match(12345, "3")[0]`, `3`, ""},
		{"utf8 check", `return ngx.re.match("\255", ".", "u")`, `nil|pcre_exec() failed: -10`, ""},
		{"escapes translated", `return ngx.re.match("a\tb", "a\\hb")[0] == "a\tb", ngx.re.match("x\27y", "x\\ey") ~= nil`, `true|true`, ""},
		{"\\s includes VT", `return ngx.re.match("a\vb", "a\\sb") ~= nil, ngx.re.match("a\vb", "a[\\s]b") ~= nil, ngx.re.match("a\vb", "a\\Sb")`, `true|true|nil`, ""},
		{"literal brace", `return ngx.re.match("a{b", "a{b")[0]`, `a{b`, ""},
		{"quoted", `return ngx.re.match("a.b*c", "\\Q.b*\\E")[0]`, `.b*`, ""},
		{"comment group", `return ngx.re.match("ab", "a(?#note)b")[0]`, `ab`, ""},
		{"inline flags", `return ngx.re.match("AB", "(?i)ab")[0]`, `AB`, ""},
		{"backspace in class", `return ngx.re.match("\b", "[\\b]")[0] == "\b"`, `true`, ""},
		{"posix class", `return ngx.re.match("ab1", "[[:digit:]]")[0]`, `1`, ""},
	})
}

func TestNgxReUnsupported(t *testing.T) {
	L := modState(t, nil)
	for _, tc := range []struct{ pattern, want string }{
		{`a(?=b)`, "lookahead assertion"},
		{`a(?!b)`, "negative lookahead assertion"},
		{`(?<=a)b`, "lookbehind assertion"},
		{`(?<!a)b`, "negative lookbehind assertion"},
		{`(a)\1`, "backreference"},
		{`(?<n>a)\k<n>`, "named backreference"},
		{`a++`, "possessive quantifier"},
		{`a{2}+`, "possessive quantifier"},
		{`(?>a)`, "atomic group"},
		{`(a|(?R))`, "recursion"},
		{`(?(1)a|b)`, "conditional group"},
		{`(*UTF8)a`, "backtracking control verb"},
		{`a\Kb`, "match start reset"},
		{`(?x) a`, "inline x flag"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			L.SetGlobal("pat", luaString(tc.pattern))
			got, err := modEval(L, `local m, err = ngx.re.match("ab", pat); return m, err`)
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := `nil|failed to compile regex "` + tc.pattern + `": PCRE feature not supported: ` + tc.want
			if !strings.HasPrefix(got, wantPrefix) {
				t.Errorf("got %q, want prefix %q", got, wantPrefix)
			}
		})
	}
	runModCases(t, L, []modCase{
		{"go syntax error", `return ngx.re.match("a", "(a")`, "nil|failed to compile regex \"(a\": missing closing ): `(a`", ""},
		{"find compile error", `return ngx.re.find("a", "(a")`, "nil|nil|failed to compile regex \"(a\": missing closing ): `(a`", ""},
		{"gsub compile error", `return ngx.re.gsub("a", "a(?=b)", "")`, `nil|nil|failed to compile regex "a(?=b)": PCRE feature not supported: lookahead assertion (?= at offset 1`, ""},
		{"gmatch compile error", `return ngx.re.gmatch("a", "\\1")`, `nil|failed to compile regex "\1": PCRE feature not supported: backreference \1 at offset 0`, ""},
	})
}

func TestNgxReFind(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"from to", `return ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "jo")`, `8|11`, ""},
		{"nth", `return ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "jo", nil, 2)`, `9|11`, ""},
		{"nth out of bound", `return ngx.re.find("hello, 1234", "([0-9])", nil, nil, 2)`, `nil|nil|nth out of bound`, ""},
		{"nth unmatched", `return ngx.re.find("b", "(a)?b", nil, nil, 1)`, `nil|nil`, ""},
		{"empty match", `return ngx.re.find("abc", "x*")`, `1|0`, ""},
		{"no match", `return ngx.re.find("abc", "x")`, `nil`, ""},
		{"ctx", `local ctx = {pos = 4}; local a, b = ngx.re.find("a1b2", "[0-9]", nil, ctx); return a, b, ctx.pos`, `4|4|5`, ""},
	})
}

func TestNgxReGmatch(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"all matches", `local out = {}; for m in ngx.re.gmatch("hello, world", "([a-z]+)") do out[#out+1] = m[0] .. "/" .. m[1] end; return table.concat(out, ",")`, `hello/hello,world/world`, ""},
		{"empty matches", `local out = {}; for m in ngx.re.gmatch("ab", "x*") do out[#out+1] = "[" .. m[0] .. "]" end; return table.concat(out)`, `[][][]`, ""},
		{"empty after match", `local out = {}; for m in ngx.re.gmatch("baaac", "a*") do out[#out+1] = "[" .. m[0] .. "]" end; return table.concat(out)`, `[][aaa][][]`, ""},
		{"exhausted stays nil", `local it = ngx.re.gmatch("a", "a"); it(); return it(), it()`, `nil|nil`, ""},
		{"anchored continues", `local out = {}; for m in ngx.re.gmatch("aab", "a", "a") do out[#out+1] = m[0] end; return table.concat(out, ",")`, `a,a`, ""},
		{"word boundary per step", `local out = {}; for m in ngx.re.gmatch("ab cd", "\\b\\w") do out[#out+1] = m[0] end; return table.concat(out)`, `ac`, ""},
		{"utf8 empty match advance", `local n = 0; for m in ngx.re.gmatch("é", "", "u") do n = n + 1 end; return n`, `2`, ""},
	})
}

func TestNgxReSub(t *testing.T) {
	L := modState(t, nil)
	runModCases(t, L, []modCase{
		{"sub template", `return ngx.re.sub("hello, 1234", "([0-9])[0-9]", "[$0][$1]")`, `hello, [12][1]34|1`, ""},
		{"sub braces", `return ngx.re.sub("hello, 1234", "[0-9]", "${0}00")`, `hello, 100234|1`, ""},
		{"sub dollar escape", `return ngx.re.sub("a", "a", "$$1")`, `$1|1`, ""},
		{"sub named template", `return ngx.re.sub("k=v", "(?<key>\\w+)=(?<val>\\w+)", "${val}=${key}")`, `v=k|1`, ""},
		{"bad template", `return ngx.re.sub("a", "a", "$x")`, `nil|nil|failed to compile the replacement template`, ""},
		{"dangling dollar", `return ngx.re.sub("a", "a", "x$")`, `nil|nil|failed to compile the replacement template`, ""},
		{"missing group is empty", `return ngx.re.sub("ab", "(a)", "[$2]")`, `[]b|1`, ""},
		{"no match", `return ngx.re.sub("abc", "x", "y")`, `abc|0`, ""},
		{"function replace", `return ngx.re.sub("hello, 1234", "[0-9]", function(m) return "[" .. m[0] .. "]" end)`, `hello, [1]234|1`, ""},
		{"function number result", `return ngx.re.gsub("a1b2", "[0-9]", function(m) return tonumber(m[0]) * 2 end)`, `a2b4|2`, ""},
		{"function result tostring", `return ngx.re.gsub("ab", "[ab]", function(m) if m[0] == "a" then return nil end return true end)`, `niltrue|2`, ""},
		{"gsub", `return ngx.re.gsub("hello, world", "([a-z])[a-z]+", "[$0,$1]")`, `[hello,h], [world,w]|2`, ""},
		{"gsub empty matches", `return ngx.re.gsub("hello", "x*", "-")`, `-h-e-l-l-o-|6`, ""},
		{"gsub empty after match", `return ngx.re.gsub("baaac", "a*", "-")`, `-b--c-|4`, ""},
		{"gsub anchored", `return ngx.re.gsub("aaba", "a", "x", "a")`, `xxba|2`, ""},
		{"gsub caret only first", `return ngx.re.gsub("aaa", "^a", "x")`, `xaa|1`, ""},
		{"gsub multiline caret", `return ngx.re.gsub("a\na", "^a", "x", "m")`, "x\nx|2", ""},
		{"gsub word boundary", `return ngx.re.gsub("cat concat", "\\bcat", "dog")`, `dog concat|1`, ""},
		{"gsub dollar end", `return ngx.re.gsub("abc", "$", "!")`, `abc!|1`, ""},
		{"number replacement", `return ngx.re.gsub("a-b", "-", 1)`, `a1b|1`, ""},
		{"utf8 subject", `return ngx.re.gsub("héllo", "l", "L", "u")`, `héLLo|2`, ""},
		{"case-insensitive gsub", `return ngx.re.gsub("Foo fOO", "foo", "bar", "i")`, `bar bar|2`, ""},
	})
}

func TestNgxReCacheConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			L := modState(t, nil)
			for i := 0; i < 50; i++ {
				got, err := modEval(L, `return ngx.re.gsub("a1b22c333", "[0-9]+", "#")`)
				if err != nil || got != "a#b#c#|3" {
					t.Errorf("gsub = %q, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestNgxReCacheBounded(t *testing.T) {
	c := &reCache{m: map[reCacheKey]*reCompiled{}}
	for i := 0; i < reCacheMax+10; i++ {
		c.get(strings.Repeat("a", i+1), reOptions{})
	}
	if len(c.m) != reCacheMax || len(c.order) != reCacheMax {
		t.Fatalf("cache holds %d/%d entries, want %d", len(c.m), len(c.order), reCacheMax)
	}
	if _, ok := c.m[reCacheKey{pattern: "a"}]; ok {
		t.Errorf("oldest entry was not evicted")
	}
}

func BenchmarkNgxReMatchCached(b *testing.B) {
	L := modState(b, nil)
	if err := L.DoString(`
		match = ngx.re.match
		function run() return match("GET /api/v1/users/12345 HTTP/1.1", [[^(\w+) /api/v(\d+)/users/(?<id>\d+)]], "jo") end
		assert(run().id == "12345")`); err != nil {
		b.Fatal(err)
	}
	fn := L.GetGlobal("run")
	b.ReportAllocs()
	for b.Loop() {
		L.Push(fn)
		L.Call(0, 1)
		L.Pop(1)
	}
}

// FuzzNgxReCompile feeds arbitrary patterns through the PCRE translation:
// compiling must not panic, and a compiled regex must run at every offset.
func FuzzNgxReCompile(f *testing.F) {
	for _, s := range []string{`^(\w+)/(?<id>\d+)$`, `a(?=b)`, `[\h\v]+\R`, `\Q.*\E`, `(?#c)x{2,3}?`, `[]a-]`, `\x{41}\o{101}\cA`, `(?i)(?P<n>a)|(?'m'b)`, `\p{L}+\b`, `(`, `[[:alpha:]`, `\`} {
		f.Add(s, "ab 12/34\nx", "imsx")
	}
	f.Fuzz(func(t *testing.T, pattern, subject, opts string) {
		var o reOptions
		for _, c := range opts {
			switch c {
			case 'i':
				o.caseless = true
			case 'm':
				o.multiline = true
			case 's':
				o.dotall = true
			case 'x':
				o.extended = true
			case 'a':
				o.anchored = true
			case 'D':
				o.dupNames = true
			}
		}
		rc := compileRe(pattern, o)
		if rc.err != "" {
			if !strings.HasPrefix(rc.err, "failed to compile regex ") {
				t.Fatalf("error without prefix: %q", rc.err)
			}
			return
		}
		for pos := 0; pos <= len(subject); pos++ {
			loc := rc.exec(subject, pos)
			if loc == nil {
				continue
			}
			if len(loc) != 2*(rc.ncap+1) || loc[0] < pos || loc[1] < loc[0] || loc[1] > len(subject) {
				t.Fatalf("pattern %q subject %q pos %d: bad match %v", pattern, subject, pos, loc)
			}
			if o.anchored && loc[0] != pos {
				t.Fatalf("anchored match at %d, want %d", loc[0], pos)
			}
		}
	})
}

// TestNgxReSplit follows lua-resty-core's t/re-split.t cases.
func TestNgxReSplit(t *testing.T) {
	L := modState(t, nil)
	if err := L.DoString(`ngx_re = require "ngx.re"
		function joined(res, err)
			if not res then return "ERR " .. tostring(err) end
			local out = {}
			for i = 1, #res do out[i] = res[i] == "" and "_" or res[i] end
			return table.concat(out, " ") .. " #" .. #res
		end`); err != nil {
		t.Fatal(err)
	}
	runModCases(t, L, []modCase{
		{"simple", `return joined(ngx_re.split("a,b,c,d", ","))`, `a b c d #4`, ""},
		{"multi-char separator", `return joined(ngx_re.split("a;,b;,c;,d;e", ";,"))`, `a b c d;e #4`, ""},
		{"jo", `return joined(ngx_re.split("a,b,c,d", ",", "jo"))`, `a b c d #4`, ""},
		{"submatch", `return joined(ngx_re.split("a;,b;,c;,d,e", "(;),"))`, `a ; b ; c ; d,e #7`, ""},
		{"submatch not matching", `return joined(ngx_re.split("a,b,c,d,e", "(;)|,"))`, `a b c d e #5`, ""},
		{"max", `return joined(ngx_re.split("a,b,c,d,e", ",", nil, nil, 3))`, `a b c,d,e #3`, ""},
		{"submatch and max", `return joined(ngx_re.split("a,b,c,d,e", "(,)", nil, nil, 3))`, `a , b , c,d,e #5`, ""},
		{"max 0", `return joined(ngx_re.split("a,b,c,d,e", ",", nil, nil, 0))`, `a b c d e #5`, ""},
		{"max negative", `return joined(ngx_re.split("a,b,c,d,e", ",", nil, nil, -1))`, `a b c d e #5`, ""},
		{"max 1", `return joined(ngx_re.split("a,b,c,d,e", ",", nil, nil, 1))`, `a,b,c,d,e #1`, ""},
		{"res table", `local t = {}; local res = ngx_re.split("a,b,c,d,e", ",", nil, nil, nil, t); return res == t, joined(res)`, `true|a b c d e #5`, ""},
		{"res table not cleared beyond", `local t = {}; for i = 1, 10 do t[i] = i .. " hello" end; ngx_re.split("a,b,c,d,e", ",", nil, nil, nil, t); return t[1], t[5], t[6], t[7]`, `a|e|nil|7 hello`, ""},
		{"ctx pos", `return joined(ngx_re.split("a,b,c,d,e", ",", nil, {pos = 5}))`, `c d e #3`, ""},
		{"leading and trailing separators", `return joined(ngx_re.split(",a,b,c,d,", ","))`, `_ a b c d #5`, ""},
		{"alternation", `return joined(ngx_re.split("abcd,erfg,ghij;hello world;aaa", ",|;"))`, `abcd erfg ghij hello world aaa #5`, ""},
		{"no match", `return joined(ngx_re.split("abcd", ","))`, `abcd #1`, ""},
		{"number subject", `return joined(ngx_re.split(1234512345, "23", "jo"))`, `1 451 45 #3`, ""},
		{"pos beyond subject", `return joined(ngx_re.split("a,b,c,d,e", ",", nil, {pos = 10}))`, ` #0`, ""},
		{"empty regex", `return joined(ngx_re.split("12345", "", "jo"))`, `1 2 3 4 5 #5`, ""},
		{"empty regex with max", `return joined(ngx_re.split("12345", "", "jo", nil, 3))`, `1 2 345 #3`, ""},
		{"empty regex with pos", `return joined(ngx_re.split("12345", "", "jo", {pos = 2}))`, `2 3 4 5 #4`, ""},
		{"consecutive separators", `return joined(ngx_re.split("a,,b", ","))`, `a _ b #3`, ""},
		{"compile error", `return ngx_re.split("a", "(")`, "nil|failed to compile regex \"(\": missing closing ): `(`", ""},
		{"bad res", `return ngx_re.split("a", ",", nil, nil, nil, 1)`, "", "res is not a table"},
		{"opt", `ngx_re.opt("jit_stack_size", 128 * 1024); return ngx_re.opt("nope")`, "", "unrecognized option name"},
	})
}
