package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"luagate/declarative"
)

// TLS termination, the way Kong does it (spec 0 and 1.8):
//
//   - a listen entry with "ssl" terminates TLS 1.2+; with "http2" it also
//     offers h2 by ALPN (h2.go);
//   - on proxy listeners the certificate is picked by SNI from kong.yml's
//     certificates/snis of the *current* snapshot, so a reload changes
//     certificates for new handshakes without touching open connections;
//     lookup order is Kong's (kong/runloop/certificate.lua): the exact name,
//     then "*.<name minus its first label>", then "<name minus its last
//     label>.*", then an SNI named "*", then the default certificate;
//   - the default certificate is ssl_cert/ssl_cert_key (KONG_SSL_CERT,
//     KONG_SSL_CERT_KEY), else one self-signed certificate generated once
//     per gateway (CN=localhost), as Kong generates its default one;
//   - admin and status listeners use admin_ssl_cert / status_ssl_cert, else
//     the generated certificate.

// certPair is one kong.yml certificate: cert and, when given, cert_alt
// (typically an RSA and an ECDSA key); the client's hello picks.
type certPair []*tls.Certificate

func (p certPair) pick(hello *tls.ClientHelloInfo) *tls.Certificate {
	if len(p) == 1 || hello == nil {
		return p[0]
	}
	// Pick by what the client can verify (key type, signature schemes),
	// not by name: the SNI table already chose this pair.
	h := *hello
	h.ServerName = ""
	for _, c := range p {
		if h.SupportsCertificate(c) == nil {
			return c
		}
	}
	return p[0]
}

// certStore is the SNI table of one snapshot; it never changes after
// buildCertStore.
type certStore struct {
	byName   map[string]certPair // lowercased, without a trailing dot; "*" and wildcards included as written
	fallback certPair            // the SNI named "*", nil if none
}

// buildCertStore parses every certificate of cfg and indexes it by its SNI
// names. A certificate whose key does not match fails the configuration.
func buildCertStore(cfg *declarative.Config) (*certStore, error) {
	if len(cfg.SNIs) == 0 {
		return nil, nil
	}
	parsed := make(map[*declarative.Certificate]certPair, len(cfg.Certificates))
	pairOf := func(c *declarative.Certificate) (certPair, error) {
		if p, ok := parsed[c]; ok {
			return p, nil
		}
		main, err := tls.X509KeyPair([]byte(c.Cert), []byte(c.Key))
		if err != nil {
			return nil, fmt.Errorf("%s: cert/key: %w", c.Path0, err)
		}
		p := certPair{&main}
		if c.CertAlt != "" {
			alt, err := tls.X509KeyPair([]byte(c.CertAlt), []byte(c.KeyAlt))
			if err != nil {
				return nil, fmt.Errorf("%s: cert_alt/key_alt: %w", c.Path0, err)
			}
			p = append(p, &alt)
		}
		parsed[c] = p
		return p, nil
	}
	s := &certStore{byName: make(map[string]certPair, len(cfg.SNIs))}
	var errs []error
	for _, sni := range cfg.SNIs {
		if sni.Certificate == nil {
			continue
		}
		p, err := pairOf(sni.Certificate)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		name := normalizeSNI(sni.Name)
		if name == "*" {
			s.fallback = p
			continue
		}
		s.byName[name] = p
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("certificates: %w", errors.Join(errs...))
	}
	return s, nil
}

func normalizeSNI(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// lookup returns the certificate for a server name, nil when none applies.
func (s *certStore) lookup(serverName string) certPair {
	if s == nil {
		return nil
	}
	if serverName != "" {
		name := normalizeSNI(serverName)
		if p, ok := s.byName[name]; ok {
			return p
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			if p, ok := s.byName["*"+name[i:]]; ok {
				return p
			}
		}
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			if p, ok := s.byName[name[:i]+".*"]; ok {
				return p
			}
		}
	}
	return s.fallback
}

