package functions

import (
	"strings"
	"testing"
)

// FuzzCompile: any text compiles or fails with a Lua-shaped message that
// starts with the chunk name; it never panics.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"print(", "return function(conf) end", "x = \"abc", "local = 1", "if x then",
		"--[[ open", "a = [[long", "goto x", "::a:: ::a::", "x = 0x", "return ...", "f(a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		name := chunkID(src)
		proto, err := compileChunk(src, name)
		if err != nil {
			if proto != nil {
				t.Fatal("proto and error")
			}
			if !strings.HasPrefix(err.Error(), name+":") {
				t.Fatalf("error %q does not start with %q", err, name)
			}
			return
		}
		if proto == nil {
			t.Fatal("no proto, no error")
		}
	})
}
