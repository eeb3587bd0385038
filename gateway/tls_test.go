package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"luagate/declarative"
)

// testCert is a self-signed certificate made in the test.
type testCert struct{ cert, key string }

func genCert(t testing.TB, cn string, useRSA bool) testCert {
	t.Helper()
	var pub, priv any
	var keyDER []byte
	var err error
	if useRSA {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	}
	if keyDER, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		key:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}
}

// yamlBlock indents a PEM text as a YAML literal block at depth n.
func yamlBlock(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return "|\n" + pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}

// certYAML is one certificates[] entry with its snis.
func certYAML(c testCert, snis ...string) string {
	return fmt.Sprintf("- cert: %s\n  key: %s\n  snis: [%s]\n", yamlBlock(c.cert, 4), yamlBlock(c.key, 4), strings.Join(snis, ", "))
}

func loadKongYML(t testing.TB, g *Gateway, text string) *declarative.Config {
	t.Helper()
	cfg, err := declarative.Load([]byte(text), declarative.Options{Filename: "kong.yml", Registry: g.Registry()})
	if err != nil {
		t.Fatalf("loading kong.yml: %v\n%s", err, text)
	}
	return cfg
}

// tlsGateway starts a gateway whose only proxy listener is "127.0.0.1:0 <flags>".
func tlsGateway(t testing.TB, s Settings, flags, yml string) *testGateway {
	t.Helper()
	s.ProxyListen = []string{"127.0.0.1:0 " + flags}
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if yml != "" {
		if err := g.Apply(loadKongYML(t, g, yml)); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	return startGatewayWith(t, g)
}

// peerCN handshakes with addr using sni and returns the served certificate's CN.
func peerCN(t testing.TB, addr, sni string, cfg *tls.Config) (string, error) {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	cfg.ServerName, cfg.InsecureSkipVerify = sni, true
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// httpsClient trusts anything and sends sni.
func httpsClient(sni string, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{ServerName: sni, InsecureSkipVerify: true},
		ForceAttemptHTTP2: h2,
		DisableKeepAlives: false,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestTLSCertificateBySNI(t *testing.T) {
	exact, wild, suffix, star, alt := genCert(t, "exact", false), genCert(t, "wild", false), genCert(t, "suffix", false), genCert(t, "star", false), genCert(t, "alt-ecdsa", false)
	altRSA := genCert(t, "alt-rsa", true)
	def := genCert(t, "default", false)
	yml := "_format_version: \"3.0\"\ncertificates:\n" +
		certYAML(exact, "a.test") +
		certYAML(wild, "\"*.wild.test\"") +
		certYAML(suffix, "\"api.*\"") +
		fmt.Sprintf("- cert: %s\n  key: %s\n  cert_alt: %s\n  key_alt: %s\n  snis: [dual.test]\n",
			yamlBlock(alt.cert, 4), yamlBlock(alt.key, 4), yamlBlock(altRSA.cert, 4), yamlBlock(altRSA.key, 4))
	s := testSettings()
	s.SSLCert, s.SSLCertKey = []string{def.cert}, []string{def.key}
	tg := tlsGateway(t, s, "ssl", yml)

	rsaOnly := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	for _, tt := range []struct {
		sni  string
		cfg  *tls.Config
		want string
	}{
		{"a.test", nil, "exact"},
		{"A.TEST", nil, "exact"},
		{"x.wild.test", nil, "wild"},
		{"deep.x.wild.test", nil, "default"}, // Kong's wildcard covers one label only
		{"wild.test", nil, "default"},
		{"api.example", nil, "suffix"},
		{"api.example.com", nil, "default"}, // "api.*" stands for the last label only
		{"other.test", nil, "default"},
		{"", nil, "default"},
		{"dual.test", nil, "alt-ecdsa"},
		{"dual.test", rsaOnly, "alt-rsa"},
	} {
		got, err := peerCN(t, tg.proxy, tt.sni, tt.cfg)
		if err != nil {
			t.Errorf("sni %q: %v", tt.sni, err)
			continue
		}
		if got != tt.want {
			t.Errorf("sni %q: served %q, want %q", tt.sni, got, tt.want)
		}
	}

	// An SNI named "*" replaces the default for unknown names.
	yml2 := yml + certYAML(star, "\"*\"")
	if err := tg.g.Apply(loadKongYML(t, tg.g, yml2)); err != nil {
		t.Fatal(err)
	}
	for sni, want := range map[string]string{"other.test": "star", "a.test": "exact", "": "star"} {
		if got, err := peerCN(t, tg.proxy, sni, nil); err != nil || got != want {
			t.Errorf("with \"*\": sni %q: served %q (%v), want %q", sni, got, err, want)
		}
	}
}

func TestTLSGeneratedDefaultAndMinVersion(t *testing.T) {
	tg := tlsGateway(t, testSettings(), "ssl", "")
	cn, err := peerCN(t, tg.proxy, "whatever.test", nil)
	if err != nil || cn != "localhost" {
		t.Fatalf("generated default: CN %q, %v; want localhost", cn, err)
	}
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if _, err := peerCN(t, tg.proxy, "x", &tls.Config{MinVersion: v, MaxVersion: v}); err == nil {
			t.Errorf("TLS version %x was accepted; want TLS 1.2+ only", v)
		}
	}
	if _, err := peerCN(t, tg.proxy, "x", &tls.Config{MinVersion: tls.VersionTLS13}); err != nil {
		t.Errorf("TLS 1.3: %v", err)
	}
}

// proxyYAML is a config with an https-only route on SNI a.test, a route for
// both schemes and their certificate.
func proxyYAML(t testing.TB, c testCert, snis string) string {
	host, port, _ := startEcho(t)
	return fmt.Sprintf(`_format_version: "3.0"
services:
- name: echo
  url: http://%s:%d
  routes:
  - name: secure
    protocols: [https]
    paths: [/secure]
    snis: [%s]
  - name: both
    paths: [/both]
certificates:
%s`, host, port, snis, certYAML(c, "a.test"))
}

func TestTLSProxyHTTPSRoutes(t *testing.T) {
	c := genCert(t, "a.test", false)
	yml := proxyYAML(t, c, "a.test")
	s := testSettings()
	s.ProxyListen = []string{"127.0.0.1:0", "127.0.0.1:0 ssl"}
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(loadKongYML(t, g, yml)); err != nil {
		t.Fatal(err)
	}
	tg := startGatewayWith(t, g)
	plain, secure := g.Addrs("proxy")[0], g.Addrs("proxy")[1]

	for _, tt := range []struct {
		name, url, sni string
		want           int
		proto          string // X-Forwarded-Proto upstream
	}{
		{"https route over TLS with its SNI", "https://" + secure + "/secure", "a.test", 200, "https"},
		{"https route over TLS, other SNI", "https://" + secure + "/secure", "b.test", 404, ""},
		{"https route over TLS, no SNI", "https://" + secure + "/secure", "", 404, ""},
		{"https route over plain http", "http://" + plain + "/secure", "", 426, ""},
		{"both route over TLS", "https://" + secure + "/both", "b.test", 200, "https"},
		{"both route over http", "http://" + plain + "/both", "", 200, "http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := httpsClient(tt.sni, false).Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.want, body)
			}
			if tt.want == 426 && res.Header.Get("Upgrade") != "TLS/1.2, HTTP/1.1" {
				t.Errorf("426 without Upgrade header: %v", res.Header)
			}
			if tt.proto != "" && !strings.Contains(string(body), `"x-forwarded-proto":["`+tt.proto+`"]`) {
				t.Errorf("upstream did not see X-Forwarded-Proto %s: %s", tt.proto, body)
			}
		})
	}
	_ = tg
}

