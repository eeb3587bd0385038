package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// idGen produces Kong-style request ids: 32 lowercase hex characters, unique
// per process and unpredictable enough to not leak a counter. Each id is two
// splitmix64 outputs of a counter offset by random seeds; splitmix64 is a
// bijection, so ids never repeat within 2^64 requests. Safe for concurrent use
// and allocation-free.
type idGen struct {
	n      atomic.Uint64
	s1, s2 uint64
}

func newIDGen() *idGen {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics
		// internally instead); keep a deterministic fallback anyway.
		binary.LittleEndian.PutUint64(b[:8], 0x9e3779b97f4a7c15)
	}
	return &idGen{s1: binary.LittleEndian.Uint64(b[:8]), s2: binary.LittleEndian.Uint64(b[8:])}
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

const hexDigits = "0123456789abcdef"

// next writes a new id into dst.
func (g *idGen) next(dst *[32]byte) {
	n := g.n.Add(1)
	a := splitmix64(n + g.s1)
	b := splitmix64(n ^ g.s2)
	for i := 0; i < 16; i++ {
		dst[i] = hexDigits[(a>>(60-4*uint(i)))&0xf]
		dst[16+i] = hexDigits[(b>>(60-4*uint(i)))&0xf]
	}
}
