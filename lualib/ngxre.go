package lualib

// ngxre.go: ngx.re.match/find/gmatch/sub/gsub on Go's regexp (RE2).
//
// PCRE patterns are translated to RE2 syntax where the meaning is the same
// (named groups in all three spellings, \h \v \R \e \cX \N \o{} \x, (?#...)
// comments, the x flag). PCRE-only constructs (lookaround, backreferences,
// possessive quantifiers, atomic groups, recursion, conditionals, verbs) are
// refused at compile time with a message naming the construct.
//
// Matching from an offset (ctx.pos, the next match of gsub/gmatch) keeps
// PCRE's view of the subject: when the pattern contains ^, \A, \b or \B, the
// search runs on a variant of the regex that sees the character before the
// offset, so those assertions behave as with pcre_exec's start_offset.
// Empty matches advance by one character, as lua-resty-core does.
//
// Known differences from PCRE: Go's $ (without m) matches only at the very
// end (PCRE also before a final newline, \Z is translated the same way);
// "." and classes always work on UTF-8 characters, also without the u flag;
// repetition counts are limited to 1000; \S inside a class still matches VT.
//
// Compiled regexes are cached process-wide (reCacheMax entries, shared by
// all states and goroutines; *regexp.Regexp is safe for concurrent use).

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

const reCacheMax = 1024

// reOptions are the parsed option letters of one call.
type reOptions struct {
	caseless, multiline, dotall, extended bool
	utf8, noUTF8Check, anchored, dupNames bool
	longest                               bool // d: DFA mode, leftmost-longest
}

// key returns the cache key part of the options that affect compilation.
func (o reOptions) key() byte {
	var k byte
	for i, b := range []bool{o.caseless, o.multiline, o.dotall, o.extended, o.anchored, o.dupNames, o.longest} {
		if b {
			k |= 1 << i
		}
	}
	return k
}

func parseReOptions(L *lua.LState, n int) reOptions {
	var o reOptions
	v := L.Get(n)
	if v == lua.LNil {
		return o
	}
	s := modCheckString(L, n)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'o', 'j', 'J':
			// compile-once (we always cache), JIT and JavaScript
			// compatibility: no effect here.
		case 'd':
			o.longest = true
		case 'i':
			o.caseless = true
		case 's':
			o.dotall = true
		case 'm':
			o.multiline = true
		case 'u':
			o.utf8 = true
		case 'U':
			o.utf8, o.noUTF8Check = true, true
		case 'x':
			o.extended = true
		case 'a':
			o.anchored = true
		case 'D':
			o.dupNames = true
		default:
			L.RaiseError(`unknown flag "%s" (flags "%s")`, s[i:i+1], s)
		}
	}
	return o
}

type reName struct {
	name string
	idx  int
}

// reCompiled is one cached regex.
type reCompiled struct {
	err   string         // compile failure (cached too)
	main  *regexp.Regexp // for searches at offset 0 or context-free patterns
	ctx   *regexp.Regexp // sees one character before the offset; nil when not needed
	ncap  int
	names []reName // sorted by name, then group number (PCRE's name table)
}

type reCacheKey struct {
	pattern string
	opts    byte
}

// reCache is the process-wide compiled-regex cache: bounded, FIFO eviction.
type reCache struct {
	mu    sync.RWMutex
	m     map[reCacheKey]*reCompiled
	order []reCacheKey
}

var regexCache = &reCache{m: make(map[reCacheKey]*reCompiled)}

func (c *reCache) get(pattern string, o reOptions) *reCompiled {
	k := reCacheKey{pattern, o.key()}
	c.mu.RLock()
	rc, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return rc
	}
	rc = compileRe(pattern, o)
	c.mu.Lock()
	if _, ok := c.m[k]; !ok {
		if len(c.order) >= reCacheMax {
			delete(c.m, c.order[0])
			c.order = slices.Delete(c.order, 0, 1)
		}
		c.m[k] = rc
		c.order = append(c.order, k)
	}
	c.mu.Unlock()
	return rc
}

