package router

import (
	"luagate/declarative"
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

// uuid5 derives a split route's id (Kong's atc compat: uuid5 of the route
// id and the group number).
func uuid5(ns, name string) string { return declarative.UUID5(ns, name) }

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
