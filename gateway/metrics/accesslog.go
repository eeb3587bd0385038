package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// AccessLog writes one line per proxied request (Kong's proxy_access_log).
// Text lines use Kong's kong_log_format (nginx's combined format plus the
// request id); JSON lines are kong.log.serialize()'s table. Safe for
// concurrent use; a nil *AccessLog logs nothing.
type AccessLog struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	json   bool
	buf    []byte
}

// OpenAccessLog opens the access log for a setting value: "off" or ""
// gives nil (no access log), "on" and "stdout" write to standard output,
// "stderr" to standard error, anything else is a file path opened for
// appending (created 0644). jsonLines selects the JSON format.
func OpenAccessLog(target string, jsonLines bool) (*AccessLog, error) {
	switch target {
	case "", "off":
		return nil, nil
	case "on", "stdout", "/dev/stdout":
		return NewAccessLog(os.Stdout, jsonLines), nil
	case "stderr", "/dev/stderr":
		return NewAccessLog(os.Stderr, jsonLines), nil
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the access log: %w", err)
	}
	a := NewAccessLog(f, jsonLines)
	a.closer = f
	return a, nil
}

// NewAccessLog writes access lines to w.
func NewAccessLog(w io.Writer, jsonLines bool) *AccessLog {
	return &AccessLog{w: w, json: jsonLines}
}

// JSON reports whether lines are JSON (the caller then fills
// AccessEntry.Serialized).
func (a *AccessLog) JSON() bool { return a != nil && a.json }

// Close closes the file the log writes to (not stdout/stderr).
func (a *AccessLog) Close() error {
	if a == nil || a.closer == nil {
		return nil
	}
	return a.closer.Close()
}

// AccessEntry is one request for the access log.
type AccessEntry struct {
	ClientIP  string
	Time      time.Time // when the request started
	Method    string
	URI       string // as received (path and query)
	Proto     string // "HTTP/1.1"
	Status    int
	BodyBytes int64 // response body bytes sent
	Referer   string
	UserAgent string
	RequestID string
	// Serialized is kong.log.serialize()'s table (JSON lines only).
	Serialized map[string]any
}

// Log writes one line.
func (a *AccessLog) Log(e *AccessEntry) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.buf[:0]
	if a.json {
		j, err := json.Marshal(e.Serialized)
		if err != nil {
			j = []byte(`{"error":` + strconv.Quote(err.Error()) + `}`)
		}
		b = append(b, j...)
	} else {
		b = AppendAccessLine(b, e)
	}
	b = append(b, '\n')
	_, _ = a.w.Write(b)
	if cap(b) <= 64<<10 {
		a.buf = b
	}
}

// AppendAccessLine appends Kong's kong_log_format line:
// $remote_addr - $remote_user [$time_local] "$request" $status
// $body_bytes_sent "$http_referer" "$http_user_agent" kong_request_id: "$kong_request_id"
func AppendAccessLine(b []byte, e *AccessEntry) []byte {
	b = append(b, e.ClientIP...)
	b = append(b, " - - ["...)
	b = e.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = appendEscaped(b, e.Method)
	b = append(b, ' ')
	b = appendEscaped(b, e.URI)
	b = append(b, ' ')
	b = append(b, e.Proto...)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.BodyBytes, 10)
	b = append(b, ` "`...)
	b = appendDash(b, e.Referer)
	b = append(b, `" "`...)
	b = appendDash(b, e.UserAgent)
	b = append(b, `" kong_request_id: "`...)
	b = appendEscaped(b, e.RequestID)
	b = append(b, '"')
	return b
}

func appendDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendEscaped(b, s)
}

// appendEscaped escapes like nginx's access log: '"', '\' and bytes
// outside printable ASCII as \xHH.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