func compileRe(pattern string, o reOptions) *reCompiled {
	fail := func(msg string) *reCompiled {
		return &reCompiled{err: "failed to compile regex \"" + pattern + "\": " + msg}
	}
	tr := reTranslator{src: pattern, extended: o.extended}
	body, err := tr.translate()
	if err != "" {
		return fail(err)
	}
	if !o.dupNames {
		seen := map[string]bool{}
		for _, n := range tr.names {
			if seen[n.name] {
				return fail("two named subpatterns have the same name (PCRE option D allows it)")
			}
			seen[n.name] = true
		}
	}
	flags := ""
	if o.caseless {
		flags += "i"
	}
	if o.multiline {
		flags += "m"
	}
	if o.dotall {
		flags += "s"
	}
	prefix := ""
	if flags != "" {
		prefix = "(?" + flags + ")"
	}
	mainSrc := prefix + body
	if o.anchored {
		mainSrc = prefix + `\A(?:` + body + `)`
	}
	main, cerr := regexp.Compile(mainSrc)
	if cerr != nil {
		msg := cerr.Error()
		msg = strings.TrimPrefix(msg, "error parsing regexp: ")
		return fail(msg)
	}
	if o.longest {
		main.Longest()
	}
	rc := &reCompiled{main: main, ncap: main.NumSubexp()}
	if rc.ncap != tr.groups {
		return fail("internal error: capture count mismatch")
	}
	rc.names = tr.names
	slices.SortStableFunc(rc.names, func(a, b reName) int { return strings.Compare(a.name, b.name) })
	if needsContext(prefix + body) {
		ctxSrc := prefix + `\A(?s:.)(?s:.*?)(` + body + `)`
		if o.anchored {
			ctxSrc = prefix + `\A(?s:.)(` + body + `)`
		}
		ctx, cerr := regexp.Compile(ctxSrc)
		if cerr != nil {
			return fail(strings.TrimPrefix(cerr.Error(), "error parsing regexp: "))
		}
		if o.longest {
			ctx.Longest()
		}
		rc.ctx = ctx
	}
	return rc
}

// needsContext reports whether a pattern looks at the character before the
// match start (^, \A, \b, \B), so that slicing the subject would change it.
func needsContext(src string) bool {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return true
	}
	var walk func(*syntax.Regexp) bool
	walk = func(r *syntax.Regexp) bool {
		switch r.Op {
		case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			return true
		}
		for _, s := range r.Sub {
			if walk(s) {
				return true
			}
		}
		return false
	}
	return walk(re)
}

// exec finds the first match at or after pos (exactly at pos when anchored)
// and returns absolute submatch indices, or nil.
func (rc *reCompiled) exec(subj string, pos int) []int {
	if pos > len(subj) {
		return nil
	}
	if pos == 0 || rc.ctx == nil {
		loc := rc.main.FindStringSubmatchIndex(subj[pos:])
		if loc == nil {
			return nil
		}
		if pos > 0 {
			for i := range loc {
				if loc[i] >= 0 {
					loc[i] += pos
				}
			}
		}
		return loc
	}
	_, k := utf8.DecodeLastRuneInString(subj[:pos])
	base := pos - k
	loc := rc.ctx.FindStringSubmatchIndex(subj[base:])
	if loc == nil {
		return nil
	}
	loc = loc[2:]
	for i := range loc {
		if loc[i] >= 0 {
			loc[i] += base
		}
	}
	return loc
}

// ---------------------------------------------------------------- PCRE → RE2

type reTranslator struct {
	src      string
	extended bool
	out      strings.Builder
	groups   int
	names    []reName
}

func unsupported(what string, at int) string {
	return "PCRE feature not supported: " + what + " at offset " + strconv.Itoa(at)
}

const (
	reHSpace    = `\t \x{a0}\x{1680}\x{180e}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}`
	reVSpace    = `\n\x0b\f\r\x{85}\x{2028}\x{2029}`
	reLineBreak = `(?:\r\n|[` + reVSpace + `])`
)