func TestTLSHTTP2(t *testing.T) {
	c := genCert(t, "a.test", false)
	tg := tlsGateway(t, testSettings(), "ssl http2", proxyYAML(t, c, "a.test"))
	base := "https://" + tg.proxy

	h2 := httpsClient("a.test", true)
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/secure/x?q=1", "", 200},
		{"POST", "/both/post", strings.Repeat("b", 100<<10), 200}, // streamed past the body buffer
		{"HEAD", "/both", "", 200},
		{"GET", "/nothing", "", 404},
	} {
		var rb io.Reader
		if tt.body != "" {
			rb = strings.NewReader(tt.body)
		}
		req, _ := http.NewRequest(tt.method, base+tt.path, rb)
		res, err := h2.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.ProtoMajor != 2 {
			t.Errorf("%s %s: proto %s, want HTTP/2", tt.method, tt.path, res.Proto)
		}
		if res.StatusCode != tt.want {
			t.Errorf("%s %s: status %d, want %d: %.200s", tt.method, tt.path, res.StatusCode, tt.want, b)
		}
		if tt.want == 200 && tt.method != "HEAD" {
			if !strings.Contains(string(b), `"uri":"/`) {
				t.Errorf("%s %s: not the echo: %.200s", tt.method, tt.path, b)
			}
			if tt.body != "" && !strings.Contains(string(b), tt.body) {
				t.Errorf("%s %s: upstream did not get the body (%d bytes back)", tt.method, tt.path, len(b))
			}
			if res.Header.Get("X-Kong-Request-Id") == "" || res.Header.Get("Via") == "" {
				t.Errorf("%s %s: Kong headers missing: %v", tt.method, tt.path, res.Header)
			}
		}
	}
	// A streamed upstream body arrives whole over HTTP/2.
	res, err := h2.Get(base + "/both/__big/300000")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if n != 300000 || res.ProtoMajor != 2 {
		t.Errorf("big body over h2: %d bytes, %s", n, res.Proto)
	}
	// Forwarding headers a client sends over HTTP/2 are replaced, as over
	// HTTP/1.1 (the bridge keeps net/http's spelling of names, X-Real-Ip).
	spoof, _ := http.NewRequest("GET", base+"/secure/spoof", nil)
	spoof.Header.Set("X-Real-IP", "6.6.6.6")
	spoof.Header.Set("X-Kong-Request-Id", "spoofed")
	sres, err := h2.Do(spoof)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(sres.Body)
	sres.Body.Close()
	if !strings.Contains(string(b), `"x-real-ip":["127.0.0.1"]`) || strings.Contains(string(b), "spoofed") || strings.Contains(string(b), "6.6.6.6") {
		t.Errorf("forwarding headers over h2 not replaced: %s", b)
	}
	// Repeated response headers and hop-by-hop ones cross the bridge as in HTTP/1.1.
	res, err = h2.Get(base + "/both/__hop")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Values("Set-Cookie"); len(got) != 3 {
		t.Errorf("Set-Cookie over h2: %q, want 3", got)
	}
	if got := res.Header.Values("X-Multi"); strings.Join(got, ",") != "one,two" {
		t.Errorf("X-Multi over h2: %q", got)
	}
	if res.Header.Get("X-Hop-Private") != "" || res.Header.Get("Keep-Alive") != "" || res.Header.Get("X-End-To-End") != "kept" {
		t.Errorf("hop-by-hop handling over h2: %v", res.Header)
	}
	// An oversized HTTP/2 head is refused by the h2 server (431).
	req, _ := http.NewRequest("GET", base+"/both", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 40<<10))
	if res, err := h2.Do(req); err == nil {
		res.Body.Close()
		if res.StatusCode != 431 {
			t.Errorf("40k header over h2: %d, want 431", res.StatusCode)
		}
	}
	// A request line over one header buffer gets nginx's 414 over h2 too.
	if res, err := h2.Get(base + "/both/" + strings.Repeat("u", 9000)); err != nil {
		t.Error(err)
	} else {
		res.Body.Close()
		if res.StatusCode != 414 || res.ProtoMajor != 2 {
			t.Errorf("long URI over h2: %d %s, want 414", res.StatusCode, res.Proto)
		}
	}
	// HTTP/1.1 on the same listener stays on fasthttp.
	res, err = httpsClient("a.test", false).Get(base + "/secure")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 1 || res.StatusCode != 200 {
		t.Errorf("HTTP/1.1 on the http2 listener: %s %d", res.Proto, res.StatusCode)
	}
}

