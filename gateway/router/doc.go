// Package router matches HTTP requests to Kong routes with the semantics and
// priority order of Kong's traditional_compatible router flavor (spec
// kong-declarative-router.md, section 3).
//
// A Router is compiled once by New from the routes of a declarative config
// and is immutable afterwards: any number of goroutines may call Match.
//
// Priority. Every route (or, for a route whose paths mix regexes and
// prefixes of different lengths, every split sub-route with its uuid5-derived
// id) gets Kong's 64-bit priority: match weight, plain-host-only bit, header
// count, regex bit, regex_priority, prefix length. Candidates are tried in
// descending (priority, lowercase id) order and the first full match wins.
//
// Index. Candidates are narrowed before any predicate runs: by host (exact
// map, "*.suffix" and "prefix.*" maps looked up at every '.' of the request
// host, plus the routes without hosts), then by path through radix trees
// keyed by prefix paths and by the literal prefixes of regexes (alternations
// and small classes expanded; (?i) literals in a case-folded tree). The rank
// lists found are merged in priority order, so the result is the same as a
// linear scan; the tests compare it with one (reference_test.go).
//
// Where luagate differs from Kong on purpose or by necessity:
//   - host matching is case-insensitive (DECISIONS row 11); SNIs too;
//   - SNIs accept "*.x" and "x.*" wildcards, as spec 3.2 says;
//   - a negative regex_priority ranks below 0 (the 32-bit field is biased
//     by 2^31 instead of holding two's complement);
//   - a "~*" header regex is compiled with (?i) around the pattern as
//     written, where Kong lowercases the pattern text (which would turn \D
//     into \d);
//   - regexes run on Go's regexp, not Rust's regex crate: \d, \w, \s and \b
//     are ASCII-only here (Unicode in Rust); (?i) folding is Unicode in both;
//   - protocols follow Kong's net.protocol condition (grpc counts as http,
//     grpcs as https; a route whose only protocol is https has none, and a
//     plain request to it sets Match.NeedsHTTPS): an http-only route is not
//     a candidate for an https request, so a lower-priority route may still
//     match (spec 3.2: the request gets 404 when nothing else matches).
package router