func (t *reTranslator) translate() (string, string) {
	s := t.src
	lastQuant := false // the previous token was a quantifier (for possessive detection)
	for i := 0; i < len(s); {
		c := s[i]
		if t.extended {
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				i++
				continue
			}
			if c == '#' {
				for i < len(s) && s[i] != '\n' {
					i++
				}
				continue
			}
		}
		switch c {
		case '\\':
			n, err := t.escape(i, false)
			if err != "" {
				return "", err
			}
			i = n
			lastQuant = false
		case '[':
			n, err := t.class(i)
			if err != "" {
				return "", err
			}
			i = n
			lastQuant = false
		case '(':
			n, err := t.group(i)
			if err != "" {
				return "", err
			}
			i = n
			lastQuant = false
		case '*', '+', '?':
			if lastQuant && c == '+' {
				return "", unsupported("possessive quantifier", i)
			}
			t.out.WriteByte(c)
			i++
			if c == '?' && lastQuant {
				// lazy modifier; a further + would be an error anyway
				lastQuant = false
				continue
			}
			lastQuant = true
		case '{':
			if m := reRepeat.FindString(s[i:]); m != "" {
				t.out.WriteString(m)
				i += len(m)
				lastQuant = true
				continue
			}
			t.out.WriteString(`\{`)
			i++
			lastQuant = false
		default:
			t.out.WriteByte(c)
			i++
			lastQuant = false
		}
	}
	return t.out.String(), ""
}

var reRepeat = regexp.MustCompile(`^\{[0-9]+(,[0-9]*)?\}`)

// escape translates the escape sequence at s[i] ('\\'); inClass selects the
// character-class forms. It returns the index after the sequence.
func (t *reTranslator) escape(i int, inClass bool) (int, string) {
	s := t.src
	if i+1 >= len(s) {
		return 0, "\\ at end of pattern"
	}
	c := s[i+1]
	switch {
	case c >= '1' && c <= '9':
		return 0, unsupported("backreference \\"+string(c), i)
	case c == 'g':
		return 0, unsupported("backreference or subroutine call \\g", i)
	case c == 'k':
		return 0, unsupported("named backreference \\k", i)
	case c == 'K':
		return 0, unsupported("match start reset \\K", i)
	case c == 'G':
		return 0, unsupported("\\G assertion", i)
	case c == 'X':
		return 0, unsupported("extended grapheme cluster \\X", i)
	case c == 'C':
		return 0, unsupported("single code unit \\C", i)
	case c == 'h':
		t.classOf(reHSpace, false, inClass)
	case c == 'H':
		if inClass {
			return 0, unsupported("\\H inside a character class", i)
		}
		t.classOf(reHSpace, true, false)
	case c == 'v':
		t.classOf(reVSpace, false, inClass)
	case c == 'V':
		if inClass {
			return 0, unsupported("\\V inside a character class", i)
		}
		t.classOf(reVSpace, true, false)
	case c == 'R':
		if inClass {
			return 0, "\\R is not allowed inside a character class"
		}
		t.out.WriteString(reLineBreak)
	case c == 'N' && !inClass:
		t.out.WriteString(`[^\n]`)
	case c == 'e':
		t.out.WriteString(`\x1b`)
	case c == 'b' && inClass:
		t.out.WriteString(`\x08`)
	case c == 'Z':
		t.out.WriteString(`\z`)
	case c == 'E':
		// a stray \E is ignored by PCRE
	case c == 'c':
		if i+2 >= len(s) {
			return 0, "\\c at end of pattern"
		}
		x := s[i+2]
		if x >= 'a' && x <= 'z' {
			x -= 32
		}
		t.out.WriteString(`\x{` + strconv.FormatInt(int64(x^0x40), 16) + `}`)
		return i + 3, ""
	case c == 'o':
		end := strings.IndexByte(s[i:], '}')
		if i+2 >= len(s) || s[i+2] != '{' || end < 0 {
			return 0, "malformed \\o{...}"
		}
		v, err := strconv.ParseInt(s[i+3:i+end], 8, 32)
		if err != nil {
			return 0, "malformed \\o{...}"
		}
		t.out.WriteString(`\x{` + strconv.FormatInt(v, 16) + `}`)
		return i + end + 1, ""
	case c == 'x':
		j := i + 2
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				return 0, "malformed \\x{...}"
			}
			t.out.WriteString(s[i : j+end+1])
			return j + end + 1, ""
		}
		k := j
		for k < len(s) && k < j+2 && modIsHex(s[k]) {
			k++
		}
		v := int64(0)
		if k > j {
			v, _ = strconv.ParseInt(s[j:k], 16, 32)
		}
		t.out.WriteString(`\x{` + strconv.FormatInt(v, 16) + `}`)
		return k, ""
	case c == 'Q':
		end := strings.Index(s[i+2:], `\E`)
		lit := s[i+2:]
		next := len(s)
		if end >= 0 {
			lit = s[i+2 : i+2+end]
			next = i + 2 + end + 2
		}
		t.out.WriteString(regexp.QuoteMeta(lit))
		return next, ""
	case c == 'p' || c == 'P':
		t.out.WriteByte('\\')
		t.out.WriteByte(c)
		if i+2 < len(s) && s[i+2] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return 0, "malformed \\p{...}"
			}
			t.out.WriteString(s[i+2 : i+3+end])
			return i + 3 + end, ""
		}
		if i+2 < len(s) {
			t.out.WriteByte(s[i+2])
			return i + 3, ""
		}
		return 0, "malformed \\p"
	case c == 'A' || c == 'z' || c == 'b' || c == 'B':
		if inClass {
			return 0, "invalid escape \\" + string(c) + " in a character class"
		}
		t.out.WriteString(s[i : i+2])
	case c == 's':
		// PCRE's \s includes VT (since 8.34); Go's does not.
		t.classOf(`\t\n\x0b\f\r `, false, inClass)
	case c == 'S' && !inClass:
		t.classOf(`\t\n\x0b\f\r `, true, false)
	case strings.IndexByte("dDwWSafnrt0", c) >= 0:
		t.out.WriteString(s[i : i+2])
	case modIsAlnum(c):
		return 0, "unrecognized escape \\" + string(c)
	default:
		if c >= 0x80 {
			// an escaped non-ASCII character stands for itself
			_, size := utf8.DecodeRuneInString(s[i+1:])
			t.out.WriteString(regexp.QuoteMeta(s[i+1 : i+1+size]))
			return i + 1 + size, ""
		}
		t.out.WriteString(regexp.QuoteMeta(string(c)))
	}
	return i + 2, ""
}

