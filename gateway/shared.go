package gateway

import (
	"fmt"
	"strings"
)

// defaultSharedDicts are the lua_shared_dict zones Kong's nginx template
// declares (kong_defaults.lua / nginx_kong.lua), with their sizes.
var defaultSharedDicts = map[string]int{
	"kong":                        5 << 20,
	"kong_locks":                  8 << 20,
	"kong_healthchecks":           5 << 20,
	"kong_cluster_events":         5 << 20,
	"kong_rate_limiting_counters": 12 << 20,
	"kong_core_db_cache":          128 << 20,
	"kong_core_db_cache_miss":     12 << 20,
	"kong_db_cache":               128 << 20,
	"kong_db_cache_miss":          12 << 20,
	"kong_secrets":                5 << 20,
}

// parseSharedDicts parses nginx_http_lua_shared_dict values
// ("name size", several separated by ";" or ",").
func parseSharedDicts(v string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%q is not \"<name> <size>\"", strings.TrimSpace(part))
		}
		n, err := parseSize(f[1])
		if err != nil {
			return nil, fmt.Errorf("shared dict %q: %w", f[0], err)
		}
		out[f[0]] = int(n)
	}
	return out, nil
}

// sharedDictSizes is Kong's zones plus the configured ones.
func sharedDictSizes(extra map[string]int) map[string]int {
	sizes := make(map[string]int, len(defaultSharedDicts)+len(extra))
	for k, v := range defaultSharedDicts {
		sizes[k] = v
	}
	for k, v := range extra {
		sizes[k] = v
	}
	return sizes
}