// tlsState is the gateway's TLS material that does not come from kong.yml.
type tlsState struct {
	mu        sync.Mutex
	generated certPair // created on first need
	proxy     certPair // ssl_cert, nil = generated
	admin     certPair
	status    certPair
	hdrSize   int // large_client_header_buffers' size (headerLimit)
}

func newTLSState(s *Settings) (*tlsState, error) {
	t := &tlsState{}
	_, t.hdrSize = s.headerBuffers()
	var errs []error
	var err error
	if t.proxy, err = loadCertList("ssl_cert", s.SSLCert, s.SSLCertKey); err != nil {
		errs = append(errs, err)
	}
	if t.admin, err = loadCertList("admin_ssl_cert", s.AdminSSLCert, s.AdminSSLCertKey); err != nil {
		errs = append(errs, err)
	}
	if t.status, err = loadCertList("status_ssl_cert", s.StatusSSLCert, s.StatusSSLCertKey); err != nil {
		errs = append(errs, err)
	}
	return t, errors.Join(errs...)
}

// defaultFor returns the listener kind's configured certificate, or the
// generated one.
func (t *tlsState) defaultFor(kind string) (certPair, error) {
	switch {
	case kind == "proxy" && t.proxy != nil:
		return t.proxy, nil
	case kind == "admin" && t.admin != nil:
		return t.admin, nil
	case kind == "status" && t.status != nil:
		return t.status, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.generated == nil {
		c, err := selfSigned("localhost")
		if err != nil {
			return nil, fmt.Errorf("generating the default certificate: %w", err)
		}
		t.generated = certPair{c}
	}
	return t.generated, nil
}

// loadCertList loads the "<key>"/"<key>_key" pairs: each entry is PEM text
// or a file path.
func loadCertList(key string, certs, keys []string) (certPair, error) {
	if len(certs) != len(keys) {
		return nil, fmt.Errorf("%s: %d certificate(s) but %d key(s) (%s_key)", key, len(certs), len(keys), key)
	}
	var p certPair
	for i := range certs {
		cb, err := pemOrFile(certs[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		kb, err := pemOrFile(keys[i])
		if err != nil {
			return nil, fmt.Errorf("%s_key: %w", key, err)
		}
		c, err := tls.X509KeyPair(cb, kb)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", key, i+1, err)
		}
		p = append(p, &c)
	}
	return p, nil
}

func pemOrFile(v string) ([]byte, error) {
	if strings.Contains(v, "-----BEGIN") {
		return []byte(v), nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", v, err)
	}
	return b, nil
}

// selfSigned creates an ECDSA P-256 certificate for host, valid for ten
// years from an hour ago.
func selfSigned(host string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"luagate"}},
		DNSNames:              []string{host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// tlsConfig builds the server config of one listener. Proxy listeners read
// the current snapshot on every handshake.
func (g *Gateway) tlsConfig(kind string, spec Listen) (*tls.Config, error) {
	def, err := g.tls.defaultFor(kind)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
	}
	if spec.HTTP2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	if kind != "proxy" {
		cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return def.pick(h), nil }
		return cfg, nil
	}
	cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if s := g.cur.Load(); s != nil {
			if p := s.certs.lookup(h.ServerName); p != nil {
				return p.pick(h), nil
			}
		}
		return def.pick(h), nil
	}
	return cfg, nil
}

// serverName is the TLS SNI of the request's connection, "" on plain
// listeners or when the client sent none.
func (r *request) serverName() string {
	if r.lst.scheme != "https" {
		return ""
	}
	if c, ok := r.ctx.Conn().(interface {
		ConnectionState() tls.ConnectionState
	}); ok {
		return c.ConnectionState().ServerName
	}
	return ""
}