func TestTLSReloadKeepsConnections(t *testing.T) {
	c1, c2 := genCert(t, "first", false), genCert(t, "second", false)
	host, port, _ := startEcho(t)
	yml := func(c testCert) string {
		return fmt.Sprintf("_format_version: \"3.0\"\nservices:\n- name: e\n  url: http://%s:%d\n  routes:\n  - name: r\n    paths: [/]\ncertificates:\n%s", host, port, certYAML(c, "a.test"))
	}
	for _, flags := range []string{"ssl", "ssl http2"} {
		t.Run(flags, func(t *testing.T) {
			tg := tlsGateway(t, testSettings(), flags, yml(c1))
			cl := httpsClient("a.test", strings.Contains(flags, "http2"))
			get := func() (cn string, reused bool) {
				t.Helper()
				req, _ := http.NewRequest("GET", "https://"+tg.proxy+"/x", nil)
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
				}))
				res, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Fatalf("status %d", res.StatusCode)
				}
				return res.TLS.PeerCertificates[0].Subject.CommonName, reused
			}
			if cn, _ := get(); cn != "first" {
				t.Fatalf("before reload: %q", cn)
			}
			if err := tg.g.Apply(loadKongYML(t, tg.g, yml(c2))); err != nil {
				t.Fatal(err)
			}
			cn, reused := get()
			if !reused || cn != "first" {
				t.Errorf("after reload the open connection should go on: reused=%v cn=%q", reused, cn)
			}
			if cn, err := peerCN(t, tg.proxy, "a.test", nil); err != nil || cn != "second" {
				t.Errorf("a new handshake after reload: %q %v, want second", cn, err)
			}
		})
	}
}