// classOf writes a set as a class, or as members when already in a class.
func (t *reTranslator) classOf(members string, negate, inClass bool) {
	if inClass {
		t.out.WriteString(members)
		return
	}
	if negate {
		t.out.WriteString("[^" + members + "]")
	} else {
		t.out.WriteString("[" + members + "]")
	}
}

// class copies a character class starting at s[i] == '['.
func (t *reTranslator) class(i int) (int, string) {
	s := t.src
	t.out.WriteByte('[')
	j := i + 1
	if j < len(s) && s[j] == '^' {
		t.out.WriteByte('^')
		j++
	}
	if j < len(s) && s[j] == ']' {
		t.out.WriteString(`\]`)
		j++
	}
	for j < len(s) {
		c := s[j]
		switch {
		case c == ']':
			t.out.WriteByte(']')
			return j + 1, ""
		case c == '\\':
			n, err := t.escape(j, true)
			if err != "" {
				return 0, err
			}
			j = n
		case c == '[' && j+1 < len(s) && s[j+1] == ':':
			end := strings.Index(s[j:], ":]")
			if end < 0 {
				t.out.WriteString(`\[`)
				j++
				continue
			}
			t.out.WriteString(s[j : j+end+2])
			j += end + 2
		case c == '[':
			t.out.WriteString(`\[`)
			j++
		default:
			t.out.WriteByte(c)
			j++
		}
	}
	return 0, "missing terminating ] for character class"
}

