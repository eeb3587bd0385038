package functions

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Lua's LUA_IDSIZE (LuaJIT: 60). A [string "..."] chunk id keeps at most
// idSize-12 bytes of source, or idSize-15 plus "..." when it is cut.
const idSize = 60

// chunkID returns the name Lua gives a chunk loaded from source text:
// [string "<source up to the first control character>"], cut to 45 bytes
// plus "..." when the source goes on (LuaJIT's lj_debug_shortname).
func chunkID(src string) string {
	n := 0
	for n < idSize-12 && n < len(src) && src[n] >= ' ' {
		n++
	}
	if n < len(src) { // the source goes on: cut it
		if n > idSize-15 {
			n = idSize - 15
		}
		return `[string "` + src[:n] + `..."]`
	}
	return `[string "` + src + `"]`
}

// isFilePath reports whether a config entry names a Lua file rather than
// holding Lua source (DECISIONS row 2): one line, no white space, ending in
// ".lua".
func isFilePath(entry string) bool {
	return strings.HasSuffix(entry, ".lua") && len(entry) > len(".lua") &&
		!strings.ContainsAny(entry, " \t\r\n\v\f")
}

// compileChunk parses and compiles src under the chunk name name. The
// returned error message has Lua's shape: "<name>:<line>: <message>". The
// chunk is never run here.
func compileChunk(src, name string) (proto *lua.FunctionProto, err error) {
	defer func() {
		if r := recover(); r != nil { // a gopher-lua bug must not take the loader down
			proto, err = nil, fmt.Errorf("%s: cannot compile: %v", name, r)
		}
	}()
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, errors.New(luaSyntaxMessage(err, src, name))
	}
	proto, err = lua.Compile(chunk, name)
	if err != nil {
		var ce *lua.CompileError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%s:%d: %s", name, ce.Line, ce.Message)
		}
		return nil, fmt.Errorf("%s: %s", name, err)
	}
	// A main chunk is called with no arguments: skip building the Lua 5.1
	// "arg" table on every call (performance-anchors: 661 ns → 45 ns).
	proto.IsVarArg &^= lua.VarArgNeedsArg
	return proto, nil
}

// luaSyntaxMessage turns a gopher-lua parse error into the text Lua 5.1
// would print: "<name>:<line>: <message> near '<token>'".
func luaSyntaxMessage(err error, src, name string) string {
	var pe *parse.Error
	if !errors.As(err, &pe) {
		return name + ": " + strings.TrimSpace(err.Error())
	}
	line := pe.Pos.Line
	if pe.Message == "unterminated string" {
		// Lua shows the string as far as it got, with its opening quote.
		tok := `"` + pe.Token
		if !strings.Contains(src, tok) {
			tok = "'" + pe.Token
		}
		if line == parse.EOF {
			line = 1 + strings.Count(src, "\n")
		}
		return fmt.Sprintf("%s:%d: unfinished string near '%s'", name, line, tok)
	}
	if line == parse.EOF {
		// Lua reports the line the lexer stopped on: the last one.
		line = 1 + strings.Count(src, "\n")
		msg := luaSyntaxText(pe.Message, true)
		if pe.Message == "syntax error" {
			msg = eofExpectation(src, line)
		}
		return fmt.Sprintf("%s:%d: %s near '<eof>'", name, line, msg)
	}
	return fmt.Sprintf("%s:%d: %s near '%s'", name, line, luaSyntaxText(pe.Message, false), pe.Token)
}

// eofExpectation works out what Lua's parser wanted when the text ended
// too early on line last (gopher-lua only says "syntax error"): an unclosed
// block wants 'end' (or 'until'), which shows when the closing word makes
// the text parse or end too early again; an unclosed bracket after a
// complete expression wants its closing bracket. Lua names the opener when
// it is on another line. Anything else is an unexpected symbol ("print(").
func eofExpectation(src string, last int) string {
	open, prev := unclosed(src)
	expected := func(word string) string {
		if open.kw == "" || open.line == last {
			return "'" + word + "' expected"
		}
		return fmt.Sprintf("'%s' expected (to close '%s' at line %d)", word, open.kw, open.line)
	}
	for _, c := range []struct{ suffix, word string }{{"\nend", "end"}, {"\nuntil true", "until"}} {
		_, err := parse.Parse(strings.NewReader(src+c.suffix), "")
		var pe *parse.Error
		if err == nil || errors.As(err, &pe) && pe.Pos.Line == parse.EOF {
			return expected(c.word)
		}
	}
	if closer, ok := closers[open.kw]; ok && endsExpression(prev) {
		return expected(closer)
	}
	return "unexpected symbol"
}

var closers = map[string]string{"(": ")", "[": "]", "{": "}"}

// opener is a block keyword or bracket and the line it is on.
type opener struct {
	kw   string
	line int
}

// unclosed scans src and returns the innermost block or bracket it opens
// and does not close, and the type of its last token.
func unclosed(src string) (opener, int) {
	var stack []opener
	headerDo := 0 // "do" tokens that belong to a while/for header
	prev := 0
	sc, lx := parse.NewScanner(strings.NewReader(src), ""), &parse.Lexer{}
	for {
		tok, err := sc.Scan(lx)
		if err != nil || tok.Type < 0 {
			break
		}
		lx.PrevTokenType, prev = tok.Type, tok.Type
		switch tok.Type {
		case parse.TIf, parse.TFunction, parse.TRepeat, '(', '[', '{':
			stack = append(stack, opener{tok.Str, tok.Pos.Line})
		case parse.TWhile, parse.TFor:
			stack = append(stack, opener{tok.Str, tok.Pos.Line})
			headerDo++
		case parse.TDo:
			if headerDo > 0 {
				headerDo--
			} else {
				stack = append(stack, opener{"do", tok.Pos.Line})
			}
		case parse.TEnd, parse.TUntil, ')', ']', '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return opener{}, prev
	}
	return stack[len(stack)-1], prev
}

// endsExpression reports whether a token can end an expression, so that a
// closing bracket may follow it.
func endsExpression(tok int) bool {
	switch tok {
	case parse.TIdent, parse.TNumber, parse.TString, parse.TEnd, parse.TTrue, parse.TFalse, parse.TNil,
		parse.T3Comma, ')', ']', '}':
		return true
	}
	return false
}

// luaSyntaxText maps gopher-lua's lexer and parser messages onto Lua's.
func luaSyntaxText(msg string, eof bool) string {
	switch msg {
	case "syntax error":
		return "unexpected symbol"
	case "unterminated string":
		return "unfinished string"
	case "unterminated multiline string", "invalid multiline string":
		return "unfinished long string"
	case "invalid multiline comment":
		return "unfinished long comment"
	case "illegal hexadecimal number":
		return "malformed number"
	case "Invalid token", "Invalid '~' token":
		return "unexpected symbol"
	}
	if eof {
		return "unexpected symbol"
	}
	return msg
}