func TestTLSBadCertificates(t *testing.T) {
	a, b := genCert(t, "a", false), genCert(t, "b", false)
	g, err := New(testSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mixed := testCert{cert: a.cert, key: b.key}
	yml := "_format_version: \"3.0\"\ncertificates:\n" + certYAML(mixed, "a.test")
	cfg, err := declarative.Load([]byte(yml), declarative.Options{Filename: "kong.yml", Registry: g.Registry()})
	if err == nil {
		if err = g.Apply(cfg); err == nil {
			t.Fatal("a certificate with another certificate's key was accepted")
		}
	}
	if !strings.Contains(err.Error(), "key") {
		t.Errorf("error does not say what is wrong: %v", err)
	}

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, []byte(a.cert), 0o600)
	os.WriteFile(keyFile, []byte(a.key), 0o600)
	for _, tt := range []struct {
		name       string
		env        map[string]string
		wantErr    string
		wantServed string
	}{
		{"files", map[string]string{"KONG_SSL_CERT": certFile, "KONG_SSL_CERT_KEY": keyFile}, "", "a"},
		{"missing key", map[string]string{"KONG_SSL_CERT": certFile}, "1 certificate(s) but 0 key(s)", ""},
		{"missing file", map[string]string{"KONG_SSL_CERT": certFile, "KONG_SSL_CERT_KEY": filepath.Join(dir, "nope")}, "ssl_cert_key: reading", ""},
		{"mismatch", map[string]string{"KONG_SSL_CERT": certFile, "KONG_SSL_CERT_KEY": b.key}, "ssl_cert: entry 1", ""},
		{"bad buffers", map[string]string{"KONG_NGINX_HTTP_LARGE_CLIENT_HEADER_BUFFERS": "8k"}, `is not "<number> <size>"`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := SettingsFromEnv(func(k string) string { return tt.env[k] })
			if err == nil {
				s.ProxyListen = []string{"127.0.0.1:0 ssl"}
				s.AdminListen, s.StatusListen = nil, nil
				var g *Gateway
				g, err = New(s, slog.New(slog.DiscardHandler))
				if err == nil {
					if tt.wantErr != "" {
						t.Fatalf("no error, want %q", tt.wantErr)
					}
					tg := startGatewayWith(t, g)
					if cn, err := peerCN(t, tg.proxy, "x", nil); err != nil || cn != tt.wantServed {
						t.Errorf("served %q (%v), want %q", cn, err, tt.wantServed)
					}
					return
				}
			}
			if tt.wantErr == "" || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestTLSAdminAndStatusListeners(t *testing.T) {
	adm := genCert(t, "admin", false)
	s := testSettings()
	s.AdminListen = []string{"127.0.0.1:0 ssl http2"}
	s.StatusListen = []string{"127.0.0.1:0 ssl"}
	s.AdminSSLCert, s.AdminSSLCertKey = []string{adm.cert}, []string{adm.key}
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tg := startGatewayWith(t, g)
	for _, tt := range []struct {
		addr, cn string
		h2       bool
	}{{tg.admin, "admin", true}, {tg.status, "localhost", false}} {
		res, err := httpsClient("", tt.h2).Get("https://" + tt.addr + "/status")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "server") {
			t.Errorf("%s /status: %d %s", tt.addr, res.StatusCode, b)
		}
		if got := res.TLS.PeerCertificates[0].Subject.CommonName; got != tt.cn {
			t.Errorf("%s: certificate %q, want %q", tt.addr, got, tt.cn)
		}
		if tt.h2 && res.ProtoMajor != 2 {
			t.Errorf("%s: %s, want HTTP/2", tt.addr, res.Proto)
		}
	}
}

// BenchmarkTLSProxy compares one proxied GET over TLS on HTTP/1.1
// (fasthttp) and on HTTP/2 (net/http bridged into the same handler), each
// on one kept-alive connection with a loopback upstream.
func BenchmarkTLSProxy(b *testing.B) {
	c := genCert(b, "a.test", false)
	tg := tlsGateway(b, testSettings(), "ssl http2", proxyYAML(b, c, "a.test"))
	for _, h2 := range []bool{false, true} {
		name := "http1.1"
		if h2 {
			name = "h2"
		}
		b.Run(name, func(b *testing.B) {
			cl := httpsClient("a.test", h2)
			defer cl.CloseIdleConnections()
			url := "https://" + tg.proxy + "/both/x"
			b.ReportAllocs()
			for b.Loop() {
				res, err := cl.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
		})
	}
}

// BenchmarkH2BridgeConversion is the bridge alone: an HTTP/2-style
// net/http request converted into a RequestCtx, a handler that answers a
// small body with a few headers, and the answer copied back.
func BenchmarkH2BridgeConversion(b *testing.B) {
	g, err := New(testSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	br := newH2Bridge(g, &listener{kind: "proxy", ln: ln}, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Content-Type", "application/json")
		ctx.Response.Header.Set("X-Kong-Request-Id", "0123456789abcdef0123456789abcdef")
		ctx.SetBodyString(`{"ok":true}`)
	})
	req := httptest.NewRequest("GET", "https://a.test/both/x?q=1", nil)
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		br.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// Over HTTP/2 the PDK finds request headers whatever case a function
// spells them in, as over HTTP/1.1 (h2 names arrive lower-case, the bridge
// hands them on in net/http's form).
func TestTLSHTTP2PDKHeaderCase(t *testing.T) {
	c := genCert(t, "a.test", false)
	host, port, _ := startEcho(t)
	yml := fmt.Sprintf(`_format_version: "3.0"
services:
- name: echo
  url: http://%s:%d
  routes:
  - name: r
    paths: [/]
    plugins:
    - name: pre-function
      config:
        access:
        - |
          local a = kong.request.get_header("authorization") or "-"
          local b = kong.request.get_header("X_REAL_THING") or "-"
          local h = kong.request.get_headers()
          kong.service.request.set_header("x-seen", a .. "|" .. b .. "|" .. tostring(h["Authorization"]))
          kong.service.request.clear_header("x-drop-me")
certificates:
%s`, host, port, certYAML(c, "a.test"))
	for _, flags := range []string{"ssl", "ssl http2"} {
		t.Run(flags, func(t *testing.T) {
			tg := tlsGateway(t, testSettings(), flags, yml)
			req, _ := http.NewRequest("GET", "https://"+tg.proxy+"/x", nil)
			req.Header.Set("Authorization", "Bearer t")
			req.Header.Set("X-Real-Thing", "yes")
			req.Header.Set("X-Drop-Me", "1")
			res, err := httpsClient("a.test", flags == "ssl http2").Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if !strings.Contains(string(b), `"x-seen":["Bearer t|yes|Bearer t"]`) || strings.Contains(string(b), "x-drop-me") {
				t.Errorf("%s: %s", res.Proto, b)
			}
		})
	}
}
