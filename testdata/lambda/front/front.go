package front

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Front serves the Lambda Invoke API
// (POST /2015-03-31/functions/{name|ARN|name:qualifier}/invocations) from
// the RIE instances registered per function name. Each instance gets at most
// one invoke at a time (an overlapping invoke crashes RIE); the others
// queue. Unknown names get the service's 404 ResourceNotFoundException.
//
// With Adapt, the Front also does what the Lambda service does and RIE does
// not: X-Amz-Function-Error: Unhandled on function errors, crashes and
// timeouts, 202 at once for Event (the invoke runs in the background; see
// Wait), 204 without invoking for DryRun, a JSON Content-Type, a request id
// and X-Amz-Executed-Version.
type Front struct {
	Adapt bool

	mu    sync.Mutex
	pools map[string]chan *Instance
	bg    sync.WaitGroup
	// Invokes counts the invokes forwarded to RIE, per function name.
	invokes map[string]int
	client  *http.Client
}

// New returns an empty Front.
func New(adapt bool) *Front {
	return &Front{
		Adapt:   adapt,
		pools:   make(map[string]chan *Instance),
		invokes: make(map[string]int),
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
}

// Add registers instances for a function name.
func (f *Front) Add(name string, insts ...*Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.pools[name]
	n := len(insts)
	if old != nil {
		n += cap(old)
	}
	p := make(chan *Instance, n)
	if old != nil {
		for len(old) > 0 {
			p <- <-old
		}
	}
	for _, in := range insts {
		p <- in
	}
	f.pools[name] = p
}

// Invokes returns how many invokes reached RIE for the name.
func (f *Front) Invokes(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.invokes[name]
}

// Wait waits for the background (Event) invokes.
func (f *Front) Wait() { f.bg.Wait() }

var invokePath = regexp.MustCompile(`^/2015-03-31/functions/([^/]+)/invocations$`)

// FunctionName extracts the function name from a name, a name:qualifier, a
// partial ARN (123456789012:function:name) or a full ARN.
func FunctionName(id string) string {
	if i := strings.Index(id, ":function:"); i >= 0 {
		id = id[i+len(":function:"):]
	}
	name, _, _ := strings.Cut(id, ":")
	return name
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	m := invokePath.FindStringSubmatch(path)
	if m == nil || r.Method != http.MethodPost {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "Unknown operation "+r.Method+" "+path)
		return
	}
	id, err := url.PathUnescape(m[1])
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException", "bad function name")
		return
	}
	name := FunctionName(id)
	f.mu.Lock()
	pool := f.pools[name]
	f.mu.Unlock()
	if pool == nil {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException",
			"Function not found: arn:aws:lambda:us-east-1:012345678912:function:"+name)
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if f.Adapt {
		switch r.Header.Get("X-Amz-Invocation-Type") {
		case "DryRun":
			w.Header().Set("X-Amzn-Requestid", newID())
			w.WriteHeader(http.StatusNoContent)
			return
		case "Event":
			f.bg.Add(1)
			go func() {
				defer f.bg.Done()
				_, _, _, _ = f.invoke(context.Background(), pool, name, payload)
			}()
			w.Header().Set("X-Amzn-Requestid", newID())
			w.WriteHeader(http.StatusAccepted)
			return
		}
	}
	status, hdr, body, err := f.invoke(r.Context(), pool, name, payload)
	if err != nil {
		// The caller gave up or RIE died: answer as a broken service would.
		writeError(w, http.StatusBadGateway, "ServiceException", err.Error())
		return
	}
	if !f.Adapt {
		for k, vs := range hdr {
			if k == "Content-Length" {
				continue
			}
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	reqID := newID()
	h := w.Header()
	h.Set("X-Amzn-Requestid", reqID)
	h.Set("X-Amz-Executed-Version", "$LATEST")
	h.Set("Content-Type", "application/json")
	switch {
	case status == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after")):
		h.Set("X-Amz-Function-Error", "Unhandled")
		body, _ = json.Marshal(map[string]string{
			"errorType":    "Sandbox.Timedout",
			"errorMessage": "RequestId: " + reqID + " Error: " + strings.TrimSpace(string(body)),
		})
	case status != http.StatusOK || isErrorDocument(body):
		h.Set("X-Amz-Function-Error", "Unhandled")
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// invoke runs one invoke on a free instance of the pool. The instance stays
// reserved until RIE answers, even when ctx ends first.
func (f *Front) invoke(ctx context.Context, pool chan *Instance, name string, payload []byte) (int, http.Header, []byte, error) {
	var in *Instance
	select {
	case in = <-pool:
	case <-ctx.Done():
		return 0, nil, nil, ctx.Err()
	}
	f.mu.Lock()
	f.invokes[name]++
	f.mu.Unlock()
	type result struct {
		status int
		hdr    http.Header
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { pool <- in }()
		req, err := http.NewRequest(http.MethodPost, "http://"+in.Addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
		if err != nil {
			done <- result{err: err}
			return
		}
		resp, err := f.client.Do(req)
		if err != nil {
			done <- result{err: fmt.Errorf("RIE %s: %w", in.Addr, err)}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, resp.Header, body, err}
	}()
	select {
	case r := <-done:
		return r.status, r.hdr, r.body, r.err
	case <-ctx.Done():
		return 0, nil, nil, ctx.Err()
	}
}

// isErrorDocument recognises the runtime's error document
// ({"errorMessage": ..., "errorType": ...}): RIE returns it with 200 and no
// error header (a heuristic; the Lambda service knows it from the Runtime API).
func isErrorDocument(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	_, msg := m["errorMessage"]
	_, typ := m["errorType"]
	return msg && typ
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", typ)
	h.Set("X-Amzn-Requestid", newID())
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"Type": "User", "message": msg})
	w.Write(b)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// Stopper stops instances; a test registers it with t.Cleanup.
type Stopper []*Instance

// Stop stops every instance.
func (s Stopper) Stop() {
	var wg sync.WaitGroup
	for _, in := range s {
		wg.Add(1)
		go func() { defer wg.Done(); in.Stop() }()
	}
	wg.Wait()
}

// DefaultTimeout bounds test invokes.
const DefaultTimeout = 10 * time.Second