// validateEdge checks the TLS and limit settings' syntax (Validate).
func (s *Settings) validateEdge() error {
	var errs []error
	for _, p := range []struct {
		key         string
		certs, key2 []string
	}{
		{"ssl_cert", s.SSLCert, s.SSLCertKey},
		{"admin_ssl_cert", s.AdminSSLCert, s.AdminSSLCertKey},
		{"status_ssl_cert", s.StatusSSLCert, s.StatusSSLCertKey},
	} {
		if len(p.certs) != len(p.key2) {
			errs = append(errs, fmt.Errorf("%s: %d certificate(s) but %d key(s) (%s_key)", p.key, len(p.certs), len(p.key2), p.key))
		}
	}
	if s.LargeClientHeaderBuffers != "" {
		if _, _, err := parseHeaderBuffers(s.LargeClientHeaderBuffers); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ClientHeaderTimeout < 0 || s.ClientBodyTimeout < 0 {
		errs = append(errs, errors.New("client_header_timeout, client_body_timeout: must not be negative"))
	}
	if s.MaxConnections < 0 {
		errs = append(errs, errors.New("nginx_events_worker_connections: must not be negative"))
	}
	return errors.Join(errs...)
}

// parseHeaderBuffers parses large_client_header_buffers ("4 8k").
func parseHeaderBuffers(v string) (number, size int, err error) {
	f := strings.Fields(v)
	bad := fmt.Errorf("nginx_http_large_client_header_buffers: %q is not \"<number> <size>\" (like \"4 8k\")", v)
	if len(f) != 2 {
		return 0, 0, bad
	}
	n, err1 := parseSize(f[0])
	sz, err2 := parseSize(f[1])
	if err1 != nil || err2 != nil || n < 1 || n > 1024 || sz < 1024 || sz > 1<<20 {
		return 0, 0, bad
	}
	return int(n), int(sz), nil
}

// headerBuffers returns large_client_header_buffers, Kong's default when unset.
func (s *Settings) headerBuffers() (number, size int) {
	if n, sz, err := parseHeaderBuffers(s.LargeClientHeaderBuffers); err == nil {
		return n, sz
	}
	return 4, 8 << 10
}

// tlsSplitter accepts raw connections, runs each TLS handshake in its own
// goroutine (bounded by the handshake timeout and by how many may run at
// once), and hands the connection to the HTTP/1.1 listener (fasthttp) or,
// when the client chose h2 by ALPN, to the HTTP/2 listener (net/http).
type tlsSplitter struct {
	raw     net.Listener
	cfg     *tls.Config
	timeout time.Duration
	wrap    func(net.Conn) net.Conn
	sem     chan struct{} // bounds concurrent handshakes
	h1, h2  *chanListener

	once sync.Once
	done chan struct{}
	err  error // set before done closes
}

func newTLSSplitter(raw net.Listener, cfg *tls.Config, timeout time.Duration, maxHandshakes int, wrap func(net.Conn) net.Conn) *tlsSplitter {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if maxHandshakes <= 0 {
		maxHandshakes = 1024
	}
	s := &tlsSplitter{raw: raw, cfg: cfg, timeout: timeout, wrap: wrap, sem: make(chan struct{}, maxHandshakes), done: make(chan struct{})}
	s.h1 = &chanListener{s: s, ch: make(chan net.Conn)}
	s.h2 = &chanListener{s: s, ch: make(chan net.Conn)}
	return s
}

func (s *tlsSplitter) close(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
		s.raw.Close()
	})
}

// run accepts until the raw listener fails or is closed.
func (s *tlsSplitter) run() {
	var delay time.Duration
	for {
		c, err := s.raw.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				s.close(nil)
				return
			}
			// EMFILE, ECONNABORTED and friends: back off like net/http
			// and go on; the listener only ends when it is closed.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
				continue
			case <-s.done:
				return
			}
		}
		delay = 0
		select {
		case s.sem <- struct{}{}:
		default:
			c.Close() // too many handshakes in progress: shed load cheaply
			continue
		}
		go s.handshake(c)
	}
}