// group translates the group opener at s[i] == '('.
func (t *reTranslator) group(i int) (int, string) {
	s := t.src
	rest := s[i:]
	switch {
	case strings.HasPrefix(rest, "(*"):
		return 0, unsupported("backtracking control verb or option setting (*...)", i)
	case !strings.HasPrefix(rest, "(?"):
		t.groups++
		t.out.WriteByte('(')
		return i + 1, ""
	case strings.HasPrefix(rest, "(?#"):
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return 0, "missing ) after comment"
		}
		return i + end + 1, ""
	case strings.HasPrefix(rest, "(?="):
		return 0, unsupported("lookahead assertion (?=", i)
	case strings.HasPrefix(rest, "(?!"):
		return 0, unsupported("negative lookahead assertion (?!", i)
	case strings.HasPrefix(rest, "(?<="):
		return 0, unsupported("lookbehind assertion (?<=", i)
	case strings.HasPrefix(rest, "(?<!"):
		return 0, unsupported("negative lookbehind assertion (?<!", i)
	case strings.HasPrefix(rest, "(?>"):
		return 0, unsupported("atomic group (?>", i)
	case strings.HasPrefix(rest, "(?|"):
		return 0, unsupported("branch reset group (?|", i)
	case strings.HasPrefix(rest, "(?("):
		return 0, unsupported("conditional group (?(", i)
	case strings.HasPrefix(rest, "(?P="):
		return 0, unsupported("named backreference (?P=", i)
	case strings.HasPrefix(rest, "(?P>"), strings.HasPrefix(rest, "(?&"), strings.HasPrefix(rest, "(?R"),
		len(rest) > 2 && (modIsDigit(rest[2]) || rest[2] == '+' || (rest[2] == '-' && len(rest) > 3 && modIsDigit(rest[3]))):
		return 0, unsupported("recursion or subroutine call", i)
	case strings.HasPrefix(rest, "(?C"):
		return 0, unsupported("callout (?C", i)
	case strings.HasPrefix(rest, "(?P<"), strings.HasPrefix(rest, "(?<"), strings.HasPrefix(rest, "(?'"):
		start := i + 3
		closer := byte('>')
		if rest[2] == 'P' {
			start = i + 4
		} else if rest[2] == '\'' {
			closer = '\''
		}
		end := strings.IndexByte(s[start:], closer)
		if end < 0 {
			return 0, "syntax error in subpattern name (missing terminator)"
		}
		name := s[start : start+end]
		if name == "" || !reValidName(name) {
			return 0, "invalid subpattern name " + strconv.Quote(name)
		}
		t.groups++
		dup := false
		for _, n := range t.names {
			if n.name == name {
				dup = true
			}
		}
		t.names = append(t.names, reName{name: name, idx: t.groups})
		if dup {
			t.out.WriteByte('(')
		} else {
			t.out.WriteString("(?P<" + name + ">")
		}
		return start + end + 1, ""
	}
	// (?flags) or (?flags:
	j := i + 2
	for j < len(s) && s[j] != ')' && s[j] != ':' {
		switch s[j] {
		case 'i', 'm', 's', 'U', '-':
		case 'x':
			return 0, unsupported("inline x flag (pass the x option instead)", i)
		default:
			return 0, "unrecognized character after (? or (?-"
		}
		j++
	}
	if j >= len(s) {
		return 0, "missing )"
	}
	t.out.WriteString(s[i : j+1])
	return j + 1, ""
}

func reValidName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(modIsAlnum(c) || c == '_') || (i == 0 && modIsDigit(c)) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- Lua API

// OpenNgxRe installs ngx.re (match, find, gmatch, sub, gsub).
func OpenNgxRe(L *lua.LState, ngx *lua.LTable) {
	re := L.CreateTable(0, 6)
	L.SetFuncs(re, map[string]lua.LGFunction{
		"match":  ngxReMatch,
		"find":   ngxReFind,
		"gmatch": ngxReGmatch,
		"sub":    func(L *lua.LState) int { return ngxReSub(L, false) },
		"gsub":   func(L *lua.LState) int { return ngxReSub(L, true) },
	})
	ngx.RawSetString("re", re)
}

// reSetup reads subject, regex and options and compiles (or fetches) the
// regex. The compile error, if any, is in rc.err.
func reSetup(L *lua.LState, optArg int) (string, *reCompiled, reOptions) {
	// lua-resty-core applies tostring to the subject, whatever it is.
	subj := modOptString(L, 1)
	if L.Get(1) == lua.LNil {
		subj = "nil"
	} else if b, ok := L.Get(1).(lua.LBool); ok && !bool(b) {
		subj = "false"
	}
	pattern := modCheckString(L, 2)
	o := parseReOptions(L, optArg)
	rc := regexCache.get(pattern, o)
	return subj, rc, o
}

// reBadSubject reports whether the u option's UTF-8 check fails.
func reBadSubject(subj string, o reOptions) bool {
	return o.utf8 && !o.noUTF8Check && !utf8.ValidString(subj)
}

const reBadUTF8 = "pcre_exec() failed: -10"

