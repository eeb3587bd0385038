package gateway

import "testing"

func TestResponseTypeOf(t *testing.T) {
	for _, tt := range []struct {
		accept string
		want   errorKind
	}{
		{"", kindJSON},
		{"application/json", kindJSON},
		{"text/plain", kindPlain},
		{"text/html", kindHTML},
		{"application/xml", kindXML},
		{"text/*", kindPlain},
		{"application/*", kindJSON},
		{"*/*", kindJSON},
		{"image/png", kindJSON},
		{"TEXT/HTML", kindJSON},                                 // MIME lookup is exact
		{"text/html;q=0.4, text/plain;q=0.5", kindPlain},        // highest q
		{"text/plain;q=0.5, text/html;q=0.5", kindPlain},        // first wins a tie
		{"text/html; level=1; q=0.2, application/xml", kindXML}, // params before q
		{"text/html;q=1.000, application/xml", kindHTML},        // q=1 ties
		{"text/html;q=0, text/plain;q=0.001", kindPlain},        // q=0 never picked
		{"a/b, text/plain", kindPlain},                          // one-letter tokens do not parse
		{"text/html ;q=0.1,application/xml ; q=0.2", kindXML},   // spaces around ';'
		{"text/plain;q=2", kindPlain},                           // bad q: the value stops parsing, q stays 1
		{"  text/html  ", kindHTML},
	} {
		if got := responseTypeOf(tt.accept); got != tt.want {
			t.Errorf("responseTypeOf(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

func TestMimeTypeOf(t *testing.T) {
	for _, tt := range []struct {
		h    string
		want errorKind
	}{
		{"text/plain", kindPlain},
		{"text/plain; charset=utf-8", kindPlain},
		{"text/html, application/json", kindJSON}, // the whole value is looked up
		{"application/xml", kindXML},
		{"text/*", kindPlain},
		{"*/*", kindJSON},
		{"application/x-www-form-urlencoded", kindJSON},
		{"plain", kindJSON},
	} {
		if got := mimeTypeOf(tt.h); got != tt.want {
			t.Errorf("mimeTypeOf(%q) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	g := newIDGen()
	seen := map[[32]byte]bool{}
	var id [32]byte
	for i := 0; i < 10000; i++ {
		g.next(&id)
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Fatalf("id %q is not lowercase hex", id)
			}
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func FuzzAcceptNegotiation(f *testing.F) {
	for _, s := range []string{"", "text/html;q=0.9, application/xml;q=0.8", "*/*", "text/plain; charset=utf-8; q=0.1", ";;,,", "a/b;q=1.;x=;q=0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		k := responseTypeOf(accept)
		if int(k) >= len(kindContentType) {
			t.Fatalf("responseTypeOf(%q) = %d", accept, k)
		}
		if m := mimeTypeOf(accept); int(m) >= len(kindContentType) {
			t.Fatalf("mimeTypeOf(%q) = %d", accept, m)
		}
	})
}