func (s *tlsSplitter) handshake(raw net.Conn) {
	if s.wrap != nil {
		raw = s.wrap(raw)
	}
	tc := tls.Server(raw, s.cfg)
	_ = tc.SetDeadline(time.Now().Add(s.timeout))
	err := tc.Handshake()
	<-s.sem
	if err != nil {
		tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	dst := s.h1
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		dst = s.h2
	}
	select {
	case dst.ch <- tc:
	case <-s.done:
		tc.Close()
	}
}

// chanListener is one side of a tlsSplitter.
type chanListener struct {
	s  *tlsSplitter
	ch chan net.Conn
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.s.done:
		if l.s.err != nil {
			return nil, l.s.err
		}
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.s.close(nil)
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.s.raw.Addr() }

// ---- the edge: listener setup, per-request limits, parse errors ----

// maxConnections is nginx_events_worker_connections, 16384 when unset.
func (g *Gateway) maxConnections() int {
	if g.settings.MaxConnections > 0 {
		return g.settings.MaxConnections
	}
	return 16384
}

// setupListener finishes a bound listener: body-timeout connections and,
// for ssl entries, the TLS splitter and the HTTP/2 bridge. h is the
// listener's fasthttp handler (the bridge calls it too).
func (g *Gateway) setupListener(l *listener, spec Listen, h fasthttp.RequestHandler) error {
	bt, st := g.settings.ClientBodyTimeout, g.settings.SendTimeout
	wrap := func(c net.Conn) net.Conn { return &edgeConn{Conn: c, bodyTimeout: bt, sendTimeout: st} }
	if bt <= 0 && st <= 0 {
		wrap = nil
	}
	if !spec.SSL {
		// In clear text the first request head of a connection is also
		// read for bare LF line ends (headFix); TLS connections are
		// wrapped below the TLS layer, where the bytes are ciphertext.
		l.ln = &edgeListener{Listener: l.ln, wrap: func(c net.Conn) net.Conn {
			return &edgeConn{Conn: c, bodyTimeout: bt, sendTimeout: st, head: headFix{on: true}}
		}}
		return nil
	}
	l.scheme = "https"
	cfg, err := g.tlsConfig(l.kind, spec)
	if err != nil {
		return err
	}
	sp := newTLSSplitter(l.ln, cfg, g.settings.ClientHeaderTimeout, g.maxConnections(), wrap)
	l.split = sp
	l.ln = sp.h1
	if spec.HTTP2 {
		l.h2 = newH2Bridge(g, l, h)
	}
	return nil
}

// serve runs the listener's servers until they stop.
func (l *listener) serve() error {
	if l.split == nil {
		return l.srv.Serve(l.ln)
	}
	go l.split.run()
	errc := make(chan error, 1)
	if l.h2 != nil {
		go func() { errc <- l.h2.serve(l.split.h2) }()
	}
	err := l.srv.Serve(l.ln)
	l.split.close(nil)
	if l.h2 != nil {
		if err2 := <-errc; err == nil {
			err = err2
		}
	}
	return err
}

// shutdown stops accepting and waits (bounded by ctx) for in-flight requests.
func (l *listener) shutdown(ctx context.Context) error {
	var errs []error
	if l.h2 != nil {
		errs = append(errs, l.h2.shutdown(ctx))
	}
	errs = append(errs, l.srv.ShutdownWithContext(ctx))
	// fasthttp's Shutdown closes only the listeners Serve has registered: one
	// whose serve goroutine has not reached Serve yet (a shutdown right after
	// start) would otherwise be served forever. Closing it here makes that
	// late Serve return at once; the error of a second close is expected.
	l.ln.Close()
	return errors.Join(errs...)
}