// captures fills res (or a new table) like lua-resty-core's
// collect_captures: [0] the match, [1..ncap] the groups (false when
// unmatched), and named groups by name (false when unmatched; with the D
// option an array of the matched ones). A given res table is not cleared
// first, as in lua-resty-core.
func (rc *reCompiled) captures(L *lua.LState, subj string, loc []int, res *lua.LTable, dup bool) *lua.LTable {
	if res == nil {
		res = L.CreateTable(rc.ncap, len(rc.names))
	}
	for g := 0; g <= rc.ncap; g++ {
		var v lua.LValue = lua.LFalse
		if loc[2*g] >= 0 {
			v = lua.LString(subj[loc[2*g]:loc[2*g+1]])
		}
		if g == 0 {
			res.RawSet(lua.LNumber(0), v)
		} else {
			res.RawSetInt(g, v)
		}
	}
	for _, nm := range rc.names {
		v := res.RawGetInt(nm.idx)
		if !dup {
			res.RawSetString(nm.name, v)
			continue
		}
		if v == lua.LFalse {
			continue // unmatched captures are not collected
		}
		if old, ok := res.RawGetString(nm.name).(*lua.LTable); ok {
			old.Append(v)
		} else {
			arr := L.CreateTable(2, 0)
			arr.RawSetInt(1, v)
			res.RawSetString(nm.name, arr)
		}
	}
	return res
}

// ctxPos reads ctx.pos (1-based) as a 0-based offset.
func ctxPos(L *lua.LState, n int) (*lua.LTable, int) {
	v := L.Get(n)
	if v == lua.LNil {
		return nil, 0
	}
	ctx := L.CheckTable(n)
	p, ok := ctx.RawGetString("pos").(lua.LNumber)
	if !ok || p <= 0 {
		return ctx, 0
	}
	return ctx, int(p) - 1
}

func ngxReMatch(L *lua.LState) int {
	subj, rc, o := reSetup(L, 3)
	ctx, pos := ctxPos(L, 4)
	var res *lua.LTable
	if v := L.Get(5); v != lua.LNil {
		res = L.CheckTable(5)
	}
	if rc.err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(rc.err))
		return 2
	}
	if reBadSubject(subj, o) {
		L.Push(lua.LNil)
		L.Push(lua.LString(reBadUTF8))
		return 2
	}
	loc := rc.exec(subj, pos)
	if loc == nil {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		ctx.RawSetString("pos", lua.LNumber(loc[1]+1))
	}
	L.Push(rc.captures(L, subj, loc, res, o.dupNames))
	return 1
}

func ngxReFind(L *lua.LState) int {
	subj, rc, o := reSetup(L, 3)
	ctx, pos := ctxPos(L, 4)
	nth := 0
	if v := L.Get(5); v != lua.LNil {
		nth = L.CheckInt(5)
	}
	if rc.err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(rc.err))
		return 3
	}
	if reBadSubject(subj, o) {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(reBadUTF8))
		return 3
	}
	loc := rc.exec(subj, pos)
	if loc == nil {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		ctx.RawSetString("pos", lua.LNumber(loc[1]+1))
	}
	if nth < 0 {
		nth = 0
	}
	if nth > rc.ncap {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString("nth out of bound"))
		return 3
	}
	if loc[2*nth] < 0 {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		return 2
	}
	L.Push(lua.LNumber(loc[2*nth] + 1))
	L.Push(lua.LNumber(loc[2*nth+1]))
	return 2
}

// nextPos is where the search continues after a match: its end, or one
// character further after an empty match.
func nextPos(subj string, loc []int) int {
	if loc[1] > loc[0] {
		return loc[1]
	}
	if loc[1] >= len(subj) {
		return loc[1] + 1
	}
	_, size := utf8.DecodeRuneInString(subj[loc[1]:])
	return loc[1] + size
}

func ngxReGmatch(L *lua.LState) int {
	subj, rc, o := reSetup(L, 3)
	if rc.err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(rc.err))
		return 2
	}
	if reBadSubject(subj, o) {
		L.Push(lua.LNil)
		L.Push(lua.LString(reBadUTF8))
		return 2
	}
	pos := 0
	done := false
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if done || pos > len(subj) {
			done = true
			L.Push(lua.LNil)
			return 1
		}
		loc := rc.exec(subj, pos)
		if loc == nil {
			done = true
			L.Push(lua.LNil)
			return 1
		}
		pos = nextPos(subj, loc)
		L.Push(rc.captures(L, subj, loc, nil, o.dupNames))
		return 1
	}))
	return 1
}

// reTemplate is a compiled replacement string: literal pieces and group
// references (group >= 0, or a name).
type reTemplatePart struct {
	lit   string
	group int // -1: literal
	name  string
}

