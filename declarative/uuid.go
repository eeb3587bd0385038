package declarative

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"io"
)

// kongNamespace is the root namespace Kong derives per-table namespaces from
// (kong/db/schema/others/declarative_config.lua).
var kongNamespace = mustParseUUID("fd02801f-0957-4a15-a55a-c8d9606f30b5")

func mustParseUUID(s string) [16]byte {
	u, ok := parseUUID(s)
	if !ok {
		panic("declarative: bad builtin uuid " + s)
	}
	return u
}

// parseUUID parses the canonical 8-4-4-4-12 hex form (any case).
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isUUID(s string) bool {
	_, ok := parseUUID(s)
	return ok
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// uuid5 is RFC 4122 version 5 (SHA-1, name based).
func uuid5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	io.WriteString(h, name)
	sum := h.Sum(nil)
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

// namespaces caches uuid5(kongNamespace, table) for the tables that get
// deterministic ids; it is never written after package initialization.
var namespaces = func() map[string][16]byte {
	m := map[string][16]byte{}
	for _, t := range []string{"services", "routes", "plugins", "consumers", "upstreams", "targets", "snis", "certificates"} {
		m[t] = uuid5(kongNamespace, t)
	}
	return m
}()

// entityNamespace is uuid5(kongNamespace, table), e.g. "services".
func entityNamespace(table string) [16]byte {
	if ns, ok := namespaces[table]; ok {
		return ns
	}
	return uuid5(kongNamespace, table)
}

// uuid4 reads 16 bytes from r (crypto/rand when nil).
func uuid4(r io.Reader) string {
	if r == nil {
		r = rand.Reader
	}
	var u [16]byte
	if _, err := io.ReadFull(r, u[:]); err != nil {
		// crypto/rand never fails on supported platforms; a broken test
		// reader falls back to it.
		_, _ = io.ReadFull(rand.Reader, u[:])
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// UUID5 returns the RFC 4122 version 5 UUID of name in the namespace given
// as a UUID string (Kong's deterministic ids; the router's split-route ids).
// It panics on a namespace that is not a UUID: namespaces are constants.
func UUID5(namespace, name string) string {
	return formatUUID(uuid5(mustParseUUID(namespace), name))
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string { return uuid4(rand.Reader) }
