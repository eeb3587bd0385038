package gateway

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestTimeoutConnLazyDeadlines: read_timeout is the longest wait between
// two reads. Deadlines are re-armed lazily (with slack), so a timeout may
// fire a little late but never early, and a long exchange of quick reads
// never times out however long it lasts.
func TestTimeoutConnLazyDeadlines(t *testing.T) {
	const timeout = 120 * time.Millisecond
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	c := &timeoutConn{Conn: client, read: timeout, write: timeout}
	buf := make([]byte, 1)
	send := func(after time.Duration) {
		go func() {
			time.Sleep(after)
			server.Write([]byte{'x'})
		}()
	}

	// quick reads for more than the timeout in total: no timeout
	start := time.Now()
	for time.Since(start) < 3*timeout {
		send(10 * time.Millisecond)
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("read after %v of quick reads: %v", time.Since(start), err)
		}
	}

	// a wait shorter than the timeout right after a read: never early
	send(timeout * 3 / 4)
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("a %v wait under a %v timeout failed: %v", timeout*3/4, timeout, err)
	}

	// no data: the read times out, no earlier than the timeout and at most
	// the slack (plus scheduling) later
	t0 := time.Now()
	_, err := c.Read(buf)
	waited := time.Since(t0)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if waited < timeout || waited > timeout+deadlineSlack(timeout)+100*time.Millisecond {
		t.Errorf("timed out after %v, want %v to %v", waited, timeout, timeout+deadlineSlack(timeout))
	}

	// a deadline set from outside is in force; the next read arms its own
	c2, s2 := net.Pipe()
	defer c2.Close()
	defer s2.Close()
	tc := &timeoutConn{Conn: c2, read: time.Hour}
	go func() { s2.Write([]byte{'y'}) }()
	if _, err := tc.Read(buf); err != nil { // arms an hour (+ slack)
		t.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c2.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("outside deadline not in force: %v", err)
	}
	go func() { s2.Write([]byte{'z'}) }()
	if _, err := tc.Read(buf); err != nil || buf[0] != 'z' {
		t.Fatalf("read after an outside deadline: %v %q", err, buf)
	}
}