func compileTemplate(s string) ([]reTemplatePart, bool) {
	var parts []reTemplatePart
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			parts = append(parts, reTemplatePart{lit: string(lit), group: -1})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			lit = append(lit, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, false
		}
		switch n := s[i+1]; {
		case n == '$':
			lit = append(lit, '$')
			i++
		case modIsDigit(n):
			j := i + 1
			for j < len(s) && modIsDigit(s[j]) {
				j++
			}
			g, err := strconv.Atoi(s[i+1 : j])
			if err != nil {
				return nil, false
			}
			flush()
			parts = append(parts, reTemplatePart{group: g})
			i = j - 1
		case n == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end <= 0 {
				return nil, false
			}
			ref := s[i+2 : i+2+end]
			flush()
			if g, err := strconv.Atoi(ref); err == nil && g >= 0 && modIsDigit(ref[0]) {
				parts = append(parts, reTemplatePart{group: g})
			} else if reValidName(ref) {
				parts = append(parts, reTemplatePart{group: -2, name: ref})
			} else {
				return nil, false
			}
			i += 2 + end
		default:
			return nil, false
		}
	}
	flush()
	return parts, true
}

func (rc *reCompiled) expand(b []byte, parts []reTemplatePart, subj string, loc []int) []byte {
	for _, p := range parts {
		g := p.group
		switch g {
		case -1:
			b = append(b, p.lit...)
			continue
		case -2:
			g = -1
			for _, n := range rc.names {
				if n.name == p.name && loc[2*n.idx] >= 0 {
					g = n.idx
					break
				}
			}
			if g < 0 {
				continue
			}
		}
		if g <= rc.ncap && loc[2*g] >= 0 {
			b = append(b, subj[loc[2*g]:loc[2*g+1]]...)
		}
	}
	return b
}

func ngxReSub(L *lua.LState, global bool) int {
	subj, rc, o := reSetup(L, 4)
	repl := L.Get(3)
	fn, isFn := repl.(*lua.LFunction)
	var tmpl []reTemplatePart
	if rc.err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(rc.err))
		return 3
	}
	if !isFn {
		var s string
		switch v := repl.(type) {
		case lua.LString:
			s = string(v)
		case lua.LNumber:
			s = modNumberString(float64(v))
		default:
			s = L.ToStringMeta(v).String()
		}
		var ok bool
		if tmpl, ok = compileTemplate(s); !ok {
			L.Push(lua.LNil)
			L.Push(lua.LNil)
			L.Push(lua.LString("failed to compile the replacement template"))
			return 3
		}
	}
	if reBadSubject(subj, o) {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(reBadUTF8))
		return 3
	}
	var out []byte
	count, pos, cp := 0, 0, 0
	for pos <= len(subj) {
		loc := rc.exec(subj, pos)
		if loc == nil {
			break
		}
		count++
		out = append(out, subj[cp:loc[0]]...)
		if isFn {
			L.Push(fn)
			L.Push(rc.captures(L, subj, loc, nil, o.dupNames))
			L.Call(1, 1)
			// lua-resty-core: tostring(replace(res))
			switch r := L.Get(-1).(type) {
			case lua.LString:
				out = append(out, r...)
			case lua.LNumber:
				out = append(out, modNumberString(float64(r))...)
			default:
				out = append(out, L.ToStringMeta(r).String()...)
			}
			L.Pop(1)
		} else {
			out = rc.expand(out, tmpl, subj, loc)
		}
		checkStringSize(L, len(out))
		cp = loc[1]
		pos = nextPos(subj, loc)
		if !global {
			break
		}
	}
	if count == 0 {
		L.Push(lua.LString(subj))
		L.Push(lua.LNumber(0))
		return 2
	}
	checkStringSize(L, len(out)+len(subj)-cp)
	out = append(out, subj[cp:]...)
	L.Push(lua.LString(out))
	L.Push(lua.LNumber(count))
	return 2
}

// ---------------------------------------------------------------- ngx.re module

// preloadNgxRe registers require "ngx.re" (lua-resty-core's ngx/re.lua:
// split and opt).
func preloadNgxRe(L *lua.LState, preload *lua.LTable) {
	L.SetField(preload, "ngx.re", L.NewFunction(func(L *lua.LState) int {
		m := L.CreateTable(0, 3)
		L.SetFuncs(m, map[string]lua.LGFunction{
			"split": ngxReSplit,
			"opt":   ngxReOpt,
		})
		m.RawSetString("version", lua.LString("0.1.28"))
		L.Push(m)
		return 1
	}))
}