// edgeListener wraps accepted connections in edgeConn.
type edgeListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l *edgeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// edgeConn gives request bodies nginx's client_body_timeout: while the
// handler reads a body, each read pushes the read deadline bodyTimeout
// ahead (at most eight times per bodyTimeout), so a slow but live upload goes on and a
// stalled one ends. Outside bodies fasthttp's own deadlines apply
// (client_header_timeout for headers, 60s idle between requests).
// Writes get nginx's send_timeout the same way: each write starts with the
// write deadline at least 7/8 of sendTimeout ahead, so only a client that
// stops reading for that long loses the connection.
type edgeConn struct {
	net.Conn
	bodyTimeout time.Duration
	sendTimeout time.Duration
	inBody      atomic.Bool
	last        time.Time // only the connection's serving goroutine reads
	// armed is when Write last set the write deadline (time since
	// edgeEpoch; 0: not armed). Setting a deadline from outside clears it,
	// so the next Write arms again rather than trust a deadline replaced.
	armed atomic.Int64
	head  headFix // clear-text listeners only
}

var edgeEpoch = time.Now()

func (c *edgeConn) Write(p []byte) (int, error) {
	if c.sendTimeout > 0 {
		now := time.Since(edgeEpoch)
		if a := c.armed.Load(); a == 0 || now-time.Duration(a) > c.sendTimeout/8 {
			_ = c.Conn.SetWriteDeadline(edgeEpoch.Add(now + c.sendTimeout))
			c.armed.Store(int64(max(now, 1)))
		}
	}
	return c.Conn.Write(p)
}

func (c *edgeConn) SetDeadline(t time.Time) error {
	c.armed.Store(0)
	return c.Conn.SetDeadline(t)
}

func (c *edgeConn) SetWriteDeadline(t time.Time) error {
	c.armed.Store(0)
	return c.Conn.SetWriteDeadline(t)
}

func (c *edgeConn) Read(p []byte) (int, error) {
	if len(c.head.pending) > 0 {
		n := copy(p, c.head.pending)
		c.head.pending = c.head.pending[n:]
		return n, nil
	}
	if c.bodyTimeout > 0 && c.inBody.Load() {
		if now := time.Now(); now.Sub(c.last) > c.bodyTimeout/8 {
			_ = c.Conn.SetReadDeadline(now.Add(c.bodyTimeout))
			c.last = now
		}
	}
	n, err := c.Conn.Read(p)
	if c.head.on && n > 0 {
		n = c.head.fix(p, n)
	}
	return n, err
}

// headFix accepts a bare LF as a line end in the first request head of a
// connection, as nginx does (RFC 9112 2.2 allows it): fasthttp waits for
// CRLFCRLF and would hold such a request until client_header_timeout. Each
// bare LF of that head gets its CR; what follows the head (the body, later
// requests) passes untouched. Later heads on the same connection are not
// looked at: where one ends is known only to the parser.
type headFix struct {
	on      bool   // still inside the first head
	started bool   // a byte other than CR/LF was seen (leading empty lines are skipped, RFC 9112 2.2)
	empty   bool   // the current line has no byte other than CR so far
	cr      bool   // the previous byte was CR
	pending []byte // converted bytes that did not fit the caller's buffer
}

// fix scans p[:n], the next bytes read, and returns how many bytes of p
// the caller gets; bytes past len(p) wait in pending.
func (h *headFix) fix(p []byte, n int) int {
	end, bare, cr0 := n, 0, h.cr // end: where the head ends in p (n if not in this read)
	for i, b := range p[:n] {
		switch b {
		case '\r':
			h.cr = true
			continue
		case '\n':
			if !h.cr {
				bare++
			}
			h.cr = false
			if h.started && h.empty {
				h.on = false
				end = i + 1
			}
			h.empty = true
		default:
			h.cr, h.started, h.empty = false, true, false
		}
		if !h.on {
			break
		}
	}
	if bare == 0 {
		return n
	}
	out := make([]byte, 0, n+bare)
	prevCR := cr0 // a CR that ended the previous read
	for _, b := range p[:end] {
		if b == '\n' && !prevCR {
			out = append(out, '\r')
		}
		out = append(out, b)
		prevCR = b == '\r'
	}
	out = append(out, p[end:n]...)
	m := copy(p, out)
	if m < len(out) {
		h.pending = out[m:]
	}
	return m
}

