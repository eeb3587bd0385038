// Package bench holds the side-by-side benchmark harness: the config templates
// for luagate (configs/) and for the nginx + Lua baseline (nginx/), the Go
// baselines (goproxy/, engines/), the fallback upstream (upstream/) and the
// runner (cmd/runner). This file only embeds the templates so that the runner
// works from any working directory.
package bench

import "embed"

// Templates holds configs/*.tmpl (luagate kong.yml) and nginx/*.tmpl (nginx).
//
//go:embed configs/*.tmpl nginx/*.tmpl
var Templates embed.FS