// ngxReOpt accepts jit_stack_size (there is no JIT stack here) and refuses
// other options, like lua-resty-core.
func ngxReOpt(L *lua.LState) int {
	if L.Get(1) == lua.LString("jit_stack_size") {
		return 0
	}
	L.RaiseError("unrecognized option name")
	return 0
}

// ngxReSplit is ngx.re.split(subject, regex, opts?, ctx?, max?, res?),
// following lua-resty-core's algorithm: pieces between matches, plus the
// first capture of each match when the regex has one; empty matches split
// between characters; without max, trailing empty pieces are dropped.
func ngxReSplit(L *lua.LState) int {
	subj := modOptString(L, 1)
	switch v := L.Get(1).(type) {
	case *lua.LNilType:
		subj = "nil"
	case lua.LBool:
		if !v {
			subj = "false"
		}
	}
	var ctx *lua.LTable
	startPos := 1
	if v := L.Get(4); v != lua.LNil {
		ctx = L.CheckTable(4)
		if p, ok := ctx.RawGetString("pos").(lua.LNumber); ok {
			startPos = int(p)
		} else {
			ctx.RawSetString("pos", lua.LNumber(1))
		}
	}
	max := 0
	if v := L.Get(5); v != lua.LNil {
		max = L.CheckInt(5)
	}
	var res *lua.LTable
	switch v := L.Get(6).(type) {
	case *lua.LNilType:
		narr := 4
		if max > 0 {
			narr = min(narr, max)
		}
		res = L.CreateTable(narr, 0)
	case *lua.LTable:
		res = v
	default:
		L.RaiseError("res is not a table")
	}
	n := len(subj)
	if startPos > n {
		res.RawSetInt(1, lua.LNil)
		L.Push(res)
		return 1
	}
	pattern := modCheckString(L, 2)
	o := parseReOptions(L, 3)
	rc := regexCache.get(pattern, o)
	if rc.err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(rc.err))
		return 2
	}
	if reBadSubject(subj, o) {
		L.Push(lua.LNil)
		L.Push(lua.LString(reBadUTF8))
		return 2
	}

	subIdx := startPos // 1-based start of the current piece
	pos := max0(subIdx - 1)
	resIdx := 0
	lastEmpty := 0 // 1-based position of the last empty match; 0 = none
	count := 1
	for max <= 0 || count < max {
		loc := rc.exec(subj, pos)
		if loc == nil {
			break
		}
		if loc[0] == loc[1] {
			pos = loc[1] + 1
		} else {
			pos = loc[1]
		}
		from, to := loc[0]+1, loc[1]+1
		if lastEmpty != 0 {
			subIdx = lastEmpty
		}
		if from == to {
			lastEmpty = from
		}
		if from > subIdx || lastEmpty == 0 {
			count++
			resIdx++
			res.RawSetInt(resIdx, lua.LString(luaSub(subj, subIdx, from-1)))
			if rc.ncap > 0 && loc[2] >= 0 {
				resIdx++
				res.RawSetInt(resIdx, lua.LString(subj[loc[2]:loc[3]]))
			}
			subIdx = to
			if subIdx > n {
				break
			}
		}
	}
	if max <= 0 && subIdx > n {
		for i := resIdx; i >= 1; i-- {
			if res.RawGetInt(i) != lua.LString("") {
				resIdx = i
				break
			}
			res.RawSetInt(i, lua.LNil)
			resIdx = i - 1
		}
	} else {
		resIdx++
		res.RawSetInt(resIdx, lua.LString(luaSub(subj, subIdx, n)))
	}
	res.RawSetInt(resIdx+1, lua.LNil)
	if ctx != nil {
		ctx.RawSetString("pos", lua.LNumber(pos))
	}
	L.Push(res)
	return 1
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// luaSub is string.sub(s, i, j) for 1 <= i (j may be below i).
func luaSub(s string, i, j int) string {
	if i < 1 {
		i = 1
	}
	if j > len(s) {
		j = len(s)
	}
	if i > j {
		return ""
	}
	return s[i-1 : j]
}
