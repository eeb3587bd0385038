package gateway

import (
	"bytes"
	"crypto/subtle"
	"os"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"luagate/declarative"
	"luagate/gateway/admin"
)

// adminBackend is the gateway side of the Admin API (package admin).
type adminBackend struct{ g *Gateway }

func (b adminBackend) Config() *declarative.Config { return b.g.Current().Config() }
func (b adminBackend) Info() map[string]any        { return b.g.Info() }
func (b adminBackend) Status(unit string, scale int) (map[string]any, error) {
	return b.g.StatusBody(unit, scale)
}
func (b adminBackend) Validate(text []byte) (*declarative.Config, error) {
	return b.g.ValidateConfig(text)
}
func (b adminBackend) Write(text []byte) (*declarative.Config, error) { return b.g.WriteConfig(text) }

// Exiting reports that the node is draining (POST /config answers 503).
func (b adminBackend) Exiting() bool { return b.g.draining.Load() }

// FileText is the current content of kong.yml (false without a file).
func (b adminBackend) FileText() ([]byte, bool) {
	path := b.g.ConfigPath()
	if path == "" {
		return nil, false
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, true // gone or unreadable: differs from any loaded text
	}
	return text, true
}

// adminAuthorized checks KONG_ADMIN_TOKEN for the admin routes served
// outside the Admin API handler (/debug/pprof/).
func (g *Gateway) adminAuthorized(ctx *fasthttp.RequestCtx) bool {
	if g.settings.AdminToken == "" {
		return true
	}
	tok, ok := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer "))
	return ok && subtle.ConstantTimeCompare(bytes.TrimSpace(tok), []byte(g.settings.AdminToken)) == 1
}

// NewAdminAPI returns the Admin API (net/http) over this gateway.
func (g *Gateway) NewAdminAPI() *admin.Handler {
	return admin.New(adminBackend{g}, admin.Options{
		Writes:      g.settings.AdminWrites,
		Token:       g.settings.AdminToken,
		MaxBodySize: g.settings.AdminMaxBodySize,
		Logger:      g.logger.With("component", "admin"),
	})
}

// newAdminHandler is the Admin API as a fasthttp handler for the admin
// listener (serveAdmin keeps /debug/pprof/ in front of it).
func (g *Gateway) newAdminHandler() fasthttp.RequestHandler {
	return fasthttpadaptor.NewFastHTTPHandler(g.NewAdminAPI())
}

var _ admin.Backend = adminBackend{}
