package router

import (
	"reflect"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	cases := []struct {
		in, want string
		err      bool
	}{
		{"", "", false},
		{"/", "/", false},
		{"/foo/bar", "/foo/bar", false},
		{"/%41%62%63", "/Abc", false},     // unreserved letters decoded
		{"/%7e%2d%2e%5f", "/~-._", false}, // unreserved marks decoded
		{"/a%2fb", "/a%2Fb", false},       // reserved '/' stays encoded, hex uppercased
		{"/a%2Fb", "/a%2Fb", false},       // already canonical
		{"/%3a%40%21%24%26%27%28%29%2a%2b%2c%3b%3d", "/%3A%40%21%24%26%27%28%29%2A%2B%2C%3B%3D", false},
		{"/%3f%23%5b%5d%25", "/%3F%23%5B%5D%25", false}, // ? # [ ] % stay encoded
		{"/a%20b", "/a b", false}, // "other" characters are decoded
		{"/caf%C3%A9", "/café", false},
		{"/caf%c3%a9", "/café", false}, // lowercase hex is accepted
		{"/%252e", "/%252e", false},    // one pass only: %25 stays, "2e" is text
		{"/%zz/%4", "/%zz/%4", false},  // invalid escapes are left alone
		{"/100%", "/100%", false},
		{"/a/./b", "/a/b", false},
		{"/a/../b", "/b", false},
		{"/a/b/../../c", "/c", false},
		{"/../a", "/a", false}, // cannot climb above the root
		{"/a/..", "/", false},
		{"/a/.", "/a/", false},
		{"/a/b/..", "/a/", false},
		{"/a/%2e%2E/b", "/b", false}, // encoded dots are dot segments after decoding
		{"/a/%2e/b", "/a/b", false},
		{"/a/.b/c", "/a/.b/c", false}, // not a dot segment
		{"/a/b..", "/a/b..", false},
		{"//a///b//", "/a/b/", false}, // slashes merged
		{"/a//../b", "/b", false},     // slashes merge first, so ".." removes "a" (Kong's loop)
		{"/a/b/../../../../c", "/c", false},
		{"/%2e%2e/%2e%2e/etc", "/etc", false},
		{"/a%2F..%2Fb", "/a%2F..%2Fb", false}, // encoded slashes do not create segments
		{"/%ff", "", true},                    // invalid UTF-8 after decoding
		{"/\xff", "", true},                   // invalid UTF-8 as sent
		{"/%C3%A9%C3", "", true},
	}
	for _, c := range cases {
		got, err := NormalizePath(c.in)
		if c.err {
			if err == nil {
				t.Errorf("NormalizePath(%q) = %q, want an error", c.in, got)
			} else if !strings.Contains(err.Error(), "UTF-8") {
				t.Errorf("NormalizePath(%q) error %q does not say why", c.in, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestNormalizePathIdempotent(t *testing.T) {
	for _, in := range []string{"/a/../b/%2f", "//x/./y", "/%41/%2e%2e/q"} {
		once, err := NormalizePath(in)
		if err != nil {
			t.Fatal(err)
		}
		twice, err := NormalizePath(once)
		if err != nil || twice != once {
			t.Errorf("NormalizePath(%q) = %q, normalizing again gives %q, %v", in, once, twice, err)
		}
	}
}

func TestNormalizePathNoAllocWhenClean(t *testing.T) {
	p := "/api/v1/users/42"
	if n := testing.AllocsPerRun(100, func() { _, _ = NormalizePath(p) }); n != 0 {
		t.Errorf("NormalizePath allocates %v times on a clean path", n)
	}
}

func TestUUID5(t *testing.T) {
	// reference values from Python's uuid.uuid5
	cases := []struct{ ns, name, want string }{
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", "886313e1-3b8a-5372-9b90-0c9aee199e5d"},
		{splitNamespace, "a0000000-0000-4000-8000-000000000001#1", "74b98715-2d1a-5feb-b750-cf9886909db8"},
		{splitNamespace, "a0000000-0000-4000-8000-000000000001#2", "9037971d-cbe8-5f49-ab24-ae38986c4f52"},
	}
	for _, c := range cases {
		if got := uuid5(c.ns, c.name); got != c.want {
			t.Errorf("uuid5(%s, %q) = %s, want %s", c.ns, c.name, got, c.want)
		}
	}
}

func TestRegexPrefixes(t *testing.T) {
	cases := []struct {
		pat     string
		lits    []string // exact index keys, sorted
		yes, no []string // paths the prefilter must accept / reject
	}{
		{`^/foo/(\d+)`, []string{"/foo/0", "/foo/1", "/foo/2", "/foo/3", "/foo/4", "/foo/5", "/foo/6", "/foo/7", "/foo/8", "/foo/9"}, []string{"/foo/1"}, []string{"/fo", "/FOO/", "/foo/x"}},
		{`^/fo+`, []string{"/fo"}, []string{"/fox"}, []string{"/f", "/g"}},
		{`^(?i)/Foo/bar`, []string{"/"}, []string{"/FOO/Bar", "/foo/bar/x"}, []string{"/foo/baz", "/fo"}},
		{`^/Api(?i)/x`, []string{"/Api/"}, []string{"/Api/X"}, []string{"/api/x"}},
		{`^(?i)/kelvin`, []string{"/"}, []string{"/\u212Aelvin", "/KELVIN"}, []string{"/xelvin"}},
		{`^(?i)/ask`, []string{"/"}, []string{"/a\u017Fk", "/ASK"}, []string{"/ast"}},
		{`^/caf\x{e9}/(x)`, []string{"/caf\u00e9/x"}, []string{"/caf\u00e9/x"}, []string{"/cafe/x", "/caf\xff/x"}},
		{`^/(a|b)`, []string{"/a", "/b"}, []string{"/a", "/b/"}, []string{"/c", "c"}},
		{`^/(?:v1|v2)/users`, []string{"/v1/users", "/v2/users"}, []string{"/v2/users/1"}, []string{"/v3/users", "/v1/user"}},
		{`^/(?:api|web)?/x`, []string{"//x", "/api/x", "/web/x"}, []string{"/api/x", "//x"}, []string{"/ap/x"}},
		{`^/a|/b`, []string{""}, []string{"anything"}, nil}, // the second branch is not anchored
		{`^(?:/users)/(?P<id>\d+)`, []string{"/users/0", "/users/1", "/users/2", "/users/3", "/users/4", "/users/5", "/users/6", "/users/7", "/users/8", "/users/9"}, []string{"/users/1"}, []string{"/user/1"}},
		{`^/(?:ab)?c`, []string{"/abc", "/c"}, []string{"/c", "/abc"}, []string{"x", "/ab"}},
		{`^/[^/]+/x`, []string{"/"}, []string{"/anything/x"}, []string{"x"}},
		{`^/(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r)x`, []string{"/"}, []string{"/qx"}, nil}, // too many branches
	}
	for _, c := range cases {
		keys := regexPrefixes(mustSyntax(c.pat))
		var lits []string
		for _, k := range keys {
			lits = append(lits, k.lit)
		}
		sort.Strings(lits)
		if !reflect.DeepEqual(lits, c.lits) {
			t.Errorf("regexPrefixes(%q) lits = %q, want %q", c.pat, lits, c.lits)
		}
		re := regexp.MustCompile(c.pat)
		p := pathPred{re: re, keys: keys}
		for _, y := range c.yes {
			if !p.mayMatch(y) {
				t.Errorf("%q: prefilter rejects %q", c.pat, y)
			}
		}
		for _, n := range c.no {
			if p.mayMatch(n) {
				t.Errorf("%q: prefilter accepts %q", c.pat, n)
			}
			if re.MatchString(n) {
				t.Errorf("%q: test path %q matches the regex, fix the test", c.pat, n)
			}
		}
	}
}

func TestFoldCanon(t *testing.T) {
	same := [][]rune{{'k', 'K', '\u212A'}, {'s', 'S', '\u017F'}, {'a', 'A'}, {'\u00e9', '\u00c9'}, {'\u03c3', '\u03a3', '\u03c2'}}
	for _, orbit := range same {
		for _, r := range orbit {
			if foldCanon(r) != foldCanon(orbit[0]) {
				t.Errorf("foldCanon(%q) = %q, want %q", r, foldCanon(r), foldCanon(orbit[0]))
			}
		}
	}
	if foldCanon('/') != '/' || foldCanon('1') != '1' || foldCanon('a') == foldCanon('b') {
		t.Error("foldCanon maps unrelated runes together")
	}
	if got := foldPath("/S\u017Fk/\u212A/\xff"); got != "/ssk/k/\uFFFD" {
		t.Errorf("foldPath = %q", got)
	}
	p := "/already/lower-case/1"
	if n := testing.AllocsPerRun(50, func() { _ = foldPath(p) }); n != 0 {
		t.Errorf("foldPath allocates %v times on a lowercase path", n)
	}
}

func TestRequiredLiteral(t *testing.T) {
	cases := []struct{ pat, want string }{
		{`^/(?<tenant>[^/]+)/svc-1/items`, "/svc-1/items"},
		{`^/a/(b)(cd)\d+/x`, "/a/bcd"},
		{`^/a|/bcd`, ""},
		{`^/x(?i)/LONGER`, "/x"},
		{`^/(?:a|b)/users/(\d+)$`, "/users/"},
		{`^.*`, ""},
	}
	for _, c := range cases {
		if got := requiredLiteral(mustSyntax(c.pat)); got != c.want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", c.pat, got, c.want)
		}
	}
}

func mustSyntax(pat string) *syntax.Regexp {
	t, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		panic(err)
	}
	return t.Simplify()
}