func edgeConnOf(c net.Conn) *edgeConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	ec, _ := c.(*edgeConn)
	return ec
}

// serveEdge is the proxy listeners' handler: nginx's header line limits,
// then the proxy with the body timeout armed.
func (g *Gateway) serveEdge(l *listener, ctx *fasthttp.RequestCtx) {
	st := g.headerLimit(&ctx.Request.Header)
	if st == 0 {
		st = framingError(&ctx.Request.Header)
	}
	if st != 0 {
		h := &ctx.Request.Header
		a := h.Peek(hdrAccept)
		if len(a) == 0 {
			a = h.ContentType()
		}
		g.edgeError(ctx, st, b2s(a))
		g.logger.Info("bad request", "status", st, "remote", ctx.RemoteAddr().String())
		return
	}
	var cb *clientBody
	if req := &ctx.Request; req.IsBodyStream() {
		// Streamed bodies (chunked, or longer than the body buffer) are
		// counted against client_max_body_size as they pass, and their read
		// errors are told apart from upstream errors (413, 408, 400).
		cl := req.Header.ContentLength()
		if cl < 0 || cl > g.settings.ClientBodyBufferSize {
			cb = &clientBody{r: req.BodyStream(), left: -1}
			if m := g.settings.ClientMaxBodySize; m > 0 {
				cb.left = m
			}
			req.SetBodyStream(cb, cl)
		}
	}
	ec := edgeConnOf(ctx.Conn())
	if ec != nil {
		ec.inBody.Store(true)
	}
	g.serveProxy(l, ctx)
	if ec != nil {
		ec.inBody.Store(false)
	}
	if (cb != nil && cb.failed) || ctx.Response.StatusCode() == 413 {
		ctx.SetConnectionClose() // the rest of the body is not read: close, as nginx does
	}
}

// headerReceived runs once a request's headers are in: a declared body
// over client_max_body_size is not waited for (only one byte is read
// before the handler), so checkBody answers 413 at once, as nginx does.
// Reading the first part of the body (up to the body buffer) gets
// client_body_timeout instead of what is left of client_header_timeout.
func (g *Gateway) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	rc := fasthttp.RequestConfig{ReadTimeout: g.settings.ClientBodyTimeout}
	if m := g.settings.ClientMaxBodySize; m > 0 && int64(h.ContentLength()) > m {
		rc.MaxRequestBodySize = 1
	}
	return rc
}

// clientBodyError is a failure reading the client's request body while it
// streams upstream; classifyUpstreamError answers its status.
type clientBodyError struct {
	status int
	err    error
}

func (e *clientBodyError) Error() string { return "client request body: " + e.err.Error() }
func (e *clientBodyError) Unwrap() error { return e.err }

var errBodyTooLarge = errors.New("larger than client_max_body_size")

// clientBody wraps a streamed request body.
type clientBody struct {
	r      io.Reader
	left   int64 // bytes still allowed, -1 = unlimited
	failed bool
	err    error // sticky once failed
}

// Read returns an error only with no data: fasthttp's chunked writer
// drops a read error that comes with bytes and reads on, which would let a
// broken chunk's leftovers be parsed as the next chunk.
func (b *clientBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if b.left >= 0 {
		if b.left -= int64(n); b.left < 0 {
			b.failed = true
			b.err = &clientBodyError{status: 413, err: errBodyTooLarge}
			return 0, b.err
		}
	}
	if err != nil && err != io.EOF {
		b.failed = true
		st := 400
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			st = 408
		}
		b.err = &clientBodyError{status: st, err: err}
		if n > 0 {
			return n, nil
		}
		return 0, b.err
	}
	return n, err
}

