package router

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// Priority layout of the traditional_compatible router (Kong/kong:kong/router/transform.lua),
// high bits to low bits:
//
//	61-63 match weight: number of non-empty fields among methods, hosts,
//	      headers, snis, paths
//	60    plain-host-only: hosts set, none with '*'
//	52-59 number of header names (capped at 255)
//	51    regex path group
//	19-50 regex_priority (regex groups only)
//	0-18  prefix length (prefix groups only)
const (
	weightShift      = 61
	plainHostBit     = uint64(1) << 60
	headerCountShift = 52
	maxHeaderCount   = 255
	regexBit         = uint64(1) << 51
	regexPrioShift   = 19
	maxPrefixLen     = 0x7FFFF
)

// regexPriorityBits maps regex_priority into the 32-bit field so that the
// numeric order is kept: Kong's schema allows negative values and ranks them
// below 0, so the value is biased by 2^31 instead of being stored as two's
// complement (which would rank -1 above every positive priority).
func regexPriorityBits(p int) uint64 {
	switch {
	case p < -1<<31:
		p = -1 << 31
	case p > 1<<31-1:
		p = 1<<31 - 1
	}
	return uint64(int64(p) + 1<<31)
}

// priority computes the 64-bit priority of one (possibly split) route whose
// paths are all regexes (isRegex) or all prefixes of length prefixLen.
func priority(nMethods, nHosts, nHeaders, nSNIs, nPaths int, plainHostOnly, isRegex bool, regexPriority, prefixLen int) uint64 {
	var weight uint64
	for _, n := range [...]int{nMethods, nHosts, nHeaders, nSNIs, nPaths} {
		if n > 0 {
			weight++
		}
	}
	p := weight << weightShift
	if plainHostOnly {
		p |= plainHostBit
	}
	if nHeaders > maxHeaderCount {
		nHeaders = maxHeaderCount
	}
	p |= uint64(nHeaders) << headerCountShift
	if nPaths > 0 {
		if isRegex {
			p |= regexBit | regexPriorityBits(regexPriority)<<regexPrioShift
		} else {
			p |= uint64(prefixLen) & maxPrefixLen
		}
	}
	return p
}

// splitNamespace is the uuid5 namespace Kong uses for the ids of split routes.
const splitNamespace = "7f145bf9-0dce-4f91-98eb-debbce4b9f6b"

// uuid5 returns the RFC 4122 version-5 UUID of name in namespace ns (a UUID
// string), lowercase.
func uuid5(ns, name string) string {
	nsBytes, err := hex.DecodeString(strings.ReplaceAll(ns, "-", ""))
	if err != nil || len(nsBytes) != 16 {
		panic("router: bad uuid namespace " + ns)
	}
	h := sha1.New()
	h.Write(nsBytes)
	h.Write([]byte(name))
	sum := h.Sum(nil)[:16]
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], sum[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], sum[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], sum[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], sum[8:10])
	b[23] = '-'
	hex.Encode(b[24:], sum[10:])
	return string(b[:])
}

// pathGroup is one group of a route's paths after Kong's split: all regexes,
// or all prefixes of one length. Groups are numbered by first appearance.
type pathGroup struct {
	regex  bool
	length int
	paths  []string
}

func groupPaths(paths []string) []pathGroup {
	var groups []pathGroup
	for _, p := range paths {
		re := strings.HasPrefix(p, "~")
		found := false
		for i := range groups {
			g := &groups[i]
			if g.regex == re && (re || g.length == len(p)) {
				g.paths = append(g.paths, p)
				found = true
				break
			}
		}
		if !found {
			groups = append(groups, pathGroup{regex: re, length: len(p), paths: []string{p}})
		}
	}
	return groups
}
