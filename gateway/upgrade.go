package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Protocol upgrades (WebSocket): the request goes upstream on a dedicated
// connection with Connection: Upgrade kept; a 101 answer turns both
// connections into a byte tunnel, any other answer is proxied normally.

// upgradeProtocol returns the Upgrade header value when the client asked for
// a protocol upgrade (Connection lists "upgrade"), else nil.
func upgradeProtocol(h *fasthttp.RequestHeader) []byte {
	up := h.Peek(hdrUpgrade)
	if len(up) == 0 {
		return nil
	}
	for _, v := range h.PeekAll(hdrConnection) {
		for tok, rest := nextTokenAll(v); tok != nil; tok, rest = nextTokenAll(rest) {
			if bytes.EqualFold(tok, []byte("upgrade")) {
				return up
			}
		}
	}
	return nil
}

// nextTokenAll is nextToken without skipping close/keep-alive.
func nextTokenAll(v []byte) (tok, rest []byte) {
	for len(v) > 0 {
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		if tok = bytes.TrimSpace(tok); len(tok) > 0 {
			return tok, v
		}
	}
	return nil, nil
}

// dialTarget opens a dedicated connection to a target with its timeouts.
func (r *request) dialTarget(t *target) (net.Conn, error) {
	k := t.key
	c, err := r.rt.pool.dialer.DialTimeout(k.addr, k.connect)
	if err != nil {
		return nil, err
	}
	if k.tls {
		tc := tls.Client(c, &tls.Config{ServerName: k.serverName, InsecureSkipVerify: !k.verify}) //nolint:gosec // Kong's tls_verify defaults to off
		if k.connect > 0 {
			_ = c.SetDeadline(time.Now().Add(k.connect))
		}
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		_ = c.SetDeadline(time.Time{})
		c = tc
	}
	return &timeoutConn{Conn: c, read: k.read, write: k.write}, nil
}

// doUpgrade sends the upgrade request and reads the answer's head into
// r.upResp. On a 101 it returns the connection and its reader for the
// tunnel; otherwise it reads the body too and returns a nil connection.
func (r *request) doUpgrade(t *target, proto []byte) (net.Conn, *bufio.Reader, error) {
	h := &r.ctx.Request.Header
	h.Set(hdrConnection, "Upgrade")
	h.SetBytesV(hdrUpgrade, proto)
	conn, err := r.dialTarget(t)
	if err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriter(conn)
	if err := r.ctx.Request.Write(bw); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := bw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp := r.upResp
	if err := resp.Header.Read(br); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode() == fasthttp.StatusSwitchingProtocols {
		return conn, br, nil
	}
	defer conn.Close()
	if err := resp.ReadBody(br, 0); err != nil {
		return nil, nil, err
	}
	return nil, nil, nil
}

// tunnel copies bytes both ways until either side closes; it runs in the
// hijacked connection's goroutine and must not touch the request.
func tunnel(client net.Conn, upstream net.Conn, upReader *bufio.Reader) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			client.Close()
			upstream.Close()
		})
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(client, upReader)
		closeBoth()
		close(done)
	}()
	_, _ = io.Copy(upstream, client)
	closeBoth()
	<-done
}