// headerLimit applies large_client_header_buffers to a parsed request:
// 414 when the request line is longer than one buffer, 494 when a header
// line is (headers beyond all buffers never parse: edgeStatus).
func (g *Gateway) headerLimit(h *fasthttp.RequestHeader) int {
	size := g.tls.hdrSize
	if len(h.Method())+len(h.RequestURI())+len(" HTTP/1.1\r\n")+1 > size {
		return 414
	}
	raw := h.RawHeaders()
	if len(raw) <= size {
		return 0
	}
	for len(raw) > 0 {
		i := indexByte(raw, '\n')
		if i < 0 {
			i = len(raw)
		}
		if i+1 > size {
			return 494
		}
		if i == len(raw) {
			break
		}
		raw = raw[i+1:]
	}
	return 0
}

// framingError rejects what nginx rejects and fasthttp tolerates: an HTTP
// version above 1.x (505), Content-Length together with Transfer-Encoding
// (400; fasthttp would let Transfer-Encoding win) and obs-fold header
// continuation lines (400; fasthttp would unfold them).
func framingError(h *fasthttp.RequestHeader) int {
	if p := h.Protocol(); len(p) != len("HTTP/1.1") || p[5] != '1' {
		if len(p) > 5 && p[5] >= '2' && p[5] <= '9' {
			return 505
		}
		if !bytes.Equal(p, []byte("HTTP/1.0")) && !bytes.Equal(p, []byte("HTTP/1.1")) {
			return 400
		}
	}
	raw := h.RawHeaders()
	if bytes.Contains(raw, []byte("\n ")) || bytes.Contains(raw, []byte("\n\t")) {
		return 400
	}
	if h.ContentLength() == -1 { // chunked: a Content-Length line as well?
		for len(raw) > 0 {
			line := raw
			if i := bytes.IndexByte(raw, '\n'); i >= 0 {
				line, raw = raw[:i], raw[i+1:]
			} else {
				raw = nil
			}
			if len(line) > len("content-length:") && bytes.EqualFold(line[:len("content-length:")], []byte("content-length:")) {
				return 400
			}
		}
	}
	return 0
}

// edgeStatus maps a fasthttp parse error to nginx's answer: 408 for a
// client too slow to send its headers, 414 when the request line alone
// overflows the header buffers, 494 when the headers do, else 400.
func edgeStatus(err error) int {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		// fasthttp quotes the start of the buffer in the message: a
		// request line that ends within it means the headers overflowed.
		msg := err.Error()
		if i := strings.Index(msg, "contents: "); i >= 0 {
			head := msg[i:]
			if len(head) > 210 {
				head = head[:210]
			}
			if !strings.Contains(head, `\n`) {
				return 414
			}
		}
		return 494
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return 408
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 408
	}
	return 400
}

// edgeError writes an nginx-style error (Kong's error handler formats it
// from Accept, else Content-Type, else error_default_type) and closes the
// connection after it.
func (g *Gateway) edgeError(ctx *fasthttp.RequestCtx, status int, accept string) {
	msg := defaultErrorMessage(status)
	if status == 505 {
		msg = "HTTP Version Not Supported"
	}
	if status == 494 {
		status = 400
	}
	kind := mimeTypeOf(g.settings.ErrorDefaultType)
	if accept != "" {
		kind = mimeTypeOf(accept)
	}
	var id [32]byte
	g.rt.ids.next(&id)
	ctx.Response.Reset()
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.Set(hdrContentType, kindContentType[kind])
	ctx.Response.SetBody(appendErrorBody(nil, kind, msg, b2s(id[:])))
	ctx.Response.Header.Set(hdrServer, serverToken)
	ctx.Response.SetConnectionClose()
}
